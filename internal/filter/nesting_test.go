package filter

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/bpflow/bpflow/internal/layers"
)

// TestNestingLimit: deep nesting parses in linear time and fails where
// libpcap's parser stack runs out, with its message.
func TestNestingLimit(t *testing.T) {
	requireTcpdump(t)
	for _, e := range []string{
		strings.Repeat("(", 9995) + "tcp" + strings.Repeat(")", 9995),
		strings.Repeat("(", 9996) + "tcp" + strings.Repeat(")", 9996),
		strings.Repeat("not ", 9996) + "tcp",
		strings.Repeat("not ", 9997) + "tcp",
		strings.Repeat("(", 5000) + "1" + strings.Repeat(")", 5000) + " = 1",
	} {
		out, err := exec.Command("tcpdump", "-d", "-y", "EN10MB", "--", e).CombinedOutput()
		want := ""
		if err != nil {
			want = strings.TrimSpace(strings.TrimPrefix(string(out), "tcpdump: "))
		}
		got := ""
		if _, err := Compile(e, layers.LinkEthernet); err != nil {
			got = err.Error()
		}
		if got != want {
			t.Errorf("%s…%s (%d bytes): got error %q, tcpdump %q", e[:8], e[len(e)-8:], len(e), got, want)
		}
	}
}
