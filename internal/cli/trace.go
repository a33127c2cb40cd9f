package cli

import (
	"encoding/binary"

	"github.com/bpflow/bpflow/internal/layers"
)

// tcpflow's datalink handlers and IP layer print DEBUG(0/2/6) traces about
// short or odd frames. bpflow's decoder says only where a frame stopped, so
// these functions look at the headers again — only when the debug level
// asks for it (level 0 only costs the Ethernet length check) — to print
// tcpflow's lines in tcpflow's order: link traces before the per-packet
// "process_pkt" line, IP traces after it.

const (
	etherTypeOffset = 12
	etherHeaderLen  = 14
)

func isVLANType(t uint16) bool { return t == 0x8100 || t == 0x9100 || t == 0x88a8 }

// linkTraces prints the datalink handler's traces for fr and returns where
// the IP data starts (-1 when the handler drops the frame).
func (s *session) linkTraces(fr *layers.Frame) int {
	d, caplen, length := fr.Data, len(fr.Data), int(fr.WireLen)
	switch fr.LinkType {
	case layers.LinkEthernet, layers.LinkIEEE802:
		return s.etherTraces(d, length)
	case layers.LinkNull:
		return s.headerTraces("null", 4, caplen, length, len(d) > 0 && d[0] != 2 && d[0] != 10, d)
	case layers.LinkPPP:
		return s.headerTraces("PPP", 4, caplen, length, false, d)
	case layers.LinkRaw:
		if caplen != length {
			s.logf(6, "warning: only captured %d bytes of %d byte raw frame", caplen, length)
		}
		return 0
	case layers.LinkLinuxSLL:
		return s.headerTraces("Linux cooked", 16, caplen, length, false, d)
	}
	return -1
}

func (s *session) etherTraces(d []byte, length int) int {
	caplen := len(d)
	if caplen < etherTypeOffset {
		s.errln(s.prefix + ": error: the captured packet header bytes are shorter than the ether_type offset")
		return -1
	}
	if length != caplen {
		s.logf(6, "warning: only captured %d bytes of %d byte ether frame", caplen, length)
	}
	off := etherTypeOffset
	for off+2 <= len(d) && isVLANType(binary.BigEndian.Uint16(d[off:])) {
		off += 4
		caplen -= 4
		if caplen < etherTypeOffset {
			s.errln(s.prefix + ": error: the captured packet header bytes are shorter than the ether_type offset")
			return -1
		}
	}
	if caplen < etherHeaderLen || off+2 > len(d) {
		s.logf(6, "warning: received incomplete ethernet frame")
		return -1
	}
	switch binary.BigEndian.Uint16(d[off:]) {
	case 0x0800, 0x86dd:
		return off + 2
	case 0x0806, 0x9000, 0x8035: // ARP, loopback, RARP: dropped quietly
	default:
		s.logf(6, "warning: received ethernet frame with unknown type 0x%x", binary.BigEndian.Uint16(d[etherTypeOffset:]))
	}
	return -1
}

// headerTraces covers the handlers that skip a fixed header.
func (s *session) headerTraces(kind string, hdr, caplen, length int, badFamily bool, d []byte) int {
	if length != caplen {
		s.logf(6, "warning: only captured %d bytes of %d byte %s frame", caplen, length, kind)
	}
	if caplen < hdr {
		s.logf(6, "warning: received incomplete %s frame", kind)
		return -1
	}
	if badFamily {
		s.logf(6, "warning: received null frame with unknown type (type 0x%x) (AF_INET=%x; AF_INET6=%x)", d[0], 2, 10)
		return -1
	}
	return hdr
}

// ipTraces prints tcpflow's IPv4/IPv6 layer traces for the IP data ip.
func (s *session) ipTraces(ip []byte) {
	if len(ip) < 20 {
		return // tcpflow's ip_version() is 0 below 20 bytes: no layer looks
	}
	switch ip[0] >> 4 {
	case 4:
		s.ipv4Traces(ip)
	case 6:
		if len(ip) < 40 {
			s.logf(6, "received truncated IPv6 datagram!")
			return
		}
		if ip[6] == 6 {
			s.tcpTraces(int(binary.BigEndian.Uint16(ip[4:])))
		}
	}
}

func (s *session) ipv4Traces(ip []byte) {
	if ip[9] != 6 {
		return
	}
	total := int(binary.BigEndian.Uint16(ip[2:]))
	if len(ip) < total {
		s.logf(6, "warning: captured only %d bytes of %d-byte IP datagram", len(ip), total)
	}
	if binary.BigEndian.Uint16(ip[6:])&0x1fff != 0 {
		s.logf(2, "warning: throwing away IP fragment from X to X")
		return
	}
	ihl := int(ip[0]&15) * 4
	if ihl > total {
		s.logf(6, "received truncated IP datagram!")
		return
	}
	// bpflow takes the payload length from the header (DESIGN §4.1)
	s.tcpTraces(min(total, len(ip)) - ihl)
}

func (s *session) tcpTraces(payload int) {
	if payload < 20 {
		s.logf(6, "received truncated TCP segment! (%d<%d)", payload, 20)
	}
}
