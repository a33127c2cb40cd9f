//go:build darwin

package bsdbpf

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpflow/bpflow/internal/capture"
	"github.com/bpflow/bpflow/internal/filter"
	"github.com/bpflow/bpflow/internal/layers"
)

const (
	// bufferSize is asked for with BIOCSBLEN; the kernel clamps it to
	// debug.bpf_maxbufsize and BIOCGBLEN says what was granted.
	bufferSize = 2 << 20
	// readTimeoutUsec bounds how long a read waits (BIOCSRTIMEOUT), so a
	// cancelled Run notices within it even on an idle interface.
	readTimeoutUsec = 100_000
	// maxKernelInsns is macOS's BPF_MAXINSNS; longer programs run in userspace.
	maxKernelInsns = 512
	// maxDevices bounds the /dev/bpfN probe.
	maxDevices = 256
	// drainReads bounds the reads after cancellation: the kernel holds at
	// most a store and a hold buffer.
	drainReads     = 4
	defaultSnaplen = 65536
)

// source is a running /dev/bpf capture.
type source struct {
	fd        int
	name      string
	ifindex   uint32
	link      layers.LinkType
	snaplen   int
	buf       []byte
	rd        bufReader
	match     func(data []byte, wireLen uint32) bool // userspace filter, nil if the kernel filters
	delivered uint64
	dropped   uint64
	closed    bool
}

// Open starts a /dev/bpf capture on cfg.Interface with the compiled filter.
func Open(_ context.Context, cfg capture.Config, log *slog.Logger) (capture.Source, error) {
	fd, err := openDevice(cfg.Interface)
	if err != nil {
		return nil, err
	}
	s := &source{fd: fd, name: cfg.Interface, snaplen: cfg.Snaplen, rd: bufReader{l: darwinLayout}}
	if s.snaplen <= 0 {
		s.snaplen = defaultSnaplen
	}
	if err := s.setup(cfg); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	if log != nil {
		log.Debug("/dev/bpf capture ready", "interface", s.name, "linktype", s.link, "buffer", len(s.buf), "userspace_filter", s.match != nil)
	}
	return s, nil
}

// openDevice opens the first /dev/bpfN no other process holds.
func openDevice(iface string) (int, error) {
	for i := range maxDevices {
		path := fmt.Sprintf("/dev/bpf%d", i)
		fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
		switch {
		case err == nil:
			return fd, nil
		case errors.Is(err, unix.EBUSY):
			continue
		case errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM):
			// libpcap's wording; the remedy is root or access to /dev/bpf*.
			return -1, fmt.Errorf("%s: You don't have permission to capture on that device ((cannot open BPF device) %s: %s)", iface, path, capitalize(err.Error()))
		default:
			return -1, fmt.Errorf("open BPF device %s for %s: %w", path, iface, err)
		}
	}
	return -1, fmt.Errorf("open a BPF device for %s: /dev/bpf0 to /dev/bpf%d are all busy", iface, maxDevices-1)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// ioctlPtr issues an ioctl whose argument is a pointer.
func ioctlPtr(fd int, req uint, arg unsafe.Pointer) error {
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg)); errno != 0 {
		return errno
	}
	return nil
}

func (s *source) setup(cfg capture.Config) error {
	// The buffer size must be set before the interface is attached.
	if err := unix.IoctlSetPointerInt(s.fd, unix.BIOCSBLEN, bufferSize); err != nil {
		return fmt.Errorf("set BPF buffer size %d: %w", bufferSize, err)
	}
	var ifr [unix.IFNAMSIZ + 16]byte
	if len(s.name) >= unix.IFNAMSIZ {
		return fmt.Errorf("%s: No such device exists (interface name too long)", s.name)
	}
	copy(ifr[:], s.name)
	if err := ioctlPtr(s.fd, unix.BIOCSETIF, unsafe.Pointer(&ifr[0])); err != nil {
		if errors.Is(err, unix.ENXIO) {
			return fmt.Errorf("%s: No such device exists (BIOCSETIF failed: %s)", s.name, capitalize(err.Error()))
		}
		return fmt.Errorf("attach BPF device to %s (BIOCSETIF): %w", s.name, err)
	}
	blen, err := unix.IoctlGetInt(s.fd, unix.BIOCGBLEN)
	if err != nil {
		return fmt.Errorf("read BPF buffer size: %w", err)
	}
	s.buf = make([]byte, blen)
	if err := unix.IoctlSetPointerInt(s.fd, unix.BIOCIMMEDIATE, 1); err != nil {
		return fmt.Errorf("set immediate mode on %s: %w", s.name, err)
	}
	tv := unix.Timeval{Usec: readTimeoutUsec}
	if err := ioctlPtr(s.fd, unix.BIOCSRTIMEOUT, unsafe.Pointer(&tv)); err != nil {
		return fmt.Errorf("set read timeout on %s: %w", s.name, err)
	}
	dlt, err := unix.IoctlGetInt(s.fd, unix.BIOCGDLT)
	if err != nil {
		return fmt.Errorf("read data link type of %s: %w", s.name, err)
	}
	s.link = linkTypeOf(uint32(dlt))
	if ifc, err := net.InterfaceByName(s.name); err == nil {
		s.ifindex = uint32(ifc.Index)
	}
	if cfg.Promisc {
		if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(s.fd), uintptr(unix.BIOCPROMISC), 0); errno != 0 {
			return fmt.Errorf("enter promiscuous mode on %s: %w", s.name, errno)
		}
	}
	return s.setFilter(cfg.Filter)
}

// setFilter compiles expr and loads it into the kernel (BIOCSETF), or keeps
// it for userspace when it is longer than the kernel accepts.
func (s *source) setFilter(expr string) error {
	if strings.TrimSpace(expr) == "" {
		return nil
	}
	prog, err := filter.Compile(expr, s.link)
	if err != nil {
		return err
	}
	raw := prog.Raw()
	if len(raw) > maxKernelInsns {
		s.match = prog.Match
		return nil
	}
	// bpf.RawInstruction and struct bpf_insn share their layout.
	bp := unix.BpfProgram{Len: uint32(len(raw)), Insns: (*unix.BpfInsn)(unsafe.Pointer(&raw[0]))}
	if err := ioctlPtr(s.fd, unix.BIOCSETF, unsafe.Pointer(&bp)); err != nil {
		return fmt.Errorf("load %d-instruction filter on %s (BIOCSETF): %w", len(raw), s.name, err)
	}
	return nil
}

// LinkType is the link type of delivered frames (EN10MB, NULL for lo0/utun …).
func (s *source) LinkType() layers.LinkType { return s.link }

// Run delivers frames until ctx is done, then reads what the kernel still
// buffers (at most its store and hold buffers) and returns.
func (s *source) Run(ctx context.Context, handle func(*layers.Frame) error) error {
	if s.closed {
		return fmt.Errorf("capture on %s: source is closed", s.name)
	}
	for ctx.Err() == nil {
		if _, err := s.readOnce(handle); err != nil {
			return err
		}
	}
	if err := unix.SetNonblock(s.fd, true); err != nil {
		return fmt.Errorf("stop capture on %s: %w", s.name, err)
	}
	for range drainReads {
		n, err := s.readOnce(handle)
		if err != nil || n == 0 {
			return err
		}
	}
	return nil
}

// readOnce reads one buffer and delivers its records; it returns the
// number of bytes read (0 on timeout or, when non-blocking, nothing left).
func (s *source) readOnce(handle func(*layers.Frame) error) (int, error) {
	n, err := unix.Read(s.fd, s.buf)
	switch {
	case errors.Is(err, unix.EINTR), errors.Is(err, unix.EAGAIN):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("read from BPF device on %s: %w", s.name, err)
	}
	s.rd.reset(s.buf[:n], s.link)
	for {
		f, err := s.rd.next()
		if err != nil {
			return n, err
		}
		if f == nil {
			return n, nil
		}
		if s.match != nil && !s.match(f.Data, f.WireLen) {
			continue
		}
		if len(f.Data) > s.snaplen {
			f.Data = f.Data[:s.snaplen]
		}
		f.Ifindex = s.ifindex
		s.delivered++
		if err := handle(f); err != nil {
			return n, err
		}
	}
}

// Stats reports delivered frames and the kernel's drop count (BIOCGSTATS).
func (s *source) Stats() capture.Stats {
	if !s.closed {
		var st unix.BpfStat
		if err := ioctlPtr(s.fd, unix.BIOCGSTATS, unsafe.Pointer(&st)); err == nil {
			s.dropped = uint64(st.Drop)
		}
	}
	return capture.Stats{Captured: s.delivered, Dropped: s.dropped}
}

// Close releases the BPF device (which also leaves promiscuous mode).
func (s *source) Close() error {
	if s.closed {
		return nil
	}
	s.Stats()
	s.closed = true
	if err := unix.Close(s.fd); err != nil {
		return fmt.Errorf("close BPF device of %s: %w", s.name, err)
	}
	return nil
}
