package cli

import (
	"strings"
	"testing"
)

// FuzzGetopt parses arbitrary command lines: no panic, every argument is
// consumed exactly once (as an option, an option argument or an operand).
func FuzzGetopt(f *testing.F) {
	for _, s := range []string{"-cD -b5 -- x", "--ver --help=3 -", "-T %A%", "-S a=b -r f port 80", "--chr=x -Fkt -h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		args := append([]string{"tcpflow"}, strings.Fields(line)...)
		g := newGetopt(args, tcpflowShorts, longOptions, func(string) {})
		for {
			if _, ok := g.Next(); !ok {
				break
			}
		}
		if ops := g.Operands(); len(ops) > len(args)-1 {
			t.Fatalf("%d operands from %d arguments", len(ops), len(args)-1)
		}
	})
}
