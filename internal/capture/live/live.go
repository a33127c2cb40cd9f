// Package live opens the live capture source for the running OS: eBPF at TC or
// AF_PACKET on Linux (--capture=auto|ebpf|afpacket), /dev/bpf on macOS. It also
// picks the default interface the way libpcap does when -i is not given.
package live

import (
	"cmp"
	"fmt"
	"net"
	"runtime"
	"slices"
)

// Methods accepted by --capture.
const (
	MethodAuto     = "auto"
	MethodEBPF     = "ebpf"
	MethodAFPacket = "afpacket"
)

// errNoDevice matches libpcap's message when no interface qualifies.
const errNoDevice = "no suitable device found"

// DefaultInterface returns the interface tcpflow (through libpcap's
// pcap_lookupdev) captures on when -i is not given: the first entry of
// pcap_findalldevs, refused if it is a loopback device. On Linux that list
// holds the "any" pseudo-device, ranked after every running non-loopback
// interface, so a host (or namespace) without one captures on "any".
func DefaultInterface() (string, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return "", fmt.Errorf("list network interfaces for the default capture device: %w", err)
	}
	name, ok := pickDefault(ifs, runtime.GOOS == "linux")
	if !ok {
		return "", fmt.Errorf("find default capture device: %s", errNoDevice)
	}
	return name, nil
}

// candidate is a pcap_findalldevs entry: a name and its figure of merit.
type candidate struct {
	name     string
	merit    uint32
	loopback bool
}

// Figure-of-merit bits of libpcap 1.10 (lower sorts first).
const (
	meritNotRunning   = 0x80000000
	meritNotUp        = 0x40000000
	meritDisconnected = 0x20000000
	meritLoopback     = 0x10000000
	meritAny          = 0x08000000
)

// pickDefault orders the interfaces as pcap_findalldevs does (a stable sort
// by figure of merit over the kernel's ifindex order, which is the order
// getifaddrs reports them) and returns the first unless it is loopback.
func pickDefault(ifs []net.Interface, withAny bool) (string, bool) {
	cands := make([]candidate, 0, len(ifs)+1)
	for _, ifc := range ifs {
		cands = append(cands, candidate{ifc.Name, figureOfMerit(ifc.Flags), ifc.Flags&net.FlagLoopback != 0})
	}
	if withAny {
		cands = append(cands, candidate{name: "any", merit: meritAny})
	}
	if len(cands) == 0 {
		return "", false
	}
	best := slices.MinFunc(cands, func(a, b candidate) int { return cmp.Compare(a.merit, b.merit) })
	if best.loopback {
		return "", false
	}
	return best.name, true
}

// figureOfMerit is libpcap 1.10's get_figure_of_merit. libpcap learns
// "disconnected" from ETHTOOL_GLINK, the carrier state, which is also what
// IFF_RUNNING reflects; loopback devices have no connection status.
func figureOfMerit(flags net.Flags) uint32 {
	var n uint32
	running := flags&net.FlagRunning != 0
	loopback := flags&net.FlagLoopback != 0
	if !running {
		n |= meritNotRunning
	}
	if flags&net.FlagUp == 0 {
		n |= meritNotUp
	}
	if !running && !loopback {
		n |= meritDisconnected
	}
	if loopback {
		n |= meritLoopback
	}
	return n
}
