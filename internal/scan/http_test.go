package scan

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bpflow/bpflow/internal/scan/internal/oracle"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "re-record testdata/scan from /usr/bin/tcpflow")

const goldenRoot = "../../testdata/scan"

// recorded is what tcpflow produced (or what a golden directory holds) for
// one case: the server flow file, its body files by suffix, and the report
// text for the flow.
type recorded struct {
	flow   []byte
	bodies map[string][]byte
	report string
}

// runOracle runs tcpflow on the case's capture and collects its output.
func runOracle(t *testing.T, c httpCase) recorded {
	t.Helper()
	dir := t.TempDir()
	needTCPFlow(t)
	pcap := oracle.Exchange{Request: []byte(caseRequest), Response: c.response}.PCAP()
	if err := os.WriteFile(filepath.Join(dir, "case.pcap"), pcap, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-e", "http", "-e", "md5", "-o", "out", "-r", "case.pcap"}
	if c.noDecompress {
		args = append([]string{"-Z"}, args...)
	}
	if _, err := oracle.Run(dir, args...); err != nil {
		t.Fatal(err)
	}
	return collect(t, filepath.Join(dir, "out"), oracle.ServerFlow, filepath.Join(dir, "out", "report.xml"))
}

func collect(t *testing.T, dir, flowName, reportPath string) recorded {
	t.Helper()
	var r recorded
	var err error
	if r.flow, err = os.ReadFile(filepath.Join(dir, flowName)); err != nil {
		t.Fatal(err)
	}
	r.bodies = readBodies(t, dir, flowName)
	frags, err := oracle.Fragments(reportPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range frags {
		if f.Name == flowName {
			r.report = f.Text
		}
	}
	return r
}

// readBodies returns the files in dir named flowName-…, keyed by the suffix.
func readBodies(t *testing.T, dir, flowName string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for name, b := range readDir(t, dir) {
		if suffix, ok := strings.CutPrefix(name, flowName+"-"); ok {
			out[suffix] = b
		}
	}
	return out
}

func writeGolden(t *testing.T, dir string, r recorded) {
	t.Helper()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"flow": r.flow, "report.txt": []byte(r.report)}
	for k, v := range r.bodies {
		files[k] = v
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func readGolden(t *testing.T, dir string) recorded {
	t.Helper()
	files := readDir(t, dir)
	r := recorded{flow: files["flow"], report: string(files["report.txt"]), bodies: map[string][]byte{}}
	if r.flow == nil {
		t.Fatalf("golden %s has no flow (record with go test -run TestHTTPConformance -update)", dir)
	}
	for name, b := range files {
		if strings.HasPrefix(name, "HTTPBODY-") {
			r.bodies[name] = b
		}
	}
	return r
}

var flowStart = time.Unix(1600000000, 1000*1000).UTC()

// runScanner runs md5+http on flow bytes saved as out/<ServerFlow> in a
// fresh directory and collects what they produced.
func runScanner(t *testing.T, flow []byte, opts Options) recorded {
	t.Helper()
	t.Chdir(t.TempDir())
	if err := os.Mkdir("out", 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("out", oracle.ServerFlow)
	if err := os.WriteFile(path, flow, 0o644); err != nil {
		t.Fatal(err)
	}
	r := NewRunner([]string{"md5", "http"}, opts)
	report, err := r.Process(context.Background(), FlowInfo{Path: "out/" + oracle.ServerFlow, Start: flowStart, End: flowStart})
	if err != nil {
		t.Fatal(err)
	}
	return recorded{flow: flow, bodies: readBodies(t, "out", oracle.ServerFlow), report: report}
}

// TestHTTPConformance re-runs tcpflow on every case and checks that the
// golden directories still hold exactly its output (-update re-records them).
func TestHTTPConformance(t *testing.T) {
	for _, c := range httpCases {
		t.Run(c.name, func(t *testing.T) {
			got := runOracle(t, c)
			dir := filepath.Join(goldenRoot, "http", c.name)
			if *update {
				writeGolden(t, dir, got)
				return
			}
			want := readGolden(t, dir)
			if diff := cmp.Diff(want, got, cmp.AllowUnexported(recorded{})); diff != "" {
				t.Errorf("tcpflow output differs from the golden (-golden +tcpflow):\n%s", diff)
			}
		})
	}
}

// TestHTTPGolden runs the scanners on tcpflow's own flow files and expects
// tcpflow's body files and report text, byte for byte.
func TestHTTPGolden(t *testing.T) {
	for _, c := range httpCases {
		if c.differs != "" {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			want := readGolden(t, filepath.Join(goldenRoot, "http", c.name))
			got := runScanner(t, want.flow, Options{NoDecompress: c.noDecompress})
			if diff := cmp.Diff(want, got, cmp.AllowUnexported(recorded{})); diff != "" {
				t.Errorf("scanner output differs from tcpflow's (-tcpflow +bpflow):\n%s", diff)
			}
		})
	}
}

var byteRunRE = regexp.MustCompile(`<byte_run file_offset='\d+'><fileobject><filename>out/[^<]*-(HTTPBODY-[^<]*)</filename><filesize>(\d+)</filesize>`)

// TestHTTPDifferences checks the cases where bpflow deliberately writes a
// body 1.6.1 loses: the bodies must be those tcpflow writes for the same
// content sent uncompressed (another case's golden), and the report must
// list them with their sizes.
func TestHTTPDifferences(t *testing.T) {
	for _, c := range httpCases {
		if c.differs == "" {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			want := readGolden(t, filepath.Join(goldenRoot, "http", c.plain)).bodies
			tcpflow := readGolden(t, filepath.Join(goldenRoot, "http", c.name))
			if cmp.Equal(tcpflow.bodies, want) {
				t.Fatalf("tcpflow writes the whole body: the case no longer differs (%s)", c.differs)
			}
			var warnings []string
			got := runScanner(t, tcpflow.flow, Options{Warn: func(m string) { warnings = append(warnings, m) }})
			if diff := cmp.Diff(want, got.bodies); diff != "" {
				t.Errorf("bodies differ from tcpflow's for the plain content (-want +got):\n%s", diff)
			}
			runs := map[string][]byte{}
			for _, m := range byteRunRE.FindAllStringSubmatch(got.report, -1) {
				runs[m[1]] = []byte(m[2])
			}
			for name, body := range want {
				if string(runs[name]) != strconv.Itoa(len(body)) {
					t.Errorf("report %q: no byte_run for %s of %d bytes", got.report, name, len(body))
				}
			}
			t.Logf("warnings: %q", warnings)
		})
	}
}

// TestChunkedEqualsPlain: tcpflow's http-parser removes chunk framing, so
// the chunked case's bodies equal those of the same bodies sent with
// Content-Length (issue #54 does not apply to Debian's 1.6.1 build).
func TestChunkedEqualsPlain(t *testing.T) {
	chunked := readGolden(t, filepath.Join(goldenRoot, "http", "chunked"))
	plain := readGolden(t, filepath.Join(goldenRoot, "http", "chunked_plain_equivalent"))
	if diff := cmp.Diff(plain.bodies, chunked.bodies); diff != "" {
		t.Errorf("chunked bodies differ from plain ones:\n%s", diff)
	}
	got := runScanner(t, chunked.flow, Options{})
	if diff := cmp.Diff(plain.bodies, got.bodies); diff != "" {
		t.Errorf("bpflow's chunked bodies differ from tcpflow's plain ones:\n%s", diff)
	}
}

// TestBodyTimes: body files get the flow's first-packet time (tcpflow
// issue #55), like the flow file itself.
func TestBodyTimes(t *testing.T) {
	g := readGolden(t, filepath.Join(goldenRoot, "http", "several_bodies"))
	runScanner(t, g.flow, Options{})
	ents, err := os.ReadDir("out")
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, e := range ents {
		if !strings.Contains(e.Name(), "HTTPBODY") {
			continue
		}
		n++
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if !info.ModTime().Equal(flowStart) {
			t.Errorf("%s mtime %v, want the flow start %v", e.Name(), info.ModTime(), flowStart)
		}
	}
	if n == 0 {
		t.Fatal("no body files written")
	}
}

// TestBodyFileUnwritable: when a body file cannot be created, tcpflow says
// so, the parser stops at that body and restarts after it with numbering
// from 001. bpflow must write the same files, report text and message.
func TestBodyFileUnwritable(t *testing.T) {
	needTCPFlow(t)
	c := httpCases[1] // several_bodies
	blocker := oracle.ServerFlow + "-HTTPBODY-001.png"
	tcpflowDir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(tcpflowDir, "out", blocker), 0o755); err != nil {
		t.Fatal(err)
	}
	pcap := oracle.Exchange{Request: []byte(caseRequest), Response: c.response}.PCAP()
	if err := os.WriteFile(filepath.Join(tcpflowDir, "c.pcap"), pcap, 0o644); err != nil {
		t.Fatal(err)
	}
	stderr, err := oracle.Run(tcpflowDir, "-e", "http", "-o", "out", "-r", "c.pcap")
	if err != nil {
		t.Fatal(err)
	}
	want := collect(t, filepath.Join(tcpflowDir, "out"), oracle.ServerFlow, filepath.Join(tcpflowDir, "out", "report.xml"))

	t.Chdir(t.TempDir())
	if err := os.MkdirAll(filepath.Join("out", blocker), 0o755); err != nil {
		t.Fatal(err)
	}
	var warnings []string
	h := &HTTP{Options: Options{Warn: func(m string) { warnings = append(warnings, m) }}}
	var report bytes.Buffer
	if err := h.Scan(context.Background(), &Buffer{Flow: FlowInfo{Path: "out/" + oracle.ServerFlow}, Data: want.flow}, &report); err != nil {
		t.Fatal(err)
	}
	got := recorded{flow: want.flow, bodies: readBodies(t, "out", oracle.ServerFlow), report: report.String()}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(recorded{})); diff != "" {
		t.Errorf("output differs from tcpflow's (-tcpflow +bpflow):\n%s", diff)
	}
	for _, w := range warnings {
		if !strings.Contains(stderr, "tcpflow: "+w+"\n") {
			t.Errorf("warning %q is not in tcpflow's stderr %q", w, stderr)
		}
	}
	if len(warnings) != 1 {
		t.Errorf("warnings %q, want one", warnings)
	}
}

// TestOpenBodyCreatesEveryBodyFile: with OpenBody set (tcpflow's
// retrying_open), every body file is created through it, in order, and the
// bodies are the same as with os.OpenFile.
func TestOpenBodyCreatesEveryBodyFile(t *testing.T) {
	g := readGolden(t, filepath.Join(goldenRoot, "http", "several_bodies"))
	plain := runScanner(t, g.flow, Options{})
	var opened []string
	hooked := runScanner(t, g.flow, Options{OpenBody: func(path string) (*os.File, error) {
		opened = append(opened, filepath.Base(path))
		return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	}})
	if d := cmp.Diff(plain, hooked, cmp.AllowUnexported(recorded{})); d != "" {
		t.Errorf("output with OpenBody differs (-os.OpenFile +OpenBody):\n%s", d)
	}
	var want []string
	for suffix := range plain.bodies {
		want = append(want, oracle.ServerFlow+"-"+suffix)
	}
	slices.Sort(want)
	if d := cmp.Diff(want, opened); d != "" {
		t.Errorf("OpenBody calls (-body files +opened):\n%s", d)
	}
}
