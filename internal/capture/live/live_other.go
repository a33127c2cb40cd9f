//go:build !linux && !darwin

package live

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"

	"github.com/bpflow/bpflow/internal/capture"
)

// Open fails: bpflow captures live only on Linux and macOS (files work everywhere).
func Open(ctx context.Context, cfg capture.Config, log *slog.Logger) (capture.Source, error) {
	return nil, fmt.Errorf("open live capture on %s: live capture is not supported on %s; read a capture file with -r", cfg.Interface, runtime.GOOS)
}
