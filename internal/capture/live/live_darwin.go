//go:build darwin

package live

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/bpflow/bpflow/internal/capture"
	"github.com/bpflow/bpflow/internal/capture/bsdbpf"
)

// Open starts a /dev/bpf capture, the only live source on macOS.
func Open(ctx context.Context, cfg capture.Config, log *slog.Logger) (capture.Source, error) {
	switch cfg.Method {
	case "", MethodAuto:
		return bsdbpf.Open(ctx, cfg, log)
	default:
		return nil, fmt.Errorf("open live capture: --capture=%s is Linux only; macOS captures through /dev/bpf (use --capture=auto)", cfg.Method)
	}
}
