//go:build linux

package afpacket

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpflow/bpflow/internal/testutil"
)

// vethPair is two network namespaces joined by a veth pair, with nothing
// but the test's own traffic on it: no IPv6 (router solicitations, MLD) and
// static neighbours (no ARP).
type vethPair struct {
	a, b         *testutil.Netns
	vethA, vethB string
	addrA, addrB string
	macA, macB   string
}

const (
	addrA = "10.1.1.1"
	addrB = "10.1.1.2"
)

func newVethPair(t *testing.T) *vethPair {
	t.Helper()
	p := &vethPair{a: testutil.NewNetns(t), b: testutil.NewNetns(t), addrA: addrA, addrB: addrB}
	for _, ns := range []*testutil.Netns{p.a, p.b} {
		for _, key := range []string{"net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"} {
			testutil.IP(t, "netns", "exec", ns.Name, "sysctl", "-qw", key)
		}
	}
	p.vethA, p.vethB = testutil.Veth(t, p.a, p.b, addrA+"/24", addrB+"/24")
	p.macA, p.macB = macOf(t, p.a, p.vethA), macOf(t, p.b, p.vethB)
	p.a.IP(t, "neigh", "add", addrB, "lladdr", p.macB, "dev", p.vethA, "nud", "permanent")
	p.b.IP(t, "neigh", "add", addrA, "lladdr", p.macA, "dev", p.vethB, "nud", "permanent")
	return p
}

func macOf(t *testing.T, ns *testutil.Netns, link string) string {
	t.Helper()
	var mac string
	if err := ns.Do(func() error {
		ifc, err := net.InterfaceByName(link)
		if err == nil {
			mac = ifc.HardwareAddr.String()
		}
		return err
	}); err != nil {
		t.Fatalf("read MAC of %s: %v", link, err)
	}
	return mac
}

// tcpdump is a tcpdump writing a pcap file inside a namespace.
type tcpdump struct {
	cmd    *exec.Cmd
	path   string
	stderr strings.Builder
	done   chan error
}

// startTcpdump runs tcpdump in ns and returns once it says it is listening
// (its capture is active), so no sleep is needed before sending traffic.
func startTcpdump(t *testing.T, ns *testutil.Netns, args ...string) *tcpdump {
	t.Helper()
	td := &tcpdump{path: t.TempDir() + "/oracle.pcap", done: make(chan error, 1)}
	full := append([]string{"netns", "exec", ns.Name, "tcpdump", "-n", "-U", "--immediate-mode", "-B", "65536", "-Z", "root", "-s", "65536", "-w", td.path}, args...)
	td.cmd = exec.Command("ip", full...)
	stderr, err := td.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := td.cmd.Start(); err != nil {
		t.Fatalf("start tcpdump: %v", err)
	}
	sc := bufio.NewScanner(stderr)
	ready := false
	for sc.Scan() {
		td.stderr.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "listening on") {
			ready = true
			break
		}
	}
	if !ready {
		_ = td.cmd.Wait()
		t.Fatalf("tcpdump did not start: %s", td.stderr.String())
	}
	go func() {
		for sc.Scan() {
			td.stderr.WriteString(sc.Text() + "\n")
		}
		td.done <- td.cmd.Wait()
	}()
	t.Cleanup(func() { td.stop(t) })
	return td
}

// stop ends tcpdump with SIGINT (it flushes the file) and waits for it.
func (td *tcpdump) stop(t *testing.T) {
	t.Helper()
	if td.cmd.ProcessState != nil {
		return
	}
	if err := td.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Errorf("stop tcpdump: %v", err)
	}
	if err := <-td.done; err != nil {
		t.Errorf("tcpdump: %v: %s", err, td.stderr.String())
	}
}

// inject sends hand-built Ethernet frames out of link in namespace ns
// through a raw packet socket (no VLAN device needed: the receiving side's
// kernel moves an outer tag into skb metadata on its own).
func inject(t *testing.T, ns *testutil.Netns, link string, frames [][]byte) {
	t.Helper()
	err := ns.Do(func() error {
		ifc, err := net.InterfaceByName(link)
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		to := unix.SockaddrLinklayer{Ifindex: ifc.Index}
		for i, f := range frames {
			if err := unix.Sendto(fd, f, 0, &to); err != nil {
				return fmt.Errorf("send frame %d: %w", i, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("inject frames on %s in %s: %v", link, ns.Name, err)
	}
}

// stopAfter stops tcpdump once its file holds n records. tcpdump does not
// drain its ring on SIGINT, so stopping it before it caught up would lose
// the last frames; -U makes it write each record as it goes.
func (td *tcpdump) stopAfter(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for countRecords(td.path) < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	td.stop(t)
}

// countRecords counts the complete records of a classic pcap file that is
// still being written.
func countRecords(path string) int {
	b, err := os.ReadFile(path)
	if err != nil || len(b) < 24 {
		return 0
	}
	n := 0
	for off := 24; off+16 <= len(b); n++ {
		caplen := int(binary.LittleEndian.Uint32(b[off+8:]))
		if off+16+caplen > len(b) {
			break
		}
		off += 16 + caplen
	}
	return n
}
