package scan

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/bpflow/bpflow/internal/scan/internal/oracle"
	"github.com/bpflow/bpflow/internal/testutil"
	"github.com/google/go-cmp/cmp"
)

// checkGolden compares got with testdata/scan/<name>, or records it with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join(goldenRoot, name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-golden +got):\n%s", name, diff)
	}
}

// goldenLines returns the lines of testdata/scan/<name>, which must be n.
func goldenLines(t *testing.T, name string, n int) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(goldenRoot, name))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("%s has %d lines for %d argument sets", name, len(lines), n)
	}
	return lines
}

// needTCPFlow skips without the oracle (fails instead in CI, where
// BPFLOW_REQUIRE_BPF=1).
func needTCPFlow(t *testing.T) {
	t.Helper()
	testutil.RequireTool(t, oracle.Path)
}

// TestHelpConformance: testdata/scan/H.txt is `tcpflow -H`'s stdout.
func TestHelpConformance(t *testing.T) {
	needTCPFlow(t)
	out, err := exec.Command(oracle.Path, "-H").Output()
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "H.txt", out)
}

func TestWriteHelp(t *testing.T) {
	want, err := os.ReadFile(filepath.Join(goldenRoot, "H.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := WriteHelp(&got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), got.String()); diff != "" {
		t.Errorf("-H listing differs from tcpflow's (-tcpflow +bpflow):\n%s", diff)
	}
}

// mimeProbes are the Content-Type values of the MIME capture: every type of
// the table plus spellings that test the lookup rules.
func mimeProbes() []string {
	types := make([]string, 0, len(mimeExtensions)+8)
	for k := range mimeExtensions {
		types = append(types, k)
	}
	slices.Sort(types)
	return append(types, "TEXT/HTML", "text/html;charset=utf-8", "text/html ; q", " text/html",
		"text/html\t", "application/x-bpflow-unknown", "image/PNG", "Image/Jpeg; x=y")
}

// TestMIMEConformance sends one body per probe type through tcpflow and
// records the extension of each body file it writes (testdata/scan/mime.txt).
func TestMIMEConformance(t *testing.T) {
	needTCPFlow(t)
	dir := t.TempDir()
	probes := mimeProbes()
	pcap := oracle.Exchange{Request: []byte(caseRequest), Response: mimeStream(probes)}.PCAP()
	if err := os.WriteFile(filepath.Join(dir, "mime.pcap"), pcap, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := oracle.Run(dir, "-e", "http", "-o", "out", "-r", "mime.pcap"); err != nil {
		t.Fatal(err)
	}
	ext := map[int]string{}
	ents, err := os.ReadDir(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		_, rest, ok := strings.Cut(e.Name(), "-HTTPBODY-")
		if !ok {
			continue
		}
		num, x, _ := strings.Cut(rest, ".")
		n, err := strconv.Atoi(num)
		if err != nil {
			t.Fatal(err)
		}
		ext[n] = x
	}
	if len(ext) != len(probes) {
		for i := range probes {
			if _, ok := ext[i+1]; !ok {
				t.Logf("missing %d %q", i+1, probes[i])
			}
		}
		t.Fatalf("tcpflow wrote %d bodies for %d probes", len(ext), len(probes))
	}
	var b strings.Builder
	for i, ct := range probes {
		fmt.Fprintf(&b, "%q %q\n", ct, ext[i+1])
	}
	checkGolden(t, "mime.txt", []byte(b.String()))
}

// mimeStream is the server stream of the MIME capture: one 1-byte body per
// Content-Type.
func mimeStream(types []string) []byte {
	var stream bytes.Buffer
	for _, ct := range types {
		fmt.Fprintf(&stream, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: 1\r\n\r\nx", ct)
	}
	return stream.Bytes()
}

// TestExtensions runs the http scanner on the MIME capture's stream and
// expects the extension tcpflow chose for every Content-Type.
func TestExtensions(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(goldenRoot, "mime.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var types, exts []string
	for line := range strings.Lines(string(b)) {
		var ct, ext string
		if _, err := fmt.Sscanf(line, "%q %q", &ct, &ext); err != nil {
			t.Fatalf("mime.txt line %q: %v", line, err)
		}
		types, exts = append(types, ct), append(exts, ext)
	}
	if len(types) < len(mimeExtensions) {
		t.Errorf("mime.txt has %d probes, the table %d types", len(types), len(mimeExtensions))
	}
	got := runScanner(t, mimeStream(types), Options{})
	for i, ct := range types {
		name := fmt.Sprintf("HTTPBODY-%03d", i+1)
		if exts[i] != "" {
			name += "." + exts[i]
		}
		if _, ok := got.bodies[name]; !ok {
			t.Errorf("Content-Type %q: no body file %s", ct, name)
		}
	}
	if len(got.bodies) != len(types) {
		t.Errorf("%d body files for %d bodies", len(got.bodies), len(types))
	}
}

// selectionArgs are scanner option combinations whose effect is observed on
// tcpflow and predicted from Selection.
var selectionArgs = [][]string{
	{},
	{"-e", "md5"},
	{"-e", "http"},
	{"-e", "all"},
	{"-a"},
	{"-a", "-x", "http"},
	{"-e", "all", "-x", "md5"},
	{"-E", "md5"},
	{"-E", "md5", "-e", "http"},
	{"-e", "http", "-E", "md5"},
	{"-x", "tcpdemux"},
	{"-e", "md5", "-x", "md5"},
	{"-x", "md5", "-e", "md5"},
	{"-FM"},
	{"-FM", "-e", "http"},
	{"-e", "netviz"},
	{"-E", "netviz"},
	{"-a", "-FX"},
	{"-e", "http", "-FX"},
	{"-FX", "-E", "md5"},
	{"-e", "bogus"},
	{"-x", "bogus"},
	{"-E", "bogus"},
	{"-a", "-FX", "-e", "bogus"},
	{"-e", "all", "-x", "all"},
}

// observation is what a run shows of the scanner selection.
type observation struct {
	status                int
	stderr                string
	flows, md5, http, pdf bool
}

func (o observation) String() string {
	return fmt.Sprintf("status=%d flows=%t md5=%t http=%t netviz=%t stderr=%q", o.status, o.flows, o.md5, o.http, o.pdf, o.stderr)
}

// TestSelectionConformance runs tcpflow with each selectionArgs entry on
// the basic case and records what it did (testdata/scan/selection.txt).
func TestSelectionConformance(t *testing.T) {
	needTCPFlow(t)
	pcap := oracle.Exchange{Request: []byte(caseRequest), Response: httpCases[0].response}.PCAP()
	var b strings.Builder
	for _, args := range selectionArgs {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "c.pcap"), pcap, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(filepath.Join(dir, "out"), 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(oracle.Path, append(slices.Clone(args), "-o", "out", "-r", "c.pcap")...)
		cmd.Dir = dir
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		var o observation
		if err := cmd.Run(); err != nil {
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatal(err)
			}
			o.status = ee.ExitCode()
		}
		o.stderr = strings.TrimPrefix(stderr.String(), "reportfilename: out/report.xml\n")
		report, _ := os.ReadFile(filepath.Join(dir, "out", "report.xml"))
		_, err := os.Stat(filepath.Join(dir, "out", oracle.ServerFlow))
		o.flows = err == nil
		o.md5 = bytes.Contains(report, []byte("<hashdigest"))
		o.http = bytes.Contains(report, []byte("<byte_runs>"))
		_, err = os.Stat(filepath.Join(dir, "out", "report.pdf"))
		o.pdf = err == nil
		fmt.Fprintf(&b, "%q %s\n", args, o)
	}
	checkGolden(t, "selection.txt", []byte(b.String()))
}

// predict applies args to a Selection the way the CLI must, and says what a
// run would show: flows need tcpdemux, per-flow scanners need
// post-processing, netviz renders whenever it is enabled.
func predict(args []string) observation {
	var s Selection
	store := true
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-a":
			s.All()
		case "-e":
			i++
			s.Enable(args[i])
		case "-x":
			i++
			s.Disable(args[i])
		case "-E":
			i++
			s.Only(args[i])
		case "-FM":
			s.MD5 = true
		case "-FX":
			store = false
		}
	}
	if err := s.Check(store); err != nil {
		return observation{status: 1, stderr: "ERROR: " + err.Error() + "\n"}
	}
	on, err := s.Resolve()
	if err != nil {
		return observation{status: 1, stderr: err.Error() + "\n"}
	}
	demux := slices.Contains(on, "tcpdemux")
	return observation{
		flows: demux && store,
		md5:   demux && s.PostProcessing && slices.Contains(on, "md5"),
		http:  demux && s.PostProcessing && slices.Contains(on, "http"),
		pdf:   slices.Contains(on, "netviz"),
	}
}

func TestSelection(t *testing.T) {
	lines := goldenLines(t, "selection.txt", len(selectionArgs))
	for i, args := range selectionArgs {
		want := lines[i]
		got := fmt.Sprintf("%q %s", args, predict(args))
		if got != want {
			t.Errorf("tcpflow: %s\nbpflow:  %s", want, got)
		}
	}
}

var summaryArgs = [][]string{{}, {"-e", "wifiviz"}, {"-a"}, {"-a", "-x", "wifiviz"}}

// TestSummaryConformance records the <summary> text tcpflow writes for
// summaryArgs (testdata/scan/summary.txt).
func TestSummaryConformance(t *testing.T) {
	needTCPFlow(t)
	pcap := oracle.Exchange{Request: []byte(caseRequest), Response: httpCases[0].response}.PCAP()
	var b strings.Builder
	for _, args := range summaryArgs {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "c.pcap"), pcap, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := oracle.Run(dir, append(slices.Clone(args), "-o", ".", "-r", "c.pcap")...); err != nil {
			t.Fatal(err)
		}
		report, err := os.ReadFile(filepath.Join(dir, "report.xml"))
		if err != nil {
			t.Fatal(err)
		}
		rest := string(report)
		after := rest[strings.LastIndex(rest, "  </configuration>\n")+len("  </configuration>\n"):]
		summary, _, _ := strings.Cut(after, "  <open_fds_at_end>")
		fmt.Fprintf(&b, "%q %q\n", args, summary)
	}
	checkGolden(t, "summary.txt", []byte(b.String()))
}

func TestSummaryXML(t *testing.T) {
	lines := goldenLines(t, "summary.txt", len(summaryArgs))
	for i, args := range summaryArgs {
		var s Selection
		switch {
		case len(args) == 0:
		case args[0] == "-a":
			s.All()
			if len(args) == 3 {
				s.Disable(args[2])
			}
		default:
			s.Enable(args[1])
		}
		on, err := s.Resolve()
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprintf("%q %q", args, SummaryXML(on)); got != lines[i] {
			t.Errorf("tcpflow: %s\nbpflow:  %s", lines[i], got)
		}
	}
}
