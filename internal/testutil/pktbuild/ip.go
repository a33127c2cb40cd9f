package pktbuild

import "net/netip"

// IPv4 is an IPv4 header. Src and Dst must be IPv4 addresses.
type IPv4 struct {
	Src, Dst netip.Addr
	// Proto is the protocol; 0 derives it from the next layer (TCP 6, UDP 17,
	// ICMP 1, anything else 0).
	Proto uint8
	// TTL defaults to 64 when 0.
	TTL uint8
	TOS uint8
	ID  uint16
	// Flags holds IPv4DontFragment / IPv4MoreFragments.
	Flags uint8
	// FragOff is the fragment offset in 8-byte units.
	FragOff uint16
	// Options are appended after the fixed header, zero-padded to 4 bytes.
	Options []byte
	// TotalLen overrides the total length field (0: header + inner layers).
	TotalLen uint16
	// IHL overrides the header length field in 4-byte words (0: computed).
	IHL uint8
}

func (ip IPv4) size() int { return 20 + (len(ip.Options)+3)&^3 }

func (ip IPv4) put(b []byte, _, inner Layer) {
	hl := ip.size()
	ihl := ip.IHL
	if ihl == 0 {
		ihl = uint8(hl / 4)
	}
	b[0] = 4<<4 | ihl&0xf
	b[1] = ip.TOS
	total := ip.TotalLen
	if total == 0 {
		total = uint16(len(b))
	}
	be.PutUint16(b[2:], total)
	be.PutUint16(b[4:], ip.ID)
	be.PutUint16(b[6:], uint16(ip.Flags&7)<<13|ip.FragOff&0x1fff)
	b[8] = ip.TTL
	if b[8] == 0 {
		b[8] = 64
	}
	b[9] = ip.Proto
	if b[9] == 0 {
		b[9] = protoOf(inner, false)
	}
	be.PutUint16(b[10:], 0)
	copy(b[12:16], addr4(ip.Src))
	copy(b[16:20], addr4(ip.Dst))
	clear(b[20:hl])
	copy(b[20:hl], ip.Options)
	be.PutUint16(b[10:], checksum(0, b[:hl]))
}

func addr4(a netip.Addr) []byte {
	if a.Is4() || a.Is4In6() {
		v := a.Unmap().As4()
		return v[:]
	}
	return make([]byte, 4)
}

// IPv6 is an IPv6 header followed by its extension headers.
type IPv6 struct {
	Src, Dst     netip.Addr
	TrafficClass uint8
	FlowLabel    uint32
	// HopLimit defaults to 64 when 0.
	HopLimit uint8
	// ExtHeaders are chained in order; the fixed header's next-header field
	// names the first, each one names the following, the last names Proto.
	ExtHeaders []ExtHeader
	// Proto is the upper-layer protocol; 0 derives it from the next layer
	// (TCP 6, UDP 17, ICMPv6 58, anything else 59 "no next header").
	Proto uint8
	// PayloadLen overrides the payload length field (0: extension headers +
	// inner layers).
	PayloadLen uint16
}

// ExtHeader is an IPv6 extension header: Type is its protocol number
// (ProtoHopByHop, ProtoRouting, ProtoFragment, ProtoDestOpts, ProtoAH) and
// Data the bytes after the next-header and length bytes, zero-padded to the
// header's size rule (8-byte units; a fragment header is always 8 bytes).
type ExtHeader struct {
	Type uint8
	Data []byte
}

// IPv6Fragment is a fragment header: offset in 8-byte units, the M flag and
// the identification.
func IPv6Fragment(offset uint16, more bool, id uint32) ExtHeader {
	d := make([]byte, 6)
	v := offset << 3
	if more {
		v |= 1
	}
	be.PutUint16(d[0:], v)
	be.PutUint32(d[2:], id)
	return ExtHeader{Type: ProtoFragment, Data: d}
}

func (h ExtHeader) size() int {
	if h.Type == ProtoFragment {
		return 8
	}
	return (2 + len(h.Data) + 7) &^ 7
}

func (h ExtHeader) put(b []byte, next uint8) {
	n := h.size()
	b[0] = next
	switch h.Type {
	case ProtoFragment:
		b[1] = 0
	case ProtoAH: // length in 4-byte units minus 2 (RFC 4302)
		b[1] = uint8(n/4 - 2)
	default: // length in 8-byte units, not counting the first 8
		b[1] = uint8(n/8 - 1)
	}
	clear(b[2:n])
	copy(b[2:n], h.Data)
}

func (ip IPv6) size() int {
	n := 40
	for _, h := range ip.ExtHeaders {
		n += h.size()
	}
	return n
}

func (ip IPv6) put(b []byte, _, inner Layer) {
	be.PutUint32(b[0:], 6<<28|uint32(ip.TrafficClass)<<20|ip.FlowLabel&0xfffff)
	plen := ip.PayloadLen
	if plen == 0 {
		plen = uint16(len(b) - 40)
	}
	be.PutUint16(b[4:], plen)
	b[7] = ip.HopLimit
	if b[7] == 0 {
		b[7] = 64
	}
	copy(b[8:24], addr16(ip.Src))
	copy(b[24:40], addr16(ip.Dst))
	proto := ip.Proto
	if proto == 0 {
		proto = protoOf(inner, true)
	}
	// Walk the chain: each header's next-header byte names what follows it.
	nextField := &b[6]
	p := b[40:]
	for _, h := range ip.ExtHeaders {
		*nextField = h.Type
		h.put(p, 0)
		nextField = &p[0]
		p = p[h.size():]
	}
	*nextField = proto
}

func addr16(a netip.Addr) []byte {
	v := a.As16()
	return v[:]
}
