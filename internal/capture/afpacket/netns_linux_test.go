//go:build linux

package afpacket

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// nsSeq keeps names unique within one test process; the pid keeps them
// unique across processes.
var nsSeq atomic.Int32

// vethPair is two network namespaces this test created, joined by a veth
// pair: 10.<n>.1.1 on vethA in nsA, 10.<n>.1.2 on vethB in nsB.
type vethPair struct {
	nsA, nsB     string
	vethA, vethB string
	addrA, addrB string
	macA, macB   string
	subnet       int
}

// newVethPair creates the namespaces and link; t.Cleanup deletes them
// (deleting a namespace removes the links in it).
func newVethPair(t *testing.T) *vethPair {
	t.Helper()
	n := nsSeq.Add(1)
	id := fmt.Sprintf("%d%c", os.Getpid()%100000, 'a'+n%26)
	p := &vethPair{
		nsA: "bpfa" + id, nsB: "bpfb" + id,
		vethA: "va" + id, vethB: "vb" + id,
		subnet: int(10 + n%200),
	}
	p.addrA = fmt.Sprintf("10.%d.1.1", p.subnet)
	p.addrB = fmt.Sprintf("10.%d.1.2", p.subnet)
	for _, ns := range []string{p.nsA, p.nsB} {
		mustRun(t, "ip", "netns", "add", ns)
		t.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("delete netns %s: %v: %s", ns, err, out)
			}
		})
		// No IPv6 (router solicitations, MLD) and no ARP (static
		// neighbours below): the test's TCP is the only traffic.
		for _, key := range []string{"net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"} {
			mustRun(t, "ip", "netns", "exec", ns, "sysctl", "-qw", key)
		}
	}
	p.macA = fmt.Sprintf("02:00:00:%02x:%02x:01", p.subnet, n&0xff)
	p.macB = fmt.Sprintf("02:00:00:%02x:%02x:02", p.subnet, n&0xff)
	mustRun(t, "ip", "-n", p.nsA, "link", "add", p.vethA, "address", p.macA, "type", "veth", "peer", "name", p.vethB, "address", p.macB, "netns", p.nsB)
	for _, c := range [][]string{
		{"-n", p.nsA, "addr", "add", p.addrA + "/24", "dev", p.vethA},
		{"-n", p.nsB, "addr", "add", p.addrB + "/24", "dev", p.vethB},
		{"-n", p.nsA, "link", "set", p.vethA, "up"},
		{"-n", p.nsB, "link", "set", p.vethB, "up"},
		{"-n", p.nsA, "link", "set", "lo", "up"},
		{"-n", p.nsB, "link", "set", "lo", "up"},
		{"-n", p.nsA, "neigh", "add", p.addrB, "lladdr", p.macB, "dev", p.vethA, "nud", "permanent"},
		{"-n", p.nsB, "neigh", "add", p.addrA, "lladdr", p.macA, "dev", p.vethB, "nud", "permanent"},
	} {
		mustRun(t, "ip", c...)
	}
	return p
}

// addVLAN puts VLAN id on both veth ends, addressed 10.<n>.<id>.1/.2.
func (p *vethPair) addVLAN(t *testing.T, id int) (addrA, addrB string) {
	t.Helper()
	addrA = fmt.Sprintf("10.%d.%d.1", p.subnet, id)
	addrB = fmt.Sprintf("10.%d.%d.2", p.subnet, id)
	sides := []struct{ ns, link, addr, peer, peerMAC string }{
		{p.nsA, p.vethA, addrA, addrB, p.macB},
		{p.nsB, p.vethB, addrB, addrA, p.macA},
	}
	for _, side := range sides {
		name := fmt.Sprintf("%s.%d", side.link, id)
		mustRun(t, "ip", "-n", side.ns, "link", "add", "link", side.link, "name", name, "type", "vlan", "id", fmt.Sprint(id))
		mustRun(t, "ip", "-n", side.ns, "addr", "add", side.addr+"/24", "dev", name)
		mustRun(t, "ip", "-n", side.ns, "link", "set", name, "up")
		mustRun(t, "ip", "-n", side.ns, "neigh", "add", side.peer, "lladdr", side.peerMAC, "dev", name, "nud", "permanent")
	}
	return addrA, addrB
}

func mustRun(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

// inNetns runs fn on a thread switched into namespace ns, so the sockets fn
// creates live there. The thread goes back to its namespace before it is
// released; if that fails it is not released (the runtime then retires it).
func inNetns(ns string, fn func() error) error {
	runtime.LockOSThread()
	orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("open current netns: %w", err)
	}
	defer orig.Close()
	target, err := os.Open("/run/netns/" + ns)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("open netns %s: %w", ns, err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter netns %s: %w", ns, err)
	}
	fnErr := fn()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("leave netns %s: %w", ns, err)
	}
	runtime.UnlockOSThread()
	return fnErr
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
func startTcpdump(t *testing.T, ns string, args ...string) *tcpdump {
	t.Helper()
	td := &tcpdump{path: t.TempDir() + "/oracle.pcap", done: make(chan error, 1)}
	full := append([]string{"netns", "exec", ns, "tcpdump", "-n", "-U", "--immediate-mode", "-Z", "root", "-s", "65536", "-w", td.path}, args...)
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
func inject(t *testing.T, ns, link string, frames [][]byte) {
	t.Helper()
	err := inNetns(ns, func() error {
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
		t.Fatalf("inject frames on %s in %s: %v", link, ns, err)
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
