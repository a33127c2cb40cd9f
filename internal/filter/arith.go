package filter

// Arithmetic is generated as libpcap's gen_arth/gen_load/gen_relation do: every
// value lives in a scratch word M[r], and the protocol checks an operand needs
// (tcp[…] needs "ip and tcp and not a later fragment") are collected and run
// before any of the arithmetic.

type arthCode struct {
	stmts  []stmt
	checks *frag
	reg    uint32
}

// allocReg hands out scratch words round-robin, as libpcap's alloc_reg does.
func (g *gen) allocReg() uint32 {
	for range g.regs {
		if !g.regs[g.curReg] {
			g.regs[g.curReg] = true
			return uint32(g.curReg)
		}
		g.curReg = (g.curReg + 1) % len(g.regs)
	}
	fail("too many registers needed to evaluate expression")
	return 0
}

func (g *gen) freeReg(r uint32) { g.regs[r] = false }

func toX(a *arthCode) stmt { return stmt{opLDX | mMEM, a.reg} }
func toA(a *arthCode) stmt { return stmt{opLD | mMEM, a.reg} }

func andChecks(a, b *frag) *frag {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return and(a, b)
}

func (g *gen) arith(x arith) *arthCode {
	switch x := x.(type) {
	case aNum:
		if x.err != nil {
			panic(x.err)
		}
		r := g.allocReg()
		return &arthCode{stmts: []stmt{{opLD | mIMM, x.v}, {opST, r}}, reg: r}
	case aLen:
		r := g.allocReg()
		return &arthCode{stmts: []stmt{{opLD | mLEN | szW, 0}, {opST, r}}, reg: r}
	case aLoad:
		idx := g.arith(x.idx)
		if x.sizeErr != nil {
			panic(x.sizeErr)
		}
		return g.load(x.proto, idx, x.size)
	case aNeg:
		a := g.arith(x.x)
		a.stmts = append(a.stmts, toA(a), stmt{opALU | aluNEG, 0}, stmt{opST, a.reg})
		return a
	case aBin:
		return g.binop(x.op, g.arith(x.l), g.arith(x.r))
	}
	panic("filter: unknown arithmetic node")
}

var aluOps = map[string]uint16{
	"+": aluADD, "-": aluSUB, "*": aluMUL, "/": aluDIV, "%": aluMOD, "&": aluAND,
	"|": aluOR, "^": aluXOR, "<<": aluLSH, ">>": aluRSH,
}

func (g *gen) binop(op string, a0, a1 *arthCode) *arthCode {
	code := aluOps[op]
	// Like libpcap, look only at the divisor's first statement.
	first := a1.stmts[0]
	isImm := first.op == opLD|mIMM
	switch {
	case code == aluDIV && isImm && first.k == 0:
		fail("division by zero")
	case code == aluMOD && isImm && first.k == 0:
		fail("modulus by zero")
	case (code == aluLSH || code == aluRSH) && isImm && first.k > 31:
		fail("shift by more than 31 bits")
	}
	s := append(a0.stmts, a1.stmts...)
	s = append(s, toX(a1), toA(a0), stmt{opALU | code | srcX, 0})
	g.freeReg(a0.reg)
	g.freeReg(a1.reg)
	r := g.allocReg()
	s = append(s, stmt{opST, r})
	// libpcap 1.10.3's gen_arth keeps only the left operand's protocol checks:
	// in "len ^ udp[2:2] > 0" the packet need not be UDP. Matching libpcap
	// means keeping that quirk.
	return &arthCode{stmts: s, checks: a0.checks, reg: r}
}

var loadSizes = map[uint32]uint16{1: szB, 2: szH, 4: szW}

// load is gen_load: proto[idx:size].
func (g *gen) load(proto string, idx *arthCode, size uint32) *arthCode {
	sz, ok := loadSizes[size]
	if !ok {
		fail("data size must be 1, 2, or 4")
	}
	r := g.allocReg()
	g.freeReg(idx.reg)
	s := idx.stmts
	checks := idx.checks
	switch proto {
	case "ether":
		s = append(s, toX(idx), stmt{opLD | mIND | sz, uint32(g.offLinkHdr)})
	case "ip", "arp", "rarp", "atalk", "decnet", "sca", "lat", "moprc", "mopdl", "ip6":
		s = append(s, toX(idx), stmt{opLD | mIND | sz, g.nl()})
		checks = andChecks(checks, g.abbrev(proto))
	case "tcp", "udp", "sctp", "icmp", "igmp", "igrp", "pim", "vrrp", "carp":
		s = append(s, stmt{opLDX | mMSH | szB, g.nl()}, toA(idx), stmt{opALU | aluADD | srcX, 0},
			stmt{opMISC | miscTAX, 0}, stmt{opLD | mIND | sz, g.nl()})
		b := and(g.abbrev(proto), g.ipfrag())
		checks = and(g.abbrev("ip"), andChecks(checks, b))
	case "icmp6":
		checks = and(andChecks(checks, g.abbrev("ip6")), cmp(g.nl()+6, szB, ipICMP6))
		s = append(s, toX(idx), stmt{opLD | mIND | sz, g.nl() + 40})
	case "radio":
		fail("radio information not present in capture")
	default:
		fail("unsupported index operation")
	}
	s = append(s, stmt{opST, r})
	return &arthCode{stmts: s, checks: checks, reg: r}
}

// relation is gen_relation: checks first, then "a0 op a1".
func (g *gen) relation(n nRel) *frag {
	a0 := g.arith(n.a)
	a1 := g.arith(n.b)
	cond, reverse := map[string]uint16{">": jJGT, ">=": jJGE, "=": jJEQ, "<=": jJGT, "<": jJGE, "!=": jJEQ}[n.op],
		n.op == "<=" || n.op == "<" || n.op == "!="
	s := append(a0.stmts, a1.stmts...)
	s = append(s, toX(a1), toA(a0))
	var b *frag
	if cond == jJEQ {
		b = leaf(append(s, stmt{opALU | aluSUB | srcX, 0}), jJEQ, 0)
	} else {
		b = leaf(s, cond|srcX, 0)
	}
	if reverse {
		b = not(b)
	}
	g.freeReg(a0.reg)
	g.freeReg(a1.reg)
	if c := andChecks(a0.checks, a1.checks); c != nil {
		return and(c, b)
	}
	return b
}
