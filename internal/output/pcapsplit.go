package output

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/bpflow/bpflow/internal/flow"
	"github.com/bpflow/bpflow/internal/layers"
	"github.com/bpflow/bpflow/internal/pcapfile"
)

// PcapSplit is tcpflow's -K: instead of reassembling, every TCP frame is
// appended to "<flow name>.pcap" (the name with connection count 0; the
// file is truncated when first opened and never gets a collision suffix).
type PcapSplit struct {
	Namer Namer
	files map[flow.Key]*splitFile
	dirs  Files // only for its mkdirs bookkeeping
}

type splitFile struct {
	name string
	file *os.File
	bw   *bufio.Writer
	w    *pcapfile.Writer
}

// Write appends fr, whose TCP segment is seg, to its flow's file.
func (p *PcapSplit) Write(fr *layers.Frame, seg *layers.Segment) error {
	key := flow.Key{Src: seg.Src, Dst: seg.Dst, SrcPort: seg.SrcPort, DstPort: seg.DstPort, Family: seg.Family}
	sf := p.files[key]
	if sf == nil {
		var err error
		if sf, err = p.open(key, fr, seg); err != nil {
			return err
		}
	}
	if err := sf.w.WriteFrame(fr); err != nil {
		return fmt.Errorf("write %s: %w", sf.name, err)
	}
	return nil
}

func (p *PcapSplit) open(key flow.Key, fr *layers.Frame, seg *layers.Segment) (*splitFile, error) {
	f := &flow.Flow{Key: key, VLAN: seg.VLAN, MACDst: seg.MACDst, MACSrc: seg.MACSrc, Start: fr.TS}
	name, err := p.Namer.Name(f, 0)
	if err != nil {
		return nil, err
	}
	name += ".pcap"
	if strings.IndexByte(name, '/') >= 0 {
		if err := p.dirs.mkdirsFor(name); err != nil {
			return nil, err
		}
	}
	file, err := os.Create(name)
	if err != nil {
		return nil, &PlainError{"terminate called after throwing an instance of 'pcap_writer::write_error*'"}
	}
	bw := bufio.NewWriterSize(file, 4096)
	// The input's own link type: tcpflow 1.6.1 writes its datalink handler's
	// DLT instead (6, Token Ring, for Ethernet: quirk Q26), which tcpdump
	// then misreads — a documented difference.
	w, err := pcapfile.NewWriter(bw, fr.LinkType, 65535)
	if err != nil {
		_ = file.Close() // the write error is reported
		return nil, fmt.Errorf("write %s: %w", name, err)
	}
	sf := &splitFile{name: name, file: file, bw: bw, w: w}
	if p.files == nil {
		p.files = map[flow.Key]*splitFile{}
	}
	p.files[key] = sf
	return sf, nil
}

// Close flushes and closes every file.
func (p *PcapSplit) Close() error {
	var first error
	for _, sf := range p.files {
		err := sf.bw.Flush()
		if cerr := sf.file.Close(); err == nil {
			err = cerr
		}
		if err != nil && first == nil {
			first = fmt.Errorf("write %s: %w", sf.name, err)
		}
	}
	p.files = nil
	return first
}
