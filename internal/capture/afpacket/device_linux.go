//go:build linux

package afpacket

import (
	"errors"
	"fmt"
	"net"

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

// errNotUp matches libpcap's refusal to capture on a device that is down.
var errNotUp = errors.New("that device is not up")

// lookupDevice resolves -i in the calling thread's network namespace.
func lookupDevice(name string) (device, error) {
	if name == "any" {
		return device{name: name, linkType: layers.LinkLinuxSLL, cooked: true, vlanOffset: sllHdrLen - 2, loIfindex: loopbackIndex()}, nil
	}
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return device{}, fmt.Errorf("look up capture interface %s: %w", name, err)
	}
	if ifc.Flags&net.FlagUp == 0 {
		return device{}, fmt.Errorf("capture on %s: %w", name, errNotUp)
	}
	hatype, err := hardwareType(name)
	if err != nil {
		return device{}, err
	}
	d := device{name: name, ifindex: ifc.Index, hatype: hatype}
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
		d.loIfindex = int32(ifc.Index)
	}
	return d, nil
}

// hardwareType asks the kernel for the interface's ARPHRD_* type
// (SIOCGIFHWADDR), through a throwaway socket in the same namespace.
func hardwareType(name string) (uint16, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("open socket to query %s: %w", name, err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, fmt.Errorf("query hardware type of %s: %w", name, err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFHWADDR, ifr); err != nil {
		return 0, fmt.Errorf("query hardware type of %s (SIOCGIFHWADDR): %w", name, err)
	}
	// ifr_hwaddr.sa_family, in host byte order, holds the ARPHRD type.
	return ifr.Uint16(), nil
}

// loopbackIndex finds "lo", the device libpcap skips outgoing copies on.
func loopbackIndex() int32 {
	ifc, err := net.InterfaceByName("lo")
	if err != nil {
		return 0
	}
	return int32(ifc.Index)
}
