package filter

import "fmt"

// dropReloads removes a load whose value is already in A or X on every path
// into the block (libpcap's optimizer does the same), which shortens the cBPF
// and eBPF programs. It cannot change what matches: the same load already
// succeeded on every path.
func dropReloads(head *block) {
	order := topoOrder(head)
	for _, b := range order {
		b.mark = false
	}
	type regs struct{ a, x string }
	in := map[*block]*regs{}
	for _, b := range order {
		r := in[b]
		if r == nil || b == head {
			r = &regs{}
		}
		a, x := r.a, r.x
		kept := b.stmts[:0]
		for _, s := range b.stmts {
			key := loadKey(s, x)
			switch {
			case s.op&0x07 == opLD && key != "":
				if key == a {
					continue
				}
				a = key
			case s.op&0x07 == opLDX && key != "":
				if key == x {
					continue
				}
				x = key
			case s.op&0x07 == opLD, s.op&0x07 == opALU, s.op == opMISC|miscTXA:
				a = ""
				if s.op == opMISC|miscTXA {
					a = x
				}
			case s.op&0x07 == opLDX:
				x = ""
			case s.op == opMISC|miscTAX:
				x = a
			}
			kept = append(kept, s)
		}
		b.stmts = kept
		for _, succ := range []*block{b.jt, b.jf} {
			if succ.ret {
				continue
			}
			if prev, seen := in[succ]; !seen {
				in[succ] = &regs{a, x}
			} else {
				if prev.a != a {
					prev.a = ""
				}
				if prev.x != x {
					prev.x = ""
				}
			}
		}
	}
}

// loadKey names the value a load statement produces, or "" when it depends on
// scratch memory (not tracked).
func loadKey(s stmt, x string) string {
	switch s.op & 0xe0 {
	case mIMM:
		return fmt.Sprintf("#%d", s.k)
	case mABS:
		return fmt.Sprintf("P%d[%d]", s.op&0x18, s.k)
	case mIND:
		if x == "" {
			return ""
		}
		return fmt.Sprintf("P%d[(%s)+%d]", s.op&0x18, x, s.k)
	case mMSH:
		return fmt.Sprintf("msh[%d]", s.k)
	case mLEN:
		return "len"
	}
	return ""
}

// internBlocks merges blocks that do the same thing and go to the same places
// (libpcap's intern_blocks), working from the returns back to the root. The
// merged block stands for identical code, so nothing that matches changes;
// it runs before dropReloads, which needs the final graph.
func internBlocks(head *block) {
	for {
		order := topoOrder(head)
		for _, b := range order {
			b.mark = false
		}
		seen := map[string]*block{}
		replace := map[*block]*block{}
		for i := len(order) - 1; i >= 0; i-- {
			b := order[i]
			if r := replace[b.jt]; r != nil {
				b.jt = r
			}
			if r := replace[b.jf]; r != nil {
				b.jf = r
			}
			key := fmt.Sprintf("%v %d %d %p %p", b.stmts, b.jop, b.k, b.jt, b.jf)
			if twin := seen[key]; twin != nil && b != head {
				replace[b] = twin
				continue
			}
			seen[key] = b
		}
		if len(replace) == 0 {
			return
		}
		for _, b := range topoOrder(head) {
			b.mark = false
			if r := replace[b.jt]; r != nil {
				b.jt = r
			}
			if r := replace[b.jf]; r != nil {
				b.jf = r
			}
		}
	}
}
