package ebpf

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/bpflow/bpflow/internal/capture"
	"github.com/bpflow/bpflow/internal/layers"
	"github.com/bpflow/bpflow/internal/pcapfile"
	"github.com/bpflow/bpflow/internal/testutil"
	pb "github.com/bpflow/bpflow/internal/testutil/pktbuild"
)

// bound is how long a live test waits for an event it expects before
// failing; events come much sooner, so this never paces a test.
const bound = 30 * time.Second

// liveNet is two namespaces joined by a veth pair, addresses inside only.
type liveNet struct {
	a, b         *testutil.Netns
	ifA, ifB     string
	addrA, addrB netip.Addr
}

func newLiveNet(t *testing.T, v6 bool) *liveNet {
	t.Helper()
	testutil.RequireBPF(t)
	n := &liveNet{a: testutil.NewNetns(t), b: testutil.NewNetns(t)}
	n.ifA, n.ifB = testutil.Veth(t, n.a, n.b, "192.0.2.1/24,2001:db8::1/64", "192.0.2.2/24,2001:db8::2/64")
	n.addrA, n.addrB = netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	if v6 {
		n.addrA, n.addrB = netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	}
	return n
}

// tcpdump is Debian's tcpdump (libpcap 1.10.3) capturing beside bpflow: the
// oracle for which frames, with which bytes, libpcap delivers.
type tcpdump struct {
	cmd   *exec.Cmd
	lines chan string
	path  string
}

func startTcpdump(t *testing.T, ns *testutil.Netns, ifname string) *tcpdump {
	return startTcpdumpArgs(t, ns, ifname, "tcp")
}

// startTcpdumpArgs runs tcpdump with filter expr and extra args: "-y",
// "LINUX_SLL" asks for the cooked v1 frames libpcap gives tcpflow on "any"
// (tcpdump itself picks v2).
func startTcpdumpArgs(t *testing.T, ns *testutil.Netns, ifname, expr string, args ...string) *tcpdump {
	t.Helper()
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("tcpdump is not installed (apt-get install tcpdump)")
	}
	td := &tcpdump{path: filepath.Join(t.TempDir(), "oracle.pcap"), lines: make(chan string, 4096)}
	// --print with -U: every packet is in the file when its line appears.
	argv := append([]string{"netns", "exec", ns.Name, "tcpdump", "-i", ifname, "-w", td.path, "-U", "--print", "-l", "-n"}, args...)
	td.cmd = exec.Command("ip", append(argv, expr)...)
	stdout, _ := td.cmd.StdoutPipe()
	stderr, _ := td.cmd.StderrPipe()
	if err := td.cmd.Start(); err != nil {
		t.Fatalf("start tcpdump: %v", err)
	}
	t.Cleanup(func() { td.stop() })
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			td.lines <- sc.Text()
		}
		close(td.lines)
	}()
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on") {
				ready <- nil
				io.Copy(io.Discard, stderr)
				return
			}
		}
		ready <- errors.New("tcpdump exited before listening")
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(bound):
		t.Fatal("tcpdump did not start listening")
	}
	return td
}

// waitFor returns once tcpdump has printed (and so written) a line with substr.
func (td *tcpdump) waitFor(t *testing.T, substr string) {
	t.Helper()
	deadline := time.After(bound)
	for {
		select {
		case line, ok := <-td.lines:
			if !ok {
				t.Fatalf("tcpdump exited before printing %q", substr)
			}
			if strings.Contains(line, substr) {
				return
			}
		case <-deadline:
			t.Fatalf("tcpdump never printed %q", substr)
		}
	}
}

func (td *tcpdump) stop() {
	if td.cmd.ProcessState == nil {
		td.cmd.Process.Signal(syscall.SIGINT)
		td.cmd.Wait()
	}
}

// frames reads what tcpdump wrote.
func (td *tcpdump) frames(t *testing.T) (layers.LinkType, [][]byte) {
	t.Helper()
	td.stop()
	rd, err := pcapfile.Open(td.path)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var out [][]byte
	for {
		f, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return rd.LinkType(), out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, slices.Clone(f.Data))
	}
}

// exchange runs one request/response TCP connection from a to b, then a
// barrier connection whose SYN tcpdump must print before we stop it: packets
// cross the veth in order, so every packet of the first connection has been
// seen by both captures by then. It returns the client's port.
func exchange(t *testing.T, n *liveNet, td *tcpdump, port, req, resp int) int {
	t.Helper()
	clientPort := transfer(t, n, port, req, resp)
	transfer(t, n, port+1, 0, 0)
	if td != nil {
		td.waitFor(t, fmt.Sprintf(".%d: Flags [S]", port+1))
	}
	return clientPort
}

// transfer sends req bytes to a server in b that answers with resp bytes;
// both sides check what they read.
func transfer(t *testing.T, n *liveNet, port, req, resp int) int {
	t.Helper()
	return transferPaced(t, n, port, req, resp, 0)
}

// transferPaced is transfer with the client's sending rate capped by the
// kernel's TCP pacing (bytes/s; 0: no cap).
func transferPaced(t *testing.T, n *liveNet, port, req, resp, rate int) int {
	t.Helper()
	conn, served := connect(t, n, port, func(c net.Conn) error { return serve(c, req, resp) })
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(bound))
	if rate > 0 {
		setPacing(t, conn.(*net.TCPConn), rate)
	}
	if _, err := conn.Write(pattern(req)); err != nil {
		t.Fatal(err)
	}
	conn.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(conn)
	if err != nil || !bytes.Equal(got, pattern(resp)) {
		t.Fatalf("client read %d bytes (err %v), want the %d-byte response", len(got), err, resp)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	return conn.LocalAddr().(*net.TCPAddr).Port
}

// connect dials from a to a listener on port in b and runs serve on the
// accepted connection (closing it after); the channel yields serve's result.
func connect(t *testing.T, n *liveNet, port int, serve func(net.Conn) error) (net.Conn, <-chan error) {
	t.Helper()
	addr := netip.AddrPortFrom(n.addrB, uint16(port)).String()
	var ln net.Listener
	if err := n.b.Do(func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		ln.Close() // before serve reports, so the port is free for the next caller
		if err != nil {
			served <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(bound))
		served <- serve(c)
	}()
	var conn net.Conn
	if err := n.a.Do(func() (err error) { conn, err = net.DialTimeout("tcp", addr, bound); return err }); err != nil {
		ln.Close()
		t.Fatal(err)
	}
	return conn, served
}

func serve(c net.Conn, req, resp int) error {
	// Compare as the bytes come, so a fast reader keeps the window open.
	buf := make([]byte, 1<<20)
	got := 0
	for {
		k, err := c.Read(buf)
		for i := range buf[:k] {
			if got+i >= req || buf[i] != patternByte(got+i) {
				return fmt.Errorf("server: request byte %d is wrong or beyond the %d sent", got+i, req)
			}
		}
		got += k
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("server read after %d bytes: %w", got, err)
		}
	}
	if got != req {
		return fmt.Errorf("server read %d bytes, want the %d-byte request", got, req)
	}
	_, err := c.Write(pattern(resp))
	return err
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = patternByte(i)
	}
	return b
}

func patternByte(i int) byte { return byte(i*7 + i/251) }

// openIn opens a capture inside ns.
func openIn(t *testing.T, ns *testutil.Netns, cfg capture.Config, o openOptions) *Source {
	t.Helper()
	var s *Source
	err := ns.Do(func() (err error) {
		s, err = open(context.Background(), cfg, nil, o)
		return err
	})
	if err != nil {
		t.Fatalf("open capture on %s: %v", cfg.Interface, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// drain stops the capture and returns every frame it delivered.
func drain(t *testing.T, s *Source) [][]byte {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out [][]byte
	err := s.Run(ctx, func(f *layers.Frame) error {
		if f.LinkType != s.LinkType() || len(f.Data) == 0 || f.TS == 0 {
			return fmt.Errorf("bad frame: link %d, %d bytes, ts %d", f.LinkType, len(f.Data), f.TS)
		}
		out = append(out, slices.Clone(f.Data))
		return nil
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return out
}

// ofPort keeps the frames of the connection that uses port, sorted.
func ofPort(t *testing.T, lt layers.LinkType, frames [][]byte, port int) [][]byte {
	t.Helper()
	var out [][]byte
	for _, d := range frames {
		var seg layers.Segment
		if layers.Decode(&layers.Frame{LinkType: lt, Data: d, WireLen: uint32(len(d))}, &seg) != layers.StatusTCP {
			continue
		}
		if int(seg.SrcPort) == port || int(seg.DstPort) == port {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, bytes.Compare)
	return out
}

func compareWithTcpdump(t *testing.T, td *tcpdump, s *Source, port int) {
	t.Helper()
	ours := drain(t, s)
	lt, theirs := td.frames(t)
	if lt != s.LinkType() {
		t.Fatalf("link type %d, tcpdump's %d", s.LinkType(), lt)
	}
	want, got := ofPort(t, lt, theirs, port), ofPort(t, lt, ours, port)
	if len(want) < 6 {
		t.Fatalf("tcpdump saw only %d frames of the connection", len(want))
	}
	if !slices.EqualFunc(want, got, bytes.Equal) {
		t.Errorf("frames of port %d differ from tcpdump's: %d vs %d frames\n%s", port, len(got), len(want), cmp.Diff(want, got))
	}
	if st := s.Stats(); st.Dropped != 0 || st.Captured < uint64(len(got)) {
		t.Errorf("stats %+v after %d frames: want none dropped", st, len(got))
	}
}

// TestLiveMatchesTcpdump: real TCP traffic through a veth; bpflow and tcpdump
// capture the same interface at the same time and must deliver the same
// frames, byte for byte, once each; for both hooks and both copy paths.
func TestLiveMatchesTcpdump(t *testing.T) {
	for _, mode := range []string{AttachTCX, AttachTC} {
		for _, cp := range []copyPath{copyDynptr, copyScratch} {
			for _, v6 := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/v6=%v", mode, cp, v6), func(t *testing.T) {
					n := newLiveNet(t, v6)
					td := startTcpdump(t, n.b, n.ifB)
					s := openIn(t, n.b, capture.Config{Interface: n.ifB, Attach: mode, Promisc: true}, openOptions{copy: cp})
					if s.LinkType() != layers.LinkEthernet {
						t.Fatalf("link type %d on a veth, want Ethernet", s.LinkType())
					}
					port := exchange(t, n, td, 5001, 300_000, 70_000)
					compareWithTcpdump(t, td, s, port)
					if err := s.Close(); err != nil {
						t.Fatalf("close: %v", err)
					}
					checkNothingAttached(t, n.b, n.ifB)
				})
			}
		}
	}
}

// checkNothingAttached asks the kernel (TCX query, tc filter and qdisc dumps)
// whether anything is left on ifname.
func checkNothingAttached(t *testing.T, ns *testutil.Netns, ifname string) {
	t.Helper()
	err := ns.Do(func() error {
		l, err := netlink.LinkByName(ifname)
		if err != nil {
			return err
		}
		idx := l.Attrs().Index
		for _, at := range []ebpf.AttachType{ebpf.AttachTCXIngress, ebpf.AttachTCXEgress} {
			res, err := link.QueryPrograms(link.QueryOptions{Target: idx, Attach: at})
			if err != nil {
				return fmt.Errorf("query %s: %w", at, err)
			}
			if len(res.Programs) != 0 {
				return fmt.Errorf("%d TCX programs left at %s", len(res.Programs), at)
			}
		}
		for _, parent := range []uint32{netlink.HANDLE_MIN_INGRESS, netlink.HANDLE_MIN_EGRESS} {
			fs, err := netlink.FilterList(l, parent)
			if err != nil && !errors.Is(err, syscall.EINVAL) {
				return err
			}
			if len(fs) != 0 {
				return fmt.Errorf("%d tc filters left", len(fs))
			}
		}
		qs, err := netlink.QdiscList(l)
		if err != nil {
			return err
		}
		for _, q := range qs {
			if q.Type() == "clsact" {
				return errors.New("clsact qdisc left behind")
			}
		}
		return nil
	})
	if err != nil {
		t.Errorf("after Close on %s: %v", ifname, err)
	}
}

// TestTCLeavesOtherFiltersAlone: with a clsact qdisc and a filter of another
// tool already there, the tc hook takes a free priority and removes only
// its own filter.
func TestTCLeavesOtherFiltersAlone(t *testing.T) {
	n := newLiveNet(t, false)
	run := func(args ...string) string {
		out, err := exec.Command("ip", append([]string{"netns", "exec", n.b.Name, "tc"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tc %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("qdisc", "add", "dev", n.ifB, "clsact")
	run("filter", "add", "dev", n.ifB, "ingress", "prio", "1", "protocol", "all", "bpf", "bytecode", "1,6 0 0 0,")
	before := run("filter", "show", "dev", n.ifB, "ingress")
	s := openIn(t, n.b, capture.Config{Interface: n.ifB, Attach: AttachTC}, openOptions{copy: copyDynptr})
	port := exchange(t, n, nil, 5001, 10_000, 10_000)
	if got := ofPort(t, s.LinkType(), drain(t, s), port); len(got) < 6 {
		t.Errorf("captured %d frames of the connection beside another filter", len(got))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if after := run("filter", "show", "dev", n.ifB, "ingress"); after != before {
		t.Errorf("the other tool's filters changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if qd := run("qdisc", "show", "dev", n.ifB); !strings.Contains(qd, "clsact") {
		t.Errorf("the other tool's clsact qdisc was removed: %s", qd)
	}
}

// TestLoopbackOnce: on lo every packet crosses egress and ingress; libpcap
// delivers it once, and so must we.
func TestLoopbackOnce(t *testing.T) {
	testutil.RequireBPF(t)
	ns := testutil.NewNetns(t)
	n := &liveNet{a: ns, b: ns, addrA: netip.MustParseAddr("127.0.0.1"), addrB: netip.MustParseAddr("127.0.0.1")}
	td := startTcpdump(t, ns, "lo")
	s := openIn(t, ns, capture.Config{Interface: "lo", Promisc: true}, openOptions{copy: copyDynptr})
	port := exchange(t, n, td, 6001, 50_000, 50_000)
	compareWithTcpdump(t, td, s, port)
}

// TestVLANTagRestored: a tagged frame arriving on a veth has its 802.1Q tag
// moved into skb metadata by the kernel before TC; libpcap puts it back into
// the frame, and so must we. The frames are injected through a packet socket
// (this kernel has no 8021q module to make VLAN devices).
func TestVLANTagRestored(t *testing.T) {
	for _, cp := range []copyPath{copyDynptr, copyScratch} {
		t.Run(string(cp), func(t *testing.T) {
			n := newLiveNet(t, false)
			td := startTcpdump(t, n.b, n.ifB)
			s := openIn(t, n.b, capture.Config{Interface: n.ifB}, openOptions{copy: cp})
			tagged := pb.Ethernet{Dst: macB, Src: macA, Tags: []pb.Tag{{TPID: pb.EtherTypeVLAN, TCI: 0x2000 | 42}}}
			v4 := pb.IPv4{Src: n.addrA, Dst: n.addrB}
			var frames [][]byte
			for i := range 3 {
				frames = append(frames, pb.Build(tagged, v4, pb.TCP{SrcPort: 4242, DstPort: 80, Seq: uint32(i * 100), Flags: pb.ACK}, payload(100)))
			}
			frames = append(frames, pb.Build(tagged, v4, pb.TCP{SrcPort: 4243, DstPort: 9999, Flags: pb.SYN}))
			n.a.Inject(t, n.ifA, frames)
			td.waitFor(t, ".9999:")
			ours := drain(t, s)
			lt, theirs := td.frames(t)
			want, got := ofPort(t, lt, theirs, 4242), ofPort(t, lt, ours, 4242)
			if len(want) != 3 || !slices.EqualFunc(want, got, bytes.Equal) {
				t.Errorf("tagged frames differ from tcpdump's (%d vs %d):\n%s", len(got), len(want), cmp.Diff(want, got))
			}
		})
	}
}

// TestAnyFollowsNewLinks: -i any attaches to a veth created after start and
// delivers Linux cooked frames identical to tcpdump -i any's.
func TestAnyFollowsNewLinks(t *testing.T) {
	testutil.RequireBPF(t)
	n := &liveNet{a: testutil.NewNetns(t), b: testutil.NewNetns(t)}
	type event struct {
		index    int
		attached bool
	}
	events := make(chan event, 16)
	td := startTcpdumpArgs(t, n.b, "any", "tcp", "-y", "LINUX_SLL")
	s := openIn(t, n.b, capture.Config{Interface: "any"}, openOptions{copy: copyDynptr, onLink: func(i int, a bool) { events <- event{i, a} }})
	if s.LinkType() != layers.LinkLinuxSLL {
		t.Fatalf("link type %d for any, want Linux cooked", s.LinkType())
	}
	wait := func(want event) {
		t.Helper()
		for {
			select {
			case e := <-events:
				if e == want {
					return
				}
			case <-time.After(bound):
				t.Fatalf("no link event %+v", want)
			}
		}
	}
	<-events // lo, there from the start
	n.ifA, n.ifB = testutil.Veth(t, n.a, n.b, "192.0.2.1/24", "192.0.2.2/24")
	n.addrA, n.addrB = netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	var idx int
	n.b.Do(func() error { l, err := netlink.LinkByName(n.ifB); idx = l.Attrs().Index; return err })
	wait(event{idx, true})
	port := exchange(t, n, td, 8001, 30_000, 3_000)
	n.b.IP(t, "link", "del", n.ifB)
	wait(event{idx, false})
	compareWithTcpdump(t, td, s, port)
}

// TestSmallRingCountsDrops: a ring far too small for the traffic, read only
// afterwards: the kernel counts what it could not keep, nothing breaks.
func TestSmallRingCountsDrops(t *testing.T) {
	n := newLiveNet(t, false)
	s := openIn(t, n.b, capture.Config{Interface: n.ifB, RingSize: 1}, openOptions{copy: copyDynptr})
	exchange(t, n, nil, 5001, 4_000_000, 0)
	frames := drain(t, s)
	st := s.Stats()
	c, err := s.counters()
	if err != nil {
		t.Fatal(err)
	}
	if st.Dropped == 0 || c.RingFull != st.Dropped || st.Captured != uint64(len(frames)) || c.Packets != st.Captured {
		t.Errorf("stats %+v, counters %+v, %d frames: want ring_full drops and every kept frame delivered", st, c, len(frames))
	}
}

// TestLiveFilter: with a tcpdump expression, bpflow keeps exactly the frames
// tcpdump keeps with the same expression on the same interface.
func TestLiveFilter(t *testing.T) {
	const expr = "tcp port 5001 or tcp port 5002"
	n := newLiveNet(t, false)
	td := startTcpdumpArgs(t, n.b, n.ifB, expr)
	s := openIn(t, n.b, capture.Config{Interface: n.ifB, Filter: expr}, openOptions{copy: copyDynptr})
	kept := transfer(t, n, 5001, 20_000, 2_000)
	dropped := transfer(t, n, 5003, 20_000, 2_000)
	transfer(t, n, 5002, 0, 0)
	td.waitFor(t, ".5002: Flags [S]")
	ours := drain(t, s)
	lt, theirs := td.frames(t)
	want, got := ofPort(t, lt, theirs, kept), ofPort(t, lt, ours, kept)
	if len(want) < 6 || !slices.EqualFunc(want, got, bytes.Equal) {
		t.Errorf("frames of the kept connection differ from tcpdump's: %d vs %d", len(got), len(want))
	}
	if n := len(ofPort(t, lt, ours, dropped)); n != 0 {
		t.Errorf("%d frames of port 5003 delivered, filter %q excludes them", n, expr)
	}
}

func setPacing(t *testing.T, c *net.TCPConn, rate int) {
	t.Helper()
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MAX_PACING_RATE, rate)
	}); err != nil || serr != nil {
		t.Fatalf("set pacing rate %d: %v %v", rate, err, serr)
	}
}

// TestBigTCP: BIG TCP skbs (over 64 KiB) at TC. They are injected as GSO
// packets through a packet socket with a virtio-net header, so the test
// does not depend on TCP's autosizing. The dynptr path delivers them whole,
// byte for byte as tcpdump does; the scratch path delivers slices, which must
// carry every payload byte at its sequence number.
func TestBigTCP(t *testing.T) {
	for _, cp := range []copyPath{copyDynptr, copyScratch} {
		t.Run(string(cp), func(t *testing.T) {
			testutil.RequireBPF(t)
			n := &liveNet{a: testutil.NewNetns(t), b: testutil.NewNetns(t)}
			n.ifA, n.ifB = testutil.Veth(t, n.a, n.b, "2001:db8::1/64", "2001:db8::2/64", "gso_max_size", "185000", "gro_max_size", "185000")
			td := startTcpdump(t, n.b, n.ifB)
			s := openIn(t, n.b, capture.Config{Interface: n.ifB}, openOptions{copy: cp})
			const seq0, size = 1000, 150_000
			ip := pb.IPv6{Src: ip6A, Dst: ip6B, PayloadLen: 0xffff}
			var frames [][]byte
			for i := range 3 {
				f := pb.Build(eth, ip, pb.TCP{SrcPort: 4242, DstPort: 80, Seq: uint32(seq0 + i*size), Flags: pb.ACK}, payload(size))
				f[18], f[19] = 0, 0 // BIG TCP: IPv6 payload length 0, the skb says how long
				frames = append(frames, f)
			}
			n.a.InjectGSO(t, n.ifA, frames, testutil.GSO{Type: 4, HdrLen: 14 + 40 + 20, Size: 1400, CsumStart: 14 + 40, CsumOffset: 16})
			n.a.Inject(t, n.ifA, [][]byte{pb.Build(eth, ip, pb.TCP{SrcPort: 4243, DstPort: 9999, Flags: pb.SYN})})
			td.waitFor(t, ".9999:")
			ours := drain(t, s)
			lt, theirs := td.frames(t)
			// Raw bytes: a BIG TCP frame's IPv6 payload length is 0, which
			// the decoder does not take as "to the end of the frame".
			want := bigFrames(theirs)
			if !slices.EqualFunc(want, frames, bytes.Equal) {
				t.Fatalf("tcpdump saw %d BIG TCP frames, not the 3 injected", len(want))
			}
			if cp == copyDynptr {
				if got := bigFrames(ours); !slices.EqualFunc(want, got, bytes.Equal) {
					t.Errorf("frames differ from tcpdump's: %d vs %d", len(got), len(want))
				}
				return
			}
			body := payload(size)
			wantStream := slices.Concat(body, body, body)
			if got := streamFrom(t, lt, ours, 4242, seq0); !bytes.Equal(wantStream, got) {
				t.Errorf("the slices carry %d payload bytes, want the %d injected", len(got), len(wantStream))
			}
		})
	}
}

// bigFrames keeps the frames over 64 KiB, in order.
func bigFrames(frames [][]byte) [][]byte {
	var out [][]byte
	for _, f := range frames {
		if len(f) > 65535 {
			out = append(out, f)
		}
	}
	return out
}

// streamFrom places the payload of the frames from port at seq - base.
func streamFrom(t *testing.T, lt layers.LinkType, frames [][]byte, port int, base uint32) []byte {
	t.Helper()
	var out []byte
	for _, d := range frames {
		var seg layers.Segment
		if layers.Decode(&layers.Frame{LinkType: lt, Data: d, WireLen: uint32(len(d))}, &seg) != layers.StatusTCP || int(seg.SrcPort) != port {
			continue
		}
		off := int(seg.Seq - base)
		if end := off + len(seg.Payload); end > len(out) {
			out = append(out, make([]byte, end-len(out))...)
		}
		copy(out[off:], seg.Payload)
	}
	return out
}

// TestDefaultInterface: without -i, the capture takes the first interface
// that is up and not loopback, as libpcap's default device does.
func TestDefaultInterface(t *testing.T) {
	n := newLiveNet(t, false)
	s := openIn(t, n.b, capture.Config{}, openOptions{copy: copyDynptr})
	var want int
	n.b.Do(func() error { l, err := netlink.LinkByName(n.ifB); want = l.Attrs().Index; return err })
	if _, ok := s.attached[want]; !ok || len(s.attached) != 1 {
		t.Errorf("attached to %v, want only %s (ifindex %d)", slices.Collect(maps.Keys(s.attached)), n.ifB, want)
	}
}

// TestPromisc: promiscuous mode is asked for as libpcap asks (a packet
// socket membership the kernel drops when the socket closes), not with -p.
func TestPromisc(t *testing.T) {
	n := newLiveNet(t, false)
	promisc := func() int {
		var p int
		n.b.Do(func() error { l, err := netlink.LinkByName(n.ifB); p = l.Attrs().Promisc; return err })
		return p
	}
	for _, want := range []bool{true, false} {
		s := openIn(t, n.b, capture.Config{Interface: n.ifB, Promisc: want}, openOptions{copy: copyDynptr})
		if got := promisc() == 1; got != want {
			t.Errorf("Promisc %v: interface promiscuous %v", want, got)
		}
		s.Close()
		if promisc() != 0 {
			t.Errorf("Promisc %v: still promiscuous after Close", want)
		}
	}
}

// TestRawIPDevice: a tun device has no link header; libpcap gives raw IP
// frames there, and so must we (the program variant for L3 devices).
func TestRawIPDevice(t *testing.T) {
	testutil.RequireBPF(t)
	ns := testutil.NewNetns(t)
	ns.IP(t, "tuntap", "add", "dev", "bftun0", "mode", "tun")
	// A reader on the tun device gives it carrier, so packets reach the
	// driver and libpcap's tap.
	var tun *os.File
	err := ns.Do(func() (err error) {
		if tun, err = os.OpenFile("/dev/net/tun", os.O_RDWR, 0); err != nil {
			return err
		}
		ifr, err := unix.NewIfreq("bftun0")
		if err != nil {
			return err
		}
		ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
		return unix.IoctlIfreq(int(tun.Fd()), unix.TUNSETIFF, ifr)
	})
	if err != nil {
		t.Skipf("open /dev/net/tun: %v", err)
	}
	defer tun.Close()
	ns.IP(t, "addr", "add", "198.51.100.1/24", "dev", "bftun0")
	ns.IP(t, "link", "set", "bftun0", "up")
	td := startTcpdump(t, ns, "bftun0")
	s := openIn(t, ns, capture.Config{Interface: "bftun0"}, openOptions{copy: copyScratch})
	if s.LinkType() != layers.LinkRaw {
		t.Fatalf("link type %d on a tun device, want raw IP", s.LinkType())
	}
	// Nobody answers on the tun device: one SYN leaves through TC egress.
	ns.Do(func() error {
		d := net.Dialer{Timeout: 300 * time.Millisecond}
		if c, err := d.Dial("tcp", "198.51.100.2:80"); err == nil {
			c.Close()
		}
		return nil
	})
	td.waitFor(t, ".80: Flags [S]")
	ours := drain(t, s)
	lt, theirs := td.frames(t)
	if lt != layers.LinkRaw {
		t.Fatalf("tcpdump's link type %d, want raw IP", lt)
	}
	want, got := ofPort(t, lt, theirs, 80), ofPort(t, lt, ours, 80)
	// TC egress runs before the kernel completes the TCP checksum for a
	// device without checksum offload; libpcap's tap runs after. Only that
	// field may differ.
	for _, f := range slices.Concat(want, got) {
		zeroTCPChecksum(f, int(f[0]&0x0f)*4)
	}
	if len(want) == 0 || !slices.EqualFunc(want, got, bytes.Equal) {
		t.Errorf("raw IP frames differ from tcpdump's: %d vs %d\n%s", len(got), len(want), cmp.Diff(want, got))
	}
}

// TestTrickleArrives: the program wakes the reader only for batches; a lone
// connection's frames must still arrive while Run runs (the reader's poll
// deadline), not only when the capture stops.
func TestTrickleArrives(t *testing.T) {
	n := newLiveNet(t, false)
	s := openIn(t, n.b, capture.Config{Interface: n.ifB}, openOptions{copy: copyDynptr})
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan struct{})
	done := make(chan error, 1)
	var once sync.Once
	go func() {
		done <- s.Run(ctx, func(*layers.Frame) error { once.Do(func() { close(first) }); return nil })
	}()
	transfer(t, n, 5001, 10, 10)
	select {
	case <-first:
	case <-time.After(bound):
		t.Error("no frame delivered while capturing")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
