package output

import (
	"bytes"
	"math/rand"
	"testing"
)

func TestAppendStrippedMatchesBytewiseRule(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for n := 0; n < 200; n++ {
		data := make([]byte, rng.Intn(100))
		for i := range data {
			switch rng.Intn(3) {
			case 0:
				data[i] = byte(rng.Intn(256))
			default:
				data[i] = byte(0x20 + rng.Intn(0x5f))
			}
		}
		want := make([]byte, len(data))
		for i, ch := range data {
			want[i] = stripByte(ch)
		}
		if got := appendStripped(nil, data); !bytes.Equal(got, want) {
			t.Fatalf("strip %q = %q, want %q", data, got, want)
		}
	}
	// every byte value, at every position of an 8-byte word
	for v := 0; v < 256; v++ {
		for pos := 0; pos < 9; pos++ {
			data := bytes.Repeat([]byte("x"), 9)
			data[pos] = byte(v)
			got := appendStripped(nil, data)
			if got[pos] != stripByte(byte(v)) {
				t.Fatalf("byte %#x at %d became %#x", v, pos, got[pos])
			}
		}
	}
}

// The word-at-a-time masks must not let one lane's arithmetic leak into its
// neighbour: every pair of byte values, side by side, at every lane.
func TestAppendStrippedAdjacentLanes(t *testing.T) {
	data := make([]byte, 16)
	for a := 0; a < 256; a++ {
		for c := 0; c < 256; c++ {
			for pos := 0; pos < 15; pos += 3 {
				data[pos], data[pos+1] = byte(a), byte(c)
				got := appendStripped(nil, data)
				if got[pos] != stripByte(byte(a)) || got[pos+1] != stripByte(byte(c)) {
					t.Fatalf("bytes %#x %#x at %d became %#x %#x", a, c, pos, got[pos], got[pos+1])
				}
				data[pos], data[pos+1] = 0, 0
			}
		}
	}
}

func FuzzAppendStripped(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), []byte("prefix: "))
	f.Add([]byte{0, 0x1f, 0x20, 0x7e, 0x7f, 0x80, 0xff, '\n', '\r', 9, 0x0b}, []byte(nil))
	f.Fuzz(func(t *testing.T, data, prefix []byte) {
		got := appendStripped(bytes.Clone(prefix), data)
		if !bytes.Equal(got[:len(prefix)], prefix) || len(got) != len(prefix)+len(data) {
			t.Fatalf("prefix or length changed: %q", got)
		}
		for i, ch := range data {
			if got[len(prefix)+i] != stripByte(ch) {
				t.Fatalf("byte %d (%#x) became %#x", i, ch, got[len(prefix)+i])
			}
		}
	})
}

// BenchmarkAppendStripped runs one MTU-sized payload of binary data (about a
// third printable, as in the offline benchmark's capture) and one of text.
func BenchmarkAppendStripped(b *testing.B) {
	binary := make([]byte, 1448)
	for i := range binary {
		binary[i] = byte(1 + (uint32(i)*2654435761>>24)%255)
	}
	line := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n")
	text := bytes.Repeat(line, 1448/len(line)+1)[:1448]
	for _, bc := range []struct {
		name string
		data []byte
	}{{"binary", binary}, {"text", text}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.data)))
			buf := make([]byte, 0, 2048)
			for b.Loop() {
				buf = appendStripped(buf[:0], bc.data)
			}
		})
	}
}
