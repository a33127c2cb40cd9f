package testutil

import (
	"os"
	"os/exec"
	"testing"
)

// RequireTool skips t when the oracle program name (tcpdump, tcpflow …) is
// not installed. With BPFLOW_REQUIRE_BPF=1 (CI, which installs the oracles)
// the skip becomes a failure, as in RequireBPF.
func RequireTool(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("BPFLOW_REQUIRE_BPF") == "1" {
			t.Fatalf("%s is this test's oracle and is not installed: %v", name, err)
		}
		t.Skipf("%s not installed: %v", name, err)
	}
}
