package flow

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/bpflow/bpflow/internal/layers"
)

// FuzzEngine drives the engine with arbitrary segment streams over a few
// 4-tuples, in file and console mode, and checks invariants: no panic,
// memory bounded by the data stored, offsets never negative.
func FuzzEngine(f *testing.F) {
	f.Add([]byte{0, 2, 0, 0, 3, 232, 0, 0, 1, 16, 0, 0, 3, 233, 4})
	f.Add([]byte{1, 16, 0, 0, 3, 237, 4, 1, 16, 0, 0, 3, 233, 4, 1, 17, 0, 0, 3, 241, 0})
	f.Add([]byte{2, 2, 255, 255, 255, 248, 0, 2, 16, 255, 255, 255, 249, 10, 2, 4, 0, 0, 0, 3, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, console := range []bool{false, true} {
			m := newMemSink()
			e := New(Config{Console: console, MaxSeek: 1 << 12, MaxBytes: int64(len(in)%7) * 100, TCPTimeout: 2}, m)
			stored := 0
			for i := 0; len(in[i:]) >= 7; i += 7 {
				rec := in[i : i+7]
				s := &layers.Segment{Family: 2, Src: netip.AddrFrom4([4]byte{10, 0, 0, rec[0] & 3}),
					Dst: netip.AddrFrom4([4]byte{10, 0, 0, 9}), SrcPort: 1, DstPort: 2,
					Flags: rec[1], Seq: binary.BigEndian.Uint32(rec[2:6]), VLAN: -1}
				s.Payload = make([]byte, int(rec[6]%64))
				stored += len(s.Payload)
				if _, err := e.Process(s, Packet{TS: int64(i) * 1e8}); err != nil {
					t.Fatal(err)
				}
				if err := e.Expire(int64(i) * 1e8); err != nil {
					t.Fatal(err)
				}
				for _, k := range e.flows {
					if k.Pos < 0 || k.LastByte < 0 {
						t.Fatalf("negative offset in %+v", k)
					}
				}
			}
			if err := e.CloseAll(); err != nil {
				t.Fatal(err)
			}
			for name, b := range m.files {
				// files grow only by seeks within max_seek (4096) plus data
				if len(b) > (stored+1)*(1<<12+64) {
					t.Fatalf("%s grew to %d bytes from %d stored", name, len(b), stored)
				}
			}
		}
	})
}
