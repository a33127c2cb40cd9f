package flow

import (
	"github.com/bpflow/bpflow/internal/layers"
)

// DefaultMaxSeek is tcpflow's max_seek (-m): 16 MiB.
const DefaultMaxSeek = 16 * 1024 * 1024

// maxSavedFlows is how many closed flows tcpflow remembers for stragglers.
const maxSavedFlows = 100

// Sink receives every effect of the engine. File-mode calls (OpenFile,
// ShiftFile, WriteFile) happen only when storing; Print only in console mode.
// An error returned by a sink is fatal for the run.
type Sink interface {
	// OpenFile makes sure f's file is open, creating it (and naming f) the
	// first time.
	OpenFile(f *Flow) error
	// ShiftFile moves the whole content of f's file n bytes forward; the
	// first n bytes keep whatever they held (tcpflow does not clear them).
	ShiftFile(f *Flow, n int64) error
	// WriteFile writes data at offset off of f's file; ts is the packet time.
	WriteFile(f *Flow, off int64, data []byte, ts int64) error
	// Print prints one console record of f.
	Print(f *Flow, data []byte) error
	// Touch marks f as most recently used (the open-file LRU).
	Touch(f *Flow)
	// CloseFlow is called once when f is removed: close its file, set times,
	// write its report entry.
	CloseFlow(f *Flow) error
	// MatchesFile reports whether name holds data at offset off (a straggler
	// retransmission after the flow was closed).
	MatchesFile(name string, off uint32, data []byte) bool
	// SynIgnored reports tcpflow's "SYN TO IGNORE!" case.
	SynIgnored(f *Flow)
	// SynWithData reports a SYN carrying n bytes (a protocol violation).
	SynWithData(f *Flow, n int)
	// FileIsOpen and OpenAlert serve -S tcp_alert_fd (Config.AlertOpen):
	// after a store that began with f's file closed, tcpflow announces
	// "open" even when the store gave up before opening it.
	FileIsOpen(f *Flow) bool
	OpenAlert(f *Flow)
}

// Config holds the options that change the engine's rules.
type Config struct {
	// Console is -c/-C: print every segment instead of reassembling.
	Console bool
	// NoStore is -FX: keep no flow files (file mode only).
	NoStore bool
	// MaxBytes is -b (negative: unlimited).
	MaxBytes int64
	// MaxSeek is -m (tcpflow reads it with atoi into an int32).
	MaxSeek int32
	// TCPTimeout is -S tcp_timeout in seconds (0: off).
	TCPTimeout uint32
	// AlertOpen enables the Sink's OpenAlert (-S tcp_alert_fd).
	AlertOpen bool
	// DebugLevel and Debugf reproduce tcpflow's DEBUG(n) traces; Debugf is
	// only called when DebugLevel ≥ n, so the hot path stays silent.
	DebugLevel int
	Debugf     func(format string, args ...any)
}

func (e *Engine) debug(level int, format string, args ...any) {
	if e.cfg.DebugLevel >= level && e.cfg.Debugf != nil {
		e.cfg.Debugf(format, args...)
	}
}

type savedFlow struct {
	key  Key
	name string
	isn  uint32
}

// Engine is the flow table. It is not safe for concurrent use: one
// goroutine owns decode → flow → output.
type Engine struct {
	cfg  Config
	sink Sink

	flows map[Key]*Flow
	// order is tcpflow's hash-table order of the same flows.
	order stdOrder
	// expireSec is the packet second of the last tcp_timeout scan.
	expireSec     int64
	expireScanned bool

	saved    []savedFlow
	savedMap map[Key]int // index into saved, offset by savedBase
	// savedBase is how many saved flows were evicted, so savedMap values
	// stay valid without renumbering.
	savedBase int

	// AllowNew is false during the -R phase: only known flows continue.
	AllowNew bool

	nextID      uint64
	nextSession uint64
	// Packets counts packets attached to a flow (report total_packets).
	Packets uint64
}

// New returns an engine that calls sink for every effect.
func New(cfg Config, sink Sink) *Engine {
	return &Engine{
		cfg:      cfg,
		sink:     sink,
		flows:    make(map[Key]*Flow),
		savedMap: make(map[Key]int),
		AllowNew: true,
	}
}

// FlowsCreated is the number of flows created so far (report total_flows).
func (e *Engine) FlowsCreated() uint64 { return e.nextID }

// OpenFlows is the number of flows in the table (report flow_map_size).
func (e *Engine) OpenFlows() int { return len(e.flows) }

// Packet is what the engine needs to know about one decoded frame.
type Packet struct {
	TS      int64  // nanoseconds, already with -S tdelta applied
	WireLen uint32 // frame length on the wire
	CapLen  uint32 // captured length
}

// Process runs tcpflow's process_tcp for one segment. processed is false
// for the one case tcpflow reports as "not processed" (a SYN to ignore), so
// -w writes that packet.
func (e *Engine) Process(seg *layers.Segment, pkt Packet) (processed bool, err error) {
	key := Key{Src: seg.Src, Dst: seg.Dst, SrcPort: seg.SrcPort, DstPort: seg.DstPort, Family: seg.Family}
	f := e.flows[key]
	if f == nil && !e.AllowNew {
		return true, nil
	}
	syn := seg.Flags&layers.FlagSYN != 0
	if syn && f != nil && f.SynCount > 0 && f.Pos > 0 {
		e.sink.SynIgnored(f)
		return false, nil
	}
	f, delta, err := e.lookup(f, key, seg, pkt)
	if f == nil || err != nil {
		return true, err
	}
	e.account(f, seg, pkt)
	if data := seg.Payload; len(data) > 0 {
		if err := e.payload(f, data, delta, pkt.TS); err != nil {
			return true, err
		}
	}
	return true, e.closeRules(f, seg)
}

// lookup finds or creates the flow for seg (tcpflow's steps 4–6): unknown
// flows are not started by bare FIN/RST or by straggler retransmissions, a
// seq jump beyond max_seek ends the old flow, and only a SYN or data starts
// one. f is nil when the packet is ignored.
func (e *Engine) lookup(f *Flow, key Key, seg *layers.Segment, pkt Packet) (_ *Flow, delta int32, err error) {
	syn := seg.Flags&layers.FlagSYN != 0
	data := seg.Payload
	if f == nil {
		if len(data) == 0 {
			if seg.Flags&(layers.FlagFIN|layers.FlagRST) != 0 || seg.Flags&(layers.FlagSYN|layers.FlagACK) == 0 {
				return nil, 0, nil
			}
		} else if e.isStraggler(key, seg.Seq, data) {
			return nil, 0, nil
		}
	}
	if f != nil {
		delta = int32(seg.Seq - f.NSN)
		if abs32(delta) > e.cfg.MaxSeek {
			if err := e.remove(f); err != nil {
				return nil, 0, err
			}
			f, delta = nil, 0
		}
	}
	if f == nil {
		if !syn && len(data) == 0 {
			return nil, 0, nil
		}
		isn := seg.Seq - 1
		if syn {
			isn = seg.Seq
		}
		f = e.create(key, isn, seg, pkt)
	}
	return f, delta, nil
}

// account counts the packet and applies what a SYN says (step 7–8).
func (e *Engine) account(f *Flow, seg *layers.Segment, pkt Packet) {
	f.Last = pkt.TS
	e.Packets++
	f.Len += uint64(pkt.WireLen)
	f.CapLen += uint64(pkt.CapLen)
	f.Packets++
	if pkt.CapLen != pkt.WireLen && e.cfg.DebugLevel >= 2 {
		e.debug(2, "Captured packet has a length caplen=%d different from the un-truncated length len=%d provided by PCAP API", pkt.CapLen, pkt.WireLen)
	}
	if seg.Flags&layers.FlagSYN == 0 {
		return
	}
	if f.SynCount > 1 && e.cfg.DebugLevel >= 2 {
		e.debug(2, "Multiple SYNs (%d) seen on connection %s", f.SynCount, f.Name)
	}
	f.SynCount++
	if seg.Flags&layers.FlagACK != 0 {
		f.Dir = DirServerClient
	} else {
		f.Dir = DirClientServer
	}
	if n := len(seg.Payload); n > 0 {
		f.Violations++
		e.sink.SynWithData(f, n)
	}
}

// payload prints or stores data (step 9).
func (e *Engine) payload(f *Flow, data []byte, delta int32, ts int64) error {
	if e.cfg.Console {
		return e.print(f, data)
	}
	if e.cfg.NoStore {
		return nil
	}
	wasOpen := !e.cfg.AlertOpen || e.sink.FileIsOpen(f)
	if err := e.store(f, data, delta, ts); err != nil {
		return err
	}
	if !wasOpen {
		e.sink.OpenAlert(f)
	}
	return nil
}

// closeRules closes f on RST, or once its FIN was seen and every byte up to
// it is stored (steps 10–12).
func (e *Engine) closeRules(f *Flow, seg *layers.Segment) error {
	if seg.Flags&layers.FlagRST != 0 {
		return e.remove(f)
	}
	if seg.Flags&layers.FlagFIN != 0 {
		f.FinCount++
		if f.FinCount == 1 {
			f.FinSize = seg.Seq + uint32(len(seg.Payload)) - f.ISN - 1
		}
	} else {
		e.sink.Touch(f)
	}
	if f.FinCount > 0 && f.SeenBytes() == f.FinSize {
		return e.remove(f)
	}
	return nil
}

// abs32 is C's abs on an int: abs(INT_MIN) stays negative, so the largest
// backward jump never exceeds max_seek, as in tcpflow.
func abs32(v int32) int32 {
	if v < 0 {
		return -v
	}
	return v
}

// isStraggler reports a data segment of an unknown flow that repeats bytes
// already in a recently closed flow's file.
func (e *Engine) isStraggler(key Key, seq uint32, data []byte) bool {
	i, ok := e.savedMap[key]
	if !ok {
		return false
	}
	s := &e.saved[i-e.savedBase]
	return e.sink.MatchesFile(s.name, seq-s.isn-1, data)
}

func (e *Engine) create(key Key, isn uint32, seg *layers.Segment, pkt Packet) *Flow {
	rev := Key{Src: key.Dst, Dst: key.Src, SrcPort: key.DstPort, DstPort: key.SrcPort, Family: key.Family}
	var session uint64
	if r := e.flows[rev]; r != nil {
		session = r.SessionID
	} else {
		session = e.nextSession
		e.nextSession++
	}
	f := &Flow{
		Key:       key,
		ID:        e.nextID,
		SessionID: session,
		VLAN:      seg.VLAN,
		MACDst:    seg.MACDst,
		MACSrc:    seg.MACSrc,
		Start:     pkt.TS,
		Last:      pkt.TS,
		ISN:       isn,
		NSN:       isn + 1,
	}
	e.nextID++
	if e.cfg.DebugLevel >= 5 {
		e.debug(5, "new flow %s. path: %s next seq num (nsn):%d", key, f.Name, int32(f.NSN))
	}
	e.flows[key] = f
	e.order.insert(f)
	return f
}

// print is tcpflow's print_packet budget logic: -b caps the bytes printed per
// flow object.
func (e *Engine) print(f *Flow, data []byte) error {
	if max := e.cfg.MaxBytes; max >= 0 {
		if f.LastByte > max {
			return nil
		}
		if int64(len(data)) > max-f.LastByte {
			data = data[:max-f.LastByte]
			if len(data) == 0 {
				return nil
			}
		}
	}
	if err := e.sink.Print(f, data); err != nil {
		return err
	}
	f.LastByte += int64(len(data))
	return nil
}

// store is tcpflow's store_packet: place data at pos+delta, inserting before
// the first byte when no SYN fixed the ISN.
func (e *Engine) store(f *Flow, data []byte, delta int32, ts int64) error {
	length := int64(len(data))
	offset := f.Pos + int64(delta)
	var insert int64
	if offset < 0 {
		if f.SynCount > 0 {
			if e.cfg.DebugLevel >= 2 {
				e.debug(2, "packet received with offset %d; ignoring", offset)
			}
			f.Violations++
			return nil
		}
		insert = -offset
		offset = 0
	}
	wlen := length
	if max := e.cfg.MaxBytes; max >= 0 {
		if offset >= max {
			wlen = 0
		} else if offset+length > max {
			if e.cfg.DebugLevel >= 2 {
				e.debug(2, "packet truncated by max_bytes_per_flow on %s", f.Name)
			}
			wlen = max - offset
		}
	}
	if err := e.sink.OpenFile(f); err != nil {
		return err
	}
	if insert > 0 {
		if err := e.sink.ShiftFile(f, insert); err != nil {
			return err
		}
		f.ISN -= uint32(insert)
		f.Pos = 0
		f.NSN = f.ISN + 1
		f.OutOfOrder++
		f.seenLost = true
	}
	if offset != f.Pos {
		if delta == -1 && length == 1 {
			return nil // RFC 1122 keepalive
		}
		if delta < 0 {
			f.OutOfOrder++
		}
		f.Pos += int64(delta)
		f.NSN += uint32(delta)
	}
	if err := e.sink.WriteFile(f, offset, data[:wlen], ts); err != nil {
		return err
	}
	if !f.seenLost {
		f.seen.add(uint64(f.Pos), uint64(length))
	}
	f.Pos += length
	f.NSN += uint32(length)
	if f.Pos > f.LastByte {
		f.LastByte = f.Pos
	}
	return nil
}

// remove closes f and remembers it for stragglers (tcpflow's remove_flow).
func (e *Engine) remove(f *Flow) error {
	delete(e.flows, f.Key)
	e.order.erase(f)
	err := e.sink.CloseFlow(f)
	e.save(f)
	return err
}

// save mirrors tcpflow's saved-flow list: at most 101 entries, the oldest
// evicted first, and evicting removes the key even if a newer entry of the
// same 4-tuple replaced it in the map.
func (e *Engine) save(f *Flow) {
	if len(e.saved) > maxSavedFlows {
		delete(e.savedMap, e.saved[0].key)
		e.saved[0] = savedFlow{}
		e.saved = e.saved[1:]
		e.savedBase++
	}
	e.saved = append(e.saved, savedFlow{key: f.Key, name: f.Name, isn: f.ISN})
	e.savedMap[f.Key] = e.savedBase + len(e.saved) - 1
}

// Expire closes every flow idle for more than tcp_timeout seconds at packet
// time ts, in tcpflow's hash-table order. tcpflow runs it after each packet
// that reached the IP layer.
func (e *Engine) Expire(ts int64) error {
	if e.cfg.TCPTimeout == 0 {
		return nil
	}
	now := floorSec(ts)
	if e.expireScanned && now == e.expireSec {
		// Ages count whole seconds and every packet since the last scan had
		// this second: flows it touched have age 0, the others were checked.
		return nil
	}
	e.expireScanned, e.expireSec = true, now
	var idle []*Flow
	for p := e.order.before.next; p != nil; p = p.next {
		if age := uint32(now - floorSec(p.f.Last)); age > e.cfg.TCPTimeout {
			idle = append(idle, p.f)
		}
	}
	return e.removeAll(idle)
}

// removeAll closes flows in the given order and returns the first error.
func (e *Engine) removeAll(flows []*Flow) error {
	var first error
	for _, f := range flows {
		if err := e.remove(f); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func floorSec(ns int64) int64 {
	s := ns / 1e9
	if ns%1e9 < 0 {
		s--
	}
	return s
}

// CloseAll closes every remaining flow (end of input) in tcpflow's
// hash-table order.
func (e *Engine) CloseAll() error {
	e.debug(10, "Cleaning up flows")
	return e.removeAll(e.order.flows())
}
