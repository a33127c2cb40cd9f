package output

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// SemLock is a POSIX named semaphore compatible with glibc's sem_open
// (/dev/shm/sem.NAME holding a 64-bit word: value in the low half, number
// of sleepers in the high half), so that bpflow and tcpflow -L processes
// can serialise their console output on the same name.
type SemLock struct {
	mem  []byte
	word *uint64
}

// OpenSemLock opens or creates the semaphore name with value 1, like
// sem_open(name, O_CREAT, 0777, 1).
func OpenSemLock(name string) (*SemLock, error) {
	name = strings.TrimLeft(name, "/")
	if name == "" || strings.Contains(name, "/") {
		return nil, fmt.Errorf("open semaphore %q: invalid name", name)
	}
	path := "/dev/shm/sem." + name
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if os.IsNotExist(err) {
		f, err = createSem(path)
	}
	if err != nil {
		return nil, fmt.Errorf("open semaphore %s: %w", path, err)
	}
	defer f.Close()
	mem, err := unix.Mmap(int(f.Fd()), 0, 32, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("map semaphore %s: %w", path, err)
	}
	return &SemLock{mem: mem, word: (*uint64)(unsafe.Pointer(&mem[0]))}, nil
}

// createSem writes an initialised semaphore under a temporary name and
// links it into place, as glibc does, so no process sees it half made.
func createSem(path string) (*os.File, error) {
	tmp, err := os.CreateTemp("/dev/shm", "sem.bpflow")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	var init [32]byte
	init[0] = 1 // value 1, no sleepers, shared
	if _, err := tmp.Write(init[:]); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Chmod(0o777 &^ umask()); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		tmp.Close()
		if os.IsExist(err) {
			return os.OpenFile(path, os.O_RDWR, 0)
		}
		return nil, err
	}
	return tmp, nil
}

func umask() os.FileMode {
	m := unix.Umask(0)
	unix.Umask(m)
	return os.FileMode(m)
}

// Lock is sem_wait.
func (s *SemLock) Lock() {
	for {
		w := atomic.LoadUint64(s.word)
		if uint32(w) > 0 {
			if atomic.CompareAndSwapUint64(s.word, w, w-1) {
				return
			}
			continue
		}
		atomic.AddUint64(s.word, 1<<32) // one more sleeper
		val := (*uint32)(unsafe.Pointer(s.word))
		_, _, _ = unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(val)), futexWait, 0, 0, 0, 0)
		atomic.AddUint64(s.word, ^uint64(1<<32-1)) // one sleeper less
	}
}

// Unlock is sem_post.
func (s *SemLock) Unlock() {
	w := atomic.AddUint64(s.word, 1)
	if w>>32 > 0 {
		val := (*uint32)(unsafe.Pointer(s.word))
		_, _, _ = unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(val)), futexWake, 1, 0, 0, 0)
	}
}

// futex operations on a process-shared word (no FUTEX_PRIVATE_FLAG).
const (
	futexWait = 0
	futexWake = 1
)
