//go:build linux

package afpacket

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpflow/bpflow/internal/capture"
	"github.com/bpflow/bpflow/internal/testutil"
)

// tcpflowError runs tcpflow in ns (optionally through setpriv) and returns
// its last stderr line, the libpcap error it dies with.
func tcpflowError(t *testing.T, ns *testutil.Netns, prefix []string, args ...string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	argv := append(append([]string{"netns", "exec", ns.Name}, prefix...), append([]string{"tcpflow"}, args...)...)
	cmd := exec.Command("ip", argv...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil {
		t.Fatalf("tcpflow %v succeeded; want a capture error", args)
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	return lines[len(lines)-1]
}

func TestOpenErrorsReadLikeTcpflow(t *testing.T) {
	testutil.RequireBPF(t)
	ns := testutil.NewNetns(t)
	ns.IP(t, "link", "add", "bfdown0", "type", "veth", "peer", "name", "bfdown1")
	for _, tt := range []struct {
		iface string
		is    error
	}{
		{"bfnosuch0", ErrNoSuchDevice},
		{"bfdown0", ErrNotUp},
	} {
		t.Run(tt.iface, func(t *testing.T) {
			err := ns.Do(func() error {
				src, err := Open(context.Background(), capture.Config{Interface: tt.iface, Promisc: true}, nil)
				if err == nil {
					src.Close()
				}
				return err
			})
			if !errors.Is(err, tt.is) {
				t.Fatalf("Open(%s) = %v, want %v", tt.iface, err, tt.is)
			}
			if got, want := "tcpflow: "+err.Error(), tcpflowError(t, ns, nil, "-i", tt.iface); got != want {
				t.Errorf("message\n got %q\nwant %q (tcpflow)", got, want)
			}
		})
	}
	t.Run("permission", func(t *testing.T) {
		err := socketError("lo", unix.EPERM)
		if !errors.Is(err, ErrPermission) {
			t.Errorf("socketError(EPERM) = %v, want ErrPermission", err)
		}
		nobody := []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"}
		if got, want := "tcpflow: "+err.Error(), tcpflowError(t, ns, nobody, "-i", "lo"); got != want {
			t.Errorf("message\n got %q\nwant %q (tcpflow as nobody)", got, want)
		}
	})
}

func TestTuningIsChecked(t *testing.T) {
	for _, tt := range []struct {
		name    string
		tun     Tuning
		snaplen int
		ok      bool
	}{
		{"defaults", Tuning{}, 65536, true},
		{"defaults grow for a huge snaplen", Tuning{}, 262144, true},
		{"not a power of two", Tuning{BlockSize: 3 << 12}, 1500, false},
		{"below a page", Tuning{BlockSize: 512}, 64, false},
		{"too small for the snaplen", Tuning{BlockSize: 1 << 16}, 65536, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.tun.withDefaults(tt.snaplen)
			if (err == nil) != tt.ok {
				t.Fatalf("withDefaults(%d) error %v, want ok=%v", tt.snaplen, err, tt.ok)
			}
			if err == nil && (got.BlockSize < tt.snaplen+frameOverhead || got.RingSize < 2*got.BlockSize || got.RingSize%got.BlockSize != 0) {
				t.Errorf("withDefaults(%d) = %+v: a block cannot hold a frame or the ring is not whole blocks", tt.snaplen, got)
			}
		})
	}
}
