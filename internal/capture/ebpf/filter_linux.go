package ebpf

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf/asm"

	"github.com/bpflow/bpflow/internal/layers"
)

var errNoFilterCompiler = errors.New("the eBPF filter back end is not available in this build")

// compileFilter returns the instructions spliced in as bpflow_filter for
// devices of link type lt, or nil (match everything) for an empty expression.
func compileFilter(expr string, lt layers.LinkType) (asm.Instructions, error) {
	if expr == "" {
		return nil, nil
	}
	return nil, fmt.Errorf("compile filter %q for link type %d: %w", expr, lt, errNoFilterCompiler)
}
