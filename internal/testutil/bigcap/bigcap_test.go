package bigcap_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/bpflow/bpflow/internal/testutil"
	"github.com/bpflow/bpflow/internal/testutil/bigcap"
)

// tcpflow reassembles every stream of a generated capture into exactly the
// pattern: the capture is what the benchmark claims it is.
func TestTcpflowReassemblesThePattern(t *testing.T) {
	testutil.RequireTool(t, "tcpflow")
	dir := t.TempDir()
	capPath := filepath.Join(dir, "cap.pcap")
	f, err := os.Create(capPath)
	if err != nil {
		t.Fatal(err)
	}
	st, err := bigcap.Write(f, bigcap.Config{Bytes: 3e6, Concurrent: 16, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(capPath); info.Size() != st.Bytes {
		t.Errorf("stats say %d bytes, file has %d", st.Bytes, info.Size())
	}
	out := filepath.Join(dir, "out")
	cmd := exec.Command("tcpflow", "-r", capPath, "-o", out)
	cmd.Dir = dir
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tcpflow: %v\n%s", err, msg)
	}
	files, err := filepath.Glob(filepath.Join(out, "*.*.*.*.*-*"))
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(files)) != 2*st.Connections {
		t.Errorf("tcpflow wrote %d flow files for %d connections", len(files), st.Connections)
	}
	var total int64
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		total += int64(len(data))
		for off := 0; off < len(data); off += 1000 {
			n := min(1000, len(data)-off)
			if !bytes.Equal(data[off:off+n], bigcap.Pattern(uint32(off), n)) {
				t.Fatalf("%s: bytes at %d are not the pattern", filepath.Base(p), off)
			}
		}
	}
	if total != st.PayloadBytes {
		t.Errorf("tcpflow stored %d bytes, the capture carries %d", total, st.PayloadBytes)
	}
}

func BenchmarkWrite(b *testing.B) {
	b.ReportAllocs()
	for range b.N {
		var buf bytes.Buffer
		st, err := bigcap.Write(&buf, bigcap.Config{Bytes: 10e6, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(st.Bytes)
	}
}
