package ebpf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/google/go-cmp/cmp"

	"github.com/bpflow/bpflow/internal/layers"
	"github.com/bpflow/bpflow/internal/testutil"
	pb "github.com/bpflow/bpflow/internal/testutil/pktbuild"
)

// harness is the capture program loaded for BPF_PROG_TEST_RUN.
type harness struct {
	progs *programs
	maps  *sharedMaps
	rd    *ringbuf.Reader
}

func newHarness(t testing.TB, opts loadOptions) *harness {
	t.Helper()
	testutil.RequireBPF(t)
	if opts.ringSize == 0 {
		opts.ringSize = 1 << 20
	}
	progs, maps, err := load(opts)
	if err != nil {
		t.Fatalf("load %s: %v", opts.copy, err)
	}
	rd, err := ringbuf.NewReader(maps.ring)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{progs: progs, maps: maps, rd: rd}
	t.Cleanup(func() { rd.Close(); progs.Close(); maps.Close() })
	return h
}

// run runs the program on frame and returns the records it submitted, and
// the counters it changed.
func (h *harness) run(t *testing.T, frame []byte, egress bool, repeat int) ([][]byte, bpfBpflowCounters) {
	t.Helper()
	prog := h.progs.ingress
	if egress {
		prog = h.progs.egress
	}
	before := h.counters(t)
	ret, err := prog.Run(&ebpf.RunOptions{Data: frame, Repeat: uint32(repeat)})
	if err != nil {
		t.Fatalf("BPF_PROG_TEST_RUN: %v", err)
	}
	if int32(ret) != -1 {
		t.Errorf("program returned %d, want TCX_NEXT (-1): a passive tap never decides", int32(ret))
	}
	var recs [][]byte
	h.rd.SetDeadline(time.Now())
	for {
		var rec ringbuf.Record
		err := h.rd.ReadInto(&rec)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec.RawSample)
	}
	after := h.counters(t)
	return recs, diffCounters(after, before)
}

func (h *harness) counters(t *testing.T) bpfBpflowCounters {
	t.Helper()
	s := &Source{maps: h.maps}
	c, err := s.counters()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func diffCounters(a, b bpfBpflowCounters) bpfBpflowCounters {
	return bpfBpflowCounters{
		Seen: a.Seen - b.Seen, Tcp: a.Tcp - b.Tcp, Matched: a.Matched - b.Matched, Packets: a.Packets - b.Packets,
		Records: a.Records - b.Records, Bytes: a.Bytes - b.Bytes, RingFull: a.RingFull - b.RingFull,
		Truncated: a.Truncated - b.Truncated, ParseErr: a.ParseErr - b.ParseErr, CopyErr: a.CopyErr - b.CopyErr,
	}
}

// frameCase is one hand-built frame and what libpcap semantics say bpflow
// must deliver: the frame through the end of its TCP payload (pay is the
// payload length, so the TCP payload starts at len(want)-pay), or nothing.
type frameCase struct {
	name  string
	frame []byte
	want  []byte // nil: no record
	pay   int
	count string // the counter that must move: "packets", "parse_err", "" (none)
}

func frameCases() []frameCase {
	tcp := pb.TCP{SrcPort: 40000, DstPort: 80, Seq: 1000, Ack: 1, Flags: pb.PSH | pb.ACK}
	syn := pb.TCP{SrcPort: 40000, DstPort: 80, Seq: 999, Flags: pb.SYN, Options: []byte{2, 4, 5, 0xb4, 1, 3, 3, 7}}
	v4 := pb.IPv4{Src: ip4A, Dst: ip4B}
	v6 := pb.IPv6{Src: ip6A, Dst: ip6B}
	same := func(name string, pay int, l ...pb.Layer) frameCase {
		f := pb.Build(l...)
		return frameCase{name: name, frame: f, want: f, pay: pay, count: "packets"}
	}
	none := func(name, count string, l ...pb.Layer) frameCase {
		return frameCase{name: name, frame: pb.Build(l...), count: count}
	}
	cases := []frameCase{
		same("ipv4 payload", 100, eth, v4, tcp, payload(100)),
		same("ipv4 and tcp options", 60, eth, pb.IPv4{Src: ip4A, Dst: ip4B, Options: []byte{1, 1, 1, 1, 1, 1, 1, 1}}, syn, payload(60)),
		same("zero payload travels as headers", 0, eth, v4, syn),
		same("ipv6 payload", 200, eth, v6, tcp, payload(200)),
		same("ipv6 extension headers", 33, eth, pb.IPv6{Src: ip6A, Dst: ip6B, ExtHeaders: []pb.ExtHeader{
			{Type: pb.ProtoHopByHop, Data: []byte{1, 4, 0, 0, 0, 0}}, {Type: pb.ProtoRouting, Data: make([]byte, 14)},
			{Type: pb.ProtoDestOpts, Data: make([]byte, 6)}, pb.IPv6Fragment(0, true, 7),
		}}, tcp, payload(33)),
		same("802.1Q tag in the packet", 50, pb.Ethernet{Dst: macB, Src: macA, Tags: []pb.Tag{{TPID: pb.EtherTypeVLAN, TCI: 42}}}, v4, tcp, payload(50)),
		same("QinQ", 50, pb.Ethernet{Dst: macB, Src: macA, Tags: []pb.Tag{{TPID: pb.EtherTypeQinQ, TCI: 7}, {TPID: pb.EtherTypeVLAN, TCI: 42}}}, v6, tcp, payload(50)),
		none("udp is not captured", "", eth, v4, pb.UDP{SrcPort: 53, DstPort: 53}, payload(20)),
		none("arp is not captured", "", pb.Ethernet{Dst: macB, Src: macA, Type: pb.EtherTypeARP}, payload(28)),
		none("later ipv4 fragment", "", eth, pb.IPv4{Src: ip4A, Dst: ip4B, FragOff: 100}, payload(40)),
		none("later ipv6 fragment", "", eth, pb.IPv6{Src: ip6A, Dst: ip6B, Proto: pb.ProtoTCP, ExtHeaders: []pb.ExtHeader{pb.IPv6Fragment(10, false, 7)}}, payload(40)),
		none("tcp data offset below 5", "parse_err", eth, v4, pb.TCP{SrcPort: 1, DstPort: 80, DataOff: 4}, payload(10)),
		none("tcp header beyond the ip packet", "parse_err", eth, pb.IPv4{Src: ip4A, Dst: ip4B, TotalLen: 30}, tcp, payload(10)),
	}
	// Link padding: the frame on the wire is longer than its IP packet.
	f := pb.Build(eth, v4, syn)
	cases = append(cases, frameCase{name: "ethernet padding is left out", frame: append(f[:len(f):len(f)], make([]byte, 10)...), want: f, count: "packets"})
	// An IP total length beyond the frame is clamped to what is there.
	long := pb.Build(eth, pb.IPv4{Src: ip4A, Dst: ip4B, TotalLen: 1500}, tcp, payload(100))
	cases = append(cases, frameCase{name: "ip length beyond the frame", frame: long, want: long, pay: 100, count: "packets"})
	// TSO/BIG TCP: total length 0 means "to the end of the skb".
	tso := pb.Build(eth, v4, tcp, payload(300))
	tso[16], tso[17] = 0, 0
	cases = append(cases, frameCase{name: "ipv4 total length 0 (TSO)", frame: tso, want: tso, pay: 300, count: "packets"})
	return cases
}

func TestProgramOnFrames(t *testing.T) {
	for _, cp := range []copyPath{copyDynptr, copyScratch} {
		t.Run(string(cp), func(t *testing.T) {
			h := newHarness(t, loadOptions{copy: cp})
			for _, c := range frameCases() {
				for _, egress := range []bool{false, true} {
					recs, cnt := h.run(t, c.frame, egress, 1)
					checkCase(t, c, egress, recs, cnt)
				}
			}
		})
	}
}

func checkCase(t *testing.T, c frameCase, egress bool, recs [][]byte, cnt bpfBpflowCounters) {
	t.Helper()
	if cnt.Seen != 1 {
		t.Errorf("%s: seen %d, want 1", c.name, cnt.Seen)
	}
	switch c.count {
	case "packets":
		if cnt.Packets != 1 || cnt.Records != 1 || cnt.Bytes != uint64(len(c.want)) {
			t.Errorf("%s: counters %+v, want 1 packet, 1 record, %d bytes", c.name, cnt, len(c.want))
		}
	case "parse_err":
		if cnt.ParseErr != 1 || cnt.Packets != 0 {
			t.Errorf("%s: counters %+v, want parse_err 1", c.name, cnt)
		}
	default:
		if cnt != (bpfBpflowCounters{Seen: 1}) {
			t.Errorf("%s: counters %+v, want only seen", c.name, cnt)
		}
	}
	if c.want == nil {
		if len(recs) != 0 {
			t.Errorf("%s: %d records, want none", c.name, len(recs))
		}
		return
	}
	if len(recs) != 1 {
		t.Fatalf("%s: %d records, want 1", c.name, len(recs))
	}
	r, data, err := decodeRecord(recs[0])
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	if diff := cmp.Diff(c.want, data); diff != "" {
		t.Errorf("%s: frame differs (-want +got):\n%s", c.name, diff)
	}
	wantFlags := uint8(0)
	if egress {
		wantFlags = flagEgress
	}
	if r.flags != wantFlags || r.wireLen != uint32(len(c.frame)) || int(r.hdrLen) != len(c.want)-c.pay {
		t.Errorf("%s: header %+v, want flags %#x wire_len %d hdr_len %d", c.name, r, wantFlags, len(c.frame), len(c.want)-c.pay)
	}
	if r.tsNS == 0 || r.ifindex == 0 {
		t.Errorf("%s: header %+v lacks time or ifindex", c.name, r)
	}
}

// portFilter is a hand-written stand-in for the filter compiler's output:
// "tcp dst port P" for IPv4 without options on Ethernet. It reads the port
// with bpf_skb_load_bytes, as a spliced subprogram must.
func portFilter(port uint16) asm.Instructions {
	var be [2]byte
	binary.BigEndian.PutUint16(be[:], port)
	return asm.Instructions{
		asm.Mov.Imm(asm.R2, 14+20+2).WithSymbol(filterSymbol),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, -8),
		asm.Mov.Imm(asm.R4, 2),
		asm.FnSkbLoadBytes.Call(),
		asm.JNE.Imm(asm.R0, 0, "nomatch"),
		asm.LoadMem(asm.R0, asm.RFP, -8, asm.Half),
		asm.JEq.Imm(asm.R0, int32(binary.NativeEndian.Uint16(be[:])), "match"),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("nomatch"),
		asm.Return(),
		asm.Mov.Imm(asm.R0, 1).WithSymbol("match"),
		asm.Return(),
	}
}

func TestFilterSplice(t *testing.T) {
	for _, cp := range []copyPath{copyDynptr, copyScratch} {
		t.Run(string(cp), func(t *testing.T) {
			h := newHarness(t, loadOptions{copy: cp, filter: portFilter(80)})
			v4 := pb.IPv4{Src: ip4A, Dst: ip4B}
			match := pb.Build(eth, v4, pb.TCP{SrcPort: 5000, DstPort: 80}, payload(10))
			miss := pb.Build(eth, v4, pb.TCP{SrcPort: 80, DstPort: 81}, payload(10))
			recs, cnt := h.run(t, match, false, 1)
			if len(recs) != 1 || cnt.Matched != 1 {
				t.Errorf("dst port 80: %d records, counters %+v; want 1 record, matched 1", len(recs), cnt)
			}
			recs, cnt = h.run(t, miss, false, 1)
			if len(recs) != 0 || cnt.Tcp != 1 || cnt.Matched != 0 {
				t.Errorf("dst port 81: %d records, counters %+v; want none, tcp 1, matched 0", len(recs), cnt)
			}
		})
	}
}

func TestSpliceRejectsUnlabelledFilter(t *testing.T) {
	spec, err := loadBpf()
	if err != nil {
		t.Fatal(err)
	}
	err = spliceFilter(spec.Programs[bpfProgBpflowIngress], asm.Instructions{asm.Mov.Imm(asm.R0, 1), asm.Return()})
	if err == nil {
		t.Fatal("splice accepted a filter whose first instruction has no bpflow_filter symbol")
	}
}

// TestChunks checks the scratch path's slices of a packet too big for one
// record: after decodeRecord each is the frame the sender's segmentation
// would have produced (pktbuild builds that oracle), TCP checksum aside.
func TestChunks(t *testing.T) {
	const room, size = 500, 1800
	h := newHarness(t, loadOptions{copy: copyScratch, room: room, piece: room})
	body := payload(size)
	for _, ip := range []pb.Layer{pb.IPv4{Src: ip4A, Dst: ip4B, ID: 9}, pb.IPv6{Src: ip6A, Dst: ip6B}} {
		tcp := pb.TCP{SrcPort: 40000, DstPort: 80, Seq: 0xffffff00, Ack: 1, Flags: pb.PSH | pb.ACK | pb.FIN}
		recs, cnt := h.run(t, pb.Build(eth, ip, tcp, body), false, 1)
		want := (size + room - 1) / room
		if len(recs) != want || cnt.Packets != 1 || cnt.Records != uint64(want) {
			t.Fatalf("%T: %d records, counters %+v; want %d records of 1 packet", ip, len(recs), cnt, want)
		}
		for i, raw := range recs {
			r, data, err := decodeRecord(raw)
			if err != nil {
				t.Fatal(err)
			}
			off := i * room
			seg := tcp
			seg.Seq += uint32(off)
			if i != len(recs)-1 {
				seg.Flags &^= pb.FIN | pb.PSH
			}
			exp := pb.Build(eth, ip, seg, body[off:min(off+room, size)])
			l4 := int(r.l4Off)
			zeroTCPChecksum(exp, l4)
			zeroTCPChecksum(data, l4)
			if !bytes.Equal(exp, data) {
				t.Errorf("%T chunk %d (pay_off %d) differs:\n%s", ip, i, r.payOff, cmp.Diff(exp, data))
			}
		}
	}
}

func zeroTCPChecksum(frame []byte, l4 int) {
	frame[l4+16], frame[l4+17] = 0, 0
}

func TestChunkLimitCountsTruncation(t *testing.T) {
	const room, maxChunks = 100, 9
	h := newHarness(t, loadOptions{copy: copyScratch, room: room, piece: room})
	frame := pb.Build(eth, pb.IPv4{Src: ip4A, Dst: ip4B}, pb.TCP{SrcPort: 1, DstPort: 2}, payload(room*maxChunks+50))
	recs, cnt := h.run(t, frame, false, 1)
	if len(recs) != maxChunks || cnt.Truncated != 1 {
		t.Errorf("%d records, counters %+v; want %d records and truncated 1", len(recs), cnt, maxChunks)
	}
}

func TestRingFullIsCounted(t *testing.T) {
	for _, cp := range []copyPath{copyDynptr, copyScratch} {
		t.Run(string(cp), func(t *testing.T) {
			h := newHarness(t, loadOptions{copy: cp, ringSize: 4096})
			frame := pb.Build(eth, pb.IPv4{Src: ip4A, Dst: ip4B}, pb.TCP{SrcPort: 1, DstPort: 2}, payload(1000))
			const runs = 10
			recs, cnt := h.run(t, frame, false, runs)
			if len(recs) == 0 || cnt.RingFull == 0 || uint64(len(recs))+cnt.RingFull != runs {
				t.Errorf("%d records, counters %+v; want some delivered, the rest counted as ring_full, %d in all", len(recs), cnt, runs)
			}
		})
	}
}

func TestSnaplen(t *testing.T) {
	h := newHarness(t, loadOptions{copy: copyDynptr, snaplen: 100})
	frame := pb.Build(eth, pb.IPv4{Src: ip4A, Dst: ip4B}, pb.TCP{SrcPort: 1, DstPort: 2}, payload(500))
	recs, _ := h.run(t, frame, false, 1)
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1", len(recs))
	}
	r, data, err := decodeRecord(recs[0])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, frame[:100]) || r.flags&flagTrunc == 0 || r.wireLen != uint32(len(frame)) {
		t.Errorf("snaplen 100: got %d bytes, flags %#x, wire %d; want the first 100, TRUNC, wire %d", len(data), r.flags, r.wireLen, len(frame))
	}
}

// TestKernelFilterAgreesWithInterpreter splices the filter package's eBPF
// back end into the program and checks, on every TCP test frame, that the
// kernel keeps a frame exactly when the filter's interpreter (checked
// against tcpdump in the filter package) matches it.
func TestKernelFilterAgreesWithInterpreter(t *testing.T) {
	exprs := []string{
		"tcp port 80", "tcp dst port 80 and src port 40000", "host 192.0.2.1", "ip6", "ip", "vlan",
		"vlan 42 and tcp", "tcp[13] & 2 != 0", "greater 100", "less 80", "net 198.51.100.0/24", "not port 40000",
	}
	for _, expr := range exprs {
		plan, err := planFilter(expr, layers.LinkEthernet, layers.LinkEthernet)
		if err != nil {
			t.Fatalf("%q: %v", expr, err)
		}
		if plan.kernel == nil {
			t.Skip("the filter package has no eBPF back end yet")
		}
		for _, cp := range []copyPath{copyDynptr, copyScratch} {
			h := newHarness(t, loadOptions{copy: cp, filter: plan.kernel})
			for _, c := range frameCases() {
				recs, cnt := h.run(t, c.frame, false, 1)
				if cnt.Tcp != 1 {
					continue
				}
				if want := plan.user.Match(c.frame, uint32(len(c.frame))); want != (len(recs) == 1) {
					t.Errorf("%s, %q on %s: kernel kept %d records, interpreter says match=%v", cp, expr, c.name, len(recs), want)
				}
			}
		}
	}
}
