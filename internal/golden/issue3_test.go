package golden

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Checks of cases run without tcpflow compare with other cases' goldens.
func init() { goldenExpectation = expectation }

// TestPrivilegeDropOwnership: the snapshots of the -U cases record no
// owners, so this runs both tools with -U nobody into a directory nobody
// may write and compares who owns each file they leave (report.xml is
// chowned, flow files are created after the drop).
func TestPrivilegeDropOwnership(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("-U needs root")
	}
	tcpflow := requireTcpflow(t)
	args := []string{"-U", "nobody", "-o", "out", "-e", "http", "-I", "-r", filepath.Join(absCaptures(t), "http_bodies.pcap")}
	want := ownersAfter(t, tcpflow, args)
	got := ownersAfter(t, bpflowBinary(t), args)
	if len(want) < 3 {
		t.Fatalf("tcpflow left only %v: the case tests nothing", want)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("owners after tcpflow %v (-tcpflow +bpflow):\n%s", args, d)
	}
}

// ownersAfter runs bin (as argv[0] tcpflow) in a fresh directory whose
// out/ anyone may write, and lists "path uid:gid" for what it leaves there.
func ownersAfter(t *testing.T, bin string, args []string) []string {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	// nobody must reach out/: t.TempDir and its parent are 0700
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(out, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(out, 0o777); err != nil { // past the umask
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Args[0], cmd.Dir = "tcpflow", dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", bin, args, err, b)
	}
	var owners []string
	err := filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == out {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		st := info.Sys().(*syscall.Stat_t)
		rel, _ := filepath.Rel(dir, p)
		owners = append(owners, rel+" "+fmt.Sprintf("%d:%d", st.Uid, st.Gid))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(owners)
	return owners
}
