package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"

	"github.com/bpflow/bpflow/internal/layers"
	"github.com/bpflow/bpflow/internal/pcapfile"
)

// pcapOut writes frames to a classic pcap file: -w (packets tcpflow did not
// process) and --write-pcap (every frame that passed the filter).
type pcapOut struct {
	path string
	file io.Closer // nil for standard output, which is not ours to close
	bw   *bufio.Writer
	w    *pcapfile.Writer
}

// createPcapOut creates path, or writes to stdout when path is "-" (only
// --write-pcap offers that: for tcpflow's -w, "-" is a file name).
func createPcapOut(path string, stdout io.Writer, link layers.LinkType, snaplen uint32) (*pcapOut, error) {
	var dst io.Writer
	var file io.Closer
	if stdout != nil && path == "-" {
		dst = stdout
	} else {
		f, err := os.Create(path)
		if err != nil {
			return nil, fmt.Errorf("create %s: %w", path, err)
		}
		dst, file = f, f
	}
	bw := bufio.NewWriterSize(dst, 256<<10)
	w, err := pcapfile.NewWriter(bw, link, snaplen)
	if err != nil {
		if file != nil {
			_ = file.Close() // the header error is the one to report
		}
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return &pcapOut{path: path, file: file, bw: bw, w: w}, nil
}

func (p *pcapOut) write(fr *layers.Frame) error {
	if err := p.w.WriteFrame(fr); err != nil {
		return fmt.Errorf("write %s: %w", p.path, err)
	}
	return nil
}

// close flushes and closes the file; tcpflow's stdio buffer is flushed at
// exit on every path, so this runs after fatal errors too.
func (p *pcapOut) close() error {
	if p == nil {
		return nil
	}
	err := p.bw.Flush()
	if p.file != nil {
		if cerr := p.file.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", p.path, err)
	}
	return nil
}

// linkOf reads the link type and snaplen of a capture file's header.
func linkOf(path string) (layers.LinkType, uint32, error) {
	rd, err := pcapfile.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer rd.Close()
	return rd.LinkType(), rd.Snaplen(), nil
}
