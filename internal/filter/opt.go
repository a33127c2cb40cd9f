package filter

import "fmt"

// libpcap always optimizes, and its optimizer changes which packets match: a
// test whose outcome is already known from a test on a dominating edge is
// skipped (jump threading), and a block whose branches meet is dropped with its
// loads, so a packet too short for that load can still match ("tcp[100] = 0 or
// ip" matches every IPv4 packet). It also reports programs that reject
// everything and constant divisions by zero. optimize reproduces those effects
// on the block graph: values are compared by the expression that computes them
// (libpcap's value numbers), and facts come only from dominating edges.

// bval is the abstract value a block compares: a constant or an expression key.
type bval struct {
	known bool
	c     uint32
	key   string
}

// edgeFact is the outcome of one block's test on one of its edges.
type edgeFact struct {
	from  *block
	sense bool
}

type optimizer struct {
	vals map[*block]bval
}

func optimize(head, reject *block) (*block, error) {
	o := &optimizer{vals: map[*block]bval{}}
	for iter := 0; iter < 100; iter++ {
		order := topoOrder(head)
		for _, b := range order {
			b.mark = false
			if _, ok := o.vals[b]; !ok {
				v, err := evalBlock(b)
				if err != nil {
					return nil, err
				}
				o.vals[b] = v
			}
		}
		changed := o.thread(head, order)
		newHead := o.skipTrivial(head)
		for _, b := range order {
			jt, jf := o.skipTrivial(b.jt), o.skipTrivial(b.jf)
			if jt != b.jt || jf != b.jf {
				b.jt, b.jf, changed = jt, jf, true
			}
		}
		if newHead != head {
			head, changed = newHead, true
		}
		if !changed {
			break
		}
	}
	for _, b := range topoOrder(head) {
		b.mark = false
	}
	if head == reject {
		return nil, errorf("expression rejects all packets")
	}
	return head, nil
}

// skipTrivial follows blocks whose outcome is a constant or whose branches meet.
func (o *optimizer) skipTrivial(b *block) *block {
	for !b.ret {
		if b.jt == b.jf {
			b = b.jt
			continue
		}
		v := o.vals[b]
		if !v.known || b.jop&srcX != 0 {
			return b
		}
		if cond(b.jop&0xf0, v.c, b.k) {
			b = b.jt
		} else {
			b = b.jf
		}
	}
	return b
}

// thread redirects edges past tests decided by dominating edges' outcomes.
func (o *optimizer) thread(head *block, order []*block) bool {
	// dom[b] holds the edges on every path from head to b.
	dom := map[*block][]edgeFact{head: nil}
	preds := map[*block][][]edgeFact{}
	for _, b := range order {
		if b != head {
			dom[b] = intersect(preds[b])
		}
		for _, sense := range []bool{true, false} {
			succ := b.jt
			if !sense {
				succ = b.jf
			}
			facts := append(append([]edgeFact{}, dom[b]...), edgeFact{b, sense})
			if !succ.ret {
				preds[succ] = append(preds[succ], facts)
			}
		}
	}
	changed := false
	for _, b := range order {
		for _, sense := range []bool{true, false} {
			facts := append(append([]edgeFact{}, dom[b]...), edgeFact{b, sense})
			target := b.jt
			if !sense {
				target = b.jf
			}
			start := target
			for !target.ret {
				out, ok := o.decide(target, facts)
				if !ok {
					break
				}
				facts = append(facts, edgeFact{target, out})
				if out {
					target = target.jt
				} else {
					target = target.jf
				}
			}
			if target != start {
				changed = true
				if sense {
					b.jt = target
				} else {
					b.jf = target
				}
			}
		}
	}
	return changed
}

// decide is libpcap's fold_edge over the known edge outcomes.
func (o *optimizer) decide(child *block, facts []edgeFact) (bool, bool) {
	cv := o.vals[child]
	if cv.known {
		return false, false
	}
	for i := len(facts) - 1; i >= 0; i-- {
		f := facts[i]
		pv := o.vals[f.from]
		if f.from.jop != child.jop || pv.known || pv.key != cv.key {
			continue
		}
		if f.from.k == child.k {
			return f.sense, true
		}
		if f.sense && child.jop == opJMP|jJEQ|srcK {
			return false, true
		}
	}
	return false, false
}

func intersect(sets [][]edgeFact) []edgeFact {
	if len(sets) == 0 {
		return nil
	}
	out := sets[0]
	for _, s := range sets[1:] {
		in := map[edgeFact]bool{}
		for _, f := range s {
			in[f] = true
		}
		var kept []edgeFact
		for _, f := range out {
			if in[f] {
				kept = append(kept, f)
			}
		}
		out = kept
	}
	return out
}

// evalBlock computes the value a block's jump tests, symbolically: packet
// loads become keys, constants fold (a constant divisor of zero is an error,
// as in libpcap's optimizer).
func evalBlock(b *block) (bval, error) {
	var a, x bval
	var mem [16]bval
	for _, s := range b.stmts {
		switch s.op & 0x07 {
		case opLD, opLDX:
			v := loadVal(s, x, mem)
			if s.op&0x07 == opLDX {
				x = v
			} else {
				a = v
			}
		case opST:
			mem[s.k&15] = a
		case opSTX:
			mem[s.k&15] = x
		case opMISC:
			if s.op == opMISC|miscTAX {
				x = a
			} else {
				a = x
			}
		case opALU:
			v, err := aluVal(s, a, x)
			if err != nil {
				return bval{}, err
			}
			a = v
		}
	}
	if b.jop&srcX != 0 {
		if !x.known {
			return bval{key: fmt.Sprintf("%v ? %v", a, x)}, nil
		}
		// Compare with a constant, as libpcap rewrites "jxx x" to "jxx #k".
		b.jop &^= srcX
		b.k = x.c
	}
	return a, nil
}

func (v bval) String() string {
	if v.known {
		return fmt.Sprintf("#%d", v.c)
	}
	return v.key
}

func loadVal(s stmt, x bval, mem [16]bval) bval {
	switch s.op & 0xe0 {
	case mIMM:
		return bval{known: true, c: s.k}
	case mMEM:
		return mem[s.k&15]
	case mLEN:
		return bval{key: "len"}
	case mIND:
		return bval{key: fmt.Sprintf("P%d[%v+%d]", s.op&0x18, x, s.k)}
	case mMSH:
		return bval{key: fmt.Sprintf("msh[%d]", s.k)}
	}
	return bval{key: fmt.Sprintf("P%d[%d]", s.op&0x18, s.k)}
}

func aluVal(s stmt, a, x bval) (bval, error) {
	op := s.op & 0xf0
	b := bval{known: true, c: s.k}
	if s.op&srcX != 0 {
		b = x
	}
	switch {
	case op == aluNEG:
		if a.known {
			return bval{known: true, c: -a.c}, nil
		}
		return bval{key: "-" + a.key}, nil
	case b.known && b.c == 0 && (op == aluDIV || op == aluMOD):
		return bval{}, errorf("%s", zeroDivMessage(op))
	case b.known && b.c == 0 && (op == aluMUL || op == aluAND):
		return bval{known: true}, nil
	case a.known && b.known:
		v, _ := alu(op, a.c, b.c)
		return bval{known: true, c: v}, nil
	}
	return bval{key: fmt.Sprintf("(%v %s %v)", a, aluNames[op], b)}, nil
}

func zeroDivMessage(op uint16) string {
	if op == aluMOD {
		return "modulus by zero"
	}
	return "division by zero"
}
