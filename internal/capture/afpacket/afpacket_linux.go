//go:build linux

package afpacket

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/bpflow/bpflow/internal/capture"
	"github.com/bpflow/bpflow/internal/layers"
)

// frameSize is the nominal TPACKET_V3 frame size. V3 packs frames of any size
// into a block; the kernel only needs frames-per-block to divide evenly.
const frameSize = 2048

// frameOverhead bounds what the kernel stores in a block beside the packet
// (block descriptor, frame header, sockaddr_ll, alignment, reserve).
const frameOverhead = 256

// source is a running AF_PACKET capture.
type source struct {
	dev device
	fd  int
	// file and raw wait for the ring in Go's netpoller (epoll), so a
	// waiting Run parks its goroutine instead of blocking a thread in
	// poll(2); read deadlines interrupt the wait.
	file *os.File
	raw  syscall.RawConn
	// readyFn is s.ready, bound once so waiting allocates nothing.
	readyFn func(fd uintptr) bool
	// waits counts calls of ready within one wait; sockErr is a socket
	// error ready found.
	waits     int
	sockErr   error
	ring      []byte
	blockSize int
	blocks    int
	next      int
	timeout   time.Duration
	dec       decoder
	dropped   uint64
	// netDown: the device went down; wait polls with a timeout to notice
	// when it is deleted (the kernel reports nothing more then).
	netDown bool
	// accepted counts packets the socket filter let into the ring (kept
	// for tests: it proves the kernel filter is attached).
	accepted uint64
	closed   bool
}

// Open captures on cfg.Interface with the default ring (--ring-size, when
// given, sets its total size).
func Open(ctx context.Context, cfg capture.Config, log *slog.Logger) (capture.Source, error) {
	return OpenTuned(ctx, cfg, Tuning{RingSize: cfg.RingSize, BlockSize: cfg.BlockSize, BlockTimeout: cfg.BlockTimeout}, log)
}

// OpenTuned is Open with explicit ring sizes. It must run in the network
// namespace of the interface; the socket stays bound to it.
func OpenTuned(ctx context.Context, cfg capture.Config, t Tuning, log *slog.Logger) (capture.Source, error) {
	dev, err := lookupDevice(cfg.Interface)
	if err != nil {
		return nil, err
	}
	var prog *compiled
	if strings.TrimSpace(cfg.Filter) != "" {
		if prog, err = compileFilter(cfg.Filter, dev.linkType); err != nil {
			return nil, err
		}
	}
	s, err := open(ctx, cfg, t, dev, prog, log)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func open(_ context.Context, cfg capture.Config, t Tuning, dev device, prog *compiled, log *slog.Logger) (*source, error) {
	snaplen := cfg.Snaplen
	if snaplen <= 0 {
		snaplen = defaultSnaplen
	}
	t, err := t.withDefaults(snaplen)
	if err != nil {
		return nil, fmt.Errorf("size the AF_PACKET ring for %s: %w", dev.name, err)
	}
	var insns []bpf.Instruction
	var match func([]byte, uint32) bool
	if prog != nil {
		insns, match = prog.insns, prog.match
	}
	filt, err := buildSocketFilter(insns, dev.loIfindex, uint32(snaplen))
	if err != nil {
		return nil, fmt.Errorf("build socket filter for %s: %w", dev.name, err)
	}
	s := &source{dev: dev, fd: -1, blockSize: t.BlockSize, blocks: t.RingSize / t.BlockSize, timeout: t.BlockTimeout}
	s.dec = decoder{linkType: dev.linkType, cooked: dev.cooked, vlanOffset: dev.vlanOffset, loIfindex: dev.loIfindex, snaplen: uint32(snaplen), match: match, matchAll: filt.userAll}
	if err := s.setup(cfg.Promisc, filt.kernel); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	if log != nil {
		log.Debug("AF_PACKET capture ready", "interface", dev.name, "linktype", dev.linkType, "block_size", s.blockSize, "blocks", s.blocks, "kernel_filter_insns", len(filt.kernel), "userspace_filter", filt.userAll)
	}
	return s, nil
}

// withDefaults fills zero fields and checks the ring can hold a snaplen frame.
func (t Tuning) withDefaults(snaplen int) (Tuning, error) {
	if t.BlockTimeout <= 0 {
		t.BlockTimeout = DefaultBlockTimeout
	}
	t.BlockTimeout = min(t.BlockTimeout, maxBlockTimeout)
	if t.BlockSize <= 0 {
		t.BlockSize = max(DefaultBlockSize, 1<<bits.Len(uint(snaplen+frameOverhead)))
	}
	page := os.Getpagesize()
	if t.BlockSize < page || t.BlockSize&(t.BlockSize-1) != 0 {
		return t, fmt.Errorf("block size %d must be a power of two and at least the page size %d", t.BlockSize, page)
	}
	if t.BlockSize < snaplen+frameOverhead {
		return t, fmt.Errorf("block size %d cannot hold a %d-byte snaplen frame (need at least %d)", t.BlockSize, snaplen, snaplen+frameOverhead)
	}
	if t.RingSize <= 0 {
		t.RingSize = DefaultRingSize
	}
	t.RingSize = max(t.RingSize/t.BlockSize, 2) * t.BlockSize
	return t, nil
}

// setup creates the socket and ring. The socket is bound last, so no packet
// reaches the ring before the filter is in place.
func (s *source) setup(promisc bool, kernelFilter []bpf.RawInstruction) error {
	typ := unix.SOCK_RAW
	if s.dev.cooked {
		typ = unix.SOCK_DGRAM
	}
	fd, err := unix.Socket(unix.AF_PACKET, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return socketError(s.dev.name, err)
	}
	s.fd = fd
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return fmt.Errorf("select TPACKET_V3 on %s: %w", s.dev.name, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_RESERVE, reserveLen); err != nil {
		return fmt.Errorf("reserve VLAN headroom on %s: %w", s.dev.name, err)
	}
	if err := s.mapRing(); err != nil {
		return err
	}
	if err := attachFilter(fd, kernelFilter); err != nil {
		return fmt.Errorf("attach socket filter on %s: %w", s.dev.name, err)
	}
	if promisc && s.dev.ifindex != 0 {
		mreq := unix.PacketMreq{Ifindex: int32(s.dev.ifindex), Type: unix.PACKET_MR_PROMISC}
		if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
			return fmt.Errorf("enter promiscuous mode on %s: %w", s.dev.name, permissionHint(err))
		}
	}
	sa := unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: s.dev.ifindex}
	if err := unix.Bind(fd, &sa); err != nil {
		return fmt.Errorf("bind AF_PACKET socket to %s (ifindex %d): %w", s.dev.name, s.dev.ifindex, err)
	}
	// A bind to a device that is down succeeds but leaves ENETDOWN pending.
	if soerr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); err == nil && soerr != 0 {
		if unix.Errno(soerr) == unix.ENETDOWN {
			return &Error{Device: s.dev.name, Msg: "That device is not up", Err: ErrNotUp}
		}
		return fmt.Errorf("bind AF_PACKET socket to %s: %w", s.dev.name, unix.Errno(soerr))
	}
	return s.registerPoller()
}

// registerPoller hands the socket to Go's netpoller: the file then owns fd.
func (s *source) registerPoller() error {
	if err := unix.SetNonblock(s.fd, true); err != nil {
		return fmt.Errorf("make AF_PACKET socket on %s non-blocking: %w", s.dev.name, err)
	}
	s.file = os.NewFile(uintptr(s.fd), "afpacket:"+s.dev.name)
	raw, err := s.file.SyscallConn()
	if err != nil {
		return fmt.Errorf("register AF_PACKET socket on %s with the netpoller: %w", s.dev.name, err)
	}
	s.raw, s.readyFn = raw, s.ready
	return nil
}

func (s *source) mapRing() error {
	req := unix.TpacketReq3{
		Block_size:     uint32(s.blockSize),
		Block_nr:       uint32(s.blocks),
		Frame_size:     frameSize,
		Frame_nr:       uint32(s.blockSize / frameSize * s.blocks),
		Retire_blk_tov: uint32(max(s.timeout/time.Millisecond, 1)),
	}
	if err := unix.SetsockoptTpacketReq3(s.fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return fmt.Errorf("create %d×%d-byte TPACKET_V3 ring on %s: %w", s.blocks, s.blockSize, s.dev.name, err)
	}
	ring, err := unix.Mmap(s.fd, 0, s.blockSize*s.blocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("map %d-byte TPACKET_V3 ring on %s: %w", s.blockSize*s.blocks, s.dev.name, err)
	}
	s.ring = ring
	return nil
}

func attachFilter(fd int, prog []bpf.RawInstruction) error {
	if len(prog) == 0 {
		return errors.New("empty socket filter")
	}
	// bpf.RawInstruction and unix.SockFilter share struct sock_filter's layout.
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: (*unix.SockFilter)(unsafe.Pointer(&prog[0]))}
	return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog)
}

// permissionHint names the capability an EPERM/EACCES is about.
func permissionHint(err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return fmt.Errorf("%w (packet capture needs CAP_NET_RAW: run as root or grant the capability)", err)
	}
	return err
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// LinkType is the link type of delivered frames.
func (s *source) LinkType() layers.LinkType { return s.dev.linkType }

// Run delivers frames until ctx is done, then drains the ring.
func (s *source) Run(ctx context.Context, handle func(*layers.Frame) error) error {
	if s.closed {
		return fmt.Errorf("capture on %s: source is closed", s.dev.name)
	}
	// Cancellation sets a read deadline in the past, which ends a wait.
	// Run does not return (so Close cannot close the file) while that
	// may still be running.
	woke := make(chan struct{})
	stop := context.AfterFunc(ctx, func() { _ = s.file.SetReadDeadline(time.Unix(1, 0)); close(woke) })
	defer func() {
		if !stop() {
			<-woke
		}
	}()
	for ctx.Err() == nil {
		if err := s.consume(handle); err != nil {
			return err
		}
		if err := s.wait(ctx); err != nil {
			return err
		}
	}
	return s.drain(handle)
}

func (s *source) blockAt(i int) []byte {
	return s.ring[i*s.blockSize : (i+1)*s.blockSize]
}

func blockStatus(blk []byte) *uint32 {
	return (*uint32)(unsafe.Pointer(&blk[offBlkStatus]))
}

// consume delivers every block userspace owns, in ring order, handing each
// back to the kernel after its frames are delivered.
func (s *source) consume(handle func(*layers.Frame) error) error {
	for range s.blocks {
		blk := s.blockAt(s.next)
		status := blockStatus(blk)
		if atomic.LoadUint32(status)&statusUser == 0 {
			return nil
		}
		err := s.dec.block(blk, handle)
		atomic.StoreUint32(status, 0) // TP_STATUS_KERNEL
		s.next = (s.next + 1) % s.blocks
		if err != nil {
			return err
		}
	}
	return nil
}

// wait blocks until the kernel hands over a block, the socket reports an
// error, or ctx is cancelled.
func (s *source) wait(ctx context.Context) error {
	if s.netDown {
		// The kernel says nothing when a down device is deleted: look again
		// every downCheckMS. Setting a deadline could undo a cancellation's,
		// hence the second look at ctx.
		_ = s.file.SetReadDeadline(time.Now().Add(downCheckMS * time.Millisecond))
		if ctx.Err() != nil {
			return nil
		}
	}
	err := s.waitReady()
	if s.netDown {
		if s.deviceGone() {
			return errDisappeared
		}
		s.netDown = !s.blockReady()
		if !s.netDown && ctx.Err() == nil {
			_ = s.file.SetReadDeadline(time.Time{})
			if ctx.Err() != nil {
				_ = s.file.SetReadDeadline(time.Unix(1, 0))
			}
		}
	}
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("wait for AF_PACKET ring on %s: %w", s.dev.name, err)
	}
	return s.socketError()
}

// waitReady parks until ready says the ring or the socket needs attention
// (or the read deadline passes: os.ErrDeadlineExceeded).
func (s *source) waitReady() error {
	s.waits, s.sockErr = 0, nil
	return s.raw.Read(s.readyFn)
}

// ready is the netpoller's readiness test. The first call comes before any
// wait; later ones follow a wakeup, which may also be an error report, so
// only those read SO_ERROR when no block is ready.
func (s *source) ready(fd uintptr) bool {
	s.waits++
	if s.blockReady() {
		return true
	}
	if s.waits == 1 {
		return false
	}
	soerr, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
	switch {
	case err != nil:
		s.sockErr = err
	case soerr != 0:
		s.sockErr = unix.Errno(soerr)
	}
	return s.sockErr != nil
}

func (s *source) blockReady() bool {
	return atomic.LoadUint32(blockStatus(s.blockAt(s.next)))&statusUser != 0
}

// socketError handles a socket error as libpcap does: a device that went down is
// waited for (capture resumes when it comes back up); a device that is gone
// ends the capture with libpcap's message.
func (s *source) socketError() error {
	switch {
	case s.sockErr == nil:
		return nil
	case errors.Is(s.sockErr, unix.ENETDOWN) && s.deviceGone():
		return errDisappeared
	case errors.Is(s.sockErr, unix.ENETDOWN):
		s.netDown = true
		return nil
	}
	return fmt.Errorf("capture on %s: %w", s.dev.name, s.sockErr)
}

// errDisappeared is libpcap's message when the capture device is deleted;
// tcpflow prints it after an empty device name ("tcpflow: : …").
var errDisappeared = &Error{Msg: "The interface disappeared", Err: unix.ENODEV}

// downCheckMS is how often a capture whose device is down checks whether
// the device was deleted.
const downCheckMS = 100

// deviceGone reports whether the bound device was unregistered: the kernel
// then sets the socket's ifindex to -1. (Asking by name would look in the
// namespace of whichever thread runs Run.)
func (s *source) deviceGone() bool {
	sa, err := unix.Getsockname(s.fd)
	ll, ok := sa.(*unix.SockaddrLinklayer)
	return err == nil && ok && s.dev.ifindex != 0 && ll.Ifindex != s.dev.ifindex
}

// drain stops new packets at the socket filter, then delivers what the ring
// already holds, including the partly filled block the kernel hands over
// when its timeout expires.
func (s *source) drain(handle func(*layers.Frame) error) error {
	if err := attachFilter(s.fd, dropAll); err != nil {
		return fmt.Errorf("stop capture on %s: %w", s.dev.name, err)
	}
	for {
		if err := s.consume(handle); err != nil {
			return err
		}
		_ = s.file.SetReadDeadline(time.Now().Add(2*s.timeout + 20*time.Millisecond))
		err := s.waitReady()
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Errorf("wait for AF_PACKET ring on %s while draining: %w", s.dev.name, err)
		}
		if !s.blockReady() {
			s.collectStats()
			return nil
		}
	}
}

// collectStats adds the kernel's drop counter (reading it resets it).
func (s *source) collectStats() {
	if s.fd < 0 {
		return
	}
	st, err := unix.GetsockoptTpacketStatsV3(s.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err == nil {
		s.dropped += uint64(st.Drops)
		s.accepted += uint64(st.Packets)
	}
}

// Stats reports delivered frames and the frames the kernel dropped because
// the ring was full.
func (s *source) Stats() capture.Stats {
	s.collectStats()
	return capture.Stats{Captured: s.dec.delivered, Dropped: s.dropped}
}

// Close unmaps the ring and closes the socket (which leaves promiscuous mode).
func (s *source) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	s.collectStats()
	var errs []error
	if s.ring != nil {
		if err := unix.Munmap(s.ring); err != nil {
			errs = append(errs, fmt.Errorf("unmap ring of %s: %w", s.dev.name, err))
		}
		s.ring = nil
	}
	var err error
	switch {
	case s.file != nil:
		err = s.file.Close()
	case s.fd >= 0:
		err = unix.Close(s.fd)
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("close capture socket of %s: %w", s.dev.name, err))
	}
	s.fd, s.file = -1, nil
	return errors.Join(errs...)
}
