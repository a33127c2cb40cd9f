// Package flowdiff records what a tcpflow-compatible run produced — exit
// status, stdout, stderr and every file under its output directory with mode
// and mtime — normalises the parts that legitimately vary between runs and
// between tcpflow 1.6.1 and bpflow, stores it as a reviewable text file, and
// prints readable differences.
//
// The golden tests (package golden) and the live-capture tests use it the same
// way:
//
//	got, err := flowdiff.Take(dir, exit, stdout, stderr, startedAt, nil)
//	flowdiff.Normalize(got)
//	if d := flowdiff.Diff(want, got); d != "" { t.Errorf("…\n%s", d) }
//
// Normalisation (see Normalize) covers pids in "name[PID]:" prefixes, the
// pointer in tcpflow's "SYN TO IGNORE! SYN tcp=0x…" line, the host, build and
// resource-usage sections of report.xml, and the order of the fileobjects of
// flows still open at the end of input (tcpflow emits them in libstdc++ hash
// order; they are compared as a sorted set). File mtimes equal to or later
// than the run's start are recorded as "now": tcpflow gives flow files their
// first packet's time and everything else the current time.
package flowdiff

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// Snapshot is the observable result of one run.
type Snapshot struct {
	Exit    int
	Stdout  []byte
	Stderr  []byte
	Entries []Entry // sorted by Path
}

// Entry is one directory or regular file (or symlink) below the run directory.
type Entry struct {
	Path  string // slash-separated, relative to the run directory
	Kind  Kind
	Mode  fs.FileMode // permission bits only
	Mtime string      // files: "SEC.USEC" or MtimeNow; empty for directories
	Data  []byte      // file contents, or the symlink target
}

// Kind says what an Entry is.
type Kind string

// Entry kinds.
const (
	KindDir     Kind = "dir"
	KindFile    Kind = "file"
	KindSymlink Kind = "symlink"
)

// MtimeNow stands for "set to the wall-clock time of the run".
const MtimeNow = "now"

// Take builds a Snapshot of a finished run: its exit status and output, and
// the tree under dir. Paths for which skip returns true (relative,
// slash-separated; may be nil) are left out, with everything below them.
// Modification times at or after started (less one second of clock
// granularity) are recorded as MtimeNow.
func Take(dir string, exit int, stdout, stderr []byte, started time.Time, skip func(path string) bool) (*Snapshot, error) {
	s := &Snapshot{Exit: exit, Stdout: stdout, Stderr: stderr}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if skip != nil && skip(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		e, err := entryOf(p, rel, d, started)
		if err != nil {
			return err
		}
		s.Entries = append(s.Entries, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("snapshot run directory %s: %w", dir, err)
	}
	sort.Slice(s.Entries, func(i, j int) bool { return s.Entries[i].Path < s.Entries[j].Path })
	return s, nil
}

func entryOf(p, rel string, d fs.DirEntry, started time.Time) (Entry, error) {
	info, err := d.Info()
	if err != nil {
		return Entry{}, err
	}
	e := Entry{Path: rel, Mode: info.Mode().Perm()}
	switch {
	case info.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			return Entry{}, err
		}
		e.Kind, e.Data = KindSymlink, []byte(target)
	case info.IsDir():
		e.Kind = KindDir
	case info.Mode().IsRegular():
		data, err := os.ReadFile(p)
		if err != nil {
			return Entry{}, err
		}
		e.Kind, e.Data, e.Mtime = KindFile, data, formatMtime(info.ModTime(), started)
	default:
		return Entry{}, fmt.Errorf("%s: unexpected file type %v", rel, info.Mode().Type())
	}
	return e, nil
}

func formatMtime(m, started time.Time) string {
	if !m.Before(started.Add(-time.Second)) {
		return MtimeNow
	}
	return fmt.Sprintf("%d.%06d", m.Unix(), m.Nanosecond()/1000)
}

// Entry returns the entry with the given path, or nil.
func (s *Snapshot) Entry(path string) *Entry {
	for i := range s.Entries {
		if s.Entries[i].Path == path {
			return &s.Entries[i]
		}
	}
	return nil
}

// Remove deletes the entry with the given path and reports whether it existed.
func (s *Snapshot) Remove(path string) bool {
	for i := range s.Entries {
		if s.Entries[i].Path == path {
			s.Entries = append(s.Entries[:i], s.Entries[i+1:]...)
			return true
		}
	}
	return false
}

// Clone returns a deep copy.
func (s *Snapshot) Clone() *Snapshot {
	c := &Snapshot{Exit: s.Exit, Stdout: clone(s.Stdout), Stderr: clone(s.Stderr)}
	for _, e := range s.Entries {
		e.Data = clone(e.Data)
		c.Entries = append(c.Entries, e)
	}
	return c
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}
