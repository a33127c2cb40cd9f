package afpacket

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bpflow/bpflow/internal/layers"
	"github.com/bpflow/bpflow/internal/testutil/pktbuild"
)

// ringFrame is one packet as the kernel stores it in a TPACKET_V3 block.
type ringFrame struct {
	sec, nsec  uint32
	wireLen    uint32 // 0: len(data)
	status     uint32
	tci, tpid  uint16
	ifindex    int32
	hatype     uint16
	pkttype    uint8
	addr       []byte
	proto      uint16
	data       []byte // from tp_mac (raw) or tp_net (cooked)
	dataOffset int    // tp_mac/tp_net; 0: 100, where the kernel puts it
}

// buildBlock lays frames out as the kernel does: block descriptor, then
// each tpacket3_hdr + sockaddr_ll with the packet at its offset, 16-aligned.
func buildBlock(frames ...ringFrame) []byte {
	ne := binary.NativeEndian
	blk := make([]byte, blockDescLen)
	ne.PutUint32(blk[offBlkStatus:], statusUser)
	ne.PutUint32(blk[offBlkNumPkts:], uint32(len(frames)))
	ne.PutUint32(blk[offBlkFirst:], blockDescLen)
	for i, f := range frames {
		start := len(blk)
		at := f.dataOffset
		if at == 0 {
			at = 100
		}
		size := (at + len(f.data) + 15) &^ 15
		blk = append(blk, make([]byte, size)...)
		h := blk[start:]
		if i < len(frames)-1 {
			ne.PutUint32(h[offNext:], uint32(size))
		}
		wire := f.wireLen
		if wire == 0 {
			wire = uint32(len(f.data))
		}
		ne.PutUint32(h[offSec:], f.sec)
		ne.PutUint32(h[offNsec:], f.nsec)
		ne.PutUint32(h[offSnaplen:], uint32(len(f.data)))
		ne.PutUint32(h[offLen:], wire)
		ne.PutUint32(h[offStatus:], f.status)
		ne.PutUint16(h[offMac:], uint16(at))
		ne.PutUint16(h[offNet:], uint16(at))
		ne.PutUint16(h[offVLANTCI:], f.tci)
		ne.PutUint16(h[offVLANTPID:], f.tpid)
		binary.BigEndian.PutUint16(h[offSLLProto:], f.proto)
		ne.PutUint32(h[offSLLIfindex:], uint32(f.ifindex))
		ne.PutUint16(h[offSLLHatype:], f.hatype)
		h[offSLLPkttype] = f.pkttype
		h[offSLLHalen] = uint8(len(f.addr))
		copy(h[offSLLAddr:offSLLAddr+8], f.addr)
		copy(h[at:], f.data)
	}
	return blk
}

type delivered struct {
	TS      int64
	WireLen uint32
	Ifindex uint32
	Data    []byte
}

func decodeAll(t *testing.T, d *decoder, blk []byte) []delivered {
	t.Helper()
	var out []delivered
	err := d.block(blk, func(f *layers.Frame) error {
		if f.LinkType != d.linkType {
			t.Errorf("link type %d, want %d", f.LinkType, d.linkType)
		}
		out = append(out, delivered{f.TS, f.WireLen, f.Ifindex, append([]byte(nil), f.Data...)})
		return nil
	})
	if err != nil {
		t.Fatalf("decode block: %v", err)
	}
	return out
}

var (
	macA = [6]byte{2, 0, 0, 0, 0, 1}
	macB = [6]byte{2, 0, 0, 0, 0, 2}
	ipv4 = pktbuild.IPv4{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2")}
	seg  = pktbuild.TCP{SrcPort: 1234, DstPort: 80, Seq: 1, Flags: pktbuild.ACK}
)

// frameWith builds a TCP segment with the given 802.1Q tags.
func frameWith(tags ...pktbuild.Tag) []byte {
	return pktbuild.Build(pktbuild.Ethernet{Dst: macB, Src: macA, Tags: tags}, ipv4, seg, pktbuild.Payload("data"))
}

func ethernetDecoder() *decoder {
	return &decoder{linkType: layers.LinkEthernet, vlanOffset: 12, snaplen: 65536}
}

func TestEthernetTagIsPutBack(t *testing.T) {
	untagged := frameWith()
	tests := []struct {
		name string
		in   ringFrame
		want []byte
	}{
		{"no tag", ringFrame{}, untagged},
		{"tag", ringFrame{status: statusVLANValid, tci: 10}, frameWith(pktbuild.Tag{TPID: 0x8100, TCI: 10})},
		{"tci without the valid flag (old kernels)", ringFrame{tci: 0xa00a}, frameWith(pktbuild.Tag{TPID: 0x8100, TCI: 0xa00a})},
		{"priority-only tag", ringFrame{status: statusVLANValid}, frameWith(pktbuild.Tag{TPID: 0x8100, TCI: 0})},
		{"802.1ad TPID", ringFrame{status: statusVLANValid | statusVLANTPIDValid, tci: 100, tpid: 0x88a8}, frameWith(pktbuild.Tag{TPID: 0x88a8, TCI: 100})},
		{"TPID field ignored without its flag", ringFrame{status: statusVLANValid, tci: 7, tpid: 0x88a8}, frameWith(pktbuild.Tag{TPID: 0x8100, TCI: 7})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			in.data, in.sec, in.nsec, in.ifindex = untagged, 1700000000, 123456789, 3
			got := decodeAll(t, ethernetDecoder(), buildBlock(in))
			want := []delivered{{1700000000123456789, uint32(len(tt.want)), 3, tt.want}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestTagIsNotPutIntoRunts(t *testing.T) {
	runt := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	got := decodeAll(t, ethernetDecoder(), buildBlock(ringFrame{data: runt, status: statusVLANValid, tci: 5}))
	if len(got) != 1 || !cmp.Equal(got[0].Data, runt) {
		t.Errorf("got %v, want the 11-byte runt unchanged", got)
	}
}

func TestSnaplenAppliesAfterTheTag(t *testing.T) {
	d := ethernetDecoder()
	d.snaplen = 20
	full := frameWith()
	got := decodeAll(t, d, buildBlock(ringFrame{data: full, status: statusVLANValid, tci: 9}))
	want := frameWith(pktbuild.Tag{TPID: 0x8100, TCI: 9})
	if len(got) != 1 || !cmp.Equal(got[0].Data, want[:20]) || got[0].WireLen != uint32(len(want)) {
		t.Errorf("got %+v, want 20 bytes of %x with wire length %d", got, want, len(want))
	}
}

func TestLoopbackOutgoingCopiesAreSkipped(t *testing.T) {
	d := ethernetDecoder()
	d.loIfindex = 1
	f := frameWith()
	blk := buildBlock(
		ringFrame{data: f, ifindex: 1, pkttype: packetOutgoing, sec: 1},
		ringFrame{data: f, ifindex: 1, pkttype: 0, sec: 2},
		ringFrame{data: f, ifindex: 2, pkttype: packetOutgoing, sec: 3},
	)
	got := decodeAll(t, d, blk)
	var secs []int64
	for _, g := range got {
		secs = append(secs, g.TS/1e9)
	}
	if !cmp.Equal(secs, []int64{2, 3}) {
		t.Errorf("delivered frames of seconds %v, want 2 (lo incoming) and 3 (other device outgoing)", secs)
	}
	if d.delivered != 2 {
		t.Errorf("delivered counter %d, want 2", d.delivered)
	}
}

func TestCookedFramesGetAnSLLHeader(t *testing.T) {
	d := &decoder{linkType: layers.LinkLinuxSLL, cooked: true, vlanOffset: sllHdrLen - 2, snaplen: 65536}
	ipPacket := pktbuild.Build(ipv4, seg, pktbuild.Payload("data"))
	addr := []byte{0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}
	blk := buildBlock(
		ringFrame{data: ipPacket, pkttype: 4, hatype: 1, addr: addr, proto: 0x0800, ifindex: 7},
		ringFrame{data: ipPacket, pkttype: 0, hatype: 772, addr: make([]byte, 6), proto: 0x0800, ifindex: 1, status: statusVLANValid, tci: 42},
	)
	got := decodeAll(t, d, blk)
	plain := pktbuild.Build(pktbuild.SLL{PacketType: 4, ARPHRD: 1, Addr: addr}, ipv4, seg, pktbuild.Payload("data"))
	tagged := pktbuild.Build(pktbuild.SLL{PacketType: 0, ARPHRD: 772, Addr: make([]byte, 6), Protocol: 0x8100},
		pktbuild.Payload{0, 42, 0x08, 0x00}, ipv4, seg, pktbuild.Payload("data"))
	want := []delivered{
		{0, uint32(len(plain)), 7, plain},
		{0, uint32(len(tagged)), 1, tagged},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestUserspaceFilterSeesRestoredTag(t *testing.T) {
	var seen [][]byte
	d := ethernetDecoder()
	d.match = func(data []byte, wireLen uint32) bool {
		seen = append(seen, append([]byte(nil), data...))
		return wireLen > 70
	}
	f := frameWith()
	blk := buildBlock(
		ringFrame{data: f}, // the kernel already filtered it
		ringFrame{data: f, status: statusVLANValid, tci: 3}, // filtered here: 62+4 bytes, rejected
		ringFrame{data: f, wireLen: 100, status: statusVLANValid, tci: 3},
	)
	got := decodeAll(t, d, blk)
	if len(got) != 2 || len(seen) != 2 || !cmp.Equal(seen[0], frameWith(pktbuild.Tag{TPID: 0x8100, TCI: 3})) {
		t.Errorf("delivered %d frames, filter saw %d (%x)", len(got), len(seen), seen)
	}
	d.matchAll = true
	seen = nil
	if got := decodeAll(t, d, blk); len(got) != 1 || len(seen) != 3 {
		t.Errorf("matchAll: delivered %d, filter saw %d; want 1 and 3", len(got), len(seen))
	}
}

func TestHandlerErrorStopsTheBlock(t *testing.T) {
	stop := errors.New("stop")
	f := frameWith()
	calls := 0
	err := ethernetDecoder().block(buildBlock(ringFrame{data: f}, ringFrame{data: f}), func(*layers.Frame) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("err %v after %d calls, want the handler's error after 1", err, calls)
	}
}

func TestCorruptBlocksAreErrors(t *testing.T) {
	good := buildBlock(ringFrame{data: frameWith()})
	tests := map[string]func(b []byte) []byte{
		"short descriptor":  func(b []byte) []byte { return b[:20] },
		"first beyond end":  func(b []byte) []byte { binary.NativeEndian.PutUint32(b[offBlkFirst:], 1<<20); return b },
		"first inside desc": func(b []byte) []byte { binary.NativeEndian.PutUint32(b[offBlkFirst:], 4); return b },
		"snaplen beyond end": func(b []byte) []byte {
			binary.NativeEndian.PutUint32(b[blockDescLen+offSnaplen:], 1<<20)
			return b
		},
		"mac inside header": func(b []byte) []byte { binary.NativeEndian.PutUint16(b[blockDescLen+offMac:], 10); return b },
		"more packets than fit": func(b []byte) []byte {
			binary.NativeEndian.PutUint32(b[offBlkNumPkts:], 5)
			binary.NativeEndian.PutUint32(b[blockDescLen+offNext:], 1<<16)
			return b
		},
	}
	for name, corrupt := range tests {
		t.Run(name, func(t *testing.T) {
			blk := corrupt(append([]byte(nil), good...))
			err := ethernetDecoder().block(blk, func(*layers.Frame) error { return nil })
			if !errors.Is(err, errCorruptBlock) {
				t.Errorf("err = %v, want errCorruptBlock", err)
			}
		})
	}
}

// FuzzDecodeBlock: no block layout, however broken, makes the decoder
// panic or hand out bytes beyond the block or the snaplen.
func FuzzDecodeBlock(f *testing.F) {
	f.Add(buildBlock(ringFrame{data: frameWith(), status: statusVLANValid, tci: 10}), false, uint16(65535))
	f.Add(buildBlock(ringFrame{data: frameWith()}, ringFrame{data: frameWith(), pkttype: 4, ifindex: 1}), false, uint16(64))
	f.Add(buildBlock(ringFrame{data: pktbuild.Build(ipv4, seg), proto: 0x0800, status: statusVLANValid}), true, uint16(100))
	f.Fuzz(func(t *testing.T, blk []byte, cooked bool, snaplen uint16) {
		d := ethernetDecoder()
		d.loIfindex = 1
		d.snaplen = uint32(snaplen)
		if cooked {
			d.cooked, d.linkType, d.vlanOffset = true, layers.LinkLinuxSLL, sllHdrLen-2
		}
		_ = d.block(blk, func(fr *layers.Frame) error {
			if len(fr.Data) > int(d.snaplen) || len(fr.Data) > len(blk) {
				t.Fatalf("frame of %d bytes from a %d-byte block with snaplen %d", len(fr.Data), len(blk), d.snaplen)
			}
			return nil
		})
	})
}

// BenchmarkDecodeBlock measures the per-packet userspace cost of the ring
// path (header parsing, tag restoration, Frame hand-off) on a block of
// full-size frames, a quarter of them with an offloaded VLAN tag.
func BenchmarkDecodeBlock(b *testing.B) {
	big := pktbuild.Build(pktbuild.Ethernet{Dst: macB, Src: macA}, ipv4, seg, pktbuild.Payload(make([]byte, 1448)))
	var frames []ringFrame
	for i := range 64 {
		f := ringFrame{data: big, sec: uint32(i)}
		if i%4 == 0 {
			f.status, f.tci = statusVLANValid, 10
		}
		frames = append(frames, f)
	}
	blk := buildBlock(frames...)
	d := ethernetDecoder()
	var bytes int
	handle := func(f *layers.Frame) error { bytes += len(f.Data); return nil }
	b.ReportAllocs()
	b.SetBytes(int64(len(frames) * len(big)))
	b.ResetTimer()
	for b.Loop() {
		if err := d.block(blk, handle); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(frames)), "ns/packet")
}
