package filter

import "fmt"

// The IR is libpcap's: basic blocks of straight-line statements, each ending in
// one conditional jump whose true and false edges are patched as and/or/not
// combine fragments (gencode.c's backpatching). Statement and jump codes are
// classic BPF opcodes, so the cBPF back end is a layout pass.

// Classic BPF opcode parts (bpf.h).
const (
	opLD   = 0x00
	opLDX  = 0x01
	opST   = 0x02
	opSTX  = 0x03
	opALU  = 0x04
	opJMP  = 0x05
	opRET  = 0x06
	opMISC = 0x07

	szW = 0x00
	szH = 0x08
	szB = 0x10

	mIMM = 0x00
	mABS = 0x20
	mIND = 0x40
	mMEM = 0x60
	mLEN = 0x80
	mMSH = 0xa0

	aluADD = 0x00
	aluSUB = 0x10
	aluMUL = 0x20
	aluDIV = 0x30
	aluOR  = 0x40
	aluAND = 0x50
	aluLSH = 0x60
	aluRSH = 0x70
	aluNEG = 0x80
	aluMOD = 0x90
	aluXOR = 0xa0

	jJA   = 0x00
	jJEQ  = 0x10
	jJGT  = 0x20
	jJGE  = 0x30
	jJSET = 0x40

	srcK = 0x00
	srcX = 0x08

	retA    = 0x10
	miscTAX = 0x00
	miscTXA = 0x80
)

// verdictMatch is what a matching program returns (tcpdump's default snaplen).
const verdictMatch = 262144

type stmt struct {
	op uint16
	k  uint32
}

type block struct {
	stmts  []stmt
	jop    uint16 // opJMP|cond|src
	k      uint32
	jt, jf *block
	ret    bool // a return block: stmts unused, k is the verdict
	mark   bool
}

// edge is one unpatched exit of a fragment: the true or false side of a block.
type edge struct {
	b      *block
	onTrue bool
}

// frag is a partly built condition: its entry block and its open exits.
type frag struct {
	head *block
	t, f []edge
}

func patch(es []edge, to *block) {
	for _, e := range es {
		if e.onTrue {
			e.b.jt = to
		} else {
			e.b.jf = to
		}
	}
}

// leaf makes a one-block fragment: stmts, then "if A <cond> k".
func leaf(stmts []stmt, cond uint16, k uint32) *frag {
	b := &block{stmts: stmts, jop: opJMP | cond, k: k}
	return &frag{head: b, t: []edge{{b, true}}, f: []edge{{b, false}}}
}

// and/or/not combine like gen_and/gen_or/gen_not: the left side runs first.
func and(a, b *frag) *frag {
	patch(a.t, b.head)
	return &frag{head: a.head, t: b.t, f: append(append([]edge{}, a.f...), b.f...)}
}

func or(a, b *frag) *frag {
	patch(a.f, b.head)
	return &frag{head: a.head, t: append(append([]edge{}, a.t...), b.t...), f: b.f}
}

func not(a *frag) *frag { return &frag{head: a.head, t: a.f, f: a.t} }

// compileError carries a libpcap-style message out of the code generator, the
// way libpcap's bpf_error longjmps out of gencode.
type compileError struct{ msg string }

func (e *compileError) Error() string { return e.msg }

func errorf(format string, args ...any) error {
	return &compileError{msg: fmt.Sprintf(format, args...)}
}

func fail(format string, args ...any) {
	panic(errorf(format, args...))
}
