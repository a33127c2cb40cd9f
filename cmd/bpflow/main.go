// Command bpflow records TCP streams like tcpflow 1.6.1. See the README.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/bpflow/bpflow/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	code := cli.Main(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
