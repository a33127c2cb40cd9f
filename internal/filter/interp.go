package filter

import "golang.org/x/net/bpf"

// run executes a classic BPF program as libpcap's bpf_filter does: loads past
// the captured bytes, and division by zero, reject the packet; BPF_LEN is the
// wire length, which golang.org/x/net/bpf's VM cannot be given.
func run(prog []bpf.RawInstruction, data []byte, wireLen uint32) uint32 {
	var a, x uint32
	var mem [16]uint32
	buflen := uint64(len(data))
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		k := in.K
		switch in.Op {
		case opRET | srcK:
			return k
		case opRET | retA:
			return a
		case opLD | mABS | szW, opLD | mABS | szH, opLD | mABS | szB,
			opLD | mIND | szW, opLD | mIND | szH, opLD | mIND | szB:
			off := uint64(k)
			if in.Op&0xe0 == mIND {
				off += uint64(x)
			}
			v, ok := loadBytes(data, buflen, off, in.Op&0x18)
			if !ok {
				return 0
			}
			a = v
		case opLD | mLEN | szW:
			a = wireLen
		case opLDX | mLEN | szW:
			x = wireLen
		case opLD | mIMM:
			a = k
		case opLDX | mIMM:
			x = k
		case opLD | mMEM:
			a = mem[k&15]
		case opLDX | mMEM:
			x = mem[k&15]
		case opLDX | mMSH | szB:
			if uint64(k) >= buflen {
				return 0
			}
			x = uint32(data[k]&0xf) << 2
		case opST:
			mem[k&15] = a
		case opSTX:
			mem[k&15] = x
		case opMISC | miscTAX:
			x = a
		case opMISC | miscTXA:
			a = x
		case opJMP | jJA:
			pc += int(k)
		case opALU | aluNEG:
			a = -a
		default:
			switch in.Op & 0x07 {
			case opALU:
				operand := k
				if in.Op&srcX != 0 {
					operand = x
				}
				var ok bool
				if a, ok = alu(in.Op&0xf0, a, operand); !ok {
					return 0
				}
			case opJMP:
				operand := k
				if in.Op&srcX != 0 {
					operand = x
				}
				if cond(in.Op&0xf0, a, operand) {
					pc += int(in.Jt)
				} else {
					pc += int(in.Jf)
				}
			default:
				return 0
			}
		}
	}
	return 0
}

func loadBytes(data []byte, buflen, off uint64, size uint16) (uint32, bool) {
	n := uint64(1)
	switch size {
	case szW:
		n = 4
	case szH:
		n = 2
	}
	if off+n > buflen {
		return 0, false
	}
	var v uint32
	for i := uint64(0); i < n; i++ {
		v = v<<8 | uint32(data[off+i])
	}
	return v, true
}

// alu computes one ALU operation; ok is false for a division by zero.
func alu(op uint16, a, b uint32) (uint32, bool) {
	switch op {
	case aluADD:
		return a + b, true
	case aluSUB:
		return a - b, true
	case aluMUL:
		return a * b, true
	case aluDIV:
		if b == 0 {
			return 0, false
		}
		return a / b, true
	case aluMOD:
		if b == 0 {
			return 0, false
		}
		return a % b, true
	case aluAND:
		return a & b, true
	case aluOR:
		return a | b, true
	case aluXOR:
		return a ^ b, true
	case aluLSH:
		if b >= 32 {
			return 0, true
		}
		return a << b, true
	case aluRSH:
		if b >= 32 {
			return 0, true
		}
		return a >> b, true
	}
	return 0, false
}

func cond(op uint16, a, b uint32) bool {
	switch op {
	case jJEQ:
		return a == b
	case jJGT:
		return a > b
	case jJGE:
		return a >= b
	}
	return a&b != 0
}
