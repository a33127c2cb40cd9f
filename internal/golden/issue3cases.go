package golden

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/bpflow/bpflow/internal/golden/flowdiff"
	"github.com/bpflow/bpflow/internal/layers"
)

// issue3Captures: the inputs of issue 3's cases that no other case needs.
func issue3Captures() []*capture {
	return []*capture{
		eth("http_bodies.pcap", httpBodiesScript()),
		{name: "non_tcp_be.pcap", s: nonTCPScript(), format: fmtPcapBE},
		{name: "syns_10001.pcap", s: syns(manySYNs), link: layers.LinkRaw},
	}
}

// manySYNs is one more flow than 1.6.1 creates before it warns about the
// number of files.
const manySYNs = 10001

// syns: n connection attempts (a bare SYN each, raw IP to keep the capture
// small) from client ports 20000 on; each creates a flow and no file.
func syns(n int) *script {
	s := newScript()
	for i := range n {
		s.conn().withPorts(uint16(20000+i), 80).syn()
	}
	return s
}

// httpBodiesScript: one keep-alive connection whose responses cover what the
// http scanner distinguishes: gzip and deflate bodies, a chunked body, an
// unknown and a missing content type, a PNG, and an empty body.
func httpBodiesScript() *script {
	s := newScript()
	c := s.conn().handshake()
	for _, resp := range []string{
		httpBody("text/html", "Content-Encoding: gzip\r\n", compressed(gzipBody, "<html>gzip body</html>\n")),
		httpBody("text/plain", "Content-Encoding: deflate\r\n", compressed(zlibBody, "deflated text\n")),
		"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
		httpBody("application/x-unknown-thing", "", "opaque bytes\n"),
		httpBody("", "", "no content type\n"),
		httpBody("image/png", "", "\x89PNG\r\n\x1a\nnot really a picture"),
		httpBody("text/html", "", ""),
	} {
		c.send(cli, httpRequest)
		c.send(srv, resp)
	}
	c.close()
	return s
}

// httpBody is an HTTP/1.1 200 response with a Content-Length.
func httpBody(contentType, extraHeaders, body string) string {
	var b strings.Builder
	b.WriteString("HTTP/1.1 200 OK\r\n")
	if contentType != "" {
		fmt.Fprintf(&b, "Content-Type: %s\r\n", contentType)
	}
	fmt.Fprintf(&b, "%sContent-Length: %d\r\n\r\n%s", extraHeaders, len(body), body)
	return b.String()
}

const (
	gzipBody = iota
	zlibBody
)

// compressed encodes text with stored blocks only, so the capture's bytes
// do not depend on the compressor's version.
func compressed(kind int, text string) string {
	var out bytes.Buffer
	var err error
	switch kind {
	case gzipBody:
		var zw *gzip.Writer
		if zw, err = gzip.NewWriterLevel(&out, gzip.NoCompression); err == nil {
			_, _ = zw.Write([]byte(text))
			err = zw.Close()
		}
	default:
		var zw *zlib.Writer
		if zw, err = zlib.NewWriterLevel(&out, zlib.NoCompression); err == nil {
			_, _ = zw.Write([]byte(text))
			err = zw.Close()
		}
	}
	if err != nil {
		panic("compress HTTP body: " + err.Error())
	}
	return out.String()
}

// issue3Cases: the options of issue 3 — index files, per-flow pcaps, -w,
// the -S hooks and parameters, privilege drop, -L, debug levels, scanners.
func issue3Cases() []Case {
	var all []Case
	for _, group := range [][]Case{indexAndPcapCases(), hookCases(), privilegeCases(), debugCases(), scannerCases()} {
		all = append(all, group...)
	}
	return all
}

func indexAndPcapCases() []Case {
	return []Case{
		file("I_two_conns", "two_conns.pcap", "-I"),
		file("I_f1_many", "many_flows.pcap", "-I", "-f", "1"),
		file("I_ooo", "ooo.pcap", "-I"),
		file("I_Fk_outdir", "two_conns.pcap", "-I", "-Fk", "-o", "out"),
		file("I_b5", "basic_http.pcap", "-I", "-b", "5"),
		file("I_hole", "hole.pcap", "-I"),
		perFlowPcaps("K_two_conns", "two_conns.pcap", 6, 1),
		perFlowPcaps("K_outdir", "basic_http.pcap", 6, 1, "-o", "out"),
		// Raw IP: 1.6.1 writes libpcap's DLT_RAW (12 on Linux), not the
		// file format's LINKTYPE_RAW (101) that the input has.
		perFlowPcaps("K_raw", "dlt_raw101.pcap", 12, 101),
		// Linux cooked: DLT and LINKTYPE agree (113).
		file("K_sll", "dlt_sll.pcap", "-K"),
		{Name: "w_no_r", Args: []string{"-w", "out.pcap"}},
		file("w_ipv4_frag", "ipv4_frag.pcap", "-w", "out.pcap"),
		file("w_only_tcp", "two_conns.pcap", "-w", "out.pcap"),
		writeAfter("w_after_be", "non_tcp_be.pcap"),
		withDiff(file("w_ipv6_exthdr", "ipv6_exthdr.pcap", "-w", "out.pcap"), &Difference{Design: "4.5 IPv6 extension headers are walked",
			AltArgs: []string{"-w", "out.pcap", "-r", in("ipv6.pcap")}, Fix: []Transform{addLenPerPacket(8)}}),
		// 1.6.1 checks that it can read "FIRST + 1 more", and cannot.
		{Name: "w_two_inputs", Args: []string{"-w", "out.pcap", "-r", in("split1.pcap"), "-r", in("split2.pcap")}},
		file("w_missing_input", "does_not_exist.pcap", "-w", "out.pcap"),
		// 1.6.1 aborts on these two (SIGABRT, exit 134: DESIGN §4.6). With
		// an input that is no capture bpflow opens no -w file and fails as
		// 1.6.1 does without -w; an unwritable -w file gets perror's line.
		withDiff(file("w_not_a_pcap", "not_a_pcap.pcap", "-w", "out.pcap"), &Difference{Design: wErrors,
			AltArgs: []string{"-r", in("not_a_pcap.pcap")}}),
		withDiff(file("w_unwritable", "non_tcp.pcap", "-w", "nodir/out.pcap"), &Difference{Design: wErrors,
			Fix: []Transform{abortAsError("tcpflow: nodir/out.pcap: No such file or directory")}}),
	}
}

const wErrors = "7 (README) -w errors are one-line errors, not aborts"

// abortAsError turns 1.6.1's abort on an uncaught exception (its message,
// exit 134) into bpflow's one-line error line and exit status 1.
func abortAsError(line string) Transform {
	const abort = "terminate called after throwing an instance of 'pcap_writer::write_error*'\n"
	return Transform{Name: "abort -> " + line + ", exit 1", Apply: func(s *flowdiff.Snapshot) error {
		if s.Exit != 134 || !bytes.Contains(s.Stderr, []byte(abort)) {
			return fmt.Errorf("no abort to replace (exit %d, stderr %q)", s.Exit, s.Stderr)
		}
		s.Exit = 1
		s.Stderr = bytes.Replace(s.Stderr, []byte(abort), []byte(line+"\n"), 1)
		return nil
	}}
}

func withDiff(c Case, d *Difference) Case {
	c.Diff = d
	return c
}

// perFlowPcaps: -K where 1.6.1 writes link type was in the per-flow pcaps
// and bpflow the input's, is: 6 (IEEE 802) for Ethernet input, 12 (a DLT,
// not a pcap file LINKTYPE) for raw IP.
func perFlowPcaps(name, capture string, was, is uint32, opts ...string) Case {
	c := file(name, capture, append([]string{"-K"}, opts...)...)
	c.Diff = &Difference{Design: "8 (README) -K pcaps have the right link type",
		Fix: []Transform{pcapLinkType(was, is)}}
	return c
}

// pcapLinkType rewrites the link type field of every per-flow pcap
// (little-endian classic pcap header, offset 20) from was to is.
func pcapLinkType(was, is uint32) Transform {
	return Transform{Name: fmt.Sprintf("link type %d -> %d in every .pcap header", was, is), Apply: func(s *flowdiff.Snapshot) error {
		n := 0
		for i := range s.Entries {
			e := &s.Entries[i]
			if e.Kind != flowdiff.KindFile || !strings.HasSuffix(e.Path, ".pcap") {
				continue
			}
			if len(e.Data) < 24 || binary.LittleEndian.Uint32(e.Data) != 0xa1b2c3d4 {
				return fmt.Errorf("%s is not a little-endian pcap", e.Path)
			}
			if got := binary.LittleEndian.Uint32(e.Data[20:]); got != was {
				return fmt.Errorf("%s has link type %d, want 1.6.1's %d", e.Path, got, was)
			}
			e.Data = slices.Clone(e.Data)
			binary.LittleEndian.PutUint32(e.Data[20:], is)
			n++
		}
		if n == 0 {
			return fmt.Errorf("no .pcap among the output files")
		}
		return nil
	}}
}

func hookCases() []Case {
	keepalive := func(name string, opts ...string) Case { return realFile(name, "http_keepalive.pcap", opts...) }
	return []Case{
		file("S_tcp_alert_fd", "two_conns.pcap", "-S", "tcp_alert_fd=2"),
		file("S_tcp_alert_fd_synonly", "synonly.pcap", "-S", "tcp_alert_fd=2"),
		file("S_tcp_alert_fd_stdout", "many_flows.pcap", "-S", "tcp_alert_fd=1"),
		file("S_tcp_alert_fd_bad", "basic_http.pcap", "-S", "tcp_alert_fd=x"),
		bodyTimes(keepalive("S_http_alert_fd", "-e", "http", "-S", "http_alert_fd=2")),
		bodyTimes(file("S_http_alert_fd_bodies", "http_bodies.pcap", "-e", "http", "-S", "http_alert_fd=1")),
		// Flows close at the end of the input: the children of tcp_cmd do
		// not race tcpflow's own reading (see S_tcp_cmd_midfile).
		file("S_tcp_cmd_true", "basic_http.pcap", "-S", "tcp_cmd=true"),
		{Name: "S_tcp_cmd_copy", Args: []string{"-S", "tcp_cmd=cp -t copies", "-r", in("basic_http.pcap")}, Setup: []string{"copies/"}},
		{
			Name:      "S_http_cmd_copy",
			Args:      []string{"-e", "http", "-S", "http_cmd=cp -t copies", "-r", in("http_bodies.pcap")},
			Setup:     []string{"copies/"},
			NoTcpflow: "as S_tcp_cmd_midfile: http_cmd children run when the flow closes at its FIN, before the end of the input",
			Check:     copiesThenGolden(httpBodies(), isHTTPBody),
		},
		{
			Name:      "S_tcp_cmd_many",
			Args:      []string{"-S", "tcp_cmd=cp -t copies", "-r", in("many_flows.pcap")},
			Setup:     []string{"copies/"},
			NoTcpflow: "as S_tcp_cmd_midfile; here 60 flows close at once, more than the 10 children tcp_cmd may run",
			Check:     copiesThenGolden(file("many_flows", "many_flows.pcap"), isFlowFile),
		},
		{
			Name: "S_tcp_cmd_midfile",
			Args: []string{"-S", "tcp_cmd=true", "-r", in("two_conns.pcap")},
			NoTcpflow: "1.6.1's tcp_cmd children exit through stdio, which moves the shared offset of the capture file: " +
				"a flow closing before the end of the input corrupts the rest of the read ('invalid packet capture length', most runs)",
			Check: sameAsGolden(file("two_conns", "two_conns.pcap")),
		},
		file("S_check_fcs_no", "basic_http.pcap", "-S", "check_fcs=NO"),
		file("S_packet_buffer_timeout", "basic_http.pcap", "-S", "packet-buffer-timeout=5"),
		file("S_netviz", "basic_http.pcap", "-S", "netviz_histogram_size=10", "-S", "netviz_histogram_dump=1"),
		file("S_unknown", "basic_http.pcap", "-S", "nosuch=1"),
		file("S_empty_name", "basic_http.pcap", "-S", "=1"),
		file("S_empty_value", "basic_http.pcap", "-S", "tdelta="),
		file("S_two_equals", "basic_http.pcap", "-S", "tcp_timeout=1=2"),
		file("S_debug_prefix_d2", "basic_http.pcap", "-S", "debug-prefix=flowx", "-d", "2"),
		file("S_tdelta_Ft", "two_conns.pcap", "-S", "tdelta=1", "-Ft"),
		console("c_S_tcp_alert_fd", "two_conns.pcap", "-c", "-S", "tcp_alert_fd=2"),
		realFile("S_tcp_alert_fd_timeout", "idle.pcap", "-S", "tcp_timeout=1", "-S", "tcp_alert_fd=1"),
		file("S_tcp_alert_fd_reuse", "reuse_after_fin.pcap", "-S", "tcp_alert_fd=2"),
	}
}

// goldenExpectation finds a case's expected snapshot; the tests, which
// read the goldens, set it (issue3_test.go).
var goldenExpectation func(c *Case) (*flowdiff.Snapshot, error)

// sameAsGolden checks that a run's exit status, stdout, stderr and flow
// files (all but the report, which names the command line) are what case
// golden expects: its golden, recorded from tcpflow, with its Difference.
func sameAsGolden(golden Case) func(s *flowdiff.Snapshot) error {
	return func(s *flowdiff.Snapshot) error {
		if goldenExpectation == nil {
			return fmt.Errorf("no goldens loaded to compare with %s", golden.Name)
		}
		want, err := goldenExpectation(&golden)
		if err != nil {
			return err
		}
		want, got := want.Clone(), s.Clone()
		for _, snap := range []*flowdiff.Snapshot{want, got} {
			if !snap.Remove("report.xml") {
				return fmt.Errorf("no report.xml in the output of %s", golden.Name)
			}
		}
		if d := flowdiff.Diff(want, got); d != "" {
			return fmt.Errorf("output differs from golden %s (report.xml aside):\n%s", golden.Name, d)
		}
		return nil
	}
}

// copiesThenGolden checks that copies/ holds a copy of every file copied
// says a hook ran on ("cp -t copies" as tcp_cmd or http_cmd) and that,
// copies aside, the run's output is what case golden expects (see
// sameAsGolden).
func copiesThenGolden(golden Case, copied func(path string) bool) func(s *flowdiff.Snapshot) error {
	return func(s *flowdiff.Snapshot) error {
		s = s.Clone()
		var originals []string
		for _, e := range s.Entries {
			if e.Kind == flowdiff.KindFile && !strings.HasPrefix(e.Path, "copies/") && copied(e.Path) {
				originals = append(originals, e.Path)
			}
		}
		if len(originals) == 0 {
			return fmt.Errorf("no files for the hook, stderr %q", s.Stderr)
		}
		for _, o := range originals {
			orig, dup := s.Entry(o), s.Entry("copies/"+o)
			if dup == nil || !bytes.Equal(orig.Data, dup.Data) {
				return fmt.Errorf("the hook made no faithful copies/%s", o)
			}
			s.Remove("copies/" + o)
		}
		if !s.Remove("copies") {
			return fmt.Errorf("copies/ is gone")
		}
		return sameAsGolden(golden)(s)
	}
}

func isHTTPBody(path string) bool { return strings.Contains(path, "-HTTPBODY-") }

func isFlowFile(path string) bool { return path != "report.xml" }

func privilegeCases() []Case {
	lock := file("L_lock", "basic_http.pcap", "-L", "lock")
	// The report's command line, the one thing -L changes in 1.6.1's
	// output without -L, is among what flowdiff drops.
	lock.Diff = &Difference{Design: "7 (README) -L works (Debian's 1.6.1 has no pthreads lock and exits)",
		AltArgs: []string{"-r", in("basic_http.pcap")}}
	lockConsole := console("L_c", "two_conns.pcap", "-c", "-L", "lock")
	lockConsole.Diff.AltArgs = []string{"-c", "-r", in("two_conns.pcap")}
	return []Case{
		file("U_nobody", "basic_http.pcap", "-U", "nobody"),
		console("U_nobody_c", "basic_http.pcap", "-c", "-U", "nobody"),
		lockConsole,
		file("U_nobody_no_report", "basic_http.pcap", "-U", "nobody", "-S", "enable_report=NO"),
		file("U_unknown", "basic_http.pcap", "-U", "nosuchuser"),
		{Name: "z_U", Args: []string{"-z", "jail", "-U", "nobody", "-r", in("basic_http.pcap")}, Setup: []string{"jail/"}},
		{Name: "z_U_missing", Args: []string{"-z", "jail", "-U", "nobody", "-r", in("basic_http.pcap")}},
		{Name: "z_no_U", Args: []string{"-z", "jail", "-r", in("basic_http.pcap")}, Setup: []string{"jail/"}},
		lock,
	}
}

func debugCases() []Case {
	return []Case{
		file("d1", "two_conns.pcap", "-d", "1"),
		file("d3", "two_conns.pcap", "-d", "3"),
		file("d10", "two_conns.pcap", "-d", "10"),
		file("d5_reuse", "reuse_after_fin.pcap", "-d", "5"),
		file("d2_many_f1", "many_flows.pcap", "-d", "2", "-f", "1"),
		// The >10,000-files warning: more than 10,000 flows, and 10,000
		// directory entries counting "." and ".." (in/ and real/ are two).
		manyFiles("many_files_warning", 9996, nil),
		manyFiles("many_files_q", 9996, []string{"-q"}),
		manyFiles("many_files_9999_entries", 9995, nil),
		manyFiles("many_files_10000_flows", 9996, nil, "not", "src", "port", "20000"),
	}
}

// manyFiles: the syns capture (a flow each, no files, no report) in a
// directory already holding n empty directories; opts before -r, filter
// after.
func manyFiles(name string, n int, opts []string, filter ...string) Case {
	args := append(slices.Clone(opts), "-S", "enable_report=NO", "-r", in("syns_10001.pcap"))
	c := Case{Name: name, Args: append(args, filter...)}
	for i := range n {
		// directories: the snapshot records no mtime for them, which for
		// files made before the run would depend on how long making
		// 10,000 of them takes
		c.Setup = append(c.Setup, fmt.Sprintf("d%d/", i+1))
	}
	return c
}

// httpBodies: the http scanner on every kind of body.
func httpBodies() Case { return bodyTimes(file("e_http_bodies", "http_bodies.pcap", "-e", "http")) }

func scannerCases() []Case {
	bodies := func(name string, opts ...string) Case { return bodyTimes(file(name, "http_bodies.pcap", opts...)) }
	return []Case{
		file("e_md5", "two_conns.pcap", "-e", "md5"),
		file("e_md5_o", "two_conns.pcap", "-e", "md5", "-o", "out"),
		bodies("e_http_d1", "-e", "http", "-d", "1"),
		file("E_md5", "two_conns.pcap", "-E", "md5"),
		httpBodies(),
		bodies("e_http_Z", "-e", "http", "-Z"),
		file("e_http_x_http", "http_bodies.pcap", "-e", "http", "-x", "http"),
		file("x_http", "http_bodies.pcap", "-x", "http"),
		bodies("e_http_md5", "-e", "http", "-e", "md5"),
		bodies("e_http_o", "-e", "http", "-o", "out"),
		bodies("e_http_Fk", "-e", "http", "-Fk"),
		file("a_FX", "basic_http.pcap", "-a", "-FX"),
		file("e_md5_FX", "basic_http.pcap", "-e", "md5", "-FX"),
		file("e_unknown", "basic_http.pcap", "-e", "nosuch"),
		file("x_unknown", "basic_http.pcap", "-x", "nosuch"),
	}
}

// bodyTimes: a case whose run writes HTTPBODY files. 1.6.1 leaves them the
// time they were written; bpflow gives them their flow's time, as the flow
// file has (tcpflow issue #55, a choice of issue 3).
func bodyTimes(c Case) Case {
	c.Diff = &Difference{Design: "9 (README) HTTP body files get the flow's start time", Fix: []Transform{bodyMtimes}}
	return c
}

// bodyMtimes sets each <flow>-HTTPBODY-NNN file's mtime to <flow>'s.
var bodyMtimes = Transform{Name: "HTTPBODY files' mtime := their flow file's", Apply: func(s *flowdiff.Snapshot) error {
	n := 0
	for i := range s.Entries {
		e := &s.Entries[i]
		flowPath, _, ok := strings.Cut(e.Path, "-HTTPBODY-")
		if e.Kind != flowdiff.KindFile || !ok {
			continue
		}
		flow := s.Entry(flowPath)
		if flow == nil {
			return fmt.Errorf("%s: no flow file %s", e.Path, flowPath)
		}
		e.Mtime = flow.Mtime
		n++
	}
	if n == 0 {
		return fmt.Errorf("no HTTPBODY file among the output files")
	}
	return nil
}}
