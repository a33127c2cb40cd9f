package pcapfile

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/bpflow/bpflow/internal/layers"
)

// Magic numbers of classic pcap files, as read in the file's byte order.
const (
	magicMicro = 0xa1b2c3d4
	magicNano  = 0xa1b23c4d
)

// WriterConfig describes the classic pcap file a Writer produces.
type WriterConfig struct {
	LinkType layers.LinkType
	Snaplen  uint32
	// Nanosecond writes the nanosecond magic (0xa1b23c4d) and ns timestamps;
	// the default is microseconds, what libpcap's dumper and tcpflow write.
	Nanosecond bool
	// BigEndian writes a big-endian file (the default is little-endian).
	BigEndian bool
}

// Writer writes a classic pcap file. It does no buffering of its own: wrap
// the destination in a bufio.Writer for speed.
type Writer struct {
	w     io.Writer
	order binary.ByteOrder
	nano  bool
	hdr   [16]byte
}

// NewWriter writes a little-endian microsecond pcap header (libpcap's
// pcap_dump_open format) and returns a Writer for the records.
func NewWriter(w io.Writer, link layers.LinkType, snaplen uint32) (*Writer, error) {
	return NewWriterConfig(w, WriterConfig{LinkType: link, Snaplen: snaplen})
}

// NewWriterConfig writes the file header described by cfg.
func NewWriterConfig(w io.Writer, cfg WriterConfig) (*Writer, error) {
	pw := &Writer{w: w, order: binary.LittleEndian, nano: cfg.Nanosecond}
	if cfg.BigEndian {
		pw.order = binary.BigEndian
	}
	var h [24]byte
	magic := uint32(magicMicro)
	if cfg.Nanosecond {
		magic = magicNano
	}
	pw.order.PutUint32(h[0:], magic)
	pw.order.PutUint16(h[4:], 2) // version 2.4
	pw.order.PutUint16(h[6:], 4)
	pw.order.PutUint32(h[16:], cfg.Snaplen)
	pw.order.PutUint32(h[20:], uint32(cfg.LinkType))
	if _, err := w.Write(h[:]); err != nil {
		return nil, fmt.Errorf("write pcap file header: %w", err)
	}
	return pw, nil
}

// WritePacket writes one record: ts in nanoseconds since the epoch (truncated
// to microseconds unless the file is nanosecond), the length on the wire
// (0 means len(data)) and the captured bytes.
func (pw *Writer) WritePacket(ts int64, wireLen uint32, data []byte) error {
	if wireLen == 0 {
		wireLen = uint32(len(data))
	}
	sec, frac := splitTime(ts, pw.nano)
	pw.order.PutUint32(pw.hdr[0:], uint32(sec))
	pw.order.PutUint32(pw.hdr[4:], uint32(frac))
	pw.order.PutUint32(pw.hdr[8:], uint32(len(data)))
	pw.order.PutUint32(pw.hdr[12:], wireLen)
	if _, err := pw.w.Write(pw.hdr[:]); err != nil {
		return fmt.Errorf("write pcap record header: %w", err)
	}
	if _, err := pw.w.Write(data); err != nil {
		return fmt.Errorf("write pcap record of %d bytes: %w", len(data), err)
	}
	return nil
}

// WriteFrame writes f as one record.
func (pw *Writer) WriteFrame(f *layers.Frame) error {
	return pw.WritePacket(f.TS, f.WireLen, f.Data)
}

// splitTime splits ns since the epoch into seconds and the fraction in µs or
// ns, rounding towards minus infinity so times before 1970 stay ordered.
func splitTime(ts int64, nano bool) (sec, frac int64) {
	sec = ts / 1e9
	rem := ts % 1e9
	if rem < 0 {
		sec--
		rem += 1e9
	}
	if nano {
		return sec, rem
	}
	return sec, rem / 1e3
}
