package output_test

import (
	"encoding/binary"
	"io"
	"net/netip"
	"testing"

	"github.com/bpflow/bpflow/internal/flow"
	"github.com/bpflow/bpflow/internal/layers"
	"github.com/bpflow/bpflow/internal/output"
	"github.com/bpflow/bpflow/internal/testutil/pktbuild"
)

// BenchmarkInOrderPath is the per-packet work after the capture reader:
// decode, flow engine and the real sink (flow file, or -c and -c -B to
// io.Discard), for in-order MTU-sized segments of one connection. It must
// report 0 allocs/op: the in-order path allocates nothing per packet.
func BenchmarkInOrderPath(b *testing.B) {
	for _, bc := range []struct {
		name    string
		console *output.ConsoleOptions
	}{
		{"files", nil},
		{"console", &output.ConsoleOptions{Strip: true}},
		{"console-B", &output.ConsoleOptions{}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.Chdir(b.TempDir())
			sink := &output.Sink{Stderr: io.Discard}
			if bc.console != nil {
				sink.Console = &output.Console{Opts: *bc.console, W: io.Discard}
			} else {
				sink.Files = &output.Files{Namer: output.Namer{Template: output.DefaultTemplate},
					MaxFDs: 100, Warn: func(msg string) { b.Fatal(msg) }}
			}
			eng := flow.New(flow.Config{Console: bc.console != nil, MaxSeek: flow.DefaultMaxSeek, MaxBytes: -1}, sink)
			benchmarkPackets(b, eng)
		})
	}
}

// benchmarkPackets sends b.N in-order segments through decode and eng.
func benchmarkPackets(b *testing.B, eng *flow.Engine) {
	const mss = 1448
	payload := make([]byte, mss)
	for i := range payload {
		payload[i] = byte(1 + (uint32(i)*2654435761>>24)%255) // a third printable
	}
	src, dst := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	frame := pktbuild.Build(
		pktbuild.Ethernet{Src: [6]byte{2, 0, 10, 0, 0, 1}, Dst: [6]byte{2, 0, 10, 0, 0, 2}},
		pktbuild.IPv4{Src: src, Dst: dst, Flags: pktbuild.IPv4DontFragment},
		pktbuild.TCP{SrcPort: 40000, DstPort: 80, Seq: 1000, Ack: 1, Flags: pktbuild.ACK, Window: 502},
		pktbuild.Payload(payload))
	seqAt := 14 + 20 + 4 // Ethernet, IPv4, then the TCP sequence number
	fr := layers.Frame{LinkType: layers.LinkEthernet, WireLen: uint32(len(frame)), Data: frame}
	var seg layers.Segment
	seq := uint32(1000)
	b.ReportAllocs()
	b.SetBytes(mss)
	for b.Loop() {
		binary.BigEndian.PutUint32(frame[seqAt:], seq)
		if st := layers.Decode(&fr, &seg); st != layers.StatusTCP {
			b.Fatalf("decode status %v", st)
		}
		if _, err := eng.Process(&seg, flow.Packet{TS: fr.TS, WireLen: fr.WireLen, CapLen: uint32(len(frame))}); err != nil {
			b.Fatal(err)
		}
		seq += mss
		fr.TS += 10_000
	}
}
