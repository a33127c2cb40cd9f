//go:build linux

package live

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/bpflow/bpflow/internal/capture"
	"github.com/bpflow/bpflow/internal/capture/afpacket"
	"github.com/bpflow/bpflow/internal/capture/ebpf"
)

// openEBPF opens the eBPF (TC) source.
var openEBPF func(ctx context.Context, cfg capture.Config, log *slog.Logger) (capture.Source, error) = ebpf.Open

// Open starts the capture --capture asks for. auto tries eBPF and falls back
// to AF_PACKET, saying why in one warning.
func Open(ctx context.Context, cfg capture.Config, log *slog.Logger) (capture.Source, error) {
	switch cfg.Method {
	case MethodAFPacket:
		return afpacket.Open(ctx, cfg, log)
	case MethodEBPF:
		if openEBPF == nil {
			return nil, fmt.Errorf("open eBPF capture on %s: eBPF capture is not built into this bpflow; use --capture=afpacket", cfg.Interface)
		}
		return openEBPF(ctx, cfg, log)
	case "", MethodAuto:
		if openEBPF == nil {
			return afpacket.Open(ctx, cfg, log)
		}
		src, err := openEBPF(ctx, cfg, log)
		if err == nil {
			return src, nil
		}
		log.Warn("eBPF capture unavailable, falling back to AF_PACKET", "interface", cfg.Interface, "reason", err)
		return afpacket.Open(ctx, cfg, log)
	default:
		return nil, fmt.Errorf("open live capture: unknown --capture method %q (want auto, ebpf or afpacket)", cfg.Method)
	}
}
