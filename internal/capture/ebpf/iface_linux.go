package ebpf

import (
	"errors"
	"fmt"
	"net"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/bpflow/bpflow/internal/layers"
)

// iface is one interface bpflow may capture on.
type iface struct {
	index  int
	name   string
	hatype uint16 // ARPHRD_* (the cooked header's device type)
	// l3 devices have no link header at TC (tun, WireGuard, ip tunnels):
	// libpcap gives raw IP for them.
	l3       bool
	loopback bool
}

// linkTypeOf is what libpcap delivers on a single interface of this kind.
func (i iface) linkType() layers.LinkType {
	if i.l3 {
		return layers.LinkRaw
	}
	return layers.LinkEthernet
}

// encapTypes maps netlink's device type names to ARPHRD numbers and whether
// the device has an Ethernet header at TC. Other kinds are not captured.
var encapTypes = map[string]struct {
	hatype uint16
	l3     bool
}{
	"ether":    {arphrdEther, false},
	"loopback": {arphrdLoopback, false},
	"none":     {65534, true}, // tun, WireGuard
	"ipip":     {768, true},
	"tunnel6":  {769, true},
	"sit":      {776, true},
}

var errUnsupportedDevice = errors.New("device type not supported by the eBPF capture")

func classify(l netlink.Link) (iface, error) {
	a := l.Attrs()
	kind, ok := encapTypes[a.EncapType]
	if !ok {
		return iface{}, fmt.Errorf("capture on %s (ifindex %d, type %q): %w", a.Name, a.Index, a.EncapType, errUnsupportedDevice)
	}
	return iface{
		index: a.Index, name: a.Name, hatype: kind.hatype, l3: kind.l3,
		loopback: a.EncapType == "loopback" || a.Flags&net.FlagLoopback != 0,
	}, nil
}

// lookupIface finds the -i interface, or with an empty name the one libpcap
// would pick: the first interface that is up and not loopback.
func lookupIface(h *netlink.Handle, name string) (iface, error) {
	if name != "" {
		l, err := h.LinkByName(name)
		if err != nil {
			return iface{}, fmt.Errorf("find interface %q: %w", name, err)
		}
		return classify(l)
	}
	links, err := h.LinkList()
	if err != nil {
		return iface{}, fmt.Errorf("list interfaces to pick a default: %w", err)
	}
	slices.SortFunc(links, func(a, b netlink.Link) int { return a.Attrs().Index - b.Attrs().Index })
	for _, l := range links {
		a := l.Attrs()
		if a.Flags&net.FlagUp == 0 || a.Flags&net.FlagLoopback != 0 {
			continue
		}
		if i, err := classify(l); err == nil {
			return i, nil
		}
	}
	return iface{}, errors.New("pick a default interface: no interface is up (use -i)")
}

// promisc holds an AF_PACKET socket that only asks for promiscuous mode, as
// libpcap does: the kernel counts the request and drops it when the socket
// closes, even on kill -9. The socket is bound to no protocol, so it
// receives nothing.
type promisc struct{ fd int }

func setPromisc(ifindex int) (*promisc, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open packet socket for promiscuous mode: %w", err)
	}
	mreq := unix.PacketMreq{Ifindex: int32(ifindex), Type: unix.PACKET_MR_PROMISC}
	if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("set promiscuous mode on ifindex %d: %w", ifindex, err)
	}
	return &promisc{fd: fd}, nil
}

func (p *promisc) Close() error {
	if p == nil {
		return nil
	}
	return unix.Close(p.fd)
}
