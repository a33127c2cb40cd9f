//go:build linux

package afpacket

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

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

// proc is a capture program (tcpdump, tcpflow, bpflow) running inside a
// namespace.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stderr strings.Builder // complete once done has delivered
	done   chan error
}

// startListening runs argv in ns with working directory dir and stdout to
// stdout (nil: discarded), and returns once it says "listening on" (its
// capture is active), so no sleep is needed before sending traffic.
func startListening(t *testing.T, ns *testutil.Netns, dir string, stdout io.Writer, argv ...string) *proc {
	t.Helper()
	p := &proc{name: argv[0], done: make(chan error, 1)}
	p.cmd = exec.Command("ip", append([]string{"netns", "exec", ns.Name}, argv...)...)
	p.cmd.Dir, p.cmd.Stdout = dir, stdout
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.name, err)
	}
	sc := bufio.NewScanner(stderr)
	ready := false
	for !ready && sc.Scan() {
		p.stderr.WriteString(sc.Text() + "\n")
		ready = strings.Contains(sc.Text(), "listening on")
	}
	if !ready {
		_ = p.cmd.Wait()
		t.Fatalf("%s did not start: %s", p.name, p.stderr.String())
	}
	go func() {
		for sc.Scan() {
			p.stderr.WriteString(sc.Text() + "\n")
		}
		p.done <- p.cmd.Wait()
	}()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// stop ends the program with SIGINT (tcpdump flushes its file, tcpflow and
// bpflow finish their flows) and waits for it.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	if p.done == nil {
		return
	}
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Errorf("stop %s: %v", p.name, err)
	}
	if err := <-p.done; err != nil {
		t.Errorf("%s: %v: %s", p.name, err, p.stderr.String())
	}
	p.done = nil
}

// tcpdump is a tcpdump writing a pcap file.
type tcpdump struct {
	*proc
	path string
}

// startTcpdump runs tcpdump in ns, writing every packet as it arrives.
func startTcpdump(t *testing.T, ns *testutil.Netns, args ...string) *tcpdump {
	t.Helper()
	path := t.TempDir() + "/oracle.pcap"
	argv := append([]string{"tcpdump", "-n", "-U", "--immediate-mode", "-B", "65536", "-Z", "root", "-s", "65536", "-w", path}, args...)
	return &tcpdump{proc: startListening(t, ns, "", nil, argv...), path: path}
}

// waitUntil polls cond until it holds; reaching the bound fails the test.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stopAfter stops tcpdump once its file holds n records. tcpdump does not
// drain its ring on SIGINT, so stopping it before it caught up would lose
// the last frames; -U makes it write each record as it goes.
func (td *tcpdump) stopAfter(t *testing.T, n int) {
	t.Helper()
	waitUntil(t, fmt.Sprintf("tcpdump to write %d packets", n), func() bool { return countRecords(td.path) >= n })
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
