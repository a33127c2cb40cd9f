package ebpf

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Ring record header bits (kernel/bpf/ringbuf.c).
const (
	ringBusyBit    = 1 << 31 // reserved, not yet submitted or discarded
	ringDiscardBit = 1 << 30 // discarded: skip it
	ringHdrSize    = 8
)

// ring consumes a BPF ring buffer in place: a sample is handed out as a slice
// of the kernel's read-only mapping and released when the handler returns,
// so no byte is copied on the way to the flow engine. (cilium/ebpf v0.22's
// ringbuf.Reader copies every sample out first.)
type ring struct {
	cons, prod []byte // consumer page (read-write); producer page + data twice (read-only)
	data       []byte // the data area, mapped twice so a sample never wraps
	mask       uint64
	consPos    *uint64
	prodPos    *uint64
	// file is a non-blocking duplicate of the map's descriptor, registered
	// with Go's netpoller: a wait parks the goroutine instead of holding a
	// thread in epoll_wait, which would make the runtime hand its P to
	// another thread after 20 µs on every wait (sysmon's retake) and cost
	// more CPU than the records themselves when they arrive slowly.
	file *os.File
	raw  syscall.RawConn
	// pendingFn is r.pending as a func value, made once.
	pendingFn func(uintptr) bool
}

func newRing(mapFD int, size uint32) (*ring, error) {
	page := os.Getpagesize()
	cons, err := unix.Mmap(mapFD, 0, page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("map ring buffer consumer page: %w", err)
	}
	prod, err := unix.Mmap(mapFD, int64(page), page+2*int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		unix.Munmap(cons)
		return nil, fmt.Errorf("map ring buffer data (%d bytes): %w", size, err)
	}
	r := &ring{
		cons: cons, prod: prod, data: prod[page:], mask: uint64(size) - 1,
		consPos: (*uint64)(unsafe.Pointer(&cons[0])), prodPos: (*uint64)(unsafe.Pointer(&prod[0])),
	}
	r.pendingFn = r.pending
	if err := r.watch(mapFD); err != nil {
		return nil, errors.Join(fmt.Errorf("watch ring buffer: %w", err), r.Close())
	}
	return r, nil
}

// watch registers a duplicate of the map's descriptor with the netpoller;
// the ring map is readable while samples wait.
func (r *ring) watch(mapFD int) error {
	fd, err := unix.FcntlInt(uintptr(mapFD), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("duplicate map descriptor: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return fmt.Errorf("make map descriptor non-blocking: %w", err)
	}
	r.file = os.NewFile(uintptr(fd), "bpflow_ring")
	if r.raw, err = r.file.SyscallConn(); err != nil {
		return err
	}
	// A file the netpoller refused takes no deadline.
	return r.file.SetReadDeadline(time.Time{})
}

// busySpins is how often consume yields for a sample still being written
// before it gives up for now. A producer runs with bottom halves off, so the
// sample is being copied on another CPU and is usually done within a few
// yields; a super-packet takes tens of microseconds, too long to spin for.
const busySpins = 32

// consume hands every submitted sample to fn, in order, releasing each when
// fn returns. It stops at the first sample still being written (stalled:
// it yielded busySpins times for it) and returns the number handed out.
func (r *ring) consume(fn func(sample []byte) error) (n int, stalled bool, err error) {
	cons := atomic.LoadUint64(r.consPos)
	spins := 0
	for {
		prod := atomic.LoadUint64(r.prodPos)
		if cons >= prod {
			return n, false, nil
		}
		hdr := (*uint32)(unsafe.Pointer(&r.data[cons&r.mask]))
		l := atomic.LoadUint32(hdr)
		if l&ringBusyBit != 0 {
			if spins++; spins > busySpins {
				return n, true, nil
			}
			runtime.Gosched()
			continue
		}
		spins = 0
		size := uint64(l &^ (ringBusyBit | ringDiscardBit))
		start := (cons + ringHdrSize) & r.mask
		if l&ringDiscardBit == 0 {
			err = fn(r.data[start : start+size : start+size])
			n++
		}
		cons += (size + ringHdrSize + 7) &^ 7
		atomic.StoreUint64(r.consPos, cons)
		if err != nil {
			return n, false, err
		}
	}
}

// pending reports whether a sample (submitted or not) waits; it is the
// readiness check of wait, so its argument is the descriptor.
func (r *ring) pending(uintptr) bool {
	return atomic.LoadUint64(r.consPos) < atomic.LoadUint64(r.prodPos)
}

// wait returns once samples wait: at once if some do, else when the kernel
// signals new ones or timeout passes.
func (r *ring) wait(timeout time.Duration) error {
	if r.pending(0) {
		return nil
	}
	if err := r.file.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return fmt.Errorf("wait for ring buffer: %w", err)
	}
	if err := r.raw.Read(r.pendingFn); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("wait for ring buffer: %w", err)
	}
	return nil
}

func (r *ring) Close() error {
	errs := []error{unix.Munmap(r.cons), unix.Munmap(r.prod)}
	if r.file != nil {
		errs = append(errs, r.file.Close())
	}
	return errors.Join(errs...)
}
