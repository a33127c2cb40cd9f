// Package scan is tcpflow 1.6.1's post-processing: the scanners that run on a
// flow file when its flow closes (md5, http) and the run-wide ones (netviz),
// with tcpflow's -e/-x/-E/-a selection rules and its report.xml additions.
//
// The output package calls Runner.Process when a flow that has a file closes
// and puts the returned text inside the flow's <fileobject>.
package scan

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// FlowInfo describes a closed flow whose file is complete.
type FlowInfo struct {
	// Path is the flow file's name exactly as report.xml's <filename> shows
	// it (with the -o prefix); body files are named after it.
	Path string
	// Start and End are the times of the flow's first and last packet.
	Start, End time.Time
}

// Buffer is a closed flow's bytes as the scanners see them.
type Buffer struct {
	Flow FlowInfo
	// Data is the whole flow file.
	Data []byte
	md5  [md5.Size]byte
	// hasMD5: md5 holds Data's digest (the Runner computes it once for its
	// duplicate check and the md5 scanner reuses it).
	hasMD5 bool
}

// MD5 returns the digest of Data.
func (b *Buffer) MD5() [md5.Size]byte {
	if !b.hasMD5 {
		b.md5, b.hasMD5 = md5.Sum(b.Data), true
	}
	return b.md5
}

// Scanner is one post-processing scanner run on a closed flow's bytes.
type Scanner interface {
	// Name is the scanner's -e/-x name.
	Name() string
	// Scan examines buf and appends the scanner's report.xml text to report.
	Scan(ctx context.Context, buf *Buffer, report *bytes.Buffer) error
}

// Options are the settings scanners take from the command line.
type Options struct {
	// NoDecompress is -Z: keep gzip/deflate HTTP bodies as sent.
	NoDecompress bool
	// MaxInflate caps each decompressed HTTP body, in bytes (a defence
	// against decompression bombs); 0 means DefaultMaxInflate.
	MaxInflate int64
	// Warn receives one-line, non-fatal problems (a corrupt gzip body, a
	// body cut at MaxInflate). Nil discards them.
	Warn func(msg string)
	// BodyEvent, if set, is told "open" and "close" with a body file's name
	// (tcpflow's http_alert_fd and http_cmd hooks).
	BodyEvent func(event, path string)
	// OpenBody, if set, creates a body file (write-only, truncated, mode
	// 0644) in place of os.OpenFile: tcpflow opens them through its flow
	// files' descriptor limit, with its debug traces.
	OpenBody func(path string) (*os.File, error)
}

func (o *Options) openBody(path string) (*os.File, error) {
	if o.OpenBody != nil {
		return o.OpenBody(path)
	}
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
}

// DefaultMaxInflate is the default cap on one decompressed HTTP body.
const DefaultMaxInflate = 1 << 30

func (o *Options) warn(format string, args ...any) {
	if o.Warn != nil {
		o.Warn(fmt.Sprintf(format, args...))
	}
}

// maxNgram mirrors bulk_extractor's scanner_def::max_ngram: a buffer that is
// one pattern of fewer than this many bytes repeated is not scanned.
const maxNgram = 10

// Runner runs the enabled per-flow scanners as tcpflow's post-processing
// does. It remembers the MD5 of every buffer it saw: like 1.6.1, a flow whose
// bytes equal an earlier flow's is not scanned again.
type Runner struct {
	scanners []Scanner
	seen     map[[md5.Size]byte]struct{}
}

// NewRunner returns a Runner for the enabled scanner names (in any order;
// they run in tcpflow's order). Run-wide scanners such as netviz are ignored
// here.
func NewRunner(enabled []string, opts Options) *Runner {
	r := &Runner{seen: map[[md5.Size]byte]struct{}{}}
	on := map[string]bool{}
	for _, n := range enabled {
		on[n] = true
	}
	if on["md5"] {
		r.scanners = append(r.scanners, MD5{})
	}
	if on["http"] {
		r.scanners = append(r.scanners, &HTTP{Options: opts})
	}
	return r
}

// Active reports whether Process has anything to do.
func (r *Runner) Active() bool { return len(r.scanners) > 0 }

// Process scans a closed flow's file and returns the text for its
// <fileobject> (empty when nothing was added). The caller writes it on its
// own line, indented by six spaces, after the <tcpflow …/> element, and calls
// Process only for flows that got a file with at least one byte.
func (r *Runner) Process(ctx context.Context, flow FlowInfo) (string, error) {
	if len(r.scanners) == 0 {
		return "", nil
	}
	data, unmap, err := mapFile(flow.Path)
	if err != nil {
		return "", err
	}
	defer unmap()
	return r.processBytes(ctx, flow, data)
}

func (r *Runner) processBytes(ctx context.Context, flow FlowInfo, data []byte) (string, error) {
	buf := &Buffer{Flow: flow, Data: data}
	sum := buf.MD5()
	_, seenBefore := r.seen[sum]
	r.seen[sum] = struct{}{}
	if seenBefore || isRepeatedNgram(data) {
		return "", nil
	}
	var report bytes.Buffer
	for _, s := range r.scanners {
		if err := s.Scan(ctx, buf, &report); err != nil {
			return report.String(), fmt.Errorf("scanner %s on %s: %w", s.Name(), flow.Path, err)
		}
	}
	return report.String(), nil
}

// isRepeatedNgram reports whether data is one pattern shorter than maxNgram
// bytes repeated (which includes every buffer shorter than maxNgram bytes).
func isRepeatedNgram(data []byte) bool {
	for n := 1; n < maxNgram; n++ {
		if n >= len(data) || bytes.Equal(data[n:], data[:len(data)-n]) {
			return true
		}
	}
	return false
}

// mapFile maps path read-only; unmap releases it.
func mapFile(path string) (data []byte, unmap func() error, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("open flow file for scanning: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("stat flow file %s: %w", path, err)
	}
	if st.Size() == 0 {
		return nil, func() error { return nil }, nil
	}
	if int64(int(st.Size())) != st.Size() {
		return nil, nil, fmt.Errorf("map flow file %s: size %d too large", path, st.Size())
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("map flow file %s (%d bytes): %w", path, st.Size(), err)
	}
	return b, func() error { return syscall.Munmap(b) }, nil
}

// ErrPostProcessingNeedsFiles is the -a/-e with -FX conflict.
var ErrPostProcessingNeedsFiles = errors.New("post_processing currently requires storing output.")
