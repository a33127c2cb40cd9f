package filter

import (
	"fmt"

	"golang.org/x/net/bpf"
)

var aluNames = map[uint16]string{
	aluADD: "add", aluSUB: "sub", aluMUL: "mul", aluDIV: "div", aluMOD: "mod",
	aluAND: "and", aluOR: "or", aluXOR: "xor", aluLSH: "lsh", aluRSH: "rsh",
}

var jmpNames = map[uint16]string{jJGT: "jgt", jJGE: "jge", jJEQ: "jeq", jJSET: "jset"}

var sizeSuffix = map[uint16]string{szW: "", szH: "h", szB: "b"}

// image formats one instruction as libpcap's bpf_image does.
func image(in bpf.RawInstruction, n int) string {
	op, operand := "unimp", fmt.Sprintf("0x%x", in.Op)
	k := in.K
	switch cls := in.Op & 0x07; {
	case in.Op == opRET|srcK:
		op, operand = "ret", fmt.Sprintf("#%d", k)
	case in.Op == opRET|retA:
		op, operand = "ret", ""
	case in.Op == opLD|mLEN|szW:
		op, operand = "ld", "#pktlen"
	case in.Op == opLD|mIMM:
		op, operand = "ld", fmt.Sprintf("#0x%x", k)
	case in.Op == opLDX|mIMM:
		op, operand = "ldx", fmt.Sprintf("#0x%x", k)
	case in.Op == opLDX|mMSH|szB:
		op, operand = "ldxb", fmt.Sprintf("4*([%d]&0xf)", k)
	case in.Op == opLD|mMEM:
		op, operand = "ld", fmt.Sprintf("M[%d]", k)
	case in.Op == opLDX|mMEM:
		op, operand = "ldx", fmt.Sprintf("M[%d]", k)
	case in.Op == opST:
		op, operand = "st", fmt.Sprintf("M[%d]", k)
	case in.Op == opSTX:
		op, operand = "stx", fmt.Sprintf("M[%d]", k)
	case in.Op == opMISC|miscTAX:
		op, operand = "tax", ""
	case in.Op == opMISC|miscTXA:
		op, operand = "txa", ""
	case in.Op == opALU|aluNEG:
		op, operand = "neg", ""
	case in.Op == opJMP|jJA:
		op, operand = "ja", fmt.Sprintf("%d", n+1+int(k))
	case cls == opLD && in.Op&0xe0 == mABS:
		op, operand = "ld"+sizeSuffix[in.Op&0x18], fmt.Sprintf("[%d]", k)
	case cls == opLD && in.Op&0xe0 == mIND:
		op, operand = "ld"+sizeSuffix[in.Op&0x18], fmt.Sprintf("[x + %d]", k)
	case cls == opALU && aluNames[in.Op&0xf0] != "":
		op = aluNames[in.Op&0xf0]
		switch {
		case in.Op&srcX != 0:
			operand = "x"
		case in.Op&0xf0 == aluAND || in.Op&0xf0 == aluOR || in.Op&0xf0 == aluXOR:
			operand = fmt.Sprintf("#0x%x", k)
		default:
			operand = fmt.Sprintf("#%d", k)
		}
	case cls == opJMP && jmpNames[in.Op&0xf0] != "":
		op, operand = jmpNames[in.Op&0xf0], fmt.Sprintf("#0x%x", k)
		if in.Op&srcX != 0 {
			operand = "x"
		}
		return fmt.Sprintf("(%03d) %-8s %-16s jt %d\tjf %d", n, op, operand, n+1+int(in.Jt), n+1+int(in.Jf))
	}
	return fmt.Sprintf("(%03d) %-8s %s", n, op, operand)
}
