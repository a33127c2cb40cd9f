// Package afpacket captures live on Linux without eBPF: an AF_PACKET socket
// with a TPACKET_V3 memory-mapped ring and the compiled filter attached as a
// classic BPF socket filter. It delivers the frames libpcap would deliver on
// the same socket type:
//
//   - Ethernet frames with an offloaded 802.1Q tag (PACKET_AUXDATA /
//     tp_vlan_tci) get the tag put back in place, so the frame is the one a
//     pcap file written by tcpdump would hold;
//   - "-i any" and devices without an Ethernet-like header are captured
//     cooked and get a Linux SLL (v1, link type 113) header, as libpcap 1.10
//     gives tcpflow 1.6.1 (it never asks for SLL2);
//   - packets leaving through the loopback device are skipped, because the
//     same packet is captured again as it comes in.
//
// Filters keep pcap-file semantics on VLAN traffic: the kernel sees a frame
// whose offloaded tag was removed, so a plain classic BPF program would match
// "port 80" on tagged packets and never match "vlan". The socket program
// therefore passes every packet that carries an offloaded tag to userspace,
// where the filter runs on the frame with its tag restored; all other packets
// are filtered in the kernel. (libpcap's live Linux filters instead read the
// tag through SKF_AD_VLAN_TAG, so a live tcpdump "port 80" also matches tagged
// packets; bpflow matches what "tcpdump -r" matches on the saved frames.)
package afpacket

import (
	"errors"
	"time"
)

// Errors a capture can fail with, for errors.Is. The *Error values that wrap
// them read as libpcap's messages, which tcpflow prints after "tcpflow: ".
var (
	ErrPermission   = errors.New("no permission to capture (needs CAP_NET_RAW: run as root or grant the capability)")
	ErrNoSuchDevice = errors.New("no such device")
	ErrNotUp        = errors.New("device is not up")
)

// Error is a capture failure worded as libpcap words it ("eth0: That device
// is not up").
type Error struct {
	Device string
	Msg    string
	Err    error
}

func (e *Error) Error() string { return e.Device + ": " + e.Msg }
func (e *Error) Unwrap() error { return e.Err }

// Tuning sizes the TPACKET_V3 ring. Zero fields take the defaults.
type Tuning struct {
	// BlockSize is the size of one ring block in bytes: a power of two, at
	// least one page, and large enough for one snaplen-sized frame. The kernel
	// hands blocks to userspace whole, so larger blocks mean fewer wakeups.
	BlockSize int
	// RingSize is the total ring size in bytes (rounded down to whole blocks,
	// at least two).
	RingSize int
	// BlockTimeout is how long the kernel keeps a partly filled block before
	// handing it over (tcpflow's -S packet-buffer-timeout, 10 ms).
	BlockTimeout time.Duration
}

// Defaults for Tuning.
const (
	DefaultBlockSize    = 1 << 20
	DefaultRingSize     = 32 << 20
	DefaultBlockTimeout = 10 * time.Millisecond
	// defaultSnaplen is tcpflow's snapshot length.
	defaultSnaplen = 65536
	// maxBlockTimeout bounds the retire timeout to what the kernel field holds.
	maxBlockTimeout = 60 * time.Second
)
