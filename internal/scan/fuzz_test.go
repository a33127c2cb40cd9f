package scan

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// recordingHandler keeps the parser's body events for invariant checks.
type recordingHandler struct {
	begins, completes int
	offsets           []int
	pieces            [][]byte
}

func (r *recordingHandler) messageBegin()      { r.begins++ }
func (r *recordingHandler) headerField([]byte) {}
func (r *recordingHandler) headerValue([]byte) {}
func (r *recordingHandler) headersComplete()   {}
func (r *recordingHandler) messageComplete()   { r.completes++ }
func (r *recordingHandler) body(off int, b []byte) error {
	r.offsets = append(r.offsets, off)
	r.pieces = append(r.pieces, b)
	return nil
}

func seedCorpus(f *testing.F) {
	for _, c := range httpCases {
		f.Add(c.response)
	}
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n"))
}

// FuzzResponseParser: whatever the input, the parser stops inside it, and
// every body piece is the input's bytes at the offset it reports, in order.
func FuzzResponseParser(f *testing.F) {
	seedCorpus(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		h := &recordingHandler{}
		p := newResponseParser(h)
		n := p.execute(data)
		if n < 0 || n > len(data) {
			t.Fatalf("parsed %d of %d bytes", n, len(data))
		}
		if n == len(data) {
			p.eof()
		}
		prevEnd := 0
		for i, piece := range h.pieces {
			off := h.offsets[i]
			if off < prevEnd || off+len(piece) > len(data) || !bytes.Equal(data[off:off+len(piece)], piece) {
				t.Fatalf("body piece %d at %d (%d bytes) is not the input's bytes after %d", i, off, len(piece), prevEnd)
			}
			prevEnd = off + len(piece)
		}
		if h.completes > h.begins {
			t.Fatalf("%d messages completed, %d begun", h.completes, h.begins)
		}
	})
}

var fuzzRunRE = regexp.MustCompile(`     <byte_run file_offset='(\d+)'><fileobject><filename>([^<]*)</filename><filesize>(\d+)</filesize></fileobject></byte_run>\n`)

// FuzzHTTPScan runs the whole http scanner (gzip path included, with a
// small inflate cap) on hostile flows: no panic, the report is well formed,
// every reported body file exists with the reported size, no empty body file
// is left, and no inflated body exceeds the cap.
func FuzzHTTPScan(f *testing.F) {
	seedCorpus(f)
	f.Add(resp("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n", cl(gzBig), "\r\n", gzBig))
	f.Fuzz(func(t *testing.T, data []byte) { scanAndCheck(t, data) })
}

// FuzzGzipBody feeds hostile compressed bodies to the inflate path.
func FuzzGzipBody(f *testing.F) {
	for _, b := range [][]byte{gzPage, zlPage, rawPage, truncGz, badCRC, twoGzip, gzTrailer} {
		f.Add(b, false)
		f.Add(b, true)
	}
	f.Fuzz(func(t *testing.T, body []byte, deflate bool) {
		enc := "gzip"
		if deflate {
			enc = "deflate"
		}
		scanAndCheck(t, resp("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: "+enc+"\r\n", cl(body), "\r\n", body))
	})
}

// scanAndCheck runs the http scanner with a small inflate cap on data and
// checks its invariants.
func scanAndCheck(t *testing.T, data []byte) {
	t.Helper()
	const limit = 4096
	dir := t.TempDir()
	h := &HTTP{Options: Options{MaxInflate: limit}}
	var report bytes.Buffer
	flowPath := filepath.Join(dir, "flow")
	if err := h.Scan(context.Background(), &Buffer{Flow: FlowInfo{Path: flowPath}, Data: data}, &report); err != nil {
		t.Fatal(err)
	}
	rep := report.String()
	if rep == "" {
		return
	}
	inner, okPrefix := strings.CutPrefix(rep, "\n    <byte_runs>\n")
	inner, okSuffix := strings.CutSuffix(inner, "    </byte_runs>")
	if !okPrefix || !okSuffix {
		t.Fatalf("malformed report %q", rep)
	}
	if rest := fuzzRunRE.ReplaceAllString(inner, ""); rest != "" {
		t.Fatalf("unexpected report text %q", rest)
	}
	// After a parse error tcpflow restarts numbering at 001 and
	// overwrites earlier bodies: the last entry for a name is the file.
	sizes := map[string]string{}
	for _, m := range fuzzRunRE.FindAllStringSubmatch(inner, -1) {
		sizes[m[2]] = m[3]
	}
	for name, size := range sizes {
		st, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if strconv.FormatInt(st.Size(), 10) != size {
			t.Fatalf("%s has %d bytes, report says %s", name, st.Size(), size)
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		st, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() == 0 {
			t.Fatalf("empty body file %s left", e.Name())
		}
		if st.Size() > max(limit, int64(len(data))) {
			t.Fatalf("%s has %d bytes: over the cap and the input", e.Name(), st.Size())
		}
	}
}

// TestDecompressionBomb: a 256 MiB gzip bomb (about 256 KiB on the wire) is cut
// at the cap, reported, and inflated in bounded memory.
func TestDecompressionBomb(t *testing.T) {
	var bomb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	zeros := make([]byte, 1<<20)
	for range 256 {
		zw.Write(zeros)
	}
	zw.Close()
	flow := resp("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: gzip\r\n", cl(bomb.Bytes()), "\r\n", bomb.Bytes())

	const limit = 8 << 20
	var warnings []string
	t.Chdir(t.TempDir())
	if err := os.WriteFile("flow", flow, 0o644); err != nil {
		t.Fatal(err)
	}
	r := NewRunner([]string{"http"}, Options{MaxInflate: limit, Warn: func(m string) { warnings = append(warnings, m) }})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	report, err := r.Process(context.Background(), FlowInfo{Path: "flow"})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	// The flow is read through a file mapping and inflated through fixed
	// buffers: memory does not grow with the output.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 2<<20 {
		t.Errorf("inflating allocated %d bytes; want bounded buffers (< 2 MiB)", alloc)
	}
	body, err := os.ReadFile("flow-HTTPBODY-001.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(body) != limit || !bytes.Equal(body, make([]byte, limit)) {
		t.Errorf("body has %d bytes, want the first %d bytes of the bomb", len(body), limit)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "cap") {
		t.Errorf("warnings %q, want one about the cap", warnings)
	}
	if !strings.Contains(report, "<filesize>"+strconv.Itoa(limit)+"</filesize>") {
		t.Errorf("report %q does not give the capped size", report)
	}
}
