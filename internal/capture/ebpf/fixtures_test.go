package ebpf

import (
	"net/netip"

	pb "github.com/bpflow/bpflow/internal/testutil/pktbuild"
)

var (
	macA, macB = [6]byte{2, 0, 0, 0, 0, 1}, [6]byte{2, 0, 0, 0, 0, 2}
	ip4A, ip4B = netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.2")
	ip6A, ip6B = netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	eth        = pb.Ethernet{Dst: macB, Src: macA}
)

func payload(n int) pb.Payload {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte('a' + i%26)
	}
	return p
}
