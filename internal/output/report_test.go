package output

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

var startTime = regexp.MustCompile(`<start_time>[^<]*</start_time>`)

// An OpenReport left unfinished ends at start_time, as 1.6.1's report does
// after "-w requires -r" (the golden case w_no_r holds tcpflow's bytes);
// finished, it is what CreateReport writes.
func TestOpenReportStopsAtStartTime(t *testing.T) {
	dir := t.TempDir()
	cut := filepath.Join(dir, "cut.xml")
	r, err := OpenReport(cut)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(cut)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(data, []byte("</start_time>\n")) || bytes.Contains(data, []byte("</execution_environment>")) {
		t.Errorf("unfinished report does not end at start_time:\n%s", data)
	}

	twoStep, oneStep := filepath.Join(dir, "two.xml"), filepath.Join(dir, "one.xml")
	r, err = OpenReport(twoStep)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.FinishHeader(7); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r, err = CreateReport(oneStep, 7)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(twoStep)
	b, _ := os.ReadFile(oneStep)
	a, b = startTime.ReplaceAll(a, nil), startTime.ReplaceAll(b, nil)
	if !bytes.Equal(a, b) {
		t.Errorf("OpenReport+FinishHeader wrote\n%s\nCreateReport wrote\n%s", a, b)
	}
	if !bytes.HasPrefix(b, startTime.ReplaceAll(data, nil)) {
		t.Errorf("the unfinished report is not a prefix of the finished one")
	}
}
