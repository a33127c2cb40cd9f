package filter

import (
	"net/netip"
	"strings"

	"github.com/bpflow/bpflow/internal/layers"
)

// Ether types and IP protocols the generator uses.
const (
	etIP     = 0x0800
	etARP    = 0x0806
	etRARP   = 0x8035
	etIPv6   = 0x86dd
	et8021Q  = 0x8100
	et8021AD = 0x88a8
	etQinQ   = 0x9100
	etMPLS   = 0x8847
	etPPPoED = 0x8863
	etPPPoES = 0x8864
	etMTU    = 1500

	ipICMP  = 1
	ipIGMP  = 2
	ipTCP   = 6
	ipIGRP  = 9
	ipUDP   = 17
	ipFrag  = 44
	ipESP   = 50
	ipAH    = 51
	ipICMP6 = 58
	ipPIM   = 103
	ipVRRP  = 112
	ipSCTP  = 132
	// protoUndef is libpcap's PROTO_UNDEF: a port on TCP, UDP and SCTP.
	protoUndef = -1
)

// gen holds one compilation's state: the link layer and the offsets that vlan
// and mpls move as the expression is read left to right.
type gen struct {
	link       layers.LinkType
	linkName   string
	offLinkHdr int // offset of the link-layer header (moves after pppoes)
	offLinkTyp int // offset of the link-layer type field, -1 when there is none
	offLinkPL  int // offset of the link-layer payload
	offNL      int // offset of the network layer within the payload (mpls)
	mplsDepth  int
	regs       [16]bool
	curReg     int
}

var linkNames = map[layers.LinkType]string{
	layers.LinkNull: "BSD loopback", layers.LinkEthernet: "Ethernet",
	layers.LinkRaw: "Raw IP", layers.LinkLoop: "OpenBSD loopback",
	layers.LinkLinuxSLL: "Linux cooked v1", layers.LinkIPv4: "Raw IPv4",
	layers.LinkIPv6: "Raw IPv6", layers.LinkLinuxSLL2: "Linux cooked v2", layers.LinkPPP: "PPP",
}

func newGen(link layers.LinkType) (*gen, error) {
	g := &gen{link: link, linkName: linkNames[link]}
	switch link {
	case layers.LinkEthernet:
		g.offLinkTyp, g.offLinkPL = 12, 14
	case layers.LinkNull, layers.LinkLoop:
		g.offLinkTyp, g.offLinkPL = 0, 4
	case layers.LinkLinuxSLL:
		g.offLinkTyp, g.offLinkPL = 14, 16
	case layers.LinkLinuxSLL2:
		g.offLinkTyp, g.offLinkPL = 0, 20
	case layers.LinkRaw, layers.LinkIPv4, layers.LinkIPv6:
		g.offLinkTyp, g.offLinkPL = -1, 0
	case layers.LinkPPP:
		g.offLinkTyp, g.offLinkPL = 2, 4
	default:
		return nil, errorf("filters on link type %d are not supported", link)
	}
	return g, nil
}

func (g *gen) nl() uint32 { return uint32(g.offLinkPL + g.offNL) }

func ld(size uint16, off uint32) stmt { return stmt{opLD | mABS | size, off} }

// mcmp is gen_mcmp: load size bytes at off, mask, compare with v.
func mcmp(off uint32, size uint16, v, mask uint32) *frag {
	return ncmp(off, size, mask, jJEQ, false, v)
}

func cmp(off uint32, size uint16, v uint32) *frag { return mcmp(off, size, v, 0xffffffff) }

func ncmp(off uint32, size uint16, mask uint32, cond uint16, reverse bool, v uint32) *frag {
	s := []stmt{ld(size, off)}
	if mask != 0xffffffff {
		s = append(s, stmt{opALU | aluAND | srcK, mask})
	}
	b := leaf(s, cond, v)
	if reverse {
		return not(b)
	}
	return b
}

// uncond is gen_true/gen_false: a jump on a constant.
func uncond(result bool) *frag {
	k := uint32(1)
	if result {
		k = 0
	}
	return leaf([]stmt{{opLD | mIMM, k}}, jJEQ, 0)
}

// linktype is gen_linktype: does the link layer say ll (an ether type)?
func (g *gen) linktype(ll uint32) *frag {
	if g.mplsDepth > 0 {
		switch ll {
		case etIP:
			return g.mplsLinktype(0x40)
		case etIPv6:
			return g.mplsLinktype(0x60)
		}
		fail("unsupported protocol over mpls")
	}
	switch g.link {
	case layers.LinkEthernet:
		return g.etherLinktype(ll)
	case layers.LinkLinuxSLL, layers.LinkLinuxSLL2:
		if ll == sapISONS || ll == 0x06 || ll == 0xf0 { // ISO, IP and NetBEUI SAPs: DSAP and SSAP
			return and(cmp(uint32(g.offLinkTyp), szH, 4), cmp(uint32(g.offLinkPL), szH, ll<<8|ll))
		}
		if ll <= etMTU {
			return and(cmp(uint32(g.offLinkTyp), szH, 4), cmp(uint32(g.offLinkPL), szB, ll))
		}
		return cmp(uint32(g.offLinkTyp), szH, ll)
	case layers.LinkNull, layers.LinkLoop:
		switch ll {
		case etIP:
			return g.loopbackFamily(2)
		case etIPv6:
			// The BSDs' AF_INET6 values (BSD, FreeBSD, Darwin), as libpcap does for files.
			return or(or(g.loopbackFamily(24), g.loopbackFamily(28)), g.loopbackFamily(30))
		}
		return uncond(false)
	case layers.LinkPPP:
		return cmp(uint32(g.offLinkTyp), szH, pppType(ll))
	case layers.LinkIPv4:
		return uncond(ll == etIP)
	case layers.LinkIPv6:
		return uncond(ll == etIPv6)
	default: // raw IP: the version nibble
		switch ll {
		case etIP:
			return mcmp(0, szB, 0x40, 0xf0)
		case etIPv6:
			return mcmp(0, szB, 0x60, 0xf0)
		}
		return uncond(false)
	}
}

func (g *gen) etherLinktype(ll uint32) *frag {
	typ := uint32(g.offLinkTyp)
	switch {
	case ll == 0xfe || ll == 0x06 || ll == 0xf0: // ISO, IP and NetBEUI SAPs: DSAP and SSAP
		return and(not(ncmp(typ, szH, 0xffffffff, jJGT, false, etMTU)), cmp(typ+2, szH, ll<<8|ll))
	case ll <= etMTU:
		return and(not(ncmp(typ, szH, 0xffffffff, jJGT, false, etMTU)), cmp(typ+2, szB, ll))
	}
	return cmp(typ, szH, ll)
}

// mplsLinktype checks the bottom-of-stack bit and the IP version nibble.
func (g *gen) mplsLinktype(version uint32) *frag {
	return and(mcmp(g.nl()-4+2, szB, 1, 1), mcmp(g.nl(), szB, version, 0xf0))
}

// ipfrag is "not a non-first IPv4 fragment".
func (g *gen) ipfrag() *frag {
	return not(leaf([]stmt{ld(szH, g.nl()+6)}, jJSET, 0x1fff))
}

// proto is gen_proto: "[ip|ip6|ether] proto v".
func (g *gen) proto(v uint32, proto, dir string) *frag {
	if dir != "" {
		fail("direction applied to 'proto'")
	}
	switch proto {
	case "":
		return or(g.proto(v, "ip", ""), g.proto(v, "ip6", ""))
	case "ether":
		return g.linktype(v)
	case "ip":
		return and(g.linktype(etIP), cmp(g.nl()+9, szB, v))
	case "ip6":
		// Also a fragment header before the final header.
		f := or(cmp(g.nl()+6, szB, v), and(cmp(g.nl()+6, szB, ipFrag), cmp(g.nl()+40, szB, v)))
		return and(g.linktype(etIPv6), f)
	case "arp", "rarp":
		fail("%s does not encapsulate another protocol", proto)
	case "atalk":
		fail("AppleTalk encapsulation is not specifiable")
	case "decnet":
		fail("DECNET encapsulation is not specifiable")
	case "lat", "sca", "moprc", "mopdl":
		fail("%s does not encapsulate another protocol", strings.ToUpper(proto))
	case "iso":
		return and(g.linktype(sapISONS), cmp(g.nlNoSNAP(), szB, v))
	case "isis":
		// The PDU type is 4 bytes into the IS-IS header.
		return and(g.proto(nlpidISIS, "iso", ""), cmp(g.nlNoSNAP()+4, szB, v))
	case "clnp":
		fail("'clnp proto' is not supported")
	}
	fail("'%s proto' is bogus", proto)
	return nil
}

// abbrevEther are the protocol names that test the link-layer type.
var abbrevEther = map[string]uint32{
	"ip": etIP, "arp": etARP, "rarp": etRARP, "ip6": etIPv6, "decnet": 0x6003, "lat": 0x6004,
	"sca": 0x6007, "mopdl": 0x6001, "moprc": 0x6002, "iso": 0xfe, "stp": 0x42, "netbeui": 0xf0,
}

// abbrevIP are the protocol names that test the IP protocol: the number and
// the family qualifier gen_proto gets ("" = IPv4 and IPv6).
var abbrevIP = map[string]struct {
	proto  uint32
	family string
}{
	"sctp": {ipSCTP, ""}, "tcp": {ipTCP, ""}, "udp": {ipUDP, ""}, "icmp": {ipICMP, "ip"},
	"igmp": {ipIGMP, "ip"}, "igrp": {ipIGRP, "ip"}, "pim": {ipPIM, ""}, "vrrp": {ipVRRP, "ip"},
	"carp": {ipVRRP, "ip"}, "icmp6": {ipICMP6, "ip6"}, "ah": {ipAH, ""}, "esp": {ipESP, ""},
}

// abbrev is gen_proto_abbrev: a protocol name on its own.
func (g *gen) abbrev(proto string) *frag {
	if et, ok := abbrevEther[proto]; ok {
		return g.linktype(et)
	}
	if p, ok := abbrevIP[proto]; ok {
		return g.proto(p.proto, p.family, "")
	}
	if v, ok := abbrevISO[proto]; ok {
		return g.proto(v, "iso", "")
	}
	if pdus, ok := isisPDUs[proto]; ok {
		return g.isisPDU(pdus)
	}
	switch proto {
	case "ether":
		fail("link layer applied in wrong context")
	case "radio":
		fail("'radio' is not a valid protocol type")
	}
	fail("'%s' is not supported by bpflow", proto)
	return nil
}

// dirOp applies a direction the way gen_hostop/gen_portop do: src, dst, or
// both combined with and/or (source first).
func dirOp(dir, what string, src, dst func() *frag) *frag {
	switch dir {
	case "src":
		return src()
	case "dst":
		return dst()
	case "and":
		return and(src(), dst())
	case "", "or":
		return or(src(), dst())
	}
	if what == "addresses" {
		what = "addresses other than 802.11 MAC addresses"
	}
	if strings.Contains(wlanDirs[dir], " and ") {
		fail("%s not valid qualifiers for %s", wlanDirs[dir], what)
	}
	fail("%s not a valid qualifier for %s", wlanDirs[dir], what)
	return nil
}

func (g *gen) hostop(addr, mask uint32, dir string, ll uint32, srcOff, dstOff uint32) *frag {
	at := func(off uint32) func() *frag {
		return func() *frag { return and(g.linktype(ll), mcmp(g.nl()+off, szW, addr, mask)) }
	}
	return dirOp(dir, "addresses", at(srcOff), at(dstOff))
}

// host is gen_host for IPv4 addresses and networks.
func (g *gen) host(addr, mask uint32, proto, dir, typ string) *frag {
	switch proto {
	case "":
		b := g.host(addr, mask, "ip", dir, typ)
		if g.mplsDepth == 0 {
			b = or(or(b, g.host(addr, mask, "arp", dir, typ)), g.host(addr, mask, "rarp", dir, typ))
		}
		return b
	case "ip":
		return g.hostop(addr, mask, dir, etIP, 12, 16)
	case "arp":
		return g.hostop(addr, mask, dir, etARP, 14, 24)
	case "rarp":
		return g.hostop(addr, mask, dir, etRARP, 14, 24)
	case "ether":
		fail("link-layer modifier applied to %s", typ)
	case "ip6":
		fail("'ip6' modifier applied to ip host")
	}
	if name, ok := hostNotImplemented[proto]; ok {
		fail("%s host filtering not implemented", name)
	}
	fail("'%s' modifier applied to %s", proto, typ)
	return nil
}

// host6 is gen_host6: four masked words, most significant first.
func (g *gen) host6(a, m [16]byte, proto, dir, typ string) *frag {
	switch proto {
	case "", "ip6":
	case "ether":
		fail("link-layer modifier applied to ip6 %s", typ)
	default:
		fail("'%s' modifier applied to ip6 %s", proto, typ)
	}
	at := func(off uint32) func() *frag {
		return func() *frag {
			var f *frag
			for i := uint32(0); i < 4; i++ {
				w := be32(a[4*i:]) & be32(m[4*i:])
				c := mcmp(g.nl()+off+4*i, szW, w, be32(m[4*i:]))
				if f == nil {
					f = c
				} else {
					f = and(f, c)
				}
			}
			return and(g.linktype(etIPv6), f)
		}
	}
	return dirOp(dir, "addresses", at(8), at(24))
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// ehost is gen_ehostop on the 6-byte addresses of an Ethernet header.
func (g *gen) ehost(mac [6]byte, dir string) *frag {
	if g.link != layers.LinkEthernet {
		fail("ethernet addresses supported only on ethernet/FDDI/token ring/802.11/ATM LANE/Fibre Channel")
	}
	if d, ok := wlanDirs[dir]; ok {
		fail("%s only supported on 802.11 with 802.11 headers", d)
	}
	at := func(off uint32) func() *frag { return func() *frag { return bcmp(off, mac[:]) } }
	return dirOp(dir, "addresses", at(6), at(0))
}

// bcmp compares bytes from the end in words, then a half word, then a byte.
func bcmp(off uint32, v []byte) *frag {
	var f *frag
	size := uint32(len(v))
	add := func(c *frag) {
		if f == nil {
			f = c
		} else {
			f = and(f, c)
		}
	}
	for size >= 4 {
		add(cmp(off+size-4, szW, be32(v[size-4:])))
		size -= 4
	}
	for size >= 2 {
		add(cmp(off+size-2, szH, uint32(v[size-2])<<8|uint32(v[size-1])))
		size -= 2
	}
	if size > 0 {
		add(cmp(off, szB, uint32(v[0])))
	}
	return f
}

// ports: "[tcp|udp|sctp] [dir] port|portrange" over IPv4 (gen_port) and IPv6.
func (g *gen) portAtom4(off, lo, hi uint32, isRange bool) *frag {
	ldp := func() []stmt {
		return []stmt{{opLDX | mMSH | szB, g.nl()}, {opLD | mIND | szH, g.nl() + off}}
	}
	if !isRange {
		return leaf(ldp(), jJEQ, lo)
	}
	return and(leaf(ldp(), jJGE, lo), not(leaf(ldp(), jJGT, hi)))
}

func (g *gen) portAtom6(off, lo, hi uint32, isRange bool) *frag {
	at := g.nl() + 40 + off
	if !isRange {
		return cmp(at, szH, lo)
	}
	return and(ncmp(at, szH, 0xffffffff, jJGE, false, lo), ncmp(at, szH, 0xffffffff, jJGT, true, hi))
}

func (g *gen) portOp(v6 bool, lo, hi uint32, isRange bool, ipProto uint32, dir string) *frag {
	atom := g.portAtom4
	var b0 *frag
	if v6 {
		atom = g.portAtom6
		b0 = cmp(g.nl()+6, szB, ipProto)
	} else {
		b0 = and(cmp(g.nl()+9, szB, ipProto), g.ipfrag())
	}
	side := func(off uint32) func() *frag { return func() *frag { return atom(off, lo, hi, isRange) } }
	what := "ports"
	if isRange {
		what = "port ranges"
	}
	return and(b0, dirOp(dir, what, side(0), side(2)))
}

func (g *gen) portFamily(v6 bool, lo, hi uint32, isRange bool, ipProto int, dir string) *frag {
	et := uint32(etIP)
	if v6 {
		et = etIPv6
	}
	b0 := g.linktype(et)
	var b1 *frag
	if ipProto == protoUndef {
		b1 = or(g.portOp(v6, lo, hi, isRange, ipTCP, dir), g.portOp(v6, lo, hi, isRange, ipUDP, dir))
		b1 = or(g.portOp(v6, lo, hi, isRange, ipSCTP, dir), b1)
	} else {
		b1 = g.portOp(v6, lo, hi, isRange, uint32(ipProto), dir)
	}
	return and(b0, b1)
}

// port is gen_port6 or'ed before gen_port, as gen_ncode/gen_scode do.
func (g *gen) port(lo, hi uint32, isRange bool, ipProto int, dir string) *frag {
	if isRange && lo > hi {
		lo, hi = hi, lo
	}
	return or(g.portFamily(true, lo, hi, isRange, ipProto, dir), g.portFamily(false, lo, hi, isRange, ipProto, dir))
}

func portProto(proto, what string) int {
	switch proto {
	case "tcp":
		return ipTCP
	case "udp":
		return ipUDP
	case "sctp":
		return ipSCTP
	case "":
		return protoUndef
	}
	fail("illegal qualifier of '%s'", what)
	return 0
}

// parseIPv6 converts like getaddrinfo: zones and IPv4 text are not IPv6 here.
func parseIPv6(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a, true
}

// loopbackFamily compares the 4-byte address family of NULL/LOOP headers.
// DLT_NULL holds it in the capturing host's byte order; libpcap compares with
// htonl(AF), right for files in little-endian order.
func (g *gen) loopbackFamily(af uint32) *frag {
	if g.link == layers.LinkNull {
		af = af<<24 | af>>24
	}
	return cmp(0, szW, af)
}

// pppType maps an Ethernet type to the PPP protocol number, as libpcap's
// ethertype_to_ppptype does.
func pppType(ll uint32) uint32 {
	switch ll {
	case etIP:
		return 0x0021
	case etIPv6:
		return 0x0057
	case 0x6003: // DECnet
		return 0x0027
	case 0x809b: // AppleTalk
		return 0x0029
	case 0x8137: // IPX
		return 0x002b
	case etMPLS:
		return 0x0281
	case sapISONS:
		return 0x0023 // PPP_OSI
	case 0x42: // the spanning tree SAP
		return 0x0201 // PPP_BRPDU
	case 0xe0: // the IPX SAP
		return 0x002b
	}
	return ll
}
