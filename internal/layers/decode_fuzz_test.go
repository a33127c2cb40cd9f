package layers_test

import (
	"bytes"
	"testing"

	"github.com/bpflow/bpflow/internal/layers"
	"github.com/bpflow/bpflow/internal/testutil/pktbuild"
)

// FuzzDecode: any frame of any link type decodes without a panic, and a
// decoded payload lies inside the frame.
func FuzzDecode(f *testing.F) {
	for _, c := range decodeCases() {
		f.Add(uint16(c.link), c.frame)
	}
	f.Fuzz(func(t *testing.T, link uint16, data []byte) {
		data = data[:len(data):len(data)] // so cap tells where a sub-slice starts
		fr := layers.Frame{LinkType: layers.LinkType(link), Data: data, WireLen: uint32(len(data))}
		var s layers.Segment
		st := layers.Decode(&fr, &s)
		if len(data) >= 12 && (!bytes.Equal(s.MACDst[:], data[0:6]) || !bytes.Equal(s.MACSrc[:], data[6:12])) {
			t.Fatalf("MACs %x %x are not frame bytes 0-11 %x", s.MACDst, s.MACSrc, data[:12])
		}
		if st != layers.StatusTCP {
			return
		}
		start := len(data) - cap(s.Payload)
		if start < 0 || start+len(s.Payload) > len(data) {
			t.Fatalf("payload [%d:+%d] outside the %d-byte frame", start, len(s.Payload), len(data))
		}
		if s.Family != layers.FamilyIPv4 && s.Family != layers.FamilyIPv6 {
			t.Fatalf("family %d", s.Family)
		}
	})
}

func benchFrame() layers.Frame {
	data := pktbuild.Build(eth, pktbuild.IPv4{Src: v4A, Dst: v4B}, tcpSeg(), pktbuild.Payload(make([]byte, 1448)))
	return layers.Frame{LinkType: layers.LinkEthernet, Data: data, WireLen: uint32(len(data))}
}

func BenchmarkDecode(b *testing.B) {
	for _, bc := range []struct {
		name  string
		frame layers.Frame
	}{
		{"ipv4-1448", benchFrame()},
		{"ipv4-ack", layers.Frame{LinkType: layers.LinkEthernet, Data: pktbuild.Build(eth, pktbuild.IPv4{Src: v4A, Dst: v4B}, tcpSeg())}},
		{"vlan-ipv6-1428", layers.Frame{LinkType: layers.LinkEthernet, Data: pktbuild.Build(tagged(pktbuild.Tag{TPID: 0x8100, TCI: 5}), pktbuild.IPv6{Src: v6A, Dst: v6B}, tcpSeg(), pktbuild.Payload(make([]byte, 1428)))}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var s layers.Segment
			b.SetBytes(int64(len(bc.frame.Data)))
			b.ReportAllocs()
			for range b.N {
				if layers.Decode(&bc.frame, &s) != layers.StatusTCP {
					b.Fatal("not decoded")
				}
			}
		})
	}
}

func TestDecodeAllocatesNothing(t *testing.T) {
	fr := benchFrame()
	var s layers.Segment
	if n := testing.AllocsPerRun(100, func() { layers.Decode(&fr, &s) }); n != 0 {
		t.Errorf("%.1f allocations per Decode, want 0", n)
	}
}
