package filter

import (
	"strings"

	"github.com/bpflow/bpflow/internal/layers"
)

// walk generates code for the syntax tree left to right, so that vlan and mpls
// move the offsets of everything after them, as libpcap's parser actions do.
func (g *gen) walk(n node) *frag {
	switch n := n.(type) {
	case nBool:
		l := g.walk(n.l)
		r := g.walk(n.r)
		if n.and {
			return and(l, r)
		}
		return or(l, r)
	case nNot:
		return not(g.walk(n.x))
	case nScanError:
		g.walk(n.x)
		panic(n.err)
	case nAbbrev:
		return g.abbrev(n.proto)
	case nID:
		return g.id(n)
	case nOther:
		return g.other(n)
	case nRel:
		return g.relation(n)
	case nLinkOnly:
		return g.linkOnly(n)
	case nByteOp:
		return g.byteOp(n)
	}
	panic("filter: unknown syntax node")
}

func (g *gen) id(n nID) *frag {
	// An id after a primitive without qualifiers (q.addr == undef) is a
	// syntax error for numbers, dotted addresses and names; the other
	// address forms report their own qualifier errors, as libpcap does.
	q := n.q
	if n.tok.err != nil {
		panic(n.tok.err)
	}
	switch n.tok.kind {
	case tNum:
		return g.ncode(nil, n.tok.num, q)
	case tHID:
		if n.mask != nil || n.masklen != nil {
			return g.mcode(n)
		}
		switch q.addr {
		case "port", "portrange", "proto", "protochain":
			fail("'%s' modifier applied to ip host", q.addr)
		}
		v, vlen := atoin(n.tok.text)
		return g.ncode(&vlen, v, q)
	case tHID6:
		return g.mcode6(n)
	case tEID:
		if (q.addr == "host" || q.addr == "") && q.proto == "ether" {
			mac, _ := parseMAC(n.tok.text)
			return g.ehost(mac, q.dir)
		}
		fail("ethernet address used in non-ether expression")
	}
	return g.scode(n.tok.text, q)
}

// atoin is __pcap_atoin: a dotted partial address and its length in bits.
func atoin(s string) (uint32, int) {
	var v uint32
	n := 0
	for _, p := range strings.Split(s, ".") {
		x, err := parseNumber(p)
		if err != nil || x > 255 {
			fail("invalid IPv4 address '%s'", s)
		}
		v = v<<8 | x
		n += 8
	}
	return v, n
}

// ncode is gen_ncode: a number or dotted partial (vlen != nil) as an id.
func (g *gen) ncode(vlen *int, v uint32, q qual) *frag {
	switch q.addr {
	case "", "host", "net":
		if q.proto == "ether" {
			fail("illegal link layer address")
		}
		mask := uint32(0xffffffff)
		if vlen == nil && q.addr == "net" {
			for v != 0 && v&0xff000000 == 0 { // promote a short net number
				v <<= 8
				mask <<= 8
			}
		} else if vlen != nil && *vlen < 32 {
			v <<= 32 - *vlen
			mask <<= 32 - *vlen
		}
		return g.host(v, mask, q.proto, q.dir, hostOrNet(q.addr))
	case "port", "portrange":
		proto := portProto(q.proto, q.addr)
		if v > 65535 {
			fail("illegal port number %d > 65535", v)
		}
		return g.port(v, v, q.addr == "portrange", proto, q.dir)
	case "gateway":
		fail("'gateway' requires a name")
	case "proto":
		return g.proto(v, q.proto, q.dir)
	case undef:
		fail("syntax error in filter expression")
	}
	fail("'protochain' is not supported by bpflow")
	return nil
}

func hostOrNet(addr string) string {
	if addr == "net" {
		return "net"
	}
	return "host"
}

// mcode is gen_mcode: "net A/len" and "net A mask M".
func (g *gen) mcode(n nID) *frag {
	a, alen := atoin(n.tok.text)
	a <<= 32 - alen
	var m uint32
	if n.mask != nil {
		mv, mlen := atoin(n.mask.text)
		m = mv << (32 - mlen)
		if a&^m != 0 {
			fail("non-network bits set in \"%s mask %s\"", n.tok.text, n.mask.text)
		}
	} else {
		if *n.masklen > 32 {
			fail("mask length must be <= 32")
		}
		if *n.masklen != 0 {
			m = 0xffffffff << (32 - *n.masklen)
		}
		if a&^m != 0 {
			fail("non-network bits set in \"%s/%d\"", n.tok.text, *n.masklen)
		}
	}
	if n.q.addr != "net" {
		fail("Mask syntax for networks only")
	}
	return g.host(a, m, n.q.proto, n.q.dir, "net")
}

// mcode6 is gen_mcode6: an IPv6 address with an optional prefix length.
func (g *gen) mcode6(n nID) *frag {
	addr, ok := parseIPv6(n.tok.text)
	if !ok {
		fail("invalid ip6 address %s", n.tok.text)
	}
	masklen := uint32(128)
	if n.masklen != nil {
		masklen = *n.masklen
	}
	if masklen > 128 {
		fail("mask length must be <= %d", 128)
	}
	var m [16]byte
	for i := uint32(0); i < masklen; i++ {
		m[i/8] |= 0x80 >> (i % 8)
	}
	a := addr.As16()
	for i := range a {
		if a[i]&^m[i] != 0 {
			fail("non-network bits set in \"%s/%d\"", n.tok.text, masklen)
		}
	}
	switch n.q.addr {
	case "", "host":
		if masklen != 128 {
			fail("Mask syntax for networks only")
		}
	case "net":
	default:
		fail("invalid qualifier against IPv6 address")
	}
	return g.host6(a, m, n.q.proto, n.q.dir, hostOrNet(n.q.addr))
}

type servicePorts struct{ tcp, udp int }

// service is pcap_nametoport: a port name and the protocol it belongs to.
func service(name string) (int, int, bool) {
	if isNumber(name) {
		v, err := parseNumber(name)
		return int(v), protoUndef, err == nil && v <= 65535
	}
	s, ok := services[name]
	switch {
	case !ok:
		return 0, 0, false
	case s.tcp >= 0 && s.udp == s.tcp:
		return s.tcp, protoUndef, true
	case s.tcp >= 0:
		return s.tcp, ipTCP, true
	}
	return s.udp, ipUDP, true
}

// checkPortProto applies "port NAME is tcp" checks for a protocol qualifier.
func checkPortProto(want, real int, what, name string) int {
	if want == protoUndef {
		return real
	}
	if real != protoUndef && real != want {
		fail("%s '%s' is %s", what, name, map[int]string{ipTCP: "tcp", ipUDP: "udp", ipSCTP: "sctp"}[real])
	}
	return want
}

var etherProtos = map[string]uint32{
	"aarp": 0x80f3, "arp": 0x0806, "atalk": 0x809b, "decnet": 0x6003, "ip": 0x0800,
	"ip6": 0x86dd, "lat": 0x6004, "loopback": 0x9000, "mopdl": 0x6001, "moprc": 0x6002,
	"rarp": 0x8035, "sca": 0x6007, "pup": 0x0200, "sprite": 0x0500,
	"iso": 0xfe, "stp": 0x42, "ipx": 0xe0, "netbeui": 0xf0,
}

// scode is gen_scode: a name as an id.
func (g *gen) scode(name string, q qual) *frag {
	switch q.addr {
	case "net":
		fail("unknown network '%s'", name)
	case "", "host":
		if q.proto == "ether" {
			if g.link != layers.LinkEthernet {
				fail("only ethernet/FDDI/token ring/802.11/ATM LANE/Fibre Channel supports link-level host name")
			}
			fail("unknown ether host '%s'", name)
		}
		return g.namedHost(name, q)
	case "port":
		want := portProto(q.proto, "port")
		port, real, ok := service(name)
		if !ok {
			fail("unknown port '%s'", name)
		}
		return g.port(uint32(port), uint32(port), false, checkPortProto(want, real, "port", name), q.dir)
	case "portrange":
		want := portProto(q.proto, "portrange")
		lo, hi, real := portRange(name)
		return g.port(lo, hi, true, checkPortProto(want, real, "port in range", name), q.dir)
	case "gateway":
		fail("'gateway' not supported in this configuration")
	case "proto":
		return g.proto(lookupProto(name, q.proto), q.proto, q.dir)
	case undef:
		fail("syntax error in filter expression")
	}
	fail("'protochain' is not supported by bpflow")
	return nil
}

// portRange is pcap_nametoportrange: "P1-P2", each a number or a service.
func portRange(name string) (uint32, uint32, int) {
	lo, hi, found := strings.Cut(name, "-")
	if !found {
		fail("unknown port in range '%s'", name)
	}
	p1, r1, ok1 := service(lo)
	p2, r2, ok2 := service(hi)
	if isNumber(lo) && isNumber(hi) {
		// Numbers out of range reach libpcap's range check.
		v1, _ := parseNumber(lo)
		v2, _ := parseNumber(hi)
		for _, v := range []uint32{v1, v2} {
			if v > 65535 {
				fail("illegal port number %d > 65535", v)
			}
		}
	}
	if !ok1 || !ok2 {
		fail("unknown port in range '%s'", name)
	}
	if r1 != r2 {
		r1 = protoUndef
	}
	return uint32(p1), uint32(p2), r1
}

func lookupProto(name, proto string) uint32 {
	switch proto {
	case "", "ip", "ip6":
		v, ok := protocols[name]
		if !ok {
			fail("unknown ip proto '%s'", name)
		}
		return v
	case "ether":
		v, ok := etherProtos[name]
		if !ok {
			fail("unknown ether proto '%s'", name)
		}
		return v
	case "iso":
		v, ok := abbrevISO[name]
		if !ok {
			fail("unknown osi proto '%s'", name)
		}
		return v
	}
	return 0xffffffff
}

// other generates the qualifier-less primitives.
func (g *gen) other(n nOther) *frag {
	switch n.kw {
	case "less":
		return not(leaf([]stmt{{opLD | mLEN | szW, 0}}, jJGT, n.num))
	case "greater":
		return leaf([]stmt{{opLD | mLEN | szW, 0}}, jJGE, n.num)
	case "inbound", "outbound":
		return g.direction(n.kw == "inbound")
	case "ifindex":
		if g.link != layers.LinkLinuxSLL2 {
			fail("ifindex not supported on %s when reading savefiles", g.linkName)
		}
		return cmp(4, szW, n.num)
	case "vlan":
		return g.vlan(n.num, n.hasNum)
	case "mpls":
		return g.mpls(n.num, n.hasNum)
	case "pppoed":
		return g.linktype(etPPPoED)
	case "pppoes":
		return g.pppoes(n.num, n.hasNum)
	case "broadcast":
		return g.broadcast(n.proto)
	case "multicast":
		return g.multicast(n.proto)
	}
	fail("'%s' is not supported by bpflow", n.kw)
	return nil
}

// byteOp is gen_byteop: a byte of the link-layer header compared with or
// masked by a value. Like libpcap 1.10.3, "&" and "|" do not load the byte
// first: they test whatever the accumulator holds.
func (g *gen) byteOp(n nByteOp) *frag {
	for _, t := range []token{n.idx, n.val} {
		if t.err != nil {
			panic(t.err)
		}
	}
	off, v := uint32(g.offLinkHdr)+n.idx.num, n.val.num
	switch n.op {
	case "=":
		return cmp(off, szB, v)
	case "<":
		return ncmp(off, szB, 0xffffffff, jJGE, true, v)
	case ">":
		return ncmp(off, szB, 0xffffffff, jJGT, false, v)
	case "|":
		return not(leaf([]stmt{{opALU | aluOR | srcK, v}}, jJEQ, 0))
	}
	return not(leaf([]stmt{{opALU | aluAND | srcK, v}}, jJEQ, 0))
}

func (g *gen) direction(inbound bool) *frag {
	var f *frag
	switch g.link {
	case layers.LinkLinuxSLL:
		f = cmp(0, szH, 4) // LINUX_SLL_OUTGOING
	case layers.LinkLinuxSLL2:
		f = cmp(10, szB, 4)
	default:
		fail("inbound/outbound not supported on %s when reading savefiles", g.linkName)
	}
	if inbound {
		return not(f)
	}
	return f
}

func (g *gen) vlan(id uint32, hasID bool) *frag {
	if g.mplsDepth > 0 {
		fail("no VLAN match after MPLS")
	}
	if g.link != layers.LinkEthernet {
		fail("no VLAN support for %s", g.linkName)
	}
	f := or(or(g.linktype(et8021Q), g.linktype(et8021AD)), g.linktype(etQinQ))
	if hasID {
		if id > 0x0fff {
			fail("VLAN tag %d greater than maximum %d", id, 0x0fff)
		}
		f = and(f, mcmp(g.nl(), szH, id, 0x0fff))
	}
	g.offLinkPL += 4
	g.offLinkTyp += 4
	return f
}

func (g *gen) mpls(label uint32, hasLabel bool) *frag {
	var f *frag
	switch {
	case g.mplsDepth > 0:
		f = mcmp(g.nl()-4+2, szB, 0, 1) // the previous label was not the bottom of the stack
	case g.link == layers.LinkEthernet, g.link == layers.LinkPPP:
		f = g.linktype(etMPLS)
	default:
		fail("no MPLS support for %s", g.linkName)
	}
	if hasLabel {
		if label > 0xfffff {
			fail("MPLS label %d greater than maximum %d", label, 0xfffff)
		}
		f = and(f, mcmp(g.nl(), szW, label<<12, 0xfffff000))
	}
	g.offNL += 4
	g.mplsDepth++
	return f
}

var ethBroadcast = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

func (g *gen) broadcast(proto string) *frag {
	switch proto {
	case "", "ether":
		if g.link != layers.LinkEthernet {
			fail("not a broadcast link")
		}
		return g.ehost(ethBroadcast, "dst")
	case "ip":
		// The netmask is 0 for savefiles, so the host part is the whole address.
		return and(g.linktype(etIP), or(mcmp(g.nl()+16, szW, 0, 0xffffffff), mcmp(g.nl()+16, szW, 0xffffffff, 0xffffffff)))
	}
	fail("only link-layer/IP broadcast filters supported")
	return nil
}

func (g *gen) multicast(proto string) *frag {
	switch proto {
	case "", "ether":
		if g.link != layers.LinkEthernet {
			break
		}
		return leaf([]stmt{ld(szB, 0)}, jJSET, 1)
	case "ip":
		return and(g.linktype(etIP), ncmp(g.nl()+16, szB, 0xffffffff, jJGE, false, 224))
	case "ip6":
		return and(g.linktype(etIPv6), cmp(g.nl()+24, szB, 255))
	}
	fail("link-layer multicast filters supported only on ethernet/FDDI/token ring/ARCNET/802.11/ATM LANE/Fibre Channel")
	return nil
}

// hosts is the built-in host table: bpflow resolves no names through DNS, so
// a filter means the same on every machine. libpcap on Debian resolves
// "localhost" to 127.0.0.1 only.
var hosts = map[string]uint32{"localhost": 0x7f000001}

func (g *gen) namedHost(name string, q qual) *frag {
	addr, ok := hosts[name]
	if !ok {
		fail("unknown host '%s'", name)
	}
	if q.proto == "ip6" || q.proto == "icmp6" {
		fail("unknown host '%s' for specified address family", name)
	}
	return g.host(addr, 0xffffffff, q.proto, q.dir, "host")
}

// pppoes is gen_pppoes: a PPPoE session frame; what follows is read as PPP
// inside it.
func (g *gen) pppoes(sess uint32, hasSess bool) *frag {
	f := g.linktype(etPPPoES)
	if hasSess {
		if sess > 0xffff {
			fail("PPPoE session number %d greater than maximum %d", sess, 0xffff)
		}
		f = and(f, mcmp(g.nl()+2, szH, sess, 0xffff))
	}
	g.offLinkHdr = int(g.nl()) + 6
	g.offLinkTyp = g.offLinkHdr
	g.offLinkPL = g.offLinkHdr + 2
	g.offNL = 0
	g.link, g.linkName = layers.LinkPPP, linkNames[layers.LinkPPP]
	return f
}
