package ebpf

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
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
	epfd       int
	events     [1]unix.EpollEvent
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
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err == nil {
		err = unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, mapFD, &unix.EpollEvent{Events: unix.EPOLLIN})
	}
	if err != nil {
		unix.Munmap(cons)
		unix.Munmap(prod)
		if epfd > 0 {
			unix.Close(epfd)
		}
		return nil, fmt.Errorf("watch ring buffer: %w", err)
	}
	return &ring{
		cons: cons, prod: prod, data: prod[page:], mask: uint64(size) - 1,
		consPos: (*uint64)(unsafe.Pointer(&cons[0])), prodPos: (*uint64)(unsafe.Pointer(&prod[0])),
		epfd: epfd,
	}, nil
}

// consume hands every submitted sample to fn, in order, releasing each when
// fn returns; it stops at the first sample still being written. It returns
// the number of samples handed out.
func (r *ring) consume(fn func(sample []byte) error) (int, error) {
	n := 0
	cons := atomic.LoadUint64(r.consPos)
	for {
		prod := atomic.LoadUint64(r.prodPos)
		if cons >= prod {
			return n, nil
		}
		hdr := (*uint32)(unsafe.Pointer(&r.data[cons&r.mask]))
		l := atomic.LoadUint32(hdr)
		if l&ringBusyBit != 0 {
			// Reserved and about to be submitted: the producer holds it for
			// a few hundred nanoseconds at most.
			runtime.Gosched()
			continue
		}
		size := uint64(l &^ (ringBusyBit | ringDiscardBit))
		start := (cons + ringHdrSize) & r.mask
		var err error
		if l&ringDiscardBit == 0 {
			err = fn(r.data[start : start+size : start+size])
			n++
		}
		cons += (size + ringHdrSize + 7) &^ 7
		atomic.StoreUint64(r.consPos, cons)
		if err != nil {
			return n, err
		}
	}
}

// wait blocks until the kernel signals new samples or timeout passes.
func (r *ring) wait(timeout time.Duration) error {
	_, err := unix.EpollWait(r.epfd, r.events[:], int(timeout.Milliseconds()))
	if err != nil && !errors.Is(err, unix.EINTR) {
		return fmt.Errorf("wait for ring buffer: %w", err)
	}
	return nil
}

func (r *ring) Close() error {
	return errors.Join(unix.Munmap(r.cons), unix.Munmap(r.prod), unix.Close(r.epfd))
}
