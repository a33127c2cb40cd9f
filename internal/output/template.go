// Package output holds bpflow's sinks for the flow engine: flow files (name
// templates, the O_EXCL connection counter, the open-file LRU, mtimes), the
// console printer (-c -C -D -s -B -0 -g -J) and the DFXML report, all with
// tcpflow 1.6.1's exact bytes.
package output

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/bpflow/bpflow/internal/flow"
)

// DefaultTemplate is tcpflow's default file name template.
const DefaultTemplate = "%A.%a-%B.%b%V%v%C%c"

// PlainError is a fatal error whose text tcpflow prints without the program
// name prefix (e.g. "Invalid filename_template: …").
type PlainError struct{ Msg string }

func (e *PlainError) Error() string { return e.Msg }

// Namer expands a file name template for flows (tcpflow's flow::filename).
type Namer struct {
	Template string
	// OutDir is -o; "." and "" add no prefix.
	OutDir string
}

// ApplyT is -T: the template is replaced, and %C%c appended unless the new
// one already holds "%c".
func ApplyT(tmpl string) string {
	if !strings.Contains(tmpl, "%c") {
		tmpl += "%C%c"
	}
	return tmpl
}

// ApplyF applies -F letters in order to tmpl. Unknown letters are returned
// in bad (tcpflow warns and continues); X and M are reported as flags.
func ApplyF(tmpl, letters string) (out string, noStore, md5 bool, bad []byte) {
	for i := 0; i < len(letters); i++ {
		switch c := letters[i]; c {
		case 'c':
			tmpl = strings.ReplaceAll(tmpl, "%c", "%C")
		case 'k':
			tmpl = "%K/" + tmpl
		case 'm':
			tmpl = "%M000-%M999/%M%K/" + tmpl
		case 'g':
			tmpl = "%G000000-%G999999/%G%M000-%G%M999/%G%M%K/" + tmpl
		case 't':
			tmpl = "%tT" + tmpl
		case 'T':
			tmpl = "%T" + tmpl
		case 'X':
			noStore = true
		case 'M':
			md5 = true
		default:
			bad = append(bad, c)
		}
	}
	return tmpl, noStore, md5, bad
}

// Name expands the template for f with connection count count.
func (n *Namer) Name(f *flow.Flow, count uint32) (string, error) {
	return n.AppendName(nil, f, count)
}

// AppendName is Name appending to buf (the console printer reuses buffers).
func (n *Namer) AppendName(buf []byte, f *flow.Flow, count uint32) (string, error) {
	b, err := n.appendName(buf, f, count)
	return string(b), err
}

func (n *Namer) appendName(b []byte, f *flow.Flow, count uint32) ([]byte, error) {
	if n.OutDir != "." && n.OutDir != "" {
		b = append(b, n.OutDir...)
		b = append(b, '/')
	}
	t := n.Template
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c != '%' {
			b = append(b, c)
			continue
		}
		if i == len(t)-1 {
			return b, &PlainError{"Invalid filename_template: " + t + " cannot end with a %"}
		}
		i++
		switch t[i] {
		case 'A':
			b = appendAddr(b, f.Src, f.Family)
		case 'a':
			b = appendPad(b, uint64(f.SrcPort), 5)
		case 'B':
			b = appendAddr(b, f.Dst, f.Family)
		case 'b':
			b = appendPad(b, uint64(f.DstPort), 5)
		case 'E':
			b = appendMAC(b, f.MACSrc)
		case 'e':
			b = appendMAC(b, f.MACDst)
		case 'N':
			b = appendPad(b, f.ID%1000, 3)
		case 'K':
			b = appendPad(b, f.ID/1000%1000, 3)
		case 'M':
			b = appendPad(b, f.ID/1000000%1000, 3)
		case 'G':
			b = appendPad(b, f.ID/1000000000%1000, 3)
		case 'T':
			b = time.Unix(floorDiv(f.Start, 1e9), 0).UTC().AppendFormat(b, "2006-01-02T15:04:05Z")
		case 't':
			b = strconv.AppendInt(b, floorDiv(f.Start, 1e9), 10)
		case 'V':
			if f.VLAN >= 0 {
				b = append(b, "--"...)
			}
		case 'v':
			if f.VLAN >= 0 {
				b = strconv.AppendInt(b, int64(f.VLAN), 10)
			}
		case 'C':
			if count > 0 {
				b = append(b, 'c')
			}
		case 'c':
			if count > 0 {
				b = strconv.AppendUint(b, uint64(count), 10)
			}
		case 'S':
			b = appendPad(b, f.SessionID, 20)
		case '#':
			b = strconv.AppendUint(b, uint64(count), 10)
		case '%':
			b = append(b, '%')
		default:
			// tcpflow names the character after the bad one.
			next := ""
			if i+1 < len(t) {
				next = t[i+1 : i+2]
			}
			return b, &PlainError{"Invalid filename_template: " + t + "\nunknown character: " + next}
		}
	}
	return b, nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

// appendPad appends v in decimal, zero-padded to width (printf %0Nd).
func appendPad(b []byte, v uint64, width int) []byte {
	var tmp [20]byte
	s := strconv.AppendUint(tmp[:0], v, 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// appendAddr formats an address for file names: IPv4 as %03d quads, IPv6 as
// inet_ntop text.
func appendAddr(b []byte, a netip.Addr, family uint8) []byte {
	if family == 2 && a.Is4() {
		q := a.As4()
		for i, o := range q {
			if i > 0 {
				b = append(b, '.')
			}
			b = appendPad(b, uint64(o), 3)
		}
		return b
	}
	return flow.AppendNtop(b, a)
}

const hexDigits = "0123456789abcdef"

func appendMAC(b []byte, m [6]byte) []byte {
	for i, x := range m {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hexDigits[x>>4], hexDigits[x&15])
	}
	return b
}
