package afpacket

import (
	"golang.org/x/net/bpf"

	"github.com/bpflow/bpflow/internal/filter"
	"github.com/bpflow/bpflow/internal/layers"
)

// compiled is a filter ready for the socket: the classic BPF program for the
// kernel, and an interpreter for the frames the kernel cannot judge (those
// whose VLAN tag it moved out of the packet).
type compiled struct {
	insns []bpf.Instruction
	match func(data []byte, wireLen uint32) bool
}

// compileFilter compiles a tcpdump expression for the capture's link type.
// Errors are the filter package's, worded as libpcap's.
func compileFilter(expr string, lt layers.LinkType) (*compiled, error) {
	prog, err := filter.Compile(expr, lt)
	if err != nil {
		return nil, err
	}
	insns, err := prog.CBPF()
	if err != nil {
		return nil, err
	}
	return &compiled{insns: insns, match: prog.Match}, nil
}
