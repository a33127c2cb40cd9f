package filter

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/net/bpf"

	"github.com/bpflow/bpflow/internal/layers"
)

// TestDumpFormat feeds libpcap's own programs (from tcpdump -ddd) through Dump
// and requires byte-identical output to tcpdump -d, -dd and -ddd.
func TestDumpFormat(t *testing.T) {
	requireTcpdump(t)
	exprs := []string{
		"tcp port 80", "host 1.2.3.4 and not port 22", "vlan 100 and udp",
		"tcp[((tcp[12]&0xf0)>>2):4] = 0x47455420", "len - 14 > 40 and ip[0] * 2 = 138",
		"ether[0] & 1 != 0 or ip6 multicast", "ip[2:2] / 2 % ip[1] << 1 >> 1 ^ 3 | 4 = 9", "less 60 or greater 1000",
		strings.Repeat("port 1 or ", 30) + "port 2",
	}
	for _, e := range exprs {
		raw := tcpdumpOut(t, "-ddd", e)
		var insns []bpf.RawInstruction
		lines := strings.Split(strings.TrimSpace(raw), "\n")
		for _, l := range lines[1:] {
			var in bpf.RawInstruction
			if _, err := fmt.Sscanf(l, "%d %d %d %d", &in.Op, &in.Jt, &in.Jf, &in.K); err != nil {
				t.Fatalf("parse tcpdump -ddd line %q: %v", l, err)
			}
			insns = append(insns, in)
		}
		p := &Program{link: layers.LinkEthernet, insns: insns}
		for format, flag := range map[string]string{"asm": "-d", "c": "-dd", "decimal": "-ddd"} {
			var b bytes.Buffer
			if err := p.Dump(&b, format); err != nil {
				t.Fatal(err)
			}
			if want := tcpdumpOut(t, flag, e); b.String() != want {
				t.Errorf("%q: Dump(%s) differs from tcpdump %s:\n%s\nwant:\n%s", e, format, flag, b.String(), want)
			}
		}
	}
}

func tcpdumpOut(t *testing.T, flag, expr string) string {
	out, err := exec.Command("tcpdump", flag, "-y", "EN10MB", "--", expr).Output()
	if err != nil {
		t.Fatalf("tcpdump %s %q: %v", flag, expr, err)
	}
	return string(out)
}
