package scan

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"
	"strings"
)

// httpCase is one server response stream the http scanner is checked on.
// Its golden directory testdata/scan/http/<name> holds tcpflow 1.6.1's flow
// file ("flow"), its body files (named by their suffix after the flow name)
// and its report.xml text for the flow ("report.txt").
type httpCase struct {
	name     string
	response []byte
	// noDecompress runs tcpflow with -Z and the scanner with NoDecompress.
	noDecompress bool
	// differs says why bpflow deliberately writes other bodies than 1.6.1
	// for this case; the bodies must then equal those tcpflow writes for
	// the case named plain (the same content sent uncompressed).
	differs, plain string
}

const caseRequest = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"

func resp(parts ...any) []byte {
	var b bytes.Buffer
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			b.WriteString(v)
		case []byte:
			b.Write(v)
		}
	}
	return b.Bytes()
}

// compress returns s written through a compressor made by newWriter.
func compress(s string, newWriter func(io.Writer) io.WriteCloser) []byte {
	var b bytes.Buffer
	w := newWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

func gz(s string) []byte {
	return compress(s, func(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) })
}

func zl(s string) []byte {
	return compress(s, func(w io.Writer) io.WriteCloser { return zlib.NewWriter(w) })
}

func rawDeflate(s string) []byte {
	return compress(s, func(w io.Writer) io.WriteCloser {
		fw, _ := flate.NewWriter(w, flate.DefaultCompression)
		return fw
	})
}

func chunk(b []byte, size int) []byte {
	var out bytes.Buffer
	for len(b) > 0 {
		n := min(size, len(b))
		fmt.Fprintf(&out, "%x\r\n", n)
		out.Write(b[:n])
		out.WriteString("\r\n")
		b = b[n:]
	}
	out.WriteString("0\r\n\r\n")
	return out.Bytes()
}

func cl(body []byte) string { return fmt.Sprintf("Content-Length: %d\r\n", len(body)) }

var (
	page      = "<html><body>" + strings.Repeat("bpflow scanner test page. ", 40) + "</body></html>\n"
	bigText   = strings.Repeat("0123456789abcdef", 10000) // 160000 bytes, > zlib's 64 KiB window
	gzPage    = gz(page)
	gzBig     = gz(bigText)
	zlPage    = zl(page)
	rawPage   = rawDeflate(page)
	badCRC    = func() []byte { b := bytes.Clone(gzPage); b[len(b)-6] ^= 0xff; return b }()
	truncGz   = gzBig[:len(gzBig)/2]
	twoGzip   = append(gz("first member\n"), gz("second member\n")...)
	gzTrailer = append(bytes.Clone(gzPage), "trailing garbage"...)
)

var httpCases = []httpCase{
	{name: "basic", response: resp("HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n", cl([]byte(page)), "\r\n", page)},
	{name: "several_bodies", response: resp(
		"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 8\r\n\r\n\x89PNG\r\n\x1a\n",
		"HTTP/1.1 200 OK\r\nContent-Type: application/x-bpflow-unknown\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 404 Not Found\r\nContent-Type: TEXT/PLAIN;charset=x\r\nContent-Length: 9\r\n\r\nnot found",
		"HTTP/1.1 200 OK\r\nContent-Type: application/json \r\nContent-Length: 2\r\n\r\n{}")},
	{name: "chunked", response: resp("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n",
		"5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: yes\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Type: text/css\r\nContent-Length: 6\r\n\r\nbody{}")},
	{name: "chunked_plain_equivalent", response: resp("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\nhello, world",
		"HTTP/1.1 200 OK\r\nContent-Type: text/css\r\nContent-Length: 6\r\n\r\nbody{}")},
	{name: "gzip", response: resp("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n", cl(gzPage), "\r\n", gzPage)},
	{name: "gzip_Z", response: resp("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n", cl(gzPage), "\r\n", gzPage), noDecompress: true},
	{name: "gzip_chunked", response: resp("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", chunk(gzPage, 100))},
	{name: "gzip_big", response: resp("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: gzip\r\n", cl(gzBig), "\r\n", gzBig)},
	{name: "gzip_big_chunked", response: resp("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", chunk(gzBig, 1000))},
	{name: "gzip_truncated", response: resp("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: gzip\r\n", cl(gzBig), "\r\n", truncGz)},
	{name: "gzip_bad_crc", response: resp("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n", cl(badCRC), "\r\n", badCRC),
		differs: "1.6.1 drops the output of the inflate call that failed", plain: "basic"},
	{name: "gzip_two_members", response: resp("HTTP/1.1 200 OK\r\nServer: padding to the 80 bytes tcpflow needs\r\nContent-Encoding: gzip\r\n", cl(twoGzip), "\r\n", twoGzip),
		differs: "1.6.1 treats the second gzip member as trailing garbage and drops the body", plain: "gzip_two_members_plain"},
	{name: "gzip_two_members_plain", response: resp("HTTP/1.1 200 OK\r\nServer: padding to the 80 bytes tcpflow needs\r\nContent-Length: 27\r\n\r\nfirst member\nsecond member\n")},
	{name: "gzip_trailing_garbage", response: resp("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n", cl(gzTrailer), "\r\n", gzTrailer),
		differs: "1.6.1 drops the last inflate output when garbage follows the stream", plain: "basic"},
	{name: "gzip_not_compressed", response: resp("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\nContent-Length: 10\r\n\r\nplain text")},
	{name: "deflate_zlib", response: resp("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: deflate\r\n", cl(zlPage), "\r\n", zlPage)},
	{name: "deflate_raw", response: resp("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: deflate\r\n", cl(rawPage), "\r\n", rawPage),
		differs: "1.6.1 cannot inflate headerless deflate and drops the body", plain: "basic"},
	{name: "encoding_case", response: resp("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: GZIP\r\n", cl(gzPage), "\r\n", gzPage)},
	{name: "zero_length", response: resp(
		"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 204 No Content\r\nContent-Type: text/html\r\n\r\n",
		"HTTP/1.1 304 Not Modified\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 4\r\n\r\nlast")},
	{name: "eof_body", response: resp("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n", "no length: the body runs to the end of the connection\n")},
	{name: "truncated", response: resp("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5000\r\n\r\n", "only part of the body made it into the capture")},
	{name: "upgrade", response: resp(
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nfirst",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\nhidden")},
	{name: "upgrade_announced", response: resp(
		"HTTP/1.1 200 OK\r\nUpgrade: h2c\r\nConnection: keep-alive, Upgrade\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nfirst",
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\nsecond")},
	{name: "garbage_after_body", response: resp(
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nfirst",
		"\r\n\r\nnot http at all, not even close to it\r\n")},
	{name: "lenient_syntax", response: resp(
		"HTTP/1.1 200 OK\rXContent-Type:text/html\n",
		"X-Folded: a\r\n b\r\nContent-Length:  7 \r\n\n",
		"lenient",
		"HTXP/1.0 200\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY2\r\nde\r\n0\r\n\r\n")},
	{name: "header_errors", response: resp(
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nfirst",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nsecond",
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nthird")},
	{name: "te_and_cl", response: resp(
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Type: text/plain\r\n\r\n", "identity to the end, the last coding is not chunked")},
	{name: "restart_after_error", response: resp(
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nfirst",
		"HTTP/1.1 200 OK\r\nX-Broken: y\r\r",
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\nsecond")},
	{name: "header_spellings", response: resp(
		"HTTP/1.1 200 OK\r\nCONTENT-TYPE: image/gif\r\nContent-Type: text/css\r\nContent-Length: 3\r\n\r\nabc",
		"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip \r\n", cl(gzPage), "\r\n", gzPage,
		"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Encoding: identity\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nbody",
		"HTTP/1.1 200 OK\r\nContent-Type: text/\r\n html\r\nContent-Length: 6\r\n\r\nfolded",
		"HTTP/1.1 200 OK\r\nContent-Type:\r\nX-Empty:\r\nContent-Length: 5\r\n\r\nempty",
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length : 5\r\n\r\nspace",
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nlast!")},
	{name: "header_overflow", response: resp(
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nfirst",
		"HTTP/1.1 200 OK\r\nX-Big: ", strings.Repeat("a", 80*1024), "\r\nContent-Length: 3\r\n\r\nbig",
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nthird")},
	{name: "header_overflow_at_line_end", response: resp(
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nfirst",
		"HTTP/1.1 200 OK\r\nX-Big: ", strings.Repeat("a", 80*1024-26), "\r\n",
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nthird")},
	{name: "status_variants", response: resp(
		"HTTP/1.1 100 Continue\r\n\r\n",
		"HTTP/1.1 200\r\nContent-Type: application/pdf\r\nContent-Length: 4\r\n\r\n%PDF",
		"HTTP/1.1  301 Moved\r\nLocation: /x\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nmoved")},
}
