package filter

import "golang.org/x/net/bpf"

// layout turns the block graph into a classic BPF program: blocks in
// topological order (every jump goes forward), returns last, and an
// unconditional "ja" after a conditional jump whose target is more than 255
// instructions away.
func layout(head, accept, reject *block) []bpf.RawInstruction {
	if head.ret {
		return []bpf.RawInstruction{{Op: opRET | srcK, K: head.k}}
	}
	order := topoOrder(head)
	for _, b := range order {
		b.mark = false
	}
	order = append(order, accept, reject)

	longT := make(map[*block]bool)
	longF := make(map[*block]bool)
	pos := make(map[*block]int)
	for {
		n := 0
		for _, b := range order {
			pos[b] = n
			n += blockLen(b, longT, longF)
		}
		grew := false
		for _, b := range order {
			if b.ret {
				continue
			}
			at := pos[b] + len(b.stmts) // the conditional jump
			if !longT[b] && pos[b.jt]-(at+1) > 255 {
				longT[b], grew = true, true
			}
			if !longF[b] && pos[b.jf]-(at+1) > 255 {
				longF[b], grew = true, true
			}
		}
		if !grew {
			return emit(order, pos, longT, longF, n)
		}
	}
}

func blockLen(b *block, longT, longF map[*block]bool) int {
	if b.ret {
		return 1
	}
	n := len(b.stmts) + 1
	if longT[b] {
		n++
	}
	if longF[b] {
		n++
	}
	return n
}

func emit(order []*block, pos map[*block]int, longT, longF map[*block]bool, n int) []bpf.RawInstruction {
	out := make([]bpf.RawInstruction, 0, n)
	for _, b := range order {
		if b.ret {
			out = append(out, bpf.RawInstruction{Op: opRET | srcK, K: b.k})
			continue
		}
		for _, s := range b.stmts {
			out = append(out, bpf.RawInstruction{Op: s.op, K: s.k})
		}
		at := len(out)
		jt, jf := pos[b.jt]-(at+1), pos[b.jf]-(at+1)
		tramp := at + 1
		if longT[b] {
			jt = tramp - (at + 1)
			tramp++
		}
		if longF[b] {
			jf = tramp - (at + 1)
		}
		out = append(out, bpf.RawInstruction{Op: b.jop, Jt: uint8(jt), Jf: uint8(jf), K: b.k})
		if longT[b] {
			out = append(out, bpf.RawInstruction{Op: opJMP | jJA, K: uint32(pos[b.jt] - (len(out) + 1))})
		}
		if longF[b] {
			out = append(out, bpf.RawInstruction{Op: opJMP | jJA, K: uint32(pos[b.jf] - (len(out) + 1))})
		}
	}
	return out
}

// topoOrder lists the non-return blocks reachable from head in reverse
// postorder, visiting the true edge last so that it usually falls through.
func topoOrder(head *block) []*block {
	var post []*block
	var visit func(b *block)
	visit = func(b *block) {
		if b.ret || b.mark {
			return
		}
		b.mark = true
		visit(b.jf)
		visit(b.jt)
		post = append(post, b)
	}
	visit(head)
	for i, j := 0, len(post)-1; i < j; i, j = i+1, j-1 {
		post[i], post[j] = post[j], post[i]
	}
	return post
}
