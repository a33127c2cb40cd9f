package afpacket

import (
	"fmt"

	"golang.org/x/net/bpf"

	"github.com/bpflow/bpflow/internal/layers"
)

// compileFilter compiles a tcpdump expression for the capture's link type.
//
// TODO(H4): call filter.Compile(expr, lt) and (*Program).CBPF() once
// internal/filter lands; until then live capture refuses filter expressions.
func compileFilter(expr string, lt layers.LinkType) ([]bpf.Instruction, error) {
	return nil, fmt.Errorf("compile filter %q for link type %d: filter expressions are not available yet", expr, lt)
}
