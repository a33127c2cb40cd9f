//go:build !linux

package output

import "fmt"

// SemLock is tcpflow's -L named semaphore; only Linux has it here.
type SemLock struct{}

// OpenSemLock reports that -L is not available on this system.
func OpenSemLock(name string) (*SemLock, error) {
	return nil, fmt.Errorf("open semaphore %q: -L is only supported on Linux", name)
}

// Lock does nothing.
func (*SemLock) Lock() {}

// Unlock does nothing.
func (*SemLock) Unlock() {}
