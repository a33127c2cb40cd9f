package testutil

import (
	"fmt"
	"os"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// bpfUnavailable tries the real thing: loading a two-instruction SchedCLS
// program. It returns "" when that works, else the reason.
func bpfUnavailable() string {
	if os.Geteuid() != 0 {
		return fmt.Sprintf("running as uid %d, not root", os.Geteuid())
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:         ebpf.SchedCLS,
		License:      "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, -1), asm.Return()},
	})
	if err != nil {
		return fmt.Sprintf("load a SchedCLS program: %v", err)
	}
	prog.Close()
	return ""
}
