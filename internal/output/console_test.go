package output

import (
	"bytes"
	"math/rand"
	"testing"
)

// stripByte is the rule from tcpflow's print_packet, one byte at a time.
func stripByte(ch byte) byte {
	if (ch >= 0x20 && ch <= 0x7e) || ch == '\n' || ch == '\r' {
		return ch
	}
	return '.'
}

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
