package pktbuild_test

import (
	"net/netip"
	"os"
	"path/filepath"

	"github.com/bpflow/bpflow/internal/layers"
	"github.com/bpflow/bpflow/internal/testutil/pktbuild"
)

// A three-way handshake and one request on a VLAN, written as a pcap file.
func Example() {
	client, server := netip.MustParseAddr("192.168.1.1"), netip.MustParseAddr("10.0.0.2")
	eth := pktbuild.Ethernet{
		Dst:  [6]byte{2, 0, 0, 0, 0, 2},
		Src:  [6]byte{2, 0, 0, 0, 0, 1},
		Tags: []pktbuild.Tag{{TPID: pktbuild.EtherTypeVLAN, TCI: 100}},
	}
	rev := eth
	rev.Dst, rev.Src = eth.Src, eth.Dst
	up := pktbuild.IPv4{Src: client, Dst: server}
	down := pktbuild.IPv4{Src: server, Dst: client}
	frames := [][]byte{
		pktbuild.Build(eth, up, pktbuild.TCP{SrcPort: 54156, DstPort: 80, Seq: 1000, Flags: pktbuild.SYN}),
		pktbuild.Build(rev, down, pktbuild.TCP{SrcPort: 80, DstPort: 54156, Seq: 5000, Ack: 1001, Flags: pktbuild.SYN | pktbuild.ACK}),
		pktbuild.Build(eth, up, pktbuild.TCP{SrcPort: 54156, DstPort: 80, Seq: 1001, Ack: 5001, Flags: pktbuild.ACK}),
		pktbuild.Build(eth, up, pktbuild.TCP{SrcPort: 54156, DstPort: 80, Seq: 1001, Ack: 5001, Flags: pktbuild.PSH | pktbuild.ACK},
			pktbuild.Payload("GET / HTTP/1.0\r\n\r\n")),
	}
	path := filepath.Join(os.TempDir(), "pktbuild-example.pcap")
	defer os.Remove(path)
	if err := pktbuild.WritePcap(path, layers.LinkEthernet, frames...); err != nil {
		panic(err)
	}
}
