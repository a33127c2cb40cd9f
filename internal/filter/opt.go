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
	if err := moveBranches(head); err != nil {
		return nil, err
	}
	if err := simplifyStatements(head); err != nil {
		return nil, err
	}
	return optRoot(head, reject)
}

// moveBranches is libpcap's first opt_loop: branches move, statements do not
// change, and only directly loaded constants are known. The root block stays
// until opt_root; a constant jump points both ways to its outcome (opt_peep).
func moveBranches(head *block) error {
	o := &optimizer{}
	for iter := 0; iter < 100; iter++ {
		order := topoOrder(head)
		o.vals = map[*block]bval{}
		for _, b := range order {
			b.mark = false
			v, err := evalBlock(b, false)
			if err != nil {
				return err
			}
			o.vals[b] = v
		}
		changed := o.thread(head, order)
		for _, b := range order {
			if v := o.vals[b]; v.known && b.jop&srcX == 0 && b.jt != b.jf {
				b.jt, b.jf = decided(b, v.c), decided(b, v.c)
				changed = true
			}
			jt, jf := o.skipTrivial(b.jt), o.skipTrivial(b.jf)
			if jt != b.jt || jf != b.jf {
				b.jt, b.jf, changed = jt, jf, true
			}
		}
		if !changed {
			return nil
		}
	}
	return nil
}

func decided(b *block, a uint32) *block {
	if cond(b.jop&0xf0, a, b.k) {
		return b.jt
	}
	return b.jf
}

// simplifyStatements is the second opt_loop: statements simplify; a jump
// that becomes constant points both ways to its target, but no branch moves
// past it any more.
func simplifyStatements(head *block) error {
	order := topoOrder(head)
	for _, b := range order {
		b.mark = false
	}
	for _, b := range order {
		v, err := evalBlock(b, true)
		if err != nil {
			return err
		}
		if v.known && b.jop&srcX == 0 {
			b.jt, b.jf = decided(b, v.c), decided(b, v.c)
		}
	}
	return nil
}

// optRoot is opt_root: skip a root whose branches meet, but keep its
// statements (their loads can still reject a short packet) unless a return
// is left.
func optRoot(head, reject *block) (*block, error) {
	root := head
	for !head.ret && head.jt == head.jf {
		head = head.jt
	}
	switch {
	case head == reject:
		return nil, errorf("expression rejects all packets")
	case !head.ret && head != root:
		head.stmts = append(append([]stmt{}, root.stmts...), head.stmts...)
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

// evalBlock simplifies a block as libpcap's opt_stmt and opt_deadstores do,
// then returns the value its jump tests. The rewrites change what matches, so
// they are applied to the code: "0 % x" is 0 even when x is 0, and a packet
// load whose value is never used is dropped, so it cannot reject a short
// packet. Packet loads become keys; a constant divisor of zero is an error.
func evalBlock(b *block, fold bool) (bval, error) {
	var a, x bval
	var mem [16]bval
	out := make([]stmt, 0, len(b.stmts))
	var aBefore bval
	for _, s := range b.stmts {
		aBefore = a
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
			if !fold {
				a = aluKey(s, a, x)
				break
			}
			var err error
			if s, a, err = simplifyALU(s, a, x); err != nil {
				return bval{}, err
			}
		}
		out = append(out, s)
	}
	if n := len(out); n > 0 && out[n-1].op == opALU|aluSUB|srcX && b.jop == opJMP|jJEQ|srcK {
		// opt_peep: "sub x; jeq #y" becomes "jeq #(x+y)" when x is known,
		// and "jeq x" when y is 0.
		switch {
		case x.known:
			out, a, b.k = out[:n-1], aBefore, b.k+x.c
		case b.k == 0:
			out, a, b.jop = out[:n-1], aBefore, opJMP|jJEQ|srcX
		}
	}
	if b.jop&srcX != 0 && x.known {
		// Compare with a constant, as libpcap rewrites "jxx x" to "jxx #k".
		b.jop &^= srcX
		b.k = x.c
	}
	b.stmts = out
	if fold {
		b.stmts = dropDead(out, b.jop&srcX != 0)
	}
	if b.jop&srcX != 0 {
		return bval{key: fmt.Sprintf("%v ? %v", a, x)}, nil
	}
	return a, nil
}

const nop = 0xffff

// aluKey names an ALU result without folding anything.
func aluKey(s stmt, a, x bval) bval {
	b := bval{known: true, c: s.k}
	if s.op&srcX != 0 {
		b = x
	}
	return bval{key: fmt.Sprintf("(%v %s %v)", a, aluNames[s.op&0xf0], b)}
}

// simplifyALU is opt_stmt's ALU case: constant operands fold, and operations
// with a zero operand become moves or constants.
func simplifyALU(s stmt, a, x bval) (stmt, bval, error) {
	op := s.op & 0xf0
	if op == aluNEG {
		if a.known {
			return stmt{opLD | mIMM, -a.c}, bval{known: true, c: -a.c}, nil
		}
		return s, bval{key: "-" + a.key}, nil
	}
	if s.op&srcX != 0 && x.known {
		s = stmt{opALU | op | srcK, x.c}
	}
	if s.op&srcX == 0 {
		if (op == aluLSH || op == aluRSH) && s.k > 31 {
			return s, a, errorf("shift by more than 31 bits")
		}
		if s.k == 0 {
			switch op {
			case aluADD, aluSUB, aluLSH, aluRSH, aluOR, aluXOR:
				return stmt{op: nop}, a, nil
			case aluMUL, aluAND:
				return stmt{opLD | mIMM, 0}, bval{known: true}, nil
			case aluDIV, aluMOD:
				return s, a, errorf("%s", zeroDivMessage(op))
			}
		}
		if a.known {
			v, _ := alu(op, a.c, s.k)
			return stmt{opLD | mIMM, v}, bval{known: true, c: v}, nil
		}
		return s, bval{key: fmt.Sprintf("(%v %s #%d)", a, aluNames[op], s.k)}, nil
	}
	if a.known && a.c == 0 {
		switch op {
		case aluADD, aluOR, aluXOR:
			return stmt{opMISC | miscTXA, 0}, x, nil
		case aluMUL, aluDIV, aluMOD, aluAND, aluLSH, aluRSH:
			return stmt{opLD | mIMM, 0}, bval{known: true}, nil
		}
	}
	return s, bval{key: fmt.Sprintf("(%v %s %v)", a, aluNames[op], x)}, nil
}

// dropDead removes statements whose result is never used (opt_deadstores):
// at the end of a block only A (and X for "jxx x") is live.
func dropDead(stmts []stmt, xLive bool) []stmt {
	const atomA, atomX = 16, 17
	live := map[int]bool{atomA: true, atomX: xLive}
	keep := make([]bool, len(stmts))
	for i := len(stmts) - 1; i >= 0; i-- {
		s := stmts[i]
		if s.op == nop {
			continue
		}
		def, uses := atomsOf(s)
		if def >= 0 && !live[def] {
			continue
		}
		keep[i] = true
		if def >= 0 {
			live[def] = false
		}
		for _, u := range uses {
			live[u] = true
		}
	}
	out := stmts[:0]
	for i, s := range stmts {
		if keep[i] {
			out = append(out, s)
		}
	}
	return out
}

// atomsOf returns the atom a statement defines and the atoms it uses
// (0–15: M[k], 16: A, 17: X).
func atomsOf(s stmt) (int, []int) {
	const atomA, atomX = 16, 17
	switch s.op & 0x07 {
	case opLD:
		switch s.op & 0xe0 {
		case mIND:
			return atomA, []int{atomX}
		case mMEM:
			return atomA, []int{int(s.k & 15)}
		}
		return atomA, nil
	case opLDX:
		if s.op&0xe0 == mMEM {
			return atomX, []int{int(s.k & 15)}
		}
		return atomX, nil
	case opST:
		return int(s.k & 15), []int{atomA}
	case opSTX:
		return int(s.k & 15), []int{atomX}
	case opMISC:
		if s.op == opMISC|miscTAX {
			return atomX, []int{atomA}
		}
		return atomA, []int{atomX}
	case opALU:
		if s.op&srcX != 0 && s.op&0xf0 != aluNEG {
			return atomA, []int{atomA, atomX}
		}
		return atomA, []int{atomA}
	}
	return -1, nil
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

func zeroDivMessage(op uint16) string {
	if op == aluMOD {
		return "modulus by zero"
	}
	return "division by zero"
}
