package filter

import (
	"strings"

	"github.com/bpflow/bpflow/internal/layers"
)

// Primitives for link types bpflow never reads (802.11, raw ATM, SS7/MTP2)
// and LLC. They are parsed as libpcap's grammar has them, so that what is a
// syntax error there is one here, and refused with libpcap's messages: its
// own checks of names and values first, then the link-type check.

// linkOnlyKeywords are the scanner's words for these primitives.
var linkOnlyKeywords = map[string]string{
	"type": "type", "subtype": "subtype", "dir": "dir", "direction": "dir",
	"lane": "lane", "metac": "metac", "bcc": "bcc", "oam": "oam", "oamf4": "oamf4",
	"oamf4ec": "oamf4ec", "oamf4sc": "oamf4sc", "sc": "sc", "ilmic": "ilmic",
	"vpi": "vpi", "vci": "vci", "connectmsg": "connectmsg", "metaconnect": "metaconnect",
	"fisu": "fisu", "lssu": "lssu", "lsu": "lssu", "msu": "msu", "hfisu": "hfisu",
	"hlssu": "hlssu", "hmsu": "hmsu", "sio": "sio", "opc": "opc", "dpc": "dpc",
	"sls": "sls", "hsio": "hsio", "hopc": "hopc", "hdpc": "hdpc", "hsls": "hsls",
	"on": "ifname", "ifname": "ifname", "rset": "ruleset", "ruleset": "ruleset",
	"rnr": "rnr", "rulenum": "rnr", "srnr": "srnr", "subrulenum": "srnr",
	"reason": "reason", "action": "action",
}

// pfArgs are the token kinds each pflog primitive takes.
var pfArgs = map[string][]tokKind{
	"ifname": {tID}, "ruleset": {tID}, "rnr": {tNum}, "srnr": {tNum},
	"reason": {tNum, tID}, "action": {tID},
}

// pfReasons and pfActions are the names libpcap on Linux knows.
var (
	pfReasons = []string{"match", "bad-offset", "fragment", "short", "normalize", "memory",
		"bad-timestamp", "congestion", "ip-option", "proto-cksum", "state-mismatch",
		"state-insert", "state-limit", "src-limit", "synproxy"}
	pfActions = []string{"pass", "accept", "drop", "block", "scrub", "noscrub", "nat", "nonat",
		"binat", "nobinat", "rdr", "nordr", "synproxy-drop"}
)

// wlanDirs are the 802.11 address qualifiers (libpcap's ADDR1…ADDR4, RA,
// TA), each with how libpcap's messages name it.
var wlanDirs = map[string]string{
	"addr1": "'addr1' and 'address1' are", "addr2": "'addr2' and 'address2' are",
	"addr3": "'addr3' and 'address3' are", "addr4": "'addr4' and 'address4' are",
	"ra": "'ra' is", "ta": "'ta' is",
}

// wlanDirKeywords are the scanner's words for them.
var wlanDirKeywords = map[string]string{
	"addr1": "addr1", "address1": "addr1", "addr2": "addr2", "address2": "addr2",
	"addr3": "addr3", "address3": "addr3", "addr4": "addr4", "address4": "addr4",
	"ra": "ra", "ta": "ta",
}

func isWlanDir(t token) bool { return t.kind == tKW && wlanDirs[t.text] != "" }

// linkOnlyErrors are the messages of the primitives that take no value or
// take a field value; the MTP3 "h" forms report the field without the h,
// and the OAM F4 cells are named "oam4ec"/"oam4sc", as libpcap does.
var linkOnlyErrors = map[string]string{
	"lane": "'lane' supported only on raw ATM", "metac": "'metac' supported only on raw ATM",
	"bcc": "'bcc' supported only on raw ATM", "oam": "'oam' supported only on raw ATM",
	"oamf4": "'oamf4' supported only on raw ATM", "oamf4ec": "'oam4ec' supported only on raw ATM",
	"oamf4sc": "'oam4sc' supported only on raw ATM", "sc": "'sc' supported only on raw ATM",
	"ilmic": "'ilmic' supported only on raw ATM", "connectmsg": "'connectmsg' supported only on raw ATM",
	"metaconnect": "'metaconnect' supported only on raw ATM",
	"vpi":         "'vpi' supported only on raw ATM", "vci": "'vci' supported only on raw ATM",
	"fisu": "'fisu' supported only on MTP2", "lssu": "'lssu' supported only on MTP2",
	"msu": "'msu' supported only on MTP2", "hfisu": "'hfisu' supported only on MTP2_HSL",
	"hlssu": "'hlssu' supported only on MTP2_HSL", "hmsu": "'hmsu' supported only on MTP2_HSL",
	"sio": "'sio' supported only on SS7", "opc": "'opc' supported only on SS7",
	"dpc": "'dpc' supported only on SS7", "sls": "'sls' supported only on SS7",
	"hsio": "'sio' supported only on SS7", "hopc": "'opc' supported only on SS7",
	"hdpc": "'dpc' supported only on SS7", "hsls": "'sls' supported only on SS7",
}

// nLinkOnly is one of these primitives: the keyword and the name or number
// tokens it was given (802.11 type and subtype, direction, LLC frame type).
type nLinkOnly struct {
	kw   string
	args []token
}

func (p *parser) isFieldKW() bool {
	return p.isKW("vpi", "vci", "sio", "opc", "dpc", "sls", "hsio", "hopc", "hdpc", "hsls")
}

// linkOnly parses the primitive at the current keyword, if it is one.
func (p *parser) linkOnly() (node, bool) {
	switch kw := p.peek().text; {
	case kw == "type" || kw == "subtype" || kw == "dir":
		return p.p80211()
	case kw == "llc":
		p.next()
		n := nLinkOnly{kw: kw}
		if t := p.peek(); t.kind == tID || p.isKW("rnr") {
			n.args = append(n.args, p.next())
		}
		return n, true
	case pfArgs[kw] != nil:
		p.next()
		t := p.peek()
		for _, k := range pfArgs[kw] {
			if t.kind == k {
				return nLinkOnly{kw: kw, args: []token{p.next()}}, true
			}
		}
		return nil, false
	case p.isFieldKW():
		p.next()
		nums, ok := p.fieldValue()
		return nLinkOnly{kw: kw, args: nums}, ok
	case linkOnlyErrors[kw] != "":
		p.next()
		return nLinkOnly{kw: kw}, true
	}
	return nil, false
}

// p80211: type T [subtype S] | subtype S | dir D.
func (p *parser) p80211() (node, bool) {
	n := nLinkOnly{kw: p.next().text}
	value := func(ids, nums bool) bool {
		t := p.peek()
		if t.kind == tID && ids || t.kind == tNum && nums {
			n.args = append(n.args, p.next())
			return true
		}
		return false
	}
	switch n.kw {
	case "type":
		if !value(true, true) {
			return nil, false
		}
		if p.isKW("subtype") {
			p.next()
			return n, value(true, true)
		}
		return n, true
	case "subtype":
		return n, value(true, false)
	}
	return n, value(true, true)
}

// fieldValue: NUM | relop NUM | ( NUM { or NUM } ); it returns the numbers.
func (p *parser) fieldValue() ([]token, bool) {
	var nums []token
	num := func() bool {
		if p.peek().kind != tNum {
			return false
		}
		nums = append(nums, p.next())
		return true
	}
	switch {
	case p.peek().kind == tOp && relops[p.peek().text] != "":
		p.next()
	case p.isOp("("):
		p.next()
		for {
			if !num() {
				return nil, false
			}
			if !p.isOr() {
				break
			}
			p.next()
		}
		if !p.isOp(")") {
			return nil, false
		}
		p.next()
		return nums, true
	}
	return nums, num()
}

// 802.11 frame types and the subtype names of each, as libpcap's grammar
// names them.
var (
	wlanTypes    = map[string]uint32{"data": 0x08, "mgt": 0x00, "management": 0x00, "ctl": 0x04, "control": 0x04}
	wlanSubtypes = map[uint32][]string{
		0x00: {"assocreq", "assoc-req", "assocresp", "assoc-resp", "reassocreq", "reassoc-req",
			"reassocresp", "reassoc-resp", "probereq", "probe-req", "proberesp", "probe-resp",
			"beacon", "atim", "disassoc", "disassociation", "auth", "authentication", "deauth",
			"deauthentication"},
		0x04: {"ps-poll", "rts", "cts", "ack", "cf-end", "cf-end-ack"},
		0x08: {"data", "data-cf-ack", "data-cf-poll", "data-cf-ack-poll", "null", "cf-ack",
			"cf-poll", "cf-ack-poll", "qos-data", "qos-data-cf-ack", "qos-data-cf-poll",
			"qos-data-cf-ack-poll", "qos", "qos-cf-poll", "qos-cf-ack-poll"},
	}
	llcSubtypes = []string{"rr", "rnr", "rej", "ui", "ua", "disc", "dm", "sabme", "test", "xid", "frmr"}
)

// scanned reports the scanner's error for t, if any, and returns t.
func scanned(t token) token {
	if t.err != nil {
		panic(t.err)
	}
	return t
}

func hasFold(names []string, s string) bool {
	for _, n := range names {
		if strings.EqualFold(n, s) {
			return true
		}
	}
	return false
}

func wlanType(t token) uint32 {
	if t.kind == tNum {
		if t.num&^0x0c != 0 {
			fail("invalid 802.11 type value 0x%02x", t.num)
		}
		return t.num
	}
	for name, v := range wlanTypes {
		if strings.EqualFold(name, t.text) {
			return v
		}
	}
	fail("unknown 802.11 type name \"%s\"", t.text)
	return 0
}

func wlanSubtype(typ uint32, t token) {
	if t.kind == tNum {
		if t.num&^0xf0 != 0 {
			fail("invalid 802.11 subtype value 0x%02x", t.num)
		}
		return
	}
	names, ok := wlanSubtypes[typ]
	if !ok {
		fail("unknown 802.11 type")
	}
	if !hasFold(names, t.text) {
		fail("unknown 802.11 subtype name \"%s\"", t.text)
	}
}

// linkOnly checks names and values as libpcap's grammar actions do, then
// refuses the primitive for the link type (none of them is one bpflow reads
// for 802.11/ATM/SS7; LLC is generated on Ethernet).
//
// A bad number among the arguments counts where libpcap's parser reads it:
// the first argument before the primitive's checks, a subtype after the
// type's check; a field's later list values come after its error.
func (g *gen) linkOnly(n nLinkOnly) *frag {
	if len(n.args) > 0 {
		scanned(n.args[0])
	}
	switch n.kw {
	case "type":
		typ := wlanType(n.args[0])
		if len(n.args) > 1 {
			wlanSubtype(typ, scanned(n.args[1]))
		}
		fail("802.11 link-layer types supported only on 802.11")
	case "subtype":
		if !hasFold(wlanSubtypes[0], n.args[0].text) && !hasFold(wlanSubtypes[4], n.args[0].text) &&
			!hasFold(wlanSubtypes[8], n.args[0].text) {
			fail("unknown 802.11 type name")
		}
		fail("802.11 link-layer types supported only on 802.11")
	case "dir":
		if t := n.args[0]; t.kind == tID && !hasFold([]string{"nods", "tods", "fromds", "dstods"}, t.text) {
			fail("unknown 802.11 direction")
		}
		fail("frame direction supported only with 802.11 headers")
	case "llc":
		return g.llc(n.args)
	case "reason", "action":
		names := map[string][]string{"reason": pfReasons, "action": pfActions}[n.kw]
		if t := n.args[0]; t.kind == tID && !hasFold(names, t.text) {
			fail("unknown PF %s \"%s\"", n.kw, t.text)
		}
		fallthrough
	case "ifname", "ruleset", "rnr", "srnr":
		fail("%s supported only on PF linktype", n.kw)
	}
	fail("%s", linkOnlyErrors[n.kw])
	return nil
}

// llc is gen_llc and its frame-type forms: "llc", "llc i|s|u", "llc SUBTYPE".
// The link check comes first, except that an unknown name is reported
// before it, as libpcap's grammar action does.
func (g *gen) llc(args []token) *frag {
	if len(args) == 0 {
		return g.llcFrame()
	}
	name := strings.ToLower(args[0].text)
	if name != "i" && name != "s" && name != "u" && !hasFold(llcSubtypes, name) {
		fail("unknown LLC type name \"%s\"", args[0].text)
	}
	f := g.llcFrame()
	control := uint32(g.offLinkPL) + 2
	switch name {
	case "i":
		return and(f, not(leaf([]stmt{ld(szB, control)}, jJSET, 1)))
	case "s":
		return and(f, mcmp(control, szB, 0x01, 0x03))
	case "u":
		return and(f, mcmp(control, szB, 0x03, 0x03))
	}
	v, mask := llcSubtypeValue(name)
	return and(f, mcmp(control, szB, v, mask))
}

// llcSubtypeValue is the control-field value of an LLC S or U frame type
// and the mask libpcap compares it under.
func llcSubtypeValue(name string) (uint32, uint32) {
	s := map[string]uint32{"rr": 0x01, "rnr": 0x05, "rej": 0x09}
	if v, ok := s[name]; ok {
		return v, 0x0f
	}
	u := map[string]uint32{"ui": 0x03, "ua": 0x63, "disc": 0x43, "dm": 0x0f, "sabme": 0x6f, "test": 0xe3, "xid": 0xaf, "frmr": 0x87}
	return u[name], 0xef
}

// llcFrame is gen_llc_internal: on Ethernet, an 802.3 length field and not
// Novell's raw 802.3 (0xffff where the LLC header would be).
func (g *gen) llcFrame() *frag {
	if g.link != layers.LinkEthernet {
		fail("'llc' not supported for %s", g.linkName)
	}
	typ := uint32(g.offLinkTyp)
	return and(not(ncmp(typ, szH, 0xffffffff, jJGT, false, etMTU)), not(cmp(uint32(g.offLinkPL), szH, 0xffff)))
}
