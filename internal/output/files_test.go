package output

import (
	"bytes"
	"fmt"
	"math/rand"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bpflow/bpflow/internal/flow"
)

// model is what a flow file must hold: plain writes at offsets, holes read
// as zeros, shifts that move the bytes forward and keep a copy in front.
type model []byte

func (m *model) write(off int64, data []byte) {
	if len(data) == 0 {
		return
	}
	if end := off + int64(len(data)); end > int64(len(*m)) {
		*m = append(*m, make([]byte, end-int64(len(*m)))...)
	}
	copy((*m)[off:], data)
}

func (m *model) shift(n int64) {
	old := *m
	if len(old) == 0 {
		return // nothing to move: an empty file stays empty
	}
	grown := make([]byte, int64(len(old))+n)
	copy(grown, old)
	copy(grown[n:], old)
	*m = grown
}

// TestFilesMatchModel drives the file store (write-behind buffers handed
// to the writer goroutine, the LRU, shifts) with random operations on
// several flows and compares every file with the model: with one or two
// open files (constant closing and reopening), with writes larger than a
// buffer (page-aligned spills), and with more flows holding buffers than
// the pool has (the oldest holder is flushed, and buffers come back from
// the writer).
func TestFilesMatchModel(t *testing.T) {
	for _, tc := range []struct {
		name           string
		flows, ops     int
		maxFDs, maxLen int
	}{
		{"lru", 4, 400, 0, 3000},
		{"big writes", 4, 400, 0, 3 * writeBufSize},
		{"pool exhausted", maxWriteBufs + 100, 4 * (maxWriteBufs + 100), 2 * maxWriteBufs, 3000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for seed := int64(1); seed <= 20; seed++ {
				checkFilesModel(t, seed, tc.flows, tc.ops, tc.maxFDs, tc.maxLen)
			}
		})
	}
}

// checkFilesModel runs one random sequence; maxFDs 0 means one or two.
func checkFilesModel(t *testing.T, seed int64, nflows, ops, maxFDs, maxLen int) {
	rng := rand.New(rand.NewSource(seed))
	dir := t.TempDir()
	if maxFDs == 0 {
		maxFDs = 1 + rng.Intn(2)
	}
	fs := &Files{Namer: Namer{Template: "f%N", OutDir: dir}, MaxFDs: maxFDs, Warn: func(msg string) { t.Error(msg) }}
	flows := make([]*flow.Flow, nflows)
	models := make([]model, len(flows))
	for i := range flows {
		flows[i] = &flow.Flow{ID: uint64(i), Key: flow.Key{Src: netip.MustParseAddr("10.0.0.1"), Family: 2}}
	}
	pos := make([]int64, len(flows))
	for op := 0; op < ops; op++ {
		i := rng.Intn(len(flows))
		f := flows[i]
		if err := fs.Open(f); err != nil {
			t.Fatal(err)
		}
		switch r := rng.Intn(20); {
		case r == 0:
			n := int64(1 + rng.Intn(50))
			if err := fs.Shift(f, n); err != nil {
				t.Fatal(err)
			}
			models[i].shift(n)
		case r < 3:
			pos[i] = int64(rng.Intn(len(models[i]) + 100)) // a seek
			fallthrough
		default:
			data := bytes.Repeat([]byte{byte('a' + rng.Intn(26))}, rng.Intn(maxLen))
			fs.Write(f, pos[i], data)
			models[i].write(pos[i], data)
			pos[i] += int64(len(data))
		}
		fs.Touch(f)
	}
	for _, f := range flows {
		fs.Close(f)
	}
	fs.Stop()
	for i, f := range flows {
		if f.Name == "" {
			continue // never written
		}
		got, err := os.ReadFile(f.Name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, models[i]) {
			t.Fatalf("seed %d flow %d: file has %d bytes, model %d (first difference at %d)",
				seed, i, len(got), len(models[i]), firstDiff(got, models[i]))
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestWriteThroughReachesTheFileAtOnce: with WriteThrough (live capture)
// every segment is in the file before the flow closes, as with tcpflow;
// without it a small in-order segment waits in the write-behind buffer.
func TestWriteThroughReachesTheFileAtOnce(t *testing.T) {
	for _, through := range []bool{true, false} {
		dir := t.TempDir()
		fs := &Files{Namer: Namer{Template: "f%N", OutDir: dir}, MaxFDs: 4, WriteThrough: through,
			Warn: func(msg string) { t.Error(msg) }}
		f := &flow.Flow{Key: flow.Key{Src: netip.MustParseAddr("10.0.0.1"), Family: 2}}
		if err := fs.Open(f); err != nil {
			t.Fatal(err)
		}
		fs.Write(f, 0, []byte("GET / HTTP/1.1\r\n"))
		fs.Sync() // whatever was handed over is in the file
		got, err := os.ReadFile(f.Name)
		if err != nil {
			t.Fatal(err)
		}
		if through != (string(got) == "GET / HTTP/1.1\r\n") {
			t.Errorf("WriteThrough=%v: file holds %q before close", through, got)
		}
		fs.Close(f)
	}
}

// TestIndexTracedOnEachFileOpening: -I -v says "opening index file" each
// time a flow's file is opened or reopened after the descriptor LRU closed
// it (as tcpflow 1.6.1 does), never for a file that is still open.
func TestIndexTracedOnEachFileOpening(t *testing.T) {
	dir := t.TempDir()
	var traces []string
	warn := func(msg string) { t.Error(msg) }
	s := &Sink{
		Files: &Files{Namer: Namer{Template: "f%N", OutDir: dir}, MaxFDs: 1, Warn: warn},
		Index: &Index{Warn: warn, Debugf: func(level int, format string, args ...any) {
			if level != 10 {
				t.Errorf("index trace at level %d, want 10", level)
			}
			traces = append(traces, fmt.Sprintf(format, args...))
		}},
	}
	a := &flow.Flow{ID: 0, Key: flow.Key{Src: netip.MustParseAddr("10.0.0.1"), Family: 2}}
	b := &flow.Flow{ID: 1, Key: flow.Key{Src: netip.MustParseAddr("10.0.0.1"), Family: 2}}
	for _, f := range []*flow.Flow{a, a, b, a} { // open, still open, evicts a, reopens a
		if err := s.OpenFile(f); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"opening index file: " + a.Name + ".findx",
		"opening index file: " + b.Name + ".findx",
		"opening index file: " + a.Name + ".findx",
	}
	if d := cmp.Diff(want, traces); d != "" {
		t.Errorf("index traces (-want +got):\n%s", d)
	}
	for _, f := range []*flow.Flow{a, b} {
		if err := s.CloseFlow(f); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAbandonWritesBufferedBytesAndKeepsTimes: after a fatal error the
// store writes out what it buffered and closes its files, but leaves their
// mtime alone (1.6.1 exits without closing flows, so their files keep the
// wall-clock time instead of the flow's start).
func TestAbandonWritesBufferedBytesAndKeepsTimes(t *testing.T) {
	dir := t.TempDir()
	fs := &Files{Namer: Namer{Template: "f%N", OutDir: dir}, MaxFDs: 4, Warn: func(msg string) { t.Error(msg) }}
	f := &flow.Flow{Start: 1_600_000_000e9, Key: flow.Key{Src: netip.MustParseAddr("10.0.0.1"), Family: 2}}
	if err := fs.Open(f); err != nil {
		t.Fatal(err)
	}
	var m model
	for _, w := range []struct {
		off  int64
		data string
	}{{0, "AAAA"}, {8, "CCCC"}} {
		fs.Write(f, w.off, []byte(w.data))
		m.write(w.off, []byte(w.data))
	}
	fs.Abandon()
	if fs.OpenFiles() != 0 {
		t.Errorf("%d files open after Abandon", fs.OpenFiles())
	}
	got, err := os.ReadFile(f.Name)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, m) {
		t.Errorf("file holds %q, want %q", got, []byte(m))
	}
	st, err := os.Stat(f.Name)
	if err != nil {
		t.Fatal(err)
	}
	if st.ModTime().UnixNano() == f.Start {
		t.Errorf("Abandon set the file's mtime to the flow's start %v", st.ModTime())
	}
}

// TestTemplateEndingInSlashMakesNoLastDirectory: a name ending in '/' cannot
// be opened; like 1.6.1, only the directories before its last part exist.
func TestTemplateEndingInSlashMakesNoLastDirectory(t *testing.T) {
	dir := t.TempDir()
	fs := &Files{Namer: Namer{Template: "d/sub/", OutDir: dir}, MaxFDs: 4, Warn: func(msg string) { t.Error(msg) }}
	f := &flow.Flow{Key: flow.Key{Src: netip.MustParseAddr("10.0.0.1"), Family: 2}}
	err := fs.Open(f)
	if err == nil || !strings.HasPrefix(err.Error(), "Cannot open: ") {
		t.Errorf("Open = %v, want Cannot open", err)
	}
	if st, err := os.Stat(filepath.Join(dir, "d")); err != nil || !st.IsDir() {
		t.Errorf("directory d: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "d", "sub")); !os.IsNotExist(err) {
		t.Errorf("d/sub exists (stat: %v); only the directories before the last part should", err)
	}
}

// TestPostProcessingReopensAndFlushes: like 1.6.1's post_process, a closing
// flow whose file the descriptor LRU closed is reopened before it is
// scanned, and the scanner sees every byte written (buffered ones too).
func TestPostProcessingReopensAndFlushes(t *testing.T) {
	dir := t.TempDir()
	var traces []string
	scanned := map[string]string{}
	s := &Sink{
		Files: &Files{Namer: Namer{Template: "f%N", OutDir: dir}, MaxFDs: 1, Warn: func(msg string) { t.Error(msg) },
			DebugLevel: 5, Debugf: func(format string, args ...any) { traces = append(traces, fmt.Sprintf(format, args...)) }},
		Scan: func(f *flow.Flow) (string, error) {
			data, err := os.ReadFile(f.Name)
			scanned[filepath.Base(f.Name)] = string(data)
			return "", err
		},
		Debugf: func(int, string, ...any) {},
	}
	a := &flow.Flow{ID: 0, Key: flow.Key{Src: netip.MustParseAddr("10.0.0.1"), Family: 2}}
	b := &flow.Flow{ID: 1, Key: flow.Key{Src: netip.MustParseAddr("10.0.0.1"), Family: 2}}
	for _, w := range []struct {
		f    *flow.Flow
		data string
	}{{a, "hello"}, {b, "world"}} { // opening b closes a
		if err := s.OpenFile(w.f); err != nil {
			t.Fatal(err)
		}
		if err := s.WriteFile(w.f, 0, []byte(w.data), 0); err != nil {
			t.Fatal(err)
		}
		w.f.LastByte = int64(len(w.data))
	}
	traces = nil
	for _, f := range []*flow.Flow{b, a} {
		if err := s.CloseFlow(f); err != nil {
			t.Fatal(err)
		}
	}
	if d := cmp.Diff(map[string]string{filepath.Base(a.Name): "hello", filepath.Base(b.Name): "world"}, scanned); d != "" {
		t.Errorf("scanned bytes (-want +got):\n%s", d)
	}
	want := []string{
		b.Name + ": closing file in tcpip::close_file",
		fmt.Sprintf("retrying_open ::open(fn=%s,oflag=x42,mask:x1b6)=%s", a.Name, "FD"),
		a.Name + ": opening existing file",
		a.Name + ": closing file in tcpip::close_file",
	}
	fdRE := regexp.MustCompile(`\)=\d+$`)
	for i := range traces {
		traces[i] = fdRE.ReplaceAllString(traces[i], ")=FD")
	}
	if d := cmp.Diff(want, traces); d != "" {
		t.Errorf("traces while closing (-want +got):\n%s", d)
	}
}
