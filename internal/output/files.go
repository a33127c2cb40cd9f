package output

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/bpflow/bpflow/internal/flow"
)

// fileState is a flow's file as the store sees it; it lives in Flow.Ext.
type fileState struct {
	f          *flow.Flow
	fd         int // -1 when closed (never opened, or closed by the LRU)
	prev, next *fileState
	onList     bool
	// buf holds written bytes not yet in the file; they belong at bufOff.
	buf    []byte
	bufOff int64
}

// Write-behind buffers: in-order segments of a flow are gathered and handed
// to the writer (writer.go) as one pwrite, which is where tcpflow spends its
// time (one lseek+write per segment). The buffers come from a bounded pool
// so memory stays small however many files are open, and a full buffer is
// handed over up to its last page boundary, the rest carried into the next
// one: the kernel then fills whole page-cache pages instead of zeroing the
// tail of a page that the next write overwrites.
const (
	writeBufSize = 16 << 10
	maxWriteBufs = 512
	pageSize     = 4096
)

// Files stores flows in files the way tcpflow does: the name is the first
// free connection count (O_EXCL), writes go to the flow's offset, the least
// recently used file is closed when too many are open and reopened later,
// and at close the file's times become the flow's first packet time.
type Files struct {
	Namer Namer
	// MaxFDs is tcpflow's max_fds (-f, or the descriptor limit − 6).
	MaxFDs int
	// Warn receives perror-style messages (name: reason).
	Warn func(msg string)
	// DebugLevel and Debugf reproduce tcpflow's DEBUG(n) file traces.
	DebugLevel int
	Debugf     func(format string, args ...any)
	// WriteThrough writes every segment when it arrives, from the caller's
	// memory, and closes files at once, as tcpflow does: no write-behind
	// buffer, no writer goroutine. Live capture sets it: a flow's bytes
	// must reach its file while the flow is still open (a reader may follow
	// the file, and a killed process must not take buffered data with it);
	// at TC and on packet sockets segments mostly arrive as GSO/GRO
	// super-packets, so this costs few writes; and a live segment is read
	// straight from the capture ring, so handing it to the writer would add
	// a copy and a handoff per segment (at 4 Gbit/s that cost 0.8 CPU-s
	// more per 5 s and captured no more).
	WriteThrough bool

	head, tail *fileState // open files, least recently used first
	open       int
	w          *writer  // runs the file system calls (started on first use)
	pool       *bufPool // buffers the writer is done with
	allocated  int
	holders    []*fileState // buffer owners, oldest first (may hold stale entries)
	arena      []byte       // backing store of the write buffers (never unmapped: they live for the run)
	// MaxOpen is the peak number of open files (report max_open_flows).
	MaxOpen  int
	madeDirs map[string]bool
}

func stateOf(f *flow.Flow) *fileState {
	s, _ := f.Ext.(*fileState)
	if s == nil {
		s = &fileState{f: f, fd: -1}
		f.Ext = s
	}
	return s
}

// OpenFiles is the number of flow files open now (report open_fds_at_end).
func (fs *Files) OpenFiles() int { return fs.open }

// Open makes sure f's file is open, creating it under the first free name.
func (fs *Files) Open(f *flow.Flow) error {
	s := stateOf(f)
	if s.fd >= 0 {
		return nil
	}
	if f.Name == "" {
		return fs.create(f, s)
	}
	fd, err := fs.retryingOpen(f.Name, unix.O_RDWR|unix.O_CREAT, 0o666)
	if err != nil {
		fs.Warn(f.Name + ": " + errText(err))
		return nil // tcpflow gives up on this packet, not on the run
	}
	s.fd = fd
	fs.debug(5, "%s: opening existing file", f.Name)
	fs.pushOpen(s)
	return nil
}

func (fs *Files) debug(level int, format string, args ...any) {
	if fs.DebugLevel >= level && fs.Debugf != nil {
		fs.Debugf(format, args...)
	}
}

func (fs *Files) create(f *flow.Flow, s *fileState) error {
	prev := ""
	for count := uint32(0); ; count++ {
		name, err := fs.Namer.Name(f, count)
		if err != nil {
			return err
		}
		if count > 1 && name == prev {
			// The template ignores the count beyond 1 (-Fc turns %c into a
			// second %C): tcpflow 1.6.1 loops forever here. bpflow appends
			// the count instead (DESIGN §4.6).
			name += strconv.FormatUint(uint64(count), 10)
		} else {
			prev = name
		}
		if strings.IndexByte(name, '/') >= 0 {
			if err := fs.mkdirsFor(name); err != nil {
				return err
			}
		}
		fd, err := fs.retryingOpen(name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL, 0o666)
		if err == nil {
			f.Name = name
			s.fd = fd
			fs.debug(5, "%s: created new file", name)
			fs.pushOpen(s)
			return nil
		}
		if !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("Cannot open: %s", name) //nolint:staticcheck // tcpflow's exact text
		}
	}
}

// RetryingOpen opens another file (an HTTP body) the way 1.6.1's
// post-processing does: through the flow files' descriptor limit, which may
// close the least recently used flow file, with the same debug traces.
func (fs *Files) RetryingOpen(name string, flags int, perm uint32) (int, error) {
	return fs.retryingOpen(name, flags, perm)
}

// retryingOpen closes least recently used files while the limit is reached
// or the system says there are too many open files.
func (fs *Files) retryingOpen(name string, flags int, perm uint32) (int, error) {
	for {
		if fs.open >= fs.MaxFDs && fs.head != nil {
			fs.closeFD(fs.head)
		}
		fd, err := unix.Open(name, flags|unix.O_CLOEXEC, perm)
		if (errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE)) && fs.closesQueued() {
			fs.Sync() // closes still queued hold descriptors: not a real shortage yet
			continue
		}
		fs.debug(2, "retrying_open ::open(fn=%s,oflag=x%x,mask:x%x)=%d", name, flags, perm, fd)
		if err == nil {
			return fd, nil
		}
		errno := 0
		var en unix.Errno
		if errors.As(err, &en) {
			errno = int(en)
		}
		fs.debug(2, "retrying_open ::open failed with errno=%d", errno)
		if !errors.Is(err, unix.EMFILE) && !errors.Is(err, unix.ENFILE) {
			fs.debug(2, "retrying_open ::open failed with errno=%d (%s)", errno, errText(err))
			return -1, err
		}
		if fs.head == nil {
			return -1, err
		}
		fs.debug(5, "too many open files -- contracting FD ring (size=%d)", fs.open)
		fs.closeFD(fs.head)
	}
}

// mkdirsFor creates the directories of a templated name one level at a time.
func (fs *Files) mkdirsFor(name string) error {
	if fs.madeDirs == nil {
		fs.madeDirs = make(map[string]bool)
	}
	mpath := ""
	rest := name
	if strings.HasPrefix(rest, "/") {
		mpath, rest = "/", rest[1:]
	}
	// like 1.6.1's split, a trailing '/' makes no empty last part, so the
	// last name (the one the file should get) is not made a directory
	parts := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	for _, p := range parts {
		if mpath != "" && !fs.madeDirs[mpath] {
			if err := unix.Mkdir(mpath, 0o777); err != nil {
				if aerr := unix.Access(mpath, unix.X_OK); aerr != nil {
					return &PlainError{mpath + ": " + errText(aerr)}
				}
			}
			fs.madeDirs[mpath] = true
		}
		if mpath != "" && mpath != "/" {
			mpath += "/"
		}
		mpath += p
	}
	return nil
}

func (fs *Files) pushOpen(s *fileState) {
	s.prev, s.next = fs.tail, nil
	if fs.tail != nil {
		fs.tail.next = s
	} else {
		fs.head = s
	}
	fs.tail = s
	s.onList = true
	fs.open++
	if fs.open > fs.MaxOpen {
		fs.MaxOpen = fs.open
	}
}

func (fs *Files) unlink(s *fileState) {
	if !s.onList {
		return
	}
	if s.prev != nil {
		s.prev.next = s.next
	} else {
		fs.head = s.next
	}
	if s.next != nil {
		s.next.prev = s.prev
	} else {
		fs.tail = s.prev
	}
	s.prev, s.next, s.onList = nil, nil, false
	fs.open--
}

// Touch moves f's open file to the most recently used end.
func (fs *Files) Touch(f *flow.Flow) {
	s, _ := f.Ext.(*fileState)
	if s == nil || !s.onList || fs.tail == s {
		return
	}
	fs.unlink(s)
	fs.pushOpen(s)
}

// closeFD closes a file (LRU or flow end), setting its times to the flow's
// first packet time as tcpflow's close_file does.
func (fs *Files) closeFD(s *fileState) {
	if s.fd < 0 {
		return
	}
	fs.debug(5, "%s: closing file in tcpip::close_file", s.f.Name)
	fs.flush(s)
	fs.submitClose(s, true)
	s.fd = -1
	fs.unlink(s)
}

// Flush puts f's buffered bytes in its file and waits until they are there
// (post-processing reads it).
func (fs *Files) Flush(f *flow.Flow) {
	if s, _ := f.Ext.(*fileState); s != nil {
		fs.flush(s)
	}
	fs.Sync()
}

// Close closes f's file if it is open.
func (fs *Files) Close(f *flow.Flow) {
	if s, _ := f.Ext.(*fileState); s != nil {
		fs.closeFD(s)
	}
}

// Abandon writes out every open file's buffered bytes and closes it,
// leaving its times alone: what 1.6.1's files hold when a fatal error ends
// the run (it writes each segment as it comes and exits without closing
// flows, so they keep their data and the wall-clock mtime).
func (fs *Files) Abandon() {
	for fs.head != nil {
		s := fs.head
		fs.flush(s)
		fs.submitClose(s, false)
		s.fd = -1
		fs.unlink(s)
	}
	fs.Stop()
}

// Write writes data at off: it joins f's write-behind buffer when it
// continues the buffered run, and goes to the writer when a buffer fills
// (with WriteThrough it is written at once). Either way data may be reused
// as soon as Write returns.
func (fs *Files) Write(f *flow.Flow, off int64, data []byte) {
	fs.reportWriterErrors()
	s := stateOf(f)
	if s.fd < 0 || len(data) == 0 {
		return
	}
	if fs.WriteThrough {
		fs.runNow(&job{kind: jobWrite, fd: s.fd, off: off, buf: data, name: s.f.Name})
		return
	}
	if s.buf != nil && off != s.bufOff+int64(len(s.buf)) {
		fs.flush(s)
	}
	for len(data) > 0 {
		if s.buf == nil {
			fs.acquireBuf(s)
			s.bufOff = off
		}
		n := copy(s.buf[len(s.buf):cap(s.buf)], data)
		s.buf = s.buf[:len(s.buf)+n]
		data, off = data[n:], off+int64(n)
		if len(s.buf) == cap(s.buf) {
			fs.spill(s)
		}
	}
}

// flush hands all of s's buffered bytes to the writer.
func (fs *Files) flush(s *fileState) {
	if s.buf == nil {
		return
	}
	if len(s.buf) == 0 || s.fd < 0 {
		fs.pool.put(s.buf)
	} else {
		fs.submitWrite(s, s.bufOff, s.buf)
	}
	s.buf = nil
}

// spill hands a full buffer to the writer up to its last page boundary and
// carries the rest into a new buffer, so the next write starts on a page.
func (fs *Files) spill(s *fileState) {
	full, end := s.buf, s.bufOff+int64(len(s.buf))
	keep := int(end % pageSize)
	if keep == len(full) {
		keep = 0 // no page boundary inside: hand it all over
	}
	fs.submitWrite(s, s.bufOff, full[:len(full)-keep])
	s.buf = nil
	if keep == 0 {
		return
	}
	// The writer may already have returned full to the pool, and this may
	// get it back: copy handles the overlap, and nothing else writes to it.
	fs.acquireBuf(s)
	s.bufOff = end - int64(keep)
	s.buf = append(s.buf, full[len(full)-keep:]...)
}

// acquireBuf gives s a buffer: one the writer has returned, a new one while
// under the cap, or else the next one back after handing the oldest
// holder's buffer to the writer.
func (fs *Files) acquireBuf(s *fileState) {
	fs.writer() // makes the pool
	b := fs.pool.tryGet()
	if b == nil {
		if fs.allocated < maxWriteBufs {
			b = fs.newBuf()
			fs.allocated++
		} else {
			fs.flushOldestHolder()
			b = fs.pool.get(fs.kickWriter)
		}
	}
	s.buf = b[:0]
	if len(fs.holders) >= 4*maxWriteBufs {
		fs.compactHolders()
	}
	fs.holders = append(fs.holders, s)
}

// flushOldestHolder hands the oldest flow buffer to the writer. With none
// held, every buffer is with the writer already and one comes back soon.
func (fs *Files) flushOldestHolder() {
	for len(fs.holders) > 0 {
		old := fs.holders[0]
		fs.holders[0] = nil
		fs.holders = fs.holders[1:]
		if old.buf != nil {
			fs.flush(old)
			return
		}
	}
}

// compactHolders drops stale entries (released buffers, repeated owners)
// so the queue stays bounded by the number of buffers.
func (fs *Files) compactHolders() {
	seen := make(map[*fileState]bool, maxWriteBufs)
	kept := fs.holders[:0]
	for _, h := range fs.holders {
		if h != nil && h.buf != nil && !seen[h] {
			seen[h] = true
			kept = append(kept, h)
		}
	}
	clear(fs.holders[len(kept):])
	fs.holders = kept
}

// newBuf carves the next buffer out of an arena mapped outside the Go heap:
// the buffers live as long as the run, and keeping them off the heap keeps
// the garbage collector's target (and so the peak RSS) small.
func (fs *Files) newBuf() []byte {
	if fs.arena == nil {
		arena, err := unix.Mmap(-1, 0, writeBufSize*maxWriteBufs, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
		if err != nil {
			return make([]byte, 0, writeBufSize)
		}
		fs.arena = arena
	}
	i := fs.allocated * writeBufSize
	return fs.arena[i : i : i+writeBufSize]
}

// Shift moves the file's content n bytes forward (tcpflow's shift_file).
func (fs *Files) Shift(f *flow.Flow, n int64) error {
	s := stateOf(f)
	if s.fd < 0 {
		return nil
	}
	fs.flush(s)
	fs.Sync() // the file is read back below
	var st unix.Stat_t
	if err := unix.Fstat(s.fd, &st); err != nil {
		return nil
	}
	buf := make([]byte, 64*1024)
	end := st.Size
	for end > 0 {
		chunk := min(end, int64(len(buf)))
		from := end - chunk
		if _, err := unix.Pread(s.fd, buf[:chunk], from); err != nil {
			return nil
		}
		if _, err := unix.Pwrite(s.fd, buf[:chunk], from+n); err != nil {
			return nil
		}
		end = from
	}
	return nil
}

// Matches reports whether file name holds data at off.
func Matches(name string, off uint32, data []byte) bool {
	if name == "" {
		return false
	}
	fd, err := unix.Open(name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	buf := make([]byte, len(data))
	got := 0
	for got < len(buf) {
		n, err := unix.Pread(fd, buf[got:], int64(off)+int64(got))
		if err != nil || n == 0 {
			return false
		}
		got += n
	}
	return string(buf) == string(data)
}

// errText is strerror's text for err.
func errText(err error) string {
	var errno unix.Errno
	if errors.As(err, &errno) {
		s := errno.Error()
		if s != "" {
			return strings.ToUpper(s[:1]) + s[1:]
		}
	}
	return err.Error()
}
