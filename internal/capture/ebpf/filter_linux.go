package ebpf

import (
	"fmt"

	"github.com/cilium/ebpf/asm"

	"github.com/bpflow/bpflow/internal/filter"
	"github.com/bpflow/bpflow/internal/layers"
)

// ebpfBackEnd is the filter package's eBPF back end. Asserted rather than
// called directly so the capture also builds, and filters correctly in user
// space, against a filter package without it.
type ebpfBackEnd interface {
	EBPF() (asm.Instructions, error)
}

// filterPlan says where a filter runs: spliced into the kernel program
// (only matching packets are ever copied), or, when the kernel cannot take
// it, in Go on the delivered frames (same result, more copying).
type filterPlan struct {
	kernel asm.Instructions // nil: the kernel keeps every TCP packet
	// user is the same filter for the delivered frames; it runs in Go only
	// when kernel is nil or the kernel refused it. nil: no filter.
	user *filter.Program
}

// planFilter compiles expr for devices whose frames at TC have link type
// device; delivered is the link type Run hands out (cooked for "any"),
// which a user-space filter must be compiled for, as libpcap would.
func planFilter(expr string, device, delivered layers.LinkType) (filterPlan, error) {
	if expr == "" {
		return filterPlan{}, nil
	}
	prog, err := filter.Compile(expr, device)
	if err != nil {
		return filterPlan{}, fmt.Errorf("compile filter %q: %w", expr, err)
	}
	var plan filterPlan
	if be, ok := any(prog).(ebpfBackEnd); ok {
		if insns, err := be.EBPF(); err == nil {
			plan.kernel = insns
		}
	}
	plan.user = prog
	if delivered != device {
		if plan.user, err = filter.Compile(expr, delivered); err != nil {
			return filterPlan{}, fmt.Errorf("compile filter %q for link type %d: %w", expr, delivered, err)
		}
	}
	return plan, nil
}
