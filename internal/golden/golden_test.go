package golden

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/bpflow/bpflow/internal/golden/flowdiff"
)

var (
	update = flag.Bool("update", false, "TestGenerate: rewrite testdata/golden/captures from the generator")
	record = flag.Bool("record", false, "TestConformance: re-record testdata/golden/want from tcpflow 1.6.1 (never from bpflow)")
)

const (
	goldenDir  = "../../testdata/golden"
	captureDir = goldenDir + "/captures"
	wantDir    = goldenDir + "/want"
)

func TestMain(m *testing.M) {
	// Both tools create files and directories as the goldens were recorded.
	syscall.Umask(0o022)
	os.Exit(m.Run())
}

// TestGenerate checks that the committed captures are exactly what the
// generator makes; with -update it rewrites them.
func TestGenerate(t *testing.T) {
	if *update {
		if err := os.MkdirAll(captureDir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]bool{}
	for _, name := range captureNames() {
		want[name] = true
		data, err := corpus()[name].bytes()
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(captureDir, name)
		if *update {
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("capture %s: %v (run: go test ./internal/golden -run TestGenerate -update)", name, err)
			continue
		}
		if !bytes.Equal(got, data) {
			t.Errorf("capture %s differs from the generator's output (run: go test ./internal/golden -run TestGenerate -update)", name)
		}
	}
	entries, err := os.ReadDir(captureDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if want[e.Name()] {
			continue
		}
		if *update {
			if err := os.Remove(filepath.Join(captureDir, e.Name())); err != nil {
				t.Fatal(err)
			}
			continue
		}
		t.Errorf("capture %s is not made by the generator", e.Name())
	}
}

// TestCorpusWellFormed checks the case table against the corpus.
func TestCorpusWellFormed(t *testing.T) {
	names := map[string]bool{}
	for _, c := range cases() {
		if names[c.Name] {
			t.Errorf("duplicate case %s", c.Name)
		}
		names[c.Name] = true
		for _, args := range [][]string{c.Args, altArgs(&c)} {
			for _, a := range args {
				if capName, ok := strings.CutPrefix(a, "in/"); ok && corpus()[capName] == nil && !strings.HasPrefix(capName, "does_not_exist") {
					t.Errorf("case %s names capture %s, which the generator does not make", c.Name, capName)
				}
				if capName, ok := strings.CutPrefix(a, "real/"); ok {
					if _, err := os.Stat(filepath.Join(realDirOf(captureDir), capName)); err != nil {
						t.Errorf("case %s names recorded capture %s: %v", c.Name, capName, err)
					}
				}
			}
		}
	}
}

func altArgs(c *Case) []string {
	if c.Diff == nil {
		return nil
	}
	return c.Diff.AltArgs
}

func wantPath(c *Case, alt bool) string {
	if alt {
		return filepath.Join(wantDir, c.Name+".alt.txt")
	}
	return filepath.Join(wantDir, c.Name+".txt")
}

func loadWant(c *Case, alt bool) (*flowdiff.Snapshot, error) {
	data, err := os.ReadFile(wantPath(c, alt))
	if err != nil {
		return nil, fmt.Errorf("golden of %s: %w (record with: go test ./internal/golden -run TestConformance -record)", c.Name, err)
	}
	return flowdiff.Unmarshal(data)
}

func absCaptures(t *testing.T) string {
	p, err := filepath.Abs(captureDir)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConformance re-runs Debian's tcpflow 1.6.1 on every case and checks
// that the committed goldens are its output; with -record it rewrites them.
// It skips when tcpflow is not installed, unless BPFLOW_REQUIRE_TCPFLOW=1.
func TestConformance(t *testing.T) {
	tcpflow := requireTcpflow(t)
	if *record {
		if err := os.MkdirAll(wantDir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	r := runner{bin: tcpflow, captures: absCaptures(t)}
	for _, c := range cases() {
		t.Run(c.Name, func(t *testing.T) {
			if c.NoTcpflow != "" {
				t.Skipf("not run under tcpflow: %s", c.NoTcpflow)
			}
			t.Parallel()
			conform(t, r, &c, c.Args, false)
			if alt := altArgs(&c); alt != nil {
				conform(t, r, &c, alt, true)
			}
		})
	}
}

func conform(t *testing.T, r runner, c *Case, args []string, alt bool) {
	got, err := r.run(context.Background(), c, args)
	if err != nil {
		t.Fatal(err)
	}
	if *record {
		if err := os.WriteFile(wantPath(c, alt), flowdiff.Marshal(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := loadWant(c, alt)
	if err != nil {
		t.Fatal(err)
	}
	if d := flowdiff.Diff(want, got); d != "" {
		t.Errorf("tcpflow %s no longer gives the golden %s:\n%s", strings.Join(args, " "), wantPath(c, alt), d)
	}
}

func requireTcpflow(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("tcpflow")
	if err == nil {
		out, _ := exec.Command(path, "-V").Output()
		if strings.TrimSpace(string(out)) != "TCPFLOW 1.6.1" {
			err = fmt.Errorf("%s -V says %q, want TCPFLOW 1.6.1", path, out)
		}
	}
	if err != nil {
		if os.Getenv("BPFLOW_REQUIRE_TCPFLOW") == "1" {
			t.Fatalf("tcpflow 1.6.1 required (BPFLOW_REQUIRE_TCPFLOW=1): %v", err)
		}
		t.Skipf("tcpflow 1.6.1 not available (apt-get install tcpflow): %v", err)
	}
	return path
}

// TestGolden runs bpflow on every case and compares with the golden
// recorded from tcpflow 1.6.1 — or, for the documented differences, with
// the expectation derived from tcpflow's output (Case.Diff).
func TestGolden(t *testing.T) {
	r := runner{bin: bpflowBinary(t), captures: absCaptures(t)}
	for _, c := range cases() {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			d, err := goldenDiff(r, &c)
			if err != nil {
				t.Fatal(err)
			}
			if reason, ok := pending[c.Name]; ok && os.Getenv("BPFLOW_GOLDEN_STRICT") != "1" {
				if d == "" {
					t.Fatalf("case %s passes now: remove it from pending in golden_test.go", c.Name)
				}
				t.Skipf("PENDING (%s): bpflow %s%s\n%s", reason, strings.Join(c.Args, " "), describeDiff(&c), d)
			}
			if d != "" {
				t.Errorf("bpflow %s%s\n%s", strings.Join(c.Args, " "), describeDiff(&c), d)
			}
		})
	}
}

// pending lists cases bpflow does not match yet, with the reason. They are
// run and skipped with their diff (go test -v shows it); one that starts to
// match fails until it is removed from here, so the list cannot go stale.
// BPFLOW_GOLDEN_STRICT=1 turns every pending case into a failure.
var pending = map[string]string{}

// goldenDiff runs bpflow on c and says how its output differs from what
// the case expects ("" when it matches).
func goldenDiff(r runner, c *Case) (string, error) {
	if c.Check != nil {
		got, err := r.run(context.Background(), c, c.Args)
		if err != nil {
			return err.Error(), nil // a hang is a mismatch, not a harness error
		}
		if err := c.Check(got); err != nil {
			return err.Error(), nil
		}
		return "", nil
	}
	want, err := expectation(c)
	if err != nil {
		return "", err
	}
	got, err := r.run(context.Background(), c, c.Args)
	if err != nil {
		return "", err
	}
	return flowdiff.Diff(want, got), nil
}

// expectation is bpflow's expected snapshot for c.
func expectation(c *Case) (*flowdiff.Snapshot, error) {
	golden, err := loadWant(c, false)
	if err != nil || c.Diff == nil {
		return golden, err
	}
	oracle := golden
	if c.Diff.AltArgs != nil {
		if oracle, err = loadWant(c, true); err != nil {
			return nil, err
		}
	}
	want, err := c.Diff.Expect(oracle)
	if err != nil {
		return nil, err
	}
	// A difference case that expects what 1.6.1 does would test nothing.
	if flowdiff.Diff(golden, want) == "" {
		return nil, fmt.Errorf("case %s: the expectation for DESIGN §%s equals 1.6.1's output", c.Name, c.Diff.Design)
	}
	return want, nil
}

func describeDiff(c *Case) string {
	if c.Check != nil {
		return " (want: the case's Check; 1.6.1 is not run: " + c.NoTcpflow + ")"
	}
	if c.Diff == nil {
		return " (want: tcpflow 1.6.1's output)"
	}
	var fixes []string
	for _, f := range c.Diff.Fix {
		fixes = append(fixes, f.Name)
	}
	src := "this command"
	if c.Diff.AltArgs != nil {
		src = strings.Join(c.Diff.AltArgs, " ")
	}
	return fmt.Sprintf(" (DESIGN §%s; want: tcpflow on %s, then: %s)", c.Diff.Design, src, strings.Join(fixes, "; "))
}

var buildOnce = sync.OnceValues(func() (string, error) {
	if p := os.Getenv("BPFLOW_BIN"); p != "" {
		return filepath.Abs(p)
	}
	dir, err := os.MkdirTemp("", "golden-bpflow-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "bpflow")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/bpflow/bpflow/cmd/bpflow").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/bpflow: %w\n%s", err, out)
	}
	return bin, nil
})

// bpflowBinary builds cmd/bpflow once per test process, or takes
// $BPFLOW_BIN.
func bpflowBinary(t *testing.T) string {
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}
