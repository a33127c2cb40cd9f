//go:build !linux

package output

import "golang.org/x/sys/unix"

// futimes sets fd's access and modification times.
func futimes(fd int, ts unix.Timespec) error {
	tv := unix.NsecToTimeval(unix.TimespecToNsec(ts))
	return unix.Futimes(fd, []unix.Timeval{tv, tv})
}
