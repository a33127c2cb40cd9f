package filter

import (
	"encoding/binary"
	"net/netip"

	"github.com/bpflow/bpflow/internal/layers"
)

// The differential corpus: crafted frames for every link type, written to
// testdata/filter/*.pcap by TestDifferential -update.

type frame struct {
	data    []byte
	wireLen uint32
}

type corpusFile struct {
	name    string
	link    layers.LinkType
	tcpdump string // tcpdump's -y name for the link type
	frames  []frame
}

func ip4(s string) []byte { a := netip.MustParseAddr(s).As4(); return a[:] }
func ip6(s string) []byte { a := netip.MustParseAddr(s).As16(); return a[:] }

func be16(v uint16) []byte { return []byte{byte(v >> 8), byte(v)} }

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// ipv4Packet builds an IPv4 header (with optional options) around payload.
func ipv4Packet(src, dst string, proto byte, frag uint16, opts, payload []byte) []byte {
	hl := 20 + len(opts)
	h := make([]byte, 20)
	h[0] = 0x40 | byte(hl/4)
	binary.BigEndian.PutUint16(h[2:], uint16(hl+len(payload)))
	binary.BigEndian.PutUint16(h[4:], 0x1234)
	binary.BigEndian.PutUint16(h[6:], frag)
	h[8], h[9] = 64, proto
	copy(h[12:], ip4(src))
	copy(h[16:], ip4(dst))
	return cat(h, opts, payload)
}

func ipv6Packet(src, dst string, nh byte, payload []byte) []byte {
	h := make([]byte, 40)
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(payload)))
	h[6], h[7] = nh, 64
	copy(h[8:], ip6(src))
	copy(h[24:], ip6(dst))
	return cat(h, payload)
}

func tcpSeg(sport, dport uint16, flags byte, payload string) []byte {
	h := make([]byte, 20)
	binary.BigEndian.PutUint16(h[0:], sport)
	binary.BigEndian.PutUint16(h[2:], dport)
	binary.BigEndian.PutUint32(h[4:], 1000)
	binary.BigEndian.PutUint32(h[8:], 2000)
	h[12], h[13] = 5<<4, flags
	binary.BigEndian.PutUint16(h[14:], 65535)
	return cat(h, []byte(payload))
}

func udpDgram(sport, dport uint16, payload string) []byte {
	h := make([]byte, 8)
	binary.BigEndian.PutUint16(h[0:], sport)
	binary.BigEndian.PutUint16(h[2:], dport)
	binary.BigEndian.PutUint16(h[4:], uint16(8+len(payload)))
	return cat(h, []byte(payload))
}

func icmpMsg(typ, code byte) []byte { return []byte{typ, code, 0, 0, 0, 1, 0, 1, 'p', 'i', 'n', 'g'} }

// l3Packets are the network-layer packets every link type carries.
func l3Packets() []struct {
	et  uint16
	pkt []byte
} {
	type p = struct {
		et  uint16
		pkt []byte
	}
	big := make([]byte, 600)
	return []p{
		{0x0800, ipv4Packet("192.168.1.2", "10.0.0.1", 6, 0x4000, nil, tcpSeg(12345, 80, 0x02, ""))},
		{0x0800, ipv4Packet("10.0.0.1", "192.168.1.2", 6, 0x4000, nil, tcpSeg(80, 12345, 0x18, "GET / HTTP/1.1\r\n"))},
		{0x0800, ipv4Packet("172.16.5.4", "10.1.2.3", 6, 0, []byte{1, 1, 1, 0}, tcpSeg(443, 50000, 0x12, ""))},
		{0x0800, ipv4Packet("1.2.3.4", "8.8.8.8", 17, 0, nil, udpDgram(5353, 53, "dnsquery"))},
		{0x0800, ipv4Packet("1.2.3.4", "1.2.3.5", 1, 0, nil, icmpMsg(8, 0))},
		{0x0800, ipv4Packet("1.2.3.5", "1.2.3.4", 1, 0, nil, icmpMsg(0, 0))},
		{0x0800, ipv4Packet("10.9.8.7", "10.9.8.6", 132, 0, nil, udpDgram(80, 2905, "sctp-ish"))},
		{0x0800, ipv4Packet("192.168.7.1", "192.168.7.2", 47, 0, nil, []byte{0, 0, 0x08, 0, 1, 2, 3, 4})},
		{0x0800, ipv4Packet("192.168.1.2", "10.0.0.1", 6, 100, nil, tcpSeg(12345, 80, 0x10, "fragment"))},
		{0x0800, ipv4Packet("192.168.1.2", "10.0.0.1", 6, 0x2000, nil, tcpSeg(12345, 80, 0x10, "first"))},
		{0x0800, ipv4Packet("1.2.3.4", "224.0.0.1", 17, 0, nil, udpDgram(5000, 5001, "mcast"))},
		{0x0800, ipv4Packet("0.0.0.0", "255.255.255.255", 17, 0, nil, udpDgram(68, 67, "dhcp"))},
		{0x0800, ipv4Packet("10.1.1.1", "10.1.1.2", 2, 0, nil, []byte{0x11, 0, 0, 0, 0, 0, 0, 0})},
		{0x0800, ipv4Packet("10.0.0.1", "192.168.1.2", 6, 0, nil, tcpSeg(8080, 22, 0x11, string(big)))},
		{0x0800, ipv4Packet("10.0.0.1", "192.168.1.2", 6, 0, nil, tcpSeg(80, 12345, 0x04, ""))[:30]},
		{0x86dd, ipv6Packet("2001:db8::1", "2001:db8::2", 6, tcpSeg(40000, 22, 0x02, ""))},
		{0x86dd, ipv6Packet("fe80::1", "ff02::1", 17, udpDgram(53, 53, "v6dns"))},
		{0x86dd, ipv6Packet("2001:db8::2", "2001:db8::1", 58, icmpMsg(128, 0))},
		{0x86dd, ipv6Packet("2001:db8:1::5", "2001:db8::1", 44, cat([]byte{6, 0, 0, 0, 0, 0, 0, 1}, tcpSeg(80, 40001, 0x18, "frag6")))},
		{0x86dd, ipv6Packet("2001:db8::1", "2001:db9::7", 0, cat([]byte{17, 0, 1, 4, 0, 0, 0, 0}, udpDgram(123, 123, "ntp")))},
		{0x86dd, ipv6Packet("::1", "::1", 6, tcpSeg(8090, 8000, 0x12, ""))},
		{0x86dd, ipv6Packet("2001:db8::1", "2001:db8::2", 132, udpDgram(443, 80, "sctp6"))},
	}
}

func ethFrame(dst, src string, et uint16, payload []byte) []byte {
	d, _ := parseMAC(dst)
	s, _ := parseMAC(src)
	return cat(d[:], s[:], be16(et), payload)
}

const (
	macA = "00:11:22:33:44:55"
	macB = "66:77:88:99:aa:bb"
)

func arpPacket(op uint16, sha string, spa, tpa string) []byte {
	s, _ := parseMAC(sha)
	return cat([]byte{0, 1, 8, 0, 6, 4}, be16(op), s[:], ip4(spa), make([]byte, 6), ip4(tpa))
}

func full(b []byte) frame { return frame{data: b, wireLen: uint32(len(b))} }

// ethernetFrames covers link-layer cases on top of the shared packets.
func ethernetFrames() []frame {
	var fs []frame
	for i, p := range l3Packets() {
		dst := macB
		if i == 10 {
			dst = "01:00:5e:00:00:01"
		}
		if i == 11 {
			dst = "ff:ff:ff:ff:ff:ff"
		}
		fs = append(fs, full(ethFrame(dst, macA, p.et, p.pkt)))
	}
	tcp := ipv4Packet("1.2.3.4", "10.0.0.1", 6, 0, nil, tcpSeg(1234, 80, 0x18, "vlan"))
	tcp6 := ipv6Packet("2001:db8::1", "2001:db8::2", 6, tcpSeg(40000, 443, 0x10, "mpls6"))
	udp := ipv4Packet("1.2.3.4", "10.0.0.9", 17, 0, nil, udpDgram(1000, 53, "qinq"))
	fs = append(fs,
		full(ethFrame("ff:ff:ff:ff:ff:ff", macA, 0x0806, arpPacket(1, macA, "192.168.1.2", "192.168.1.1"))),
		full(ethFrame(macA, macB, 0x0806, arpPacket(2, macB, "192.168.1.1", "192.168.1.2"))),
		full(ethFrame("ff:ff:ff:ff:ff:ff", macA, 0x8035, arpPacket(3, macA, "0.0.0.0", "1.2.3.4"))),
		full(ethFrame(macB, macA, 0x8100, cat(be16(100), be16(0x0800), tcp))),
		full(ethFrame(macB, macA, 0x88a8, cat(be16(200), be16(0x8100), be16(0x2064), be16(0x0800), udp))),
		full(ethFrame(macB, macA, 0x9100, cat(be16(7), be16(0x86dd), tcp6))),
		full(ethFrame(macB, macA, 0x8100, cat(be16(4095), be16(0x8100), be16(100), be16(0x0806), arpPacket(1, macA, "1.2.3.4", "1.2.3.5")))),
		full(ethFrame(macB, macA, 0x8847, cat([]byte{0, 0, 0x51, 64}, tcp))),
		full(ethFrame(macB, macA, 0x8847, cat([]byte{0, 0, 0x50, 64, 0, 0x40, 0x01, 64}, tcp6))),
		full(ethFrame(macB, macA, 0x8100, cat(be16(100), be16(0x8847), []byte{0, 0, 0x51, 64}, tcp))),
		full(cat([]byte{0x01, 0x80, 0xc2, 0, 0, 0}, []byte{0, 0x11, 0x22, 0x33, 0x44, 0x55}, be16(38), []byte{0x42, 0x42, 0x03}, make([]byte, 35))),
		full(cat([]byte{0x01, 0x80, 0xc2, 0, 0, 0x14}, []byte{0, 0x11, 0x22, 0x33, 0x44, 0x55}, be16(40), []byte{0xfe, 0xfe, 0x03}, make([]byte, 37))),
		full(ethFrame("01:80:c2:00:00:0e", macA, 0x88cc, make([]byte, 46))),
		full(ethFrame(macB, macA, 0x0800, nil)),
		full([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}),
		full(ethFrame(macB, macA, 0x8100, cat(be16(0x2064), be16(0x86dd), ipv6Packet("2001:db8::1", "ff02::fb", 17, udpDgram(5353, 5353, "mdns"))))),
		full(ethFrame(macB, macA, 0x8864, cat([]byte{0x11, 0}, be16(0x1234), be16(uint16(len(tcp)+2)), be16(0x0021), tcp))),
		full(ethFrame(macB, macA, 0x8864, cat([]byte{0x11, 0}, be16(5), be16(uint16(len(tcp6)+2)), be16(0x0057), tcp6))),
		full(ethFrame("ff:ff:ff:ff:ff:ff", macA, 0x8863, cat([]byte{0x11, 0x09, 0, 0, 0, 4}, []byte{1, 1, 0, 0}))),
	)
	for _, pdu := range osiPDUs() {
		fs = append(fs, full(cat([]byte{0x01, 0x80, 0xc2, 0, 0, 0x14}, []byte{0, 0x11, 0x22, 0x33, 0x44, 0x55},
			be16(uint16(3+len(pdu))), []byte{0xfe, 0xfe, 0x03}, pdu)))
	}
	return fs
}

// osiPDUs are OSI network-layer PDUs (after the LLC header): IS-IS of every
// PDU type libpcap's l1/l2/iih/lsp/snp names test, plus one unknown type,
// CLNP and ES-IS.
func osiPDUs() [][]byte {
	var out [][]byte
	for _, typ := range []byte{15, 16, 17, 18, 20, 24, 25, 26, 27, 9} {
		out = append(out, cat([]byte{0x83, 27, 1, 0, typ, 1, 0, 0}, make([]byte, 30)))
	}
	return append(out,
		cat([]byte{0x81, 51, 1, 30, 0x1c, 0, 60, 0}, make([]byte, 30)),
		cat([]byte{0x82, 9, 1, 0, 0x02, 0, 30, 0}, make([]byte, 30)))
}

// truncated is a snaplen-64 capture: wire length differs from captured length.
func truncated(fs []frame) []frame {
	out := make([]frame, len(fs))
	for i, f := range fs {
		out[i] = f
		if len(f.data) > 64 {
			out[i].data = f.data[:64]
		}
	}
	return out
}

func linkFrames(header func(et uint16, i int) []byte) []frame {
	var fs []frame
	for i, p := range l3Packets() {
		if h := header(p.et, i); h != nil {
			fs = append(fs, full(cat(h, p.pkt)))
		}
	}
	return fs
}

func sllHeader(et uint16, i int) []byte {
	s, _ := parseMAC(macA)
	return cat(be16(uint16(i%5)), be16(1), be16(6), s[:], []byte{0, 0}, be16(et))
}

func sll2Header(et uint16, i int) []byte {
	s, _ := parseMAC(macA)
	return cat(be16(et), []byte{0, 0}, []byte{0, 0, 0, byte(1 + i%3)}, be16(1), []byte{byte(i % 5), 6}, s[:], []byte{0, 0})
}

func afFor(et uint16, i int) uint32 {
	if et == 0x0800 {
		return 2
	}
	return []uint32{10, 24, 28, 30}[i%4]
}

func corpus() []corpusFile {
	eth := ethernetFrames()
	arp := ethFrame(macA, macB, 0x0806, arpPacket(2, macB, "192.168.1.1", "192.168.1.2"))[12:]
	sll := append(linkFrames(sllHeader), full(cat(sllHeader(0, 4)[:14], arp)))
	for _, pdu := range osiPDUs()[:3] {
		sll = append(sll, full(cat(sllHeader(4, 0), []byte{0xfe, 0xfe, 0x03}, pdu)))
	}
	sll2 := append(linkFrames(sll2Header), full(cat(be16(0x0806), sll2Header(0, 1)[2:], arp[2:])))
	return []corpusFile{
		{"ethernet", layers.LinkEthernet, "EN10MB", eth},
		{"snaplen64", layers.LinkEthernet, "EN10MB", truncated(eth)},
		{"raw", layers.LinkRaw, "RAW", linkFrames(func(uint16, int) []byte { return []byte{} })},
		{"null", layers.LinkNull, "NULL", linkFrames(func(et uint16, i int) []byte {
			return binary.LittleEndian.AppendUint32(nil, afFor(et, i))
		})},
		{"loop", layers.LinkLoop, "LOOP", linkFrames(func(et uint16, i int) []byte {
			return binary.BigEndian.AppendUint32(nil, afFor(et, i))
		})},
		{"sll", layers.LinkLinuxSLL, "LINUX_SLL", sll},
		{"sll2", layers.LinkLinuxSLL2, "LINUX_SLL2", sll2},
		{"ipv4", layers.LinkIPv4, "IPV4", linkFrames(func(et uint16, _ int) []byte { return onlyEther(et, 0x0800) })},
		{"ipv6", layers.LinkIPv6, "IPV6", linkFrames(func(et uint16, _ int) []byte { return onlyEther(et, 0x86dd) })},
		{"ppp", layers.LinkPPP, "PPP", append(linkFrames(func(et uint16, _ int) []byte {
			return cat([]byte{0xff, 0x03}, be16(uint16(pppType(uint32(et)))))
		}), full(cat([]byte{0xff, 0x03, 0x02, 0x81, 0, 0, 0x51, 64}, ipv4Packet("1.2.3.4", "10.0.0.1", 6, 0, nil, tcpSeg(1234, 80, 0x18, "mpls")))),
			full(cat([]byte{0xff, 0x03, 0x00, 0x23}, osiPDUs()[0])), full(cat([]byte{0xff, 0x03, 0x00, 0x23}, osiPDUs()[10])))},
	}
}

// onlyEther keeps the packets of one network protocol, with no link header.
func onlyEther(et, want uint16) []byte {
	if et != want {
		return nil
	}
	return []byte{}
}
