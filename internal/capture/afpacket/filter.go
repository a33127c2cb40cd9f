package afpacket

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// maxKernelInsns is Linux's BPF_MAXINSNS for socket filters.
const maxKernelInsns = 4096

// socketFilter is what gets attached to the socket and what must still run
// in userspace.
type socketFilter struct {
	kernel []bpf.RawInstruction
	// userAll: the program is too long for the kernel, which then passes
	// every frame up to be filtered in userspace (otherwise only those with
	// an offloaded VLAN tag).
	userAll bool
}

// buildSocketFilter puts a prologue before the compiled program (nil: no
// filter): drop outgoing copies on the loopback device loIfindex (0: none)
// and pass packets with an offloaded VLAN tag to userspace, where the filter
// sees the frame with its tag restored.
//
// Every accept returns snaplen, as libpcap's programs do, so the kernel
// copies no more than snaplen bytes; a restored VLAN tag then pushes the
// frame over snaplen by up to 4 bytes, which userspace trims, as libpcap does.
func buildSocketFilter(prog []bpf.Instruction, loIfindex int32, snaplen uint32) (socketFilter, error) {
	keepAll := bpf.RetConstant{Val: snaplen}
	var head []bpf.Instruction
	if loIfindex > 0 {
		head = append(head,
			bpf.LoadExtension{Num: bpf.ExtType},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: packetOutgoing, SkipFalse: 3},
			bpf.LoadExtension{Num: bpf.ExtInterfaceIndex},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(loIfindex), SkipFalse: 1},
			bpf.RetConstant{Val: 0},
		)
	}
	if prog == nil {
		return assemble(append(head, keepAll), socketFilter{})
	}
	withVLAN := append(head,
		bpf.LoadExtension{Num: bpf.ExtVLANTagPresent},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0, SkipTrue: 1},
		keepAll,
	)
	if len(withVLAN)+len(prog) > maxKernelInsns {
		return assemble(append(head, keepAll), socketFilter{userAll: true})
	}
	for _, in := range prog {
		if ret, ok := in.(bpf.RetConstant); ok && ret.Val > snaplen {
			in = keepAll
		}
		withVLAN = append(withVLAN, in)
	}
	return assemble(withVLAN, socketFilter{})
}

func assemble(insns []bpf.Instruction, f socketFilter) (socketFilter, error) {
	raw, err := bpf.Assemble(insns)
	if err != nil {
		return socketFilter{}, fmt.Errorf("assemble socket filter of %d instructions: %w", len(insns), err)
	}
	f.kernel = raw
	return f, nil
}

// dropAll stops new packets from entering the ring while it is drained:
// "ret #0", the opcode BPF_RET|BPF_K with k = 0.
var dropAll = []bpf.RawInstruction{{Op: 0x06}}
