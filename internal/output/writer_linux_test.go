package output

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpflow/bpflow/internal/flow"
)

// TestQueuedClosesDoNotExhaustDescriptors: closes wait in the writer's
// queue holding their descriptors, so with few descriptors to spare the
// next file's open fails with EMFILE although the store itself has nothing
// open. That must not lose a flow (tcpflow, closing at once, never sees the
// error): every file is created, holds its bytes and gets its time.
func TestQueuedClosesDoNotExhaustDescriptors(t *testing.T) {
	dir := t.TempDir()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("count open descriptors: %v", err)
	}
	var saved unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &saved); err != nil {
		t.Fatal(err)
	}
	// A handful spare: fewer than the closes that gather before the writer
	// is woken (wakeBatch jobs), so the queue must be drained to go on.
	spare := uint64(wakeBatch / 4)
	lim := unix.Rlimit{Cur: uint64(len(fds)) + spare, Max: saved.Max}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &saved); err != nil {
			t.Fatal(err)
		}
	}()
	var warnings []string
	fs := &Files{Namer: Namer{Template: "f%N", OutDir: dir}, MaxFDs: 1000,
		Warn: func(msg string) { warnings = append(warnings, msg) }}
	const flows = 40
	for i := range flows {
		f := &flow.Flow{ID: uint64(i), Start: int64(i+1) * 1e9, Key: flow.Key{Src: netip.MustParseAddr("10.0.0.1"), Family: 2}}
		if err := fs.Open(f); err != nil {
			t.Fatalf("flow %d: %v", i, err)
		}
		fs.Write(f, 0, []byte(fmt.Sprintf("flow %d", i)))
		fs.Close(f)
	}
	fs.Stop()
	if len(warnings) > 0 {
		t.Errorf("warnings: %q", warnings)
	}
	for i := range flows {
		name := filepath.Join(dir, fmt.Sprintf("f%03d", i))
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("flow %d", i); string(got) != want {
			t.Errorf("%s holds %q, want %q", name, got, want)
		}
		st, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if st.ModTime().Unix() != int64(i+1) {
			t.Errorf("%s has mtime %v, want %d s", name, st.ModTime(), i+1)
		}
	}
}
