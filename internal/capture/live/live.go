// Package live opens the live capture source for the running OS: eBPF at TC or
// AF_PACKET on Linux (--capture=auto|ebpf|afpacket), /dev/bpf on macOS. It also
// picks the default interface the way libpcap does when -i is not given.
package live

import (
	"fmt"
	"net"
	"slices"
	"strconv"
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
// pcap_findalldevs once the pseudo-devices are left out, refused if it is a
// loopback device.
func DefaultInterface() (string, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return "", fmt.Errorf("list network interfaces for the default capture device: %w", err)
	}
	name, ok := pickDefault(ifs)
	if !ok {
		return "", fmt.Errorf("find default capture device: %s", errNoDevice)
	}
	return name, nil
}

// pickDefault orders interfaces by libpcap's figure of merit (a stable sort
// over the kernel's order, which is the order getifaddrs reports them) and
// returns the best one unless it is a loopback device.
func pickDefault(ifs []net.Interface) (string, bool) {
	if len(ifs) == 0 {
		return "", false
	}
	sorted := slices.Clone(ifs)
	slices.SortStableFunc(sorted, func(a, b net.Interface) int {
		ma, mb := figureOfMerit(a), figureOfMerit(b)
		switch {
		case ma < mb:
			return -1
		case ma > mb:
			return 1
		}
		return 0
	})
	best := sorted[0]
	if best.Flags&net.FlagLoopback != 0 {
		return "", false
	}
	return best.Name, true
}

// figureOfMerit mirrors libpcap 1.10's ranking: lower is better. The number at
// the end of the name is the base (eth0 before eth1); not running, not up,
// disconnected and loopback each push a device behind all better ones.
// libpcap learns "disconnected" from ETHTOOL_GLINK, which reports the carrier;
// the carrier is what IFF_RUNNING reflects, so !running stands for it.
func figureOfMerit(ifc net.Interface) uint32 {
	n := trailingNumber(ifc.Name)
	running := ifc.Flags&net.FlagRunning != 0
	if !running {
		n |= 0x80000000
	}
	if ifc.Flags&net.FlagUp == 0 {
		n |= 0x40000000
	}
	loopback := ifc.Flags&net.FlagLoopback != 0
	if !running && !loopback {
		n |= 0x20000000
	}
	if loopback {
		n |= 0x10000000
	}
	return n
}

// trailingNumber is the decimal number a name ends with (0 if none), kept
// below the flag bits as libpcap's atoi result effectively is for real names.
func trailingNumber(name string) uint32 {
	i := len(name)
	for i > 0 && name[i-1] >= '0' && name[i-1] <= '9' {
		i--
	}
	v, err := strconv.ParseUint(name[i:], 10, 28)
	if err != nil {
		return 0
	}
	return uint32(v)
}
