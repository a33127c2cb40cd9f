package layers

import (
	"encoding/binary"
	"net/netip"
)

// Ethernet types and IP protocol numbers the decoder acts on.
const (
	etherIPv4     = 0x0800
	etherIPv6     = 0x86dd
	etherVLAN     = 0x8100
	etherQinQ     = 0x88a8
	etherQinQ9100 = 0x9100
	etherMPLS     = 0x8847
	protoTCP      = 6

	ipv6HopByHop = 0
	ipv6Routing  = 43
	ipv6Fragment = 44
	ipv6AH       = 51
	ipv6DestOpts = 60
)

// Report.xml family values (Linux AF_INET / AF_INET6).
const (
	FamilyIPv4 = 2
	FamilyIPv6 = 10
)

var be = binary.BigEndian

// Supported reports whether Decode understands frames of link type lt.
// tcpflow 1.6.1 refuses the others with "sorry - unknown datalink type".
func Supported(lt LinkType) bool {
	switch lt {
	case LinkNull, LinkEthernet, LinkIEEE802, LinkPPP, LinkRaw, 12, 14,
		LinkLoop, LinkLinuxSLL, LinkIPv4, LinkIPv6, LinkLinuxSLL2,
		LinkIEEE80211, LinkPrism, LinkRadiotap:
		return true
	}
	return false
}

// Decode decodes f into s following tcpflow 1.6.1's rules (with the
// corrections in DESIGN §4). s's slices point into f.Data; its fields are
// only meaningful for StatusTCP (MACDst/MACSrc always are). It never
// allocates and never reads outside f.Data.
func Decode(f *Frame, s *Segment) Status {
	return Decoder{}.Decode(f, s)
}

// Decoder is Decode with tcpflow's -S settings; the zero value is tcpflow's
// defaults.
type Decoder struct {
	// IgnoreFCS is -S check_fcs=NO: 802.11 frames are taken without
	// checking their frame check sequence (it is still not payload).
	IgnoreFCS bool
}

// Decode is the package's Decode with d's settings.
func (d Decoder) Decode(f *Frame, s *Segment) Status {
	data := f.Data
	*s = Segment{VLAN: -1}
	// tcpflow records frame bytes 0–5 and 6–11 as MACs whatever the link.
	if len(data) >= 6 {
		s.MACDst = [6]byte(data[0:6])
	}
	if len(data) >= 12 {
		s.MACSrc = [6]byte(data[6:12])
	}
	ip, ok := d.linkPayload(f.LinkType, data, s)
	if !ok {
		return StatusNotIP
	}
	return decodeIP(ip, s)
}

// linkPayload strips the link layer. ok is false where tcpflow's datalink
// handler drops the frame before its IP layer sees it.
func (d Decoder) linkPayload(lt LinkType, data []byte, s *Segment) (ip []byte, ok bool) {
	switch lt {
	case LinkEthernet, LinkIEEE802:
		return ethernetPayload(data, s)
	case LinkNull, LinkLoop:
		return loopbackPayload(data)
	case LinkRaw, 12, 14, LinkIPv4, LinkIPv6:
		return data, true
	case LinkPPP:
		if len(data) < 4 {
			return nil, false
		}
		return data[4:], true // the PPP header is skipped unread, as tcpflow does
	case LinkLinuxSLL:
		return cookedPayload(data, 16, 14)
	case LinkLinuxSLL2:
		return cookedPayload(data, 20, 0)
	case LinkRadiotap, LinkIEEE80211:
		return d.radiotapPayload(data)
	case LinkPrism:
		return d.prismPayload(data)
	}
	return nil, false
}

// ethernetPayload skips 802.1Q/802.1ad/0x9100 tags at any depth; only IPv4
// and IPv6 go on. An outer 0x8100 tag's TCI is the flow's VLAN.
func ethernetPayload(data []byte, s *Segment) ([]byte, bool) {
	off := 12
	for {
		if len(data) < off+2 {
			return nil, false
		}
		switch be.Uint16(data[off:]) {
		case etherVLAN, etherQinQ, etherQinQ9100:
			if off == 12 && be.Uint16(data[12:]) == etherVLAN && len(data) >= 16 {
				s.VLAN = int32(be.Uint16(data[14:]))
			}
			off += 4
			continue
		case etherIPv4, etherIPv6:
			return data[off+2:], true
		}
		return nil, false
	}
}

// loopbackPayload reads the 4-byte address family of NULL/LOOP frames.
// Besides what tcpflow accepts (first byte 2 or 10), both byte orders and
// every AF_INET6 value in use are accepted (DESIGN §4.5).
func loopbackPayload(data []byte) ([]byte, bool) {
	if len(data) < 4 {
		return nil, false
	}
	// tcpflow's test, kept so that everything it reads is read: the first
	// byte is Linux's AF_INET or AF_INET6.
	if data[0] == 2 || data[0] == 10 {
		return data[4:], true
	}
	if !knownFamily(binary.LittleEndian.Uint32(data)) && !knownFamily(be.Uint32(data)) {
		return nil, false
	}
	return data[4:], true
}

func knownFamily(af uint32) bool {
	switch af {
	case 2, // AF_INET everywhere
		10, // AF_INET6 Linux
		24, // NetBSD, OpenBSD
		28, // FreeBSD, DragonFly
		30: // macOS
		return true
	}
	return false
}

// cookedPayload handles Linux cooked headers of hdrLen bytes whose protocol
// field is at protoOff. As tcpflow does for v1, the protocol is not checked
// (so ARP reaches the IP layer and is refused there) and an MPLS label stack
// is unwound.
func cookedPayload(data []byte, hdrLen, protoOff int) ([]byte, bool) {
	if len(data) < hdrLen {
		return nil, false
	}
	if be.Uint16(data[protoOff:]) != etherMPLS {
		return data[hdrLen:], true
	}
	// tcpflow shortens its caplen by each label while also counting the
	// label in its bound, so a stack of k labels needs hdrLen+8k bytes.
	for mpls := 0; ; {
		if len(data)-mpls < hdrLen+mpls+4 {
			return nil, false
		}
		mpls += 4
		if data[hdrLen+mpls-2]&1 != 0 { // bottom of stack
			return data[hdrLen+mpls:], true
		}
	}
}

// decodeIP decodes the IP datagram; the version nibble decides, as in
// tcpflow (which needs 20 bytes before it looks).
func decodeIP(ip []byte, s *Segment) Status {
	if len(ip) < 20 {
		return StatusIPNotTCP
	}
	switch ip[0] >> 4 {
	case 4:
		return decodeIPv4(ip, s)
	case 6:
		return decodeIPv6(ip, s)
	}
	return StatusIPNotTCP
}

func decodeIPv4(ip []byte, s *Segment) Status {
	// Addresses first: netviz counts packets that are not TCP by address.
	s.Src = netip.AddrFrom4([4]byte(ip[12:16]))
	s.Dst = netip.AddrFrom4([4]byte(ip[16:20]))
	if ip[9] != protoTCP {
		return StatusIPNotTCP
	}
	if be.Uint16(ip[6:])&0x1fff != 0 { // not the first fragment
		return StatusIPNotTCP
	}
	total := int(be.Uint16(ip[2:]))
	if total == 0 {
		// A GSO/TSO super-packet seen at TC or by a tap before
		// segmentation: its length does not fit 16 bits, and the datagram
		// runs to the end of the frame (tcpdump's reading too).
		total = len(ip)
	}
	hl := int(ip[0]&0xf) * 4
	if hl > total || hl < 20 {
		// hl < 20 would make tcpflow read the IP header as TCP: malformed.
		return StatusIPNotTCP
	}
	// The datagram ends at its total length (padding and trailers are not
	// payload, DESIGN §4.1) or where the capture ends.
	end := min(total, len(ip))
	if hl > end {
		return StatusIPNotTCP
	}
	s.Family = FamilyIPv4
	return decodeTCP(ip[hl:end], s)
}

func decodeIPv6(ip []byte, s *Segment) Status {
	if len(ip) < 40 {
		return StatusIPNotTCP
	}
	s.Src = netip.AddrFrom16([16]byte(ip[8:24]))
	s.Dst = netip.AddrFrom16([16]byte(ip[24:40]))
	plen := int(be.Uint16(ip[4:]))
	if plen == 0 {
		// A BIG TCP super-packet (> 64 KiB, RFC 2675 jumbogram style): the
		// payload runs to the end of the frame.
		plen = len(ip) - 40
	}
	// The payload length is clamped to the capture (DESIGN §4.4): tcpflow
	// reads past the packet instead.
	rest := ip[40:min(40+plen, len(ip))]
	next := ip[6]
	for next != protoTCP {
		var ok bool
		if next, rest, ok = skipExtension(next, rest); !ok {
			return StatusIPNotTCP
		}
	}
	s.Family = FamilyIPv6
	return decodeTCP(rest, s)
}

// skipExtension steps over one IPv6 extension header (DESIGN §4.5). ok is
// false for anything that is not an extension header on the way to TCP, a
// truncated header, or a fragment other than the first.
func skipExtension(hdr uint8, b []byte) (next uint8, rest []byte, ok bool) {
	if len(b) < 8 {
		return 0, nil, false
	}
	var n int
	switch hdr {
	case ipv6HopByHop, ipv6Routing, ipv6DestOpts:
		n = (int(b[1]) + 1) * 8
	case ipv6AH:
		n = (int(b[1]) + 2) * 4
	case ipv6Fragment:
		if be.Uint16(b[2:])>>3 != 0 {
			return 0, nil, false
		}
		n = 8
	default:
		return 0, nil, false
	}
	if n > len(b) {
		return 0, nil, false
	}
	return b[0], b[n:], true
}

// decodeTCP decodes the TCP header at the start of seg, the IP payload.
func decodeTCP(seg []byte, s *Segment) Status {
	if len(seg) < 20 {
		return StatusIPNotTCP
	}
	off := int(seg[12]>>4) * 4
	if off < 20 {
		// tcpflow would store header bytes as payload (DESIGN §4.4).
		return StatusIPNotTCP
	}
	s.SrcPort = be.Uint16(seg[0:])
	s.DstPort = be.Uint16(seg[2:])
	s.Seq = be.Uint32(seg[4:])
	s.Ack = be.Uint32(seg[8:])
	s.Flags = seg[13]
	if off < len(seg) {
		s.Payload = seg[off:]
	} else {
		s.Payload = seg[len(seg):] // options run past the segment: no payload, as tcpflow
	}
	return StatusTCP
}
