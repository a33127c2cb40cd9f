package flow

// tcpflow keeps its flows in a libstdc++ std::unordered_map keyed by
// flow_addr, and closes the flows left at the end of input (and the idle
// ones of tcp_timeout) in that map's iteration order. stdOrder replays the
// map's bookkeeping — tcpflow's hash function, the prime bucket counts, the
// single linked list with per-bucket "before" pointers, insertion at a
// bucket's front, rehashing — so bpflow closes flows in the same order and
// report.xml lists them the same way. It is touched only when a flow is
// created or removed, never per packet.

type stdNode struct {
	next *stdNode
	code uint64 // the cached hash code
	f    *Flow
}

type stdOrder struct {
	buckets    []*stdNode // the node before the bucket's first node, or nil
	before     stdNode    // _M_before_begin
	count      int
	nextResize int
}

// stdBucketCounts are the bucket counts libstdc++ (GCC 12, max load factor
// 1) grows an unordered_map through: 1, then 13, then the first prime of
// its list at or above twice the previous count.
var stdBucketCounts = []int{1, 13, 29, 59, 127, 257, 541, 1109, 2357, 5087, 10273, 20753, 42043, 85229,
	172933, 351061, 712697, 1447153, 2938679, 5967347, 12117689, 24607243, 49969847}

// flowHash is tcpflow's flow_addr::hash, with its int arithmetic: the
// ports' term is a sign-extended int, IPv4 quads take bytes 0, 2, 1, 3.
func flowHash(k Key) uint64 {
	src, dst := k.Src.As16(), k.Dst.As16()
	if k.Src.Is4() {
		a, b := k.Src.As4(), k.Dst.As4()
		copy(src[:4], a[:])
		copy(dst[:4], b[:])
		clear(src[4:])
		clear(dst[4:])
	}
	quad := func(a [16]byte, i int) uint64 {
		return uint64(uint32(a[i*4])<<24 | uint32(a[i*4+2])<<16 | uint32(a[i*4+1])<<8 | uint32(a[i*4+3]))
	}
	dquad := func(a [16]byte, i int) uint64 { return quad(a, i*2+1)<<32 | quad(a, i*2) }
	ports := uint64(int64(int32(uint32(k.SrcPort)<<16 | uint32(k.DstPort))))
	if k.Family == 2 {
		s, d := quad(src, 0), quad(dst, 0)
		return (s<<32 | d) ^ (d<<32 | s) ^ ports
	}
	s0, d0 := dquad(src, 0), dquad(dst, 0)
	return (s0<<32 ^ d0) ^ (d0<<32 ^ s0) ^ (dquad(src, 1) ^ dquad(dst, 1)) ^ ports
}

func (o *stdOrder) bucket(code uint64) int { return int(code % uint64(len(o.buckets))) }

// insert adds f as std::unordered_map::operator[] does for a new key.
func (o *stdOrder) insert(f *Flow) {
	if o.buckets == nil {
		o.buckets = make([]*stdNode, 1)
	}
	if o.count+1 > o.nextResize {
		o.rehash(o.nextBucketCount())
	}
	n := &stdNode{code: flowHash(f.Key), f: f}
	f.node = n
	b := o.bucket(n.code)
	if prev := o.buckets[b]; prev != nil {
		n.next, prev.next = prev.next, n
	} else {
		n.next, o.before.next = o.before.next, n
		if n.next != nil {
			o.buckets[o.bucket(n.next.code)] = n
		}
		o.buckets[b] = &o.before
	}
	o.count++
}

func (o *stdOrder) nextBucketCount() int {
	for _, c := range stdBucketCounts {
		if c > len(o.buckets) && c >= o.count+1 {
			return c
		}
	}
	return 2*len(o.buckets) + 1 // beyond 50 million flows: any growth will do
}

// rehash is _M_rehash_aux for unique keys.
func (o *stdOrder) rehash(n int) {
	buckets := make([]*stdNode, n)
	p := o.before.next
	o.before.next = nil
	bbegin := 0
	for p != nil {
		next := p.next
		b := int(p.code % uint64(n))
		if buckets[b] == nil {
			p.next, o.before.next = o.before.next, p
			buckets[b] = &o.before
			if p.next != nil {
				buckets[bbegin] = p
			}
			bbegin = b
		} else {
			p.next, buckets[b].next = buckets[b].next, p
		}
		p = next
	}
	o.buckets = buckets
	o.nextResize = n
}

// erase removes f as unordered_map::erase(iterator) does.
func (o *stdOrder) erase(f *Flow) {
	n := f.node
	if n == nil {
		return
	}
	f.node = nil
	b := o.bucket(n.code)
	prev := o.buckets[b]
	for prev.next != n {
		prev = prev.next
	}
	if prev == o.buckets[b] {
		var nextBucket int
		if n.next != nil {
			nextBucket = o.bucket(n.next.code)
		}
		if n.next == nil || nextBucket != b {
			if n.next != nil {
				o.buckets[nextBucket] = o.buckets[b]
			}
			if o.buckets[b] == &o.before {
				o.before.next = n.next
			}
			o.buckets[b] = nil
		}
	} else if n.next != nil {
		if nb := o.bucket(n.next.code); nb != b {
			o.buckets[nb] = prev
		}
	}
	prev.next = n.next
	o.count--
}

// flows returns the flows in iteration order.
func (o *stdOrder) flows() []*Flow {
	out := make([]*Flow, 0, o.count)
	for p := o.before.next; p != nil; p = p.next {
		out = append(out, p.f)
	}
	return out
}
