package golden

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"

	"github.com/bpflow/bpflow/internal/layers"
	"github.com/bpflow/bpflow/internal/testutil/pktbuild"
)

// Scripts: the packet sequences of the corpus. Client 192.168.1.1:54156
// (ISN 1000), server 10.0.0.2:80 (ISN 5000), as in the reference.

const (
	httpRequest  = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	httpResponse = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
)

// exchange adds a full connection: handshake, request, response, close.
func exchange(c *conn, req, resp string) {
	c.handshake()
	c.send(cli, req)
	c.send(srv, resp)
	c.close()
}

func httpScript() *script {
	s := newScript()
	exchange(s.conn(), httpRequest, httpResponse)
	return s
}

func ipv6Script() *script {
	s := newScript()
	exchange(s.conn().withAddrs("2001:db8::1", "2001:db8:0:1::2").withPorts(40000, 443), httpRequest, httpResponse)
	return s
}

func ipv6OddScript() *script {
	s := newScript()
	exchange(s.conn().withAddrs("::ffff:192.0.2.1", "fe80::1").withPorts(1, 65535), "odd", "even")
	return s
}

// oneSide builds a connection whose client sends what body adds, then both
// sides close; the server only acknowledges.
func oneSide(body func(c *conn)) *script {
	s := newScript()
	c := s.conn().handshake()
	body(c)
	c.close()
	return s
}

func noClose(body func(c *conn)) *script {
	s := newScript()
	body(s.conn().handshake())
	return s
}

func twoConns() *script {
	s := newScript()
	exchange(s.conn(), httpRequest, httpResponse)
	exchange(s.conn().withPorts(54157, 443), "secret", "reply")
	return s
}

// reuse: n connections one after the other on the same 4-tuple.
func reuse(n int) *script {
	s := newScript()
	for i := range n {
		c := s.conn().withISN(uint32(1000+100000*i), uint32(5000+100000*i))
		exchange(c, fmt.Sprintf("request %d\n", i), fmt.Sprintf("response %d\n", i))
	}
	return s
}

// manyFlows: n connections, handshakes first, then data round robin, then
// closes, so many flows are open at once.
func manyFlows(n int) *script {
	s := newScript()
	cs := make([]*conn, n)
	for i := range cs {
		cs[i] = s.conn().withPorts(uint16(40000+i), 80).handshake()
	}
	for round := range 3 {
		for i, c := range cs {
			c.send(cli, fmt.Sprintf("c%d r%d\n", i, round))
			c.send(srv, fmt.Sprintf("s%d r%d\n", i, round))
		}
	}
	for _, c := range cs {
		c.close()
	}
	return s
}

// thousandFlows: 501 connections that each create two flows (SYN, SYN/ACK),
// so flow ids pass 1000 (%K, -Fk).
func thousandFlows() *script {
	s := newScript()
	for i := range 501 {
		c := s.conn().withPorts(uint16(20000+i), 80)
		c.syn()
		c.synack()
		c.send(cli, "x")
	}
	return s
}

func paddedScript(pad byte) *script {
	s := newScript()
	c := s.conn()
	c.handshake()
	c.send(cli, "hi")
	c.ack(srv)
	c.send(srv, "yo")
	c.ack(cli)
	c.close()
	for _, p := range s.pkts {
		p.pad = padTo60(p, pad)
	}
	return s
}

// padTo60 is the padding a NIC adds to reach the 60-byte Ethernet minimum.
func padTo60(p *pkt, b byte) []byte {
	n := 14 + 20 + 20 + len(p.data)
	if n >= 60 {
		return nil
	}
	return []byte(strings.Repeat(string([]byte{b}), 60-n))
}

func vlanScript(tags ...pktbuild.Tag) *script {
	s := newScript()
	exchange(s.conn().withTags(tags...), httpRequest, httpResponse)
	return s
}

func vlanMixed() *script {
	return oneSide(func(c *conn) {
		c.send(cli, "vlan5 ").tags = []pktbuild.Tag{{TPID: 0x8100, TCI: 5}}
		c.send(cli, "vlan6 ").tags = []pktbuild.Tag{{TPID: 0x8100, TCI: 6}}
		c.send(cli, "untagged\n")
	})
}

func tcpTimeoutScript() *script {
	s := newScript()
	// No handshake for a: one flow expires at a time, so the close order does
	// not depend on tcpflow's hash table.
	a := s.conn()
	a.send(cli, "before idle\n")
	s.pause(100e9)
	b := s.conn().withPorts(54157, 80).handshake()
	b.send(cli, "other flow\n")
	s.pause(50e9)
	a.send(cli, "after idle\n")
	a.close()
	b.close()
	return s
}

// splitScript: the two halves of an exchange (part 2 also starts a second
// connection, which -R must ignore).
func splitScript(part int) *script {
	s := newScript()
	c := s.conn()
	c.handshake()
	c.send(cli, "first half\n")
	s2 := newScript()
	s2.now = s.now
	c.s = s2
	c.send(cli, "second half\n")
	c.send(srv, "answer\n")
	c.close()
	exchange(s2.conn().withPorts(54999, 80), "new in part 2\n", "ok\n")
	if part == 1 {
		return s
	}
	return s2
}

func fragScript() *script {
	return oneSide(func(c *conn) {
		f := strings.Repeat("F", 120)
		first := c.send(cli, f[:28])
		first.fragMF = true
		c.next[cli] += 92
		rest := c.s.add(&pkt{c: c, from: cli, data: []byte(strings.Repeat("\x00", 20) + f[28:]), rawL4: true, fragOff: 6})
		rest.data = rest.data[20:] // offset 6×8 = 48 bytes: TCP header (20) + 28 data bytes
		c.send(cli, "NEXT")
	})
}

func hex45() string {
	b := make([]byte, 45)
	for i := range b {
		b[i] = byte(0x30 + i)
	}
	return string(b)
}

const nonPrintable = "line1\r\n\ttab\x7f\x80\xff\x00end\n"

// corpus is every capture of the golden corpus, by file name.
var corpus = sync.OnceValue(func() map[string]*capture {
	m := map[string]*capture{}
	add := func(c *capture) *capture {
		if c.link == 0 && c.header == nil && c.raw == nil {
			c.link, c.header = layers.LinkEthernet, ethernet
		}
		if m[c.name] != nil {
			panic("duplicate capture " + c.name)
		}
		m[c.name] = c
		return c
	}
	for _, c := range captureList() {
		add(c)
	}
	for _, c := range linkCaptures() {
		add(c)
	}
	for _, c := range wifiCaptures() {
		add(c)
	}
	for _, c := range randomCapturesList() {
		add(c)
	}
	for _, c := range issue3Captures() {
		add(c)
	}
	return m
})

// captureNames lists the corpus's file names, sorted.
func captureNames() []string {
	var names []string
	for n := range corpus() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func eth(name string, s *script) *capture { return &capture{name: name, s: s} }

func captureList() []*capture {
	http := httpScript()
	v6 := ipv6Script()
	mb := func(n int) uint32 { return uint32(n) << 20 }
	return []*capture{
		eth("basic_http.pcap", http),
		{name: "basic_http_be.pcap", s: http, format: fmtPcapBE},
		{name: "basic_http_nano.pcap", s: http, format: fmtPcapNano},
		{name: "basic_http.pcapng", s: http, format: fmtPcapng},
		{name: "basic_http.pcap.gz", s: http, format: fmtPcapGzip},
		{name: "basic_http.pcap.xz", s: http, format: fmtPcapXz},
		// Simple Packet Blocks carry no time: libpcap gives them 0 plus the
		// interface's if_tsoffset.
		{name: "basic_http_simple.pcapng", s: http, format: fmtPcapngSimple},
		{name: "basic_http_far.pcapng", s: http, format: fmtPcapngFar},
		{name: "truncated.pcap", s: http, cut: 20},
		{name: "not_a_pcap.pcap", raw: []byte("this is not a capture file\n")},
		{name: "empty.pcap", raw: []byte{}},
		// gzip's own messages: a stream cut short, and no gzip at all.
		{name: "truncated.pcap.gz", s: http, format: fmtPcapGzip, cut: 40},
		{name: "not_gzip.pcap.gz", raw: []byte("this is not gzip data\n")},
		// Ethernet frames captured shorter than the ethertype offset (12),
		// then one that just reaches it, then data.
		eth("eth_runt.pcap", oneSide(func(c *conn) {
			c.send(cli, "AAAA").snap = 11
			c.send(cli, "BBBB").snap = 1
			c.send(cli, "CCCC").snap = 12
			c.send(cli, "DDDD")
		})),
		eth("two_conns.pcap", twoConns()),
		eth("ipv6.pcap", v6),
		eth("ipv6_odd.pcap", ipv6OddScript()),
		eth("nonprint.pcap", oneSide(func(c *conn) { c.send(cli, nonPrintable) })),
		eth("hex45.pcap", oneSide(func(c *conn) { c.send(cli, hex45()) })),
		eth("ooo.pcap", oneSide(func(c *conn) { c.at(cli, 0, "AAAA"); c.at(cli, 8, "CCCC"); c.at(cli, 4, "BBBB") })),
		eth("hole.pcap", oneSide(func(c *conn) { c.at(cli, 0, "AAAA"); c.at(cli, 8, "CCCC") })),
		eth("hole_filled_after_fin.pcap", noClose(func(c *conn) {
			c.at(cli, 0, "AAAA")
			c.at(cli, 8, "CCCC")
			c.fin(cli)
			c.at(cli, 4, "BBBB")
			c.fin(srv)
		})),
		eth("seqwrap.pcap", func() *script {
			s := newScript()
			c := s.conn().withISN(0xfffffff8, 0xfffffffe)
			c.handshake()
			for _, d := range []string{"0123456789", "abcdefghij", "ABCDEFGHIJ"} {
				c.send(cli, d)
				c.send(srv, strings.ToUpper(d[:3]))
			}
			c.close()
			return s
		}()),
		eth("retrans_same.pcap", oneSide(func(c *conn) {
			c.at(cli, 0, "AAAA")
			c.at(cli, 4, "BBBB")
			c.at(cli, 4, "BBBB")
			c.at(cli, 8, "CCCC")
		})),
		eth("retrans_diff.pcap", oneSide(func(c *conn) {
			c.at(cli, 0, "AAAA")
			c.at(cli, 4, "BBBB")
			c.at(cli, 8, "CCCC")
			c.at(cli, 0, "XXXX")
		})),
		eth("overlap.pcap", oneSide(func(c *conn) { c.at(cli, 0, "ABCDEF"); c.at(cli, 4, "efGHIJ"); c.at(cli, 2, "zz") })),
		eth("before_isn.pcap", oneSide(func(c *conn) { c.at(cli, 0xfffffffc, "ZZZZ"); c.at(cli, 0, "AAAA") })),
		eth("nosyn_insert.pcap", func() *script {
			s := newScript()
			c := s.conn()
			c.at(cli, 4, "BBBB")
			c.at(cli, 0, "AAAA")
			c.at(cli, 8, "CCCC")
			c.fin(cli)
			return s
		}()),
		eth("nosyn_plain.pcap", func() *script {
			s := newScript()
			c := s.conn()
			c.ack(cli)
			c.send(cli, "data without handshake\n")
			c.send(srv, "reply\n")
			c.close()
			return s
		}()),
		eth("keepalive.pcap", oneSide(func(c *conn) {
			c.send(cli, "AAAA")
			c.at(cli, 3, "\x00")
			c.send(cli, "BBBB")
		})),
		eth("syn_data.pcap", func() *script {
			s := newScript()
			c := s.conn()
			c.syn().data = []byte("early")
			c.next[cli] = 5
			c.synack().ack += 5
			c.ack(cli)
			c.send(cli, " data\n")
			c.close()
			return s
		}()),
		eth("synonly.pcap", func() *script {
			s := newScript()
			c := s.conn()
			c.syn()
			c.synack()
			c.rst(cli)
			return s
		}()),
		eth("straggler.pcap", func() *script {
			s := newScript()
			c := s.conn()
			exchange(c, httpRequest, httpResponse)
			c.at(cli, 0, httpRequest)
			c.at(cli, 0, "GOT / HTTP/1.1\r\n")
			return s
		}()),
		eth("reuse_after_fin.pcap", reuse(3)),
		eth("reuse_twice.pcap", reuse(2)),
		eth("reuse_no_fin.pcap", func() *script {
			s := newScript()
			c := s.conn().handshake()
			c.send(cli, "first connection\n")
			d := s.conn().withISN(3000, 7000).handshake()
			d.send(cli, "second connection\n")
			d.close()
			return s
		}()),
		eth("bigjump.pcap", oneSide(func(c *conn) { c.send(cli, "before"); c.at(cli, mb(20), "after") })),
		eth("gap100.pcap", oneSide(func(c *conn) { c.at(cli, 0, "AAAA"); c.at(cli, 104, "BBBB") })),
		eth("c_bigjump3.pcap", noClose(func(c *conn) { c.send(cli, "before"); c.at(cli, mb(20), "after"); c.send(cli, "small") })),
		eth("rst.pcap", func() *script {
			s := newScript()
			c := s.conn().handshake()
			c.send(cli, "before reset\n")
			c.send(srv, "reply\n")
			c.rst(cli)
			c.send(cli, "after reset\n")
			return s
		}()),
		eth("snaplen.pcap", oneSide(func(c *conn) {
			c.send(cli, strings.Repeat("S", 100)).snap = 14 + 20 + 20 + 26
			c.send(cli, "next segment\n")
		})),
		eth("ipv4_frag.pcap", fragScript()),
		eth("options.pcap", oneSide(func(c *conn) {
			p := c.send(cli, "with options\n")
			p.ipOpts = []byte{0x01, 0x01, 0x01, 0x00}
			p.tcpOpts = []byte{0x02, 0x04, 0x05, 0xb4, 0x01, 0x01, 0x08, 0x0a, 0, 0, 0, 1, 0, 0, 0, 2}
			c.send(cli, "plain\n")
		})),
		eth("tcp_short_dataofs.pcap", oneSide(func(c *conn) {
			c.send(cli, "AAAA")
			c.send(cli, "BBBB").dataOff = 4
			c.send(cli, "CCCC")
		})),
		eth("ipv6_plen_overrun.pcap", func() *script {
			s := newScript()
			c := s.conn().withAddrs("2001:db8::1", "2001:db8:0:1::2").withPorts(40000, 443).handshake()
			c.send(cli, "AAAA")
			c.send(cli, "BBBB").ipTotal = 20 + 4 + 16
			c.send(cli, "CCCC")
			c.close()
			return s
		}()),
		eth("ipv6_exthdr.pcap", v6ExtScript()),
		eth("tcp_timeout.pcap", tcpTimeoutScript()),
		eth("many_flows.pcap", manyFlows(30)),
		eth("thousand_flows.pcap", thousandFlows()),
		eth("vlan.pcap", vlanScript(pktbuild.Tag{TPID: 0x8100, TCI: 5})),
		eth("vlan_prio.pcap", vlanScript(pktbuild.Tag{TPID: 0x8100, TCI: 5<<13 | 10})),
		eth("vlan_mixed.pcap", vlanMixed()),
		eth("qinq_8100.pcap", vlanScript(pktbuild.Tag{TPID: 0x8100, TCI: 100}, pktbuild.Tag{TPID: 0x8100, TCI: 200})),
		eth("qinq_88a8.pcap", vlanScript(pktbuild.Tag{TPID: 0x88a8, TCI: 100}, pktbuild.Tag{TPID: 0x8100, TCI: 200})),
		eth("tag_9100.pcap", vlanScript(pktbuild.Tag{TPID: 0x9100, TCI: 300})),
		eth("split1.pcap", splitScript(1)),
		eth("split2.pcap", splitScript(2)),
		eth("non_tcp.pcap", nonTCPScript()),
		// -w after compressed or pcapng input (1.6.1 aborts: DESIGN §4.6).
		{name: "non_tcp.pcap.gz", s: nonTCPScript(), format: fmtPcapGzip},
		{name: "non_tcp.pcapng", s: nonTCPScript(), format: fmtPcapng},
		eth("vlan_ipv6.pcap", func() *script {
			s := newScript()
			exchange(s.conn().withAddrs("2001:db8::1", "2001:db8:0:1::2").withPorts(40000, 443).withTags(pktbuild.Tag{TPID: 0x8100, TCI: 7}), httpRequest, httpResponse)
			return s
		}()),
		eth("ipv4_ihl_beyond_total.pcap", oneSide(func(c *conn) {
			p := c.send(cli, "AAAA")
			p.ipOpts, p.ipTotal = []byte{1, 1, 1, 0}, 20
			c.send(cli, "BBBB")
		})),
		eth("tcp_dataofs_beyond.pcap", oneSide(func(c *conn) {
			c.send(cli, "AAAA").dataOff = 15
			c.send(cli, "BBBB")
		})),
		eth("short_ip.pcap", oneSide(func(c *conn) { c.send(cli, "AAAA").snap = 14 + 10; c.send(cli, "BBBB") })),
		eth("short_tcp.pcap", oneSide(func(c *conn) { c.send(cli, "AAAA").snap = 14 + 20 + 10; c.send(cli, "BBBB") })),
	}
}

func v6ExtScript() *script {
	s := ipv6Script()
	for _, p := range s.pkts {
		p.extHdrs = []pktbuild.ExtHeader{{Type: pktbuild.ProtoDestOpts, Data: make([]byte, 6)}}
	}
	return s
}

// v6ExtChainScript: every packet carries hop-by-hop, routing (type 0, no
// segments left) and destination options headers, 8 bytes each.
func v6ExtChainScript() *script {
	s := ipv6Script()
	for _, p := range s.pkts {
		p.extHdrs = []pktbuild.ExtHeader{
			{Type: pktbuild.ProtoHopByHop, Data: make([]byte, 6)},
			{Type: pktbuild.ProtoRouting, Data: make([]byte, 6)},
			{Type: pktbuild.ProtoDestOpts, Data: make([]byte, 6)},
		}
	}
	return s
}

// ipv6FragScript: an IPv6 connection whose packets all carry a fragment
// header; all are atomic fragments except one 120-byte segment sent as two
// fragments (TCP header + 28 bytes, then the other 92 bytes).
func ipv6FragScript() *script {
	s := newScript()
	c := s.conn().withAddrs("2001:db8::1", "2001:db8:0:1::2").withPorts(40000, 443).handshake()
	c.send(cli, "AAAA")
	f := strings.Repeat("F", 120)
	first := c.send(cli, f[:28])
	c.next[cli] += 92
	rest := c.s.add(&pkt{c: c, from: cli, data: []byte(f[28:]), rawL4: true})
	c.send(cli, "NEXT")
	c.close()
	for i, p := range s.pkts {
		p.extHdrs = []pktbuild.ExtHeader{pktbuild.IPv6Fragment(0, false, uint32(i+1))}
	}
	first.extHdrs = []pktbuild.ExtHeader{pktbuild.IPv6Fragment(0, true, 99)}
	rest.extHdrs = []pktbuild.ExtHeader{pktbuild.IPv6Fragment(6, false, 99)}
	return s
}

// unfragment: the ipv6_frag packets without fragment headers, the first
// fragment as a segment of its own and the later fragment gone.
func unfragment(p *pkt) bool {
	p.extHdrs = nil
	return !p.rawL4
}

// nonTCPScript mixes a UDP datagram between the segments of an exchange.
func nonTCPScript() *script {
	s := newScript()
	c := s.conn().handshake()
	c.send(cli, httpRequest)
	u := s.conn()
	s.add(&pkt{c: u, from: cli, data: []byte("udp payload"), ipProto: pktbuild.ProtoUDP})
	c.send(srv, httpResponse)
	c.close()
	return s
}

// linkCaptures: the exchange on every link type, and the alternative
// captures the documented differences are checked against.
func linkCaptures() []*capture {
	http, v6 := httpScript(), ipv6Script()
	twoConnsSeq := twoConns()
	return []*capture{
		{name: "dlt_null_le.pcap", s: http, link: layers.LinkNull, header: null},
		{name: "dlt_null_be.pcap", s: http, link: layers.LinkNull, header: nullBE},
		{name: "dlt_null_v6_linux10.pcap", s: v6, link: layers.LinkNull, header: null},
		{name: "dlt_null_v6_bsd24.pcap", s: v6, link: layers.LinkNull, header: nullFamily(24)},
		{name: "dlt_null_v6_bsd28.pcap", s: v6, link: layers.LinkNull, header: nullFamily(28)},
		{name: "dlt_null_v6_mac30.pcap", s: v6, link: layers.LinkNull, header: nullFamily(30)},
		{name: "dlt_raw101.pcap", s: http, link: layers.LinkRaw},
		// Link types libpcap maps (LINKTYPE → DLT) or cannot compile a filter
		// for: raw IP packets under them.
		{name: "dlt_14.pcap", s: http, link: layers.LinkType(14)},
		{name: "dlt_100.pcap", s: http, link: layers.LinkType(100)},
		{name: "dlt_102.pcap", s: http, link: layers.LinkType(102)},
		{name: "dlt_106.pcap", s: http, link: layers.LinkType(106)},
		{name: "dlt_raw_v6.pcap", s: v6, link: layers.LinkRaw},
		{name: "dlt_ipv4_228.pcap", s: http, link: layers.LinkIPv4},
		{name: "dlt_ipv6_229.pcap", s: v6, link: layers.LinkIPv6},
		{name: "dlt_ppp.pcap", s: http, link: layers.LinkPPP, header: ppp},
		{name: "dlt_sll.pcap", s: http, link: layers.LinkLinuxSLL, header: sll},
		{name: "dlt_sll_v6.pcap", s: v6, link: layers.LinkLinuxSLL, header: sll},
		{name: "dlt_sll2.pcap", s: http, link: layers.LinkLinuxSLL2, header: sll2},
		{name: "dlt_sll2_v6.pcap", s: v6, link: layers.LinkLinuxSLL2, header: sll2},
		{name: "dlt_loop.pcap", s: http, link: layers.LinkLoop, header: loop},
		eth("eth_padding.pcap", paddedScript(0)),
		eth("eth_padding_ee.pcap", paddedScript(0xee)),
		{name: "alt_eth_padding_uncaptured.pcap", s: paddedScript(0), link: layers.LinkEthernet, header: ethernet, tweak: padUncaptured},
		{name: "alt_eth_padding_ee_uncaptured.pcap", s: paddedScript(0xee), link: layers.LinkEthernet, header: ethernet, tweak: padUncaptured},
		{name: "alt_tcp_short_dataofs_dropped.pcap", s: corpusScript("tcp_short_dataofs.pcap"), link: layers.LinkEthernet, header: ethernet,
			tweak: func(p *pkt) bool { return p.dataOff == 0 }},
		{name: "alt_ipv6_plen_fixed.pcap", s: corpusScript("ipv6_plen_overrun.pcap"), link: layers.LinkEthernet, header: ethernet,
			tweak: func(p *pkt) bool { p.ipTotal = 0; return true }},
		{name: "alt_ipv6_as_ipv4.pcap", s: v6, link: layers.LinkEthernet, header: ethernet, tweak: asIPv4},
		{name: "dlt_sll_mpls.pcap", s: http, link: layers.LinkLinuxSLL, header: sllMPLS, mpls: twoLabels},
		{name: "eth_mpls.pcap", s: http, link: layers.LinkEthernet, header: ethMPLS, mpls: twoLabels},
		{name: "basic_http_be.pcapng", s: http, format: fmtPcapngBE},
		{name: "basic_http_nano.pcapng", s: http, format: fmtPcapngNano},
		{name: "basic_http_sections.pcapng", s: http, format: fmtPcapngSections},
		{name: "basic_http.pcap.lzma", s: http, format: fmtPcapLzma},
		eth("eth_fcs_trailer.pcap", trailerScript()),
		{name: "alt_eth_fcs_trailer_uncaptured.pcap", s: trailerScript(), link: layers.LinkEthernet, header: ethernet, tweak: padUncaptured},
		eth("ipv4_totlen_short.pcap", totLenShortScript()),
		eth("ipv6_frag.pcap", ipv6FragScript()),
		{name: "alt_ipv6_frag_unfragmented.pcap", s: ipv6FragScript(), link: layers.LinkEthernet, header: ethernet, tweak: unfragment},
		eth("ipv6_exthdr_chain.pcap", v6ExtChainScript()),
		eth("ipv6_trailer.pcap", func() *script {
			s := ipv6Script()
			for _, p := range s.pkts {
				p.pad = []byte{0xde, 0xad, 0xbe, 0xef}
			}
			return s
		}()),
		{name: "two_links.pcapng", s: twoConnsSeq, link: layers.LinkEthernet, header: ethernet, format: fmtPcapng,
			second: &iface{link: layers.LinkRaw, has: secondConn}},
		// libpcap refuses a second interface whose snaplen differs from the
		// first's, even one no packet uses.
		{name: "two_snaplens.pcapng", s: http, link: layers.LinkEthernet, header: ethernet, format: fmtPcapng,
			second: &iface{link: layers.LinkEthernet, header: ethernet, snaplen: 64, has: func(*pkt) bool { return false }}},
		{name: "alt_two_links_first.pcap", s: twoConnsSeq, link: layers.LinkEthernet, header: ethernet,
			tweak: func(p *pkt) bool { return !secondConn(p) }},
		{name: "alt_two_links_second.pcap", s: twoConnsSeq, link: layers.LinkRaw, tweak: secondConn},
		{name: "alt_ipv4_totlen_short_uncaptured.pcap", s: totLenShortScript(), link: layers.LinkEthernet, header: ethernet, tweak: beyondTotalUncaptured},
	}
}

// secondConn selects twoConns' second connection (port 443).
func secondConn(p *pkt) bool { return p.c.ep[srv].port == 443 }

var twoLabels = []pktbuild.MPLSLabel{{Label: 100, TTL: 64}, {Label: 200, TTL: 64}}

func sllMPLS(p *pkt) pktbuild.Layer {
	h := sll(p).(pktbuild.SLL)
	h.Protocol = pktbuild.EtherTypeMPLS
	return h
}

func ethMPLS(p *pkt) pktbuild.Layer {
	h := ethernet(p).(pktbuild.Ethernet)
	h.Type = pktbuild.EtherTypeMPLS
	return h
}

// trailerScript: every frame carries 4 bytes after the IP datagram, as
// captures that keep the Ethernet FCS do.
func trailerScript() *script {
	s := httpScript()
	for _, p := range s.pkts {
		p.pad = []byte{0xde, 0xad, 0xbe, 0xef}
	}
	return s
}

// totLenShortScript: one segment's IPv4 total length covers only 2 of the 6
// payload bytes captured.
func totLenShortScript() *script {
	return oneSide(func(c *conn) {
		c.send(cli, "ABCDEF").ipTotal = 20 + 20 + 2
		c.send(cli, "GHIJ")
	})
}

// padUncaptured keeps the padding (or trailer) in the wire length but not
// in the captured bytes: what the frame is once padding is not taken as data.
func padUncaptured(p *pkt) bool {
	p.padUncapt = true
	return true
}

// beyondTotalUncaptured drops from the capture what follows the IPv4
// datagram according to its total length field.
func beyondTotalUncaptured(p *pkt) bool {
	if p.ipTotal != 0 {
		p.snap = 14 + int(p.ipTotal)
	}
	return true
}

// The IPv4 stand-ins of ipv6Script's addresses (for -J, DESIGN §4.3).
var v4StandIn = map[string]string{"2001:db8::1": "192.0.2.1", "2001:db8:0:1::2": "192.0.2.2"}

func asIPv4(p *pkt) bool {
	c := *p.c
	for i := range c.ep {
		c.ep[i].addr = netip.MustParseAddr(v4StandIn[c.ep[i].addr.String()])
	}
	p.c = &c
	return true
}

// corpusScript finds the script of a capture listed in captureList.
func corpusScript(name string) *script {
	for _, c := range captureList() {
		if c.name == name {
			return c.s
		}
	}
	panic("no capture " + name)
}
