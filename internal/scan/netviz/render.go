package netviz

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"
)

// RenderOptions are the texts of the picture's header.
type RenderOptions struct {
	// Title is the first header line (program and version).
	Title string
	// Input names what was read (the first capture file or interface).
	Input string
	// Generated is when the picture was made.
	Generated time.Time
	// Location is the zone dates are shown in (time.Local, as tcpflow).
	Location *time.Location
}

// Page geometry: US letter in points, as tcpflow's report.pdf.
const (
	pageWidth  = 612.0
	pageHeight = 792.0
	margin     = 30.6 // 5% of the width, as tcpflow
	fontSize   = 8.0
	lineHeight = 10.0
	topN       = 10 // bars per top-N chart
	topText    = 3  // lines of text under each top-N chart, as tcpflow
)

// Colours, as tcpflow's one-page report uses them.
const (
	colorDefault = "#ababab"
	// colorPackets is not a traffic class: the packet counts are all packets,
	// so the bars must not borrow "Not TCP"'s grey from the legend above.
	colorPackets = "#4a6278"
	colorCDF     = "#000000"
)

var classColors = [numClasses]string{
	classHTTP:   "#0500ff", // blue
	classHTTPS:  "#05bf00", // green
	classSSH:    "#9400bf", // purple
	classFTP:    "#ff0000", // red
	classOther:  "#ff7800", // orange
	classNonTCP: "#ababab",
}

var classNames = [numClasses]string{"HTTP", "HTTPS", "SSH", "FTP", "Other TCP", "Not TCP"}

// topPortColors colour the four busiest source ports without a colour of
// their own, like tcpflow (orange, magenta, deep purple, teal).
var topPortColors = []string{"#ff7800", "#bf0099", "#6600bf", "#00bfa6"}

// Render writes the picture as an SVG document.
func (a *Accumulator) Render(w io.Writer, opts RenderOptions) error {
	if opts.Location == nil {
		opts.Location = time.Local
	}
	s := &svg{w: bufio.NewWriter(w), y: margin}
	s.printf(`<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
		`<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="%g">`+"\n",
		pageWidth, pageHeight, pageWidth, pageHeight, fontSize)
	s.printf(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	for _, line := range a.HeaderLines(opts) {
		if line != "" {
			s.text(margin, s.y+fontSize, "start", 0, line)
		}
		s.y += lineHeight
	}
	s.y += 2 * lineHeight
	a.renderTimeline(s)
	portColors := a.portColors()
	s.pair(a.addressChart("Source Addresses", a.srcAddr), a.addressChart("Destination Addresses", a.dstAddr))
	s.pair(a.portChart("Source Ports", a.srcPort, portColors), a.portChart("Destination Ports", a.dstPort, portColors))
	a.renderSizes(s)
	s.printf("</svg>\n")
	if s.err != nil {
		return fmt.Errorf("write netviz picture: %w", s.err)
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("write netviz picture: %w", err)
	}
	return nil
}

// HeaderLines are the header's text lines, worded as tcpflow's (an empty
// string is a blank line).
func (a *Accumulator) HeaderLines(opts RenderOptions) []string {
	loc := opts.Location
	if loc == nil {
		loc = time.Local
	}
	const layout = "2006-01-02 15:04:05"
	first := time.Unix(0, a.first).Truncate(time.Second).In(loc)
	last := time.Unix(0, a.last).Truncate(time.Second).In(loc)
	return []string{
		opts.Title,
		"Input: " + opts.Input,
		"Generated: " + opts.Generated.In(loc).Format(layout),
		"",
		"Date range: " + first.Format(layout) + " -- " + last.Format(layout),
		"Packets analyzed: " + commaNumber(a.packets) + " (" + prettyBytes(a.bytes) + ")",
		a.transports(),
	}
}

// transports is tcpflow's "Transports:" line: whole percentages of bytes.
func (a *Accumulator) transports() string {
	var b strings.Builder
	b.WriteString("Transports: ")
	if a.bytes == 0 {
		return b.String()
	}
	for _, t := range []struct {
		name  string
		bytes uint64
	}{{"IPv4", a.ipv4}, {"IPv6", a.ipv6}, {"Other", a.bytes - a.ipv4 - a.ipv6}} {
		if pct := percent(t.bytes, a.bytes); pct > 0 {
			fmt.Fprintf(&b, "%s %d%% ", t.name, pct)
		}
	}
	return b.String()
}

// TopLines are the text lines under a top-N chart, worded as tcpflow's:
// "1) 10.0.0.2 - 3.67 KB (100%)".
func (a *Accumulator) TopLines() (srcAddr, dstAddr, srcPort, dstPort []string) {
	lines := func(es []entry) []string {
		var out []string
		for i, e := range es[:min(topText, len(es))] {
			out = append(out, fmt.Sprintf("%d) %s - %s (%d%%)", i+1, e.label, prettyBytes(e.bytes), percent(e.bytes, a.bytes)))
		}
		return out
	}
	return lines(a.srcAddr.top(topText)), lines(a.dstAddr.top(topText)),
		lines(topPorts(a.srcPort, topText)), lines(topPorts(a.dstPort, topText))
}

func percent(part, total uint64) uint64 {
	if total == 0 {
		return 0
	}
	return uint64(float64(part) / float64(total) * 100)
}

// renderTimeline draws bytes over time, stacked by port class, and packets
// over time below it.
func (a *Accumulator) renderTimeline(s *svg) {
	t := &a.time
	n := timelineBuckets
	for n > 1 && t.packets[n-1] == 0 {
		n--
	}
	var maxBytes, maxPackets uint64
	for i := range n {
		var sum uint64
		for _, b := range t.bytes[i] {
			sum += b
		}
		maxBytes, maxPackets = max(maxBytes, sum), max(maxPackets, t.packets[i])
	}
	width := pageWidth - 2*margin - 40
	x0 := margin + 30
	barW := width / float64(n)
	s.heading(pageWidth/2, "Bytes over time")
	h := 90.0
	s.axis(x0, s.y, width, h, prettyBytes(maxBytes), "")
	for i := range n {
		y := s.y + h
		for c := range numClasses {
			v := t.bytes[i][c]
			if v == 0 {
				continue
			}
			bh := h * float64(v) / float64(max(maxBytes, 1))
			y -= bh
			s.rect(x0+float64(i)*barW, y, barW, bh, classColors[c])
		}
	}
	s.y += h + 4
	a.legend(s)
	s.heading(pageWidth/2, "Packets over time")
	h = 50.0
	s.axis(x0, s.y, width, h, commaNumber(maxPackets), "")
	for i := range n {
		bh := h * float64(t.packets[i]) / float64(max(maxPackets, 1))
		s.rect(x0+float64(i)*barW, s.y+h-bh, barW, bh, colorPackets)
	}
	s.y += h + 2
	span := time.Duration(int64(n) * t.width)
	s.text(pageWidth/2, s.y+fontSize, "middle", 0,
		fmt.Sprintf("%s from %s (%s intervals)", roundDuration(span), time.Unix(0, t.origin).UTC().Format("2006-01-02 15:04:05 UTC"), roundDuration(time.Duration(t.width))))
	s.y += 2 * lineHeight
}

func roundDuration(d time.Duration) string {
	switch {
	case d >= time.Hour:
		return d.Round(time.Minute).String()
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	}
	return d.String()
}

// legend names the colours of the bytes-over-time chart that occur.
func (a *Accumulator) legend(s *svg) {
	var present []int
	for c := range numClasses {
		for i := range timelineBuckets {
			if a.time.bytes[i][c] > 0 {
				present = append(present, c)
				break
			}
		}
	}
	x := pageWidth/2 - float64(len(present))*35
	for _, c := range present {
		s.rect(x, s.y+1, 8, 8, classColors[c])
		s.text(x+11, s.y+fontSize, "start", 0, classNames[c])
		x += 70
	}
	s.y += 2 * lineHeight
}

// portColors gives the four busiest source ports without a class colour
// tcpflow's top-port colours.
func (a *Accumulator) portColors() map[int]string {
	colors := map[int]string{}
	next := 0
	for _, e := range topPorts(a.srcPort, 1<<16) {
		if next == len(topPortColors) {
			break
		}
		if portClass(uint16(e.port), 0) == classOther {
			colors[e.port] = topPortColors[next]
			next++
		}
	}
	return colors
}

func portColor(port int, colors map[int]string) string {
	if c, ok := colors[port]; ok {
		return c
	}
	if cl := portClass(uint16(port), 0); cl != classOther {
		return classColors[cl]
	}
	return colorDefault
}

// chart is one top-N bar chart with its text lines.
type chart struct {
	title   string
	entries []entry
	colors  []string
	total   uint64 // bytes the percentages refer to
}

func (a *Accumulator) addressChart(what string, t *topTable) chart {
	es := t.top(topN)
	c := chart{title: "Top " + what, entries: es, total: a.bytes}
	if len(es) == 0 {
		c.title = "No " + what
	}
	for range es {
		c.colors = append(c.colors, colorDefault)
	}
	return c
}

func (a *Accumulator) portChart(what string, counts *[65536]uint64, colors map[int]string) chart {
	es := topPorts(counts, topN)
	c := chart{title: "Top " + what, entries: es, total: a.bytes}
	if len(es) == 0 {
		c.title = "No " + what
	}
	for _, e := range es {
		c.colors = append(c.colors, portColor(e.port, colors))
	}
	return c
}

// renderSizes draws the packet size distribution.
func (a *Accumulator) renderSizes(s *svg) {
	var entries []entry
	var colors []string
	for i, lo := range sizeEdges {
		label := fmt.Sprintf("≥%d", lo)
		if i+1 < len(sizeEdges) {
			label = fmt.Sprintf("%d–%d", lo, sizeEdges[i+1]-1)
		}
		entries = append(entries, entry{label: label, bytes: a.sizes[i]})
		colors = append(colors, colorDefault)
	}
	s.heading(pageWidth/2, "Packet sizes (bytes on the wire)")
	width := pageWidth - 2*margin - 40
	s.bars(margin+30, width, 60, chart{entries: entries, colors: colors}, commaNumber, false)
	s.y += 6
}

// svg writes elements and tracks the vertical position.
type svg struct {
	w   *bufio.Writer
	y   float64
	err error
}

func (s *svg) printf(format string, args ...any) {
	if s.err == nil {
		_, s.err = fmt.Fprintf(s.w, format, args...)
	}
}

func (s *svg) text(x, y float64, anchor string, rotate float64, text string) {
	transform := ""
	if rotate != 0 {
		transform = fmt.Sprintf(` transform="rotate(%g %.1f %.1f)"`, rotate, x, y)
	}
	s.printf(`<text x="%.1f" y="%.1f" text-anchor="%s"%s>%s</text>`+"\n", x, y, anchor, transform, escape(text))
}

func (s *svg) rect(x, y, w, h float64, fill string) {
	s.printf(`<rect x="%.2f" y="%.2f" width="%.2f" height="%.2f" fill="%s"/>`+"\n", x, y, w, h, fill)
}

func (s *svg) heading(x float64, title string) {
	s.printf(`<text x="%.1f" y="%.1f" text-anchor="middle" font-size="9" font-weight="bold">%s</text>`+"\n", x, s.y+9, escape(title))
	s.y += lineHeight + 4
}

// axis draws a chart frame with its maximum labelled on the left and,
// when right is set, a percentage scale on the right.
func (s *svg) axis(x, y, w, h float64, maxLabel, right string) {
	s.printf(`<path d="M%.1f %.1f V%.1f H%.1f" fill="none" stroke="black" stroke-width="0.5"/>`+"\n", x, y, y+h, x+w)
	s.text(x-3, y+3, "end", 0, maxLabel)
	s.text(x-3, y+h+3, "end", 0, "0")
	if right != "" {
		s.printf(`<path d="M%.1f %.1f V%.1f" fill="none" stroke="black" stroke-width="0.5"/>`+"\n", x+w, y, y+h)
		s.text(x+w+3, y+3, "start", 0, right)
		s.text(x+w+3, y+h+3, "start", 0, "0%")
	}
}

// pair draws two top-N charts side by side.
func (s *svg) pair(left, right chart) {
	half := (pageWidth - 2*margin) / 2
	w := half - 80 // room for the value labels left and the percentages right
	top := s.y
	s.bars(margin+35, w, 70, left, prettyBytes, true)
	leftEnd := s.y
	s.y = top
	s.bars(margin+half+45, w, 70, right, prettyBytes, true)
	s.y = max(s.y, leftEnd) + 6
}

// bars draws one chart: bars with rotated labels, a cumulative line when
// cdf is set, the title below, and tcpflow's top-3 text lines.
func (s *svg) bars(x, w, h float64, c chart, valueLabel func(uint64) string, cdf bool) {
	var maxV, sum uint64
	for _, e := range c.entries {
		maxV, sum = max(maxV, e.bytes), sum+e.bytes
	}
	y := s.y + 28 // room for the rotated labels
	right := ""
	if cdf {
		right = "100%"
	}
	s.axis(x, y, w, h, valueLabel(maxV), right)
	if n := len(c.entries); n > 0 {
		slot := w / float64(max(n, 4))
		var cum uint64
		var path strings.Builder
		for i, e := range c.entries {
			bh := h * float64(e.bytes) / float64(max(maxV, 1))
			bx := x + float64(i)*slot + slot*0.1
			s.rect(bx, y+h-bh, slot*0.8, bh, c.colors[i])
			s.text(bx+slot*0.4, y+h-bh-2, "start", -45, e.label)
			cum += e.bytes
			cy := y + h - h*float64(cum)/float64(max(c.total, 1))
			fmt.Fprintf(&path, "%s%.1f %.1f H%.1f ", map[bool]string{true: "M", false: "L"}[i == 0], x+float64(i)*slot, cy, x+float64(i+1)*slot)
		}
		if cdf && c.total > 0 {
			s.printf(`<path d="%s" fill="none" stroke="%s" stroke-width="0.8"/>`+"\n", strings.TrimSpace(path.String()), colorCDF)
		}
	}
	s.y = y + h + 2
	if c.title != "" {
		s.text(x+w/2, s.y+fontSize+1, "middle", 0, c.title)
		s.y += lineHeight + 3
	}
	if cdf {
		for i, e := range c.entries[:min(topText, len(c.entries))] {
			s.text(x, s.y+fontSize, "start", 0, fmt.Sprintf("%d) %s - %s (%d%%)", i+1, e.label, prettyBytes(e.bytes), percent(e.bytes, c.total)))
			s.y += lineHeight
		}
	}
}

func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

// prettyBytes is tcpflow's pretty_byte_total: powers of 1000, two decimals
// unless the unit is bytes ("3.67 KB", "492 B").
func prettyBytes(n uint64) string {
	units := []string{"", "K", "M", "G", "T", "P", "E"}
	exp := 0
	if n > 0 {
		exp = int(math.Log(float64(n)) / math.Log(1000))
	}
	if exp >= len(units) || exp < 0 {
		exp = 0
	}
	if exp == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.2f %sB", float64(n)/math.Pow(1000, float64(exp)), units[exp])
}

// commaNumber groups digits by three with commas ("1,234,567").
func commaNumber(n uint64) string {
	s := itoa(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func itoa(n uint64) string { return fmt.Sprint(n) }

// FileName is the picture's name in the output directory (tcpflow's is
// report.pdf).
const FileName = "report.svg"

// WriteFile renders the picture into path, replacing it.
func (a *Accumulator) WriteFile(path string, opts RenderOptions) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create netviz picture: %w", err)
	}
	if err := a.Render(f, opts); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close netviz picture %s: %w", path, err)
	}
	return nil
}

// DumpHistograms writes the address histograms as tcpflow's
// -S netviz_histogram_dump=1 prints them: per direction, the number of
// addresses and each address's bytes, in address order (tcpflow walks its
// address tree: IPv4 before IPv6, each ascending). tcpflow also prints its
// address tree's internal counters (nodes, cache hits); bpflow has no such
// tree, so those lines are left out.
func (a *Accumulator) DumpHistograms(w io.Writer) error {
	for _, d := range []struct {
		name string
		t    *topTable
	}{{"src_tree", a.srcAddr}, {"dst_tree", a.dstAddr}} {
		top := d.t.byAddress()
		if _, err := fmt.Fprintf(w, "%s:\nhistogram size: %d\n", d.name, len(top)); err != nil {
			return err
		}
		for _, e := range top {
			if _, err := fmt.Fprintf(w, "%s  count=%d\n", e.a, e.c); err != nil {
				return err
			}
		}
		if _, err := io.WriteString(w, "\n"); err != nil {
			return err
		}
	}
	return nil
}
