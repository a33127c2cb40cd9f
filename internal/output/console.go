package output

import (
	"encoding/binary"
	"io"
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
// the C locale (0x20–0x7E), LF or CR by '.'. Printable runs are found eight
// bytes at a time and copied whole: -c spends most of its time here.
func appendStripped(b, data []byte) []byte {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i, n := 0, len(data)
	for i < n {
		start := i
		for i+8 <= n {
			x := binary.LittleEndian.Uint64(data[i:])
			below := (x - ones*0x20) & ^x & highs        // some byte < 0x20
			above := ((x + ones*(127-0x7e)) | x) & highs // some byte > 0x7e
			if below|above != 0 {
				break
			}
			i += 8
		}
		for i < n && data[i] >= 0x20 && data[i] <= 0x7e {
			i++
		}
		b = append(b, data[start:i]...)
		if i < n {
			if ch := data[i]; ch == '\n' || ch == '\r' {
				b = append(b, ch)
			} else {
				b = append(b, '.')
			}
			i++
		}
	}
	return b
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
