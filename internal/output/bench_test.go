package output

import (
	"io"
	"net/netip"
	"testing"

	"github.com/bpflow/bpflow/internal/flow"
)

func benchFlow() *flow.Flow {
	return &flow.Flow{Key: flow.Key{Src: netip.MustParseAddr("192.168.1.1"), Dst: netip.MustParseAddr("10.0.0.2"),
		SrcPort: 54156, DstPort: 80, Family: 2}, VLAN: -1}
}

func benchPayload() []byte {
	p := make([]byte, 1448)
	for i := range p {
		p[i] = byte(' ' + i%95)
	}
	return p
}

// BenchmarkConsolePrint is one -c record (header, stripped payload, LF):
// it must not allocate.
func BenchmarkConsolePrint(b *testing.B) {
	for _, tc := range []struct {
		name string
		opts ConsoleOptions
	}{{"strip", ConsoleOptions{Strip: true}}, {"raw", ConsoleOptions{}}, {"hex", ConsoleOptions{Hex: true}}} {
		b.Run(tc.name, func(b *testing.B) {
			c := &Console{Opts: tc.opts, Namer: Namer{Template: DefaultTemplate}, W: io.Discard}
			f, data := benchFlow(), benchPayload()
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if err := c.Print(f, data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFilesWrite stores in-order segments of one flow through the
// write-behind buffer into a real file.
func BenchmarkFilesWrite(b *testing.B) {
	fs := &Files{Namer: Namer{Template: DefaultTemplate, OutDir: b.TempDir()}, MaxFDs: 100, Warn: func(msg string) { b.Error(msg) }}
	f, data := benchFlow(), benchPayload()
	if err := fs.Open(f); err != nil {
		b.Fatal(err)
	}
	var off int64
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		fs.Write(f, off, data)
		off += int64(len(data))
		if off > 64<<20 {
			off = 0 // keep the file small
		}
	}
	fs.Close(f)
}
