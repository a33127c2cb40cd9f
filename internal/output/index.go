package output

import (
	"bufio"
	"fmt"
	"os"

	"github.com/bpflow/bpflow/internal/flow"
)

// Index writes tcpflow's -I .findx files: one "offset|sec.usec|length" line
// per write, in arrival order.
type Index struct {
	Warn func(msg string)
	// Debugf, when set, prints tcpflow's DEBUG(level) traces.
	Debugf func(level int, format string, args ...any)
	files  map[*flow.Flow]*indexFile
}

type indexFile struct {
	f *os.File
	w *bufio.Writer
}

// Open opens (created: truncates) the index of f's file.
func (x *Index) Open(f *flow.Flow, created bool) error {
	if x.files == nil {
		x.files = make(map[*flow.Flow]*indexFile)
	}
	name := f.Name + ".findx"
	if x.Debugf != nil {
		// 1.6.1 says so each time it (re)opens the flow's file
		x.Debugf(10, "opening index file: %s", name)
	}
	if x.files[f] != nil {
		return nil
	}
	flags := os.O_RDWR | os.O_CREATE | os.O_APPEND
	if created {
		flags = os.O_RDWR | os.O_CREATE | os.O_TRUNC
	}
	file, err := os.OpenFile(name, flags, 0o666)
	if err != nil {
		x.Warn(name + ": " + errText(err))
		return nil
	}
	x.files[f] = &indexFile{f: file, w: bufio.NewWriter(file)}
	return nil
}

// Write records one write.
func (x *Index) Write(f *flow.Flow, off int64, n int, ts int64) {
	if ix := x.files[f]; ix != nil {
		usec := floorDiv(ts, 1000)
		fmt.Fprintf(ix.w, "%d|%d.%06d|%d\n", off, floorDiv(usec, 1e6), usec-floorDiv(usec, 1e6)*1e6, n)
	}
}

// Close closes f's index file.
func (x *Index) Close(f *flow.Flow) {
	if ix := x.files[f]; ix != nil {
		if err := ix.w.Flush(); err != nil {
			x.Warn(f.Name + ".findx: " + errText(err))
		}
		_ = ix.f.Close() // flush above already reported write errors
		delete(x.files, f)
	}
}
