// Package pcapfile reads classic pcap and pcapng capture files (and writes
// classic pcap) without libpcap. Reading allocates nothing per record: the
// Frame a Reader returns, and its Data, are reused by the next call.
//
// Errors about the input are *Error values worded exactly as libpcap 1.10
// words them, because tcpflow prints libpcap's text: an error from Open or
// NewReader is printed as "tcpflow: " + text, an error from Next as
// "tcpflow: <file>: " + text.
//
// Frame.TS keeps the file's full precision (ns files, fine if_tsresol);
// tcpflow reads at µs precision, so code that prints or stores times as
// tcpflow does truncates to µs itself. Unlike libpcap 1.10, a pcapng file may
// mix link types and snaplens across interfaces and byte orders across
// sections; Frame.LinkType is per frame and Frame.Ifindex is the pcapng
// interface id.
package pcapfile

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/bpflow/bpflow/internal/layers"
)

// Limits that keep hostile input from costing memory (libpcap's values).
const (
	// maxSnaplen is libpcap's MAXIMUM_SNAPLEN: no record of the link types
	// bpflow reads is longer.
	maxSnaplen = 262144
	// maxBlock is libpcap's largest pcapng block (INITIAL_MAX_BLOCKSIZE).
	maxBlock = 16 << 20
	// maxSHB is libpcap's BT_SHB_INSANE_MAX.
	maxSHB = 1 << 20
	// maxInterfaces bounds the interface table of one pcapng section.
	maxInterfaces = 1 << 16
	// bufSize is the read buffer: every classic record fits (maxSnaplen),
	// so records are returned straight from it without a copy. Larger
	// buffers cost more: 1 MiB, which leaves the CPU cache between the
	// kernel's copy and the decoder's read, made -c 4–8% slower.
	bufSize = maxSnaplen
)

// Error is a problem with the input, worded as libpcap words it.
type Error struct {
	Msg string
	Err error // the underlying read or open error, if any
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Err }

func errorf(format string, args ...any) error {
	return &Error{Msg: fmt.Sprintf(format, args...)}
}

// readError is libpcap's wording for an I/O error (not a short read).
func readError(err error) error {
	return &Error{Msg: "error reading dump file: " + strerror(err), Err: err}
}

// Reader reads frames from a pcap or pcapng stream.
type Reader struct {
	br     *bufio.Reader
	closer io.Closer
	ng     bool
	order  binary.ByteOrder
	buf    []byte // records that do not fit br's buffer
	frame  layers.Frame

	// classic pcap
	link       layers.LinkType
	snaplen    uint32 // as written in the header
	snapshot   uint32 // libpcap's adjusted snaplen
	nano       bool
	recHdrLen  int // 16, or 24 for the Kuznetzov patched format
	swapLength lengthSwap

	// pcapng: interfaces of the current section
	ifaces []ngIface
	first  ngIface // first interface of the file, for LinkType/Snaplen
}

type ngIface struct {
	link     layers.LinkType
	snaplen  uint32 // as written
	snapshot uint32 // adjusted
	ups      uint64 // timestamp units per second
	offset   int64  // if_tsoffset, seconds
}

// lengthSwap says whether caplen and len are exchanged in record headers
// (pcap versions before 2.3 and DG/UX 543.0 wrote them the other way round).
type lengthSwap uint8

const (
	lengthsInOrder lengthSwap = iota
	lengthsSwapped
	lengthsMaybeSwapped // 2.3: swapped when caplen > len
)

// NewReader reads the file header from r and returns a Reader positioned at
// the first record.
func NewReader(r io.Reader) (*Reader, error) {
	rd := &Reader{br: bufio.NewReaderSize(r, bufSize)}
	magic, err := rd.take(4)
	if err != nil {
		return nil, shortHeader(err, 4, len(magic))
	}
	m := binary.LittleEndian.Uint32(magic)
	switch {
	case m == blockSHB:
		return rd, rd.openPcapng()
	case isPcapMagic(m):
		rd.order = binary.LittleEndian
	case isPcapMagic(swap32(m)):
		rd.order = binary.BigEndian
		m = swap32(m)
	default:
		return nil, errorf("unknown file format")
	}
	return rd, rd.openPcap(m)
}

const magicKuznetzov = 0xa1b2cd34

func isPcapMagic(m uint32) bool {
	return m == magicMicro || m == magicNano || m == magicKuznetzov
}

func swap32(v uint32) uint32 {
	return v>>24 | v>>8&0xff00 | v<<8&0xff0000 | v<<24
}

func shortHeader(err error, want, got int) error {
	if isShort(err) {
		return errorf("truncated dump file; tried to read %d file header bytes, only got %d", want, got)
	}
	return readError(err)
}

// isShort reports whether err means the stream ended early.
func isShort(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// take returns the next n bytes, valid until the next take. On a short read
// it returns what there was and the error (io.EOF when it got nothing).
func (rd *Reader) take(n int) ([]byte, error) {
	if n <= bufSize {
		b, err := rd.br.Peek(n)
		rd.br.Discard(len(b)) // cannot fail: the bytes are buffered
		if err != nil && len(b) > 0 && errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return b, err
	}
	if cap(rd.buf) < n {
		rd.buf = make([]byte, n)
	}
	got, err := io.ReadFull(rd.br, rd.buf[:n])
	return rd.buf[:got], err
}

// LinkType is the file's link type (pcapng: its first interface's).
func (rd *Reader) LinkType() layers.LinkType {
	if rd.ng {
		return rd.first.link
	}
	return rd.link
}

// Snaplen is the snapshot length written in the file header (pcapng: the
// first interface's).
func (rd *Reader) Snaplen() uint32 {
	if rd.ng {
		return rd.first.snaplen
	}
	return rd.snaplen
}

// Next returns the next frame, or io.EOF after the last one. The frame and
// its Data are only valid until the next call.
func (rd *Reader) Next() (*layers.Frame, error) {
	if rd.ng {
		return rd.nextPcapng()
	}
	return rd.nextPcap()
}

// Close releases the underlying file when the Reader came from Open.
func (rd *Reader) Close() error {
	if rd.closer == nil {
		return nil
	}
	c := rd.closer
	rd.closer = nil
	return c.Close()
}

// adjustSnapshot is libpcap's pcap_adjust_snapshot: a zero or absurd
// snaplen means the link type's maximum.
func adjustSnapshot(snaplen uint32) uint32 {
	if snaplen == 0 || snaplen > 1<<31-1 {
		return maxSnaplen
	}
	return snaplen
}
