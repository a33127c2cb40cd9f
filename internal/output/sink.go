package output

import (
	"fmt"
	"io"

	"github.com/bpflow/bpflow/internal/flow"
)

// Sink connects the flow engine to the file store, the console printer and
// the report. Console is nil in file mode; Report is nil without a report.
type Sink struct {
	Files   *Files
	Console *Console
	Report  *Report
	// Stderr gets tcpflow's unprefixed messages (SYN TO IGNORE!).
	Stderr io.Writer
	// Debugf prints a message with the program prefix when the debug level
	// is at least level.
	Debugf func(level int, format string, args ...any)
	// Index writes -I .findx lines when non-nil.
	Index *Index
	// Alert, when set, receives tcpflow's tcp_alert_fd events: "open" with
	// a flow's file name, and "close" for every closed flow (empty name
	// when it had none) unless AlertNoClose (-FX) is set.
	Alert        func(event, name string)
	AlertNoClose bool
	// Closed, when set, is called with the file name of every closed flow
	// that has one (tcpflow's tcp_cmd).
	Closed func(name string)
	// Scan is tcpflow's post-processing (-a, -e): it runs on a closed flow's
	// file and returns the text for its report entry. Nil: none.
	Scan func(f *flow.Flow) (string, error)
}

var _ flow.Sink = (*Sink)(nil)

// OpenFile implements flow.Sink.
func (s *Sink) OpenFile(f *flow.Flow) error {
	created := f.Name == ""
	wasOpen := s.FileIsOpen(f)
	if err := s.Files.Open(f); err != nil {
		return err
	}
	// the index goes with each (re)opening of the flow's file
	if s.Index != nil && !wasOpen {
		return s.Index.Open(f, created)
	}
	return nil
}

// ShiftFile implements flow.Sink.
func (s *Sink) ShiftFile(f *flow.Flow, n int64) error { return s.Files.Shift(f, n) }

// WriteFile implements flow.Sink.
func (s *Sink) WriteFile(f *flow.Flow, off int64, data []byte, ts int64) error {
	s.Files.Write(f, off, data)
	if s.Index != nil {
		s.Index.Write(f, off, len(data), ts)
	}
	return nil
}

// Print implements flow.Sink.
func (s *Sink) Print(f *flow.Flow, data []byte) error { return s.Console.Print(f, data) }

// Touch implements flow.Sink.
func (s *Sink) Touch(f *flow.Flow) {
	if s.Files != nil {
		s.Files.Touch(f)
	}
}

// CloseFlow implements flow.Sink.
func (s *Sink) CloseFlow(f *flow.Flow) error {
	var extra string
	if s.Scan != nil && f.Name != "" && f.LastByte > 0 {
		// 1.6.1's post_process: the file is (re)opened, scanned, then
		// closed; its open_file redoes the index part even for an open file
		if s.Files != nil {
			if err := s.Files.Open(f); err != nil {
				return err
			}
			s.Files.Flush(f)
		}
		if s.Index != nil {
			if err := s.Index.Open(f, false); err != nil {
				return err
			}
		}
		text, err := s.Scan(f)
		if err != nil {
			s.Debugf(1, "%s", err.Error())
		}
		extra = text
	}
	if s.Files != nil {
		s.Files.Close(f)
		if s.Closed != nil || (s.Alert != nil && !s.AlertNoClose) {
			s.Files.Sync() // the hook may read the file: it must be complete
		}
	}
	if s.Index != nil {
		s.Index.Close(f)
	}
	if s.Report != nil {
		if err := s.Report.FileObject(f, extra); err != nil {
			return err
		}
	}
	if s.Alert != nil && !s.AlertNoClose {
		s.Alert("close", f.Name)
	}
	if s.Closed != nil && f.Name != "" {
		s.Closed(f.Name)
	}
	return nil
}

// FileIsOpen implements flow.Sink.
func (s *Sink) FileIsOpen(f *flow.Flow) bool {
	st, _ := f.Ext.(*fileState)
	return st != nil && st.fd >= 0
}

// OpenAlert implements flow.Sink.
func (s *Sink) OpenAlert(f *flow.Flow) {
	if s.Alert != nil {
		s.Alert("open", f.Name)
	}
}

// MatchesFile implements flow.Sink.
func (s *Sink) MatchesFile(name string, off uint32, data []byte) bool {
	if s.Files != nil {
		s.Files.Sync() // the file's last writes may still be queued
	}
	return Matches(name, off, data)
}

// SynIgnored implements flow.Sink. tcpflow prints the object's address; the
// Flow's address plays that part.
func (s *Sink) SynIgnored(f *flow.Flow) {
	fmt.Fprintf(s.Stderr, "SYN TO IGNORE! SYN tcp=%p flow=%s\n", f, f.Key)
}

// SynWithData implements flow.Sink.
func (s *Sink) SynWithData(_ *flow.Flow, n int) {
	s.Debugf(1, "TCP PROTOCOL VIOLATION: SYN with data! (length=%d)", n)
}
