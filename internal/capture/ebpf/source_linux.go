package ebpf

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/rlimit"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/bpflow/bpflow/internal/capture"
	"github.com/bpflow/bpflow/internal/filter"
	"github.com/bpflow/bpflow/internal/layers"
)

// pollInterval bounds how long a record may wait in the ring: the program
// wakes the reader only once a batch is waiting, so a trickle is picked up on
// this deadline instead.
const pollInterval = 20 * time.Millisecond

// busyPause is how long the reader sleeps when the next record is still
// being written (the ring is nearly empty then): long enough not to spin, far
// shorter than the ring takes to fill.
const busyPause = 200 * time.Microsecond

// Source is a running eBPF capture. Shutdown order: stop following links →
// detach every hook → drain the ring → snapshot the counters → close.
type Source struct {
	cfg      capture.Config
	log      *slog.Logger
	ns       netns.NsHandle
	h        *netlink.Handle
	copy     copyPath
	linkType layers.LinkType
	any      bool
	snaplen  uint32
	ringSize uint32

	mu    sync.Mutex // guards what follows, written by Open and the link watcher
	maps  *sharedMaps
	progs [2]*programs // [0] Ethernet devices, [1] raw IP devices
	// userFilter[i] checks frames of progs[i] in Go when the kernel could not
	// take the filter.
	userFilter [2]*filter.Program
	attached   map[int]*attachment
	// kinds maps ifindex → iface for the reader (copy on write, read
	// without locking per record).
	kinds atomic.Pointer[map[uint32]iface]

	onLink  func(ifindex int, attached bool)
	promisc *promisc
	ring    *ring
	// copyBuf holds records that are rewritten before delivery (chunks,
	// cooked frames): the ring's mapping is read-only.
	copyBuf    []byte
	watchDone  chan struct{}
	watchWait  sync.WaitGroup
	monoToReal int64
	frame      layers.Frame
	captured   uint64
	final      *capture.Stats
	closeOnce  sync.Once
	closeErr   error
}

// Open loads the capture program and attaches it to cfg.Interface ("any":
// every interface, following those that appear or go) in the calling
// thread's network namespace. Capture runs from the moment Open returns;
// Run delivers the frames.
func Open(ctx context.Context, cfg capture.Config, log *slog.Logger) (capture.Source, error) {
	s, err := open(ctx, cfg, log, openOptions{copy: probeCopyPath()})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// openOptions are settings tests choose and users do not.
type openOptions struct {
	copy copyPath
	// onLink, when set, is told each interface the capture attached to
	// (true) or forgot (false); tests wait on it instead of sleeping.
	onLink func(ifindex int, attached bool)
}

func open(ctx context.Context, cfg capture.Config, log *slog.Logger, o openOptions) (*Source, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Attach == "" {
		cfg.Attach = AttachAuto
	}
	if cfg.Attach != AttachAuto && cfg.Attach != AttachTCX && cfg.Attach != AttachTC {
		return nil, fmt.Errorf("open eBPF capture: --attach=%q: want auto, tcx or tc", cfg.Attach)
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		log.Debug("raise RLIMIT_MEMLOCK (needs CAP_SYS_RESOURCE before kernel 5.11)", "err", err)
	}
	s := &Source{cfg: cfg, log: log, copy: o.copy, onLink: o.onLink, any: cfg.Interface == "any", attached: map[int]*attachment{}}
	s.kinds.Store(&map[uint32]iface{})
	s.snaplen = snaplenFor(cfg.Snaplen)
	s.ringSize = roundRing(cfg.RingSize)
	var err error
	if s.ns, err = netns.Get(); err != nil {
		return nil, fmt.Errorf("open eBPF capture: get current network namespace: %w", err)
	}
	// The calling thread is in s.ns: a plain handle needs no setns (and so
	// no CAP_SYS_ADMIN).
	if s.h, err = netlink.NewHandle(); err != nil {
		s.ns.Close()
		return nil, fmt.Errorf("open eBPF capture: netlink handle: %w", err)
	}
	s.setMonoToReal()
	if err := s.start(ctx); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	log.Debug("eBPF capture attached", "interface", cfg.Interface, "copy", s.copy, "ring_bytes", s.ringSize)
	return s, nil
}

// snaplenFor keeps whole frames for libpcap's default snaplen and above:
// super-packets (GSO, BIG TCP) are longer than 65535 bytes, and cutting them
// would lose stream data that the wire carried.
func snaplenFor(n int) uint32 {
	if n <= 0 || n >= 65535 {
		return 0
	}
	return uint32(n)
}

func (s *Source) start(ctx context.Context) error {
	if s.any {
		s.linkType = layers.LinkLinuxSLL
		if _, err := s.programsFor(false); err != nil {
			return err
		}
		if err := s.followLinks(); err != nil {
			return err
		}
	} else {
		ifc, err := lookupIface(s.h, s.cfg.Interface)
		if err != nil {
			return fmt.Errorf("open eBPF capture: %w", err)
		}
		s.linkType = ifc.linkType()
		if err := s.attach(ifc); err != nil {
			return err
		}
		if s.cfg.Promisc && !ifc.loopback {
			if s.promisc, err = setPromisc(ifc.index); err != nil {
				return fmt.Errorf("open eBPF capture on %s: %w", ifc.name, err)
			}
		}
	}
	rg, err := newRing(s.maps.ring.FD(), s.ringSize)
	if err != nil {
		return fmt.Errorf("open eBPF capture: %w", err)
	}
	s.ring = rg
	return ctx.Err()
}

func (s *Source) setMonoToReal() {
	var mono, real unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &mono)
	_ = unix.ClockGettime(unix.CLOCK_REALTIME, &real)
	s.monoToReal = real.Nano() - mono.Nano()
}

// programsFor returns the programs for Ethernet or raw-IP devices, loading
// them (with the filter compiled for that link type) on first use. Caller
// holds s.mu or is Open.
func (s *Source) programsFor(l3 bool) (*programs, error) {
	idx := 0
	lt := layers.LinkEthernet
	if l3 {
		idx, lt = 1, layers.LinkRaw
	}
	if p := s.progs[idx]; p != nil {
		return p, nil
	}
	plan, err := planFilter(s.cfg.Filter, lt, s.linkType)
	if err != nil {
		return nil, err
	}
	progs, maps, err := s.load(l3, plan.kernel)
	if err != nil && plan.kernel != nil && !errors.Is(err, unix.EPERM) {
		// The kernel refused the compiled filter: filter in Go instead.
		s.log.Warn("kernel refused the compiled filter; filtering in user space", "filter", s.cfg.Filter, "err", err)
		plan.kernel = nil
		progs, maps, err = s.load(l3, nil)
	}
	if err != nil {
		return nil, err
	}
	if plan.kernel == nil {
		s.userFilter[idx] = plan.user
	}
	s.maps, s.progs[idx] = maps, progs
	return progs, nil
}

// load loads the programs for one kind of device with the kernel filter,
// creating the shared maps on the first load.
func (s *Source) load(l3 bool, filter asm.Instructions) (*programs, *sharedMaps, error) {
	opts := loadOptions{l3: l3, copy: s.copy, snaplen: s.snaplen, ringSize: s.ringSize, filter: filter, maps: s.maps}
	if s.maps != nil {
		progs, _, err := load(opts)
		return progs, s.maps, err
	}
	progs, maps, cp, err := loadWithFallback(opts, s.log)
	s.copy = cp
	return progs, maps, err
}

// attach hooks the program onto ifc. Caller holds s.mu or is Open.
func (s *Source) attach(ifc iface) error {
	if _, ok := s.attached[ifc.index]; ok {
		return nil
	}
	progs, err := s.programsFor(ifc.l3)
	if err != nil {
		return err
	}
	a, err := attachIface(s.h, s.cfg.Attach, ifc.index, ifc.name, progs, ifc.loopback)
	if err != nil {
		return err
	}
	s.attached[ifc.index] = a
	s.setKind(ifc.index, ifc, true)
	if s.onLink != nil {
		s.onLink(ifc.index, true)
	}
	s.log.Debug("capturing on interface", "interface", ifc.name, "ifindex", ifc.index, "hook", a.mode)
	return nil
}

func (s *Source) setKind(index int, ifc iface, present bool) {
	old := *s.kinds.Load()
	m := make(map[uint32]iface, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	if present {
		m[uint32(index)] = ifc
	} else {
		delete(m, uint32(index))
	}
	s.kinds.Store(&m)
}

// followLinks attaches to every interface now and, through netlink link
// events, to those that appear later; it forgets those that go. It
// subscribes before listing, so a link created in between is not missed.
func (s *Source) followLinks() error {
	updates := make(chan netlink.LinkUpdate, 64)
	s.watchDone = make(chan struct{})
	// Subscribed from the calling thread, so in the capture's namespace.
	err := netlink.LinkSubscribeWithOptions(updates, s.watchDone, netlink.LinkSubscribeOptions{
		ErrorCallback: func(err error) { s.log.Warn("following interfaces for -i any", "err", err) },
	})
	if err != nil {
		return fmt.Errorf("open eBPF capture on any: subscribe to link events: %w", err)
	}
	s.watchWait.Add(1)
	go s.watchLinks(updates)
	links, err := s.h.LinkList()
	if err != nil {
		return fmt.Errorf("open eBPF capture on any: list interfaces: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range links {
		s.attachLink(l)
	}
	return nil
}

func (s *Source) watchLinks(updates chan netlink.LinkUpdate) {
	defer s.watchWait.Done()
	// TCX resolves ifindexes in the calling thread's namespace: pin this
	// goroutine to a thread in the capture's namespace. The thread is never
	// unlocked, so it exits with the goroutine instead of carrying the
	// namespace to other goroutines.
	runtime.LockOSThread()
	if err := enterNetns(s.ns); err != nil {
		s.log.Warn("following interfaces for -i any: enter network namespace", "err", err)
		for range updates {
		}
		return
	}
	for u := range updates {
		s.mu.Lock()
		if u.Header.Type == unix.RTM_DELLINK {
			s.forget(int(u.Attrs().Index))
		} else if s.attached != nil {
			s.attachLink(u.Link)
		}
		s.mu.Unlock()
	}
}

// enterNetns moves the calling (locked) thread into ns unless it is there
// already; setns needs CAP_SYS_ADMIN, which a single-namespace capture
// should not.
func enterNetns(ns netns.NsHandle) error {
	cur, err := netns.Get()
	if err != nil {
		return err
	}
	defer cur.Close()
	if cur.Equal(ns) {
		return nil
	}
	return netns.Set(ns)
}

// attachLink attaches to l if its kind is supported; a failure on one
// interface is logged, not fatal, for -i any. Caller holds s.mu.
func (s *Source) attachLink(l netlink.Link) {
	ifc, err := classify(l)
	if err != nil {
		s.log.Debug("not capturing", "err", err)
		return
	}
	if err := s.attach(ifc); err != nil {
		s.log.Warn("not capturing on interface", "interface", ifc.name, "err", err)
	}
}

// forget drops an interface that went away (its hooks went with it).
func (s *Source) forget(index int) {
	a, ok := s.attached[index]
	if !ok {
		return
	}
	if err := a.detach(); err != nil {
		s.log.Debug("detach from removed interface", "interface", a.name, "err", err)
	}
	delete(s.attached, index)
	s.setKind(index, iface{}, false)
	s.log.Debug("interface removed", "interface", a.name, "ifindex", index)
	if s.onLink != nil {
		s.onLink(index, false)
	}
}

// LinkType is the link type of every frame Run delivers.
func (s *Source) LinkType() layers.LinkType { return s.linkType }

// Run delivers frames until ctx is done, then detaches, drains the ring and
// returns nil.
func (s *Source) Run(ctx context.Context, handle func(*layers.Frame) error) error {
	deliver := func(raw []byte) error { return s.deliver(raw, handle) }
	for {
		if ctx.Err() != nil {
			return s.finish(deliver)
		}
		_, stalled, err := s.ring.consume(deliver)
		if err != nil {
			return err
		}
		if stalled {
			time.Sleep(busyPause)
		} else if err := s.ring.wait(pollInterval); err != nil {
			return err
		}
	}
}

// finish stops capturing and delivers what the kernel already captured.
func (s *Source) finish(deliver func([]byte) error) error {
	if err := s.detachAll(); err != nil {
		s.log.Warn("detach eBPF capture", "err", err)
	}
	// Programs still running finish their records within microseconds.
	for {
		_, stalled, err := s.ring.consume(deliver)
		if err != nil {
			return err
		}
		if !stalled {
			break
		}
		time.Sleep(busyPause)
	}
	st := s.Stats()
	s.final = &st
	return nil
}

func (s *Source) deliver(raw []byte, handle func(*layers.Frame) error) error {
	if s.any || len(raw) > 30 && raw[30]&flagChunk != 0 {
		s.copyBuf = append(s.copyBuf[:0], raw...)
		raw = s.copyBuf
	}
	r, data, err := decodeRecord(raw)
	if err != nil {
		return err
	}
	class := 0
	if s.any {
		ifc := (*s.kinds.Load())[r.ifindex]
		if ifc.hatype == 0 {
			ifc.hatype = arphrdEther
		}
		data = toCooked(raw, &r, ifc.hatype, ifc.l3)
		if ifc.l3 {
			class = 1
		}
	} else if s.linkType == layers.LinkRaw {
		class = 1
	}
	if uf := s.userFilter[class]; uf != nil && !uf.Match(data, r.wireLen) {
		return nil
	}
	if r.flags&flagChunk == 0 || r.payOff == 0 {
		s.captured++
	}
	f := &s.frame
	f.LinkType, f.TS, f.WireLen, f.Data, f.Ifindex = s.linkType, int64(r.tsNS)+s.monoToReal, r.wireLen, data, r.ifindex
	return handle(f)
}

// counters sums the per-CPU kernel counters.
func (s *Source) counters() (bpfBpflowCounters, error) {
	var sum bpfBpflowCounters
	if s.maps == nil {
		return sum, nil
	}
	var perCPU []bpfBpflowCounters
	if err := s.maps.stats.Lookup(uint32(0), &perCPU); err != nil {
		return sum, fmt.Errorf("read eBPF capture counters: %w", err)
	}
	for _, c := range perCPU {
		sum.Seen += c.Seen
		sum.Tcp += c.Tcp
		sum.Matched += c.Matched
		sum.Packets += c.Packets
		sum.Records += c.Records
		sum.Bytes += c.Bytes
		sum.RingFull += c.RingFull
		sum.Truncated += c.Truncated
		sum.ParseErr += c.ParseErr
		sum.CopyErr += c.CopyErr
	}
	return sum, nil
}

// Stats reports frames delivered and packets the kernel lost on any path
// (ring full, truncated, malformed headers, copy failures).
func (s *Source) Stats() capture.Stats {
	if s.final != nil {
		return *s.final
	}
	c, err := s.counters()
	if err != nil {
		s.log.Warn("eBPF capture statistics", "err", err)
	}
	return capture.Stats{Captured: s.captured, Dropped: c.RingFull + c.Truncated + c.ParseErr + c.CopyErr}
}

func (s *Source) detachAll() error {
	if s.watchDone != nil {
		close(s.watchDone)
		s.watchDone = nil
		s.watchWait.Wait()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for idx, a := range s.attached {
		errs = append(errs, a.detach())
		delete(s.attached, idx)
	}
	s.attached = nil
	return errors.Join(errs...)
}

// Close detaches everything and releases every kernel object.
func (s *Source) Close() error {
	s.closeOnce.Do(func() {
		errs := []error{s.detachAll(), s.promisc.Close()}
		if s.final == nil && s.maps != nil {
			st := s.Stats()
			s.final = &st
		}
		if s.ring != nil {
			errs = append(errs, s.ring.Close())
		}
		for _, p := range s.progs {
			if p != nil {
				errs = append(errs, p.Close())
			}
		}
		errs = append(errs, s.maps.Close())
		s.h.Close()
		errs = append(errs, s.ns.Close())
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}
