package filter

import (
	"net/netip"
	"strconv"
	"strings"
)

// tokKind is a token class of libpcap's scanner (scanner.l).
type tokKind int

const (
	tEOF  tokKind = iota
	tNum          // a number or a named constant (tcp-syn, icmptype, …)
	tID           // a name: host, service, protocol; also "\name"
	tHID          // dotted IPv4 (1 to 4 parts)
	tHID6         // IPv6 address
	tEID          // MAC address
	tKW           // keyword; text holds the canonical keyword
	tOp           // punctuation and operators; text holds it
)

type token struct {
	kind tokKind
	text string
	num  uint32
	// err is the scanner's complaint about the token (a number that
	// overflows, a malformed MAC address). libpcap records it when the
	// parser first reads the token, so an error found earlier wins.
	err error
}

// keywords are libpcap's reserved words; each maps to its canonical spelling.
var keywords = map[string]string{
	"dst": "dst", "src": "src", "host": "host", "gateway": "gateway", "net": "net",
	"mask": "mask", "port": "port", "portrange": "portrange", "proto": "proto",
	"protochain": "protochain",
	"link":       "ether", "ether": "ether", "ppp": "ether", "slip": "ether",
	"fddi": "ether", "tr": "ether", "wlan": "ether",
	"arp": "arp", "rarp": "rarp", "ip": "ip", "sctp": "sctp", "tcp": "tcp", "udp": "udp",
	"icmp": "icmp", "igmp": "igmp", "igrp": "igrp", "pim": "pim", "vrrp": "vrrp",
	"carp": "carp", "radio": "radio", "ip6": "ip6", "icmp6": "icmp6", "ah": "ah",
	"esp": "esp", "atalk": "atalk", "aarp": "aarp", "decnet": "decnet", "lat": "lat",
	"sca": "sca", "moprc": "moprc", "mopdl": "mopdl", "iso": "iso", "esis": "esis",
	"es-is": "esis", "isis": "isis", "is-is": "isis", "l1": "l1", "l2": "l2",
	"iih": "iih", "lsp": "lsp", "snp": "snp", "csnp": "csnp", "psnp": "psnp",
	"clnp": "clnp", "stp": "stp", "ipx": "ipx", "netbeui": "netbeui",
	"less": "less", "greater": "greater", "byte": "byte", "broadcast": "broadcast",
	"multicast": "multicast", "and": "and", "or": "or", "not": "not", "len": "len",
	"length": "len", "inbound": "inbound", "outbound": "outbound", "ifindex": "ifindex",
	"vlan": "vlan", "mpls": "mpls", "pppoed": "pppoed", "pppoes": "pppoes",
	"geneve": "geneve", "llc": "llc",
}

// namedNumbers are the scanner's constant names (pcap-filter(7)).
var namedNumbers = map[string]uint32{
	"icmptype": 0, "icmpcode": 1,
	"icmp-echoreply": 0, "icmp-unreach": 3, "icmp-sourcequench": 4, "icmp-redirect": 5,
	"icmp-echo": 8, "icmp-routeradvert": 9, "icmp-routersolicit": 10, "icmp-timxceed": 11,
	"icmp-paramprob": 12, "icmp-tstamp": 13, "icmp-tstampreply": 14, "icmp-ireq": 15,
	"icmp-ireqreply": 16, "icmp-maskreq": 17, "icmp-maskreply": 18,
	"icmp6type": 0, "icmp6code": 1,
	"icmp6-destinationunreach": 1, "icmp6-packettoobig": 2, "icmp6-timeexceeded": 3,
	"icmp6-parameterproblem": 4, "icmp6-echo": 128, "icmp6-echoreply": 129,
	"icmp6-multicastlistenerquery": 130, "icmp6-multicastlistenerreportv1": 131,
	"icmp6-multicastlistenerdone": 132, "icmp6-routersolicit": 133,
	"icmp6-routeradvert": 134, "icmp6-neighborsolicit": 135, "icmp6-neighboradvert": 136,
	"icmp6-redirect": 137, "icmp6-routerrenum": 138, "icmp6-nodeinformationquery": 139,
	"icmp6-nodeinformationresponse": 140, "icmp6-ineighbordiscoverysolicit": 141,
	"icmp6-ineighbordiscoveryadvert": 142, "icmp6-multicastlistenerreportv2": 143,
	"icmp6-homeagentdiscoveryrequest": 144, "icmp6-homeagentdiscoveryreply": 145,
	"icmp6-mobileprefixsolicit": 146, "icmp6-mobileprefixadvert": 147,
	"icmp6-certpathsolicit": 148, "icmp6-certpathadvert": 149,
	"icmp6-multicastrouteradvert": 151, "icmp6-multicastroutersolicit": 152,
	"icmp6-multicastrouterterm": 153,
	"tcpflags":                  13, "tcp-fin": 0x01, "tcp-syn": 0x02, "tcp-rst": 0x04, "tcp-push": 0x08,
	"tcp-ack": 0x10, "tcp-urg": 0x20, "tcp-ece": 0x40, "tcp-cwr": 0x80,
}

// errSyntax is the message bison's parser reports through libpcap.
const errSyntax = "can't parse filter expression: syntax error"

// lex splits expr into tokens with flex's longest-match rule as libpcap's
// scanner applies it (so "80-90" is one name and "2-2" is not arithmetic).
func lex(expr string) ([]token, error) {
	var toks []token
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '\\':
			j := i + 1
			for j < len(expr) && !strings.ContainsRune(" !()\n\t", rune(expr[j])) {
				j++
			}
			if j == i+1 {
				return nil, errorf(errSyntax)
			}
			toks = append(toks, token{kind: tID, text: expr[i+1 : j]})
			i = j
		case isWordStart(c) || c == ':':
			tok, n, err := lexWord(expr[i:])
			if err != nil {
				return nil, err
			}
			toks = append(toks, tok)
			i += n
		default:
			op := lexOp(expr[i:])
			if op == "" {
				return nil, errorf(errSyntax)
			}
			toks = append(toks, token{kind: tOp, text: op})
			i += len(op)
		}
	}
	return append(toks, token{kind: tEOF}), nil
}

func isWordStart(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isWordByte(c byte) bool {
	return isWordStart(c) || c == '-' || c == '_' || c == '.'
}

func lexOp(s string) string {
	for _, op := range []string{">=", "<=", "!=", "==", "<<", ">>", "&&", "||"} {
		if strings.HasPrefix(s, op) {
			return op
		}
	}
	if strings.ContainsRune("()[]:+-*/%&|^=<>!", rune(s[0])) {
		return s[:1]
	}
	return ""
}

// lexWord classifies the longest word at the start of s: an address with
// colons, a dotted IPv4 address, a number, a keyword, a MAC or a name.
func lexWord(s string) (token, int, error) {
	n := 0
	for n < len(s) && (isWordByte(s[n]) || s[n] == ':') {
		n++
	}
	if w := s[:n]; strings.Contains(w, ":") {
		if isMAC(w) {
			return token{kind: tEID, text: w}, n, nil
		}
		if _, err := netip.ParseAddr(w); err == nil {
			return token{kind: tHID6, text: w}, n, nil
		}
		if b := bogusMACLen(w); b > 0 {
			return token{kind: tEID, text: w[:b], err: errorf("bogus ethernet address %s", w[:b])}, b, nil
		}
		n = strings.IndexByte(w, ':')
		if n == 0 {
			return token{kind: tOp, text: ":"}, 1, nil
		}
	}
	// A name may not end in '-' or '_' (scanner.l's ID pattern).
	for n > 1 && (s[n-1] == '-' || s[n-1] == '_') {
		n--
	}
	w := s[:n]
	if kw, ok := keywords[w]; ok {
		return token{kind: tKW, text: kw}, n, nil
	}
	if kw, ok := linkOnlyKeywords[w]; ok {
		return token{kind: tKW, text: kw}, n, nil
	}
	if kw, ok := wlanDirKeywords[w]; ok {
		return token{kind: tKW, text: kw}, n, nil
	}
	if v, ok := namedNumbers[w]; ok {
		return token{kind: tNum, text: w, num: v}, n, nil
	}
	if isMAC(w) {
		return token{kind: tEID, text: w}, n, nil
	}
	if isNumber(w) {
		v, err := parseNumber(w)
		return token{kind: tNum, text: w, num: v, err: err}, n, nil
	}
	if isDotted(w) {
		return token{kind: tHID, text: w}, n, nil
	}
	return token{kind: tID, text: w}, n, nil
}

// bogusMACLen is the length of the longest prefix of w that libpcap's
// scanner takes for a malformed MAC address (1 or 2 hex digits and colons,
// twice or more, ending in a colon), or 0 when a MAC or IPv6 address prefix
// of at least that length wins flex's longest match (or there is none).
func bogusMACLen(w string) int {
	end, groups := 0, 0
	for i := 0; ; groups++ {
		j := i
		for j < len(w) && j-i < 2 && isHex(w[j:j+1]) {
			j++
		}
		if j == i || j == len(w) || w[j] != ':' {
			break
		}
		for j < len(w) && w[j] == ':' {
			j++
		}
		i, end = j, j
	}
	if groups < 2 {
		return 0
	}
	for n := len(w); n >= end; n-- {
		if _, err := netip.ParseAddr(w[:n]); err == nil || isMAC(w[:n]) {
			return 0
		}
	}
	return end
}

func isNumber(w string) bool {
	if strings.HasPrefix(w, "0x") || strings.HasPrefix(w, "0X") {
		return len(w) > 2 && strings.Trim(w[2:], "0123456789abcdefABCDEF") == ""
	}
	return strings.Trim(w, "0123456789") == ""
}

// parseNumber converts like libpcap's stoulen: 0x hex, leading 0 octal.
func parseNumber(w string) (uint32, error) {
	v, err := strconv.ParseUint(w, 0, 64)
	if err != nil {
		if strings.HasPrefix(w, "0") && !strings.HasPrefix(w, "0x") && !strings.HasPrefix(w, "0X") {
			return 0, errorf("number %s contains non-octal digit", w)
		}
		return 0, errorf("number %s overflows 32 bits", w)
	}
	if v > 0xffffffff {
		return 0, errorf("number %s overflows 32 bits", w)
	}
	return uint32(v), nil
}

// isDotted reports whether w is libpcap's HID: 2 to 4 numbers joined by dots.
func isDotted(w string) bool {
	parts := strings.Split(w, ".")
	if len(parts) < 2 || len(parts) > 4 {
		return false
	}
	for _, p := range parts {
		if p == "" || !isNumber(p) {
			return false
		}
	}
	return true
}

// isMAC accepts the MAC notations of libpcap's scanner.
func isMAC(w string) bool {
	_, ok := parseMAC(w)
	return ok
}

func parseMAC(w string) ([6]byte, bool) {
	var mac [6]byte
	hexes := ""
	switch {
	case strings.Count(w, ":") == 5 || strings.Count(w, "-") == 5 || strings.Count(w, ".") == 5:
		sep := w[strings.IndexAny(w, ":-.")]
		for _, p := range strings.Split(w, string(sep)) {
			if len(p) < 1 || len(p) > 2 || !isHex(p) {
				return mac, false
			}
			hexes += strings.Repeat("0", 2-len(p)) + p
		}
	case len(w) == 12 && isHex(w): // flex's MAC rule wins over NUM at equal length
		hexes = w
	case strings.Count(w, ".") == 2 && len(w) == 14:
		for _, p := range strings.Split(w, ".") {
			if len(p) != 4 || !isHex(p) {
				return mac, false
			}
			hexes += p
		}
	default:
		return mac, false
	}
	for i := range mac {
		v, _ := strconv.ParseUint(hexes[2*i:2*i+2], 16, 8)
		mac[i] = byte(v)
	}
	return mac, true
}

func isHex(s string) bool {
	return s != "" && strings.Trim(s, "0123456789abcdefABCDEF") == ""
}
