// Package testutil holds helpers shared by bpflow's tests: RequireBPF for
// tests that need root and the kernel's BPF, and network namespaces with veth
// pairs for live-capture tests.
package testutil

import (
	"os"
	"testing"
)

// RequireBPF skips t, saying why, unless the process may load and attach BPF
// programs (root with BPF in the kernel). With BPFLOW_REQUIRE_BPF=1 (set in
// CI) the skip becomes a failure, so a CI run can never pass by skipping.
func RequireBPF(t testing.TB) {
	t.Helper()
	reason := bpfUnavailable()
	if reason == "" {
		return
	}
	if os.Getenv("BPFLOW_REQUIRE_BPF") == "1" {
		t.Fatalf("BPFLOW_REQUIRE_BPF=1 but BPF is unavailable: %s", reason)
	}
	t.Skipf("needs root and BPF: %s (set BPFLOW_REQUIRE_BPF=1 to make this a failure)", reason)
}
