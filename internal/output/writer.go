package output

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// The file system calls of file mode — pwrite, utimensat and close — run on
// a goroutine of their own. They are most of a run's cost (the kernel copies
// every byte into the page cache), and on another core they overlap with
// reading, decoding and reassembly. Jobs run in the order they were queued,
// so a file's writes land in order (the last writer still wins) and its
// close and times follow them. Whatever reads a file back — a straggler
// compared with a closed file, a file shifted for a no-SYN insert,
// post-processing, a tcp_cmd hook — calls Files.Sync first, which returns
// once every queued job has run. (Live capture, Files.WriteThrough, does
// its calls at once on the caller's goroutine: see there.)
//
// One writer: a second one (flows spread over two) cost more system time
// and gained nothing measurable on two cores, where the reader needs the
// other one. Jobs and returned buffers move in batches: the writer is woken
// when wakeBatch jobs wait (or someone needs them done), and the producer
// waits for buffers only when the pool is empty, so the two sides do not
// wake each other for every job — each wakeup is a context switch, and on a
// virtual machine an interprocessor interrupt.

type jobKind uint8

const (
	jobWrite jobKind = iota
	jobClose         // set the times when setTimes, then close
	jobSync
)

type job struct {
	kind     jobKind
	setTimes bool
	fd       int
	off      int64
	usec     int64  // close: the flow's first packet time
	buf      []byte // write: the bytes; the buffer goes back to the pool once written
	name     string // the file's name, for messages
}

const wakeBatch = 16

// writer runs the jobs.
type writer struct {
	pool *bufPool
	// closing counts queued closes: their descriptors are still open, so
	// an EMFILE may only mean the queue has not reached them yet.
	closing atomic.Int32
	synced  chan struct{}
	wake    chan struct{} // capacity 1; sent only to a sleeping writer

	mu       sync.Mutex
	queue    []job // guarded by mu
	sleeping bool  // guarded by mu
	stopped  bool  // guarded by mu
	msgs     []string
	hasMsgs  atomic.Bool
}

func startWriter(pool *bufPool) *writer {
	w := &writer{pool: pool, synced: make(chan struct{}), wake: make(chan struct{}, 1)}
	go w.run()
	return w
}

// push queues j, waking the writer once enough has gathered (kick wakes
// it sooner).
func (w *writer) push(j job) {
	w.mu.Lock()
	w.queue = append(w.queue, j)
	w.wakeLocked(len(w.queue) >= wakeBatch)
}

// kick wakes the writer if it sleeps on queued jobs.
func (w *writer) kick() {
	w.mu.Lock()
	w.wakeLocked(len(w.queue) > 0)
}

func (w *writer) wakeLocked(cond bool) {
	wake := cond && w.sleeping
	if wake {
		w.sleeping = false
	}
	w.mu.Unlock()
	if wake {
		w.wake <- struct{}{}
	}
}

func (w *writer) run() {
	var batch, written []job
	for {
		w.mu.Lock()
		for len(w.queue) == 0 {
			if w.stopped {
				w.mu.Unlock()
				return
			}
			w.sleeping = true
			w.mu.Unlock()
			<-w.wake
			w.mu.Lock()
		}
		batch, w.queue = w.queue, batch[:0]
		w.mu.Unlock()
		written = written[:0]
		for i := range batch {
			if w.do(&batch[i]) {
				written = append(written, batch[i])
			}
			batch[i] = job{}
		}
		w.pool.putAll(written)
		clear(written)
	}
}

// do runs one job; it reports whether the job held a pool buffer.
func (w *writer) do(j *job) bool {
	switch j.kind {
	case jobWrite, jobClose:
		if msg := j.run(); msg != "" {
			w.report(msg)
		}
		if j.kind == jobClose {
			w.closing.Add(-1)
		}
		return j.kind == jobWrite
	case jobSync:
		w.synced <- struct{}{}
	}
	return false
}

// run does a write or close job and returns the error message, if any.
func (j *job) run() string {
	if j.kind == jobWrite {
		return writeAt(j.fd, j.name, j.buf, j.off)
	}
	return closeFile(j.fd, j.setTimes, j.usec)
}

func writeAt(fd int, name string, data []byte, off int64) string {
	for len(data) > 0 {
		n, err := unix.Pwrite(fd, data, off)
		if err != nil {
			return "write to " + name + " failed: " + errText(err)
		}
		data, off = data[n:], off+int64(n)
	}
	return ""
}

// closeFile sets the file's times to the flow's first packet time, as
// tcpflow's close_file does, and closes it.
func closeFile(fd int, setTimes bool, usec int64) string {
	msg := ""
	if setTimes {
		if err := futimes(fd, unix.NsecToTimespec(usec*1000)); err != nil {
			msg = fmt.Sprintf("%s: futimes(fd=%d)", errText(err), fd)
		}
	}
	_ = unix.Close(fd) // nothing useful to do: the data was written with pwrite
	return msg
}

func (w *writer) report(msg string) {
	w.mu.Lock()
	w.msgs = append(w.msgs, msg)
	w.mu.Unlock()
	w.hasMsgs.Store(true)
}

// takeMessages returns the errors reported since the last call.
func (w *writer) takeMessages() []string {
	if !w.hasMsgs.Load() {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	msgs := w.msgs
	w.msgs = nil
	w.hasMsgs.Store(false)
	return msgs
}

func (w *writer) stop() {
	w.mu.Lock()
	w.stopped = true
	w.wakeLocked(true)
}

// bufPool holds the write buffers the writers have finished with.
type bufPool struct {
	mu      sync.Mutex
	free    [][]byte // guarded by mu
	waiting bool     // guarded by mu: the producer waits on ready
	ready   chan struct{}
}

func newBufPool() *bufPool {
	return &bufPool{free: make([][]byte, 0, maxWriteBufs), ready: make(chan struct{}, 1)}
}

// tryGet returns a free buffer, or nil.
func (p *bufPool) tryGet() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.popLocked()
}

func (p *bufPool) popLocked() []byte {
	n := len(p.free)
	if n == 0 {
		return nil
	}
	b := p.free[n-1]
	p.free[n-1] = nil
	p.free = p.free[:n-1]
	return b
}

// get waits for a free buffer; kick must make sure the writers run.
func (p *bufPool) get(kick func()) []byte {
	for {
		p.mu.Lock()
		if b := p.popLocked(); b != nil {
			p.mu.Unlock()
			return b
		}
		p.waiting = true
		p.mu.Unlock()
		kick()
		<-p.ready
	}
}

func (p *bufPool) put(b []byte) {
	p.mu.Lock()
	p.free = append(p.free, b[:0])
	p.mu.Unlock()
}

// putAll returns the buffers of written jobs, waking a waiting producer.
func (p *bufPool) putAll(written []job) {
	if len(written) == 0 {
		return
	}
	p.mu.Lock()
	for _, j := range written {
		p.free = append(p.free, j.buf[:0])
	}
	wake := p.waiting
	p.waiting = false
	p.mu.Unlock()
	if wake {
		p.ready <- struct{}{}
	}
}

// writer returns the running writer, starting it on first use. A Files
// dropped without Stop still ends it, when collected.
func (fs *Files) writer() *writer {
	if fs.w == nil {
		if fs.pool == nil {
			fs.pool = newBufPool()
		}
		fs.w = startWriter(fs.pool)
		runtime.AddCleanup(fs, (*writer).stop, fs.w)
	}
	return fs.w
}

// submitWrite queues data (a pool buffer, which the writer returns) for
// s's file at off.
func (fs *Files) submitWrite(s *fileState, off int64, data []byte) {
	fs.writer().push(job{kind: jobWrite, fd: s.fd, off: off, buf: data, name: s.f.Name})
}

// submitClose queues the close of s's file (closes it at once with
// WriteThrough).
func (fs *Files) submitClose(s *fileState, setTimes bool) {
	j := job{kind: jobClose, fd: s.fd, setTimes: setTimes, usec: floorDiv(s.f.Start, 1000), name: s.f.Name}
	if fs.WriteThrough {
		fs.runNow(&j)
		return
	}
	w := fs.writer()
	w.closing.Add(1)
	w.push(j)
}

// runNow does a job on the caller's goroutine.
func (fs *Files) runNow(j *job) {
	if msg := j.run(); msg != "" {
		fs.Warn(msg)
	}
}

// closesQueued reports whether closes still wait in the queue.
func (fs *Files) closesQueued() bool { return fs.w != nil && fs.w.closing.Load() > 0 }

// kickWriter wakes the writer if it sleeps on queued jobs.
func (fs *Files) kickWriter() {
	if fs.w != nil {
		fs.w.kick()
	}
}

// Sync waits until everything handed to the files so far is in them (bytes
// still in a flow's write-behind buffer are not handed over: Flush does
// that) and reports the errors met on the way.
func (fs *Files) Sync() {
	if fs.w == nil {
		return
	}
	fs.w.push(job{kind: jobSync})
	fs.w.kick()
	<-fs.w.synced
	fs.reportWriterErrors()
}

// Stop syncs and ends the writer; a later write starts a new one.
func (fs *Files) Stop() {
	if fs.w == nil {
		return
	}
	fs.Sync()
	fs.w.stop()
	fs.w = nil
}

func (fs *Files) reportWriterErrors() {
	if fs.w == nil {
		return
	}
	for _, msg := range fs.w.takeMessages() {
		fs.Warn(msg)
	}
}
