// Package pktbuild hand-builds network frames for tests: golden captures,
// the filter differential corpus, eBPF BPF_PROG_TEST_RUN inputs.
//
// A frame is a list of layers from the outside in, the last one usually the
// Payload:
//
//	frame := pktbuild.Build(
//		pktbuild.Ethernet{Dst: mac2, Src: mac1},
//		pktbuild.IPv4{Src: a, Dst: b},
//		pktbuild.TCP{SrcPort: 54156, DstPort: 80, Seq: 1001, Flags: pktbuild.PSH | pktbuild.ACK},
//		pktbuild.Payload("GET / HTTP/1.0\r\n\r\n"),
//	)
//
// Build fills in what a careful sender would: lengths, checksums (IPv4
// header, TCP, UDP, ICMP/ICMPv6 with the pseudo-header), the Ethernet type /
// IP protocol / next header from the layer that follows, and the IPv6
// extension-header chain. Every derived field has an override so tests can
// build broken packets on purpose (a wrong total length, a data offset below
// 5, a VLAN tag with an odd TPID). A zero override means "derive it".
//
// Frames are written to capture files with package pcapfile (WritePcap and
// WritePcapng here are shortcuts for tests).
package pktbuild

import (
	"encoding/binary"
	"net/netip"
)

// TCP flag bits.
const (
	FIN = 0x01
	SYN = 0x02
	RST = 0x04
	PSH = 0x08
	ACK = 0x10
	URG = 0x20
)

// IPv4 flag bits for IPv4.Flags (the 3-bit field above the fragment offset).
const (
	IPv4MoreFragments = 0x1
	IPv4DontFragment  = 0x2
)

// IP protocol numbers used for derivation and IPv6 extension headers.
const (
	ProtoHopByHop  = 0
	ProtoICMP      = 1
	ProtoTCP       = 6
	ProtoUDP       = 17
	ProtoRouting   = 43
	ProtoFragment  = 44
	ProtoAH        = 51
	ProtoICMPv6    = 58
	ProtoNoNext    = 59
	ProtoDestOpts  = 60
	EtherTypeIPv4  = 0x0800
	EtherTypeARP   = 0x0806
	EtherTypeIPv6  = 0x86dd
	EtherTypeMPLS  = 0x8847
	EtherTypeVLAN  = 0x8100
	EtherTypeQinQ  = 0x88a8
	EtherType9100  = 0x9100
	ARPHRDEthernet = 1
)

// Layer is one header (or the payload) of a frame. Only this package's types
// implement it.
type Layer interface {
	// size is the number of bytes this layer adds in front of its inner layers.
	size() int
	// put writes the layer into b[:size()]; b[size():] already holds the inner
	// layers' final bytes (so lengths and checksums can cover them). outer and
	// inner are the neighbouring layers (nil at the ends).
	put(b []byte, outer, inner Layer)
}

// Build serialises layers (outermost first) into a new frame.
func Build(layers ...Layer) []byte {
	return Append(nil, layers...)
}

// Append serialises layers (outermost first) onto dst and returns the
// extended slice; it allocates only when dst lacks capacity.
func Append(dst []byte, layers ...Layer) []byte {
	total := 0
	for _, l := range layers {
		total += l.size()
	}
	start := len(dst)
	dst = grow(dst, total)
	// Inner layers first, so every header is written over final inner bytes.
	end := start + total
	for i := len(layers) - 1; i >= 0; i-- {
		off := end - layers[i].size()
		for _, l := range layers[i+1:] {
			off -= l.size()
		}
		var outer, inner Layer
		if i > 0 {
			outer = layers[i-1]
		}
		if i+1 < len(layers) {
			inner = layers[i+1]
		}
		layers[i].put(dst[off:end], outer, inner)
	}
	return dst
}

func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b[:len(b)+n]
	}
	nb := make([]byte, len(b)+n, 2*len(b)+n)
	copy(nb, b)
	return nb
}

// Payload is raw bytes: application data, or any header this package does
// not model.
type Payload []byte

func (p Payload) size() int                { return len(p) }
func (p Payload) put(b []byte, _, _ Layer) { copy(b, p) }

// etherTypeOf is the Ethernet type announcing layer l.
func etherTypeOf(l Layer) uint16 {
	switch l.(type) {
	case IPv4:
		return EtherTypeIPv4
	case IPv6:
		return EtherTypeIPv6
	case ARP:
		return EtherTypeARP
	case MPLS:
		return EtherTypeMPLS
	}
	return 0
}

// protoOf is the IP protocol number announcing layer l.
func protoOf(l Layer, v6 bool) uint8 {
	switch l.(type) {
	case TCP:
		return ProtoTCP
	case UDP:
		return ProtoUDP
	case ICMP:
		if v6 {
			return ProtoICMPv6
		}
		return ProtoICMP
	}
	if v6 {
		return ProtoNoNext
	}
	return 0
}

var be = binary.BigEndian

// checksum is the Internet checksum (RFC 1071) of b, starting from sum.
func checksum(sum uint32, b []byte) uint16 {
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// pseudoSum is the partial checksum of the pseudo-header the outer IP layer
// contributes to a TCP/UDP/ICMPv6 checksum (0 when outer is not IP).
func pseudoSum(outer Layer, proto uint8, length int) uint32 {
	var sum uint32
	add := func(a netip.Addr) {
		if !a.IsValid() {
			return
		}
		s := a.AsSlice()
		for i := 0; i+1 < len(s); i += 2 {
			sum += uint32(s[i])<<8 | uint32(s[i+1])
		}
	}
	switch ip := outer.(type) {
	case IPv4:
		add(ip.Src)
		add(ip.Dst)
	case IPv6:
		add(ip.Src)
		add(ip.Dst)
	default:
		return 0
	}
	return sum + uint32(proto) + uint32(length>>16) + uint32(length&0xffff)
}

func isV6(outer Layer) bool {
	_, ok := outer.(IPv6)
	return ok
}
