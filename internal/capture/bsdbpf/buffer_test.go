package bsdbpf

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bpflow/bpflow/internal/layers"
)

// bsd64Layout is the bpf_hdr of 64-bit FreeBSD: a 16-byte timeval and
// long alignment. The parser must not assume macOS's numbers.
var bsd64Layout = layout{tvSize: 16, align: 8}

// record is one captured packet as the kernel stores it.
type record struct {
	sec, usec int64
	wireLen   uint32
	data      []byte
	// hdrPad is extra bytes between the header and the data (bh_hdrlen is
	// the header plus alignment padding, so the data starts aligned).
	hdrPad int
}

// buildBuffer lays records out as bpf(4) does: each starts at a
// BPF_WORDALIGN'ed offset, and the buffer ends right after the last one.
func buildBuffer(l layout, recs ...record) []byte {
	ne := binary.NativeEndian
	var buf []byte
	for i, r := range recs {
		if i > 0 {
			buf = append(buf, make([]byte, l.wordAlign(len(buf))-len(buf))...)
		}
		hdrLen := l.hdrSize() + r.hdrPad
		h := make([]byte, hdrLen)
		if l.tvSize == 8 {
			ne.PutUint32(h[0:], uint32(int32(r.sec)))
			ne.PutUint32(h[4:], uint32(int32(r.usec)))
		} else {
			ne.PutUint64(h[0:], uint64(r.sec))
			ne.PutUint64(h[8:], uint64(r.usec))
		}
		ne.PutUint32(h[l.tvSize:], uint32(len(r.data)))
		ne.PutUint32(h[l.tvSize+4:], r.wireLen)
		ne.PutUint16(h[l.tvSize+8:], uint16(hdrLen))
		buf = append(append(buf, h...), r.data...)
	}
	return buf
}

type frame struct {
	TS      int64
	WireLen uint32
	Data    []byte
}

func readAll(t *testing.T, l layout, buf []byte, link layers.LinkType) ([]frame, error) {
	t.Helper()
	r := bufReader{l: l}
	r.reset(buf, link)
	var out []frame
	for {
		f, err := r.next()
		if err != nil || f == nil {
			return out, err
		}
		if f.LinkType != link {
			t.Errorf("link type %d, want %d", f.LinkType, link)
		}
		out = append(out, frame{f.TS, f.WireLen, append([]byte(nil), f.Data...)})
	}
}

func TestRecordsAreWalkedWithWordAlignment(t *testing.T) {
	// Odd lengths force padding between records; hdrPad mimics macOS's
	// bh_hdrlen of 20 (18 bytes of fields + 2 of padding) and FreeBSD's 32.
	recs := []record{
		{sec: 1700000000, usec: 1, wireLen: 60, data: []byte("abcde")},
		{sec: 1700000001, usec: 999999, wireLen: 1500, data: []byte("x"), hdrPad: 2},
		{sec: 1700000002, usec: 0, wireLen: 3, data: []byte("xyz"), hdrPad: 6},
		{sec: 1700000003, usec: 5, wireLen: 0, data: nil},
	}
	want := []frame{
		{1700000000_000001000, 60, []byte("abcde")},
		{1700000001_999999000, 1500, []byte("x")},
		{1700000002_000000000, 3, []byte("xyz")},
		{1700000003_000005000, 0, nil},
	}
	for _, tt := range []struct {
		name string
		l    layout
	}{{"macOS timeval32, 4-byte alignment", darwinLayout}, {"64-bit timeval, 8-byte alignment", bsd64Layout}} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAll(t, tt.l, buildBuffer(tt.l, recs...), layers.LinkNull)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b []byte) bool { return string(a) == string(b) })); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestNegativeTimeval32(t *testing.T) {
	got, err := readAll(t, darwinLayout, buildBuffer(darwinLayout, record{sec: -1, usec: 500000, data: []byte{1}}), layers.LinkEthernet)
	if err != nil || len(got) != 1 || got[0].TS != -500_000_000 {
		t.Errorf("got %+v, %v; want one frame at -0.5 s", got, err)
	}
}

func TestEmptyBufferHasNoRecords(t *testing.T) {
	got, err := readAll(t, darwinLayout, nil, layers.LinkEthernet)
	if err != nil || len(got) != 0 {
		t.Errorf("got %v, %v", got, err)
	}
}

func TestCorruptBuffersAreErrors(t *testing.T) {
	good := buildBuffer(darwinLayout, record{wireLen: 4, data: []byte("data")}, record{wireLen: 4, data: []byte("more")})
	hdrLenAt := darwinLayout.tvSize + 8
	for name, corrupt := range map[string]func([]byte) []byte{
		"truncated header":     func(b []byte) []byte { return b[:len(b)-len("more")-5] },
		"truncated data":       func(b []byte) []byte { return b[:len(b)-1] },
		"hdrlen below header":  func(b []byte) []byte { binary.NativeEndian.PutUint16(b[hdrLenAt:], 4); return b },
		"hdrlen beyond buffer": func(b []byte) []byte { binary.NativeEndian.PutUint16(b[hdrLenAt:], 0xffff); return b },
		"caplen beyond buffer": func(b []byte) []byte {
			binary.NativeEndian.PutUint32(b[darwinLayout.tvSize:], 1<<30)
			return b
		},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := readAll(t, darwinLayout, corrupt(append([]byte(nil), good...)), layers.LinkEthernet)
			if !errors.Is(err, errCorruptBuffer) {
				t.Errorf("err = %v, want errCorruptBuffer", err)
			}
		})
	}
}

func TestLinkTypes(t *testing.T) {
	for dlt, want := range map[uint32]layers.LinkType{0: layers.LinkNull, 1: layers.LinkEthernet, 12: layers.LinkRaw, 9: layers.LinkPPP} {
		if got := linkTypeOf(dlt); got != want {
			t.Errorf("linkTypeOf(%d) = %d, want %d", dlt, got, want)
		}
	}
}

// FuzzReadBuffer: no buffer, however broken, makes the parser panic, loop
// or hand out bytes outside the buffer.
func FuzzReadBuffer(f *testing.F) {
	f.Add(buildBuffer(darwinLayout, record{sec: 1, wireLen: 60, data: []byte("abcde")}, record{data: []byte("x"), hdrPad: 2}), false)
	f.Add(buildBuffer(bsd64Layout, record{sec: 1, wireLen: 60, data: []byte("abcdefgh")}, record{data: []byte("x")}), true)
	f.Fuzz(func(t *testing.T, buf []byte, wide bool) {
		l := darwinLayout
		if wide {
			l = bsd64Layout
		}
		r := bufReader{l: l}
		r.reset(buf, layers.LinkEthernet)
		for n := 0; ; n++ {
			fr, err := r.next()
			if err != nil || fr == nil {
				return
			}
			if n > len(buf) {
				t.Fatalf("more records than bytes in a %d-byte buffer", len(buf))
			}
			if len(fr.Data) > len(buf) {
				t.Fatalf("frame of %d bytes from a %d-byte buffer", len(fr.Data), len(buf))
			}
		}
	})
}

// BenchmarkReadBuffer measures walking a read buffer of full-size records.
func BenchmarkReadBuffer(b *testing.B) {
	var recs []record
	for i := range 64 {
		recs = append(recs, record{sec: int64(i), wireLen: 1514, data: make([]byte, 1514), hdrPad: 2})
	}
	buf := buildBuffer(darwinLayout, recs...)
	r := bufReader{l: darwinLayout}
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		r.reset(buf, layers.LinkEthernet)
		for {
			f, err := r.next()
			if err != nil {
				b.Fatal(err)
			}
			if f == nil {
				break
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/packet")
}
