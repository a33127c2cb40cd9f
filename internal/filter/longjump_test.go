package filter

import (
	"strconv"
	"strings"
	"testing"

	"github.com/bpflow/bpflow/internal/layers"
)

// TestLongJumps checks that an expression whose program needs jumps longer
// than 255 instructions gets "ja" trampolines; what it matches is checked
// against tcpdump by the differential corpus (the same expression is there).
func TestLongJumps(t *testing.T) {
	var ports []string
	for p := 1; p <= 40; p++ {
		ports = append(ports, "port "+strconv.Itoa(p))
	}
	p, err := Compile(strings.Join(ports, " or "), layers.LinkEthernet)
	if err != nil {
		t.Fatal(err)
	}
	raw := p.Raw()
	ja := 0
	for _, in := range raw {
		if in.Op == opJMP|jJA {
			ja++
		}
	}
	if len(raw) <= 256 || ja == 0 {
		t.Fatalf("want a program over 256 instructions with ja trampolines, got %d instructions, %d ja", len(raw), ja)
	}
	if _, err := p.CBPF(); err != nil {
		t.Fatal(err)
	}
}
