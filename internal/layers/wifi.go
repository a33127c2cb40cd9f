package layers

import (
	"encoding/binary"
	"hash/crc32"
)

// Wireless link types, decoded as tcpflow 1.6.1's wifipcap does.
const (
	LinkIEEE80211 LinkType = 105 // tcpflow parses these as radiotap too
	LinkPrism     LinkType = 119 // 144-byte Prism header, then 802.11
	LinkRadiotap  LinkType = 127 // radiotap header, then 802.11
)

// radiotapPayload follows wifipcap's handle_radiotap: the header's length
// and present bitmaps are checked, its fields are not needed, and the
// 802.11 frame after it is decoded. tcpflow sends plain 802.11 (105) here as
// well, which therefore rarely yields anything; bpflow does the same.
func (d Decoder) radiotapPayload(data []byte) ([]byte, bool) {
	if len(data) < 8 {
		return nil, false
	}
	hlen := int(binary.LittleEndian.Uint16(data[2:]))
	if len(data) < hlen {
		return nil, false
	}
	extended := func(off int) (ext, ok bool) {
		if off+4 > len(data) {
			return false, false
		}
		return binary.LittleEndian.Uint32(data[off:])&(1<<31) != 0, true
	}
	off := 4 // the present bitmaps: bit 31 announces another word
	for {
		ext, ok := extended(off)
		if !ok {
			return nil, false
		}
		if !ext {
			break
		}
		if off+4 > hlen { // more bitmaps than the header holds
			return nil, false
		}
		off += 4
	}
	if hlen-(off+4) <= 0 { // no room for fields: wifipcap gives up
		return nil, false
	}
	return d.dot11Payload(data[hlen:])
}

// prismPayload skips the Prism header.
func (d Decoder) prismPayload(data []byte) ([]byte, bool) {
	if len(data) < 144 {
		return nil, false
	}
	return d.dot11Payload(data[144:])
}

// dot11Payload decodes an 802.11 data frame the way wifipcap does: the last
// four bytes are the FCS and must be valid unless d.IgnoreFCS, WEP
// frames are skipped, and LLC/SNAP (or an encapsulated-Ethernet or Cisco OUI)
// leads to the IP datagram.
func (d Decoder) dot11Payload(f []byte) ([]byte, bool) {
	if len(f) < 2 {
		return nil, false
	}
	fc := binary.LittleEndian.Uint16(f)
	if fc>>2&3 != 2 { // management and control frames carry no IP
		return nil, false
	}
	hdr := 24
	if fc&0x0300 == 0x0300 { // to and from DS: four addresses
		hdr = 30
	}
	if len(f) < hdr+4 {
		return nil, false
	}
	if !d.IgnoreFCS && crc32.ChecksumIEEE(f[:len(f)-4]) != binary.LittleEndian.Uint32(f[len(f)-4:]) {
		return nil, false
	}
	if fc>>4&0xf == 8 { // QoS data
		hdr += 2
	}
	if fc&0x4000 != 0 { // protected (WEP/WPA)
		return nil, false
	}
	n := len(f) - hdr - 4
	if n < 0 {
		return nil, false
	}
	llc := f[hdr : hdr+n]
	if n < 7 {
		return llc, true // wifipcap hands the stub to the IP layer, which refuses it
	}
	oui := uint32(llc[3])<<16 | uint32(llc[4])<<8 | uint32(llc[5])
	if llc[0] == 0xaa && llc[1] == 0xaa || oui == 0 || oui == 0xf8 {
		if n < 8 {
			return llc[n:], true
		}
		return llc[8:], true
	}
	return nil, false
}
