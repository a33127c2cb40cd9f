package cli

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// TestSplitPcapIsTcpflowsWithTheRightLinkType runs -K under both programs:
// the per-flow pcaps have the same names and records as tcpflow 1.6.1's, and
// the link type in their header is the input's (1.6.1 writes 6 for
// Ethernet, quirk Q26, a documented difference).
func TestSplitPcapIsTcpflowsWithTheRightLinkType(t *testing.T) {
	in, err := filepath.Abs("../../testdata/sample/http.pcap")
	if err != nil {
		t.Fatal(err)
	}
	tdir, bdir := t.TempDir(), t.TempDir()
	if r := runTcpflow(t, tdir, "-K", "-r", in); r.Code != 0 {
		t.Fatalf("tcpflow -K: exit %d: %s", r.Code, r.Stderr)
	}
	if r := runBpflow(t, bdir, "-K", "-r", in); r.Code != 0 {
		t.Fatalf("bpflow -K: exit %d: %s", r.Code, r.Stderr)
	}
	want, got := pcapsIn(t, tdir), pcapsIn(t, bdir)
	if len(want) == 0 || len(want) != len(got) {
		t.Fatalf("tcpflow wrote %d pcaps, bpflow %d", len(want), len(got))
	}
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("bpflow did not write %s", name)
			continue
		}
		if lt := binary.LittleEndian.Uint32(g[20:24]); lt != 1 {
			t.Errorf("%s: link type %d, want 1 (Ethernet, the input's)", name, lt)
		}
		if binary.LittleEndian.Uint32(w[20:24]) != 6 {
			t.Errorf("%s: tcpflow's link type is no longer 6: quirk Q26 gone, update the README", name)
		}
		if !bytes.Equal(w[24:], g[24:]) || !bytes.Equal(w[:20], g[:20]) {
			t.Errorf("%s: records differ from tcpflow's", name)
		}
	}
}

// pcapsIn reads every *.pcap file in dir.
func pcapsIn(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	files := map[string][]byte{}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) < 24 {
			t.Fatalf("%s: %d bytes, shorter than a pcap header", n, len(b))
		}
		files[filepath.Base(n)] = b
	}
	return files
}
