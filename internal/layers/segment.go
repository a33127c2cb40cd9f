package layers

import "net/netip"

// TCP flag bits as in the TCP header's flags byte.
const (
	FlagFIN = 0x01
	FlagSYN = 0x02
	FlagRST = 0x04
	FlagPSH = 0x08
	FlagACK = 0x10
	FlagURG = 0x20
)

// Status says how far decoding got; it decides which tcpflow path a frame takes.
type Status uint8

const (
	// StatusTCP: a TCP segment was decoded into the Segment.
	StatusTCP Status = iota
	// StatusNotIP: rejected at the link layer (ARP, unknown ethertype, short
	// link header). tcpflow's -w does not write these.
	StatusNotIP
	// StatusIPNotTCP: reached the IP layer but is not handled as TCP (UDP, ICMP,
	// non-first fragment, malformed IP or TCP header). tcpflow's -w writes these.
	StatusIPNotTCP
)

// Segment is a decoded TCP segment. Slices point into the Frame's Data.
type Segment struct {
	// Family is the report.xml family: 2 (AF_INET) or 10 (Linux AF_INET6).
	Family           uint8
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	Seq, Ack         uint32
	Flags            uint8
	Payload          []byte
	// MACDst and MACSrc are frame bytes 0–5 and 6–11 whatever the link type,
	// as tcpflow records them (zero when the frame is shorter).
	MACDst, MACSrc [6]byte
	// VLAN is the TCI of an outer 802.1Q (0x8100) tag, or -1 without one
	// (tcpflow's %V%v; priority bits are kept).
	VLAN int32
}
