package pcapfile_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/bpflow/bpflow/internal/layers"
	"github.com/bpflow/bpflow/internal/pcapfile"
)

// FuzzReader: any input ends in frames then io.EOF or an *Error, never a
// panic, and no frame is bigger than its input or the 16 MiB pcapng block limit.
func FuzzReader(f *testing.F) {
	frames := testFrames()[:2]
	for _, cfg := range []pcapfile.WriterConfig{
		{LinkType: layers.LinkEthernet, Snaplen: 65535},
		{LinkType: layers.LinkRaw, Snaplen: 100, BigEndian: true},
		{LinkType: layers.LinkEthernet, Nanosecond: true},
	} {
		f.Add(classic(f, cfg, frames))
	}
	f.Add(ngFile(f, false, []uint8{0, 9}, 1, false, frames))
	f.Add(ngFile(f, true, []uint8{0x80 | 20}, 0, true, frames))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		rd, err := pcapfile.NewReader(bytes.NewReader(data))
		if err != nil {
			var pe *pcapfile.Error
			if !errors.As(err, &pe) {
				t.Fatalf("open error is not a *pcapfile.Error: %v", err)
			}
			return
		}
		for n := 0; ; n++ {
			fr, err := rd.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				var pe *pcapfile.Error
				if !errors.As(err, &pe) {
					t.Fatalf("read error is not a *pcapfile.Error: %v", err)
				}
				return
			}
			if len(fr.Data) > 16<<20 || len(fr.Data) > len(data) {
				t.Fatalf("frame %d has %d bytes from a %d-byte input", n, len(fr.Data), len(data))
			}
		}
	})
}
