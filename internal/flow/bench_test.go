package flow

import (
	"testing"

	"github.com/bpflow/bpflow/internal/layers"
)

// nopSink accepts everything and does nothing: the engine's own cost.
type nopSink struct{}

func (nopSink) OpenFile(f *Flow) error {
	if f.Name == "" {
		f.Name = "x"
	}
	return nil
}
func (nopSink) ShiftFile(*Flow, int64) error                { return nil }
func (nopSink) WriteFile(*Flow, int64, []byte, int64) error { return nil }
func (nopSink) Print(*Flow, []byte) error                   { return nil }
func (nopSink) FileIsOpen(*Flow) bool                       { return true }
func (nopSink) OpenAlert(*Flow)                             {}
func (nopSink) Touch(*Flow)                                 {}
func (nopSink) CloseFlow(*Flow) error                       { return nil }
func (nopSink) MatchesFile(string, uint32, []byte) bool     { return false }
func (nopSink) SynIgnored(*Flow)                            {}
func (nopSink) SynWithData(*Flow, int)                      {}

// BenchmarkEngineInOrder feeds in-order 1400-byte segments of one flow; the
// in-order path must not allocate.
func BenchmarkEngineInOrder(b *testing.B) {
	e := New(Config{MaxSeek: DefaultMaxSeek, MaxBytes: -1}, nopSink{})
	s := seg(ack, 1001, string(make([]byte, 1400)))
	pkt := Packet{WireLen: 1454, CapLen: 1454}
	b.ReportAllocs()
	b.SetBytes(1400)
	for b.Loop() {
		if _, err := e.Process(s, pkt); err != nil {
			b.Fatal(err)
		}
		s.Seq += 1400
		pkt.TS += 1000
	}
}

// BenchmarkEngineConsole is the -c path through the engine.
func BenchmarkEngineConsole(b *testing.B) {
	e := New(Config{Console: true, MaxSeek: DefaultMaxSeek, MaxBytes: -1}, nopSink{})
	s := seg(ack, 1001, string(make([]byte, 1400)))
	b.ReportAllocs()
	b.SetBytes(1400)
	for b.Loop() {
		if _, err := e.Process(s, Packet{WireLen: 1454, CapLen: 1454}); err != nil {
			b.Fatal(err)
		}
		s.Seq += 1400
	}
}

var _ = layers.FlagACK
