// Package layers decodes captured frames (link layer → IPv4/IPv6 → TCP) the way
// tcpflow 1.6.1 decides what is TCP payload, with the corrections listed in
// DESIGN §4. It does no I/O and allocates nothing: a Segment is a view into the
// Frame's bytes.
package layers

// LinkType is a pcap LINKTYPE_* value (the number stored in pcap/pcapng files).
type LinkType uint32

// The link types bpflow decodes.
const (
	LinkNull      LinkType = 0   // BSD loopback: 4-byte address family, host byte order
	LinkEthernet  LinkType = 1   // Ethernet II, 802.1Q/QinQ tags
	LinkIEEE802   LinkType = 6   // treated as Ethernet, as tcpflow does
	LinkPPP       LinkType = 9   // 4-byte header skipped
	LinkRaw       LinkType = 101 // raw IPv4/IPv6 (DLT_RAW 12/14 map here in files)
	LinkLoop      LinkType = 108 // OpenBSD loopback: 4-byte family, network byte order
	LinkLinuxSLL  LinkType = 113 // Linux cooked v1
	LinkIPv4      LinkType = 228
	LinkIPv6      LinkType = 229
	LinkLinuxSLL2 LinkType = 276 // Linux cooked v2
)

// DLT is the DLT_ number libpcap on Linux reports for a capture file whose
// header says lt (pcap_datalink, which tcpflow prints). The two numberings
// agree except for link types whose DLT_ value differs between systems:
// those have LINKTYPE_ numbers of their own that libpcap maps back.
func (lt LinkType) DLT() int {
	switch lt {
	case 100: // ATM_RFC1483
		return 11
	case LinkRaw:
		return 12
	case 102: // SLIP_BSDOS
		return 15
	case 103: // PPP_BSDOS
		return 16
	case 106: // ATM_CLIP, inside the range that otherwise matches
		return 19
	}
	return int(lt)
}

// Frame is one captured packet as libpcap would have delivered it. Every source
// (pcap files, AF_PACKET, /dev/bpf, the eBPF ring) produces Frames, so one decoder
// and one set of golden tests serve all of them.
type Frame struct {
	LinkType LinkType
	// TS is the capture time in nanoseconds since the Unix epoch.
	TS int64
	// WireLen is the packet's length on the wire (pcap's orig_len).
	WireLen uint32
	// Data is the captured bytes (pcap's caplen = len(Data)). It is only valid
	// until the source delivers the next Frame, and it is read-only: the eBPF
	// source hands out slices of the kernel's read-only ring mapping, where a
	// write faults.
	Data []byte
	// Ifindex identifies the capture interface for live sources (0 for files);
	// pcapng files use it for the interface id.
	Ifindex uint32
}
