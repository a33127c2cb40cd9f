package pcapfile

import (
	"encoding/binary"
	"fmt"
	"io"
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
	ifaces []ngIface
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
		opt := make([]byte, 8)
		nw.order.PutUint16(opt[0:], optIfTsresol)
		nw.order.PutUint16(opt[2:], 1)
		opt[4] = ifc.TsResol
		body = append(body, opt...)
		body = append(body, 0, 0, 0, 0) // opt_endofopt
	}
	if err := nw.block(blockIDB, body); err != nil {
		return 0, err
	}
	nw.ifaces = append(nw.ifaces, ngIface{link: ifc.LinkType, resol: tsResolution(ifc.TsResol)})
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
	units := nw.ifaces[iface].resol.fromNanos(ts)
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
// captured length is min(wireLen, interface 0's snaplen) by definition).
func (nw *NgWriter) WriteSimple(wireLen uint32, data []byte) error {
	body := nw.order.AppendUint32(nw.buf[:0], wireLen)
	body = pad4(append(body, data...))
	nw.buf = body
	return nw.block(blockSPB, body)
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

type ngIface struct {
	link   layers.LinkType
	resol  resolution
	offset int64 // if_tsoffset in seconds
}

// resolution is a pcapng if_tsresol: units per second as 10^exp or 2^exp.
type resolution struct {
	exp    uint8
	binary bool
}

func tsResolution(opt uint8) resolution {
	if opt == 0 {
		return resolution{exp: 6}
	}
	return resolution{exp: opt & 0x7f, binary: opt&0x80 != 0}
}

// toNanos converts a timestamp in the interface's units to ns, in 128-bit
// arithmetic so no resolution overflows (the result saturates).
func (r resolution) toNanos(units uint64) int64 {
	hi, lo := bits.Mul64(units, 1e9)
	var q uint64
	if r.binary {
		if r.exp >= 64 {
			q = hi >> (r.exp - 64)
			if r.exp >= 128 {
				q = 0
			}
		} else if r.exp == 0 {
			q = lo
			if hi != 0 {
				q = ^uint64(0)
			}
		} else {
			q = lo>>r.exp | hi<<(64-r.exp)
			if hi>>r.exp != 0 {
				q = ^uint64(0)
			}
		}
	} else {
		div, ok := pow10(r.exp)
		if !ok {
			return 0 // finer than 1e-19 s: below 1 ns for any 64-bit count
		}
		if hi >= div {
			q = ^uint64(0)
		} else {
			q, _ = bits.Div64(hi, lo, div)
		}
	}
	if q > 1<<63-1 {
		return 1<<63 - 1
	}
	return int64(q)
}

// fromNanos converts ns since the epoch to the interface's units (writer side;
// negative times are written as 0).
func (r resolution) fromNanos(ts int64) uint64 {
	if ts <= 0 {
		return 0
	}
	var hi, lo uint64
	if r.binary {
		if r.exp >= 64 {
			return ^uint64(0)
		}
		hi, lo = uint64(ts)>>(64-r.exp), uint64(ts)<<r.exp
		if r.exp == 0 {
			hi, lo = 0, uint64(ts)
		}
	} else {
		m, ok := pow10(r.exp)
		if !ok {
			return ^uint64(0)
		}
		hi, lo = bits.Mul64(uint64(ts), m)
	}
	if hi >= 1e9 {
		return ^uint64(0)
	}
	q, _ := bits.Div64(hi, lo, 1e9)
	return q
}

func pow10(e uint8) (uint64, bool) {
	if e > 19 {
		return 0, false
	}
	v := uint64(1)
	for range e {
		v *= 10
	}
	return v, true
}
