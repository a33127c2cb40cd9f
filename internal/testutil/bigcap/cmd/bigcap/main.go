// Command bigcap writes the offline benchmark's synthetic capture.
//
//	go run ./internal/testutil/bigcap/cmd/bigcap -o big.pcap -size-mb 1200
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/bpflow/bpflow/internal/testutil/bigcap"
)

func main() {
	out := flag.String("o", "", "output pcap file")
	sizeMB := flag.Int64("size-mb", 1200, "capture size in MB (10^6 bytes)")
	conc := flag.Int("concurrent", 64, "connections interleaved at once")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "bigcap: -o is required")
		os.Exit(2)
	}
	if err := run(*out, bigcap.Config{Bytes: *sizeMB * 1e6, Concurrent: *conc, Seed: *seed}); err != nil {
		fmt.Fprintln(os.Stderr, "bigcap:", err)
		os.Exit(1)
	}
}

func run(path string, cfg bigcap.Config) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create capture: %w", err)
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	st, err := bigcap.Write(f, cfg)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	fmt.Printf("bigcap bytes=%d packets=%d connections=%d flows=%d payload_bytes=%d\n",
		st.Bytes, st.Packets, st.Connections, 2*st.Connections, st.PayloadBytes)
	return nil
}
