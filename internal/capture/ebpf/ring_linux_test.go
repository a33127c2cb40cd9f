package ebpf

import (
	"bytes"
	"testing"

	"github.com/cilium/ebpf"

	pb "github.com/bpflow/bpflow/internal/testutil/pktbuild"
)

// TestRingReader: records the program submits while the in-place reader
// waits on the netpoller reach it whole, in order and once, on both copy
// paths; the ring is empty afterwards.
func TestRingReader(t *testing.T) {
	for _, cp := range []copyPath{copyDynptr, copyScratch} {
		t.Run(string(cp), func(t *testing.T) {
			const size = 1 << 20
			h := newHarness(t, loadOptions{copy: cp, ringSize: size})
			r, err := newRing(h.maps.ring.FD(), size)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			// 200 × ~1.5 KB crosses the wakeup threshold (size/16) a few times.
			const batch = 200
			frames := make([][]byte, 2)
			for i := range frames {
				frames[i] = pb.Build(eth, pb.IPv4{Src: ip4A, Dst: ip4B}, pb.TCP{SrcPort: uint16(1 + i), DstPort: 2, Flags: pb.ACK}, payload(1400))
			}
			done := make(chan error, 1)
			go func() {
				for i := range batch {
					if _, err := h.progs.ingress.Run(&ebpf.RunOptions{Data: frames[i%2]}); err != nil {
						done <- err
						return
					}
				}
				done <- nil
			}()
			got := 0
			check := func(sample []byte) error {
				_, data, err := decodeRecord(sample)
				if err != nil {
					return err
				}
				if want := frames[got%2]; !bytes.Equal(data, want) {
					t.Errorf("record %d: frame of %d bytes differs from the %d sent", got, len(data), len(want))
				}
				got++
				return nil
			}
			for got < batch {
				if err := r.wait(pollInterval); err != nil {
					t.Fatal(err)
				}
				if _, _, err := r.consume(check); err != nil {
					t.Fatal(err)
				}
			}
			if got != batch {
				t.Errorf("read %d records, want %d", got, batch)
			}
			if err := <-done; err != nil {
				t.Fatalf("BPF_PROG_TEST_RUN: %v", err)
			}
			if r.pending(0) {
				t.Errorf("ring not empty after the %d records sent", batch)
			}
			if c := h.counters(t); c.Records != batch || c.RingFull != 0 {
				t.Errorf("counters: %d records, %d ring full; want %d, 0", c.Records, c.RingFull, batch)
			}
		})
	}
}
