package pktbuild

import "net/netip"

// TCP is a TCP header; the checksum covers the outer IP's pseudo-header.
type TCP struct {
	SrcPort, DstPort uint16
	Seq, Ack         uint32
	Flags            uint8
	Window           uint16
	Urgent           uint16
	// Options are zero-padded to 4 bytes.
	Options []byte
	// DataOff overrides the data offset in 4-byte words (0: computed).
	DataOff uint8
}

func (t TCP) size() int { return 20 + (len(t.Options)+3)&^3 }

func (t TCP) put(b []byte, outer, _ Layer) {
	hl := t.size()
	be.PutUint16(b[0:], t.SrcPort)
	be.PutUint16(b[2:], t.DstPort)
	be.PutUint32(b[4:], t.Seq)
	be.PutUint32(b[8:], t.Ack)
	off := t.DataOff
	if off == 0 {
		off = uint8(hl / 4)
	}
	b[12] = off << 4
	b[13] = t.Flags
	be.PutUint16(b[14:], t.Window)
	be.PutUint16(b[16:], 0)
	be.PutUint16(b[18:], t.Urgent)
	clear(b[20:hl])
	copy(b[20:hl], t.Options)
	be.PutUint16(b[16:], checksum(pseudoSum(outer, ProtoTCP, len(b)), b))
}

// UDP is a UDP header; length and checksum are computed.
type UDP struct {
	SrcPort, DstPort uint16
}

func (u UDP) size() int { return 8 }

func (u UDP) put(b []byte, outer, _ Layer) {
	be.PutUint16(b[0:], u.SrcPort)
	be.PutUint16(b[2:], u.DstPort)
	be.PutUint16(b[4:], uint16(len(b)))
	be.PutUint16(b[6:], 0)
	sum := checksum(pseudoSum(outer, ProtoUDP, len(b)), b)
	if sum == 0 {
		sum = 0xffff // 0 means "no checksum" in UDP
	}
	be.PutUint16(b[6:], sum)
}

// ICMP is an ICMP header, or ICMPv6 when inside IPv6 (then the checksum
// includes the pseudo-header).
type ICMP struct {
	Type, Code uint8
	Rest       [4]byte // identifier/sequence, MTU, unused …
}

func (c ICMP) size() int { return 8 }

func (c ICMP) put(b []byte, outer, _ Layer) {
	b[0], b[1] = c.Type, c.Code
	be.PutUint16(b[2:], 0)
	copy(b[4:8], c.Rest[:])
	var sum uint32
	if isV6(outer) {
		sum = pseudoSum(outer, ProtoICMPv6, len(b))
	}
	be.PutUint16(b[2:], checksum(sum, b))
}

// ARP is an Ethernet/IPv4 ARP packet.
type ARP struct {
	Op       uint16 // 1 request, 2 reply
	SHA, THA [6]byte
	SPA, TPA netip.Addr
}

func (a ARP) size() int { return 28 }

func (a ARP) put(b []byte, _, _ Layer) {
	be.PutUint16(b[0:], ARPHRDEthernet)
	be.PutUint16(b[2:], EtherTypeIPv4)
	b[4], b[5] = 6, 4
	be.PutUint16(b[6:], a.Op)
	copy(b[8:14], a.SHA[:])
	copy(b[14:18], addr4(a.SPA))
	copy(b[18:24], a.THA[:])
	copy(b[24:28], addr4(a.TPA))
}
