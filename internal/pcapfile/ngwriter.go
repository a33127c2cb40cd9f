package pcapfile

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/bits"

	"github.com/bpflow/bpflow/internal/layers"
)

// pcapng block types.
const (
	blockSHB = 0x0a0d0d0a
	blockIDB = 0x00000001
	blockPB  = 0x00000002 // obsolete Packet Block
	blockSPB = 0x00000003
	blockEPB = 0x00000006
	// byteOrderMagic is the SHB's byte-order magic as written by the writer.
	byteOrderMagic = 0x1a2b3c4d
	optEndOfOpt    = 0
	optIfTsresol   = 9
	optIfTsoffset  = 14
)

// NgWriter writes a pcapng file: one or more sections, each with its own
// interfaces. It exists so tests (and goldens) can make pcapng input with
// every feature the reader supports.
type NgWriter struct {
	w      io.Writer
	order  byteOrder
	ifaces []ngWriterIface // the interfaces of this section
	buf    []byte
}

// byteOrder is what binary.LittleEndian and binary.BigEndian both offer.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// NgInterface describes one Interface Description Block.
type NgInterface struct {
	LinkType layers.LinkType
	Snaplen  uint32
	// TsResol is the if_tsresol option byte (0: the option is omitted, which
	// means microseconds; 9: ns; 0x80|n: 2^-n seconds).
	TsResol uint8
	// TsOffset is the if_tsoffset option in seconds (0: omitted); packet
	// timestamps are stored relative to it.
	TsOffset int64
}

// ngWriterIface is what packets need of their interface.
type ngWriterIface struct {
	ups    uint64 // timestamp units per second
	offset int64  // if_tsoffset, seconds
}

// NewNgWriter writes a Section Header Block and returns the writer; add
// interfaces before writing packets.
func NewNgWriter(w io.Writer, bigEndian bool) (*NgWriter, error) {
	nw := &NgWriter{w: w, order: binary.LittleEndian}
	if bigEndian {
		nw.order = binary.BigEndian
	}
	return nw, nw.NewSection()
}

// NewSection starts a new section; the interfaces of earlier sections no
// longer exist.
func (nw *NgWriter) NewSection() error {
	nw.ifaces = nw.ifaces[:0]
	body := make([]byte, 16)
	nw.order.PutUint32(body[0:], byteOrderMagic)
	nw.order.PutUint16(body[4:], 1)
	nw.order.PutUint16(body[6:], 0)
	nw.order.PutUint64(body[8:], ^uint64(0)) // section length unknown
	return nw.block(blockSHB, body)
}

// AddInterface writes an Interface Description Block and returns the
// interface id packets refer to.
func (nw *NgWriter) AddInterface(ifc NgInterface) (uint32, error) {
	body := make([]byte, 8, 20)
	nw.order.PutUint16(body[0:], uint16(ifc.LinkType))
	nw.order.PutUint32(body[4:], ifc.Snaplen)
	if ifc.TsResol != 0 {
		body = nw.order.AppendUint16(body, optIfTsresol)
		body = nw.order.AppendUint16(body, 1)
		body = append(body, ifc.TsResol, 0, 0, 0)
	}
	if ifc.TsOffset != 0 {
		body = nw.order.AppendUint16(body, optIfTsoffset)
		body = nw.order.AppendUint16(body, 8)
		body = nw.order.AppendUint64(body, uint64(ifc.TsOffset))
	}
	if len(body) > 8 {
		body = append(body, 0, 0, 0, 0) // opt_endofopt
	}
	ups, ok := unitsPerSecond(ifc.TsResol)
	if !ok {
		return 0, fmt.Errorf("add pcapng interface: if_tsresol 0x%02x is finer than readers accept", ifc.TsResol)
	}
	if err := nw.block(blockIDB, body); err != nil {
		return 0, err
	}
	nw.ifaces = append(nw.ifaces, ngWriterIface{ups: ups, offset: ifc.TsOffset})
	return uint32(len(nw.ifaces) - 1), nil
}

// WritePacket writes an Enhanced Packet Block on interface iface; ts is ns
// since the epoch, wireLen 0 means len(data).
func (nw *NgWriter) WritePacket(iface uint32, ts int64, wireLen uint32, data []byte) error {
	if int(iface) >= len(nw.ifaces) {
		return fmt.Errorf("write pcapng packet: interface %d not defined (have %d)", iface, len(nw.ifaces))
	}
	if wireLen == 0 {
		wireLen = uint32(len(data))
	}
	ifc := nw.ifaces[iface]
	units := fromNanos(ts-ifc.offset*1e9, ifc.ups)
	body := nw.buf[:0]
	body = nw.order.AppendUint32(body, iface)
	body = nw.order.AppendUint32(body, uint32(units>>32))
	body = nw.order.AppendUint32(body, uint32(units))
	body = nw.order.AppendUint32(body, uint32(len(data)))
	body = nw.order.AppendUint32(body, wireLen)
	body = append(body, data...)
	body = pad4(body)
	nw.buf = body
	return nw.block(blockEPB, body)
}

// WriteSimple writes a Simple Packet Block (interface 0, no timestamp; the
// captured length is min(wireLen, interface 0's snaplen) by definition;
// wireLen 0 means len(data)).
func (nw *NgWriter) WriteSimple(wireLen uint32, data []byte) error {
	if wireLen == 0 {
		wireLen = uint32(len(data))
	}
	body := nw.order.AppendUint32(nw.buf[:0], wireLen)
	body = pad4(append(body, data...))
	nw.buf = body
	return nw.block(blockSPB, body)
}

// WriteBlock writes a block of any type with the given body (padded to 4
// bytes), e.g. Name Resolution or Interface Statistics blocks that readers
// must step over.
func (nw *NgWriter) WriteBlock(typ uint32, body []byte) error {
	return nw.block(typ, pad4(bytes.Clone(body)))
}

func (nw *NgWriter) block(typ uint32, body []byte) error {
	var h [8]byte
	total := uint32(12 + len(body))
	nw.order.PutUint32(h[0:], typ)
	nw.order.PutUint32(h[4:], total)
	var t [4]byte
	nw.order.PutUint32(t[:], total)
	for _, part := range [][]byte{h[:], body, t[:]} {
		if _, err := nw.w.Write(part); err != nil {
			return fmt.Errorf("write pcapng block 0x%x: %w", typ, err)
		}
	}
	return nil
}

func pad4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// unitsPerSecond decodes an if_tsresol option byte (0 = option absent =
// microseconds); ok is false for resolutions libpcap refuses (finer than
// 2^-63 or 10^-19).
func unitsPerSecond(opt uint8) (ups uint64, ok bool) {
	if opt == 0 {
		return 1e6, true
	}
	exp := opt & 0x7f
	if opt&0x80 != 0 {
		return 1 << exp, exp <= 63
	}
	if exp > 19 {
		return 0, false
	}
	ups = 1
	for range exp {
		ups *= 10
	}
	return ups, true
}

// toNanos converts a pcapng timestamp (units since the epoch at ups units per
// second, plus if_tsoffset seconds) to ns. Overflowing values wrap rather
// than fail: a hostile timestamp must not stop the read.
func toNanos(units, ups uint64, offset int64) (int64, error) {
	sec := units / ups
	frac := units % ups
	hi, lo := bits.Mul64(frac, 1e9)
	ns, _ := bits.Div64(hi, lo, ups) // frac < ups, so the quotient fits
	// Frame.TS is int64 nanoseconds: 1677-09-21 to 2262-04-11. pcapng's
	// 64-bit units reach further; such a time is refused rather than
	// wrapped into a wrong date.
	const maxSec = math.MaxInt64/1_000_000_000 - 1
	if sec > maxSec || int64(sec)+offset > maxSec || int64(sec)+offset < -maxSec {
		return 0, errorf("packet time %d s after the epoch is beyond 2262-04-11, the last time bpflow represents", int64(sec)+offset)
	}
	return (int64(sec)+offset)*1e9 + int64(ns), nil
}

// fromNanos is toNanos's inverse for the writer (negative times become 0).
func fromNanos(ts int64, ups uint64) uint64 {
	if ts <= 0 {
		return 0
	}
	sec, ns := uint64(ts)/1e9, uint64(ts)%1e9
	hi, lo := bits.Mul64(ns, ups)
	frac, _ := bits.Div64(hi, lo, 1e9)
	return sec*ups + frac
}
