package golden

import (
	"encoding/binary"
	"hash/crc32"

	"github.com/bpflow/bpflow/internal/layers"
)

// Wireless encapsulations (reference §4.1: tcpflow reads them through
// wifipcap). The IP packet goes into an 802.11 data frame with an LLC/SNAP
// header; radiotap or Prism headers go in front.

// dot11 wraps an IP packet in an 802.11 data frame: to the AP (ToDS) from
// the client, from the AP (FromDS) from the server.
func dot11(p *pkt, ip []byte) []byte {
	src, dst := p.c.ep[p.from].mac, p.c.ep[1-p.from].mac
	bssid := [6]byte{0x02, 0xa0, 0xa0, 0xa0, 0xa0, 0x01}
	h := make([]byte, 0, 32+len(ip))
	if p.from == cli {
		h = append(h, 0x08, 0x01, 0, 0) // data, ToDS; duration
		h = append(h, bssid[:]...)      // addr1: receiver (AP)
		h = append(h, src[:]...)        // addr2: transmitter
		h = append(h, dst[:]...)        // addr3: destination
	} else {
		h = append(h, 0x08, 0x02, 0, 0) // data, FromDS
		h = append(h, dst[:]...)
		h = append(h, bssid[:]...)
		h = append(h, src[:]...)
	}
	h = append(h, 0, 0)                            // sequence control
	h = append(h, 0xaa, 0xaa, 0x03, 0, 0, 0, 0, 0) // LLC/SNAP, ethertype below
	etype := uint16(0x0800)
	if ip[0]>>4 == 6 {
		etype = 0x86dd
	}
	binary.BigEndian.PutUint16(h[len(h)-2:], etype)
	return append(h, ip...)
}

// radiotap builds radiotap (flags and rate fields) + 802.11 frame; with
// fcs the flags announce a frame check sequence, which follows the frame
// (corrupted on purpose when badFCS).
func radiotap(fcs, badFCS bool) func(p *pkt, ip []byte) []byte {
	return func(p *pkt, ip []byte) []byte {
		frame := dot11(p, ip)
		flags := byte(0)
		if fcs {
			flags = 0x10
		}
		rt := []byte{0, 0, 10, 0, 0x06, 0, 0, 0, flags, 0x02}
		out := append(rt, frame...)
		if fcs {
			sum := crc32.ChecksumIEEE(frame)
			if badFCS {
				sum ^= 0xffffffff
			}
			out = binary.LittleEndian.AppendUint32(out, sum)
		}
		return out
	}
}

// prism puts a zeroed 144-byte Prism header before the 802.11 frame.
func prism(p *pkt, ip []byte) []byte { return append(make([]byte, 144), dot11(p, ip)...) }

func wifiCaptures() []*capture {
	http := httpScript()
	return []*capture{
		{name: "dlt_radiotap_fcs.pcap", s: http, link: layers.LinkRadiotap, wrap: radiotap(true, false)},
		{name: "dlt_radiotap_badfcs.pcap", s: http, link: layers.LinkRadiotap, wrap: radiotap(true, true)},
		{name: "dlt_radiotap_nofcs.pcap", s: http, link: layers.LinkRadiotap, wrap: radiotap(false, false)},
		{name: "dlt_80211.pcap", s: http, link: layers.LinkIEEE80211, wrap: dot11},
		{name: "dlt_prism.pcap", s: http, link: layers.LinkPrism, wrap: prism},
	}
}

func wifiCases() []Case {
	return []Case{
		file("dlt_radiotap_fcs", "dlt_radiotap_fcs.pcap"),
		file("dlt_radiotap_badfcs", "dlt_radiotap_badfcs.pcap"),
		file("dlt_radiotap_badfcs_nocheck", "dlt_radiotap_badfcs.pcap", "-S", "check_fcs=NO"),
		file("dlt_radiotap_nofcs", "dlt_radiotap_nofcs.pcap"),
		file("dlt_80211", "dlt_80211.pcap"),
		file("dlt_prism", "dlt_prism.pcap"),
	}
}
