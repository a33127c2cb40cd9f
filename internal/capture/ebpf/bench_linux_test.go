package ebpf

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cilium/ebpf/ringbuf"

	"github.com/bpflow/bpflow/internal/layers"
	pb "github.com/bpflow/bpflow/internal/testutil/pktbuild"
)

// BenchmarkProgram measures the program's in-kernel cost per packet with
// BPF_PROG_TEST_RUN (the kernel's own timing, reported as kernel-ns/pkt),
// per copy path and payload size. PROG_TEST_RUN takes frames up to about a
// page, so super-packets are measured live (scripts/bench-live-kernel.sh).
func BenchmarkProgram(b *testing.B) {
	const batch = 1000
	for _, cp := range []copyPath{copyDynptr, copyScratch} {
		for _, size := range []int{0, 100, 1400, 3000} {
			b.Run(fmt.Sprintf("%s/payload=%d", cp, size), func(b *testing.B) {
				h := newHarness(b, loadOptions{copy: cp, ringSize: 64 << 20})
				frame := pb.Build(eth, pb.IPv4{Src: ip4A, Dst: ip4B}, pb.TCP{SrcPort: 1, DstPort: 2, Flags: pb.ACK}, payload(size))
				var kernel time.Duration
				var rec ringbuf.Record
				runs := 0
				for b.Loop() {
					_, per, err := h.progs.ingress.Benchmark(frame, batch, nil)
					if err != nil {
						b.Fatal(err)
					}
					kernel += per * batch
					runs += batch
					h.rd.SetDeadline(time.Now())
					for h.rd.ReadInto(&rec) == nil {
					}
				}
				b.ReportMetric(float64(kernel.Nanoseconds())/float64(runs), "kernel-ns/pkt")
			})
		}
	}
}

// BenchmarkDeliver is the reader's work per record after the ring copy:
// decode the header, build the Frame, call the handler. No allocation.
func BenchmarkDeliver(b *testing.B) {
	frame := pb.Build(eth, pb.IPv4{Src: ip4A, Dst: ip4B}, pb.TCP{SrcPort: 1, DstPort: 2}, payload(1400))
	raw := makeRecord(record{wireLen: uint32(len(frame)), hdrLen: 54, l3Off: 14, l4Off: 34}, frame)
	for _, anyIface := range []bool{false, true} {
		b.Run(fmt.Sprintf("any=%v", anyIface), func(b *testing.B) {
			s := &Source{linkType: layers.LinkEthernet, any: anyIface}
			s.kinds.Store(&map[uint32]iface{})
			buf := make([]byte, len(raw))
			var n int
			handle := func(f *layers.Frame) error { n += len(f.Data); return nil }
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			for b.Loop() {
				copy(buf, raw) // the ring reader's copy into the reused record
				if err := s.deliver(buf, handle); err != nil {
					b.Fatal(err)
				}
			}
			if n == 0 {
				b.Fatal(errors.New("nothing delivered"))
			}
		})
	}
}
