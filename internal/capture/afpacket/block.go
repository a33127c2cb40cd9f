package afpacket

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/bpflow/bpflow/internal/layers"
)

// Layout of a TPACKET_V3 block as the kernel writes it (linux/if_packet.h),
// in host byte order. Decoding works on the block's bytes so it can be tested
// and fuzzed on hand-built blocks.
const (
	blockDescLen  = 48 // struct tpacket_block_desc
	offBlkStatus  = 8  // hdr.bh1.block_status
	offBlkNumPkts = 12 // hdr.bh1.num_pkts
	offBlkFirst   = 16 // hdr.bh1.offset_to_first_pkt

	offNext     = 0  // tpacket3_hdr.tp_next_offset
	offSec      = 4  // tp_sec
	offNsec     = 8  // tp_nsec
	offSnaplen  = 12 // tp_snaplen: bytes stored from tp_mac
	offLen      = 16 // tp_len: length on the wire
	offStatus   = 20 // tp_status
	offMac      = 24 // tp_mac: link header, from the frame start
	offNet      = 26 // tp_net: network header, from the frame start
	offVLANTCI  = 32 // hv1.tp_vlan_tci
	offVLANTPID = 36 // hv1.tp_vlan_tpid
	sllStart    = 48 // sockaddr_ll at TPACKET_ALIGN(sizeof(tpacket3_hdr))
	frameHdrLen = sllStart + 20

	offSLLProto   = sllStart + 2 // sll_protocol, network byte order
	offSLLIfindex = sllStart + 4
	offSLLHatype  = sllStart + 8
	offSLLPkttype = sllStart + 10
	offSLLHalen   = sllStart + 11
	offSLLAddr    = sllStart + 12

	statusUser          = 1    // TP_STATUS_USER: block belongs to userspace
	statusVLANValid     = 0x10 // TP_STATUS_VLAN_VALID
	statusVLANTPIDValid = 0x40 // TP_STATUS_VLAN_TPID_VALID

	packetOutgoing = 4 // PACKET_OUTGOING
	ethP8021Q      = 0x8100
	vlanTagLen     = 4
	sllHdrLen      = 16
	// reserveLen is the PACKET_RESERVE headroom asked for so a VLAN tag can
	// be put back in place without copying the frame.
	reserveLen = vlanTagLen
)

// errCorruptBlock reports a block whose layout points outside itself; the
// kernel never writes one, so it means a bug or a different ABI.
var errCorruptBlock = errors.New("corrupt TPACKET_V3 block")

// decoder turns ring frames into the Frames libpcap would deliver. It keeps
// one Frame and reuses it for every packet.
type decoder struct {
	linkType layers.LinkType
	// cooked: the socket is SOCK_DGRAM; an SLL header is built in front of
	// the network header.
	cooked bool
	// vlanOffset is where an offloaded tag goes back: after both MACs on
	// Ethernet, before the protocol field on SLL; -1 for links without one.
	vlanOffset int
	// loIfindex is the loopback device whose outgoing copies are skipped
	// (0: none).
	loIfindex int32
	snaplen   uint32
	// match filters frames whose tag was offloaded (nil: all pass). It sees
	// the frame with its tag restored.
	match func(data []byte, wireLen uint32) bool
	// matchAll: the kernel did not filter; match runs on every frame.
	matchAll bool

	frame     layers.Frame
	delivered uint64
}

// block delivers every frame of a retired block to handle and stops at the
// first error handle returns.
func (d *decoder) block(blk []byte, handle func(*layers.Frame) error) error {
	if len(blk) < blockDescLen {
		return fmt.Errorf("decode ring block of %d bytes: %w", len(blk), errCorruptBlock)
	}
	num := binary.NativeEndian.Uint32(blk[offBlkNumPkts:])
	off := int(binary.NativeEndian.Uint32(blk[offBlkFirst:]))
	for i := uint32(0); i < num; i++ {
		if off < blockDescLen || off > len(blk)-frameHdrLen {
			return fmt.Errorf("decode frame %d of %d at offset %d in a %d-byte block: %w", i, num, off, len(blk), errCorruptBlock)
		}
		ok, err := d.frameAt(blk, off)
		if err != nil {
			return fmt.Errorf("decode frame %d of %d at offset %d: %w", i, num, off, err)
		}
		if ok {
			d.delivered++
			if err := handle(&d.frame); err != nil {
				return err
			}
		}
		next := int(binary.NativeEndian.Uint32(blk[off+offNext:]))
		if next == 0 {
			break
		}
		off += next
	}
	return nil
}

// frameAt fills d.frame from the tpacket3_hdr at off. It returns false for
// packets libpcap would not deliver.
func (d *decoder) frameAt(blk []byte, off int) (bool, error) {
	h := blk[off:]
	ne := binary.NativeEndian
	if ifindex := int32(ne.Uint32(h[offSLLIfindex:])); d.loIfindex != 0 && ifindex == d.loIfindex && h[offSLLPkttype] == packetOutgoing {
		return false, nil
	}
	start := int(ne.Uint16(h[offMac:]))
	if d.cooked {
		start = int(ne.Uint16(h[offNet:]))
	}
	caplen := int(ne.Uint32(h[offSnaplen:]))
	wireLen := ne.Uint32(h[offLen:])
	if start < frameHdrLen || start > len(h) || caplen > len(h)-start {
		return false, errCorruptBlock
	}
	if d.cooked {
		if start-sllHdrLen < frameHdrLen {
			return false, errCorruptBlock
		}
		start -= sllHdrLen
		d.putSLL(h[start:start+sllHdrLen], h)
		caplen += sllHdrLen
		wireLen += sllHdrLen
	}
	status := ne.Uint32(h[offStatus:])
	tci := ne.Uint16(h[offVLANTCI:])
	// libpcap leaves the tag out of frames too short to hold the MACs.
	tagged := d.vlanOffset >= 0 && (tci != 0 || status&statusVLANValid != 0) && caplen >= d.vlanOffset
	if tagged {
		if start-vlanTagLen < frameHdrLen {
			return false, errCorruptBlock
		}
		tpid := uint16(ethP8021Q)
		if status&statusVLANTPIDValid != 0 {
			tpid = ne.Uint16(h[offVLANTPID:])
		}
		copy(h[start-vlanTagLen:], h[start:start+d.vlanOffset])
		start -= vlanTagLen
		binary.BigEndian.PutUint16(h[start+d.vlanOffset:], tpid)
		binary.BigEndian.PutUint16(h[start+d.vlanOffset+2:], tci)
		caplen += vlanTagLen
		wireLen += vlanTagLen
	}
	if uint32(caplen) > d.snaplen {
		caplen = int(d.snaplen)
	}
	data := h[start : start+caplen]
	if (tagged || d.matchAll) && d.match != nil && !d.match(data, wireLen) {
		return false, nil
	}
	d.frame = layers.Frame{
		LinkType: d.linkType,
		TS:       int64(ne.Uint32(h[offSec:]))*1e9 + int64(ne.Uint32(h[offNsec:])),
		WireLen:  wireLen,
		Data:     data,
		Ifindex:  ne.Uint32(h[offSLLIfindex:]),
	}
	return true, nil
}

// putSLL writes libpcap's Linux cooked (v1) header from the sockaddr_ll the
// kernel stored in the frame header h.
func (d *decoder) putSLL(dst, h []byte) {
	ne := binary.NativeEndian
	be := binary.BigEndian
	be.PutUint16(dst[0:], uint16(h[offSLLPkttype]))
	be.PutUint16(dst[2:], ne.Uint16(h[offSLLHatype:]))
	be.PutUint16(dst[4:], uint16(h[offSLLHalen]))
	copy(dst[6:14], h[offSLLAddr:offSLLAddr+8])
	copy(dst[14:16], h[offSLLProto:offSLLProto+2])
}
