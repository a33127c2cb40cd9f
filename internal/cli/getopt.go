package cli

import (
	"os"
	"strings"
)

// getopt is a hand-written GNU getopt_long: pflag cannot reproduce glibc's
// argument permutation, its messages or tcpflow's order-dependent options.

// argKind says whether an option takes an argument.
type argKind int

const (
	noArg argKind = iota
	requiredArg
)

type longOpt struct {
	name string
	kind argKind
	// short is the equivalent short option, or 0 for bpflow's own options.
	short byte
}

// option is one parsed option: Short is set for short options and long
// options with a short equivalent, Long for bpflow's long-only options.
// Short is '?' for an error (already reported).
type option struct {
	Short byte
	Long  string
	Arg   string
}

type getopt struct {
	prog      string
	shorts    string
	longs     []longOpt
	warn      func(string)
	args      []string // argv without argv[0]
	operands  []string
	i         int
	next      string // remaining characters of a short-option cluster
	posixMode bool
	done      bool
}

func newGetopt(argv []string, shorts string, longs []longOpt, warn func(string)) *getopt {
	g := &getopt{prog: argv[0], shorts: shorts, longs: longs, warn: warn, args: argv[1:]}
	if strings.HasPrefix(shorts, "+") || os.Getenv("POSIXLY_CORRECT") != "" {
		g.posixMode = true
		g.shorts = strings.TrimPrefix(shorts, "+")
	}
	return g
}

// Next returns the next option, or ok=false at the end. Operands are
// collected (permuted to the end, as glibc does) and returned by Operands.
func (g *getopt) Next() (opt option, ok bool) {
	if g.next != "" {
		return g.short(), true
	}
	for !g.done && g.i < len(g.args) {
		a := g.args[g.i]
		switch {
		case a == "--":
			g.i++
			g.done = true
		case strings.HasPrefix(a, "--"):
			g.i++
			return g.long(a[2:]), true
		case len(a) > 1 && a[0] == '-':
			g.i++
			g.next = a[1:]
			return g.short(), true
		default:
			if g.posixMode {
				g.done = true
				continue
			}
			g.operands = append(g.operands, a)
			g.i++
		}
	}
	return option{}, false
}

// Operands returns the non-option arguments in order.
func (g *getopt) Operands() []string {
	return append(g.operands, g.args[g.i:]...)
}

func (g *getopt) short() option {
	c := g.next[0]
	g.next = g.next[1:]
	idx := strings.IndexByte(g.shorts, c)
	if idx < 0 || c == ':' {
		g.warn(g.prog + ": invalid option -- '" + string(c) + "'")
		return option{Short: '?'}
	}
	if idx+1 < len(g.shorts) && g.shorts[idx+1] == ':' {
		if g.next != "" {
			arg := g.next
			g.next = ""
			return option{Short: c, Arg: arg}
		}
		if g.i < len(g.args) {
			arg := g.args[g.i]
			g.i++
			return option{Short: c, Arg: arg}
		}
		g.warn(g.prog + ": option requires an argument -- '" + string(c) + "'")
		return option{Short: '?'}
	}
	return option{Short: c}
}

func (g *getopt) long(s string) option {
	name, arg, hasArg := strings.Cut(s, "=")
	var match *longOpt
	var candidates []*longOpt
	for i := range g.longs {
		l := &g.longs[i]
		if l.name == name {
			match = l
			candidates = nil
			break
		}
		if strings.HasPrefix(l.name, name) {
			candidates = append(candidates, l)
		}
	}
	if match == nil {
		switch len(candidates) {
		case 0:
			g.warn(g.prog + ": unrecognized option '--" + s + "'")
			return option{Short: '?'}
		case 1:
			match = candidates[0]
		default:
			msg := g.prog + ": option '--" + name + "' is ambiguous; possibilities:"
			for _, c := range candidates {
				msg += " '--" + c.name + "'"
			}
			g.warn(msg)
			return option{Short: '?'}
		}
	}
	switch match.kind {
	case noArg:
		if hasArg {
			g.warn(g.prog + ": option '--" + match.name + "' doesn't allow an argument")
			return option{Short: '?'}
		}
	case requiredArg:
		if !hasArg {
			if g.i >= len(g.args) {
				g.warn(g.prog + ": option '--" + match.name + "' requires an argument")
				return option{Short: '?'}
			}
			arg = g.args[g.i]
			g.i++
		}
	}
	if match.short != 0 {
		return option{Short: match.short, Arg: arg}
	}
	return option{Long: match.name, Arg: arg}
}
