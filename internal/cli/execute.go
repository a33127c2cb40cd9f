package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bpflow/bpflow/internal/capture"
	"github.com/bpflow/bpflow/internal/capture/live"
	"github.com/bpflow/bpflow/internal/filter"
	"github.com/bpflow/bpflow/internal/flow"
	"github.com/bpflow/bpflow/internal/layers"
	"github.com/bpflow/bpflow/internal/output"
	"github.com/bpflow/bpflow/internal/pcapfile"
	"github.com/bpflow/bpflow/internal/scan"
	"github.com/bpflow/bpflow/internal/scan/netviz"
	"golang.org/x/sys/unix"
)

// warnTooManyFiles is tcpflow's WARN_TOO_MANY_FILES.
const warnTooManyFiles = 10000

// session is the state of one run after option processing.
type session struct {
	*run
	c        *config
	eng      *flow.Engine
	sink     *output.Sink
	report   *output.Report
	expr     string
	tdelta   int64
	demux    bool
	wifiviz  bool
	programs map[layers.LinkType]*filter.Program
	decoder  layers.Decoder
	hooks    hooks
	// reportPath is the report's name (for -U's chown).
	reportPath string
	split      *output.PcapSplit // -K
	netviz     *netviz.Accumulator
	// unprocessed is -w; written is --write-pcap.
	unprocessed, written *pcapOut
	writtenLink          layers.LinkType
	// stopped is set once a signal asked for an orderly end.
	stopped bool
}

// errFatal marks an error already reported; the run ends with status 1.
var errFatal = errors.New("fatal error already reported")

func (r *run) execute(c *config, operands []string, scanners []string) int {
	reportFile := c.reportFile
	if reportFile == "" {
		reportFile = c.outdir + "/report.xml"
	}
	s := &session{run: r, c: c, hooks: hooks{r: r, maxProcs: 10}, demux: slices.Contains(scanners, "tcpdemux"),
		wifiviz: slices.Contains(scanners, "wifiviz")}
	if slices.Contains(scanners, "netviz") {
		s.netviz = netviz.New(int(paramIntDefault(c.params, "netviz_histogram_size", netviz.DefaultHistogramSize)))
	}
	if c.trailingList {
		c.rfiles = append(c.rfiles, operands...)
	} else {
		s.expr = strings.Join(operands, " ")
	}
	if c.forceBinary {
		c.consoleOpts.Strip = false
	}
	if code, ok := r.ensureOutdir(c.outdir); !ok {
		return code
	}
	s.tdelta = paramInt(c.params["tdelta"])
	s.decoder.IgnoreFCS = !paramBool(c.params["check_fcs"], true)
	// bpflow difference 2: console modes write no report unless -X is given.
	if paramBool(c.params["enable_report"], true) && (!c.console || c.reportFile != "") {
		if c.chroot != "" {
			reportFile = c.chroot + "/" + reportFile
		}
		s.reportPath = reportFile
		r.errln("reportfilename: " + reportFile)
		rep, err := output.OpenReport(reportFile)
		if err != nil {
			// tcpflow's DFXML writer reports this as perror(path)
			r.errln(reportFile + ": " + strerror(err))
			return 1
		}
		s.report = rep
		// after a fatal error tcpflow leaves the report unterminated; the
		// file is still closed (Finish closes it on success)
		defer func() { _ = rep.Close() }() // nothing left to report about it
	}
	// 1.6.1 sets up -w, and stops on its errors, before it finishes the
	// report's header
	if c.unkPackets != "" {
		if code, ok := s.openUnprocessed(); !ok {
			return code
		}
	}
	defer func() {
		for _, p := range []*pcapOut{s.unprocessed, s.written} {
			if err := p.close(); err != nil {
				r.die(err.Error())
			}
		}
	}()
	if s.report != nil {
		if err := s.report.FinishHeader(s.tdelta); err != nil {
			r.errln(reportFile + ": " + strerror(err))
			return 1
		}
	}
	if p, ok := c.params["debug-prefix"]; ok {
		r.prefix = p
	} else {
		r.prefix = r.prog
	}
	r.logf(10, "%s version %s ", "TCPFLOW", "1.6.1")
	s.setup(scanners)
	// tcpflow's signal handler says so at once, even while a read blocks;
	// the input loops notice the cancelled context and end.
	noticed := make(chan struct{})
	stopNotice := context.AfterFunc(s.ctx, func() {
		r.logf(1, "terminating orderly")
		close(noticed)
	})
	code := s.inputs()
	if !stopNotice() {
		<-noticed // the notice is on its way: keep stderr in order
	}
	if code < 0 {
		s.abandon()
		return 1
	}
	if err := s.finish(); err != nil {
		s.abandon()
		return 1
	}
	return code
}

// abandon is the end after a fatal error: like 1.6.1, which exits there,
// no flow is closed (no mtimes, no report entries), but every byte already
// taken in reaches its file (1.6.1 writes each segment at once, and exit
// flushes -K's stdio buffers).
func (s *session) abandon() {
	if s.sink == nil {
		return
	}
	if f := s.sink.Files; f != nil {
		f.Abandon()
	}
	if s.split != nil {
		_ = s.split.Close() // the run already failed; 1.6.1's exit ignores these errors too
	}
}

// openUnprocessed sets up -w the way tcpflow 1.6.1 checks it: it needs -r,
// and it tests the name it prints (which for several -r files is
// "first + N more"). The file gets the first input's link type (1.6.1
// copied its header and aborted on pcapng or big-endian input).
func (s *session) openUnprocessed() (int, bool) {
	c := s.c
	if len(c.rfiles) == 0 {
		s.errln("currently the -w option requires the -r option")
		return 1, false
	}
	name := c.rfiles[0]
	if len(c.rfiles) > 1 {
		name += fmt.Sprintf(" + %d more", len(c.rfiles)-1)
	}
	if err := unix.Access(name, unix.R_OK); err != nil {
		return s.die("cannot read: " + name + ": " + strerror(err)), false
	}
	link, snaplen, err := linkOf(name)
	if err != nil {
		// 1.6.1 aborts here (DESIGN §4.6): bpflow opens no -w file and the
		// input fails as it does without -w ("unknown file format")
		return 0, true
	}
	out, err := createPcapOut(c.unkPackets, nil, link, snaplen)
	if err != nil {
		// 1.6.1 aborts here too; bpflow says it the way perror would
		s.errln(s.prog + ": " + c.unkPackets + ": " + strerror(err))
		return 1, false
	}
	s.unprocessed = out
	return 0, true
}

func (r *run) ensureOutdir(dir string) (int, bool) {
	st, err := os.Stat(dir)
	if err == nil {
		if !st.IsDir() {
			r.errln("outdir is not a directory: " + dir)
			return 1, false
		}
		return 0, true
	}
	if err := os.Mkdir(dir, 0o777); err != nil {
		r.errln("cannot create " + dir + ": " + strerror(err))
		return 1, false
	}
	return 0, true
}

func strerror(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	s := err.Error()
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// setup builds the sinks and the flow engine for the options.
func (s *session) setup(scanners []string) {
	c := s.c
	namer := output.Namer{Template: c.template, OutDir: c.outdir}
	s.sink = &output.Sink{Stderr: s.stderr, Debugf: s.logf, Report: s.report}
	if c.console {
		s.setupConsole(namer)
	} else {
		s.setupFiles(namer, scanners)
	}
	if c.pcapCore {
		s.split = &output.PcapSplit{Namer: namer}
	}
	s.sink.Alert = s.hooks.alertWriter(paramIntDefault(c.params, "tcp_alert_fd", -1))
	s.sink.AlertNoClose = c.noStore
	s.sink.Closed = s.hooks.command(c.params["tcp_cmd"])
	s.eng = flow.New(flow.Config{
		AlertOpen:  s.sink.Alert != nil,
		Console:    c.console,
		NoStore:    c.noStore,
		MaxBytes:   c.maxBytes,
		MaxSeek:    c.maxSeek,
		TCPTimeout: uint32(paramInt(c.params["tcp_timeout"])),
		DebugLevel: c.debug,
		Debugf:     s.tracef,
	}, s.sink)
}

func (s *session) setupConsole(namer output.Namer) {
	s.sink.Console = &output.Console{Opts: s.c.consoleOpts, Namer: namer, W: s.stdout}
	if s.c.lockname != "" {
		// like 1.6.1, which does not check sem_open: no lock, no error
		if lock, err := output.OpenSemLock(s.c.lockname); err == nil {
			s.sink.Console.Lock = lock
		}
	}
}

func (s *session) setupFiles(namer output.Namer, scanners []string) {
	c := s.c
	warn := func(msg string) { s.errln(msg) }
	maxFDs := c.maxFDs
	if c.index {
		maxFDs /= 2 // the index files need descriptors too
	}
	s.sink.Files = &output.Files{Namer: namer, MaxFDs: maxFDs, Warn: warn,
		DebugLevel: c.debug, Debugf: s.tracef, WriteThrough: c.live()}
	if c.index {
		s.sink.Index = &output.Index{Warn: warn, Debugf: s.logf}
	}
	if c.sel.PostProcessing {
		s.setupScanners(scanners, warn)
	}
}

// setupScanners is post-processing: the enabled scanners run on each
// closed flow's file, with the http_alert_fd / http_cmd hooks for bodies.
func (s *session) setupScanners(scanners []string, warn func(string)) {
	c := s.c
	opts := scan.Options{NoDecompress: c.noDecompress, Warn: warn, OpenBody: s.openBody}
	alert := s.hooks.alertWriter(paramIntDefault(c.params, "http_alert_fd", -1))
	cmd := s.hooks.command(c.params["http_cmd"])
	if alert != nil || cmd != nil {
		opts.BodyEvent = func(event, path string) {
			if alert != nil {
				alert(event, path)
			}
			if cmd != nil && event == "close" {
				cmd(path)
			}
		}
	}
	runner := scan.NewRunner(scanners, opts)
	if !runner.Active() {
		return
	}
	s.sink.Scan = func(f *flow.Flow) (string, error) {
		return runner.Process(s.ctx, scan.FlowInfo{Path: f.Name,
			Start: time.Unix(0, f.Start).UTC(), End: time.Unix(0, f.Last).UTC()})
	}
}

// openBody creates an HTTP body file through the flow files' descriptor
// limit, as 1.6.1's retrying_open (which may close a flow file, and traces
// the open at debug level 2).
func (s *session) openBody(path string) (*os.File, error) {
	fd, err := s.sink.Files.RetryingOpen(path, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
}

// inputs processes -r files, then -R files, or the live interface. It
// returns the exit status so far, or -1 after a fatal error.
func (s *session) inputs() int {
	c := s.c
	if c.live() {
		return s.live()
	}
	status := 0
	for _, phase := range []struct {
		files    []string
		allowNew bool
	}{{c.rfiles, true}, {c.Rfiles, false}} {
		s.eng.AllowNew = phase.allowNew
		for _, path := range phase.files {
			if s.stopped {
				return status
			}
			switch err := s.file(path); {
			case errors.Is(err, errFatal):
				return -1
			case err != nil:
				status = 1
			}
		}
	}
	return status
}

// live captures on -i (or libpcap's default device) until a signal.
func (s *session) live() int {
	c := s.c
	dev := c.device
	if dev == "" {
		d, err := live.DefaultInterface()
		if err != nil {
			s.die(err.Error())
			return -1
		}
		dev = d
	}
	cfg := capture.Config{
		Interface: dev,
		Filter:    s.expr,
		Promisc:   c.promisc,
		Snaplen:   65536,
		Method:    c.captureMethod,
		Attach:    c.attach,
		RingSize:  int(strtoll(c.ringSize)),
		BlockSize: int(strtoll(c.blockSize)),
		// tcpflow hands this to pcap_set_timeout; it bounds the same delay.
		BlockTimeout: time.Duration(paramIntDefault(c.params, "packet-buffer-timeout", 10)) * time.Millisecond,
	}
	logger := slog.New(slog.NewTextHandler(s.stderr, nil))
	src, err := live.Open(s.ctx, cfg, logger)
	if err != nil {
		s.die(err.Error())
		return -1
	}
	defer src.Close()
	if !s.dropRoot() {
		return -1
	}
	s.logf(20, "filter expression: '%s'", s.expr)
	if err := s.openWritten(src.LinkType(), 65536); err != nil {
		return -1
	}
	s.logf(1, "listening on %s", dev)
	var seg layers.Segment
	err = src.Run(s.ctx, func(fr *layers.Frame) error {
		if err := s.writeAll(fr); err != nil {
			return err
		}
		return s.frame(fr, &seg)
	})
	s.printCaptureStats(src.Stats())
	if errors.Is(err, errFatal) {
		return -1
	}
	if err != nil {
		s.die(err.Error())
		return 1
	}
	return 0
}

// printCaptureStats ends a live run with tcpdump's counters, at debug level
// 1 and above, so that what the kernel lost is never lost silently (tcpflow
// 1.6.1 prints nothing: a documented difference).
func (s *session) printCaptureStats(st capture.Stats) {
	if s.debugLevel < 1 {
		return
	}
	s.errln(strconv.FormatUint(st.Captured, 10) + " packets captured")
	s.errln(strconv.FormatUint(st.Dropped, 10) + " packets dropped by kernel")
}

// file reads one capture file. A read error is reported and ends this file
// only (status 1); errFatal ends the run.
func (s *session) file(path string) error {
	s.decompressorMessages(path)
	rd, err := pcapfile.Open(path)
	if err != nil {
		s.die(err.Error())
		return errFatal
	}
	defer rd.Close()
	if !s.dropRoot() {
		return errFatal
	}
	dlt := rd.LinkType().DLT()
	s.logf(3, "looking for handler for datalink type %d for interface %s", dlt, path)
	if !layers.Supported(rd.LinkType()) {
		s.die(fmt.Sprintf("sorry - unknown datalink type %d on interface %s", dlt, path))
		return errFatal
	}
	s.logf(20, "filter expression: '%s'", s.expr)
	if dlt == 14 {
		// 1.6.1 reads DLT 14 (OpenBSD's DLT_RAW) as raw IP, but libpcap on
		// Linux compiles no filter for it, not even tcpflow's empty one.
		s.die(fmt.Sprintf("unknown data link type %d (min 104, max 289)", dlt))
		return errFatal
	}
	if s.expr != "" {
		if _, err := s.program(rd.LinkType()); err != nil {
			return err
		}
	}
	if err := s.openWritten(rd.LinkType(), rd.Snaplen()); err != nil {
		return err
	}
	var seg layers.Segment
	done := s.ctx.Done()
	for {
		select {
		case <-done:
			s.stopped = true
			return nil
		default:
		}
		fr, err := rd.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if strings.HasSuffix(path, ".gz") {
				s.gzipComplaint(path, true)
			}
			s.logf(1, "%s: %s", path, err)
			return err
		}
		if s.expr != "" {
			prog, err := s.program(fr.LinkType)
			if err != nil {
				return err
			}
			if !prog.Match(fr.Data, fr.WireLen) {
				continue
			}
		}
		if err := s.writeAll(fr); err != nil {
			return err
		}
		if err := s.frame(fr, &seg); err != nil {
			return err
		}
	}
}

// openWritten starts --write-pcap's file for the first input's link type,
// as tcpdump -w does: it exists, with its header, even if nothing matches.
func (s *session) openWritten(link layers.LinkType, snaplen uint32) error {
	if s.c.writePcap == "" || s.written != nil {
		return nil
	}
	out, err := createPcapOut(s.c.writePcap, s.stdout, link, snaplen)
	if err != nil {
		s.die(err.Error())
		return errFatal
	}
	s.written = out
	s.writtenLink = link
	return nil
}

// writeAll is --write-pcap: every frame that passed the filter (frames of
// a link type other than the file's are left out: a classic pcap holds one).
func (s *session) writeAll(fr *layers.Frame) error {
	if s.written == nil || fr.LinkType != s.writtenLink {
		return nil
	}
	if err := s.written.write(fr); err != nil {
		s.die(err.Error())
		return errFatal
	}
	return nil
}

// program returns the filter compiled for link type lt (pcapng interfaces
// may differ), compiling it on first use. libpcap's errors are fatal.
func (s *session) program(lt layers.LinkType) (*filter.Program, error) {
	if p := s.programs[lt]; p != nil {
		return p, nil
	}
	p, err := filter.Compile(s.expr, lt)
	if err != nil {
		s.die(err.Error())
		return nil, errFatal
	}
	if s.programs == nil {
		s.programs = map[layers.LinkType]*filter.Program{}
	}
	s.programs[lt] = p
	return p, nil
}

// frame runs one frame through decode, the flow engine and the timeout.
func (s *session) frame(fr *layers.Frame, seg *layers.Segment) error {
	ipAt := -1
	if s.debugLevel >= 2 {
		ipAt = s.linkTraces(fr)
	} else if (fr.LinkType == layers.LinkEthernet || fr.LinkType == layers.LinkIEEE802) && ethernetRunt(fr.Data) {
		// DEBUG(0) in tcpflow's Ethernet handler: printed at every level
		s.errln(s.prefix + ": error: the captured packet header bytes are shorter than the ether_type offset")
	}
	st := s.decoder.Decode(fr, seg)
	if s.netviz != nil {
		s.netviz.AddFrame(fr, seg, st)
	}
	if st == layers.StatusNotIP {
		return nil
	}
	// these traces are tcpdemux's: with it disabled (-E md5) 1.6.1 is silent
	if s.demux {
		s.logf(10, "process_pkt..............................................................................")
		if ipAt >= 0 {
			s.ipTraces(fr.Data[ipAt:])
		}
	}
	// tcpflow sees microseconds; nanosecond captures are truncated.
	ts := floorDiv(fr.TS, 1000)*1000 + s.tdelta*1e9
	processed := false
	if st == layers.StatusTCP && s.demux && s.split != nil {
		// -K: frames go to per-flow pcaps with their capture time
		if err := s.split.Write(fr, seg); err != nil {
			return s.fatal(err)
		}
		processed = true
	} else if st == layers.StatusTCP && s.demux {
		pkt := flow.Packet{TS: ts, WireLen: fr.WireLen, CapLen: uint32(len(fr.Data))}
		p, err := s.eng.Process(seg, pkt)
		if err != nil {
			return s.fatal(err)
		}
		processed = p
	}
	if !processed && s.unprocessed != nil && s.demux {
		if err := s.unprocessed.write(fr); err != nil {
			return s.fatal(err)
		}
	}
	if err := s.eng.Expire(ts); err != nil {
		return s.fatal(err)
	}
	return nil
}

// ethernetRunt is tcpflow's check that the captured bytes reach the
// Ethernet type field, repeated after each 802.1Q/QinQ tag it skips.
func ethernetRunt(data []byte) bool {
	const typeOffset = 12
	caplen := len(data)
	if caplen < typeOffset {
		return true
	}
	for off := typeOffset; off+2 <= len(data); off += 4 {
		switch uint16(data[off])<<8 | uint16(data[off+1]) {
		case 0x8100, 0x9100, 0x88a8:
		default:
			return false
		}
		caplen -= 4
		if caplen < typeOffset {
			return true
		}
	}
	return false
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

// tracef prints a debug trace whose level the caller already checked.
func (s *session) tracef(format string, args ...any) {
	s.errln(s.prefix + ": " + fmt.Sprintf(format, args...))
}

// fatal reports an error from the engine or a sink the way tcpflow does.
func (s *session) fatal(err error) error {
	var plain *output.PlainError
	if errors.As(err, &plain) {
		s.errln(plain.Msg)
	} else {
		s.die(err.Error())
	}
	return errFatal
}

// finish closes every flow, completes the report and prints the end-of-run
// statistics and warnings.
func (s *session) finish() error {
	openFDs := 0
	maxOpen := 0
	if f := s.sink.Files; f != nil {
		openFDs = f.OpenFiles()
	}
	flowMap := s.eng.OpenFlows()
	s.logf(2, "Open FDs at end of processing:      %d", openFDs)
	if f := s.sink.Files; f != nil {
		maxOpen = f.MaxOpen
	}
	s.logf(2, "demux.max_open_flows:               %d", maxOpen)
	s.logf(2, "Flow map size at end of processing: %d", flowMap)
	s.logf(2, "Flows seen:                         %d", s.eng.FlowsCreated())
	if err := s.eng.CloseAll(); err != nil {
		s.fatal(err)
		return errFatal
	}
	if f := s.sink.Files; f != nil {
		f.Stop() // every flow file complete before the report and hooks' end
	}
	if s.split != nil {
		if err := s.split.Close(); err != nil {
			s.die(err.Error())
			return errFatal
		}
	}
	if err := s.writeNetviz(); err != nil {
		s.die(err.Error())
		return errFatal
	}
	s.logf(2, "Total flows processed: %d", s.eng.FlowsCreated())
	s.logf(2, "Total packets processed: %d", s.eng.Packets)
	if s.report != nil {
		if f := s.sink.Files; f != nil {
			maxOpen = f.MaxOpen
		}
		err := s.report.Finish(output.Summary{
			OpenFDs:      openFDs,
			MaxOpenFlows: maxOpen,
			TotalFlows:   s.eng.FlowsCreated(),
			FlowMapSize:  flowMap,
			TotalPackets: s.eng.Packets,
			SSIDs:        s.wifiviz,
		})
		if err != nil {
			s.die(err.Error())
			return errFatal
		}
	}
	s.warnManyFiles()
	s.hooks.wait()
	return nil
}

// writeNetviz draws the netviz picture into the output directory (tcpflow
// 1.6.1 writes report.pdf with cairo; bpflow writes SVG).
func (s *session) writeNetviz() error {
	if s.netviz == nil {
		return nil
	}
	input := s.c.device
	if rf := s.c.rfiles; len(rf) > 0 {
		input = rf[0]
		if len(rf) > 1 {
			input += fmt.Sprintf(" + %d more", len(rf)-1)
		}
	}
	if paramBool(s.c.params["netviz_histogram_dump"], false) {
		if err := s.netviz.DumpHistograms(s.stdout); err != nil {
			return err
		}
	}
	return s.netviz.WriteFile(filepath.Join(s.c.outdir, netviz.FileName), netviz.RenderOptions{
		Title: "TCPFLOW 1.6.1", Input: input, Generated: time.Now(), Location: time.Local})
}

func (s *session) warnManyFiles() {
	if s.eng.FlowsCreated() <= warnTooManyFiles || s.c.quiet {
		return
	}
	entries, err := os.ReadDir(s.c.outdir)
	if err != nil {
		return
	}
	count := len(entries) + 2 // readdir also returns "." and ".."
	if count >= 10000 {
		s.errln("*** tcpflow WARNING:\n*** Modern operating systems do not perform well \n*** with more than 10,000 entries in a directory.\n***")
		s.errln("*** tcpflow created " + itoa(count) + " files in output directory " + s.c.outdir + "\n***\n*** Next time, specify command-line options: -Fk , -Fm , or -Fg \n*** This will automatically bin output into subdirectories.\n*** type 'tcpflow -hhh' for more information.")
	}
}
func itoa(n int) string { return strconv.Itoa(n) }
