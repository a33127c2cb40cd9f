package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bpflow/bpflow/internal/testutil"
)

// result is what one invocation printed and returned.
type result struct {
	Stdout, Stderr string
	Code           int
}

var pidRE = regexp.MustCompile(`tcpflow\[\d+\]`)

// normalise hides what legitimately differs between two runs: the PID in
// "tcpflow[PID]:" prefixes and the descriptor limit in -hh.
func normalise(r result) result {
	r.Stderr = pidRE.ReplaceAllString(r.Stderr, "tcpflow[PID]")
	r.Stdout = regexp.MustCompile(`get_max_fds\(\) = \d+`).ReplaceAllString(r.Stdout, "get_max_fds() = N")
	return r
}

// runTcpflow runs Debian's tcpflow 1.6.1 (the oracle) in dir.
func runTcpflow(t *testing.T, dir string, args ...string) result {
	t.Helper()
	testutil.RequireTool(t, "tcpflow")
	path, err := exec.LookPath("tcpflow")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, args...)
	cmd.Args[0] = "tcpflow"
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run tcpflow %v: %v", args, err)
	}
	return normalise(result{out.String(), errb.String(), code})
}

// runBpflow runs Main in dir with argv[0] "tcpflow".
func runBpflow(t *testing.T, dir string, args ...string) result {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := os.Chdir(wd); err != nil {
			t.Fatal(err)
		}
	}()
	var out, errb bytes.Buffer
	code := Main(context.Background(), append([]string{"tcpflow"}, args...), &out, &errb)
	return normalise(result{out.String(), errb.String(), code})
}

// TestCommandLineMatchesTcpflow runs both programs on command lines that
// end before any capture is read and compares everything they print.
func TestCommandLineMatchesTcpflow(t *testing.T) {
	cases := [][]string{
		{"-h"}, {"-hh"}, {"-hhh"}, {"--help"}, {"-H"}, {"-V"}, {"--version"}, {"--vers"},
		{"-Y"}, {"-P"}, {"-:"}, {"-b"}, {"--foo"}, {"--foo=bar"}, {"--ver"}, {"--help=3"}, {"--chroot"},
		{"-d0", "-Y"}, {"-S", "a="}, {"-S", "a"}, {"-S", "a=b=c"}, {"-z", "/tmp"},
		{"-e", "python"}, {"-x", "bogus"}, {"-e", "python", "-h"}, {"-Fz", "-h"}, {"-FzqX", "-V"},
		{"-f", "5", "-h"}, {"-d", "-3", "-h"}, {"-A", "x", "-h"}, {"-b5", "-d2", "-h"},
		{"-o", "a/b"}, {"-o", "afile"}, {"-w", "x.pcap"}, {"-h", "--", "-V"}, {"port", "80", "-h"},
		{"-cFX", "-FX", "-a"},
		{"-v", "-B", "-C", "-c", "-D", "-I", "-g", "-m", "5", "-p", "-s", "-h"}, {"-v", "-hh"},
		{"-L", "lock", "-h"}, {"-d", "x", "-Y"}, {"-K", "-h"}, {"-f", "0", "-h"},
		// -h shows the template in force after all options
		{"-h", "-T", "%A-%B"}, {"-hh", "-T", "%A-%B"}, {"-T", "%A-%B", "-Fk", "-h"}, {"-Fc", "-h"},
	}
	for _, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			want := runTcpflow(t, oracleDir(t), args...)
			got := runBpflow(t, oracleDir(t), args...)
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("tcpflow %v (-tcpflow +bpflow):\n%s", args, d)
			}
		})
	}
}

// oracleDir is a fresh directory holding a regular file "afile".
func oracleDir(t *testing.T) string {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "afile"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}
