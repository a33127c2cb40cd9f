package ebpf

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	pb "github.com/bpflow/bpflow/internal/testutil/pktbuild"
)

// TestRecordLayout pins the Go view of struct bpflow_rec (bpf2go's type,
// generated from bpf/capture.h) to the offsets decodeRecord reads.
func TestRecordLayout(t *testing.T) {
	var r bpfBpflowRec
	got := map[string]uintptr{
		"ts_ns": unsafe.Offsetof(r.TsNs), "ifindex": unsafe.Offsetof(r.Ifindex), "wire_len": unsafe.Offsetof(r.WireLen),
		"cap_len": unsafe.Offsetof(r.CapLen), "pay_off": unsafe.Offsetof(r.PayOff), "hdr_len": unsafe.Offsetof(r.HdrLen),
		"l3_off": unsafe.Offsetof(r.L3Off), "l4_off": unsafe.Offsetof(r.L4Off), "flags": unsafe.Offsetof(r.Flags),
		"pkt_type": unsafe.Offsetof(r.PktType), "size": unsafe.Sizeof(r),
	}
	want := map[string]uintptr{
		"ts_ns": 0, "ifindex": 8, "wire_len": 12, "cap_len": 16, "pay_off": 20, "hdr_len": 24,
		"l3_off": 26, "l4_off": 28, "flags": 30, "pkt_type": 31, "size": 32,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("struct bpflow_rec layout changed; update decodeRecord (-decoder +generated):\n%s", diff)
	}
}

// makeRecord builds a ring record around frame, as the program would.
func makeRecord(r record, frame []byte) []byte {
	raw := make([]byte, recSize+len(frame))
	ne := binary.NativeEndian
	ne.PutUint64(raw[0:], r.tsNS)
	ne.PutUint32(raw[8:], r.ifindex)
	ne.PutUint32(raw[12:], r.wireLen)
	ne.PutUint32(raw[16:], uint32(len(frame)))
	ne.PutUint32(raw[20:], r.payOff)
	ne.PutUint16(raw[24:], r.hdrLen)
	ne.PutUint16(raw[26:], r.l3Off)
	ne.PutUint16(raw[28:], r.l4Off)
	raw[30], raw[31] = r.flags, r.pktType
	copy(raw[recSize:], frame)
	return raw
}

// TestToCooked compares the in-place conversion with cooked frames pktbuild
// builds from the same layers (the live any test checks it against tcpdump).
func TestToCooked(t *testing.T) {
	src := netip.MustParseAddr("192.0.2.1")
	dst := netip.MustParseAddr("192.0.2.2")
	ip := pb.IPv4{Src: src, Dst: dst}
	tcp := pb.TCP{SrcPort: 1, DstPort: 2, Flags: pb.ACK}
	body := payload(30)
	cases := []struct {
		name     string
		frame    []byte
		r        record
		hatype   uint16
		l3       bool
		want     []byte
		wireGrow uint32
	}{
		{"ethernet in", pb.Build(eth, ip, tcp, body), record{pktType: 0}, arphrdEther, false,
			pb.Build(pb.SLL{PacketType: 0, ARPHRD: arphrdEther, Addr: macA[:]}, ip, tcp, body), 2},
		{"ethernet out", pb.Build(eth, ip, tcp, body), record{flags: flagEgress}, arphrdEther, false,
			pb.Build(pb.SLL{PacketType: packetOutgoing, ARPHRD: arphrdEther, Addr: macA[:]}, ip, tcp, body), 2},
		{"loopback", pb.Build(pb.Ethernet{}, ip, tcp, body), record{}, arphrdLoopback, false,
			pb.Build(pb.SLL{ARPHRD: arphrdLoopback, Addr: make([]byte, 6)}, ip, tcp, body), 2},
		{"tagged", pb.Build(pb.Ethernet{Dst: macB, Src: macA, Tags: []pb.Tag{{TPID: pb.EtherTypeVLAN, TCI: 5}}}, ip, tcp, body), record{pktType: 3}, arphrdEther, false,
			pb.Build(pb.SLL{PacketType: 3, ARPHRD: arphrdEther, Addr: macA[:], Protocol: pb.EtherTypeVLAN}, pb.Payload{0, 5, 8, 0}, ip, tcp, body), 2},
		{"raw ipv6", pb.Build(pb.IPv6{Src: ip6A, Dst: ip6B}, tcp, body), record{}, 65534, true,
			pb.Build(pb.SLL{ARPHRD: 65534}, pb.IPv6{Src: ip6A, Dst: ip6B}, tcp, body), 16},
	}
	for _, c := range cases {
		c.r.wireLen = uint32(len(c.frame))
		raw := makeRecord(c.r, c.frame)
		r, _, err := decodeRecord(raw)
		if err != nil {
			t.Fatal(err)
		}
		got := toCooked(raw, &r, c.hatype, c.l3)
		if !bytes.Equal(got, c.want) {
			t.Errorf("%s:\n%s", c.name, cmp.Diff(c.want, got))
		}
		if r.wireLen != uint32(len(c.frame))+c.wireGrow {
			t.Errorf("%s: wire length %d, want %d", c.name, r.wireLen, uint32(len(c.frame))+c.wireGrow)
		}
	}
}

func TestDecodeRecordRejectsShortInput(t *testing.T) {
	if _, _, err := decodeRecord(make([]byte, recSize-1)); err == nil {
		t.Error("a record shorter than its header was accepted")
	}
	raw := makeRecord(record{}, make([]byte, 10))
	binary.NativeEndian.PutUint32(raw[16:], 11)
	if _, _, err := decodeRecord(raw); err == nil {
		t.Error("a captured length beyond the record was accepted")
	}
}

// FuzzDecodeRecord: whatever the ring holds, decoding (and the cooked
// rewrite) returns an error or a frame inside the record, never panics.
func FuzzDecodeRecord(f *testing.F) {
	frame := pb.Build(eth, pb.IPv4{Src: ip4A, Dst: ip4B}, pb.TCP{SrcPort: 1, DstPort: 2}, payload(40))
	f.Add(makeRecord(record{wireLen: 94, hdrLen: 54, l3Off: 14, l4Off: 34}, frame))
	f.Add(makeRecord(record{flags: flagChunk | flagLast, payOff: 1000, hdrLen: 54, l3Off: 14, l4Off: 34}, frame))
	f.Add(makeRecord(record{flags: flagChunk, hdrLen: 74, l3Off: 14, l4Off: 54}, pb.Build(eth, pb.IPv6{Src: ip6A, Dst: ip6B}, pb.TCP{}, payload(9))))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, data, err := decodeRecord(raw)
		if err != nil {
			return
		}
		if len(data) != int(r.capLen) || len(raw) < recSize+len(data) {
			t.Fatalf("frame of %d bytes for cap_len %d in a %d-byte record", len(data), r.capLen, len(raw))
		}
		toCooked(raw, &r, arphrdEther, r.flags&1 != 0)
	})
}
