package output

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// futimes sets fd's access and modification times. x/sys's Futimes goes
// through /proc/self/fd, which is missing after -z's chroot; utimensat with
// a NULL path works on the descriptor itself.
func futimes(fd int, ts unix.Timespec) error {
	times := [2]unix.Timespec{ts, ts}
	_, _, errno := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&times[0])), 0, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}
