package scan

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/bpflow/bpflow/internal/scan/internal/oracle"
	"github.com/google/go-cmp/cmp"
)

// runnerResponses are the server answers of the connections of the runner
// capture: a repeat of an earlier flow and flows that are one short pattern
// repeated are not scanned by 1.6.1 (bulk_extractor's duplicate and ngram
// rules), whatever the scanner.
var runnerResponses = []string{
	"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 40\r\n\r\n0123456789012345678901234567890123456789",
	"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 40\r\n\r\n0123456789012345678901234567890123456789",
	strings.Repeat("abc", 100),
	"123456789",
	"0123456789",
	strings.Repeat("abcdefghij", 30),
	strings.Repeat("abcdefghi", 30),
	"x",
}

const runnerDir = goldenRoot + "/runner"

// TestRunnerConformance runs tcpflow -e md5 -e http on the runner capture
// and checks testdata/scan/runner still holds its flows and report text.
func TestRunnerConformance(t *testing.T) {
	needTCPFlow(t)
	dir := t.TempDir()
	var xs []oracle.Exchange
	for i, r := range runnerResponses {
		req := "GET /" + strconv.Itoa(i) + " HTTP/1.1\r\n\r\n"
		if i == 1 {
			req = "GET /0 HTTP/1.1\r\n\r\n" // the whole connection repeats
		}
		xs = append(xs, oracle.Exchange{Request: []byte(req), Response: []byte(r)})
	}
	if err := os.WriteFile(filepath.Join(dir, "runner.pcap"), oracle.Capture(xs...), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := oracle.Run(dir, "-e", "md5", "-e", "http", "-o", "out", "-r", "runner.pcap"); err != nil {
		t.Fatal(err)
	}
	frags, err := oracle.Fragments(filepath.Join(dir, "out", "report.xml"))
	if err != nil {
		t.Fatal(err)
	}
	got := readDir(t, filepath.Join(dir, "out"))
	delete(got, "report.xml")
	got["report.txt"] = []byte(fragmentsText(frags))
	if *update {
		if err := os.RemoveAll(runnerDir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(runnerDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range got {
			if err := os.WriteFile(filepath.Join(runnerDir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	if diff := cmp.Diff(readDir(t, runnerDir), got); diff != "" {
		t.Errorf("tcpflow output differs from testdata/scan/runner (-golden +tcpflow):\n%s", diff)
	}
}

// fragmentsText is the golden form of a report's fragments: per flow, in
// closing order, the name and the quoted text.
func fragmentsText(frags []oracle.Fragment) string {
	var b strings.Builder
	for _, f := range frags {
		b.WriteString(f.Name + "\t" + strconv.Quote(f.Text) + "\n")
	}
	return b.String()
}

// readDir returns every regular file in dir by name.
func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		if out[e.Name()], err = os.ReadFile(filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestRunnerGolden feeds tcpflow's flow files to one Runner in tcpflow's
// closing order and expects tcpflow's report text and body files.
func TestRunnerGolden(t *testing.T) {
	golden := readDir(t, runnerDir)
	work := t.TempDir()
	t.Chdir(work)
	if err := os.Mkdir("out", 0o755); err != nil {
		t.Fatal(err)
	}
	r := NewRunner([]string{"http", "md5"}, Options{})
	var frags []oracle.Fragment
	for line := range strings.Lines(string(golden["report.txt"])) {
		name, _, _ := strings.Cut(line, "\t")
		path := filepath.Join("out", name)
		if err := os.WriteFile(path, golden[name], 0o644); err != nil {
			t.Fatal(err)
		}
		text, err := r.Process(context.Background(), FlowInfo{Path: "out/" + name})
		if err != nil {
			t.Fatal(err)
		}
		frags = append(frags, oracle.Fragment{Name: name, Text: text})
	}
	if diff := cmp.Diff(string(golden["report.txt"]), fragmentsText(frags)); diff != "" {
		t.Errorf("report text differs from tcpflow's (-tcpflow +bpflow):\n%s", diff)
	}
	delete(golden, "report.txt")
	if diff := cmp.Diff(golden, readDir(t, "out")); diff != "" {
		t.Errorf("files differ from tcpflow's (-tcpflow +bpflow):\n%s", diff)
	}
}

// TestSampleAgainstTCPFlow runs tcpflow -a on the real capture in
// testdata/sample, then bpflow's Runner on tcpflow's flow files in the same
// order, and expects tcpflow's report text and body files.
func TestSampleAgainstTCPFlow(t *testing.T) {
	needTCPFlow(t)
	abs, err := filepath.Abs("../../testdata/sample/http.pcap")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := oracle.Run(dir, "-a", "-o", "out", "-r", abs); err != nil {
		t.Fatal(err)
	}
	frags, err := oracle.Fragments(filepath.Join(dir, "out", "report.xml"))
	if err != nil {
		t.Fatal(err)
	}
	tcpflow := readDir(t, filepath.Join(dir, "out"))
	for _, name := range []string{"report.xml", "report.pdf"} {
		delete(tcpflow, name)
	}

	t.Chdir(t.TempDir())
	if err := os.Mkdir("out", 0o755); err != nil {
		t.Fatal(err)
	}
	r := NewRunner([]string{"md5", "http", "netviz", "tcpdemux", "wifiviz"}, Options{})
	var got []oracle.Fragment
	for _, f := range frags {
		if err := os.WriteFile(filepath.Join("out", f.Name), tcpflow[f.Name], 0o644); err != nil {
			t.Fatal(err)
		}
		text, err := r.Process(context.Background(), FlowInfo{Path: "out/" + f.Name})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, oracle.Fragment{Name: f.Name, Text: text})
	}
	if diff := cmp.Diff(fragmentsText(frags), fragmentsText(got)); diff != "" {
		t.Errorf("report text differs (-tcpflow +bpflow):\n%s", diff)
	}
	if diff := cmp.Diff(tcpflow, readDir(t, "out")); diff != "" {
		t.Errorf("files differ (-tcpflow +bpflow):\n%s", diff)
	}
}
