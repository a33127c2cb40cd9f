package cli

import (
	"bufio"
	"fmt"
	"math/rand"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bpflow/bpflow/internal/layers"
	"github.com/bpflow/bpflow/internal/pcapfile"
	"github.com/bpflow/bpflow/internal/testutil"
	"github.com/bpflow/bpflow/internal/testutil/pktbuild"
)

// TestRandomStreamsMatchTcpflow is a differential test of the flow engine
// and the sinks: random captures (reordering, retransmissions with other
// bytes, overlaps, holes, keepalives, missing SYNs, FIN/RST, reused
// 4-tuples, sequence wraparound, idle gaps) are run through tcpflow 1.6.1
// and bpflow with random options, and every output must be identical.
func TestRandomStreamsMatchTcpflow(t *testing.T) {
	testutil.RequireTool(t, "tcpflow")
	n := 60
	if testing.Short() {
		n = 10
	}
	for seed := int64(1); seed <= int64(n); seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewSource(seed))
			dir := t.TempDir()
			pcap := filepath.Join(dir, "in.pcap")
			pcap2 := filepath.Join(dir, "in2.pcap")
			args := randomOptions(rng)
			switch writeScenario(t, rng, pcap, pcap2) {
			case false:
				args = append(args, "-r", pcap)
			case rng.Intn(2) == 0:
				args = append(args, "-r", pcap, "-r", pcap2)
			default:
				args = append(args, "-r", pcap, "-R", pcap2)
			}
			a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
			for _, d := range []string{a, b} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			want := snapshot(t, a, runTcpflow(t, a, args...), consoleArgs(args))
			got := snapshot(t, b, runBpflow(t, b, args...), consoleArgs(args))
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("tcpflow %s (-tcpflow +bpflow):\n%s", strings.Join(args, " "), d)
			}
		})
	}
}

func consoleArgs(args []string) bool {
	for _, a := range args {
		if strings.HasPrefix(a, "-c") || strings.HasPrefix(a, "-C") {
			return true
		}
	}
	return false
}

// randomOptions picks options that change the engine's behaviour. -Fc is
// left out: tcpflow 1.6.1 hangs on its third reuse of a 4-tuple.
func randomOptions(rng *rand.Rand) []string {
	var args []string
	if rng.Intn(3) == 0 {
		args = append(args, "-b", fmt.Sprint(rng.Intn(400)))
	}
	if rng.Intn(3) == 0 {
		args = append(args, "-m", fmt.Sprint(rng.Intn(2000)))
	}
	if rng.Intn(3) == 0 {
		args = append(args, "-S", fmt.Sprintf("tcp_timeout=%d", 1+rng.Intn(5)))
	}
	if rng.Intn(4) == 0 {
		args = append(args, "-f", fmt.Sprint(1+rng.Intn(2)))
	}
	switch rng.Intn(8) {
	case 0:
		args = append(args, "-T", "%N_%S_%#_%t_%A%a")
	case 1:
		args = append(args, "-Fk")
	case 2:
		args = append(args, "-c")
	case 3:
		args = append(args, "-cD", "-g")
	case 4:
		args = append(args, "-C", "-0", "-B")
	case 5:
		args = append(args, "-FX")
	}
	return args
}

type endpoint struct {
	addr netip.Addr
	port uint16
	mac  [6]byte
}

// writeScenario writes a capture of a few connections (some on the same
// 4-tuple, some IPv6, some VLAN-tagged) with damaged, interleaved streams.
// Sometimes the capture is split in two files (path, then path2); split
// reports whether it was.
func writeScenario(t *testing.T, rng *rand.Rand, path, path2 string) (split bool) {
	t.Helper()
	cli := endpoint{netip.MustParseAddr("192.168.1.1"), 54156, [6]byte{0, 0x11, 0x22, 0x33, 0x44, 0x55}}
	srv := endpoint{netip.MustParseAddr("10.0.0.2"), 80, [6]byte{0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb}}
	var conns [][][]byte
	for c := 0; c < 1+rng.Intn(3); c++ {
		cl, sv := cli, srv
		if rng.Intn(2) == 0 {
			cl.port += uint16(c) // otherwise the 4-tuple is reused
		}
		if rng.Intn(5) == 0 {
			cl.addr = netip.MustParseAddr("2001:db8::1")
			sv.addr = netip.MustParseAddr("2001:db8:0:1::2")
		}
		var tags []pktbuild.Tag
		if rng.Intn(5) == 0 {
			tags = []pktbuild.Tag{{TCI: uint16(rng.Intn(4096))}}
		}
		conns = append(conns, connection(rng, cl, sv, tags))
	}
	// interleave, keeping each connection's own order
	var frames [][]byte
	for {
		var live []int
		for i, c := range conns {
			if len(c) > 0 {
				live = append(live, i)
			}
		}
		if len(live) == 0 {
			break
		}
		i := live[rng.Intn(len(live))]
		frames = append(frames, conns[i][0])
		conns[i] = conns[i][1:]
	}
	cut := len(frames)
	if len(frames) > 2 && rng.Intn(3) == 0 {
		cut = 1 + rng.Intn(len(frames)-1)
		split = true
	}
	ts := int64(pktbuild.BaseTime)
	ts = writeFrames(t, rng, path, ts, frames[:cut])
	if split {
		writeFrames(t, rng, path2, ts, frames[cut:])
	}
	return split
}

// writeFrames writes frames to a pcap file from time ts on, with random
// gaps (some long enough for tcp_timeout), and returns the next time.
func writeFrames(t *testing.T, rng *rand.Rand, path string, ts int64, frames [][]byte) int64 {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriter(f)
	w, err := pcapfile.NewWriter(bw, layers.LinkEthernet, 65535)
	if err != nil {
		t.Fatal(err)
	}
	for _, fr := range frames {
		if err := w.WritePacket(ts, 0, fr); err != nil {
			t.Fatal(err)
		}
		gap := int64(1+rng.Intn(999)) * 1e3
		switch rng.Intn(20) {
		case 0, 1:
			gap = int64(rng.Intn(8)) * 1e9
		case 2: // clocks step back too (tcpflow's ages then wrap around)
			gap = -int64(rng.Intn(3)) * 1e9
		}
		ts += gap
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return ts
}

// connection returns the frames of one connection in capture order.
func connection(rng *rand.Rand, cl, srv endpoint, tags []pktbuild.Tag) [][]byte {
	type dir struct {
		from, to endpoint
		isn      uint32
		data     []byte
	}
	isn := func() uint32 {
		if rng.Intn(4) == 0 {
			return 0xffffffff - uint32(rng.Intn(300)) // wraps during the stream
		}
		return rng.Uint32()
	}
	dirs := []*dir{{cl, srv, isn(), nil}, {srv, cl, isn(), nil}}
	for _, d := range dirs {
		d.data = make([]byte, rng.Intn(600))
		for i := range d.data {
			d.data[i] = byte('A' + rng.Intn(26))
		}
	}
	build := func(d *dir, flags uint8, seq uint32, payload []byte) []byte {
		var ip pktbuild.Layer = pktbuild.IPv4{Src: d.from.addr, Dst: d.to.addr}
		if d.from.addr.Is6() {
			ip = pktbuild.IPv6{Src: d.from.addr, Dst: d.to.addr}
		}
		return pktbuild.Build(
			pktbuild.Ethernet{Dst: d.to.mac, Src: d.from.mac, Tags: tags},
			ip,
			pktbuild.TCP{SrcPort: d.from.port, DstPort: d.to.port, Seq: seq, Flags: flags},
			pktbuild.Payload(payload))
	}
	var frames [][]byte
	if rng.Intn(4) != 0 {
		frames = append(frames,
			build(dirs[0], pktbuild.SYN, dirs[0].isn, nil),
			build(dirs[1], pktbuild.SYN|pktbuild.ACK, dirs[1].isn, nil))
	}
	var segs [][]byte
	for _, d := range dirs {
		for off := 0; off < len(d.data); {
			n := 1 + rng.Intn(120)
			if off+n > len(d.data) {
				n = len(d.data) - off
			}
			seq := d.isn + 1 + uint32(off)
			payload := d.data[off : off+n]
			switch rng.Intn(12) {
			case 0: // lost: a hole
			case 1: // retransmitted with other bytes
				segs = append(segs, build(d, pktbuild.ACK, seq, payload))
				other := append([]byte(nil), payload...)
				other[0] = 'z'
				segs = append(segs, build(d, pktbuild.ACK, seq, other))
			case 2: // overlapping a later segment
				end := min(off+n+10, len(d.data))
				segs = append(segs, build(d, pktbuild.ACK, seq, d.data[off:end]))
			case 3: // keepalive before it
				segs = append(segs, build(d, pktbuild.ACK, seq-1, []byte{'k'}))
				segs = append(segs, build(d, pktbuild.ACK, seq, payload))
			case 4: // data before the ISN
				segs = append(segs, build(d, pktbuild.ACK, d.isn-uint32(rng.Intn(20)), []byte("before")))
				segs = append(segs, build(d, pktbuild.ACK, seq, payload))
			default:
				segs = append(segs, build(d, pktbuild.PSH|pktbuild.ACK, seq, payload))
			}
			off += n
		}
		end := d.isn + 1 + uint32(len(d.data))
		switch rng.Intn(4) {
		case 0:
			segs = append(segs, build(d, pktbuild.RST, end, nil))
		case 1, 2:
			segs = append(segs, build(d, pktbuild.FIN|pktbuild.ACK, end, nil))
		}
	}
	// local reordering
	for i := range segs {
		if j := i + rng.Intn(3); j < len(segs) && rng.Intn(3) == 0 {
			segs[i], segs[j] = segs[j], segs[i]
		}
	}
	frames = append(frames, segs...)
	// a straggler retransmission after the end
	if len(segs) > 0 && rng.Intn(3) == 0 {
		frames = append(frames, segs[rng.Intn(len(segs))])
	}
	return frames
}

var ptrRE = regexp.MustCompile(`tcp=0x[0-9a-f]+`)

type runSnapshot struct {
	Result      result
	Files       map[string]string // name → mode, mtime and content
	FileObjects []string
}

// snapshot collects a run's observable output. In console mode the report
// is left out (bpflow writes none: DESIGN §4.2).
func snapshot(t *testing.T, dir string, r result, console bool) runSnapshot {
	t.Helper()
	r.Stderr = ptrRE.ReplaceAllString(r.Stderr, "tcp=PTR")
	s := runSnapshot{Files: map[string]string{}}
	if console {
		r.Stderr = strings.Replace(r.Stderr, "reportfilename: ./report.xml\n", "", 1)
	}
	s.Result = r
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if rel == "report.xml" {
			if !console {
				s.FileObjects = fileObjects(string(b))
			}
			return nil
		}
		s.Files[rel] = fmt.Sprintf("%v %d %q", info.Mode(), info.ModTime().UnixMicro(), b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var fileObjectRE = regexp.MustCompile(`(?s)<fileobject>.*?</fileobject>`)

// fileObjects lists the report's entries in order: bpflow closes the flows
// left at the end in tcpflow's hash-table order too.
func fileObjects(report string) []string {
	return fileObjectRE.FindAllString(report, -1)
}
