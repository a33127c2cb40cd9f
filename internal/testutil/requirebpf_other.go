//go:build !linux

package testutil

import "runtime"

func bpfUnavailable() string {
	return "eBPF capture exists only on Linux, not " + runtime.GOOS
}
