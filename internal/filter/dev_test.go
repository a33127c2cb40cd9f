package filter

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/bpflow/bpflow/internal/layers"
)

func TestDevDump(t *testing.T) {
	expr := os.Getenv("DEVEXPR")
	if expr == "" {
		t.Skip()
	}
	lt := map[string]layers.LinkType{"EN10MB": 1, "RAW": 101, "NULL": 0, "LOOP": 108, "LINUX_SLL": 113, "LINUX_SLL2": 276}
	name := os.Getenv("DEVLINK")
	if name == "" {
		name = "EN10MB"
	}
	p, err := Compile(expr, lt[name])
	var sb strings.Builder
	if err != nil {
		sb.WriteString("tcpdump: " + err.Error() + "\n")
	} else {
		p.Dump(&sb, "asm")
	}
	out, _ := exec.Command("tcpdump", "-O", "-d", "-y", name, expr).CombinedOutput()
	if sb.String() != string(out) {
		t.Errorf("mine:\n%s\ntcpdump:\n%s", sb.String(), out)
	}
}
