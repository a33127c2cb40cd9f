package flow

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/bpflow/bpflow/internal/testutil"
)

// TestAppendNtopMatchesGlibc compares with glibc's inet_ntop through
// python3's socket.inet_ntop (the oracle), which calls it.
func TestAppendNtopMatchesGlibc(t *testing.T) {
	testutil.RequireTool(t, "python3")
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal(err)
	}
	addrs := []string{"::1", "::", "::2:3", "::ffff:1.2.3.4", "::1:2:3", "::102:304", "1::", "::ffff:0:1.2.3.4",
		"2001:db8::1", "fe80::1", "2001:db8:0:1::2", "::0.0.0.2", "1:0:0:1::", "0:0:1::"}
	script := "import socket,sys\nfor a in sys.argv[1:]: print(socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, a)))"
	out, err := exec.Command(py, append([]string{"-c", script}, addrs...)...).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Fields(string(out))
	for i, a := range addrs {
		if got := string(AppendNtop(nil, netip.MustParseAddr(a))); got != want[i] {
			t.Errorf("AppendNtop(%s) = %s, glibc says %s", a, got, want[i])
		}
	}
}
