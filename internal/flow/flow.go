// Package flow is tcpflow 1.6.1's flow engine: one flow per direction of a TCP
// connection, placement of payload at seq−ISN−1 with 32-bit wraparound, holes,
// last writer wins, insertion before the first byte when no SYN was seen, the
// keepalive and max_seek rules, closing on RST or FIN accounting, stragglers
// compared with closed flows, tcp_timeout, -b and the -R phase.
//
// The engine does no I/O: every effect goes through a Sink (internal/output),
// so the rules can be tested without files and the hot path stays free of
// allocations.
package flow

import (
	"fmt"
	"net/netip"
)

// Key identifies one direction of a TCP connection, as tcpflow's flow_addr:
// VLAN and MAC addresses are deliberately not part of it.
type Key struct {
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	Family           uint8
}

// String formats the key like tcpflow's flow_addr::str, used in the
// "SYN TO IGNORE!" message.
func (k Key) String() string {
	return fmt.Sprintf("flow[%s:%d->%s:%d]", AppendNtop(nil, k.Src), k.SrcPort, AppendNtop(nil, k.Dst), k.DstPort)
}

// AppendNtop formats a like glibc's inet_ntop, which tcpflow uses for
// names and messages: Go's text except that IPv4-compatible addresses
// (::a.b.c.d, but not :: or ::1) keep the dotted tail.
func AppendNtop(b []byte, a netip.Addr) []byte {
	if a.Is6() && !a.Is4In6() {
		x := a.As16()
		zero := true
		for _, v := range x[:12] {
			if v != 0 {
				zero = false
				break
			}
		}
		if zero && (x[12] != 0 || x[13] != 0) {
			b = append(b, "::"...)
			return netip.AddrFrom4([4]byte(x[12:16])).AppendTo(b)
		}
	}
	return a.AppendTo(b)
}

// Direction is what the SYN flags said about a flow; it only picks -g colours.
type Direction uint8

// Directions as tcpflow names them.
const (
	DirUnknown Direction = iota
	DirClientServer
	DirServerClient
)

// Flow is the state of one direction (tcpflow's tcpip object).
type Flow struct {
	Key
	// ID counts every flow created in the run (both directions, also flows
	// that never get a file): %N %K %M %G.
	ID uint64
	// SessionID is shared by the two directions of a connection: %S.
	SessionID uint64
	// VLAN is the outer 802.1Q TCI of the first packet, or -1.
	VLAN           int32
	MACDst, MACSrc [6]byte
	// Start and Last are the first and latest packet times in nanoseconds.
	Start, Last int64

	ISN, NSN uint32
	// Pos is the current stream offset (where the next in-order byte goes);
	// LastByte is the highest offset written or printed (report filesize).
	Pos, LastByte int64
	SynCount      uint32
	FinCount      uint32
	FinSize       uint32
	Dir           Direction

	Packets, Len, CapLen   uint64
	OutOfOrder, Violations uint64

	seen     byteSet
	seenLost bool // after an insert the byte accounting is gone (tcpflow deletes it)

	// Name is the flow's file name (or console name) once the sink gave it
	// one; empty for flows that never stored or printed anything.
	Name string
	// Ext is the sink's per-flow state (open file, LRU links, …).
	Ext any

	node *stdNode // its place in tcpflow's hash-table order
}

// SeenBytes is the number of distinct stream bytes stored, truncated to 32
// bits as tcpflow compares it with fin_size.
func (f *Flow) SeenBytes() uint32 {
	if f.seenLost {
		return 0
	}
	return uint32(f.seen.size)
}

// byteSet is a set of stream offsets kept as sorted, disjoint, non-adjacent
// inclusive spans. In-order data only ever extends the last span, so the
// common case neither searches nor allocates.
type byteSet struct {
	spans []span
	size  uint64
}

type span struct{ lo, hi uint64 }

// add inserts the offsets [lo, lo+n).
func (s *byteSet) add(lo, n uint64) {
	if n == 0 {
		return
	}
	hi := lo + n - 1
	if k := len(s.spans); k > 0 {
		last := &s.spans[k-1]
		if lo >= last.lo && lo <= last.hi+1 {
			if hi > last.hi {
				s.size += hi - last.hi
				last.hi = hi
			}
			return
		}
		if lo > last.hi+1 {
			s.spans = append(s.spans, span{lo, hi})
			s.size += n
			return
		}
	} else {
		s.spans = append(s.spans, span{lo, hi})
		s.size = n
		return
	}
	s.merge(lo, hi)
}

// merge handles out-of-order additions: it rebuilds the spans touching
// [lo, hi] into one.
func (s *byteSet) merge(lo, hi uint64) {
	i := 0
	for i < len(s.spans) && s.spans[i].hi+1 < lo {
		i++
	}
	j := i
	for j < len(s.spans) && s.spans[j].lo <= hi+1 {
		if s.spans[j].lo < lo {
			lo = s.spans[j].lo
		}
		if s.spans[j].hi > hi {
			hi = s.spans[j].hi
		}
		s.size -= s.spans[j].hi - s.spans[j].lo + 1
		j++
	}
	s.size += hi - lo + 1
	if i == j {
		s.spans = append(s.spans, span{})
		copy(s.spans[i+1:], s.spans[i:])
		s.spans[i] = span{lo, hi}
		return
	}
	s.spans[i] = span{lo, hi}
	s.spans = append(s.spans[:i+1], s.spans[j:]...)
}
