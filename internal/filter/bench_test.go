package filter

import (
	"testing"

	"github.com/bpflow/bpflow/internal/layers"
	"github.com/bpflow/bpflow/internal/testutil"
)

var benchExprs = []string{
	"port 80",
	"host 192.168.1.2 and not port 80",
	"tcp[tcpflags] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack)",
	"vlan 100 and tcp port 80",
}

func BenchmarkCompile(b *testing.B) {
	for _, e := range benchExprs {
		b.Run(e, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := Compile(e, layers.LinkEthernet); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMatch runs the interpreter over the Ethernet corpus.
func BenchmarkMatch(b *testing.B) {
	frames := ethernetFrames()
	for _, e := range benchExprs {
		p, err := Compile(e, layers.LinkEthernet)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(e, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				f := frames[i%len(frames)]
				p.Match(f.data, f.wireLen)
			}
		})
	}
}

// BenchmarkEBPF measures the kernel's time per packet for the eBPF filter
// (BPF_PROG_TEST_RUN with repeat) on a TCP frame.
func BenchmarkEBPF(b *testing.B) {
	testutil.RequireBPF(b)
	frame := ethernetFrames()[1].data
	for _, e := range benchExprs {
		p, err := Compile(e, layers.LinkEthernet)
		if err != nil {
			b.Fatal(err)
		}
		prog, err := loadFilterProgram(b, p)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(e, func(b *testing.B) {
			b.ReportAllocs()
			if _, _, err := prog.Benchmark(frame, b.N, b.ResetTimer); err != nil {
				b.Fatal(err)
			}
		})
	}
}
