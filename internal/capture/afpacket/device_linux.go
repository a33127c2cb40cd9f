//go:build linux

package afpacket

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/bpflow/bpflow/internal/layers"
)

// device is the capture interface and the frame format libpcap would give
// for it.
type device struct {
	name     string
	ifindex  int    // 0 for "any"
	hatype   uint16 // ARPHRD_*
	linkType layers.LinkType
	// cooked: open SOCK_DGRAM and build SLL headers (no usable link header).
	cooked     bool
	vlanOffset int
	// loIfindex is the loopback device whose outgoing copies are skipped.
	loIfindex int32
}

// lookupDevice resolves -i in the calling thread's network namespace. Its
// errors are worded as libpcap's, which tcpflow prints; they are checked in
// libpcap's order (permission first).
func lookupDevice(name string) (device, error) {
	if err := checkPermission(name); err != nil {
		return device{}, err
	}
	if name == "any" {
		return device{name: name, linkType: layers.LinkLinuxSLL, cooked: true, vlanOffset: sllHdrLen - 2, loIfindex: loopbackIndex()}, nil
	}
	info, err := queryInterface(name)
	if errors.Is(err, unix.ENODEV) || errors.Is(err, unix.EINVAL) {
		return device{}, &Error{Device: name, Msg: "No such device exists (No such device exists)", Err: ErrNoSuchDevice}
	}
	if err != nil {
		return device{}, err
	}
	if info.flags&unix.IFF_UP == 0 {
		return device{}, &Error{Device: name, Msg: "That device is not up", Err: ErrNotUp}
	}
	hatype := info.hatype
	d := device{name: name, ifindex: info.ifindex, hatype: hatype}
	switch hatype {
	case unix.ARPHRD_ETHER, unix.ARPHRD_LOOPBACK:
		d.linkType, d.vlanOffset = layers.LinkEthernet, 12
	case unix.ARPHRD_NONE, unix.ARPHRD_RAWIP:
		d.linkType, d.vlanOffset = layers.LinkRaw, -1
	default:
		// libpcap captures cooked on every device whose header it does not map.
		d.linkType, d.cooked, d.vlanOffset = layers.LinkLinuxSLL, true, sllHdrLen-2
	}
	if hatype == unix.ARPHRD_LOOPBACK {
		d.loIfindex = int32(info.ifindex)
	}
	return d, nil
}

// checkPermission opens a packet socket the way libpcap does first, so a
// missing CAP_NET_RAW is reported before anything else.
func checkPermission(name string) error {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return socketError(name, err)
	}
	return unix.Close(fd)
}

// socketError words a failed socket(2) as libpcap does.
func socketError(name string, err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return &Error{Device: name, Msg: "You don't have permission to perform this capture on that device (socket: " + strerror(err) + ")", Err: ErrPermission}
	}
	return &Error{Device: name, Msg: "socket: " + strerror(err), Err: err}
}

// strerror is the C library's wording of an errno: capitalised.
func strerror(err error) string {
	var errno unix.Errno
	if !errors.As(err, &errno) {
		return err.Error()
	}
	s := errno.Error()
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// ifInfo is what the kernel says about an interface.
type ifInfo struct {
	ifindex int
	flags   uint16 // IFF_*
	hatype  uint16 // ARPHRD_*
}

// queryInterface asks the kernel for an interface's index, flags and
// hardware type with ioctls on a throwaway socket in the calling thread's
// namespace. An unknown name fails with ENODEV (EINVAL when too long).
func queryInterface(name string) (ifInfo, error) {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return ifInfo{}, err
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return ifInfo{}, fmt.Errorf("open socket to query %s: %w", name, err)
	}
	defer unix.Close(fd)
	var info ifInfo
	for _, q := range []struct {
		req  uint
		what string
		set  func()
	}{
		{unix.SIOCGIFINDEX, "index", func() { info.ifindex = int(ifr.Uint32()) }},
		{unix.SIOCGIFFLAGS, "flags", func() { info.flags = ifr.Uint16() }},
		// ifr_hwaddr.sa_family, in host byte order, holds the ARPHRD type.
		{unix.SIOCGIFHWADDR, "hardware type", func() { info.hatype = ifr.Uint16() }},
	} {
		if err := unix.IoctlIfreq(fd, q.req, ifr); err != nil {
			return ifInfo{}, fmt.Errorf("query %s of %s: %w", q.what, name, err)
		}
		q.set()
	}
	return info, nil
}

// loopbackIndex finds "lo", the device libpcap skips outgoing copies on.
func loopbackIndex() int32 {
	info, err := queryInterface("lo")
	if err != nil {
		return 0
	}
	return int32(info.ifindex)
}
