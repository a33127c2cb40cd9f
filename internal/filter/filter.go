// Package filter compiles tcpdump's filter language (pcap-filter(7)) the way
// libpcap 1.10.3 does, without libpcap: expression → parser (libpcap's grammar
// and quirks) → syntax tree → libpcap-style block IR → back ends. The cBPF back
// end feeds SO_ATTACH_FILTER/BIOCSETF and this package's interpreter (which,
// unlike golang.org/x/net/bpf's VM, knows the wire length); the eBPF back end
// is spliced into the TC capture program.
package filter

import (
	"errors"
	"fmt"
	"io"

	"golang.org/x/net/bpf"

	"github.com/bpflow/bpflow/internal/layers"
)

// Program is a compiled filter for one link type.
type Program struct {
	link  layers.LinkType
	insns []bpf.RawInstruction
}

// Compile parses and checks expr for frames of the given link type. An empty
// expr matches everything. Errors carry libpcap's message (for example
// "can't parse filter expression: syntax error" or "illegal port number 70000 > 65535").
func Compile(expr string, link layers.LinkType) (prog *Program, err error) {
	tree, err := parse(expr)
	if err != nil {
		return nil, err
	}
	g, err := newGen(link)
	if err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			var ce *compileError
			e, ok := r.(error)
			if !ok || !errors.As(e, &ce) {
				panic(r)
			}
			prog, err = nil, ce
		}
	}()
	accept := &block{ret: true, k: verdictMatch}
	reject := &block{ret: true, k: 0}
	head := accept
	if tree != nil {
		root := g.walk(tree)
		patch(root.t, accept)
		patch(root.f, reject)
		if head, err = optimize(root.head, reject); err != nil {
			return nil, err
		}
		internBlocks(head)
		dropReloads(head)
	}
	return &Program{link: link, insns: layout(head, accept, reject)}, nil
}

// Match runs the interpreter: data = captured bytes, wireLen = original length
// (libpcap's `len`).
func (p *Program) Match(data []byte, wireLen uint32) bool {
	return run(p.insns, data, wireLen) != 0
}

// CBPF returns the program as classic BPF (golang.org/x/net/bpf), for
// SO_ATTACH_FILTER / BIOCSETF.
func (p *Program) CBPF() ([]bpf.Instruction, error) {
	insns, ok := bpf.Disassemble(p.insns)
	if !ok {
		return nil, fmt.Errorf("disassemble compiled filter (%d instructions): unknown opcode", len(p.insns))
	}
	return insns, nil
}

// Raw returns the classic BPF program in its wire form.
func (p *Program) Raw() []bpf.RawInstruction { return append([]bpf.RawInstruction(nil), p.insns...) }

// LinkType is the link type the program was compiled for.
func (p *Program) LinkType() layers.LinkType { return p.link }

// Dump writes the cBPF program like tcpdump -d ("asm"), -dd ("c") or -ddd ("decimal").
func (p *Program) Dump(w io.Writer, format string) error {
	var err error
	switch format {
	case "asm":
		for i, in := range p.insns {
			if _, err = fmt.Fprintln(w, image(in, i)); err != nil {
				break
			}
		}
	case "c":
		for _, in := range p.insns {
			if _, err = fmt.Fprintf(w, "{ 0x%x, %d, %d, 0x%08x },\n", in.Op, in.Jt, in.Jf, in.K); err != nil {
				break
			}
		}
	case "decimal":
		_, err = fmt.Fprintf(w, "%d\n", len(p.insns))
		for _, in := range p.insns {
			if err != nil {
				break
			}
			_, err = fmt.Fprintf(w, "%d %d %d %d\n", in.Op, in.Jt, in.Jf, in.K)
		}
	default:
		return fmt.Errorf("dump filter as %q: want asm, c or decimal", format)
	}
	if err != nil {
		return fmt.Errorf("dump filter: %w", err)
	}
	return nil
}
