//go:build !linux

package afpacket

import (
	"context"
	"errors"
	"log/slog"

	"github.com/bpflow/bpflow/internal/capture"
)

// errNotLinux: AF_PACKET exists only on Linux.
var errNotLinux = errors.New("AF_PACKET capture is only available on Linux")

// Open fails outside Linux.
func Open(ctx context.Context, cfg capture.Config, log *slog.Logger) (capture.Source, error) {
	return nil, errNotLinux
}

// OpenTuned fails outside Linux.
func OpenTuned(ctx context.Context, cfg capture.Config, t Tuning, log *slog.Logger) (capture.Source, error) {
	return nil, errNotLinux
}
