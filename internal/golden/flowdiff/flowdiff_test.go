package flowdiff

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func sample() *Snapshot {
	return &Snapshot{
		Exit:   1,
		Stdout: []byte("a: hi\r\n\n"),
		Stderr: []byte("no final newline"),
		Entries: []Entry{
			{Path: "d", Kind: KindDir, Mode: 0o755},
			{Path: "d/bin", Kind: KindFile, Mode: 0o644, Mtime: "1600000000.003000", Data: []byte("hi\x00\x00\n-- file \"x\"\n\xff")},
			{Path: "d/empty", Kind: KindFile, Mode: 0o600, Mtime: MtimeNow, Data: []byte{}},
			{Path: "l", Kind: KindSymlink, Data: []byte("d/bin")},
			{Path: "text", Kind: KindFile, Mode: 0o644, Mtime: "1.000000", Data: []byte("-- stdout text 3\nabc\n")},
		},
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	s := sample()
	got, err := Unmarshal(Marshal(s))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(s, got); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
}

func TestTakeReadsTree(t *testing.T) {
	dir := t.TempDir()
	started := time.Now()
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o750); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "sub", "flow")
	if err := os.WriteFile(f, []byte("data"), 0o640); err != nil {
		t.Fatal(err)
	}
	old := time.Unix(1600000000, 3000)
	if err := os.Chtimes(f, old, old); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.xml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "skipme"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Take(dir, 0, nil, nil, started, func(p string) bool { return p == "skipme" })
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{Path: "report.xml", Kind: KindFile, Mode: 0o644, Mtime: MtimeNow, Data: []byte{}},
		{Path: "sub", Kind: KindDir, Mode: 0o750},
		{Path: "sub/flow", Kind: KindFile, Mode: 0o640, Mtime: "1600000000.000003", Data: []byte("data")},
	}
	if d := cmp.Diff(want, s.Entries); d != "" {
		t.Errorf("entries (-want +got):\n%s", d)
	}
}

func TestNormalize(t *testing.T) {
	report := "<?xml version='1.0'?>\n<dfxml>\n  <build_environment>\n    <x>1</x>\n  </build_environment>\n" +
		"    <fileobject>\n      <filename>closed</filename>\n    </fileobject>\n" +
		"    <fileobject>\n      <filename>zz</filename>\n    </fileobject>\n" +
		"    <fileobject>\n      <filename>aa</filename>\n    </fileobject>\n" +
		"  <flow_map_size>2</flow_map_size>\n  <rusage><utime>0.1</utime></rusage>\n</dfxml>\n"
	s := &Snapshot{
		Stderr: []byte("tcpflow[4242]: changing max_fds\nSYN TO IGNORE! SYN tcp=0x55d0c1a2b3c4 flow=x\ntcpflow: retrying_open ::open(fn=a,oflag=xc2,mask:x1b6)=5\n" +
			"tcpflow: Cleaning up flows\ntcpflow: b: closing file in tcpip::close_file\ntcpflow: a: closing file in tcpip::close_file\ntcpflow: Total flows processed: 2\n" +
			"tcpflow: Flows seen: 2\ntcpflow: d: closing file in tcpip::close_file\ntcpflow: c: closing file in tcpip::close_file\ntcpflow: Total flows processed: 2\n"),
		Entries: []Entry{{Path: "report.xml", Kind: KindFile, Data: []byte(report)}},
	}
	Normalize(s)
	wantErr := "tcpflow[PID]: changing max_fds\nSYN TO IGNORE! SYN tcp=0xPTR flow=x\ntcpflow: retrying_open ::open(fn=a,oflag=xc2,mask:x1b6)=FD\n" +
		"tcpflow: Cleaning up flows\ntcpflow: a: closing file in tcpip::close_file\ntcpflow: b: closing file in tcpip::close_file\ntcpflow: Total flows processed: 2\n" +
		"tcpflow: Flows seen: 2\ntcpflow: c: closing file in tcpip::close_file\ntcpflow: d: closing file in tcpip::close_file\ntcpflow: Total flows processed: 2\n"
	if string(s.Stderr) != wantErr {
		t.Errorf("stderr = %q, want %q", s.Stderr, wantErr)
	}
	wantReport := "<?xml version='1.0'?>\n<dfxml>\n  <build_environment></build_environment>\n" +
		"    <fileobject>\n      <filename>closed</filename>\n    </fileobject>\n" +
		"    <fileobject>\n      <filename>aa</filename>\n    </fileobject>\n" +
		"    <fileobject>\n      <filename>zz</filename>\n    </fileobject>\n" +
		"  <flow_map_size>2</flow_map_size>\n  <rusage></rusage>\n</dfxml>\n"
	if d := cmp.Diff(wantReport, string(s.Entries[0].Data)); d != "" {
		t.Errorf("report (-want +got):\n%s", d)
	}
}

// TestNormalizeUnfinishedReport: 1.6.1 aborting mid-report leaves
// execution_environment open; its start time must still be dropped.
func TestNormalizeUnfinishedReport(t *testing.T) {
	cut := "<?xml version='1.0'?>\n<dfxml>\n    <execution_environment>\n      <start_time>2026-11-28T16:10:03Z</start_time>\n"
	want := "<?xml version='1.0'?>\n<dfxml>\n    <execution_environment>\n      <start_time></start_time>\n"
	if got := string(NormalizeReport([]byte(cut))); got != want {
		t.Errorf("NormalizeReport(unfinished) = %q, want %q", got, want)
	}
}

func TestDiffNamesEveryDifference(t *testing.T) {
	want := sample()
	got := want.Clone()
	got.Exit = 0
	got.Stdout = []byte("a: ho\r\n\n")
	got.Entries[1].Data[0] = 'H'
	got.Entries[2].Mtime = "1.000000"
	got.Remove("text")
	got.Entries = append(got.Entries, Entry{Path: "zextra", Kind: KindDir, Mode: 0o755})
	d := Diff(want, got)
	for _, part := range []string{"exit status: want 1, got 0", "stdout differs", `file "d/bin" differs`, "hexdump",
		`"d/empty": want file mode 0600 mtime now, got file mode 0600 mtime 1.000000`, `file "text": missing`, `dir "zextra": unexpected`} {
		if !strings.Contains(d, part) {
			t.Errorf("diff lacks %q:\n%s", part, d)
		}
	}
	if d := Diff(want, want.Clone()); d != "" {
		t.Errorf("diff of equal snapshots = %q", d)
	}
}

func FuzzUnmarshal(f *testing.F) {
	f.Add(Marshal(sample()))
	f.Add([]byte("exit 0\n-- stdout text 99\nab"))
	f.Add([]byte("exit 0\n-- file \"x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Unmarshal(data)
		if err != nil {
			return
		}
		// Whatever parses must survive a round trip unchanged.
		again, err := Unmarshal(Marshal(s))
		if err != nil {
			t.Fatalf("re-parse of marshalled snapshot: %v", err)
		}
		if !bytes.Equal(Marshal(again), Marshal(s)) {
			t.Fatalf("round trip changed the snapshot")
		}
	})
}
