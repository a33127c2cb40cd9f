package golden

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/bpflow/bpflow/internal/golden/flowdiff"
)

// runTimeout bounds one run; a tool that takes longer is reported as hung.
const runTimeout = 60 * time.Second

// runner runs one tool (tcpflow or bpflow) on cases.
type runner struct {
	bin      string // absolute path of the tool
	captures string // absolute path of testdata/golden/captures
}

// run executes the tool with args the way the goldens were recorded: in a
// fresh directory with the generated captures at in/ and the recorded ones
// (testdata/golden/real) at real/, argv[0] "tcpflow" (through a
// symlink of that name, so both tools print the same message prefix),
// TZ=UTC, LC_ALL=C, umask 022 (set once for the test process). It returns
// the normalised snapshot of the last run.
func (r runner) run(ctx context.Context, c *Case, args []string) (*flowdiff.Snapshot, error) {
	tmp, err := os.MkdirTemp("", "golden-"+c.Name+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	bin, dir, err := r.prepare(tmp, c)
	if err != nil {
		return nil, fmt.Errorf("prepare run directory for %s: %w", c.Name, err)
	}
	started := time.Now()
	var res result
	for range c.runs() {
		if res, err = r.exec(ctx, bin, dir, c, args); err != nil {
			return nil, err
		}
	}
	s, err := flowdiff.Take(dir, res.exit, res.stdout, res.stderr, started, func(p string) bool { return p == "in" || p == "real" })
	if err != nil {
		return nil, err
	}
	flowdiff.Normalize(s)
	return s, nil
}

func (r runner) prepare(tmp string, c *Case) (bin, dir string, err error) {
	bin = filepath.Join(tmp, "bin", "tcpflow")
	dir = filepath.Join(tmp, "run")
	for _, d := range []string{filepath.Dir(bin), dir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return "", "", err
		}
	}
	if err := os.Symlink(r.bin, bin); err != nil {
		return "", "", err
	}
	if err := os.Symlink(r.captures, filepath.Join(dir, "in")); err != nil {
		return "", "", err
	}
	if err := os.Symlink(realDirOf(r.captures), filepath.Join(dir, "real")); err != nil {
		return "", "", err
	}
	for _, p := range c.Setup {
		if strings.HasSuffix(p, "/") {
			err = os.MkdirAll(filepath.Join(dir, p), 0o755)
		} else {
			err = os.WriteFile(filepath.Join(dir, p), nil, 0o644)
		}
		if err != nil {
			return "", "", err
		}
	}
	return bin, dir, nil
}

// realDirOf is the directory of recorded captures next to the generated
// ones: testdata/golden/real.
func realDirOf(captures string) string { return filepath.Join(filepath.Dir(captures), "real") }

type result struct {
	exit           int
	stdout, stderr []byte
}

func (r runner) exec(ctx context.Context, bin, dir string, c *Case, args []string) (result, error) {
	limit := runTimeout
	if c.Timeout > 0 {
		limit = c.Timeout
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Args[0] = "tcpflow"
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "TZ=UTC", "LC_ALL=C", "HOME=" + dir}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if c.Stdin != "" {
		f, err := os.Open(filepath.Join(r.captures, c.Stdin))
		if err != nil {
			return result{}, err
		}
		defer f.Close()
		cmd.Stdin = f
	}
	err := cmd.Run()
	if ctx.Err() != nil {
		return result{}, fmt.Errorf("%s %s: no exit within %v (hang)", r.bin, strings.Join(args, " "), limit)
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return result{}, fmt.Errorf("run %s: %w", r.bin, err)
	}
	return result{exit: exitStatus(cmd.ProcessState), stdout: stdout.Bytes(), stderr: stderr.Bytes()}, nil
}

// exitStatus is the shell's view: the status, or 128+signal when killed.
func exitStatus(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}
