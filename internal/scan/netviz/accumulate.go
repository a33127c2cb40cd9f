// Package netviz draws a one-page picture of a run, like tcpflow 1.6.1's
// netviz scanner (report.pdf): traffic over time, top source and destination
// addresses and ports, and the packet size distribution. It draws SVG in
// pure Go (no cairo, no cgo): SVG is text, so it needs no font rasteriser,
// stays sharp when zoomed, opens in every browser, and converts to PNG or
// PDF with standard tools (rsvg-convert).
//
// The capture loop feeds an Accumulator with every packet; Add does not
// allocate. Render writes the picture at the end of the run.
package netviz

import (
	"encoding/binary"
	"net/netip"
	"slices"

	"github.com/bpflow/bpflow/internal/layers"
)

// Port classes that get their own colour in the time chart, as tcpflow
// colours HTTP, HTTPS, SSH and FTP.
const (
	classHTTP = iota
	classHTTPS
	classSSH
	classFTP
	classOther
	classNonTCP
	numClasses
)

// timelineBuckets is the resolution of the time chart.
const timelineBuckets = 100

// timeline counts packets and bytes per time bucket. It starts with 1 ms
// buckets and doubles their width whenever a packet falls beyond the last
// one, so any capture span fits in fixed memory.
type timeline struct {
	origin  int64 // ns of the first packet
	width   int64 // ns per bucket
	started bool
	packets [timelineBuckets]uint64
	bytes   [timelineBuckets][numClasses]uint64
}

func (t *timeline) add(ts int64, class int, n uint64) {
	if !t.started {
		t.origin, t.width, t.started = ts, 1e6, true
	}
	d := ts - t.origin
	if d < 0 {
		d = 0 // an earlier packet (files are not always in time order) counts at the start
	}
	for d/t.width >= timelineBuckets {
		t.widen()
	}
	i := d / t.width
	t.packets[i]++
	t.bytes[i][class] += n
}

// widen doubles the bucket width, merging neighbouring buckets.
func (t *timeline) widen() {
	for i := 0; i < timelineBuckets/2; i++ {
		t.packets[i] = t.packets[2*i] + t.packets[2*i+1]
		for c := range numClasses {
			t.bytes[i][c] = t.bytes[2*i][c] + t.bytes[2*i+1][c]
		}
	}
	for i := timelineBuckets / 2; i < timelineBuckets; i++ {
		t.packets[i] = 0
		t.bytes[i] = [numClasses]uint64{}
	}
	t.width *= 2
}

// sizeEdges are the lower bounds of the packet size buckets (wire length).
var sizeEdges = [...]uint32{0, 64, 128, 256, 512, 1024, 1519, 9001}

// Accumulator collects the per-packet numbers the picture shows. The zero
// value is not usable; call New.
type Accumulator struct {
	packets, bytes uint64
	first, last    int64
	ipv4, ipv6     uint64 // bytes by network protocol; the rest is "other"
	time           timeline
	srcPort        *[65536]uint64
	dstPort        *[65536]uint64
	srcAddr        *topTable
	dstAddr        *topTable
	sizes          [len(sizeEdges)]uint64
}

// DefaultHistogramSize is tcpflow's netviz_histogram_size default: how
// many distinct addresses per direction are counted exactly before the
// smallest are folded together.
const DefaultHistogramSize = 1000

// New returns an Accumulator that keeps up to histogramSize addresses per
// direction (DefaultHistogramSize if histogramSize < 2).
func New(histogramSize int) *Accumulator {
	if histogramSize < 2 {
		histogramSize = DefaultHistogramSize
	}
	return &Accumulator{
		srcPort: new([65536]uint64),
		dstPort: new([65536]uint64),
		srcAddr: newTopTable(histogramSize),
		dstAddr: newTopTable(histogramSize),
	}
}

// Add counts one TCP segment: ts in ns since the epoch, the IP addresses
// and ports, and the frame's length on the wire.
func (a *Accumulator) Add(ts int64, src, dst netip.Addr, sport, dport uint16, wirelen uint32) {
	n := a.count(ts, wirelen)
	a.addIP(src, dst, n)
	a.srcPort[sport] += n
	a.dstPort[dport] += n
	a.time.add(ts, portClass(sport, dport), n)
}

// AddIP counts an IP packet that is not TCP (UDP, ICMP, fragments).
func (a *Accumulator) AddIP(ts int64, src, dst netip.Addr, wirelen uint32) {
	n := a.count(ts, wirelen)
	a.addIP(src, dst, n)
	a.time.add(ts, classNonTCP, n)
}

// AddOther counts a frame that is not IP (ARP and the like).
func (a *Accumulator) AddOther(ts int64, wirelen uint32) {
	n := a.count(ts, wirelen)
	a.time.add(ts, classNonTCP, n)
}

func (a *Accumulator) count(ts int64, wirelen uint32) uint64 {
	if a.packets == 0 || ts < a.first {
		a.first = ts
	}
	if a.packets == 0 || ts > a.last {
		a.last = ts
	}
	a.packets++
	n := uint64(wirelen)
	a.bytes += n
	i := len(sizeEdges) - 1
	for wirelen < sizeEdges[i] {
		i--
	}
	a.sizes[i]++
	return n
}

func (a *Accumulator) addIP(src, dst netip.Addr, n uint64) {
	if src.Is4() {
		a.ipv4 += n
	} else {
		a.ipv6 += n
	}
	a.srcAddr.add(src, n)
	a.dstAddr.add(dst, n)
}

// portClass picks the colour class of a segment: the well-known port on
// either side, else other.
func portClass(sport, dport uint16) int {
	for _, p := range [2]uint16{sport, dport} {
		switch p {
		case 80, 81, 82, 8000, 8080, 8090, 8888:
			return classHTTP
		case 443:
			return classHTTPS
		case 22:
			return classSSH
		case 20, 21:
			return classFTP
		}
	}
	return classOther
}

// topTable counts bytes per address in a fixed-size open-addressing table.
// When it holds limit addresses it keeps the busier half and folds the rest
// into folded, so memory stays fixed and Add never allocates.
type topTable struct {
	limit  int
	n      int
	keys   []netip.Addr
	counts []uint64
	used   []bool
	folded uint64
	// scratch space for pruning, allocated once.
	scratchCounts []uint64
	scratchKeys   []netip.Addr
	scratchVals   []uint64
}

func newTopTable(limit int) *topTable {
	slots := 1
	for slots < 2*limit {
		slots *= 2
	}
	return &topTable{
		limit:         limit,
		keys:          make([]netip.Addr, slots),
		counts:        make([]uint64, slots),
		used:          make([]bool, slots),
		scratchCounts: make([]uint64, 0, limit),
		scratchKeys:   make([]netip.Addr, 0, limit),
		scratchVals:   make([]uint64, 0, limit),
	}
}

func hashAddr(a netip.Addr) uint64 {
	b := a.As16()
	hi, lo := binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:])
	if a.Is4() {
		hi ^= 0x9e3779b97f4a7c15
	}
	h := (hi ^ lo*0xff51afd7ed558ccd) * 0xc4ceb9fe1a85ec53
	return h ^ h>>33
}

func (t *topTable) slot(a netip.Addr) int {
	mask := len(t.keys) - 1
	i := int(hashAddr(a)) & mask
	for t.used[i] && t.keys[i] != a {
		i = (i + 1) & mask
	}
	return i
}

func (t *topTable) add(a netip.Addr, n uint64) {
	i := t.slot(a)
	if !t.used[i] {
		if t.n >= t.limit {
			t.prune()
			i = t.slot(a)
		}
		t.used[i], t.keys[i] = true, a
		t.n++
	}
	t.counts[i] += n
}

// prune keeps the addresses above the median count (at most half the
// limit) and folds the others.
func (t *topTable) prune() {
	c := t.scratchCounts[:0]
	for i, u := range t.used {
		if u {
			c = append(c, t.counts[i])
		}
	}
	slices.Sort(c)
	threshold := c[len(c)/2]
	keys, vals := t.scratchKeys[:0], t.scratchVals[:0]
	for i, u := range t.used {
		if !u {
			continue
		}
		if t.counts[i] > threshold && len(keys) < t.limit/2 {
			keys, vals = append(keys, t.keys[i]), append(vals, t.counts[i])
		} else {
			t.folded += t.counts[i]
		}
		t.used[i], t.counts[i] = false, 0
	}
	t.n = 0
	for k, a := range keys {
		j := t.slot(a)
		t.used[j], t.keys[j], t.counts[j] = true, a, vals[k]
		t.n++
	}
}

// entry is one bar of a top-N chart.
type entry struct {
	label string
	bytes uint64
	port  int // -1 for addresses
}

// addrCount is one address's bytes.
type addrCount struct {
	a netip.Addr
	c uint64
}

// byAddress returns every counted address with its bytes, in address order.
func (t *topTable) byAddress() []addrCount {
	var all []addrCount
	for i, u := range t.used {
		if u {
			all = append(all, addrCount{asTcpflowShows(t.keys[i]), t.counts[i]})
		}
	}
	slices.SortFunc(all, func(x, y addrCount) int { return x.a.Compare(y.a) })
	// Two keys may have become one address (:: and 0.0.0.0): add them up.
	merged := all[:0]
	for _, e := range all {
		if n := len(merged); n > 0 && merged[n-1].a == e.a {
			merged[n-1].c += e.c
			continue
		}
		merged = append(merged, e)
	}
	return merged
}

// asTcpflowShows maps an IPv6 address whose first 12 bytes are zero (::,
// IPv4-compatible) to the IPv4 address tcpflow's address tree files and
// prints it as.
func asTcpflowShows(a netip.Addr) netip.Addr {
	if !a.Is6() || a.Is4In6() {
		return a
	}
	b := a.As16()
	if [12]byte(b[:12]) != [12]byte{} {
		return a
	}
	return netip.AddrFrom4([4]byte(b[12:]))
}

// top returns the busiest addresses, most bytes first (ties by address).
func (t *topTable) top(n int) []entry {
	all := t.byAddress()
	slices.SortStableFunc(all, func(x, y addrCount) int {
		if x.c != y.c {
			if x.c > y.c {
				return -1
			}
			return 1
		}
		return x.a.Compare(y.a)
	})
	out := make([]entry, 0, min(n, len(all)))
	for _, e := range all[:min(n, len(all))] {
		out = append(out, entry{label: e.a.String(), bytes: e.c, port: -1})
	}
	return out
}

// topPorts returns the busiest ports, most bytes first (ties by port).
func topPorts(counts *[65536]uint64, n int) []entry {
	var out []entry
	for p, c := range counts {
		if c > 0 {
			out = append(out, entry{label: itoa(uint64(p)), bytes: c, port: p})
		}
	}
	slices.SortStableFunc(out, func(x, y entry) int {
		switch {
		case x.bytes > y.bytes:
			return -1
		case x.bytes < y.bytes:
			return 1
		}
		return 0
	})
	return out[:min(n, len(out))]
}

// AddFrame counts one decoded frame: the CLI calls it for every frame read
// when netviz is enabled.
func (a *Accumulator) AddFrame(f *layers.Frame, s *layers.Segment, st layers.Status) {
	switch {
	case st == layers.StatusTCP:
		a.Add(f.TS, s.Src, s.Dst, s.SrcPort, s.DstPort, f.WireLen)
	case st == layers.StatusIPNotTCP && s.Src.IsValid() && s.Dst.IsValid():
		a.AddIP(f.TS, s.Src, s.Dst, f.WireLen)
	default:
		a.AddOther(f.TS, f.WireLen)
	}
}
