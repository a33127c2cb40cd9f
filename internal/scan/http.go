package scan

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
)

// minHTTPSize is tcpflow's MIN_HTTP_BUFSIZE: smaller flows are not parsed.
const minHTTPSize = 80

// HTTP is tcpflow's http scanner: every response body in a flow that starts
// with "HTTP/1." goes to <flow>-HTTPBODY-NNN[.ext], inflated unless -Z, and
// report.xml gets a <byte_runs> block listing the bodies.
//
// Bodies are written when their message completes (or the parse stops), from
// the pieces the parser found in the mapped flow file. An HTTP scanner reuses its buffers between flows: it is not safe for
// concurrent use (a Runner runs scanners one flow at a time).
type HTTP struct {
	Options Options
	scratch *httpScratch
}

// Name implements Scanner.
func (*HTTP) Name() string { return "http" }

// Scan implements Scanner.
func (h *HTTP) Scan(ctx context.Context, buf *Buffer, report *bytes.Buffer) error {
	flow, data := buf.Flow, buf.Data
	if len(data) < minHTTPSize || !bytes.HasPrefix(data, []byte("HTTP/1.")) {
		return nil
	}
	report.WriteString("\n    <byte_runs>\n")
	var errs []error
	// Like tcpflow, a parse error does not end the scan: parsing restarts
	// where it stopped, with a fresh parser and body numbering from 001.
	for offset := 0; ctx.Err() == nil; {
		sub := data[offset:]
		msgs := &httpMessages{scanner: h, flow: flow, report: report}
		p := newResponseParser(msgs)
		parsed := p.execute(sub)
		if parsed == len(sub) {
			p.eof()
		}
		msgs.messageComplete() // a body cut short by the end or an error is kept
		errs = append(errs, msgs.errs...)
		if parsed == len(sub) || parsed == 0 || p.upgrade {
			break
		}
		offset += parsed
	}
	report.WriteString("    </byte_runs>")
	return errors.Join(append(errs, ctx.Err())...)
}

type lastHeaderPart uint8

const (
	partNothing lastHeaderPart = iota
	partField
	partValue
)

// httpMessages receives one parser's events and writes the bodies; it plays
// the part of tcpflow's scan_http_cbo.
type httpMessages struct {
	scanner *HTTP
	flow    FlowInfo
	report  *bytes.Buffer
	errs    []error

	requestNo   int
	headers     map[string]string
	last        lastHeaderPart
	field       string
	value       string
	path        string
	file        *os.File
	firstOffset int // offset of the first non-empty body piece, -1 before it
	pieces      [][]byte
	inflate     bool
	rawDeflate  bool // Content-Encoding: deflate may be headerless
}

func (m *httpMessages) messageBegin() { m.requestNo++ }

func (m *httpMessages) headerField(b []byte) {
	f := asciiLower(string(b))
	switch m.last {
	case partValue:
		m.setHeader()
		m.field = f
	case partField:
		m.field += f
	default:
		m.field = f
	}
	m.last = partField
}

func (m *httpMessages) headerValue(b []byte) {
	switch m.last {
	case partField:
		m.value = string(b)
	case partValue:
		m.value += string(b)
	default:
		return // a value without a name: http-parser never does this
	}
	m.last = partValue
}

func (m *httpMessages) setHeader() {
	if m.headers == nil {
		m.headers = map[string]string{}
	}
	m.headers[m.field] = m.value // a repeated header: the last one wins
}

func (m *httpMessages) headersComplete() {
	if m.last == partValue {
		m.setHeader()
		m.field = ""
	}
	m.path = fmt.Sprintf("%s-HTTPBODY-%03d", m.flow.Path, m.requestNo)
	if ext := extensionFor(m.headers["content-type"]); ext != "" {
		m.path += "." + ext
	}
	enc := m.headers["content-encoding"]
	m.inflate = (enc == "gzip" || enc == "deflate") && !m.scanner.Options.NoDecompress
	m.rawDeflate = enc == "deflate"
	f, err := m.scanner.Options.openBody(m.path)
	if err != nil {
		// tcpflow's debug-level-1 message; parsing stops at this body.
		m.scanner.Options.warn("unable to open HTTP body file %s", m.path)
	}
	m.file = f
	m.firstOffset = -1
	m.event("open")
}

func (m *httpMessages) event(what string) {
	if m.scanner.Options.BodyEvent != nil {
		m.scanner.Options.BodyEvent(what, m.path)
	}
}

// body collects the body's pieces; they are views into the flow file and
// are written (or inflated) when the message completes.
func (m *httpMessages) body(offset int, b []byte) error {
	if m.file == nil {
		return errNoBodyFile
	}
	if len(b) == 0 {
		return nil
	}
	if m.firstOffset < 0 {
		m.firstOffset = offset
	}
	m.pieces = append(m.pieces, b)
	return nil
}

var errNoBodyFile = errors.New("no http body file")

func (m *httpMessages) messageComplete() {
	m.headers = nil
	m.field, m.value = "", ""
	m.last = partNothing
	if m.file != nil {
		written, err := m.writeBody()
		if cerr := m.file.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close http body file: %w", cerr)
		}
		m.file = nil
		if err != nil {
			m.errs = append(m.errs, err)
		}
		m.finishBody(written)
	}
	m.path = ""
	m.pieces = m.pieces[:0]
	m.inflate = false
}

// finishBody reports a written body, or removes an empty body file.
func (m *httpMessages) finishBody(written int64) {
	if written == 0 {
		if err := os.Remove(m.path); err != nil {
			m.errs = append(m.errs, fmt.Errorf("remove empty http body file: %w", err))
		}
		return
	}
	fmt.Fprintf(m.report, "     <byte_run file_offset='%d'><fileobject><filename>%s</filename><filesize>%d</filesize></fileobject></byte_run>\n",
		m.firstOffset, m.path, written)
	if t := m.flow.Start; !t.IsZero() {
		// tcpflow leaves body files at the current time (its issue #55);
		// they get the flow file's time instead.
		if err := os.Chtimes(m.path, t, t); err != nil {
			m.errs = append(m.errs, fmt.Errorf("set http body file time: %w", err))
		}
	}
	m.event("close")
}

// writeBody writes the collected pieces to the body file, inflated when
// asked, and returns how many bytes the file got.
func (m *httpMessages) writeBody() (int64, error) {
	if len(m.pieces) == 0 {
		return 0, nil
	}
	sc := m.scanner.scratchSpace()
	w := sc.out
	w.Reset(m.file)
	var n int64
	var err error
	if m.inflate {
		n, err = m.inflateBody(w, sc)
	} else {
		for _, p := range m.pieces {
			var k int
			k, err = w.Write(p)
			n += int64(k)
			if err != nil {
				break
			}
		}
	}
	if ferr := w.Flush(); err == nil && ferr != nil {
		err = ferr
	}
	w.Reset(nil)
	if err != nil {
		return n, fmt.Errorf("write http body file %s: %w", m.path, err)
	}
	return n, nil
}

// inflateBody decodes a gzip or zlib body (as zlib's inflateInit2 with
// automatic header detection does) or, for Content-Encoding: deflate, a raw
// deflate body, which 1.6.1 cannot decode. Output stops at MaxInflate. A
// stream that cannot be decoded is reported through Warn; what was decoded
// before the problem is kept.
func (m *httpMessages) inflateBody(w io.Writer, sc *httpScratch) (int64, error) {
	sc.pieces.rest = m.pieces
	sc.in.Reset(&sc.pieces)
	dec, err := sc.decoder(m.rawDeflate)
	if err != nil {
		m.scanner.Options.warn("http: %s: cannot decompress body: %v", m.path, err)
		return 0, nil
	}
	limit := m.scanner.Options.MaxInflate
	if limit <= 0 {
		limit = DefaultMaxInflate
	}
	n, err := copyBody(w, io.LimitReader(dec, limit), sc.copy)
	if err != nil {
		var we *writeError
		if errors.As(err, &we) {
			return n, we.err
		}
		m.scanner.Options.warn("http: %s: decompression stopped after %d bytes: %v", m.path, n, err)
		return n, nil
	}
	if n == limit {
		var one [1]byte
		if k, _ := dec.Read(one[:]); k > 0 {
			m.scanner.Options.warn("http: %s: decompressed body cut at the %s-byte cap", m.path, strconv.FormatInt(limit, 10))
		}
	}
	return n, nil
}

// errNotCompressed: the body starts with neither a gzip nor a zlib header.
var errNotCompressed = errors.New("no gzip or zlib header")

// httpScratch holds the buffers and decoders reused from body to body, so a
// flow with many bodies does not allocate them again each time.
type httpScratch struct {
	out    *bufio.Writer
	in     *bufio.Reader
	pieces piecesReader
	copy   []byte
	gz     *gzip.Reader
	zl     io.ReadCloser
	fl     io.ReadCloser
}

func (h *HTTP) scratchSpace() *httpScratch {
	if h.scratch == nil {
		h.scratch = &httpScratch{
			out:  bufio.NewWriterSize(nil, 64<<10),
			in:   bufio.NewReaderSize(nil, 32<<10),
			copy: make([]byte, 32<<10),
		}
	}
	return h.scratch
}

// decoder picks the decoder for the body in sc.in by its first bytes, as
// zlib's automatic header detection does; rawDeflate allows a headerless
// deflate stream (what many servers send for Content-Encoding: deflate).
func (sc *httpScratch) decoder(rawDeflate bool) (io.Reader, error) {
	head, _ := sc.in.Peek(2)
	switch {
	case len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b:
		// All members of a multi-member gzip body are decoded (RFC 1952);
		// 1.6.1 writes none of them.
		if sc.gz == nil {
			var err error
			sc.gz, err = gzip.NewReader(sc.in)
			return sc.gz, err
		}
		return sc.gz, sc.gz.Reset(sc.in)
	case len(head) == 2 && head[0]&0x0f == 8 && (uint(head[0])<<8|uint(head[1]))%31 == 0:
		if sc.zl == nil {
			var err error
			sc.zl, err = zlib.NewReader(sc.in)
			if err != nil {
				sc.zl = nil
			}
			return sc.zl, err
		}
		return sc.zl, sc.zl.(zlib.Resetter).Reset(sc.in, nil)
	}
	if !rawDeflate {
		return nil, errNotCompressed
	}
	if sc.fl == nil {
		sc.fl = flate.NewReader(sc.in)
		return sc.fl, nil
	}
	return sc.fl, sc.fl.(flate.Resetter).Reset(sc.in, nil)
}

// piecesReader reads body pieces one after the other without copying them.
type piecesReader struct{ rest [][]byte }

func (r *piecesReader) Read(p []byte) (int, error) {
	for len(r.rest) > 0 && len(r.rest[0]) == 0 {
		r.rest = r.rest[1:]
	}
	if len(r.rest) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.rest[0])
	r.rest[0] = r.rest[0][n:]
	return n, nil
}

type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }

// copyBody copies r to w, telling write errors (fatal) from read errors
// (a corrupt compressed stream, reported and tolerated).
func copyBody(w io.Writer, r io.Reader, buf []byte) (int64, error) {
	var n int64
	for {
		k, rerr := r.Read(buf)
		if k > 0 {
			if _, err := w.Write(buf[:k]); err != nil {
				return n, &writeError{err: err}
			}
			n += int64(k)
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}
