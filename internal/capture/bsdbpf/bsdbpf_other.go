//go:build !darwin

package bsdbpf

import (
	"context"
	"errors"
	"log/slog"

	"github.com/bpflow/bpflow/internal/capture"
)

// Open fails: this package captures live only on macOS (its buffer parser is
// built everywhere so it can be tested everywhere).
func Open(ctx context.Context, cfg capture.Config, log *slog.Logger) (capture.Source, error) {
	return nil, errors.New("open /dev/bpf capture: only available on macOS")
}
