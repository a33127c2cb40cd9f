//go:build darwin

package bsdbpf

import (
	"context"
	"errors"
	"log/slog"

	"github.com/bpflow/bpflow/internal/capture"
)

// Open starts a /dev/bpf capture on cfg.Interface.
func Open(ctx context.Context, cfg capture.Config, log *slog.Logger) (capture.Source, error) {
	return nil, errors.New("open /dev/bpf capture: not implemented yet")
}
