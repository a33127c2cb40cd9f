package filter

import "strings"

// The parser follows libpcap's grammar (grammar.y) and its quirks: "and" and
// "or" have equal precedence and group to the left, "not" binds tightest, and a
// bare id after "and"/"or" inherits the qualifiers of the expression on its left
// (libpcap's $<blk>0), which is why the qualifier context is threaded through.

// qual is a primitive's qualifiers: proto (a pname keyword), dir and addr.
// "" is libpcap's Q_DEFAULT and undef its Q_UNDEF.
type qual struct{ proto, dir, addr string }

const undef = "?"

// qerr is the context after primitives that carry no qualifiers.
var qerr = qual{undef, undef, undef}

type node interface{}

type (
	nBool struct {
		and  bool
		l, r node
	}
	nNot struct{ x node }
	// nByteOp is "byte IDX OP VAL".
	nByteOp struct {
		op       string
		idx, val token
	}
	// nScanError is a tree with a bad token in it.
	nScanError struct {
		x   node
		err error
	}
	// nID is an id with the qualifiers it was given or inherited.
	nID struct {
		q       qual
		tok     token
		mask    *token  // "HID mask HID"
		masklen *uint32 // "addr/len"
	}
	nAbbrev struct{ proto string } // a protocol name on its own: tcp, ip6, …
	nRel    struct {
		op   string
		a, b arith
	}
	// nOther is one of the grammar's "other" primitives (less, vlan, …).
	nOther struct {
		kw     string
		proto  string // pqual of broadcast/multicast
		num    uint32
		hasNum bool
	}
)

type arith interface{}

type (
	aNum struct {
		v   uint32
		err error // from the scanner
	}
	aLen  struct{}
	aLoad struct {
		proto   string
		idx     arith
		size    uint32
		sizeErr error // from the scanner
	}
	aBin struct {
		op   string
		l, r arith
	}
	aNeg struct{ x arith }
)

type parser struct {
	toks []token
	pos  int
	// depth counts open parentheses and "not"s; bison's stack (YYMAXDEPTH
	// 10000) is exhausted near 9996 of them.
	depth     int
	exhausted bool
	// arithAt remembers arithmetic parsed at a position: "(" is tried as
	// arithmetic before as a boolean group, and without this nested
	// parentheses would be re-parsed once per level.
	arithAt map[int]arithResult
	// furthest is the furthest token the parser has looked at.
	furthest int
}

type arithResult struct {
	x   arith
	end int
	ok  bool
}

const maxDepth = 9995

// enter and leave bracket a nesting level; enter fails past bison's limit
// (a chain of "not"s reaches it one level later than parentheses).
func (p *parser) enter() bool { return p.enterUpTo(maxDepth) }

func (p *parser) enterNot() bool { return p.enterUpTo(maxDepth + 1) }

func (p *parser) enterUpTo(limit int) bool {
	p.depth++
	if p.depth > limit {
		p.exhausted = true
	}
	return !p.exhausted
}

func (p *parser) leave() { p.depth-- }

func parse(expr string) (node, error) {
	toks, err := lex(expr)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	if p.peek().kind == tEOF {
		return nil, nil
	}
	n, _, ok := p.expr(qerr)
	if err := p.scanError(); err != nil && (!ok || p.exhausted || p.peek().kind != tEOF) {
		return nil, err
	}
	if p.exhausted {
		return nil, errorf("can't parse filter expression: memory exhausted")
	}
	if !ok || p.peek().kind != tEOF {
		return nil, errorf(errSyntax)
	}
	if err := p.scanError(); err != nil {
		// Code generation runs left to right and reports the bad token
		// where it meets it, or at the end.
		return nScanError{n, err}, nil
	}
	return n, nil
}

func (p *parser) peek() token { return p.peekAt(0) }
func (p *parser) peekAt(i int) token {
	if p.pos+i < len(p.toks) {
		p.furthest = max(p.furthest, p.pos+i)
		return p.toks[p.pos+i]
	}
	return token{kind: tEOF}
}

// scanError is the scanner's error for the first bad token among those
// the parser has read, which libpcap reports unless an error came first.
func (p *parser) scanError() error {
	for _, t := range p.toks[:min(p.furthest+1, len(p.toks))] {
		if t.err != nil {
			return t.err
		}
	}
	return nil
}
func (p *parser) next() token { t := p.toks[p.pos]; p.pos++; return t }

func (p *parser) isKW(kws ...string) bool {
	t := p.peek()
	if t.kind != tKW {
		return false
	}
	for _, k := range kws {
		if t.text == k {
			return true
		}
	}
	return false
}

func (p *parser) isOp(ops ...string) bool {
	t := p.peek()
	if t.kind != tOp {
		return false
	}
	for _, o := range ops {
		if t.text == o {
			return true
		}
	}
	return false
}

func (p *parser) isAnd() bool { return p.isKW("and") || p.isOp("&&") }
func (p *parser) isOr() bool  { return p.isKW("or") || p.isOp("||") }
func (p *parser) isNot() bool { return p.isKW("not") || p.isOp("!") }

// expr: term { (and|or) (term | id) } — an id inherits the left side's qualifiers.
func (p *parser) expr(q0 qual) (node, qual, bool) {
	n, q, ok := p.term(q0)
	if !ok {
		return nil, q, false
	}
	for p.isAnd() || p.isOr() {
		and := p.isAnd()
		p.next()
		save := p.pos
		r, rq, ok := p.term(q)
		if !ok {
			p.pos = save
			r, ok = p.id(q)
			rq = q
			if !ok {
				return nil, q, false
			}
		}
		n, q = nBool{and: and, l: n, r: r}, rq
	}
	return n, q, true
}

func (p *parser) term(q0 qual) (node, qual, bool) {
	if p.isNot() {
		p.next()
		if !p.enterNot() {
			return nil, q0, false
		}
		defer p.leave()
		n, q, ok := p.term(q0)
		return nNot{n}, q, ok
	}
	return p.rterm(q0)
}

var pnames = map[string]bool{
	"ether": true, "ip": true, "arp": true, "rarp": true, "sctp": true, "tcp": true,
	"udp": true, "icmp": true, "igmp": true, "igrp": true, "pim": true, "vrrp": true,
	"carp": true, "atalk": true, "aarp": true, "decnet": true, "lat": true, "sca": true,
	"moprc": true, "mopdl": true, "ip6": true, "icmp6": true, "ah": true, "esp": true,
	"iso": true, "esis": true, "isis": true, "l1": true, "l2": true, "iih": true,
	"lsp": true, "snp": true, "csnp": true, "psnp": true, "clnp": true, "stp": true,
	"ipx": true, "netbeui": true, "radio": true,
}

func (p *parser) isPname() bool { return p.peek().kind == tKW && pnames[p.peek().text] }

func (p *parser) isHeadWord(t token) bool {
	if t.kind != tKW {
		return false
	}
	switch t.text {
	case "src", "dst", "host", "net", "port", "portrange", "proto", "protochain", "gateway":
		return true
	}
	return isWlanDir(t)
}

func (p *parser) rterm(q0 qual) (node, qual, bool) {
	switch {
	case p.isPname():
		nx := p.peekAt(1)
		switch {
		case nx.kind == tOp && nx.text == "[":
			return p.relation()
		case p.isHeadWord(nx):
			return p.headID()
		case nx.kind == tKW && (nx.text == "broadcast" || nx.text == "multicast"):
			proto := p.next().text
			return nOther{kw: p.next().text, proto: proto}, qerr, true
		case nx.kind == tKW && (nx.text == "type" || nx.text == "subtype" || nx.text == "dir"):
			p.next() // "pqual p80211": the protocol is ignored
			n, ok := p.p80211()
			return n, qerr, ok
		}
		return nAbbrev{proto: p.next().text}, qerr, true
	case p.isHeadWord(p.peek()):
		return p.headID()
	case p.isOp("("):
		save := p.pos
		if n, q, ok := p.relation(); ok {
			return n, q, true
		}
		p.pos = save
		p.next()
		if !p.enter() {
			return nil, q0, false
		}
		defer p.leave()
		n, _, ok := p.expr(q0)
		if !ok || !p.isOp(")") {
			return nil, q0, false
		}
		p.next()
		return n, q0, true
	case p.peek().kind == tKW:
		if n, ok := p.other(); ok {
			return n, qerr, true
		}
		if n, ok := p.linkOnly(); n != nil {
			return n, qerr, ok
		}
		if p.isKW("len") {
			return p.relation()
		}
		return nil, q0, false
	case p.peek().kind == tNum || p.isOp("-"):
		return p.relation()
	}
	return nil, q0, false
}

// headID parses "[proto] [dir] [type] id" and the proto/protochain/gateway forms.
func (p *parser) headID() (node, qual, bool) {
	q := qual{}
	if p.isPname() {
		q.proto = p.next().text
	}
	if p.isKW("src", "dst") {
		q.dir = p.next().text
		if (p.isOr() || p.isAnd()) && p.peekAt(1).kind == tKW &&
			(p.peekAt(1).text == "src" || p.peekAt(1).text == "dst") && p.peekAt(1).text != q.dir {
			if p.isAnd() {
				q.dir = "and"
			} else {
				q.dir = "or"
			}
			p.next()
			p.next()
		}
	} else if isWlanDir(p.peek()) {
		q.dir = p.next().text
	}
	if p.isKW("host", "net", "port", "portrange") {
		q.addr = p.next().text
	} else if q.dir == "" && p.isKW("proto", "protochain", "gateway") {
		q.addr = p.next().text
	} else if q.dir == "" {
		return nil, q, false
	}
	n, ok := p.id(q)
	return n, q, ok
}

// id: number | address forms | name | not id | ( pid ).
func (p *parser) id(q qual) (node, bool) {
	t := p.peek()
	switch {
	case p.isNot():
		p.next()
		if !p.enterNot() {
			return nil, false
		}
		defer p.leave()
		n, ok := p.id(q)
		return nNot{n}, ok
	case p.isOp("("):
		p.next()
		if !p.enter() {
			return nil, false
		}
		defer p.leave()
		n, ok := p.pid(q)
		if !ok || !p.isOp(")") {
			return nil, false
		}
		p.next()
		return n, true
	case t.kind == tNum || t.kind == tID || t.kind == tEID:
		p.next()
		return nID{q: q, tok: t}, true
	case t.kind == tHID:
		p.next()
		if p.isKW("mask") && p.peekAt(1).kind == tHID {
			p.next()
			m := p.next()
			return nID{q: q, tok: t, mask: &m}, true
		}
		return p.withMaskLen(nID{q: q, tok: t})
	case t.kind == tHID6:
		p.next()
		return p.withMaskLen(nID{q: q, tok: t})
	}
	return nil, false
}

func (p *parser) withMaskLen(n nID) (node, bool) {
	if p.isOp("/") {
		p.next()
		if p.peek().kind != tNum {
			return nil, false
		}
		v := p.next().num
		n.masklen = &v
	}
	return n, true
}

// pid: id { (and|or) id } inside "( … )" after a qualifier.
func (p *parser) pid(q qual) (node, bool) {
	n, ok := p.id(q)
	for ok && (p.isAnd() || p.isOr()) {
		and := p.isAnd()
		p.next()
		var r node
		r, ok = p.id(q)
		n = nBool{and: and, l: n, r: r}
	}
	return n, ok
}

// other: less/greater/len-free primitives that take at most one number.
func (p *parser) other() (node, bool) {
	kw := p.peek().text
	switch kw {
	case "less", "greater", "ifindex":
		if p.peekAt(1).kind != tNum {
			return nil, false
		}
		p.next()
		return nOther{kw: kw, num: p.next().num, hasNum: true}, true
	case "byte":
		return p.byteOp()
	case "inbound", "outbound", "pppoed", "broadcast", "multicast":
		p.next()
		return nOther{kw: kw}, true
	case "vlan", "mpls", "pppoes", "geneve":
		p.next()
		n := nOther{kw: kw}
		if v, ok := p.pnum(); ok {
			n.num, n.hasNum = v, true
		}
		return n, true
	}
	return nil, false
}

// byteOp: byte NUM (&|\||<|>|=) NUM.
func (p *parser) byteOp() (node, bool) {
	if p.peekAt(1).kind != tNum || p.peekAt(2).kind != tOp || p.peekAt(3).kind != tNum {
		return nil, false
	}
	op := p.peekAt(2).text
	if op == "==" {
		op = "="
	}
	if !strings.Contains("&|<>=", op) || len(op) != 1 {
		return nil, false
	}
	p.next()
	idx := p.next()
	p.next()
	val := p.next()
	return nByteOp{op: op, idx: idx, val: val}, true
}

// pnum: NUM | ( pnum ).
func (p *parser) pnum() (uint32, bool) {
	save := p.pos
	depth := 0
	for p.isOp("(") {
		p.next()
		depth++
	}
	if p.peek().kind != tNum {
		p.pos = save
		return 0, false
	}
	v := p.next().num
	for ; depth > 0; depth-- {
		if !p.isOp(")") {
			p.pos = save
			return 0, false
		}
		p.next()
	}
	return v, true
}

var relops = map[string]string{">": ">", ">=": ">=", "=": "=", "==": "=", "<=": "<=", "<": "<", "!=": "!="}

func (p *parser) relation() (node, qual, bool) {
	a, ok := p.arith()
	if !ok || p.peek().kind != tOp || relops[p.peek().text] == "" {
		return nil, qerr, false
	}
	op := relops[p.next().text]
	b, ok := p.arith()
	if !ok {
		return nil, qerr, false
	}
	return nRel{op: op, a: a, b: b}, qerr, true
}

// Arithmetic precedence, lowest first, as bison resolves libpcap's grammar.
// '^' and '%' have no declared precedence, so bison always shifts on them:
// their left operand is the nearest operand and their right operand the rest
// of the arithmetic (see unary): "a / 2 % 7 + 1" is a / (2 % (7 + 1)).
var arithLevels = [][]string{{"|"}, {"&"}, {"<<", ">>"}, {"+", "-"}, {"*", "/"}}

func (p *parser) arith() (arith, bool) {
	start := p.pos
	if r, seen := p.arithAt[start]; seen {
		p.pos = r.end
		return r.x, r.ok
	}
	x, ok := p.arithLevel(0)
	if p.arithAt == nil {
		p.arithAt = map[int]arithResult{}
	}
	p.arithAt[start] = arithResult{x, p.pos, ok}
	return x, ok
}

func (p *parser) arithLevel(lvl int) (arith, bool) {
	if lvl == len(arithLevels) {
		return p.unary()
	}
	l, ok := p.arithLevel(lvl + 1)
	for ok && p.isOp(arithLevels[lvl]...) {
		op := p.next().text
		var r arith
		r, ok = p.arithLevel(lvl + 1)
		l = aBin{op: op, l: l, r: r}
	}
	return l, ok
}

func (p *parser) unary() (arith, bool) {
	if p.isOp("-") {
		p.next()
		x, ok := p.unary()
		return aNeg{x}, ok
	}
	x, ok := p.primary()
	if ok && p.isOp("^", "%") {
		op := p.next().text
		r, ok := p.arith()
		return aBin{op: op, l: x, r: r}, ok
	}
	return x, ok
}

func (p *parser) primary() (arith, bool) {
	t := p.peek()
	switch {
	case t.kind == tNum:
		p.next()
		return aNum{t.num, t.err}, true
	case p.isKW("len"):
		p.next()
		return aLen{}, true
	case p.isOp("("):
		p.next()
		if !p.enter() {
			return nil, false
		}
		defer p.leave()
		x, ok := p.arith()
		if !ok || !p.isOp(")") {
			return nil, false
		}
		p.next()
		return x, true
	case p.isPname() && p.peekAt(1).kind == tOp && p.peekAt(1).text == "[":
		proto := p.next().text
		p.next()
		idx, ok := p.arith()
		if !ok {
			return nil, false
		}
		size, sizeErr := uint32(1), error(nil)
		if p.isOp(":") {
			p.next()
			if p.peek().kind != tNum {
				return nil, false
			}
			t := p.next()
			size, sizeErr = t.num, t.err
		}
		if !p.isOp("]") {
			return nil, false
		}
		p.next()
		return aLoad{proto: proto, idx: idx, size: size, sizeErr: sizeErr}, true
	}
	return nil, false
}
