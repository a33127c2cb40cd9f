package output

import (
	"bufio"
	"fmt"
	"os"
	"os/user"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpflow/bpflow/internal/flow"
)

// Report writes tcpflow's DFXML report.xml. Each fileobject is flushed as
// its flow closes, so an interrupted run leaves a valid prefix.
type Report struct {
	path  string
	file  *os.File
	w     *bufio.Writer
	start time.Time
}

// Summary holds the end-of-run counters of the report.
type Summary struct {
	OpenFDs, MaxOpenFlows int
	TotalFlows            uint64
	FlowMapSize           int
	TotalPackets          uint64
	// SSIDs is set when the wifiviz scanner is enabled: it adds its (empty)
	// SSID list to the summary.
	SSIDs bool
}

// CreateReport truncates path and writes the header up to the opening of
// the fileobject section.
func CreateReport(path string, tdelta int64) (*Report, error) {
	r, err := OpenReport(path)
	if err != nil {
		return nil, err
	}
	if err := r.FinishHeader(tdelta); err != nil {
		return nil, err
	}
	return r, nil
}

// OpenReport truncates path and writes the header up to the execution
// environment's start_time: what 1.6.1's report holds when it stops on an
// option check made before the header is finished (-w without -r). Call
// FinishHeader before anything else.
func OpenReport(path string) (*Report, error) {
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
	if err != nil {
		return nil, fmt.Errorf("create report %s: %w", path, err)
	}
	r := &Report{path: path, file: file, w: bufio.NewWriter(file), start: time.Now()}
	r.headerStart()
	if err := r.flush(); err != nil {
		_ = file.Close()
		return nil, err
	}
	return r, nil
}

// FinishHeader writes the rest of the header, up to the opening of the
// fileobject section.
func (r *Report) FinishHeader(tdelta int64) error {
	r.headerEnd(tdelta)
	if err := r.flush(); err != nil {
		return err
	}
	// tcpflow's writer only flushes this opening tag with the first
	// fileobject: a run that dies before leaves the report ending at tdelta.
	r.w.WriteString("  <configuration>\n")
	return nil
}

func (r *Report) headerStart() {
	w := r.w
	w.WriteString("<?xml version='1.0' encoding='UTF-8'?>\n")
	w.WriteString("<dfxml xmloutputversion='1.0'>\n")
	w.WriteString("  <metadata \n  xmlns='http://afflib.org/tcpflow/' \n  xmlns:xsi='http://www.w3.org/2001/XMLSchema-instance' \n  xmlns:dc='http://purl.org/dc/elements/1.1/'>\n")
	w.WriteString("    <dc:type>Feature Extraction</dc:type>\n")
	w.WriteString("  </metadata>\n")
	w.WriteString("  <creator version='1.0'>\n")
	w.WriteString("    <program>TCPFLOW</program>\n")
	w.WriteString("    <version>1.6.1</version>\n")
	w.WriteString("    <build_environment>\n")
	elem(w, 6, "compiler", runtime.Version()+" ("+runtime.Compiler+")")
	if bi, ok := debug.ReadBuildInfo(); ok {
		elem(w, 6, "program", "bpflow "+bi.Main.Version)
		for _, s := range bi.Settings {
			if s.Key == "vcs.time" {
				elem(w, 6, "compilation_date", s.Value)
			}
		}
	}
	w.WriteString("    </build_environment>\n")
	w.WriteString("    <execution_environment>\n")
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		elem(w, 6, "os_sysname", unix.ByteSliceToString(u.Sysname[:]))
		elem(w, 6, "os_release", unix.ByteSliceToString(u.Release[:]))
		elem(w, 6, "os_version", unix.ByteSliceToString(u.Version[:]))
		elem(w, 6, "host", unix.ByteSliceToString(u.Nodename[:]))
		elem(w, 6, "arch", unix.ByteSliceToString(u.Machine[:]))
	}
	elem(w, 6, "command_line", "command line to be provided")
	elem(w, 6, "uid", strconv.Itoa(os.Getuid()))
	if cu, err := user.Current(); err == nil {
		elem(w, 6, "username", cu.Username)
	}
	elem(w, 6, "start_time", r.start.UTC().Format("2006-01-02T15:04:05Z"))
}

func (r *Report) headerEnd(tdelta int64) {
	w := r.w
	w.WriteString("    </execution_environment>\n")
	w.WriteString("  </creator>\n")
	w.WriteString("  <configuration>\n  </configuration>\n")
	elem(w, 2, "tdelta", strconv.FormatInt(tdelta, 10))
}

func elem(w *bufio.Writer, indent int, name, value string) {
	w.WriteString(strings.Repeat(" ", indent))
	w.WriteString("<" + name + ">")
	w.WriteString(xmlEscape(value))
	w.WriteString("</" + name + ">\n")
}

// xmlEscape is dfxml_writer's escaping: XML entities plus %-codes for NUL,
// CR, LF and TAB.
func xmlEscape(s string) string {
	if !strings.ContainsAny(s, "<>&'\"\x00\r\n\t") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '>':
			b.WriteString("&gt;")
		case '<':
			b.WriteString("&lt;")
		case '&':
			b.WriteString("&amp;")
		case '\'':
			b.WriteString("&apos;")
		case '"':
			b.WriteString("&quot;")
		case 0:
			b.WriteString("%00")
		case '\r':
			b.WriteString("%0D")
		case '\n':
			b.WriteString("%0A")
		case '\t':
			b.WriteString("%09")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// ISO8601 formats a packet time like dfxml_writer::to8601: microseconds
// only when non-zero. It runs twice per flow, so the digits are appended
// directly (time.Format and Sprintf were a third of the report's cost);
// an int64 of nanoseconds always has a four-digit year (1677–2262).
func ISO8601(ns int64) string {
	usec := floorDiv(ns, 1000)
	sec := floorDiv(usec, 1e6)
	frac := usec - sec*1e6
	t := time.Unix(sec, 0).UTC()
	year, month, day := t.Date()
	hour, minute, second := t.Clock()
	b := make([]byte, 0, len("2006-01-02T15:04:05.000000Z"))
	b = appendDecimal(b, year, 4)
	b = appendDecimal(append(b, '-'), int(month), 2)
	b = appendDecimal(append(b, '-'), day, 2)
	b = appendDecimal(append(b, 'T'), hour, 2)
	b = appendDecimal(append(b, ':'), minute, 2)
	b = appendDecimal(append(b, ':'), second, 2)
	if frac > 0 {
		b = appendDecimal(append(b, '.'), int(frac), 6)
	}
	return string(append(b, 'Z'))
}

// appendDecimal appends v (≥ 0) zero-padded to width digits.
func appendDecimal(b []byte, v, width int) []byte {
	start := len(b)
	for range width {
		b = append(b, '0')
	}
	for i := len(b) - 1; i >= start && v > 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return b
}

// FileObject writes one flow's entry, with extra (scanner output) on its
// own line after the <tcpflow/> element, and flushes it.
func (r *Report) FileObject(f *flow.Flow, extra string) error {
	w := r.w
	w.WriteString("    <fileobject>\n")
	if f.Name != "" {
		elem(w, 6, "filename", f.Name)
	}
	elem(w, 6, "filesize", strconv.FormatInt(f.LastByte, 10))
	var a strings.Builder
	a.WriteString("startime='" + ISO8601(f.Start) + "' ")
	a.WriteString("endtime='" + ISO8601(f.Last) + "' ")
	if f.MACDst != [6]byte{} {
		a.Write(appendMAC([]byte("mac_daddr='"), f.MACDst))
		a.WriteString("' ")
	}
	if f.MACSrc != [6]byte{} {
		a.Write(appendMAC([]byte("mac_saddr='"), f.MACSrc))
		a.WriteString("' ")
	}
	fmt.Fprintf(&a, "family='%d' ", f.Family)
	a.WriteString("src_ipn='" + string(flow.AppendNtop(nil, f.Src)) + "' ")
	a.WriteString("dst_ipn='" + string(flow.AppendNtop(nil, f.Dst)) + "' ")
	fmt.Fprintf(&a, "srcport='%d' dstport='%d' packets='%d' ", f.SrcPort, f.DstPort, f.Packets)
	if f.OutOfOrder != 0 {
		fmt.Fprintf(&a, "out_of_order_count='%d' ", f.OutOfOrder)
	}
	if f.Violations != 0 {
		fmt.Fprintf(&a, "violations='%d' ", f.Violations)
	}
	fmt.Fprintf(&a, "len='%d' ", f.Len)
	if f.Len != f.CapLen {
		fmt.Fprintf(&a, "caplen='%d' ", f.CapLen)
	}
	w.WriteString("      <tcpflow " + a.String() + "/>\n")
	if extra != "" {
		w.WriteString("      " + extra + "\n")
	}
	w.WriteString("    </fileobject>\n")
	return r.flush()
}

func (r *Report) flush() error {
	if err := r.w.Flush(); err != nil {
		return fmt.Errorf("write report %s: %w", r.path, err)
	}
	return nil
}

// Finish writes the summary, resource usage and closing tags.
func (r *Report) Finish(s Summary) error {
	w := r.w
	w.WriteString("  </configuration>\n")
	if s.SSIDs {
		w.WriteString("  <summary><ssids>\n</ssids>\n</summary>\n")
	} else {
		w.WriteString("  <summary />\n")
	}
	elem(w, 2, "open_fds_at_end", strconv.Itoa(s.OpenFDs))
	elem(w, 2, "max_open_flows", strconv.Itoa(s.MaxOpenFlows))
	elem(w, 2, "total_flows", strconv.FormatUint(s.TotalFlows, 10))
	elem(w, 2, "flow_map_size", strconv.Itoa(s.FlowMapSize))
	elem(w, 2, "total_packets", strconv.FormatUint(s.TotalPackets, 10))
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) == nil {
		w.WriteString("  <rusage>\n")
		elem(w, 4, "utime", timeval(ru.Utime.Sec, int64(ru.Utime.Usec)))
		elem(w, 4, "stime", timeval(ru.Stime.Sec, int64(ru.Stime.Usec)))
		elem(w, 4, "maxrss", strconv.FormatInt(int64(ru.Maxrss), 10))
		elem(w, 4, "minflt", strconv.FormatInt(int64(ru.Minflt), 10))
		elem(w, 4, "majflt", strconv.FormatInt(int64(ru.Majflt), 10))
		elem(w, 4, "nswap", strconv.FormatInt(int64(ru.Nswap), 10))
		elem(w, 4, "inblock", strconv.FormatInt(int64(ru.Inblock), 10))
		elem(w, 4, "oublock", strconv.FormatInt(int64(ru.Oublock), 10))
		d := time.Since(r.start)
		elem(w, 4, "clocktime", timeval(int64(d/time.Second), int64(d%time.Second/time.Microsecond)))
		w.WriteString("  </rusage>\n")
	}
	w.WriteString("</dfxml>\n")
	if err := r.flush(); err != nil {
		return err
	}
	return r.Close()
}

func timeval(sec, usec int64) string { return fmt.Sprintf("%d.%06d", sec, usec) }

// Close closes the file without finishing it (after a fatal error tcpflow
// leaves the report unterminated).
func (r *Report) Close() error {
	if r.file == nil {
		return nil
	}
	err := r.file.Close()
	r.file = nil
	return err
}
