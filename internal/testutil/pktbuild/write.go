package pktbuild

import (
	"bufio"
	"errors"
	"fmt"
	"os"

	"github.com/bpflow/bpflow/internal/layers"
	"github.com/bpflow/bpflow/internal/pcapfile"
)

// BaseTime is the first timestamp WritePcap uses (ns since the epoch):
// 1600000000 s = 2020-09-13T12:26:40Z, the convention of the tcpflow
// reference cases.
const BaseTime = 1_600_000_000 * 1e9

// FrameGap is the time between frames WritePcap writes: 1 ms.
const FrameGap = 1e6

// WritePcap writes frames to path as a classic pcap file (little-endian, µs,
// snaplen 65535) with timestamps BaseTime, BaseTime+1ms, …
func WritePcap(path string, link layers.LinkType, frames ...[]byte) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create pcap for test: %w", err)
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	bw := bufio.NewWriter(f)
	w, err := pcapfile.NewWriter(bw, link, 65535)
	if err != nil {
		return err
	}
	for i, fr := range frames {
		if err := w.WritePacket(BaseTime+int64(i)*FrameGap, 0, fr); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
