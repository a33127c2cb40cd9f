package pcapfile

import (
	"encoding/binary"
	"io"

	"github.com/bpflow/bpflow/internal/layers"
)

// Option value lengths libpcap insists on.
const (
	optIfTsresolLen  = 1
	optIfTsoffsetLen = 8
)

// openPcapng reads the first Section Header Block (its type is consumed) and
// everything up to the first Interface Description Block, as libpcap's
// open does.
func (rd *Reader) openPcapng() error {
	rd.ng = true
	h, err := rd.take(8)
	if err != nil {
		// libpcap: too short to be pcapng, so "possibly a weird text file".
		if isShort(err) {
			return errorf("unknown file format")
		}
		return readError(err)
	}
	var total uint32
	switch binary.LittleEndian.Uint32(h[4:]) {
	case byteOrderMagic:
		rd.order = binary.LittleEndian
	case swap32(byteOrderMagic):
		rd.order = binary.BigEndian
	default:
		return errorf("unknown file format")
	}
	total = rd.order.Uint32(h[0:])
	if total < 28 || total > maxSHB {
		return errorf("Section Header Block in pcapng dump file has invalid length %d < _%d_ < %d (BT_SHB_INSANE_MAX)", 28, total, maxSHB)
	}
	body, err := rd.take(int(total) - 12)
	if err != nil {
		return truncatedBlock(err, int(total)-12, len(body))
	}
	major, minor := rd.order.Uint16(body[0:]), rd.order.Uint16(body[2:])
	if !(major == 1 && (minor == 0 || minor == 2)) {
		return errorf("unsupported pcapng savefile version %d.%d", major, minor)
	}
	// libpcap's open reads on until the first interface.
	for {
		typ, body, err := rd.readBlock()
		if err == io.EOF {
			return errorf("the capture file has no Interface Description Blocks")
		}
		if err != nil {
			return err
		}
		switch typ {
		case blockIDB:
			if err := rd.addInterface(body); err != nil {
				return err
			}
			rd.first = rd.ifaces[0]
			return nil
		case blockEPB, blockSPB, blockPB:
			return errorf("the capture file has a packet block before any Interface Description Blocks")
		case blockSHB:
			if err := rd.newSection(body); err != nil {
				return err
			}
		}
	}
}

func truncatedBlock(err error, want, got int) error {
	if isShort(err) {
		return errorf("truncated pcapng dump file; tried to read %d bytes, only got %d", want, got)
	}
	return readError(err)
}

// readBlock reads one block and returns its type and body (without the
// common header and trailer), valid until the next read. A Section Header
// Block sets the byte order of what follows, so a file may mix sections of
// both orders (libpcap refuses that).
func (rd *Reader) readBlock() (uint32, []byte, error) {
	h, err := rd.take(8)
	if err != nil {
		if len(h) == 0 && err == io.EOF {
			return 0, nil, io.EOF
		}
		return 0, nil, truncatedBlock(err, 8, len(h))
	}
	typ, total := rd.order.Uint32(h[0:]), rd.order.Uint32(h[4:])
	if typ == blockSHB { // the type reads the same in both orders
		if peek, _ := rd.br.Peek(4); len(peek) == 4 {
			switch binary.LittleEndian.Uint32(peek) {
			case byteOrderMagic:
				rd.order = binary.LittleEndian
			case swap32(byteOrderMagic):
				rd.order = binary.BigEndian
			}
			total = rd.order.Uint32(h[4:])
		}
	}
	if total < 12 {
		return 0, nil, errorf("block in pcapng dump file has a length of %d < 12", total)
	}
	if total%4 != 0 {
		return 0, nil, errorf("block in pcapng dump file has a length of %d that is not a multiple of 4", total)
	}
	if total > maxBlock {
		return 0, nil, errorf("pcapng block size %d > maximum %d", total, maxBlock)
	}
	body, err := rd.take(int(total) - 8)
	if err != nil {
		return 0, nil, truncatedBlock(err, int(total)-8, len(body))
	}
	body, trailer := body[:len(body)-4], body[len(body)-4:]
	if rd.order.Uint32(trailer) != total {
		return 0, nil, errorf("block total length in header and trailer don't match")
	}
	return typ, body, nil
}

func tooShort(typ uint32) error {
	return errorf("block of type %d in pcapng dump file is too short", typ)
}

// newSection handles a Section Header Block after the first: the interfaces
// of the previous section are forgotten.
func (rd *Reader) newSection(body []byte) error {
	if len(body) < 16 {
		return tooShort(blockSHB)
	}
	if rd.order.Uint32(body[0:]) != byteOrderMagic {
		return errorf("the file has a section with a bad byte order magic field")
	}
	if major := rd.order.Uint16(body[4:]); major != 1 {
		return errorf("unknown pcapng savefile major version number %d", major)
	}
	rd.ifaces = rd.ifaces[:0]
	return nil
}

// addInterface records an Interface Description Block.
func (rd *Reader) addInterface(body []byte) error {
	if len(body) < 8 {
		return tooShort(blockIDB)
	}
	if len(rd.ifaces) >= maxInterfaces {
		return errorf("more than %d interfaces in the file", maxInterfaces)
	}
	ifc := ngIface{
		link:    layers.LinkType(rd.order.Uint16(body[0:])),
		snaplen: rd.order.Uint32(body[4:]),
		ups:     1e6,
	}
	ifc.snapshot = adjustSnapshot(ifc.snaplen)
	if err := rd.interfaceOptions(body[8:], &ifc); err != nil {
		return err
	}
	rd.ifaces = append(rd.ifaces, ifc)
	return nil
}

// interfaceOptions reads if_tsresol and if_tsoffset, with libpcap's checks.
func (rd *Reader) interfaceOptions(opts []byte, ifc *ngIface) error {
	var sawResol, sawOffset bool
	for len(opts) != 0 {
		if len(opts) < 4 {
			return tooShort(blockIDB)
		}
		code, n := rd.order.Uint16(opts[0:]), int(rd.order.Uint16(opts[2:]))
		padded := (n + 3) &^ 3
		if len(opts)-4 < padded {
			return tooShort(blockIDB)
		}
		val := opts[4 : 4+n]
		opts = opts[4+padded:]
		switch code {
		case optEndOfOpt:
			if n != 0 {
				return errorf("Interface Description Block has opt_endofopt option with length %d != 0", n)
			}
			return nil
		case optIfTsresol:
			if n != optIfTsresolLen {
				return errorf("Interface Description Block has if_tsresol option with length %d != 1", n)
			}
			if sawResol {
				return errorf("Interface Description Block has more than one if_tsresol option")
			}
			sawResol = true
			ups, ok := unitsPerSecond(val[0])
			if !ok && val[0]&0x80 != 0 {
				return errorf("Interface Description Block if_tsresol option resolution 2^-%d is too high", val[0]&0x7f)
			}
			if !ok {
				return errorf("Interface Description Block if_tsresol option resolution 10^-%d is too high", val[0])
			}
			if val[0] == 0 { // an explicit 0 is 10^0: seconds
				ups = 1
			}
			ifc.ups = ups
		case optIfTsoffset:
			if n != optIfTsoffsetLen {
				return errorf("Interface Description Block has if_tsoffset option with length %d != 8", n)
			}
			if sawOffset {
				return errorf("Interface Description Block has more than one if_tsoffset option")
			}
			sawOffset = true
			ifc.offset = int64(rd.order.Uint64(val))
		}
	}
	return nil
}

func (rd *Reader) nextPcapng() (*layers.Frame, error) {
	for {
		typ, body, err := rd.readBlock()
		if err != nil {
			return nil, err
		}
		switch typ {
		case blockEPB, blockPB:
			return rd.packet(typ, body)
		case blockSPB:
			return rd.simplePacket(body)
		case blockIDB:
			if err := rd.addInterface(body); err != nil {
				return nil, err
			}
		case blockSHB:
			if err := rd.newSection(body); err != nil {
				return nil, err
			}
		}
	}
}

// packet decodes an Enhanced Packet Block or an obsolete Packet Block (same
// layout but a 16-bit interface id followed by a drops count).
func (rd *Reader) packet(typ uint32, body []byte) (*layers.Frame, error) {
	if len(body) < 20 {
		return nil, tooShort(typ)
	}
	id := rd.order.Uint32(body[0:])
	if typ == blockPB {
		id = uint32(rd.order.Uint16(body[0:]))
	}
	units := uint64(rd.order.Uint32(body[4:]))<<32 | uint64(rd.order.Uint32(body[8:]))
	caplen, wirelen := rd.order.Uint32(body[12:]), rd.order.Uint32(body[16:])
	ifc, err := rd.iface(id)
	if err != nil {
		return nil, err
	}
	if caplen > ifc.snapshot {
		return nil, errorf("invalid packet capture length %d, bigger than snaplen of %d", caplen, ifc.snapshot)
	}
	if uint64(caplen) > uint64(len(body)-20) {
		return nil, tooShort(typ)
	}
	ts, err := toNanos(units, ifc.ups, ifc.offset)
	if err != nil {
		return nil, err
	}
	rd.frame = layers.Frame{
		LinkType: ifc.link,
		TS:       ts,
		WireLen:  wirelen,
		Data:     body[20 : 20+caplen],
		Ifindex:  id,
	}
	return &rd.frame, nil
}

// simplePacket decodes a Simple Packet Block: interface 0, captured length
// min(wire length, snapshot length), and no timestamp, which libpcap reads as
// 0 and then shifts by the interface's if_tsoffset like any other.
func (rd *Reader) simplePacket(body []byte) (*layers.Frame, error) {
	if len(body) < 4 {
		return nil, tooShort(blockSPB)
	}
	wirelen := rd.order.Uint32(body[0:])
	ifc, err := rd.iface(0)
	if err != nil {
		return nil, err
	}
	caplen := min(wirelen, ifc.snapshot)
	if uint64(caplen) > uint64(len(body)-4) {
		return nil, tooShort(blockSPB)
	}
	ts, err := toNanos(0, ifc.ups, ifc.offset)
	if err != nil {
		return nil, err
	}
	rd.frame = layers.Frame{LinkType: ifc.link, TS: ts, WireLen: wirelen, Data: body[4 : 4+caplen]}
	return &rd.frame, nil
}

func (rd *Reader) iface(id uint32) (*ngIface, error) {
	if uint64(id) >= uint64(len(rd.ifaces)) {
		return nil, errorf("a packet arrived on interface %d, but there's no Interface Description Block for that interface", id)
	}
	return &rd.ifaces[id], nil
}
