// Package cli turns tcpflow's command line into a run: option parsing with
// getopt semantics, validation, and wiring sources to the flow engine and sinks.
package cli

import (
	"context"
	"io"
)

// Main runs bpflow with argv (argv[0] included: it prefixes messages as in
// tcpflow) and returns the process exit status.
func Main(ctx context.Context, argv []string, stdout, stderr io.Writer) int {
	_ = ctx
	_, _ = io.WriteString(stderr, argv[0]+": not implemented yet\n")
	return 1
}
