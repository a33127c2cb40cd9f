package filter

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// libpcap's optimizer refuses programs it folds to "reject everything" and
// divisions it folds to "divide by zero". bpflow does not optimize, so it finds
// the same cases by walking every path with constants and value numbers
// (equal loads give equal values): a path is dead when a jump's outcome is
// already decided by a constant or an earlier test of the same value.

type aval struct {
	known bool
	c     uint32
	vn    int
}

type absState struct {
	a, x aval
	mem  [16]aval
	eq   map[int]uint32
	ne   map[int][]uint32
}

type checker struct {
	prog    []bpf.RawInstruction
	vns     map[string]int
	budget  int
	divZero bool
	accept  bool
}

// checkReachable returns libpcap's optimizer errors for prog, or nil.
func checkReachable(prog []bpf.RawInstruction) error {
	c := &checker{prog: prog, vns: map[string]int{}, budget: 200000}
	c.walk(0, &absState{eq: map[int]uint32{}, ne: map[int][]uint32{}})
	switch {
	case c.divZero:
		return errorf("division by zero")
	case !c.accept && c.budget > 0:
		return errorf("expression rejects all packets")
	}
	return nil
}

func (c *checker) value(s *absState, key string) aval {
	vn, ok := c.vns[key]
	if !ok {
		vn = len(c.vns) + 1
		c.vns[key] = vn
	}
	if v, ok := s.eq[vn]; ok {
		return aval{known: true, c: v}
	}
	return aval{vn: vn}
}

func (v aval) String() string {
	if v.known {
		return fmt.Sprintf("#%d", v.c)
	}
	return fmt.Sprintf("v%d", v.vn)
}

func (s *absState) clone() *absState {
	n := *s
	n.eq = make(map[int]uint32, len(s.eq))
	for k, v := range s.eq {
		n.eq[k] = v
	}
	n.ne = make(map[int][]uint32, len(s.ne))
	for k, v := range s.ne {
		n.ne[k] = v
	}
	return &n
}

func (c *checker) walk(pc int, s *absState) {
	for ; pc < len(c.prog) && c.budget > 0 && !c.accept && !c.divZero; pc++ {
		c.budget--
		in := c.prog[pc]
		switch in.Op & 0x07 {
		case opRET:
			if in.Op&retA != 0 {
				c.accept = c.accept || !s.a.known || s.a.c != 0
			} else {
				c.accept = c.accept || in.K != 0
			}
			return
		case opLD, opLDX:
			c.load(in, s)
		case opST:
			s.mem[in.K&15] = s.a
		case opSTX:
			s.mem[in.K&15] = s.x
		case opMISC:
			if in.Op == opMISC|miscTAX {
				s.x = s.a
			} else {
				s.a = s.x
			}
		case opALU:
			if !c.alu(in, s) {
				return
			}
		case opJMP:
			if in.Op == opJMP|jJA {
				pc += int(in.K)
				continue
			}
			c.jump(pc, in, s)
			return
		}
	}
}

func (c *checker) load(in bpf.RawInstruction, s *absState) {
	var v aval
	switch in.Op & 0xe0 {
	case mIMM:
		v = aval{known: true, c: in.K}
	case mMEM:
		v = s.mem[in.K&15]
	case mLEN:
		v = c.value(s, "len")
	case mIND:
		v = c.value(s, fmt.Sprintf("ind %d %d %v", in.Op, in.K, s.x))
	default:
		v = c.value(s, fmt.Sprintf("ld %d %d", in.Op&^1, in.K))
	}
	if in.Op&0x07 == opLDX {
		s.x = v
	} else {
		s.a = v
	}
}

// alu folds constants; it returns false when the path divides by zero.
func (c *checker) alu(in bpf.RawInstruction, s *absState) bool {
	op := in.Op & 0xf0
	b := aval{known: true, c: in.K}
	if in.Op&srcX != 0 {
		b = s.x
	}
	switch {
	case op == aluNEG && s.a.known:
		s.a = aval{known: true, c: -s.a.c}
	case op != aluNEG && s.a.known && b.known:
		v, ok := alu(op, s.a.c, b.c)
		if !ok {
			c.divZero = true
			return false
		}
		s.a = aval{known: true, c: v}
	case (op == aluDIV || op == aluMOD) && b.known && b.c == 0:
		c.divZero = true
		return false
	case (op == aluSUB || op == aluXOR) && !s.a.known && !b.known && s.a.vn == b.vn:
		s.a = aval{known: true}
	default:
		s.a = c.value(s, fmt.Sprintf("alu %d %v %v", in.Op, s.a, b))
	}
	return true
}

func (c *checker) jump(pc int, in bpf.RawInstruction, s *absState) {
	op := in.Op & 0xf0
	b := aval{known: true, c: in.K}
	if in.Op&srcX != 0 {
		b = s.x
	}
	t, f := pc+1+int(in.Jt), pc+1+int(in.Jf)
	s.a, b = s.resolve(s.a), s.resolve(b)
	switch {
	case s.a.known && b.known:
		if cond(op, s.a.c, b.c) {
			c.walk(t, s)
		} else {
			c.walk(f, s)
		}
		return
	case !s.a.known && !b.known && s.a.vn == b.vn && op != jJSET:
		if op == jJGT {
			c.walk(f, s)
		} else {
			c.walk(t, s)
		}
		return
	case op == jJEQ && !s.a.known && b.known:
		for _, v := range s.ne[s.a.vn] {
			if v == b.c {
				c.walk(f, s)
				return
			}
		}
		ts := s.clone()
		ts.eq[s.a.vn] = b.c
		c.walk(t, ts)
		fs := s.clone()
		fs.ne[s.a.vn] = append(append([]uint32{}, s.ne[s.a.vn]...), b.c)
		c.walk(f, fs)
		return
	}
	c.walk(t, s.clone())
	c.walk(f, s)
}

// resolve turns a value with a known equality on this path into a constant.
func (s *absState) resolve(v aval) aval {
	if c, ok := s.eq[v.vn]; !v.known && ok {
		return aval{known: true, c: c}
	}
	return v
}
