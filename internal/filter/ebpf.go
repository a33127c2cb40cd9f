package filter

import (
	"fmt"
	"math"

	"github.com/cilium/ebpf/asm"

	"github.com/bpflow/bpflow/internal/layers"
)

// FilterSymbol names the subprogram of the TC program that EBPF's instructions
// replace.
const FilterSymbol = "bpflow_filter"

// The eBPF program is translated from the cBPF program, instruction by
// instruction, so both back ends share one meaning. Calling convention (agreed
// with bpf/capture.c): R1 = *__sk_buff on entry, R0 != 0 on match. Packet bytes
// are read with bpf_skb_load_bytes, so non-linear skbs work. On Ethernet, a
// VLAN tag the kernel moved into skb->vlan_* is put back at offset 12, as
// libpcap sees the frame, and len counts it.
//
// Registers: R6 = skb, R7 = A, R8 = X, R9 = "a tag was removed".
// Stack: M[0..15] at fp-64, a load buffer at fp-72, the rebuilt first 20
// bytes of a tagged frame at fp-96, the frame length libpcap would see at fp-104.
const (
	regSkb  = asm.R6
	regA    = asm.R7
	regX    = asm.R8
	regVLAN = asm.R9

	stackMem  = -64
	stackBuf  = -72
	stackHdr  = -96
	stackPLen = -104

	skbLen         = 0 // offsetof(struct __sk_buff, len)
	skbVLANPresent = 20
	skbVLANTCI     = 24
	skbVLANProto   = 28
)

// ebpfAsm collects instructions whose jump targets are labels; jump offsets
// are computed at the end, so the output carries no references for the loader
// to resolve.
type ebpfAsm struct {
	insns  asm.Instructions
	labels map[string]int
	fixups map[int]string
	next   int
}

func (e *ebpfAsm) emit(ins ...asm.Instruction) { e.insns = append(e.insns, ins...) }

func (e *ebpfAsm) label(name string) { e.labels[name] = len(e.insns) }

func (e *ebpfAsm) newLabel() string { e.next++; return fmt.Sprintf("l%d", e.next) }

func jumpOp(op asm.JumpOp, class asm.Class, src asm.Source) asm.OpCode {
	return asm.OpCode(class).SetJumpOp(op).SetSource(src)
}

// jmp emits a conditional jump; class is asm.JumpClass (64-bit) or asm.Jump32Class.
func (e *ebpfAsm) jmp(op asm.JumpOp, class asm.Class, dst asm.Register, imm int32, label string) {
	e.fixups[len(e.insns)] = label
	e.emit(asm.Instruction{OpCode: jumpOp(op, class, asm.ImmSource), Dst: dst, Constant: int64(imm)})
}

func (e *ebpfAsm) jmpReg(op asm.JumpOp, class asm.Class, dst, src asm.Register, label string) {
	e.fixups[len(e.insns)] = label
	e.emit(asm.Instruction{OpCode: jumpOp(op, class, asm.RegSource), Dst: dst, Src: src})
}

func (e *ebpfAsm) ja(label string) {
	e.fixups[len(e.insns)] = label
	e.emit(asm.Instruction{OpCode: jumpOp(asm.Ja, asm.JumpClass, asm.ImmSource)})
}

func (e *ebpfAsm) resolve() (asm.Instructions, error) {
	pos := make([]int, len(e.insns)+1)
	for i, ins := range e.insns {
		pos[i+1] = pos[i] + int(ins.Width())
	}
	for i, label := range e.fixups {
		at, ok := e.labels[label]
		if !ok {
			return nil, fmt.Errorf("ebpf filter: jump to undefined label %s", label)
		}
		off := pos[at] - (pos[i] + 1)
		if off < 0 || off > math.MaxInt16 {
			return nil, fmt.Errorf("ebpf filter: jump offset %d out of range", off)
		}
		e.insns[i].Offset = int16(off)
	}
	return e.insns, nil
}

// EBPF returns the body of the TC program's filter subprogram.
func (p *Program) EBPF() (asm.Instructions, error) {
	e := &ebpfAsm{labels: map[string]int{}, fixups: map[int]string{}}
	vlan := p.link == layers.LinkEthernet
	e.prologue(vlan)
	for pc, in := range p.insns {
		e.label(fmt.Sprintf("c%d", pc))
		if err := e.translate(pc, in.Op, in.Jt, in.Jf, in.K, vlan); err != nil {
			return nil, err
		}
	}
	for _, l := range e.fixups {
		if l == "reject" { // the verifier refuses unreachable code
			e.label("reject")
			e.emit(asm.Mov.Imm(asm.R0, 0), asm.Return())
			break
		}
	}
	insns, err := e.resolve()
	if err != nil {
		return nil, err
	}
	insns[0] = insns[0].WithSymbol(FilterSymbol)
	return insns, nil
}

// prologue saves the context, computes libpcap's frame length and, for a
// tagged frame whose tag is in skb metadata, rebuilds its first 20 bytes.
func (e *ebpfAsm) prologue(vlan bool) {
	e.emit(asm.Mov.Reg(regSkb, asm.R1), asm.Mov.Imm32(regA, 0), asm.Mov.Imm32(regX, 0),
		asm.Mov.Imm(regVLAN, 0), asm.LoadMem(asm.R0, regSkb, skbLen, asm.Word))
	if !vlan {
		e.emit(asm.StoreMem(asm.RFP, stackPLen, asm.R0, asm.DWord))
		return
	}
	e.emit(asm.LoadMem(regVLAN, regSkb, skbVLANPresent, asm.Word))
	e.jmp(asm.JNE, asm.JumpClass, regVLAN, 0, "tagged")
	e.emit(asm.StoreMem(asm.RFP, stackPLen, asm.R0, asm.DWord))
	e.ja("start")
	e.label("tagged")
	e.emit(asm.Add.Imm(asm.R0, 4), asm.StoreMem(asm.RFP, stackPLen, asm.R0, asm.DWord))
	e.emit(asm.Mov.Imm(asm.R1, 0))
	for off := int16(stackHdr); off < stackBuf; off += 8 {
		e.emit(asm.StoreMem(asm.RFP, off, asm.R1, asm.DWord)) // the verifier wants it initialised
	}
	e.loadBytesTo(0, stackHdr, 12)
	e.emit(asm.LoadMem(asm.R1, regSkb, skbVLANProto, asm.Word), // already in network order
		asm.StoreMem(asm.RFP, stackHdr+12, asm.R1, asm.Half),
		asm.LoadMem(asm.R1, regSkb, skbVLANTCI, asm.Word),
		asm.HostTo(asm.BE, asm.R1, asm.Half),
		asm.StoreMem(asm.RFP, stackHdr+14, asm.R1, asm.Half))
	e.loadBytesTo(12, stackHdr+16, 2)
	e.emit(asm.LoadMem(asm.R2, regSkb, skbLen, asm.Word))
	e.jmp(asm.JLT, asm.JumpClass, asm.R2, 16, "start")
	e.loadBytesTo(14, stackHdr+18, 2)
	e.label("start")
}

// loadBytesTo copies n bytes at a constant offset of the skb to the stack.
func (e *ebpfAsm) loadBytesTo(off int32, stack int16, n int32) {
	e.emit(asm.Mov.Reg(asm.R1, regSkb), asm.Mov.Imm(asm.R2, off), asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, int32(stack)), asm.Mov.Imm(asm.R4, n), asm.FnSkbLoadBytes.Call())
	e.jmp(asm.JNE, asm.JumpClass, asm.R0, 0, "reject")
}

var ebpfSizes = map[uint16]struct {
	n    int32
	size asm.Size
}{szB: {1, asm.Byte}, szH: {2, asm.Half}, szW: {4, asm.Word}}

// load reads n bytes at the frame offset in R2 into dst, big-endian, or
// rejects the packet when the frame is too short (libpcap's bounds check;
// bpf_skb_load_bytes fails exactly then). minOff is the least the offset can
// be: loads wholly before the tag, or wholly after it, need no rebuilt header.
func (e *ebpfAsm) load(dst asm.Register, sz uint16, vlan bool, minOff uint32, fixed bool) {
	s := ebpfSizes[sz]
	real, done := e.newLabel(), e.newLabel()
	switch {
	case !vlan, fixed && minOff+uint32(s.n) <= 12:
	case minOff >= 16:
		e.jmp(asm.JEq, asm.JumpClass, regVLAN, 0, real)
		e.emit(asm.Sub.Imm(asm.R2, 4))
	default:
		adjust := e.newLabel()
		e.jmp(asm.JEq, asm.JumpClass, regVLAN, 0, real)
		e.emit(asm.Mov.Reg(asm.R3, asm.R2), asm.Add.Imm(asm.R3, s.n), asm.LoadMem(asm.R4, asm.RFP, stackPLen, asm.DWord))
		e.jmpReg(asm.JGT, asm.JumpClass, asm.R3, asm.R4, "reject")
		e.jmp(asm.JGE, asm.JumpClass, asm.R2, 16, adjust)
		// Within the rebuilt header: R2 < 16, so R2+n <= 20.
		// Byte by byte: a variable stack offset must be aligned to the access size.
		e.emit(asm.Mov.Reg(asm.R3, asm.RFP), asm.Add.Imm(asm.R3, stackHdr), asm.Add.Reg(asm.R3, asm.R2),
			asm.Mov.Imm32(dst, 0))
		for i := int16(0); i < int16(s.n); i++ {
			e.emit(asm.LSh.Imm32(dst, 8), asm.LoadMem(asm.R4, asm.R3, i, asm.Byte), asm.Or.Reg32(dst, asm.R4))
		}
		e.ja(done)
		e.label(adjust)
		e.emit(asm.Sub.Imm(asm.R2, 4))
	}
	e.label(real)
	e.emit(asm.Mov.Reg(asm.R1, regSkb), asm.Mov.Reg(asm.R3, asm.RFP), asm.Add.Imm(asm.R3, stackBuf),
		asm.Mov.Imm(asm.R4, s.n), asm.FnSkbLoadBytes.Call())
	e.jmp(asm.JNE, asm.JumpClass, asm.R0, 0, "reject")
	e.emit(asm.LoadMem(dst, asm.RFP, stackBuf, s.size))
	e.swap(dst, sz)
	e.label(done)
}

func (e *ebpfAsm) swap(dst asm.Register, sz uint16) {
	switch sz {
	case szH:
		e.emit(asm.HostTo(asm.BE, dst, asm.Half))
	case szW:
		e.emit(asm.HostTo(asm.BE, dst, asm.Word))
	}
}

var ebpfALU = map[uint16]asm.ALUOp{
	aluADD: asm.Add, aluSUB: asm.Sub, aluMUL: asm.Mul, aluDIV: asm.Div, aluMOD: asm.Mod,
	aluAND: asm.And, aluOR: asm.Or, aluXOR: asm.Xor, aluLSH: asm.LSh, aluRSH: asm.RSh,
}

var ebpfJump = map[uint16]asm.JumpOp{jJEQ: asm.JEq, jJGT: asm.JGT, jJGE: asm.JGE, jJSET: asm.JSet}

func (e *ebpfAsm) translate(pc int, op uint16, jt, jf uint8, k uint32, vlan bool) error {
	next := func(off int) string { return fmt.Sprintf("c%d", pc+1+off) }
	memOff := func() int16 { return int16(stackMem + 4*int(k&15)) }
	switch {
	case op == opRET|srcK:
		v := int32(0)
		if k != 0 {
			v = 1
		}
		e.emit(asm.Mov.Imm(asm.R0, v), asm.Return())
	case op == opRET|retA:
		e.emit(asm.Mov.Reg32(asm.R0, regA), asm.Return())
	case op&0x07 == opLD && (op&0xe0 == mABS || op&0xe0 == mIND):
		e.offset(op&0xe0 == mIND, k)
		e.load(regA, op&0x18, vlan, k, op&0xe0 == mABS)
	case op == opLDX|mMSH|szB:
		e.offset(false, k)
		e.load(regX, szB, vlan, k, true)
		e.emit(asm.And.Imm32(regX, 0xf), asm.LSh.Imm32(regX, 2))
	case op == opLD|mLEN|szW, op == opLDX|mLEN|szW:
		dst := regA
		if op&0x07 == opLDX {
			dst = regX
		}
		e.emit(asm.LoadMem(dst, asm.RFP, stackPLen, asm.Word))
	case op == opLD|mIMM:
		e.emit(asm.Mov.Imm32(regA, int32(k)))
	case op == opLDX|mIMM:
		e.emit(asm.Mov.Imm32(regX, int32(k)))
	case op == opLD|mMEM:
		e.emit(asm.LoadMem(regA, asm.RFP, memOff(), asm.Word))
	case op == opLDX|mMEM:
		e.emit(asm.LoadMem(regX, asm.RFP, memOff(), asm.Word))
	case op == opST:
		e.emit(asm.StoreMem(asm.RFP, memOff(), regA, asm.Word))
	case op == opSTX:
		e.emit(asm.StoreMem(asm.RFP, memOff(), regX, asm.Word))
	case op == opMISC|miscTAX:
		e.emit(asm.Mov.Reg32(regX, regA))
	case op == opMISC|miscTXA:
		e.emit(asm.Mov.Reg32(regA, regX))
	case op == opALU|aluNEG:
		e.emit(asm.Neg.Imm32(regA, 0))
	case op&0x07 == opALU:
		return e.alu(op, k)
	case op == opJMP|jJA:
		e.ja(next(int(k)))
	case op&0x07 == opJMP:
		j, ok := ebpfJump[op&0xf0]
		if !ok {
			return fmt.Errorf("ebpf filter: unknown jump opcode %#x at %d", op, pc)
		}
		if op&srcX != 0 {
			e.jmpReg(j, asm.Jump32Class, regA, regX, next(int(jt)))
		} else {
			e.jmp(j, asm.Jump32Class, regA, int32(k), next(int(jt)))
		}
		if jf != 0 {
			e.ja(next(int(jf)))
		}
	default:
		return fmt.Errorf("ebpf filter: unknown opcode %#x at %d", op, pc)
	}
	return nil
}

// offset puts a load's frame offset in R2: k, or X+k without 32-bit wrap.
func (e *ebpfAsm) offset(indexed bool, k uint32) {
	if k > math.MaxInt32 {
		k = math.MaxInt32 // no frame is that long: the bounds check rejects
	}
	if indexed {
		e.emit(asm.Mov.Reg32(asm.R2, regX), asm.Add.Imm(asm.R2, int32(k)))
		return
	}
	e.emit(asm.Mov.Imm(asm.R2, int32(k)))
}

// alu keeps cBPF semantics: division by zero rejects, shifts by 32 or more give 0.
func (e *ebpfAsm) alu(op uint16, k uint32) error {
	code := op & 0xf0
	a, ok := ebpfALU[code]
	if !ok {
		return fmt.Errorf("ebpf filter: unknown ALU opcode %#x", op)
	}
	if op&srcX == 0 {
		switch {
		case (code == aluDIV || code == aluMOD) && k == 0:
			return fmt.Errorf("ebpf filter: division by constant zero")
		case (code == aluLSH || code == aluRSH) && k >= 32:
			e.emit(asm.Mov.Imm32(regA, 0))
		default:
			e.emit(a.Imm32(regA, int32(k)))
		}
		return nil
	}
	switch code {
	case aluDIV, aluMOD:
		e.jmp(asm.JEq, asm.Jump32Class, regX, 0, "reject")
	case aluLSH, aluRSH:
		ok, done := e.newLabel(), e.newLabel()
		e.jmp(asm.JLT, asm.Jump32Class, regX, 32, ok)
		e.emit(asm.Mov.Imm32(regA, 0))
		e.ja(done)
		e.label(ok)
		e.emit(a.Reg32(regA, regX))
		e.label(done)
		return nil
	}
	e.emit(a.Reg32(regA, regX))
	return nil
}
