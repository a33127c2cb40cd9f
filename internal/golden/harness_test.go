package golden

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bpflow/bpflow/internal/golden/flowdiff"
)

// TestRunnerRecordsEverything runs a fake tool through the runner and
// checks that every observable reaches the snapshot, so TestGolden and
// TestConformance can see any difference.
func TestRunnerRecordsEverything(t *testing.T) {
	tool := filepath.Join(t.TempDir(), "fake")
	script := `#!/bin/sh
echo "args=$* tz=$TZ"
echo "tcpflow[$$]: to stderr" >&2
test -r in/basic_http.pcap && echo "captures visible"
test -r real/README.md && echo "recorded captures visible"
wc -c | tr -d ' '
printf 'data' > flow
touch -d @1600000000.5 flow
mkdir sub
printf 'now' > sub/report
exit 3
`
	if err := os.WriteFile(tool, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	c := &Case{Name: "fake", Args: []string{"-r", in("basic_http.pcap")}, Stdin: "basic_http.pcap"}
	got, err := runner{bin: tool, captures: absCaptures(t)}.run(context.Background(), c, c.Args)
	if err != nil {
		t.Fatal(err)
	}
	size, err := os.Stat(filepath.Join(captureDir, "basic_http.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	want := &flowdiff.Snapshot{
		Exit:   3,
		Stdout: []byte("args=-r in/basic_http.pcap tz=UTC\ncaptures visible\nrecorded captures visible\n" + strconv.FormatInt(size.Size(), 10) + "\n"),
		Stderr: []byte("tcpflow[PID]: to stderr\n"),
		Entries: []flowdiff.Entry{
			{Path: "flow", Kind: flowdiff.KindFile, Mode: 0o644, Mtime: "1600000000.500000", Data: []byte("data")},
			{Path: "sub", Kind: flowdiff.KindDir, Mode: 0o755},
			{Path: "sub/report", Kind: flowdiff.KindFile, Mode: 0o644, Mtime: flowdiff.MtimeNow, Data: []byte("now")},
		},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("snapshot of the fake run (-want +got):\n%s", d)
	}
}

// TestTransforms checks the edits that derive bpflow's expectations.
func TestTransforms(t *testing.T) {
	report := "<?xml version='1.0'?>\n<dfxml>\n" +
		"      <tcpflow startime='x' endtime='y' mac_daddr='00:00:00:02:45:00' mac_saddr='00:2c:00:00:00:00' family='2' packets='3' violations='1' len='120' caplen='100' />\n" +
		"      <tcpflow startime='x' endtime='y' family='2' packets='2' len='80' />\n</dfxml>\n"
	base := &flowdiff.Snapshot{
		Stderr:  []byte("reportfilename: out/report.xml\ntcpflow: other\n"),
		Entries: []flowdiff.Entry{{Path: "out/report.xml", Kind: flowdiff.KindFile, Data: []byte(report)}, {Path: "out/f", Kind: flowdiff.KindFile}},
	}
	apply := func(tr Transform) *flowdiff.Snapshot {
		t.Helper()
		s, err := (&Difference{Fix: []Transform{tr}}).Expect(base)
		if err != nil {
			t.Fatalf("%s: %v", tr.Name, err)
		}
		return s
	}
	if s := apply(dropConsoleReport); string(s.Stderr) != "tcpflow: other\n" || s.Entry("out/report.xml") != nil || s.Entry("out/f") == nil {
		t.Errorf("dropConsoleReport: stderr %q, entries %v", s.Stderr, s.Entries)
	}
	s := apply(addLenPerPacket(4))
	for _, part := range []string{"packets='3' violations='1' len='132' caplen='112'", "packets='2' len='88' />"} {
		if !strings.Contains(string(s.Entry("out/report.xml").Data), part) {
			t.Errorf("addLenPerPacket: report lacks %q:\n%s", part, s.Entry("out/report.xml").Data)
		}
	}
	if s := apply(dropAttr("caplen")); strings.Contains(string(s.Entry("out/report.xml").Data), "caplen") {
		t.Errorf("dropAttr left caplen:\n%s", s.Entry("out/report.xml").Data)
	}
	if base.Entry("out/report.xml") == nil || !strings.Contains(string(base.Entry("out/report.xml").Data), "caplen='100'") {
		t.Errorf("a transform changed its input")
	}
	if got := macAttrs([]byte{0, 0, 0, 2, 0x45, 0, 0, 0, 0, 0, 0, 0}); got != " mac_daddr='00:00:00:02:45:00'" {
		t.Errorf("macAttrs = %q", got)
	}
}
