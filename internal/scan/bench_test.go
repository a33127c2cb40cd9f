package scan

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// benchFlow is a keep-alive flow of n responses with bodies of size bytes,
// gzip-compressed when gzipped.
func benchFlow(n, size int, gzipped bool) []byte {
	body := []byte(strings.Repeat("bpflow benchmark body line\n", size/27+1)[:size])
	enc := ""
	if gzipped {
		body = gz(string(body))
		enc = "Content-Encoding: gzip\r\n"
	}
	var b bytes.Buffer
	for range n {
		fmt.Fprintf(&b, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n%sContent-Length: %d\r\n\r\n", enc, len(body))
		b.Write(body)
	}
	return b.Bytes()
}

func benchmarkHTTP(b *testing.B, flow []byte) {
	dir := b.TempDir()
	h := &HTTP{}
	path := filepath.Join(dir, "flow")
	b.SetBytes(int64(len(flow)))
	b.ReportAllocs()
	var report bytes.Buffer
	for b.Loop() {
		report.Reset()
		if err := h.Scan(context.Background(), &Buffer{Flow: FlowInfo{Path: path}, Data: flow}, &report); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHTTPPlain: 100 responses of 10 KB; the cost is mostly creating
// and writing the 100 body files.
func BenchmarkHTTPPlain(b *testing.B) { benchmarkHTTP(b, benchFlow(100, 10000, false)) }

// BenchmarkHTTPGzip: the same bodies gzip-compressed (throughput is per
// compressed byte).
func BenchmarkHTTPGzip(b *testing.B) { benchmarkHTTP(b, benchFlow(100, 10000, true)) }

// BenchmarkParseOnly: the response parser alone on 1000 small responses
// (header parsing dominates).
func BenchmarkParseOnly(b *testing.B) {
	flow := benchFlow(1000, 100, false)
	b.SetBytes(int64(len(flow)))
	b.ReportAllocs()
	for b.Loop() {
		p := newResponseParser(&recordingHandler{})
		p.execute(flow)
	}
}

// BenchmarkRunnerMD5: the md5 scanner through Runner.Process on a 16 MiB
// flow file (mapped, hashed twice: once for the duplicate check).
func BenchmarkRunnerMD5(b *testing.B) {
	dir := b.TempDir()
	path := filepath.Join(dir, "flow")
	data := bytes.Repeat([]byte("0123456789abcdefg"), 1<<20)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r := NewRunner([]string{"md5"}, Options{})
		if _, err := r.Process(context.Background(), FlowInfo{Path: path}); err != nil {
			b.Fatal(err)
		}
	}
}
