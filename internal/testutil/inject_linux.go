package testutil

import (
	"encoding/binary"
	"fmt"
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

// GSO describes the virtio-net header that asks the kernel to treat an
// injected frame as one GSO super-packet, as a VM's virtio NIC would send it.
type GSO struct {
	Type       uint8  // VIRTIO_NET_HDR_GSO_TCPV4 (1) or _TCPV6 (4)
	HdrLen     uint16 // link + IP + TCP header bytes
	Size       uint16 // MSS of the segments it stands for
	CsumStart  uint16 // offset of the TCP header
	CsumOffset uint16 // offset of the checksum within it (16 for TCP)
}

// Inject sends hand-built frames out of ifname in n through a packet socket.
// A tagged frame arriving at the peer has its outer tag moved into skb
// metadata by the kernel, as a NIC with VLAN offload would.
func (n *Netns) Inject(t testing.TB, ifname string, frames [][]byte) {
	t.Helper()
	n.inject(t, ifname, frames, nil)
}

// InjectGSO sends frames as GSO super-packets (each behind a virtio-net
// header), so the peer's TC hooks see skbs as large as the frames.
func (n *Netns) InjectGSO(t testing.TB, ifname string, frames [][]byte, g GSO) {
	t.Helper()
	vh := make([]byte, 10)
	vh[0], vh[1] = 1, g.Type // VIRTIO_NET_HDR_F_NEEDS_CSUM
	binary.LittleEndian.PutUint16(vh[2:], g.HdrLen)
	binary.LittleEndian.PutUint16(vh[4:], g.Size)
	binary.LittleEndian.PutUint16(vh[6:], g.CsumStart)
	binary.LittleEndian.PutUint16(vh[8:], g.CsumOffset)
	n.inject(t, ifname, frames, vh)
}

func (n *Netns) inject(t testing.TB, ifname string, frames [][]byte, vnetHdr []byte) {
	t.Helper()
	err := n.Do(func() error {
		ifc, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open packet socket: %w", err)
		}
		defer unix.Close(fd)
		if vnetHdr != nil {
			if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1); err != nil {
				return fmt.Errorf("set PACKET_VNET_HDR: %w", err)
			}
		}
		to := &unix.SockaddrLinklayer{Ifindex: ifc.Index, Halen: 6}
		for _, f := range frames {
			if err := unix.Sendto(fd, append(vnetHdr[:len(vnetHdr):len(vnetHdr)], f...), 0, to); err != nil {
				return fmt.Errorf("send %d-byte frame on %s: %w", len(f), ifname, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("inject frames in %s: %v", n.Name, err)
	}
}
