package output

import (
	"encoding/binary"
	"io"
	"slices"
	"strconv"

	"github.com/bpflow/bpflow/internal/flow"
)

// ConsoleOptions are the -c family switches.
type ConsoleOptions struct {
	NoHeader  bool // -C
	Hex       bool // -D
	JSON      bool // -J
	Strip     bool // default on; -B turns it off
	NoNewline bool // -0
	Color     bool // -g
}

// Console prints one record per segment, flushed as a single write.
type Console struct {
	Opts  ConsoleOptions
	Namer Namer
	W     io.Writer
	// Lock, when set, serialises records with other processes (-L).
	Lock *SemLock
	buf  []byte
}

const (
	colorBlue  = "\x1b[0;34m"
	colorRed   = "\x1b[0;31m"
	colorReset = "\x1b[0m"
)

// Print writes one record of f with data. It names f on its first record
// (the name with connection count 0), as tcpflow's print_packet does.
func (c *Console) Print(f *flow.Flow, data []byte) error {
	if f.Name == "" {
		name, err := c.Namer.Name(f, 0)
		if err != nil {
			return err
		}
		f.Name = name
	}
	b := c.buf[:0]
	o := &c.Opts
	if o.Color {
		if f.Dir == flow.DirClientServer {
			b = append(b, colorBlue...)
		} else {
			b = append(b, colorRed...)
		}
	}
	if !o.NoHeader && !o.JSON {
		b = append(b, f.Name...)
		b = append(b, ": "...)
		if o.Hex {
			b = append(b, '\n')
		}
	}
	switch {
	case o.Hex:
		b = appendHexDump(b, data)
	case o.JSON:
		b = appendJSON(b, f, data)
	case o.Strip:
		b = appendStripped(b, data)
	default:
		b = append(b, data...)
	}
	if o.Color {
		b = append(b, colorReset...)
	}
	if !o.NoNewline {
		b = append(b, '\n')
	}
	c.buf = b
	if c.Lock != nil {
		c.Lock.Lock()
		defer c.Lock.Unlock()
	}
	_, err := c.W.Write(b)
	return err
}

// appendStripped copies data replacing every byte that is not printable in
// the C locale (0x20–0x7E), LF or CR by '.'. -c spends most of its time
// here, and binary payloads have short printable runs, so every 8-byte word
// is translated at once with lane-exact masks (no carry crosses a byte, see
// stripWord) instead of branching per byte.
func appendStripped(b, data []byte) []byte {
	n := len(data)
	b = slices.Grow(b, n)
	out := b[len(b) : len(b)+n]
	i := 0
	for ; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(out[i:], stripWord(binary.LittleEndian.Uint64(data[i:])))
	}
	for ; i < n; i++ {
		out[i] = stripByte(data[i])
	}
	return b[:len(b)+n]
}

// stripWord applies stripByte to the eight bytes of x. The tests work on
// the low seven bits of each lane, so a lane's sum or difference stays
// within its byte (bit 7 holds the answer) and never reaches a neighbour.
func stripWord(x uint64) uint64 {
	const ones, highs, lows = 0x0101010101010101, 0x8080808080808080, 0x7f7f7f7f7f7f7f7f
	lo := x & lows
	// 0x80|lo − 0x20 keeps bit 7 iff lo ≥ 0x20; lo + 1 reaches it only for 0x7f.
	printable := ((lo | highs) - ones*0x20) &^ (lo + ones)
	// (lo ^ c) + 0x7f reaches bit 7 unless lo == c: the AND is clear for LF or CR.
	lfOrCR := ^(((lo ^ ones*'\n') + lows) & ((lo ^ ones*'\r') + lows))
	keep := (printable | lfOrCR) &^ x & highs // and bit 7 of x clear
	mask := (keep >> 7) * 0xff
	return ones*'.' ^ ((x ^ ones*'.') & mask)
}

// stripByte is appendStripped's rule for one byte (tcpflow's print_packet).
func stripByte(ch byte) byte {
	if (ch >= 0x20 && ch <= 0x7e) || ch == '\n' || ch == '\r' {
		return ch
	}
	return '.'
}

// appendHexDump is tcpflow's -D layout: 32 bytes a line, "%04x: ", byte
// pairs followed (payloads stay below 64 KiB, so four digits suffice) by a space, padding to the widest line so far, one space,
// then the printable characters.
func appendHexDump(b, data []byte) []byte {
	const perLine = 32
	maxSpaces := 0
	for i := 0; i < len(data); i += perLine {
		start := len(b)
		b = append(b, hexDigits[i>>12&15], hexDigits[i>>8&15], hexDigits[i>>4&15], hexDigits[i&15])
		b = append(b, ": "...)
		end := min(i+perLine, len(data))
		for j := i; j < end; j++ {
			b = append(b, hexDigits[data[j]>>4], hexDigits[data[j]&15])
			if (j-i)%2 == 1 {
				b = append(b, ' ')
			}
		}
		spaces := len(b) - start
		if spaces > maxSpaces {
			maxSpaces = spaces
		}
		for ; spaces < maxSpaces; spaces++ {
			b = append(b, ' ')
		}
		b = append(b, ' ')
		for _, ch := range data[i:end] {
			if ch >= ' ' && ch <= '~' {
				b = append(b, ch)
			} else {
				b = append(b, '.')
			}
		}
		b = append(b, '\n')
	}
	return b
}

// appendJSON prints -J's object with the flow's real addresses (bpflow
// difference 3: tcpflow 1.6.1 re-parsed them from the file name).
func appendJSON(b []byte, f *flow.Flow, data []byte) []byte {
	b = append(b, `{"src_host":"`...)
	b = flow.AppendNtop(b, f.Src)
	b = append(b, `","src_port":`...)
	b = strconv.AppendUint(b, uint64(f.SrcPort), 10)
	b = append(b, `,"dst_host":"`...)
	b = flow.AppendNtop(b, f.Dst)
	b = append(b, `","dst_port":`...)
	b = strconv.AppendUint(b, uint64(f.DstPort), 10)
	b = append(b, `,"payload": [`...)
	for i, ch := range data {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, uint64(ch), 10)
	}
	return append(b, "]}"...)
}
