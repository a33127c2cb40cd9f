package pcapfile

import (
	"io"

	"github.com/bpflow/bpflow/internal/layers"
)

// openPcap reads the rest of a classic pcap file header (the magic m, in the
// file's byte order, is already consumed).
func (rd *Reader) openPcap(m uint32) error {
	h, err := rd.take(20)
	if err != nil {
		return shortHeader(err, 24, len(h))
	}
	major, minor := rd.order.Uint16(h[0:]), rd.order.Uint16(h[2:])
	rd.snaplen = rd.order.Uint32(h[12:])
	rd.link = layers.LinkType(rd.order.Uint32(h[16:]) & 0x03ffffff) // LT_LINKTYPE: FCS bits dropped
	if major < 2 {
		return errorf("archaic pcap savefile format")
	}
	if !(major == 2 && minor <= 4 || major == 543 && minor == 0) {
		return errorf("unsupported pcap savefile version %d.%d", major, minor)
	}
	switch {
	case major == 543 || minor < 3:
		rd.swapLength = lengthsSwapped
	case minor == 3:
		rd.swapLength = lengthsMaybeSwapped
	}
	rd.snapshot = adjustSnapshot(rd.snaplen)
	rd.nano = m == magicNano
	rd.recHdrLen = 16
	if m == magicKuznetzov {
		rd.recHdrLen = 24
	}
	return nil
}

func (rd *Reader) nextPcap() (*layers.Frame, error) {
	h, err := rd.take(rd.recHdrLen)
	if err != nil {
		if len(h) == 0 && err == io.EOF {
			return nil, io.EOF
		}
		if isShort(err) {
			return nil, errorf("truncated dump file; tried to read %d header bytes, only got %d", rd.recHdrLen, len(h))
		}
		return nil, readError(err)
	}
	sec := int64(int32(rd.order.Uint32(h[0:])))
	frac := int64(int32(rd.order.Uint32(h[4:])))
	caplen, wirelen := rd.order.Uint32(h[8:]), rd.order.Uint32(h[12:])
	if rd.swapLength == lengthsSwapped || rd.swapLength == lengthsMaybeSwapped && caplen > wirelen {
		caplen, wirelen = wirelen, caplen
	}
	if caplen > maxSnaplen {
		if caplen > rd.snapshot {
			return nil, errorf("invalid packet capture length %d, bigger than snaplen of %d", caplen, rd.snapshot)
		}
		return nil, errorf("invalid packet capture length %d, bigger than maximum of %d", caplen, maxSnaplen)
	}
	data, err := rd.recordData(caplen)
	if err != nil {
		return nil, err
	}
	if !rd.nano {
		frac *= 1000
	}
	rd.frame = layers.Frame{LinkType: rd.link, TS: sec*1e9 + frac, WireLen: wirelen, Data: data}
	return &rd.frame, nil
}

// recordData reads a record's caplen bytes; beyond the snapshot length it
// keeps the first snapshot bytes and skips the rest, as libpcap does.
func (rd *Reader) recordData(caplen uint32) ([]byte, error) {
	if caplen <= rd.snapshot {
		data, err := rd.take(int(caplen))
		if err != nil {
			return nil, truncatedData(err, caplen, len(data))
		}
		return data, nil
	}
	data, err := rd.take(int(rd.snapshot))
	if err != nil {
		return nil, truncatedData(err, rd.snapshot, len(data))
	}
	// Skipping may refill the buffer under data, so keep a copy.
	rd.buf = append(rd.buf[:0], data...)
	skip := int(caplen - rd.snapshot)
	n, err := rd.br.Discard(skip)
	if err != nil {
		return nil, truncatedData(err, caplen, int(rd.snapshot)+n)
	}
	return rd.buf, nil
}

func truncatedData(err error, want uint32, got int) error {
	if isShort(err) {
		return errorf("truncated dump file; tried to read %d captured bytes, only got %d", want, got)
	}
	return readError(err)
}
