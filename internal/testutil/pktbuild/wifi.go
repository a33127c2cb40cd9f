package pktbuild

import (
	"encoding/binary"
	"hash/crc32"
)

// Radiotap is a radiotap header (LINKTYPE_IEEE802_11_RADIOTAP): version 0,
// the length, one or more present words and the raw field bytes.
type Radiotap struct {
	// Present are the present bitmaps (bit 31 announces another word);
	// empty means one word of 0.
	Present []uint32
	// Fields are the field bytes after the bitmaps, already aligned.
	Fields []byte
	// Len overrides the header length field (0: computed).
	Len uint16
}

// RadiotapFlagsFCS is the radiotap Flags field bit saying the frame ends
// with an FCS.
const RadiotapFlagsFCS = 0x10

func (r Radiotap) size() int { return 4 + 4*max(1, len(r.Present)) + len(r.Fields) }

func (r Radiotap) put(b []byte, _, _ Layer) {
	n := r.size()
	b[0], b[1] = 0, 0
	l := r.Len
	if l == 0 {
		l = uint16(n)
	}
	binary.LittleEndian.PutUint16(b[2:], l)
	p := b[4:]
	clear(p[:4])
	for _, w := range r.Present {
		binary.LittleEndian.PutUint32(p, w)
		p = p[4:]
	}
	if len(r.Present) == 0 {
		p = p[4:]
	}
	copy(p, r.Fields)
}

// 802.11 frame control values for Dot11.FC (little-endian on the wire).
const (
	Dot11Data    = 0x0008 // type 2, subtype 0
	Dot11QoSData = 0x0088 // type 2, subtype 8
	Dot11Beacon  = 0x0080 // type 0, subtype 8
	Dot11ToDS    = 0x0100
	Dot11FromDS  = 0x0200
	Dot11WEP     = 0x4000
)

// Dot11 is an 802.11 MAC header: 24 bytes, 30 with both DS bits (Addr4),
// plus 2 for QoS data.
type Dot11 struct {
	FC                         uint16
	Duration                   uint16
	Addr1, Addr2, Addr3, Addr4 [6]byte
	SeqCtl                     uint16
	QoS                        uint16
}

func (d Dot11) size() int {
	n := 24
	if d.FC&(Dot11ToDS|Dot11FromDS) == Dot11ToDS|Dot11FromDS {
		n = 30
	}
	if d.FC&0x00fc == Dot11QoSData {
		n += 2
	}
	return n
}

func (d Dot11) put(b []byte, _, _ Layer) {
	le := binary.LittleEndian
	le.PutUint16(b[0:], d.FC)
	le.PutUint16(b[2:], d.Duration)
	copy(b[4:10], d.Addr1[:])
	copy(b[10:16], d.Addr2[:])
	copy(b[16:22], d.Addr3[:])
	le.PutUint16(b[22:], d.SeqCtl)
	p := b[24:d.size()] // b runs on into the inner layers
	if len(p) >= 6 {
		copy(p[:6], d.Addr4[:])
		p = p[6:]
	}
	if len(p) == 2 {
		le.PutUint16(p, d.QoS)
	}
}

// LLC is an 802.2 LLC/SNAP header; the zero value is SNAP (AA AA 03,
// OUI 000000) with the type derived from the next layer.
type LLC struct {
	DSAP, SSAP, Control uint8
	OUI                 [3]byte
	Type                uint16
}

func (l LLC) size() int { return 8 }

func (l LLC) put(b []byte, _, inner Layer) {
	if l.DSAP == 0 && l.SSAP == 0 && l.Control == 0 {
		l.DSAP, l.SSAP, l.Control = 0xaa, 0xaa, 0x03
	}
	b[0], b[1], b[2] = l.DSAP, l.SSAP, l.Control
	copy(b[3:6], l.OUI[:])
	typ := l.Type
	if typ == 0 {
		typ = etherTypeOf(inner)
	}
	be.PutUint16(b[6:], typ)
}

// AppendFCS appends the 802.11/Ethernet frame check sequence (CRC-32,
// little-endian) of frame[from:], the MAC frame without any radio header.
func AppendFCS(frame []byte, from int) []byte {
	return binary.LittleEndian.AppendUint32(frame, crc32.ChecksumIEEE(frame[from:]))
}
