package pcapfile_test

import (
	"bytes"
	"testing"

	"github.com/bpflow/bpflow/internal/layers"
	"github.com/bpflow/bpflow/internal/pcapfile"
)

// replay is an endless stream: a file header once, then its records again
// and again, so a benchmark or allocation count can read b.N records from
// one Reader.
type replay struct {
	data  []byte
	first int // offset of the first record
	off   int
}

func (r *replay) Read(p []byte) (int, error) {
	if r.off == len(r.data) {
		r.off = r.first
	}
	n := copy(p, r.data[r.off:])
	r.off += n
	return n, nil
}

// mixedCapture is a file of full-size, small and empty segments, the mix a
// bulk transfer with ACKs produces.
func mixedCapture(tb testing.TB, ng bool) (data []byte, first int, records int) {
	frames := testFrames()
	if ng {
		data = ngFile(tb, false, []uint8{9}, 0, false, frames)
		header := ngFile(tb, false, []uint8{9}, 0, false, nil) // SHB + IDB
		return data, len(header), len(frames)
	}
	var buf bytes.Buffer
	w, err := pcapfile.NewWriter(&buf, layers.LinkEthernet, 65535)
	if err != nil {
		tb.Fatal(err)
	}
	for i, f := range frames {
		if err := w.WritePacket(times[i], 0, f); err != nil {
			tb.Fatal(err)
		}
	}
	return buf.Bytes(), 24, len(frames)
}

func benchmarkRead(b *testing.B, ng bool) {
	data, first, n := mixedCapture(b, ng)
	rd, err := pcapfile.NewReader(&replay{data: data, first: first})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)-first) / int64(n))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := rd.Next(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadPcap(b *testing.B)   { benchmarkRead(b, false) }
func BenchmarkReadPcapng(b *testing.B) { benchmarkRead(b, true) }

func TestNextAllocatesNothing(t *testing.T) {
	for _, ng := range []bool{false, true} {
		data, first, _ := mixedCapture(t, ng)
		rd, err := pcapfile.NewReader(&replay{data: data, first: first})
		if err != nil {
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(1000, func() {
			if _, err := rd.Next(); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("pcapng=%v: %.1f allocations per record, want 0", ng, allocs)
		}
	}
}
