package ebpf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"
)

// Record flags, mirrored from bpf/capture.h (BPFLOW_F_*).
const (
	flagEgress = 0x01
	flagChunk  = 0x02
	flagLast   = 0x04
	flagTrunc  = 0x08
	flagVLAN   = 0x10
)

// recSize is sizeof(struct bpflow_rec): the frame starts right after it.
const recSize = int(unsafe.Sizeof(bpfBpflowRec{}))

// Linux packet types (sll_pkttype) for cooked frames.
const packetOutgoing = 4

var errShortRecord = errors.New("ring record shorter than its header")

// record is the decoded fixed header of one ring record. Decoding by hand
// (no binary.Read, no reflection) keeps the per-record cost at a few loads.
type record struct {
	tsNS    uint64
	ifindex uint32
	wireLen uint32
	capLen  uint32
	payOff  uint32
	hdrLen  uint16
	l3Off   uint16
	l4Off   uint16
	flags   uint8
	pktType uint8
}

// decodeRecord reads the header of raw and returns it with the frame bytes.
func decodeRecord(raw []byte) (record, []byte, error) {
	if len(raw) < recSize {
		return record{}, nil, fmt.Errorf("decode ring record of %d bytes: %w", len(raw), errShortRecord)
	}
	ne := binary.NativeEndian
	r := record{
		tsNS:    ne.Uint64(raw[0:]),
		ifindex: ne.Uint32(raw[8:]),
		wireLen: ne.Uint32(raw[12:]),
		capLen:  ne.Uint32(raw[16:]),
		payOff:  ne.Uint32(raw[20:]),
		hdrLen:  ne.Uint16(raw[24:]),
		l3Off:   ne.Uint16(raw[26:]),
		l4Off:   ne.Uint16(raw[28:]),
		flags:   raw[30],
		pktType: raw[31],
	}
	frame := raw[recSize:]
	if int(r.capLen) > len(frame) {
		return record{}, nil, fmt.Errorf("decode ring record: captured length %d beyond the %d bytes carried", r.capLen, len(frame))
	}
	frame = frame[:r.capLen]
	if r.flags&flagChunk != 0 {
		if err := patchChunk(&r, frame); err != nil {
			return record{}, nil, err
		}
	}
	return r, frame, nil
}

// patchChunk turns one slice of a super-packet into a frame of its own, as if
// the kernel had segmented it there: the IP length covers just this slice,
// the TCP sequence number points at its first byte, and FIN/PSH stay on the
// last slice only. The flow engine then places every slice by its seq.
func patchChunk(r *record, frame []byte) error {
	h, l3, l4 := int(r.hdrLen), int(r.l3Off), int(r.l4Off)
	if !(l3 < l4 && l4+20 <= h && h <= len(frame)) {
		return fmt.Errorf("decode chunk record: header offsets l3=%d l4=%d hdr=%d outside %d bytes", l3, l4, h, len(frame))
	}
	be := binary.BigEndian
	ipLen := len(frame) - l3
	switch frame[l3] >> 4 {
	case 4:
		be.PutUint16(frame[l3+2:], uint16(ipLen))
		ihl := int(frame[l3]&0x0f) * 4
		if l3+ihl > l4 {
			return fmt.Errorf("decode chunk record: IPv4 header length %d overlaps TCP at %d", ihl, l4)
		}
		be.PutUint16(frame[l3+10:], 0)
		be.PutUint16(frame[l3+10:], ipv4Checksum(frame[l3:l3+ihl]))
	case 6:
		be.PutUint16(frame[l3+4:], uint16(ipLen-40))
	default:
		return fmt.Errorf("decode chunk record: IP version %d at offset %d", frame[l3]>>4, l3)
	}
	be.PutUint32(frame[l4+4:], be.Uint32(frame[l4+4:])+r.payOff)
	if r.flags&flagLast == 0 {
		frame[l4+13] &^= 0x01 | 0x08 // FIN, PSH
	}
	r.wireLen = uint32(len(frame))
	return nil
}

func ipv4Checksum(hdr []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(hdr); i += 2 {
		sum += uint32(hdr[i])<<8 | uint32(hdr[i+1])
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// Linux ARPHRD_* device types (the cooked header's hatype).
const (
	arphrdEther    = 1
	arphrdLoopback = 772
)

// toCooked rewrites, in place, the frame that starts at raw[recSize:] into a
// Linux cooked (SLL) frame, as libpcap delivers frames for "-i any", and
// returns it. It overwrites the record header, which must be decoded first:
// a 16-byte cooked header replaces the 14-byte Ethernet header (or is put
// in front of a raw IP packet) without copying the payload.
func toCooked(raw []byte, r *record, hatype uint16, l3 bool) []byte {
	be := binary.BigEndian
	pktType := uint16(r.pktType)
	if r.flags&flagEgress != 0 {
		pktType = packetOutgoing
	}
	frameLen := int(r.capLen)
	if l3 {
		start := recSize - 16
		sll := raw[start:recSize]
		clear(sll)
		be.PutUint16(sll[0:], pktType)
		be.PutUint16(sll[2:], hatype)
		proto := uint16(0x0800)
		if frameLen > 0 && raw[recSize]>>4 == 6 {
			proto = 0x86dd
		}
		be.PutUint16(sll[14:], proto)
		r.wireLen += 16
		return raw[start : recSize+frameLen]
	}
	if frameLen < 14 {
		return nil
	}
	// Frame bytes 6–11 (source MAC) become the address; bytes 12–13 (the
	// Ethernet type, or the restored tag's TPID) stay where they are as the
	// cooked protocol field.
	start := recSize + 14 - 16
	copy(raw[start+6:start+12], raw[recSize+6:recSize+12])
	clear(raw[start+12 : start+14])
	be.PutUint16(raw[start:], pktType)
	be.PutUint16(raw[start+2:], hatype)
	be.PutUint16(raw[start+4:], 6)
	r.wireLen += 2
	return raw[start : recSize+frameLen]
}
