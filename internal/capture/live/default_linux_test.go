//go:build linux

package live

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/bpflow/bpflow/internal/testutil"
)

// tcpflowDefault starts tcpflow without -i in ns and returns the device it
// says it listens on; it is stopped as soon as it has said so.
func tcpflowDefault(t *testing.T, ns *testutil.Netns) string {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns.Name, "tcpflow", "-c")
	cmd.Dir = t.TempDir()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start tcpflow: %v", err)
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}()
	sc := bufio.NewScanner(stderr)
	var said []string
	for sc.Scan() {
		said = append(said, sc.Text())
		if dev, ok := strings.CutPrefix(sc.Text(), "tcpflow: listening on "); ok {
			return dev
		}
	}
	t.Fatalf("tcpflow never said where it listens: %q", said)
	return ""
}

// TestDefaultInterfaceIsTcpflows builds namespaces whose interfaces are in
// different states and checks DefaultInterface picks what tcpflow picks.
func TestDefaultInterfaceIsTcpflows(t *testing.T) {
	testutil.RequireBPF(t)
	a, b := testutil.NewNetns(t), testutil.NewNetns(t)
	check := func(step string) {
		t.Helper()
		var got string
		if err := b.Do(func() (err error) {
			got, err = DefaultInterface()
			return err
		}); err != nil {
			t.Fatalf("%s: DefaultInterface: %v", step, err)
		}
		if want := tcpflowDefault(t, b); got != want {
			t.Errorf("%s: DefaultInterface() = %q, tcpflow listens on %q", step, got, want)
		}
	}
	check("only loopback")
	b.IP(t, "link", "add", "nc1", "type", "veth", "peer", "name", "nc2")
	b.IP(t, "link", "set", "nc1", "up")
	check("up without carrier")
	_, _ = testutil.Veth(t, a, b, "", "")
	b.IP(t, "link", "add", "zz9", "type", "veth", "peer", "name", "aa1")
	b.IP(t, "link", "set", "aa1", "up")
	b.IP(t, "link", "set", "zz9", "up")
	check("several running")
}

// TestPickDefaultRefusesLoopback: pcap_lookupdev refuses a loopback first
// choice (on macOS, where there is no "any", a host with only lo0 up).
func TestPickDefaultRefusesLoopback(t *testing.T) {
	lo := net.Interface{Name: "lo0", Flags: net.FlagUp | net.FlagRunning | net.FlagLoopback}
	down := net.Interface{Name: "en0", Flags: 0}
	if name, ok := pickDefault([]net.Interface{down, lo}, false); ok {
		t.Errorf("only loopback usable: picked %q, want a refusal", name)
	}
	if name, ok := pickDefault(nil, false); ok {
		t.Errorf("no interfaces: picked %q", name)
	}
}
