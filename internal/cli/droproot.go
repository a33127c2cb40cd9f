package cli

import (
	"fmt"
	"os/user"
	"strconv"

	"golang.org/x/sys/unix"
)

// dropRoot is tcpflow's -U/-z, run after each input is opened as 1.6.1
// does: chown the report to the user, chroot when asked, then change to
// the user's groups and ids. It returns false after reporting a fatal error.
func (s *session) dropRoot() bool {
	c := s.c
	if c.user == "" {
		return true
	}
	u, err := user.Lookup(c.user)
	if err != nil {
		s.errln(fmt.Sprintf("%s: Couldn't find user '%.32s'", s.prog, c.user))
		return false
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if s.reportPath != "" {
		if err := unix.Chown(s.reportPath, uid, gid); err != nil {
			s.errln(fmt.Sprintf("%s: Coudln't change owner of '%.64s' to %s (uid %d): %s",
				s.prog, s.reportPath, c.user, uid, strerror(err)))
			return false
		}
	}
	if c.chroot != "" {
		if err := chroot(c.chroot); err != nil {
			s.errln(fmt.Sprintf("%s: Couldn't chroot/chdir to '%.64s': %s", s.prog, c.chroot, strerror(err)))
			return false
		}
	}
	if err := changeIDs(u, uid, gid); err != nil {
		s.errln(fmt.Sprintf("%s: Couldn't change to '%.32s' uid=%d gid=%d: %s", s.prog, c.user, uid, gid, strerror(err)))
		return false
	}
	s.errln("dropped privs to " + c.user)
	return true
}

func chroot(dir string) error {
	if err := unix.Chroot(dir); err != nil {
		return err
	}
	return unix.Chdir("/")
}

// changeIDs is initgroups + setgid + setuid.
func changeIDs(u *user.User, uid, gid int) error {
	groups := []int{gid}
	if ids, err := u.GroupIds(); err == nil {
		for _, g := range ids {
			if n, err := strconv.Atoi(g); err == nil && n != gid {
				groups = append(groups, n)
			}
		}
	}
	if err := unix.Setgroups(groups); err != nil {
		return err
	}
	if err := unix.Setgid(gid); err != nil {
		return err
	}
	return unix.Setuid(uid)
}
