package flow

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bpflow/bpflow/internal/layers"
)

// memSink keeps flow files in memory and records what the engine did.
type memSink struct {
	files   map[string][]byte
	closed  []string // names in closing order
	printed []string
	synIgn  int
	names   map[string]int
}

func newMemSink() *memSink {
	return &memSink{files: map[string][]byte{}, names: map[string]int{}}
}

func (m *memSink) OpenFile(f *Flow) error {
	if f.Name == "" {
		base := fmt.Sprintf("%s.%d-%s.%d", f.Src, f.SrcPort, f.Dst, f.DstPort)
		n := m.names[base]
		m.names[base]++
		f.Name = base
		if n > 0 {
			f.Name = fmt.Sprintf("%sc%d", base, n)
		}
		m.files[f.Name] = nil
	}
	return nil
}

func (m *memSink) ShiftFile(f *Flow, n int64) error {
	old := m.files[f.Name]
	grown := make([]byte, int64(len(old))+n)
	copy(grown, old)     // the first n bytes keep their old content
	copy(grown[n:], old) // everything moves forward
	m.files[f.Name] = grown
	return nil
}

func (m *memSink) WriteFile(f *Flow, off int64, data []byte, _ int64) error {
	if len(data) == 0 {
		return nil
	}
	b := m.files[f.Name]
	if end := off + int64(len(data)); end > int64(len(b)) {
		b = append(b, make([]byte, end-int64(len(b)))...)
	}
	copy(b[off:], data)
	m.files[f.Name] = b
	return nil
}

func (m *memSink) Print(f *Flow, data []byte) error {
	m.printed = append(m.printed, string(data))
	return nil
}
func (m *memSink) FileIsOpen(*Flow) bool   { return true }
func (m *memSink) OpenAlert(*Flow)         {}
func (m *memSink) Touch(*Flow)             {}
func (m *memSink) CloseFlow(f *Flow) error { m.closed = append(m.closed, f.Name); return nil }
func (m *memSink) SynIgnored(*Flow)        { m.synIgn++ }
func (m *memSink) SynWithData(*Flow, int)  {}
func (m *memSink) MatchesFile(name string, off uint32, data []byte) bool {
	b, ok := m.files[name]
	return ok && int64(off)+int64(len(data)) <= int64(len(b)) && string(b[off:int(off)+len(data)]) == string(data)
}

var (
	client = netip.MustParseAddr("192.168.1.1")
	server = netip.MustParseAddr("10.0.0.2")
)

// seg is a client→server segment.
func seg(flags uint8, seq uint32, payload string) *layers.Segment {
	return &layers.Segment{Family: 2, Src: client, Dst: server, SrcPort: 54156, DstPort: 80,
		Seq: seq, Flags: flags, Payload: []byte(payload), VLAN: -1}
}

const (
	syn = layers.FlagSYN
	ack = layers.FlagACK
	fin = layers.FlagFIN
	rst = layers.FlagRST
)

func run(t *testing.T, cfg Config, segs ...*layers.Segment) (*memSink, *Engine) {
	t.Helper()
	if cfg.MaxSeek == 0 {
		cfg.MaxSeek = DefaultMaxSeek
	}
	m := newMemSink()
	e := New(cfg, m)
	for i, s := range segs {
		if _, err := e.Process(s, Packet{TS: int64(i) * 1e6, WireLen: 60, CapLen: 60}); err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
	}
	if err := e.CloseAll(); err != nil {
		t.Fatal(err)
	}
	return m, e
}

const name0 = "192.168.1.1.54156-10.0.0.2.80"

// The expected contents are tcpflow 1.6.1's, as recorded for the named
// cases in /work/shared/reference/tcpflow-1.6.1.md §3.3.
func TestPlacement(t *testing.T) {
	tests := []struct {
		name string
		segs []*layers.Segment
		want map[string]string
	}{
		{"nosyn_insert", []*layers.Segment{seg(ack, 1005, "BBBB"), seg(ack, 1001, "AAAA"), seg(ack, 1009, "CCCC")},
			map[string]string{name0: "AAAABBBBCCCC"}},
		{"hole", []*layers.Segment{seg(syn, 1000, ""), seg(ack, 1001, "AAAA"), seg(ack, 1009, "CCCC")},
			map[string]string{name0: "AAAA\x00\x00\x00\x00CCCC"}},
		{"retrans_diff", []*layers.Segment{seg(syn, 1000, ""), seg(ack, 1001, "AAAA"), seg(ack, 1005, "BBBB"), seg(ack, 1009, "CCCC"), seg(ack, 1001, "XXXX")},
			map[string]string{name0: "XXXXBBBBCCCC"}},
		{"overlap", []*layers.Segment{seg(syn, 1000, ""), seg(ack, 1001, "ABCDEF"), seg(ack, 1005, "efGHIJ"), seg(ack, 1003, "zz")},
			map[string]string{name0: "ABzzefGHIJ"}},
		{"keepalive", []*layers.Segment{seg(syn, 1000, ""), seg(ack, 1001, "AAAA"), seg(ack, 1004, "k"), seg(ack, 1005, "BB")},
			map[string]string{name0: "AAAABB"}},
		{"before_isn", []*layers.Segment{seg(syn, 1000, ""), seg(ack, 990, "zz"), seg(ack, 1001, "AB")},
			map[string]string{name0: "AB"}},
		{"seqwrap", []*layers.Segment{seg(syn, 0xfffffff8, ""), seg(ack, 0xfffffff9, "0123456789"), seg(ack, 3, "abc")},
			map[string]string{name0: "0123456789abc"}},
		{"gap100", []*layers.Segment{seg(syn, 1000, ""), seg(ack, 1001, "A"), seg(ack, 1102, "B")},
			map[string]string{name0: "A" + strings.Repeat("\x00", 100) + "B"}},
		{"insert_keeps_stale_bytes", []*layers.Segment{seg(ack, 1005, "BBBB"), seg(ack, 1001, "AA")},
			map[string]string{name0: "AABBBBBB"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := run(t, Config{MaxBytes: -1}, tc.segs...)
			got := map[string]string{}
			for k, v := range m.files {
				got[k] = string(v)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("files (-want +got):\n%s", d)
			}
		})
	}
}

func TestMaxSeekSplitsFlow(t *testing.T) {
	// gap100_m50 splits, gap100_m100 does not (strictly greater).
	for _, tc := range []struct {
		maxSeek int32
		files   int
	}{{50, 2}, {99, 2}, {100, 1}} {
		m, e := run(t, Config{MaxSeek: tc.maxSeek, MaxBytes: -1}, seg(syn, 1000, ""), seg(ack, 1001, "A"), seg(ack, 1102, "B"))
		if len(m.files) != tc.files {
			t.Errorf("-m %d: %d files %v, want %d", tc.maxSeek, len(m.files), m.files, tc.files)
		}
		if e.FlowsCreated() != uint64(tc.files) {
			t.Errorf("-m %d: %d flows", tc.maxSeek, e.FlowsCreated())
		}
	}
}

func TestCloseRules(t *testing.T) {
	t.Run("fin after all bytes closes", func(t *testing.T) {
		m, e := runOpen(t, seg(syn, 1000, ""), seg(ack, 1001, "AAAA"), seg(fin|ack, 1005, ""))
		if len(m.closed) != 1 || e.OpenFlows() != 0 {
			t.Errorf("closed %v, open %d", m.closed, e.OpenFlows())
		}
	})
	t.Run("hole keeps flow open", func(t *testing.T) {
		m, e := runOpen(t, seg(syn, 1000, ""), seg(ack, 1001, "AAAA"), seg(ack, 1009, "CCCC"), seg(fin|ack, 1013, ""))
		if len(m.closed) != 0 || e.OpenFlows() != 1 {
			t.Errorf("closed %v, open %d", m.closed, e.OpenFlows())
		}
	})
	t.Run("hole filled after fin closes", func(t *testing.T) {
		m, e := runOpen(t, seg(syn, 1000, ""), seg(ack, 1001, "AAAA"), seg(ack, 1009, "CCCC"), seg(fin|ack, 1013, ""), seg(ack, 1005, "BBBB"))
		if len(m.closed) != 1 || e.OpenFlows() != 0 {
			t.Errorf("closed %v, open %d", m.closed, e.OpenFlows())
		}
	})
	t.Run("rst closes", func(t *testing.T) {
		m, _ := runOpen(t, seg(syn, 1000, ""), seg(ack, 1001, "AAAA"), seg(rst, 1005, ""))
		if len(m.closed) != 1 {
			t.Errorf("closed %v", m.closed)
		}
	})
	t.Run("straggler after close is dropped", func(t *testing.T) {
		m, e := runOpen(t, seg(syn, 1000, ""), seg(ack, 1001, "AAAA"), seg(fin|ack, 1005, ""), seg(ack, 1001, "AAAA"))
		if len(m.files) != 1 || e.FlowsCreated() != 1 {
			t.Errorf("files %v flows %d", m.files, e.FlowsCreated())
		}
	})
	t.Run("different straggler starts a new file", func(t *testing.T) {
		m, _ := runOpen(t, seg(syn, 1000, ""), seg(ack, 1001, "AAAA"), seg(fin|ack, 1005, ""), seg(ack, 1001, "XXXX"))
		if len(m.files) != 2 {
			t.Errorf("files %v", m.files)
		}
	})
	t.Run("syn on a flow with data is ignored", func(t *testing.T) {
		m, _ := runOpen(t, seg(syn, 1000, ""), seg(ack, 1001, "AAAA"), seg(syn, 5000, ""), seg(ack, 5001, "BBBB"))
		if m.synIgn != 1 {
			t.Errorf("SYN TO IGNORE reported %d times", m.synIgn)
		}
	})
	t.Run("console mode: fin closes only payload-less flows", func(t *testing.T) {
		m := newMemSink()
		e := New(Config{Console: true, MaxSeek: DefaultMaxSeek, MaxBytes: -1}, m)
		for _, s := range []*layers.Segment{seg(syn, 1000, ""), seg(ack, 1001, "AAAA"), seg(fin|ack, 1005, "")} {
			if _, err := e.Process(s, Packet{}); err != nil {
				t.Fatal(err)
			}
		}
		if e.OpenFlows() != 1 || len(m.printed) != 1 {
			t.Errorf("open %d printed %q", e.OpenFlows(), m.printed)
		}
	})
}

func runOpen(t *testing.T, segs ...*layers.Segment) (*memSink, *Engine) {
	t.Helper()
	m := newMemSink()
	e := New(Config{MaxSeek: DefaultMaxSeek, MaxBytes: -1}, m)
	for i, s := range segs {
		if _, err := e.Process(s, Packet{TS: int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	return m, e
}

func TestMaxBytes(t *testing.T) {
	// b_ooo: only offsets < N are kept, whatever the arrival order.
	m, _ := run(t, Config{MaxBytes: 6}, seg(syn, 1000, ""), seg(ack, 1005, "BBBB"), seg(ack, 1001, "AAAA"))
	if got := string(m.files[name0]); got != "AAAABB" {
		t.Errorf("-b 6: %q, want AAAABB", got)
	}
	m, _ = run(t, Config{MaxBytes: 0}, seg(syn, 1000, ""), seg(ack, 1001, "AAAA"))
	if b, ok := m.files[name0]; !ok || len(b) != 0 {
		t.Errorf("-b 0: file %q exists=%v, want an empty file", b, ok)
	}
}

func TestByteSet(t *testing.T) {
	var s byteSet
	adds := [][2]uint64{{10, 5}, {0, 3}, {20, 2}, {3, 7}, {14, 6}, {100, 1}, {0, 200}}
	want := []uint64{5, 8, 10, 17, 22, 23, 200}
	for i, a := range adds {
		s.add(a[0], a[1])
		if s.size != want[i] {
			t.Fatalf("after add%v: size %d, want %d (spans %v)", a, s.size, want[i], s.spans)
		}
	}
	if len(s.spans) != 1 {
		t.Errorf("spans %v, want one", s.spans)
	}
}

func TestSeqArithmeticAcrossWrap(t *testing.T) {
	// delta is seq − nsn as a signed 32-bit value, so a flow crossing 2^32 is
	// in order and a jump "backwards" across the wrap is small.
	tests := []struct {
		seq, nsn uint32
		want     int32
	}{
		{0, 0xffffffff, 1},
		{0xffffffff, 0, -1},
		{5, 0xfffffff0, 21},
		{0x80000000, 0, -0x80000000},
		{0x7fffffff, 0, 0x7fffffff},
	}
	for _, tc := range tests {
		if got := int32(tc.seq - tc.nsn); got != tc.want {
			t.Errorf("delta(%#x, %#x) = %d, want %d", tc.seq, tc.nsn, got, tc.want)
		}
	}
	// abs(INT_MIN) stays negative in C, so it never exceeds max_seek.
	if abs32(-0x80000000) > 0 {
		t.Error("abs32(INT_MIN) must stay negative like C's abs")
	}
}
