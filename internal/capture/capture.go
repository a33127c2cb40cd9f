// Package capture defines what every live source (eBPF at TC, AF_PACKET,
// macOS /dev/bpf) offers the rest of bpflow. Each source lives in its own
// sub-package; internal/capture/live picks one.
package capture

import (
	"context"
	"time"

	"github.com/bpflow/bpflow/internal/layers"
)

// Config is what a live capture needs from the command line.
type Config struct {
	// Interface is the -i value; "any" means every interface.
	Interface string
	// Filter is the tcpdump expression (may be empty: everything).
	Filter string
	// Promisc is false with -p.
	Promisc bool
	// Snaplen bounds the bytes kept per frame (tcpflow: 65536).
	Snaplen int
	// Method is --capture: "auto", "ebpf" or "afpacket" (Linux only).
	Method string
	// Attach is --attach for eBPF: "auto", "tcx" or "tc".
	Attach string
	// RingSize is --ring-size in bytes: the eBPF ring buffer, or the whole
	// TPACKET_V3 ring for AF_PACKET (0: the source's default).
	RingSize int
	// BlockSize is --afpacket-block-size: one TPACKET_V3 block in bytes
	// (0: the default).
	BlockSize int
	// BlockTimeout is tcpflow's -S packet-buffer-timeout: how long a
	// kernel buffer may hold captured packets before handing them over
	// (0: the default, 10 ms).
	BlockTimeout time.Duration
}

// Stats are the end-of-run counters, printed like tcpdump's.
type Stats struct {
	Captured uint64 // frames delivered to userspace
	Dropped  uint64 // frames lost in the kernel (ring full, truncated, parse error …)
}

// Source is a running live capture.
type Source interface {
	// LinkType is the link type of the frames Run delivers.
	LinkType() layers.LinkType
	// Run delivers frames to handle in the calling goroutine until ctx is done
	// (then it stops capturing, drains what the kernel already captured,
	// delivers it, and returns nil) or a fatal error occurs. A frame is only
	// valid during the call to handle.
	Run(ctx context.Context, handle func(*layers.Frame) error) error
	// Stats may be called after Run returns.
	Stats() Stats
	// Close releases every kernel object the source created.
	Close() error
}
