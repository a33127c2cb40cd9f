package bsdbpf

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/bpflow/bpflow/internal/layers"
)

// layout is the shape of a struct bpf_hdr and of the read buffer.
type layout struct {
	// tvSize is the size of bh_tstamp: 8 for a 32-bit timeval (macOS on
	// both amd64 and arm64 uses struct timeval32), 16 for a 64-bit one
	// (FreeBSD and others on 64-bit CPUs).
	tvSize int
	// align is BPF_ALIGNMENT: records start at multiples of it
	// (BPF_WORDALIGN). macOS: sizeof(int32); 64-bit FreeBSD: sizeof(long).
	align int
}

// darwinLayout is macOS's bpf_hdr on amd64 and arm64 alike.
var darwinLayout = layout{tvSize: 8, align: 4}

// hdrSize is sizeof the bpf_hdr fields before padding: timestamp, caplen,
// datalen, hdrlen.
func (l layout) hdrSize() int { return l.tvSize + 4 + 4 + 2 }

// wordAlign is BPF_WORDALIGN.
func (l layout) wordAlign(n int) int { return (n + l.align - 1) &^ (l.align - 1) }

// errCorruptBuffer reports a read buffer whose records point outside it;
// the kernel never returns one, so it means a bug or a different ABI.
var errCorruptBuffer = errors.New("corrupt BPF read buffer")

// bufReader walks the bpf_hdr records of one read(2) from /dev/bpf. It
// keeps one Frame and reuses it for every record.
type bufReader struct {
	l     layout
	buf   []byte
	off   int
	frame layers.Frame
}

// reset starts on a new read buffer.
func (r *bufReader) reset(buf []byte, link layers.LinkType) {
	r.buf, r.off = buf, 0
	r.frame.LinkType = link
}

// next returns the next record's frame, or nil at the end of the buffer.
// The frame's Data points into the buffer.
func (r *bufReader) next() (*layers.Frame, error) {
	if r.off >= len(r.buf) {
		return nil, nil
	}
	rest := r.buf[r.off:]
	if len(rest) < r.l.hdrSize() {
		return nil, fmt.Errorf("read %d-byte bpf_hdr at offset %d of %d: %w", r.l.hdrSize(), r.off, len(r.buf), errCorruptBuffer)
	}
	ne := binary.NativeEndian
	var sec, usec int64
	if r.l.tvSize == 8 {
		sec, usec = int64(int32(ne.Uint32(rest[0:]))), int64(int32(ne.Uint32(rest[4:])))
	} else {
		sec, usec = int64(ne.Uint64(rest[0:])), int64(ne.Uint64(rest[8:]))
	}
	caplen := int(ne.Uint32(rest[r.l.tvSize:]))
	wireLen := ne.Uint32(rest[r.l.tvSize+4:])
	hdrLen := int(ne.Uint16(rest[r.l.tvSize+8:]))
	if hdrLen < r.l.hdrSize() || hdrLen > len(rest) || caplen > len(rest)-hdrLen {
		return nil, fmt.Errorf("record at offset %d (header %d, caplen %d) overruns the %d-byte buffer: %w", r.off, hdrLen, caplen, len(r.buf), errCorruptBuffer)
	}
	r.frame.TS = sec*1e9 + usec*1e3
	r.frame.WireLen = wireLen
	r.frame.Data = rest[hdrLen : hdrLen+caplen]
	r.off += r.l.wordAlign(hdrLen + caplen)
	return &r.frame, nil
}

// linkTypeOf maps a BIOCGDLT value to the pcap link type of the frames:
// the DLT_ values differ from LINKTYPE_ values only for raw IP.
func linkTypeOf(dlt uint32) layers.LinkType {
	const dltRaw = 12 // DLT_RAW on macOS and FreeBSD
	if dlt == dltRaw {
		return layers.LinkRaw
	}
	return layers.LinkType(dlt)
}
