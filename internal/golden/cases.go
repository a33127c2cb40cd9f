package golden

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/bpflow/bpflow/internal/golden/flowdiff"
)

// in is how a case names a capture of the corpus on its command line.
func in(capture string) string { return "in/" + capture }

// file: a file-mode case reading one capture, extra options first.
func file(name, capture string, opts ...string) Case { return reading(name, in(capture), opts...) }

// reading: a case reading the file at path (as the run directory sees it),
// extra options first.
func reading(name, path string, opts ...string) Case {
	return Case{Name: name, Args: append(slices.Clone(opts), "-r", path)}
}

// console: a -c/-C case. 1.6.1 writes report.xml and prints its name even in
// console mode; bpflow does not unless -X is given (DESIGN §4.2), so bpflow's
// expectation is tcpflow's output without them.
func console(name, capture string, opts ...string) Case {
	return asConsole(file(name, capture, opts...))
}

// asConsole marks a console-mode case with the DESIGN §4.2 difference.
func asConsole(c Case) Case {
	c.Diff = &Difference{Design: "4.2 console modes write no report", Fix: []Transform{dropConsoleReport}}
	return c
}

// cases is the golden corpus, in a fixed order.
var cases = sync.OnceValue(func() []Case {
	var all []Case
	for _, group := range [][]Case{inputCases(), flowCases(), namingCases(), consoleCases(), optionCases(), linkCases(), wifiCases(), differenceCases(), hangCases(), randomCases(), realCases(), hostileCases(), filterCases(), issue3Cases()} {
		all = append(all, group...)
	}
	return all
})

// inputCases: capture formats and inputs (reference §3.5).
func inputCases() []Case {
	return []Case{
		file("basic_http", "basic_http.pcap"),
		file("basic_http_be", "basic_http_be.pcap"),
		file("basic_http_nano", "basic_http_nano.pcap"),
		file("basic_http_pcapng", "basic_http.pcapng"),
		file("basic_http_gz", "basic_http.pcap.gz"),
		file("basic_http_xz", "basic_http.pcap.xz"),
		file("basic_http_lzma", "basic_http.pcap.lzma"),
		file("basic_http_pcapng_be", "basic_http_be.pcapng"),
		file("basic_http_pcapng_nano", "basic_http_nano.pcapng"),
		file("basic_http_pcapng_sections", "basic_http_sections.pcapng"),
		{Name: "stdin_gz", Args: []string{"-r", "-"}, Stdin: "basic_http.pcap.gz"},
		file("missing_gz", "does_not_exist.pcap.gz"),
		{Name: "same_file_twice", Args: []string{"-r", in("basic_http.pcap"), "-r", in("basic_http.pcap")}},
		{Name: "stdin_dash", Args: []string{"-r", "-"}, Stdin: "basic_http.pcap"},
		{Name: "split_r_r", Args: []string{"-r", in("split1.pcap"), "-r", in("split2.pcap")}},
		{Name: "split_l", Args: []string{"-l", in("split1.pcap"), in("split2.pcap")}},
		{Name: "split_r_R", Args: []string{"-r", in("split1.pcap"), "-R", in("split2.pcap")}},
		{Name: "split_R_only", Args: []string{"-R", in("split2.pcap")}},
		file("truncated_file", "truncated.pcap"),
		{Name: "truncated_then_good", Args: []string{"-r", in("truncated.pcap"), "-r", in("two_conns.pcap")}},
		file("missing_file", "does_not_exist.pcap"),
		file("not_a_pcap", "not_a_pcap.pcap"),
		file("empty_file", "empty.pcap"),
		{Name: "r_directory", Args: []string{"-r", "in"}},
		{Name: "good_then_missing", Args: []string{"-r", in("basic_http.pcap"), "-r", in("does_not_exist.pcap")}},
		{Name: "rerun_same_dir", Args: []string{"-r", in("basic_http.pcap")}, Runs: 2},
		file("two_conns", "two_conns.pcap"),
		file("non_tcp", "non_tcp.pcap"),
		file("ipv6", "ipv6.pcap"),
		file("ipv6_odd", "ipv6_odd.pcap"),
		file("vlan_ipv6", "vlan_ipv6.pcap"),
		file("ipv6_trailer", "ipv6_trailer.pcap"),
		file("ipv4_ihl_beyond_total", "ipv4_ihl_beyond_total.pcap"),
		file("tcp_dataofs_beyond", "tcp_dataofs_beyond.pcap"),
		file("short_ip", "short_ip.pcap"),
		file("short_tcp", "short_tcp.pcap"),
		file("eth_mpls", "eth_mpls.pcap"),
	}
}

// flowCases: the flow engine's placement and close rules (reference §3.2–3.4).
func flowCases() []Case {
	return []Case{
		file("ooo", "ooo.pcap"),
		file("hole", "hole.pcap"),
		file("hole_filled_after_fin", "hole_filled_after_fin.pcap"),
		file("seqwrap", "seqwrap.pcap"),
		file("retrans_same", "retrans_same.pcap"),
		file("retrans_diff", "retrans_diff.pcap"),
		file("overlap", "overlap.pcap"),
		file("before_isn", "before_isn.pcap"),
		file("nosyn_insert", "nosyn_insert.pcap"),
		file("nosyn_plain", "nosyn_plain.pcap"),
		file("keepalive", "keepalive.pcap"),
		file("syn_data", "syn_data.pcap"),
		file("synonly", "synonly.pcap"),
		file("straggler", "straggler.pcap"),
		file("reuse_after_fin", "reuse_after_fin.pcap"),
		file("reuse_no_fin", "reuse_no_fin.pcap"),
		file("bigjump", "bigjump.pcap"),
		file("gap100", "gap100.pcap"),
		file("gap100_m50", "gap100.pcap", "-m", "50"),
		file("gap100_m99", "gap100.pcap", "-m", "99"),
		file("gap100_m100", "gap100.pcap", "-m", "100"),
		file("m0", "ooo.pcap", "-m", "0"),
		file("rst", "rst.pcap"),
		file("snaplen", "snaplen.pcap"),
		file("ipv4_frag", "ipv4_frag.pcap"),
		file("options", "options.pcap"),
		file("tcp_timeout", "tcp_timeout.pcap", "-S", "tcp_timeout=60"),
		file("idle_no_timeout", "tcp_timeout.pcap"),
		file("many_flows", "many_flows.pcap"),
		file("many_flows_f1", "many_flows.pcap", "-f", "1"),
		file("many_flows_f3", "many_flows.pcap", "-f3"),
		file("f0", "basic_http.pcap", "-f", "0"),
		file("b0", "basic_http.pcap", "-b", "0"),
		file("b5", "basic_http.pcap", "-b5"),
		file("b_ooo", "ooo.pcap", "-b", "6"),
		file("vlan", "vlan.pcap"),
		file("vlan_prio", "vlan_prio.pcap"),
		file("vlan_mixed", "vlan_mixed.pcap"),
		file("qinq_8100", "qinq_8100.pcap"),
		file("qinq_88a8", "qinq_88a8.pcap"),
		file("tag_9100", "tag_9100.pcap"),
		file("tdelta", "basic_http.pcap", "-S", "tdelta=100"),
	}
}

// namingCases: file names, -T, -F, -o, -X (reference §3.1, §6.1).
func namingCases() []Case {
	return []Case{
		file("T_custom", "basic_http.pcap", "-T", "%N-%K-%M-%G-%S-%#-%t-%T-%A-%a-%B-%b-%%"),
		file("T_with_c", "reuse_after_fin.pcap", "-T", "flow%c-%A"),
		file("T_trailing_pct", "basic_http.pcap", "-T", "%A%"),
		file("T_pct_end_with_c", "basic_http.pcap", "-T", "%c%"),
		file("T_bad_escape", "basic_http.pcap", "-T", "%A%q%"),
		file("T_subdirs", "many_flows.pcap", "-T", "%A/%a/%N-%B.%b"),
		file("T_mac", "basic_http.pcap", "-T", "%E_%e_%V%v"),
		file("T_mac_raw", "dlt_raw101.pcap", "-T", "%E_%e"),
		file("T_vlan", "vlan_prio.pcap", "-T", "%V%v_%A"),
		file("T_pct_pct", "basic_http.pcap", "-T", "%A%%"),
		file("T_empty", "basic_http.pcap", "-T", ""),
		file("outdir_empty", "basic_http.pcap", "-o", ""),
		file("X_missing_dir", "basic_http.pcap", "-X", "nodir/rep.xml"),
		file("Ft", "basic_http.pcap", "-Ft"),
		file("FT", "basic_http.pcap", "-FT"),
		file("Fk", "basic_http.pcap", "-Fk"),
		file("Fm", "basic_http.pcap", "-Fm"),
		file("Fg", "basic_http.pcap", "-Fg"),
		file("Fk_1000", "thousand_flows.pcap", "-Fk"),
		file("Fc", "reuse_twice.pcap", "-Fc"),
		file("FX", "basic_http.pcap", "-FX"),
		file("FM", "basic_http.pcap", "-FM"),
		file("F_invalid", "basic_http.pcap", "-Fz"),
		file("Ftk", "basic_http.pcap", "-Ftk"),
		file("Fkt", "basic_http.pcap", "-Fkt"),
		file("Fk_then_T", "basic_http.pcap", "-Fk", "-T", "%A-%B"),
		file("T_then_Fk", "basic_http.pcap", "-T", "%A-%B", "-Fk"),
		file("outdir", "basic_http.pcap", "-o", "out"),
		file("outdir_trailing_slash", "basic_http.pcap", "-o", "out/"),
		file("outdir_dot_slash", "basic_http.pcap", "-o", "./"),
		file("outdir_dot", "basic_http.pcap", "-o", "."),
		file("outdir_and_X", "basic_http.pcap", "-o", "out", "-X", "rep.xml"),
		file("outdir_missing_parent", "basic_http.pcap", "-o", "a/b"),
		{Name: "outdir_is_file", Args: []string{"-o", "out", "-r", in("basic_http.pcap")}, Setup: []string{"out"}},
		{Name: "outdir_exists", Args: []string{"-o", "out", "-r", in("basic_http.pcap")}, Setup: []string{"out/"}},
		file("X_report", "basic_http.pcap", "-X", "rep.xml"),
		file("X_devnull", "basic_http.pcap", "-X", "/dev/null"),
		file("outdir_Fk", "basic_http.pcap", "-o", "out", "-Fk"),
		file("no_report", "basic_http.pcap", "-S", "enable_report=NO"),
		file("nonprint_file_s", "nonprint.pcap", "-s"),
		file("D_file", "nonprint.pcap", "-D"),
		file("g_file", "basic_http.pcap", "-g"),
		file("J_only", "basic_http.pcap", "-J"),
		file("B_file", "nonprint.pcap", "-B"),
		file("zero_file", "basic_http.pcap", "-0"),
	}
}

// consoleCases: -c and friends (reference §2).
func consoleCases() []Case {
	return []Case{
		console("c_basic", "basic_http.pcap", "-c"),
		console("C_basic", "basic_http.pcap", "-C"),
		console("c_nonprint", "nonprint.pcap", "-c"),
		console("C_nonprint", "nonprint.pcap", "-C"),
		console("c_B_nonprint", "nonprint.pcap", "-c", "-B"),
		console("c_s_nonprint", "nonprint.pcap", "-c", "-s"),
		console("c_s_B_order", "nonprint.pcap", "-cBs"),
		console("c_D_nonprint", "nonprint.pcap", "-cD"),
		console("C_D_nonprint", "nonprint.pcap", "-C", "-D"),
		console("c_D_hex45", "hex45.pcap", "-c", "-D"),
		console("c_D_g_hex45", "hex45.pcap", "-c", "-D", "-g"),
		console("c_D_0", "hex45.pcap", "-c", "-D", "-0"),
		console("c_g", "basic_http.pcap", "-c", "-g"),
		console("C_g", "basic_http.pcap", "-C", "-g"),
		console("c_g_0", "basic_http.pcap", "-c", "-g", "-0"),
		console("c_J_g", "basic_http.pcap", "-c", "-J", "-g"),
		console("c_g_nosyn", "nosyn_plain.pcap", "-c", "-g"),
		console("c_J", "basic_http.pcap", "-c", "-J"),
		console("C_J", "basic_http.pcap", "-C", "-J"),
		console("c_J_D", "hex45.pcap", "-c", "-J", "-D"),
		console("c_0", "basic_http.pcap", "-c", "-0"),
		console("c_b5", "basic_http.pcap", "-c", "-b", "5"),
		console("c_b0", "basic_http.pcap", "-c", "-b", "0"),
		console("c_b3_bigjump", "c_bigjump3.pcap", "-c", "-b", "3"),
		console("c_FX", "basic_http.pcap", "-c", "-FX"),
		console("c_T", "basic_http.pcap", "-c", "-T", "%a-%b"),
		console("c_Fk", "basic_http.pcap", "-c", "-Fk"),
		console("c_outdir", "basic_http.pcap", "-c", "-o", "out"),
		console("c_vlan", "vlan.pcap", "-c"),
		console("c_ipv6", "ipv6.pcap", "-c"),
		console("c_ooo", "ooo.pcap", "-c"),
		console("c_retrans_same", "retrans_same.pcap", "-c"),
		console("c_overlap", "overlap.pcap", "-c"),
		console("c_keepalive", "keepalive.pcap", "-c"),
		console("c_before_isn", "before_isn.pcap", "-c"),
		console("c_nosyn_insert", "nosyn_insert.pcap", "-c"),
		console("c_straggler", "straggler.pcap", "-c"),
		console("c_reuse_no_fin", "reuse_no_fin.pcap", "-c"),
		console("c_many_flows", "many_flows.pcap", "-c"),
		console("c_syn_data", "syn_data.pcap", "-c"),
		file("c_X", "basic_http.pcap", "-c", "-X", "rep.xml"),
		file("c_no_report", "basic_http.pcap", "-c", "-S", "enable_report=NO"),
	}
}

// optionCases: the command line itself (reference §7).
func optionCases() []Case {
	return []Case{
		{Name: "V", Args: []string{"-V"}},
		{Name: "version_long", Args: []string{"--version"}},
		{Name: "h", Args: []string{"-h"}},
		{Name: "hh", Args: []string{"-hh"}},
		{Name: "help_long", Args: []string{"--help"}},
		{Name: "H", Args: []string{"-H"}},
		file("verbose_long", "basic_http.pcap", "--verbose"),
		{Name: "unknown_opt", Args: []string{"-Y"}},
		{Name: "P_undocumented", Args: []string{"-P"}},
		{Name: "missing_arg", Args: []string{"-r"}},
		file("d0", "truncated.pcap", "-d", "0"),
		file("d2", "basic_http.pcap", "-d", "2"),
		file("d5", "basic_http.pcap", "-d", "5"),
		file("d_negative", "basic_http.pcap", "-d", "-1"),
		file("v", "basic_http.pcap", "-v"),
		file("A_deprecated", "basic_http.pcap", "-A", "x"),
		file("q", "basic_http.pcap", "-q"),
		file("p_file", "basic_http.pcap", "-p"),
		file("S_bad", "basic_http.pcap", "-S", "novalue"),
		file("S_debug_prefix", "does_not_exist.pcap", "-S", "debug-prefix=flowx"),
		{Name: "double_dash", Args: []string{"-r", in("basic_http.pcap"), "--"}},
		{Name: "double_dash_option_after", Args: []string{"-r", in("basic_http.pcap"), "--", "-c"}},
		{Name: "getopt_permute", Args: []string{"-r", in("two_conns.pcap"), "port", "80", "-T", "%a-%b"}},
		{Name: "getopt_attached_arg", Args: []string{"-r" + in("basic_http.pcap"), "-oout"}},
		console("getopt_bundle_arg", "nonprint.pcap", "-Bcb5"),
		{Name: "filter_port", Args: []string{"-r", in("two_conns.pcap"), "port", "80"}},
		{Name: "filter_quoted", Args: []string{"-r", in("two_conns.pcap"), "port 443"}},
		{Name: "filter_multiword", Args: []string{"-r", in("two_conns.pcap"), "tcp", "and", "dst", "port", "80"}},
		{Name: "filter_bad", Args: []string{"-r", in("two_conns.pcap"), "port"}},
		{Name: "filter_vlan", Args: []string{"-r", in("vlan.pcap"), "vlan", "and", "port", "80"}},
		{Name: "filter_no_vlan", Args: []string{"-r", in("vlan.pcap"), "port", "80"}},
	}
}

// linkCases: every link type 1.6.1 reads (reference §4.1).
func linkCases() []Case {
	return []Case{
		file("dlt_null_le", "dlt_null_le.pcap"),
		file("dlt_null_v6_linux10", "dlt_null_v6_linux10.pcap"),
		file("dlt_raw101", "dlt_raw101.pcap"),
		file("dlt_raw_v6", "dlt_raw_v6.pcap"),
		file("dlt_ppp", "dlt_ppp.pcap"),
		file("dlt_sll", "dlt_sll.pcap"),
		file("dlt_sll_v6", "dlt_sll_v6.pcap"),
		file("dlt_sll_mpls", "dlt_sll_mpls.pcap"),
	}
}

// differenceCases: DESIGN §4 — record 1.6.1 and check bpflow against an
// oracle-derived expectation of the correct behaviour.
func differenceCases() []Case {
	link := func(name, capture, alt string, fix ...Transform) Case {
		c := file(name, capture)
		c.Diff = &Difference{Design: "4.5 link types 1.6.1 refuses or misreads", AltArgs: []string{"-r", in(alt)}, Fix: fix}
		return c
	}
	remap := func(orig, alt string) Transform { return macRemap(corpus()[orig], corpus()[alt]) }
	padded := func(name, capture, alt string, opts ...string) Case {
		c := file(name, capture, opts...)
		c.Diff = &Difference{Design: "4.1 Ethernet padding is not data",
			AltArgs: append(slices.Clone(opts), "-r", in(alt)), Fix: []Transform{dropAttr("caplen")}}
		return c
	}
	cEthPadding := padded("c_eth_padding", "eth_padding.pcap", "alt_eth_padding_uncaptured.pcap", "-c")
	cEthPadding.Diff.Fix = []Transform{dropConsoleReport}
	jv6 := console("c_J_ipv6", "ipv6.pcap", "-c", "-J")
	jv6.Diff = &Difference{Design: "4.3 -J prints the real addresses", AltArgs: []string{"-c", "-J", "-r", in("alt_ipv6_as_ipv4.pcap")},
		Fix: []Transform{dropConsoleReport, replaceStdout("IPv4 stand-ins back to the IPv6 addresses",
			`"192.0.2.1"`, `"2001:db8::1"`, `"192.0.2.2"`, `"2001:db8:0:1::2"`)}}
	jT := console("c_J_T", "basic_http.pcap", "-c", "-J", "-T", "%a-%b")
	jT.Diff = &Difference{Design: "4.3 -J prints the real addresses", AltArgs: []string{"-c", "-J", "-r", in("basic_http.pcap")},
		Fix: []Transform{dropConsoleReport}}
	shortOff := file("tcp_short_dataofs", "tcp_short_dataofs.pcap")
	shortOff.Diff = &Difference{Design: "4.4 data offset below 5 is malformed", AltArgs: []string{"-r", in("alt_tcp_short_dataofs_dropped.pcap")}}
	plen := file("ipv6_plen_overrun", "ipv6_plen_overrun.pcap")
	plen.Diff = &Difference{Design: "4.4 IPv6 payload length clamped to the capture", AltArgs: []string{"-r", in("alt_ipv6_plen_fixed.pcap")}}
	ext := file("ipv6_exthdr", "ipv6_exthdr.pcap")
	ext.Diff = &Difference{Design: "4.5 IPv6 extension headers are walked", AltArgs: []string{"-r", in("ipv6.pcap")},
		Fix: []Transform{addLenPerPacket(8)}}
	extChain := file("ipv6_exthdr_chain", "ipv6_exthdr_chain.pcap")
	extChain.Diff = &Difference{Design: "4.5 IPv6 extension headers are walked", AltArgs: []string{"-r", in("ipv6.pcap")},
		Fix: []Transform{addLenPerPacket(24)}}
	// Later fragments are not TCP segments (as for IPv4, only the first
	// fragment's bytes are used); every counted packet has the 8-byte header.
	frag := file("ipv6_frag", "ipv6_frag.pcap")
	frag.Diff = &Difference{Design: "4.5 IPv6 extension headers are walked (first fragment only)",
		AltArgs: []string{"-r", in("alt_ipv6_frag_unfragmented.pcap")}, Fix: []Transform{addLenPerPacket(8)}}
	twoLinks := file("pcapng_two_links", "two_links.pcapng")
	twoLinks.Diff = &Difference{Design: "(not listed yet) pcapng interfaces with different link types are read",
		AltArgs: []string{"-r", in("alt_two_links_first.pcap"), "-r", in("alt_two_links_second.pcap")}}
	return []Case{
		twoLinks,
		padded("eth_padding", "eth_padding.pcap", "alt_eth_padding_uncaptured.pcap"),
		padded("eth_fcs_trailer", "eth_fcs_trailer.pcap", "alt_eth_fcs_trailer_uncaptured.pcap"),
		padded("ipv4_totlen_short", "ipv4_totlen_short.pcap", "alt_ipv4_totlen_short_uncaptured.pcap"),
		padded("eth_padding_ee", "eth_padding_ee.pcap", "alt_eth_padding_ee_uncaptured.pcap"),
		cEthPadding,
		jv6, jT, shortOff, plen, ext, extChain, frag,
		link("dlt_null_be", "dlt_null_be.pcap", "dlt_null_le.pcap", remap("dlt_null_be.pcap", "dlt_null_le.pcap")),
		link("dlt_null_v6_bsd24", "dlt_null_v6_bsd24.pcap", "dlt_null_v6_linux10.pcap", remap("dlt_null_v6_bsd24.pcap", "dlt_null_v6_linux10.pcap")),
		link("dlt_null_v6_bsd28", "dlt_null_v6_bsd28.pcap", "dlt_null_v6_linux10.pcap", remap("dlt_null_v6_bsd28.pcap", "dlt_null_v6_linux10.pcap")),
		link("dlt_null_v6_mac30", "dlt_null_v6_mac30.pcap", "dlt_null_v6_linux10.pcap", remap("dlt_null_v6_mac30.pcap", "dlt_null_v6_linux10.pcap")),
		link("dlt_loop", "dlt_loop.pcap", "dlt_null_le.pcap", remap("dlt_loop.pcap", "dlt_null_le.pcap")),
		link("dlt_ipv4_228", "dlt_ipv4_228.pcap", "dlt_raw101.pcap"),
		link("dlt_ipv6_229", "dlt_ipv6_229.pcap", "dlt_raw_v6.pcap"),
		link("dlt_sll2", "dlt_sll2.pcap", "dlt_sll.pcap", remap("dlt_sll2.pcap", "dlt_sll.pcap"), addLenPerPacket(4)),
		link("dlt_sll2_v6", "dlt_sll2_v6.pcap", "dlt_sll_v6.pcap", remap("dlt_sll2_v6.pcap", "dlt_sll_v6.pcap"), addLenPerPacket(4)),
	}
}

// hangCases: DESIGN §4.6 — what hangs in 1.6.1 must work in bpflow. There is
// no tcpflow output to derive an expectation from, so the check is a
// property of the input: the run ends, succeeds, and every payload of the
// capture is stored, each in a file of its own.
func hangCases() []Case {
	return []Case{{
		Name:      "Fc_third_reuse",
		Args:      []string{"-Fc", "-r", in("reuse_after_fin.pcap")},
		NoTcpflow: "1.6.1 loops forever looking for a free name on the third reuse of a 4-tuple with -Fc",
		Timeout:   15 * time.Second,
		Check:     storesEachPayloadOnce("reuse_after_fin.pcap"),
	}}
}

// storesEachPayloadOnce checks that a run exited 0 and that its flow files
// (every file but report.xml) hold exactly the payloads of the capture's
// segments, one per file (the capture must send each payload once).
func storesEachPayloadOnce(capture string) func(s *flowdiff.Snapshot) error {
	return func(s *flowdiff.Snapshot) error {
		if s.Exit != 0 {
			return fmt.Errorf("exit status %d, stderr %q", s.Exit, s.Stderr)
		}
		var want, got []string
		for _, p := range corpus()[capture].s.pkts {
			if len(p.data) > 0 {
				want = append(want, string(p.data))
			}
		}
		for _, e := range s.Entries {
			if e.Kind == flowdiff.KindFile && e.Path != "report.xml" {
				got = append(got, string(e.Data))
			}
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(want, got) {
			return fmt.Errorf("flow files hold %q, want the payloads %q", got, want)
		}
		return nil
	}
}
