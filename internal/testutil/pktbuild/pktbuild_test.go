package pktbuild_test

import (
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpflow/bpflow/internal/layers"
	"github.com/bpflow/bpflow/internal/testutil"
	"github.com/bpflow/bpflow/internal/testutil/pktbuild"
)

var (
	macA = [6]byte{0x02, 0, 0, 0, 0, 0x0a}
	macB = [6]byte{0x02, 0, 0, 0, 0, 0x0b}
	v4A  = netip.MustParseAddr("192.168.1.1")
	v4B  = netip.MustParseAddr("10.0.0.2")
	v6A  = netip.MustParseAddr("2001:db8::1")
	v6B  = netip.MustParseAddr("2001:db8::2")
)

// tcpdump prints the frames in path one line each, verbose enough to show
// whether it found every checksum correct.
func tcpdump(t *testing.T, path string) []string {
	t.Helper()
	testutil.RequireTool(t, "tcpdump")
	out, err := exec.Command("tcpdump", "-r", path, "-nn", "-vv", "-e", "-tt").CombinedOutput()
	if err != nil {
		t.Fatalf("tcpdump -r %s: %v\n%s", path, err, out)
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "reading from file") || strings.HasPrefix(l, "Warning: interface names") || l == "" {
			continue
		}
		if strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t") { // continuation
			lines[len(lines)-1] += " " + strings.TrimSpace(l)
			continue
		}
		lines = append(lines, l)
	}
	return lines
}

func TestFramesAsTcpdumpSeesThem(t *testing.T) {
	hello := pktbuild.Payload("hello")
	cases := []struct {
		name   string
		link   layers.LinkType
		frame  []byte
		expect []string // substrings of tcpdump's line
	}{
		{"eth ipv4 tcp", layers.LinkEthernet, pktbuild.Build(
			pktbuild.Ethernet{Dst: macB, Src: macA},
			pktbuild.IPv4{Src: v4A, Dst: v4B, ID: 7, Options: []byte{1, 1, 1}},
			pktbuild.TCP{SrcPort: 54156, DstPort: 80, Seq: 1001, Ack: 5001, Flags: pktbuild.PSH | pktbuild.ACK, Window: 512, Options: []byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}},
			hello),
			[]string{"02:00:00:00:00:0a > 02:00:00:00:00:0b", "ethertype IPv4 (0x0800)", "id 7", "length 75", "192.168.1.1.54156 > 10.0.0.2.80: Flags [P.], cksum", "(correct), seq 1001:1006, ack 5001, win 512", "TS val 1 ecr 2", "length 5"}},
		{"qinq ipv6 tcp", layers.LinkEthernet, pktbuild.Build(
			pktbuild.Ethernet{Dst: macB, Src: macA, Tags: []pktbuild.Tag{{TPID: pktbuild.EtherTypeQinQ, TCI: 100}, {TPID: pktbuild.EtherTypeVLAN, TCI: 0x2000 | 200}}},
			pktbuild.IPv6{Src: v6A, Dst: v6B, ExtHeaders: []pktbuild.ExtHeader{{Type: pktbuild.ProtoHopByHop, Data: []byte{1, 0}}, {Type: pktbuild.ProtoDestOpts}}},
			pktbuild.TCP{SrcPort: 1, DstPort: 2, Seq: 9, Flags: pktbuild.SYN},
		), []string{"ethertype 802.1Q-QinQ (0x88a8), length 98: vlan 100, p 0, ethertype 802.1Q (0x8100), vlan 200, p 1, ethertype IPv6 (0x86dd)", "payload length: 36", "HBH", "DSTOPT", "DSTOPT (pad1)(pad1)(pad1)(pad1)(pad1)(pad1) 1 > 2: Flags [S], cksum", "(correct), seq 9,"}},
		{"ipv6 fragment udp", layers.LinkRaw, pktbuild.Build(
			pktbuild.IPv6{Src: v6A, Dst: v6B, ExtHeaders: []pktbuild.ExtHeader{pktbuild.IPv6Fragment(0, true, 77)}},
			pktbuild.UDP{SrcPort: 7001, DstPort: 7002}, hello,
		), []string{"frag (0x0000004d:0|13)", "payload length: 21"}},
		{"ipv4 fragment", layers.LinkIPv4, pktbuild.Build(
			pktbuild.IPv4{Src: v4A, Dst: v4B, ID: 3, Flags: pktbuild.IPv4MoreFragments, FragOff: 2, Proto: 6}, hello,
		), []string{"offset 16, flags [+]", "proto TCP (6)", "length 25"}},
		{"sll icmp", layers.LinkLinuxSLL, pktbuild.Build(
			pktbuild.SLL{PacketType: 4, Addr: macA[:]},
			pktbuild.IPv4{Src: v4A, Dst: v4B},
			pktbuild.ICMP{Type: 8, Rest: [4]byte{0, 1, 0, 2}}, hello,
		), []string{"Out 02:00:00:00:00:0a ethertype IPv4 (0x0800)", "ICMP echo request, id 1, seq 2, length 13"}},
		{"sll2 icmpv6", layers.LinkLinuxSLL2, pktbuild.Build(
			pktbuild.SLL2{Ifindex: 3, Addr: macA[:]},
			pktbuild.IPv6{Src: v6A, Dst: v6B},
			pktbuild.ICMP{Type: 128, Rest: [4]byte{0, 1, 0, 2}},
		), []string{"ifindex 3", "ICMP6, echo request, id 1, seq 2"}},
		{"null le", layers.LinkNull, pktbuild.Build(pktbuild.Null{}, pktbuild.IPv4{Src: v4A, Dst: v4B}, pktbuild.UDP{SrcPort: 1, DstPort: 2}),
			[]string{"AF IPv4 (2)", "1 > 10.0.0.2.2: [udp sum ok] UDP, length 0"}},
		{"null be v6", layers.LinkNull, pktbuild.Build(pktbuild.Null{Family: 30, BigEndian: true}, pktbuild.IPv6{Src: v6A, Dst: v6B}, pktbuild.UDP{SrcPort: 1, DstPort: 2}),
			[]string{"AF IPv6 (30)", "[udp sum ok]"}},
		{"loop", layers.LinkLoop, pktbuild.Build(pktbuild.Loop{}, pktbuild.IPv4{Src: v4A, Dst: v4B}, pktbuild.UDP{SrcPort: 1, DstPort: 2}),
			[]string{"AF IPv4 (2)", "[udp sum ok]"}},
		{"ppp", layers.LinkPPP, pktbuild.Build(pktbuild.PPP{}, pktbuild.IPv4{Src: v4A, Dst: v4B}, pktbuild.UDP{SrcPort: 1, DstPort: 2}),
			[]string{"IP (0x0021), length 32", "[udp sum ok]"}},
		{"mpls", layers.LinkEthernet, pktbuild.Build(pktbuild.Ethernet{Dst: macB, Src: macA},
			pktbuild.MPLS{Labels: []pktbuild.MPLSLabel{{Label: 16, TTL: 9}, {Label: 17, TC: 5, TTL: 8}}},
			pktbuild.IPv4{Src: v4A, Dst: v4B}, pktbuild.TCP{SrcPort: 3, DstPort: 4, Flags: pktbuild.RST}),
			[]string{"MPLS (label 16, tc 0, ttl 9)", "(label 17, tc 5, [S], ttl 8)", "Flags [R], cksum", "(correct)"}},
		{"arp", layers.LinkEthernet, pktbuild.Build(pktbuild.Ethernet{Dst: [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, Src: macA},
			pktbuild.ARP{Op: 1, SHA: macA, SPA: v4A, TPA: v4B}),
			[]string{"ethertype ARP (0x0806)", "Request who-has 10.0.0.2 tell 192.168.1.1"}},
		{"radiotap 802.11 qos snap", 127, pktbuild.AppendFCS(pktbuild.Build(
			pktbuild.Radiotap{Present: []uint32{1 << 1}, Fields: []byte{pktbuild.RadiotapFlagsFCS}},
			pktbuild.Dot11{FC: pktbuild.Dot11QoSData | pktbuild.Dot11FromDS, Addr1: macB, Addr2: macA, Addr3: macA, QoS: 5},
			pktbuild.LLC{}, pktbuild.IPv4{Src: v4A, Dst: v4B}, pktbuild.UDP{SrcPort: 5000, DstPort: 5001}, hello), 9),
			[]string{"DA:02:00:00:00:00:0b", "BSSID:02:00:00:00:00:0a", "oui Ethernet (0x000000), ethertype IPv4 (0x0800)", "[udp sum ok]", "UDP, length 5"}},
		{"bad lengths on purpose", layers.LinkRaw, pktbuild.Build(
			pktbuild.IPv4{Src: v4A, Dst: v4B, TotalLen: 30},
			pktbuild.TCP{SrcPort: 5, DstPort: 6, DataOff: 3}, hello),
			[]string{"length 30", "[|tcp]"}},
		{"data offset below 5", layers.LinkRaw, pktbuild.Build(
			pktbuild.IPv4{Src: v4A, Dst: v4B},
			pktbuild.TCP{SrcPort: 5, DstPort: 6, DataOff: 3}, hello),
			[]string{"length 45", "bad hdr length 12"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f.pcap")
			if err := pktbuild.WritePcap(path, c.link, c.frame); err != nil {
				t.Fatal(err)
			}
			lines := tcpdump(t, path)
			if len(lines) != 1 {
				t.Fatalf("tcpdump printed %d lines, want 1:\n%s", len(lines), strings.Join(lines, "\n"))
			}
			if !strings.HasPrefix(lines[0], "1600000000.000000 ") {
				t.Errorf("timestamp: %s", lines[0])
			}
			for _, want := range c.expect {
				if !strings.Contains(lines[0], want) {
					t.Errorf("tcpdump line lacks %q:\n%s", want, lines[0])
				}
			}
			if strings.Contains(lines[0], "incorrect") || strings.Contains(lines[0], "bad udp cksum") {
				t.Errorf("a checksum is wrong:\n%s", lines[0])
			}
		})
	}
}
