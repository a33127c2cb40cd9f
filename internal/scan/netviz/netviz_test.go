package netviz

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bpflow/bpflow/internal/layers"
	"github.com/bpflow/bpflow/internal/pcapfile"
	"github.com/bpflow/bpflow/internal/testutil"
	"github.com/google/go-cmp/cmp"
)

const samplePcap = "../../../testdata/sample/http.pcap"

// feed reads a capture into a new Accumulator.
func feed(t testing.TB, path string) *Accumulator {
	t.Helper()
	rd, err := pcapfile.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	a := New(0)
	var seg layers.Segment
	for {
		f, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return a
		}
		if err != nil {
			t.Fatal(err)
		}
		a.AddFrame(f, &seg, layers.Decode(f, &seg))
	}
}

var topLineRE = regexp.MustCompile(`(?m)^\d\) .*$`)

// TestNetvizConformance: the numbers in the picture's text (header and the
// top-3 lists) are the ones tcpflow's report.pdf shows for the same capture.
func TestNetvizConformance(t *testing.T) {
	testutil.RequireTool(t, "/usr/bin/tcpflow")
	testutil.RequireTool(t, "pdftotext") // Debian: poppler-utils
	dir := t.TempDir()
	abs, err := filepath.Abs(samplePcap)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/bin/tcpflow", "-e", "netviz", "-o", dir, "-r", abs)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tcpflow: %v\n%s", err, out)
	}
	text, err := exec.Command("pdftotext", filepath.Join(dir, "report.pdf"), "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	a := feed(t, samplePcap)
	header := a.HeaderLines(RenderOptions{Location: time.UTC})
	for _, want := range header[4:] {
		if !slices.Contains(strings.Split(string(text), "\n"), strings.TrimSpace(want)) {
			t.Errorf("header line %q not in tcpflow's report:\n%s", want, text)
		}
	}
	srcA, dstA, srcP, dstP := a.TopLines()
	got := slices.Concat(srcA, dstA, srcP, dstP)
	want := topLineRE.FindAllString(string(text), -1)
	slices.Sort(got)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("top lists differ from tcpflow's (-tcpflow +bpflow):\n%s", diff)
	}
}

// TestRenderSVG renders the sample: the SVG is well-formed XML, holds the
// header and top lists, and rsvg-convert (when installed) can draw it.
func TestRenderSVG(t *testing.T) {
	a := feed(t, samplePcap)
	var buf bytes.Buffer
	opts := RenderOptions{Title: "bpflow test", Input: "http.pcap", Generated: time.Unix(1600000000, 0), Location: time.UTC}
	if err := a.Render(&buf, opts); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(buf.Bytes()))
	for {
		_, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
	}
	srcA, _, srcP, _ := a.TopLines()
	for _, s := range slices.Concat(a.HeaderLines(opts)[:3], srcA, srcP) {
		if !bytes.Contains(buf.Bytes(), []byte(escape(s))) {
			t.Errorf("SVG lacks %q", s)
		}
	}
	testutil.RequireTool(t, "rsvg-convert") // Debian: librsvg2-bin
	svgPath := filepath.Join(t.TempDir(), FileName)
	if err := a.WriteFile(svgPath, opts); err != nil {
		t.Fatal(err)
	}
	png := strings.TrimSuffix(svgPath, ".svg") + ".png"
	if out, err := exec.Command("rsvg-convert", "-o", png, svgPath).CombinedOutput(); err != nil {
		t.Fatalf("rsvg-convert: %v\n%s", err, out)
	}
	if dir := os.Getenv("NETVIZ_KEEP"); dir != "" {
		os.WriteFile(filepath.Join(dir, "report.svg"), buf.Bytes(), 0o644)
	}
}

// naive counts the same numbers with maps: the reference the accumulator
// must agree with while no address is folded.
type naive struct {
	packets, bytes   uint64
	srcAddr, dstAddr map[netip.Addr]uint64
	srcPort, dstPort map[uint16]uint64
}

func TestCountsMatchMaps(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	a := New(1000)
	n := naive{srcAddr: map[netip.Addr]uint64{}, dstAddr: map[netip.Addr]uint64{}, srcPort: map[uint16]uint64{}, dstPort: map[uint16]uint64{}}
	for i := range 20000 {
		src := netip.AddrFrom4([4]byte{10, 0, byte(rng.IntN(20)), byte(rng.IntN(10))})
		dst := netip.AddrFrom16([16]byte{0x20, 0x01, 15: byte(rng.IntN(50))})
		sp, dp := uint16(rng.IntN(30)), uint16(80+rng.IntN(3))
		l := uint32(54 + rng.IntN(1460))
		a.Add(int64(1600000000e9+i*1e6), src, dst, sp, dp, l)
		n.packets++
		n.bytes += uint64(l)
		n.srcAddr[src] += uint64(l)
		n.dstAddr[dst] += uint64(l)
		n.srcPort[sp] += uint64(l)
		n.dstPort[dp] += uint64(l)
	}
	if a.packets != n.packets || a.bytes != n.bytes {
		t.Fatalf("totals %d/%d, want %d/%d", a.packets, a.bytes, n.packets, n.bytes)
	}
	check := func(name string, got []entry, want map[string]uint64) {
		t.Helper()
		if len(got) != min(topN, len(want)) {
			t.Fatalf("%s: %d entries", name, len(got))
		}
		var wantVals []uint64
		for _, v := range want {
			wantVals = append(wantVals, v)
		}
		slices.Sort(wantVals)
		slices.Reverse(wantVals)
		for i, e := range got {
			if want[e.label] != e.bytes || e.bytes != wantVals[i] {
				t.Errorf("%s #%d: %s %d bytes; maps say %d, rank value %d", name, i, e.label, e.bytes, want[e.label], wantVals[i])
			}
		}
	}
	str := func(m any) map[string]uint64 {
		out := map[string]uint64{}
		switch m := m.(type) {
		case map[netip.Addr]uint64:
			for k, v := range m {
				out[k.String()] = v
			}
		case map[uint16]uint64:
			for k, v := range m {
				out[fmt.Sprint(k)] = v
			}
		}
		return out
	}
	check("src addr", a.srcAddr.top(topN), str(n.srcAddr))
	check("dst addr", a.dstAddr.top(topN), str(n.dstAddr))
	check("src port", topPorts(a.srcPort, topN), str(n.srcPort))
	check("dst port", topPorts(a.dstPort, topN), str(n.dstPort))
	var sizes uint64
	for _, c := range a.sizes {
		sizes += c
	}
	if sizes != n.packets {
		t.Errorf("size histogram holds %d packets, want %d", sizes, n.packets)
	}
}

// TestFoldingKeepsHeavyHitters: with far more addresses than the table
// holds, the busiest ones are still counted exactly.
func TestFoldingKeepsHeavyHitters(t *testing.T) {
	a := New(64)
	heavy := netip.MustParseAddr("192.0.2.1")
	for i := range 100000 {
		a.Add(int64(i), heavy, heavy, 1, 2, 100)
		a.Add(int64(i), netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), heavy, 1, 2, 60)
	}
	top := a.srcAddr.top(1)
	if len(top) != 1 || top[0].label != "192.0.2.1" || top[0].bytes != 100*100000 {
		t.Errorf("top source %v, want 192.0.2.1 with %d bytes", top, 100*100000)
	}
	if a.srcAddr.n > 64 {
		t.Errorf("table holds %d addresses, limit 64", a.srcAddr.n)
	}
}

// TestTimelineSpans: packets an hour apart all land in the chart, and the
// counts survive the widening.
func TestTimelineSpans(t *testing.T) {
	a := New(0)
	src := netip.MustParseAddr("10.0.0.1")
	const n = 3600
	for i := range n {
		a.Add(int64(i)*int64(time.Second), src, src, 1, 2, 100)
	}
	var total uint64
	for _, p := range a.time.packets {
		total += p
	}
	if total != n || a.time.width*timelineBuckets < int64(n)*int64(time.Second) {
		t.Errorf("timeline holds %d packets over %v, want %d over 1h", total, time.Duration(a.time.width*timelineBuckets), n)
	}
}

func TestAddDoesNotAllocate(t *testing.T) {
	a := New(100)
	i := 0
	allocs := testing.AllocsPerRun(10000, func() {
		i++
		a.Add(int64(i)*1e7, netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), netip.IPv6Loopback(), uint16(i), 80, uint32(i%1600))
	})
	if allocs != 0 {
		t.Errorf("Add allocates %.1f times per call", allocs)
	}
}

func BenchmarkAdd(b *testing.B) {
	a := New(0)
	src, dst := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	b.ReportAllocs()
	for i := range b.N {
		a.Add(int64(i)*1e6, src, dst, uint16(i), 80, 1514)
	}
}
