package pktbuild

import "encoding/binary"

// Tag is one 802.1Q-style tag: TPID (0x8100, 0x88a8, 0x9100 …) and TCI
// (priority, DEI and VLAN id as they appear on the wire).
type Tag struct {
	TPID, TCI uint16
}

// Ethernet is an Ethernet II header with optional tags, outermost first.
type Ethernet struct {
	Dst, Src [6]byte
	Tags     []Tag
	// Type is the inner Ethernet type; 0 derives it from the next layer.
	Type uint16
}

func (e Ethernet) size() int { return 14 + 4*len(e.Tags) }

func (e Ethernet) put(b []byte, _, inner Layer) {
	copy(b[0:6], e.Dst[:])
	copy(b[6:12], e.Src[:])
	p := b[12:]
	for _, t := range e.Tags {
		be.PutUint16(p[0:], t.TPID)
		be.PutUint16(p[2:], t.TCI)
		p = p[4:]
	}
	typ := e.Type
	if typ == 0 {
		typ = etherTypeOf(inner)
	}
	be.PutUint16(p, typ)
}

// SLL is a Linux cooked v1 header (LINKTYPE_LINUX_SLL, 16 bytes).
type SLL struct {
	PacketType uint16 // 0 host, 1 broadcast, 2 multicast, 3 other host, 4 outgoing
	// ARPHRD is the device type; 0 means ARPHRD_ETHER (1).
	ARPHRD uint16
	Addr   []byte // link-layer address, at most 8 bytes; its length is stored
	// Protocol is the Ethernet type; 0 derives it from the next layer.
	Protocol uint16
}

func (s SLL) size() int { return 16 }

func (s SLL) put(b []byte, _, inner Layer) {
	be.PutUint16(b[0:], s.PacketType)
	be.PutUint16(b[2:], orDefault(s.ARPHRD, ARPHRDEthernet))
	n := copy(b[6:14], s.Addr)
	be.PutUint16(b[4:], uint16(n))
	proto := s.Protocol
	if proto == 0 {
		proto = etherTypeOf(inner)
	}
	be.PutUint16(b[14:], proto)
}

// SLL2 is a Linux cooked v2 header (LINKTYPE_LINUX_SLL2, 20 bytes).
type SLL2 struct {
	// Protocol is the Ethernet type; 0 derives it from the next layer.
	Protocol uint16
	Ifindex  uint32
	// ARPHRD is the device type; 0 means ARPHRD_ETHER (1).
	ARPHRD     uint16
	PacketType uint8
	Addr       []byte // at most 8 bytes; its length is stored
}

func (s SLL2) size() int { return 20 }

func (s SLL2) put(b []byte, _, inner Layer) {
	proto := s.Protocol
	if proto == 0 {
		proto = etherTypeOf(inner)
	}
	be.PutUint16(b[0:], proto)
	be.PutUint16(b[2:], 0)
	be.PutUint32(b[4:], s.Ifindex)
	be.PutUint16(b[8:], orDefault(s.ARPHRD, ARPHRDEthernet))
	b[10] = s.PacketType
	b[11] = byte(copy(b[12:20], s.Addr))
}

// Null is the BSD loopback header (LINKTYPE_NULL): a 4-byte address family
// in the writing host's byte order.
type Null struct {
	// Family is the address family; 0 derives 2 (AF_INET) for IPv4 and 10
	// (Linux AF_INET6) for IPv6. BSD uses 24 or 28 and macOS 30 for IPv6.
	Family uint32
	// BigEndian writes the family in network order (a big-endian host).
	BigEndian bool
}

func (n Null) size() int { return 4 }

func (n Null) put(b []byte, _, inner Layer) {
	var order binary.ByteOrder = binary.LittleEndian
	if n.BigEndian {
		order = binary.BigEndian
	}
	order.PutUint32(b, familyOf(n.Family, inner))
}

// Loop is the OpenBSD loopback header (LINKTYPE_LOOP): the family in network
// byte order.
type Loop struct {
	// Family as for Null.Family.
	Family uint32
}

func (l Loop) size() int { return 4 }

func (l Loop) put(b []byte, _, inner Layer) { be.PutUint32(b, familyOf(l.Family, inner)) }

func familyOf(f uint32, inner Layer) uint32 {
	if f != 0 {
		return f
	}
	switch inner.(type) {
	case IPv4:
		return 2
	case IPv6:
		return 10
	}
	return 0
}

// PPP is the 4-byte PPP header (address 0xff, control 0x03, protocol).
type PPP struct {
	// Protocol is the PPP protocol; 0 derives 0x0021 (IPv4) or 0x0057 (IPv6).
	Protocol uint16
}

func (p PPP) size() int { return 4 }

func (p PPP) put(b []byte, _, inner Layer) {
	b[0], b[1] = 0xff, 0x03
	proto := p.Protocol
	if proto == 0 {
		switch inner.(type) {
		case IPv4:
			proto = 0x0021
		case IPv6:
			proto = 0x0057
		}
	}
	be.PutUint16(b[2:], proto)
}

// MPLSLabel is one label stack entry; Build sets the bottom-of-stack bit on
// the last one.
type MPLSLabel struct {
	Label uint32 // 20 bits
	TC    uint8  // 3 bits
	TTL   uint8
}

// MPLS is a label stack (Ethernet type 0x8847).
type MPLS struct {
	Labels []MPLSLabel
}

func (m MPLS) size() int { return 4 * len(m.Labels) }

func (m MPLS) put(b []byte, _, _ Layer) {
	for i, l := range m.Labels {
		v := l.Label<<12 | uint32(l.TC&7)<<9 | uint32(l.TTL)
		if i == len(m.Labels)-1 {
			v |= 1 << 8
		}
		be.PutUint32(b[4*i:], v)
	}
}

func orDefault(v, def uint16) uint16 {
	if v == 0 {
		return def
	}
	return v
}
