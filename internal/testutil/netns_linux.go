package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vishvananda/netns"
)

var nameSeq atomic.Uint32

// uniqueName returns prefix + pid + a counter, at most 15 bytes (IFNAMSIZ-1),
// so parallel test processes never collide and leftovers name their owner.
func uniqueName(prefix string) string {
	name := fmt.Sprintf("%s%d-%d", prefix, os.Getpid(), nameSeq.Add(1))
	if len(name) > 15 {
		name = name[len(name)-15:]
	}
	return name
}

// Netns is a network namespace a test created; it is deleted at cleanup
// with everything inside it.
type Netns struct {
	Name   string
	Handle netns.NsHandle
}

// NewNetns creates a namespace named bpflow-<pid>-<n> with its loopback up.
func NewNetns(t testing.TB) *Netns {
	t.Helper()
	name := "bpflow-" + uniqueName("")
	IP(t, "netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("delete network namespace %s: %v: %s", name, err, out)
		}
	})
	h, err := netns.GetFromName(name)
	if err != nil {
		t.Fatalf("open network namespace %s: %v", name, err)
	}
	t.Cleanup(func() { h.Close() })
	n := &Netns{Name: name, Handle: h}
	n.IP(t, "link", "set", "lo", "up")
	return n
}

// IP runs `ip -n NAME args…` and fails the test on error.
func (n *Netns) IP(t testing.TB, args ...string) string {
	t.Helper()
	return IP(t, append([]string{"-n", n.Name}, args...)...)
}

// IP runs the iproute2 command and fails the test on error.
func IP(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Do runs fn on an OS thread that is inside the namespace, then moves the
// thread back. Sockets and BPF links made in fn stay in the namespace.
func (n *Netns) Do(fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return fmt.Errorf("get current network namespace: %w", err)
	}
	defer orig.Close()
	if err := netns.Set(n.Handle); err != nil {
		return fmt.Errorf("enter network namespace %s: %w", n.Name, err)
	}
	fnErr := fn()
	if err := netns.Set(orig); err != nil {
		// The thread is in the wrong namespace: keep it locked so the
		// runtime discards it instead of reusing it.
		runtime.LockOSThread()
		return fmt.Errorf("return from network namespace %s: %w", n.Name, err)
	}
	return fnErr
}

// Veth joins a and b with a veth pair, gives the ends the addresses (CIDR
// notation, IPv4 or IPv6; several allowed as "addr1,addr2") and sets them
// up. linkArgs, if any, go to `ip link set dev END linkArgs…` on both ends
// before they come up (gso_max_size and the like). It returns the interface
// names in a and in b.
func Veth(t testing.TB, a, b *Netns, addrsA, addrsB string, linkArgs ...string) (ifA, ifB string) {
	t.Helper()
	ifA, ifB = uniqueName("bfa"), uniqueName("bfb")
	IP(t, "link", "add", ifA, "netns", a.Name, "type", "veth", "peer", "name", ifB, "netns", b.Name)
	for _, end := range []struct {
		ns    *Netns
		name  string
		addrs string
	}{{a, ifA, addrsA}, {b, ifB, addrsB}} {
		for _, addr := range strings.Split(end.addrs, ",") {
			switch {
			case strings.Contains(addr, ":"): // no duplicate address detection: usable at once
				end.ns.IP(t, "addr", "add", addr, "dev", end.name, "nodad")
			case addr != "":
				end.ns.IP(t, "addr", "add", addr, "dev", end.name)
			}
		}
		// After the addresses: set before them, gso_max_size did not give
		// BIG TCP packets on 6.18.
		if len(linkArgs) > 0 {
			end.ns.IP(t, append([]string{"link", "set", "dev", end.name}, linkArgs...)...)
		}
		end.ns.IP(t, "link", "set", end.name, "up")
	}
	return ifA, ifB
}
