//go:build linux

package afpacket

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/bpflow/bpflow/internal/capture"
	"github.com/bpflow/bpflow/internal/layers"
	"github.com/bpflow/bpflow/internal/pcapfile"
	"github.com/bpflow/bpflow/internal/testutil"
	"github.com/bpflow/bpflow/internal/testutil/pktbuild"
)

// captured is a delivered frame, copied, with the timestamp at the
// microsecond precision of tcpdump's pcap files.
type captured struct {
	TSMicros int64
	WireLen  uint32
	Data     []byte
}

// capRun is a source running in the background of a test.
type capRun struct {
	src    *source
	cancel context.CancelFunc
	done   chan error
	mu     sync.Mutex
	frames []captured
	// rsts gets a token for every TCP reset delivered: the tests end each
	// conversation with one, so it says when a conversation was captured.
	rsts chan struct{}
}

// startCapture opens a source inside namespace ns and runs it until stop.
func startCapture(t *testing.T, ns *testutil.Netns, cfg capture.Config, tun Tuning, prog *compiled) *capRun {
	t.Helper()
	r := &capRun{src: openIn(t, ns, cfg, tun, prog), done: make(chan error, 1), rsts: make(chan struct{}, 1024)}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		r.done <- r.src.Run(ctx, func(f *layers.Frame) error {
			if f.LinkType != r.src.LinkType() {
				return fmt.Errorf("frame link type %d, source says %d", f.LinkType, r.src.LinkType())
			}
			r.mu.Lock()
			r.frames = append(r.frames, captured{TSMicros: f.TS / 1000, WireLen: f.WireLen, Data: append([]byte(nil), f.Data...)})
			r.mu.Unlock()
			if isRST(f.LinkType, f.Data) {
				r.rsts <- struct{}{}
			}
			return nil
		})
	}()
	return r
}

// openIn opens a source inside namespace ns; t.Cleanup closes it.
func openIn(t *testing.T, ns *testutil.Netns, cfg capture.Config, tun Tuning, prog *compiled) *source {
	t.Helper()
	var src *source
	err := ns.Do(func() error {
		dev, err := lookupDevice(cfg.Interface)
		if err != nil {
			return err
		}
		src, err = open(context.Background(), cfg, tun, dev, prog, nil)
		return err
	})
	if err != nil {
		t.Fatalf("open capture on %s in %s: %v", cfg.Interface, ns.Name, err)
	}
	t.Cleanup(func() {
		if err := src.Close(); err != nil {
			t.Errorf("close capture: %v", err)
		}
	})
	return src
}

// waitRSTs returns once n more resets were delivered.
func (r *capRun) waitRSTs(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-r.rsts:
		case err := <-r.done:
			t.Fatalf("Run ended before the conversation was captured: %v", err)
		case <-time.After(30 * time.Second):
			t.Fatal("the conversation's reset was not captured within 30s")
		}
	}
}

// stop cancels Run, waits for the drain, and returns what was delivered.
func (r *capRun) stop(t *testing.T) []captured {
	t.Helper()
	r.cancel()
	if err := <-r.done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.frames
}

// isRST reports a TCP reset in an Ethernet (802.1Q tags skipped), SLL or
// raw frame carrying IPv4; the tests end every exchange with one.
func isRST(link layers.LinkType, b []byte) bool {
	off, etype := 12, uint16(0x0800)
	switch link {
	case layers.LinkRaw:
		off = 0
	case layers.LinkLinuxSLL:
		off = 14
	}
	if link != layers.LinkRaw {
		if len(b) < off+2 {
			return false
		}
		etype = binary.BigEndian.Uint16(b[off:])
		off += 2
	}
	for (etype == 0x8100 || etype == 0x88a8) && len(b) >= off+4 {
		etype = binary.BigEndian.Uint16(b[off+2:])
		off += 4
	}
	if etype != 0x0800 || len(b) < off+20 || b[off+9] != 6 {
		return false
	}
	tcp := off + int(b[off]&0xf)*4
	return len(b) > tcp+13 && b[tcp+13]&0x04 != 0
}

// exchange runs a TCP conversation from client (in clientNS) to server (in
// serverNS): requests and replies of several sizes, the largest spanning
// many segments, then the client aborts with a RST so the last packet of
// the conversation is known.
func exchange(t *testing.T, clientNS, serverNS *testutil.Netns, serverAddr string) {
	t.Helper()
	sizes := []int{1, 100, 1448, 5000, 70000}
	var ln net.Listener
	if err := serverNS.Do(func() (err error) {
		ln, err = net.Listen("tcp4", net.JoinHostPort(serverAddr, "0"))
		return err
	}); err != nil {
		t.Fatalf("listen in %s: %v", serverNS.Name, err)
	}
	defer ln.Close()
	served := make(chan error, 1)
	go func() { served <- serve(ln, sizes) }()
	var conn net.Conn
	if err := clientNS.Do(func() (err error) {
		conn, err = net.Dial("tcp4", ln.Addr().String())
		return err
	}); err != nil {
		t.Fatalf("dial %s from %s: %v", ln.Addr(), clientNS.Name, err)
	}
	for i, n := range sizes {
		if _, err := conn.Write(payload(n, byte('a'+i))); err != nil {
			t.Fatalf("write request %d: %v", i, err)
		}
		if _, err := io.ReadFull(conn, make([]byte, n)); err != nil {
			t.Fatalf("read reply %d: %v", i, err)
		}
	}
	if err := <-served; err != nil {
		t.Fatalf("server: %v", err)
	}
	if err := conn.(*net.TCPConn).SetLinger(0); err != nil {
		t.Fatal(err)
	}
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
}

// serve answers each request with a reply of the same size.
func serve(ln net.Listener, sizes []int) error {
	conn, err := ln.Accept()
	if err != nil {
		return err
	}
	for i, n := range sizes {
		if _, err := io.ReadFull(conn, make([]byte, n)); err != nil {
			return fmt.Errorf("read request %d: %w", i, err)
		}
		if _, err := conn.Write(payload(n, byte('A'+i))); err != nil {
			return fmt.Errorf("write reply %d: %w", i, err)
		}
	}
	// The conversation is over once the client has read the last reply;
	// the connection stays open for the client's RST.
	go func() {
		_, _ = io.Copy(io.Discard, conn)
		conn.Close()
	}()
	return nil
}

func payload(n int, c byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = c + byte(i%7)
	}
	return b
}

// readPcap loads a pcap file tcpdump wrote.
func readPcap(t *testing.T, path string) (layers.LinkType, []captured) {
	t.Helper()
	rd, err := pcapfile.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer rd.Close()
	var out []captured
	for {
		f, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return rd.LinkType(), out
		}
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		out = append(out, captured{TSMicros: f.TS / 1000, WireLen: f.WireLen, Data: append([]byte(nil), f.Data...)})
	}
}

// compareWithTcpdump checks that the source delivered exactly the frames
// libpcap delivered to tcpdump, byte for byte, with the same link type.
func compareWithTcpdump(t *testing.T, r *capRun, got []captured, td *tcpdump) {
	t.Helper()
	td.stopAfter(t, len(got))
	if !regexp.MustCompile(`(?m)^0 packets dropped by kernel`).MatchString(td.stderr.String()) {
		t.Fatalf("tcpdump, the reference, lost packets: %s", td.stderr.String())
	}
	link, want := readPcap(t, td.path)
	if r.src.LinkType() != link {
		t.Errorf("link type %d, tcpdump wrote %d", r.src.LinkType(), link)
	}
	if len(want) == 0 {
		t.Fatal("tcpdump captured nothing")
	}
	// Each socket stamps a packet that carries no timestamp yet itself, so
	// the clocks agree only closely; bytes and lengths must agree exactly.
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(captured{}, "TSMicros")); diff != "" {
		t.Fatalf("frames differ from tcpdump's (-tcpdump +afpacket):\n%s\ntcpdump said:\n%s", diff, td.stderr.String())
	}
	for i := range got {
		if d := got[i].TSMicros - want[i].TSMicros; d < -1e6 || d > 1e6 {
			t.Errorf("frame %d: timestamp %d µs, tcpdump's %d µs", i, got[i].TSMicros, want[i].TSMicros)
		}
	}
}

// taggedFrames are TCP segments from A to B with 802.1Q tags (a plain VID,
// priority bits, a priority-only tag, QinQ) and one without, ending with a
// reset.
func taggedFrames(p *vethPair) [][]byte {
	macA, _ := net.ParseMAC(p.macA)
	macB, _ := net.ParseMAC(p.macB)
	ip := pktbuild.IPv4{Src: netip.MustParseAddr(p.addrA), Dst: netip.MustParseAddr(p.addrB)}
	eth := func(tags ...pktbuild.Tag) pktbuild.Ethernet {
		return pktbuild.Ethernet{Dst: [6]byte(macB), Src: [6]byte(macA), Tags: tags}
	}
	vlan := func(tci uint16) pktbuild.Tag { return pktbuild.Tag{TPID: pktbuild.EtherTypeVLAN, TCI: tci} }
	seg := func(seq uint32, flags uint8) pktbuild.TCP {
		return pktbuild.TCP{SrcPort: 40000, DstPort: 80, Seq: seq, Ack: 1, Flags: flags}
	}
	return [][]byte{
		pktbuild.Build(eth(vlan(10)), ip, seg(1000, pktbuild.SYN)),
		pktbuild.Build(eth(vlan(10)), ip, seg(1001, pktbuild.PSH|pktbuild.ACK), pktbuild.Payload("GET / HTTP/1.0\r\n\r\n")),
		pktbuild.Build(eth(vlan(5<<13|10)), ip, seg(1019, pktbuild.ACK), pktbuild.Payload("prio")),
		pktbuild.Build(eth(vlan(0)), ip, seg(1023, pktbuild.ACK), pktbuild.Payload("vid0")),
		pktbuild.Build(eth(pktbuild.Tag{TPID: pktbuild.EtherTypeQinQ, TCI: 100}, vlan(200)), ip, seg(1027, pktbuild.ACK), pktbuild.Payload("qinq")),
		pktbuild.Build(eth(), ip, seg(1031, pktbuild.ACK), pktbuild.Payload("untagged")),
		pktbuild.Build(eth(vlan(10)), ip, seg(1039, pktbuild.RST|pktbuild.ACK)),
	}
}

func TestEthernetFramesMatchTcpdump(t *testing.T) {
	testutil.RequireBPF(t)
	p := newVethPair(t)
	td := startTcpdump(t, p.b, "-i", p.vethB)
	r := startCapture(t, p.b, capture.Config{Interface: p.vethB, Promisc: true, Snaplen: 65536}, Tuning{}, nil)
	p.a.Inject(t, p.vethA, taggedFrames(p))
	exchange(t, p.a, p.b, p.addrB)
	r.waitRSTs(t, 2)
	got := r.stop(t)
	compareWithTcpdump(t, r, got, td)
	tagged := 0
	for _, f := range got {
		if binary.BigEndian.Uint16(f.Data[12:]) == 0x8100 {
			tagged++
		}
	}
	if tagged == 0 {
		t.Error("no frame carries the VLAN tag: the offloaded tag was not put back")
	}
}

// loopbackExchange is a conversation over 127.0.0.1 inside ns: every packet
// crosses lo twice (out and in), and libpcap keeps one copy.
func loopbackExchange(t *testing.T, ns *testutil.Netns) {
	t.Helper()
	exchange(t, ns, ns, "127.0.0.1")
}

func TestAnyIsCookedLikeTcpdump(t *testing.T) {
	testutil.RequireBPF(t)
	p := newVethPair(t)
	td := startTcpdump(t, p.b, "-i", "any", "-y", "LINUX_SLL")
	r := startCapture(t, p.b, capture.Config{Interface: "any", Promisc: true, Snaplen: 65536}, Tuning{}, nil)
	p.a.Inject(t, p.vethA, taggedFrames(p))
	exchange(t, p.a, p.b, p.addrB)
	loopbackExchange(t, p.b)
	r.waitRSTs(t, 3)
	got := r.stop(t)
	if r.src.LinkType() != layers.LinkLinuxSLL {
		t.Errorf("link type %d on any, want Linux cooked v1 (113), as libpcap gives tcpflow", r.src.LinkType())
	}
	compareWithTcpdump(t, r, got, td)
}

func TestLoopbackOutgoingSkippedLikeTcpdump(t *testing.T) {
	testutil.RequireBPF(t)
	p := newVethPair(t)
	td := startTcpdump(t, p.b, "-i", "lo")
	r := startCapture(t, p.b, capture.Config{Interface: "lo", Promisc: true, Snaplen: 65536}, Tuning{}, nil)
	loopbackExchange(t, p.b)
	r.waitRSTs(t, 1)
	compareWithTcpdump(t, r, r.stop(t), td)
}

func TestSnaplenTruncatesLikeTcpdump(t *testing.T) {
	testutil.RequireBPF(t)
	p := newVethPair(t)
	td := startTcpdump(t, p.b, "-i", p.vethB, "-s", "100")
	r := startCapture(t, p.b, capture.Config{Interface: p.vethB, Snaplen: 100}, Tuning{}, nil)
	p.a.Inject(t, p.vethA, taggedFrames(p))
	exchange(t, p.a, p.b, p.addrB)
	r.waitRSTs(t, 2)
	compareWithTcpdump(t, r, r.stop(t), td)
}

// withVM pairs a program with x/net/bpf's VM as its userspace interpreter.
func withVM(t *testing.T, insns []bpf.Instruction) *compiled {
	t.Helper()
	vm, err := bpf.NewVM(insns)
	if err != nil {
		t.Fatalf("x/net/bpf VM: %v", err)
	}
	return &compiled{insns: insns, match: func(data []byte, _ uint32) bool {
		n, err := vm.Run(data)
		return err == nil && n > 0
	}}
}

// oracleProgram is the classic BPF libpcap compiles for expr on the link
// type of the pcap file at path (tcpdump -dd -r), interpreted in userspace
// by x/net/bpf's VM.
func oracleProgram(t *testing.T, path, expr string) *compiled {
	t.Helper()
	out, err := exec.Command("tcpdump", "-dd", "-r", path, expr).Output()
	if err != nil {
		t.Fatalf("tcpdump -dd %q: %v", expr, err)
	}
	re := regexp.MustCompile(`\{ (0x[0-9a-f]+), (\d+), (\d+), (0x[0-9a-f]+) \}`)
	var raw []bpf.RawInstruction
	for _, m := range re.FindAllStringSubmatch(string(out), -1) {
		op, _ := strconv.ParseUint(m[1], 0, 16)
		jt, _ := strconv.ParseUint(m[2], 0, 8)
		jf, _ := strconv.ParseUint(m[3], 0, 8)
		k, _ := strconv.ParseUint(m[4], 0, 32)
		raw = append(raw, bpf.RawInstruction{Op: uint16(op), Jt: uint8(jt), Jf: uint8(jf), K: uint32(k)})
	}
	prog, ok := bpf.Disassemble(raw)
	if !ok || len(prog) == 0 {
		t.Fatalf("tcpdump -dd %q gave an unreadable program:\n%s", expr, out)
	}
	return withVM(t, prog)
}

// tcpdumpSelect is what tcpdump -r in.pcap EXPR keeps.
func tcpdumpSelect(t *testing.T, in, expr string) []captured {
	t.Helper()
	outPath := t.TempDir() + "/selected.pcap"
	if out, err := exec.Command("tcpdump", "-r", in, "-w", outPath, expr).CombinedOutput(); err != nil {
		t.Fatalf("tcpdump -r %s %q: %v: %s", in, expr, err, out)
	}
	_, frames := readPcap(t, outPath)
	return frames
}

// emptyPcap writes a pcap file with no packets, for tcpdump -dd -r.
func emptyPcap(t *testing.T, link layers.LinkType) string {
	t.Helper()
	path := t.TempDir() + "/empty.pcap"
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pcapfile.NewWriter(f, link, 65536); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestFiltersSelectLikeTcpdumpOnFiles attaches libpcap's own programs and
// checks each source delivers exactly what tcpdump -r selects from an
// unfiltered capture of the same traffic, VLAN-tagged frames included.
func TestFiltersSelectLikeTcpdumpOnFiles(t *testing.T) {
	testutil.RequireBPF(t)
	p := newVethPair(t)
	exprs := []string{
		"tcp dst port 80",
		"vlan and tcp dst port 80",
		"vlan 10",
		"not vlan",
		"tcp[tcpflags] & tcp-rst != 0",
		"greater 1000",
		"ether proto 0x88a8",
	}
	empty := emptyPcap(t, layers.LinkEthernet)
	td := startTcpdump(t, p.b, "-i", p.vethB)
	cfg := capture.Config{Interface: p.vethB, Snaplen: 65536}
	sync := startCapture(t, p.b, cfg, Tuning{RingSize: 4 << 20}, nil)
	// Each expression runs twice: libpcap's program, and bpflow's own
	// compilation (kernel program plus interpreter).
	libpcap := make([]*capRun, len(exprs))
	bpflow := make([]*capRun, len(exprs))
	for i, expr := range exprs {
		libpcap[i] = startCapture(t, p.b, cfg, Tuning{RingSize: 4 << 20}, oracleProgram(t, empty, expr))
		ours, err := compileFilter(expr, layers.LinkEthernet)
		if err != nil {
			t.Fatalf("compile %q: %v", expr, err)
		}
		bpflow[i] = startCapture(t, p.b, cfg, Tuning{RingSize: 4 << 20}, ours)
	}
	p.a.Inject(t, p.vethA, taggedFrames(p))
	exchange(t, p.a, p.b, p.addrB)
	sync.waitRSTs(t, 2)
	td.stopAfter(t, len(sync.stop(t)))
	for i, expr := range exprs {
		want := tcpdumpSelect(t, td.path, expr)
		if len(want) == 0 {
			t.Errorf("filter %q: tcpdump selects nothing; the traffic does not exercise it", expr)
		}
		for _, run := range []struct {
			name string
			r    *capRun
		}{{"libpcap's program", libpcap[i]}, {"bpflow's program", bpflow[i]}} {
			got := run.r.stop(t)
			if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(captured{}, "TSMicros")); diff != "" {
				t.Errorf("filter %q, %s: frames differ from tcpdump -r (-tcpdump +afpacket):\n%s", expr, run.name, diff)
			}
		}
	}
}

// outerTagged counts frames whose outer ethertype is a VLAN TPID.
func outerTagged(frames []captured) int {
	n := 0
	for _, f := range frames {
		if tpid := binary.BigEndian.Uint16(f.Data[12:]); tpid == 0x8100 || tpid == 0x88a8 {
			n++
		}
	}
	return n
}

// TestKernelFilterKeepsPacketsOutOfTheRing proves the socket filter runs in
// the kernel: with a program that matches nothing, untagged packets never
// enter the ring (the kernel's own PACKET_STATISTICS count says so), and
// only frames with an offloaded VLAN tag go up to be filtered in userspace.
func TestKernelFilterKeepsPacketsOutOfTheRing(t *testing.T) {
	testutil.RequireBPF(t)
	p := newVethPair(t)
	cfg := capture.Config{Interface: p.vethB, Snaplen: 65536}
	sync := startCapture(t, p.b, cfg, Tuning{RingSize: 4 << 20}, nil)
	none := startCapture(t, p.b, cfg, Tuning{RingSize: 4 << 20}, withVM(t, []bpf.Instruction{bpf.RetConstant{Val: 0}}))
	exchange(t, p.a, p.b, p.addrB)
	p.a.Inject(t, p.vethA, taggedFrames(p))
	sync.waitRSTs(t, 2)
	all := sync.stop(t)
	if got := none.stop(t); len(got) != 0 {
		t.Errorf("a filter matching nothing delivered %d frames", len(got))
	}
	st := none.src.Stats()
	if st.Captured != 0 || st.Dropped != 0 {
		t.Errorf("Stats() = %+v, want nothing captured or dropped", st)
	}
	if want := uint64(outerTagged(all)); none.src.accepted != want || want == 0 {
		t.Errorf("kernel let %d packets into the ring, want the %d with an offloaded VLAN tag (of %d seen)", none.src.accepted, want, len(all))
	}
}

// TestDropsAreCounted lets a two-block ring overflow while nobody reads it:
// every packet the kernel accepted is either delivered or counted as
// dropped, and together they are all the packets an unhindered capture saw.
func TestDropsAreCounted(t *testing.T) {
	testutil.RequireBPF(t)
	p := newVethPair(t)
	sync := startCapture(t, p.b, capture.Config{Interface: p.vethB, Snaplen: 65536}, Tuning{}, nil)
	page := os.Getpagesize()
	tiny := openIn(t, p.b, capture.Config{Interface: p.vethB, Snaplen: page - frameOverhead}, Tuning{BlockSize: page, RingSize: 2 * page}, nil)
	exchange(t, p.a, p.b, p.addrB)
	sync.waitRSTs(t, 1)
	all := sync.stop(t)

	ctx, cancel := context.WithCancel(context.Background())
	cancel() // deliver what the ring holds, then return
	delivered := 0
	if err := tiny.Run(ctx, func(*layers.Frame) error { delivered++; return nil }); err != nil {
		t.Fatalf("Run: %v", err)
	}
	st := tiny.Stats()
	if st.Dropped == 0 {
		t.Fatalf("no drops reported for %d packets through a %d-byte ring", len(all), 2*page)
	}
	if st.Captured != uint64(delivered) {
		t.Errorf("Stats().Captured = %d, handler saw %d", st.Captured, delivered)
	}
	if got := st.Captured + st.Dropped; got != uint64(len(all)) || tiny.accepted != got {
		t.Errorf("delivered %d + dropped %d = %d, kernel accepted %d, unhindered capture saw %d", st.Captured, st.Dropped, got, tiny.accepted, len(all))
	}
	if s := sync.src.Stats(); s.Dropped != 0 {
		t.Errorf("the reference capture dropped %d packets", s.Dropped)
	}
}

// TestRunReturnsOnCancelWithoutTraffic: an idle capture stops when asked.
func TestRunReturnsOnCancelWithoutTraffic(t *testing.T) {
	testutil.RequireBPF(t)
	p := newVethPair(t)
	r := startCapture(t, p.b, capture.Config{Interface: p.vethB, Snaplen: 65536}, Tuning{}, nil)
	if got := r.stop(t); len(got) != 0 {
		t.Errorf("idle link delivered %d frames", len(got))
	}
}

// promiscuity is the device's promiscuity count as iproute2 shows it.
func promiscuity(t *testing.T, ns *testutil.Netns, link string) string {
	t.Helper()
	m := regexp.MustCompile(`promiscuity (\d+)`).FindStringSubmatch(ns.IP(t, "-d", "link", "show", link))
	if m == nil {
		t.Fatalf("no promiscuity in ip -d link show %s", link)
	}
	return m[1]
}

// TestPromiscuousUnlessAskedNot: the socket's membership makes the device
// promiscuous (tcpflow without -p), -p leaves it alone, and closing the
// source gives it back.
func TestPromiscuousUnlessAskedNot(t *testing.T) {
	testutil.RequireBPF(t)
	p := newVethPair(t)
	quiet := openIn(t, p.b, capture.Config{Interface: p.vethB, Promisc: false}, Tuning{RingSize: 1 << 20}, nil)
	if got := promiscuity(t, p.b, p.vethB); got != "0" {
		t.Errorf("with -p: promiscuity %s, want 0", got)
	}
	loud := openIn(t, p.b, capture.Config{Interface: p.vethB, Promisc: true}, Tuning{RingSize: 1 << 20}, nil)
	if got := promiscuity(t, p.b, p.vethB); got != "1" {
		t.Errorf("without -p: promiscuity %s, want 1", got)
	}
	for _, s := range []*source{loud, quiet} {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if got := promiscuity(t, p.b, p.vethB); got != "0" {
		t.Errorf("after Close: promiscuity %s, want 0", got)
	}
}

// TestDeviceDownThenGone: like libpcap, a device going down pauses the
// capture (it resumes when the device is up again) and a device deleted
// ends it with the message tcpflow prints, checked against tcpflow itself.
func TestDeviceDownThenGone(t *testing.T) {
	testutil.RequireBPF(t)
	p := newVethPair(t)
	tcpflow := startListening(t, p.b, t.TempDir(), nil, "tcpflow", "-c", "-i", p.vethB)
	r := startCapture(t, p.b, capture.Config{Interface: p.vethB, Snaplen: 65536}, Tuning{}, nil)
	p.b.IP(t, "link", "set", p.vethB, "down")
	p.b.IP(t, "link", "set", p.vethB, "up")
	p.b.IP(t, "neigh", "replace", p.addrA, "lladdr", p.macA, "dev", p.vethB, "nud", "permanent")
	exchange(t, p.a, p.b, p.addrB)
	r.waitRSTs(t, 1)
	p.b.IP(t, "link", "del", p.vethB)
	var err error
	select {
	case err = <-r.done:
		r.done <- nil // for the cleanup's stop
	case <-time.After(30 * time.Second):
		t.Fatal("Run still running 30 s after its device was deleted")
	}
	if err == nil {
		t.Fatal("Run returned nil after its device was deleted")
	}
	if !errors.Is(err, unix.ENODEV) {
		t.Errorf("err %v, want ENODEV", err)
	}
	if waitErr := <-tcpflow.done; waitErr == nil {
		t.Log("tcpflow exited 0")
	}
	tcpflow.done = nil
	lines := strings.Split(strings.TrimSpace(tcpflow.stderr.String()), "\n")
	if got, want := "tcpflow: "+err.Error(), lines[len(lines)-1]; got != want {
		t.Errorf("message %q, tcpflow said %q", got, want)
	}
}

// TestRawIPDeviceLikeTcpdump: a tun device has no link header; libpcap
// captures it as raw IP (LINKTYPE_RAW) and so must we, both directions.
func TestRawIPDeviceLikeTcpdump(t *testing.T) {
	testutil.RequireBPF(t)
	ns := testutil.NewNetns(t)
	var tun *os.File
	if err := ns.Do(func() error {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		tun = os.NewFile(uintptr(fd), "tun")
		ifr, err := unix.NewIfreq("bftun0")
		if err != nil {
			return err
		}
		ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
		return unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr)
	}); err != nil {
		t.Fatalf("create tun device: %v", err)
	}
	defer tun.Close()
	ns.IP(t, "addr", "add", "10.9.0.1", "peer", "10.9.0.2", "dev", "bftun0")
	ns.IP(t, "link", "set", "bftun0", "up")
	td := startTcpdump(t, ns, "-i", "bftun0")
	r := startCapture(t, ns, capture.Config{Interface: "bftun0", Snaplen: 65536}, Tuning{}, nil)
	if r.src.LinkType() != layers.LinkRaw {
		t.Fatalf("link type %d on a tun device, want raw IP (101)", r.src.LinkType())
	}
	// Outgoing: a datagram routed into the tun device.
	if err := ns.Do(func() error {
		c, err := net.Dial("udp4", "10.9.0.2:9")
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("out through tun"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// Incoming: segments written into the device, ending with a reset.
	in := pktbuild.IPv4{Src: netip.MustParseAddr("10.9.0.2"), Dst: netip.MustParseAddr("10.9.0.1")}
	for _, f := range [][]byte{
		pktbuild.Build(in, pktbuild.TCP{SrcPort: 80, DstPort: 40000, Seq: 1, Flags: pktbuild.PSH | pktbuild.ACK}, pktbuild.Payload("in through tun")),
		pktbuild.Build(in, pktbuild.TCP{SrcPort: 80, DstPort: 40000, Seq: 15, Flags: pktbuild.RST}),
	} {
		if _, err := tun.Write(f); err != nil {
			t.Fatalf("write into tun: %v", err)
		}
	}
	// The kernel answers the data segment (no socket) with a reset of its own.
	r.waitRSTs(t, 2)
	got := r.stop(t)
	if len(got) != 4 {
		t.Errorf("%d frames, want 4: the datagram out, the segment in, the kernel's reset out, our reset in", len(got))
	}
	compareWithTcpdump(t, r, got, td)
}
