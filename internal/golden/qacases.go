package golden

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/bpflow/bpflow/internal/golden/flowdiff"
)

// recorded is how a case names a capture of testdata/golden/real (real
// traffic recorded with tcpdump, see its README) on its command line.
func recorded(capture string) string { return "real/" + capture }

// realFile: a file-mode case reading one recorded capture, extra options first.
func realFile(name, capture string, opts ...string) Case {
	return reading(name, recorded(capture), opts...)
}

// realConsole: a -c/-C case on a recorded capture (DESIGN §4.2 as console).
func realConsole(name, capture string, opts ...string) Case {
	return asConsole(realFile(name, capture, opts...))
}

// realFilter: a file-mode case with a filter expression after the input.
func realFilter(name, capture string, expr ...string) Case {
	return Case{Name: name, Args: append([]string{"-r", recorded(capture)}, expr...)}
}

// realCases: real TCP traffic between two network namespaces — keep-alive
// HTTP, IPv4 and IPv6, bulk transfers at MTU 576 and snaplen 96, many short
// connections, resets, half and simultaneous closes, loss/duplication/
// reordering, cooked and loopback captures, nanosecond pcap and pcapng —
// under the options and filters users combine.
func realCases() []Case {
	return []Case{
		realFile("real_http_keepalive", "http_keepalive.pcap"),
		realFile("real_mixed_v4v6", "mixed_v4v6.pcap"),
		realFile("real_many_short", "many_short.pcap"),
		realFile("real_closes", "closes.pcap"),
		realFile("real_closes_pcapng", "closes.pcapng"),
		realFile("real_bulk_mtu576", "bulk_mtu576.pcap"),
		realFile("real_bulk_snap96", "bulk_snap96.pcap"),
		realFile("real_netem", "netem.pcap"),
		realFile("real_any_sll", "any_sll.pcap"),
		realFile("real_nano", "nano.pcap"),
		realFile("real_nano_pcapng", "nano.pcapng"),
		realFile("real_lo", "lo_ns.pcap"),
		{Name: "real_two_inputs", Args: []string{"-r", recorded("netem.pcap"), "-r", recorded("closes.pcapng")}},
		{Name: "real_R_finish", Args: []string{"-r", recorded("nano.pcapng"), "-R", recorded("netem.pcap")}},
		realConsole("real_c_mixed", "mixed_v4v6.pcap", "-c"),
		realConsole("real_c_netem", "netem.pcap", "-c"),
		realConsole("real_c_snap96", "bulk_snap96.pcap", "-c"),
		realConsole("real_c_any_sll", "any_sll.pcap", "-c"),
		realConsole("real_C_D_mixed", "mixed_v4v6.pcap", "-C", "-D"),
		realConsole("real_c_g_closes", "closes.pcap", "-c", "-g"),
		realConsole("real_c_J_http", "http_keepalive.pcap", "-c", "-J"),
		realConsole("real_c_b50_many", "many_short.pcap", "-c", "-b", "50"),
		realConsole("real_c_m100_bulk", "bulk_mtu576.pcap", "-c", "-m", "100"),
		realFile("real_b1000_bulk", "bulk_mtu576.pcap", "-b", "1000"),
		realFile("real_b100_netem", "netem.pcap", "-b", "100"),
		realFile("real_m1000_netem", "netem.pcap", "-m", "1000"),
		realFile("real_T_mixed", "mixed_v4v6.pcap", "-T", "%T-%A.%a-%B.%b-%N"),
		realFile("real_T_mac_closes", "closes.pcap", "-T", "%t_%S_%#_%E_%e"),
		realFile("real_Ftm_mixed", "mixed_v4v6.pcap", "-Ftm"),
		realFile("real_FT_o_closes", "closes.pcap", "-FT", "-o", "out"),
		realFile("real_Fk_many", "many_short.pcap", "-Fk"),
		realFile("real_f2_many", "many_short.pcap", "-f", "2"),
		realFile("real_timeout_many", "many_short.pcap", "-S", "tcp_timeout=1"),
		realFile("real_FX_netem", "netem.pcap", "-FX"),
		realFile("real_timeout_idle", "idle.pcap", "-S", "tcp_timeout=1"),
		realFile("real_timeout_idle_Fc", "idle.pcap", "-S", "tcp_timeout=1", "-Fc"),
		realConsole("real_c_timeout_idle", "idle.pcap", "-c", "-S", "tcp_timeout=1"),
		{Name: "real_timeout_idle_push", Args: []string{"-S", "tcp_timeout=1", "-r", recorded("idle.pcap"), "tcp[13] & 0x18 = 0x18"}},
		realFile("real_v_mixed", "mixed_v4v6.pcap", "-v"),
		realFile("real_w_closes", "closes.pcap", "-w", "unprocessed.pcap"),
		realFilter("real_filter_port80", "mixed_v4v6.pcap", "port", "80"),
		realFilter("real_filter_host_not_port", "mixed_v4v6.pcap", "host 10.99.0.2 and not port 8080"),
		realFilter("real_filter_syn", "closes.pcap", "tcp[13] & 2 != 0"),
		realFilter("real_filter_ip6", "mixed_v4v6.pcap", "ip6"),
		realFilter("real_filter_vlan", "mixed_v4v6.pcap", "vlan"),
		realFilter("real_filter_sll_port", "any_sll.pcap", "port", "443"),
		realFilter("real_filter_snap_payload", "bulk_snap96.pcap", "tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x48545450"),
		bodyTimes(realFile("real_e_http", "http_keepalive.pcap", "-e", "http")),
		realFile("real_e_md5_closes", "closes.pcap", "-e", "md5"),
		bodyTimes(realFile("real_e_http_d2", "http_keepalive.pcap", "-e", "http", "-d", "2")),
		realFile("real_reuse", "reuse.pcap"),
		realConsole("real_c_reuse", "reuse.pcap", "-c"),
		realFile("real_T_count_reuse", "reuse.pcap", "-T", "%A-%a-%#-%C%c"),
		realConsole("real_c_b3_reuse", "reuse.pcap", "-c", "-b", "3"),
		{Name: "real_r_R_reuse", Args: []string{"-r", recorded("reuse.pcap"), "-R", recorded("reuse.pcap")}},
		{
			Name:      "real_a_netviz",
			Args:      []string{"-a", "-r", recorded("http_keepalive.pcap")},
			NoTcpflow: "1.6.1 draws report.pdf with cairo; bpflow draws report.svg (README difference 10), so the case checks that -a writes one",
			Timeout:   30 * time.Second,
			Check:     writesSVG("report.svg"),
		},
	}
}

// hostileCases: damaged and odd inputs found by mutating the recorded
// captures, each reduced to a generated capture.
func hostileCases() []Case {
	return []Case{
		file("eth_runt", "eth_runt.pcap"),
		console("c_eth_runt", "eth_runt.pcap", "-c"),
		file("gz_truncated", "truncated.pcap.gz"),
		file("gz_not_gzip", "not_gzip.pcap.gz"),
		// Flows still open when a later input cannot be opened: 1.6.1
		// writes their data out as it exits.
		{Name: "open_flow_then_missing", Args: []string{"-r", in("hole.pcap"), "-r", in("does_not_exist.pcap")}},
		file("pcapng_simple_tsoffset", "basic_http_simple.pcapng"),
		file("T_trailing_slash", "basic_http.pcap", "-T", "%A/%a/%c"),
		file("v_E_md5", "basic_http.pcap", "-v", "-E", "md5"),
		file("d6_snaplen", "snaplen.pcap", "-d", "6"),
		{Name: "h_after_T", Args: []string{"-h", "-T", "%A-%B"}},
		file("I_v", "basic_http.pcap", "-I", "-v"),
		{Name: "d20_filter", Args: []string{"-d", "20", "-r", in("two_conns.pcap"), "port", "80"}},
		file("e_md5_f1_d2", "many_flows.pcap", "-e", "md5", "-f", "1", "-d", "2"),
		twoSnaplens(),
		file("dlt_14", "dlt_14.pcap"),
		file("dlt_100", "dlt_100.pcap"),
		file("dlt_102", "dlt_102.pcap"),
		file("dlt_106", "dlt_106.pcap"),
		farFuture(),
		file("w_unprocessed", "non_tcp.pcap", "-w", "out.pcap"),
		writeAfter("w_after_gz", "non_tcp.pcap.gz"),
		writeAfter("w_after_pcapng", "non_tcp.pcapng"),
	}
}

// filterCases: expressions libpcap accepts that bpflow refuses (beyond the
// protochain/geneve/llc/atalk/ipx/decnet refusals the README lists), and
// libpcap's own diagnostics for expressions it refuses on Ethernet.
func filterCases() []Case {
	f := func(name string, expr ...string) Case {
		return Case{Name: name, Args: append([]string{"-r", in("two_conns.pcap")}, expr...)}
	}
	return []Case{
		f("filter_iso", "not isis and not clnp and not esis"),
		f("filter_bogus_mac", "ether src 02:00:00:00:00"),
		f("filter_80211_on_eth", "type mgt"),
		f("filter_atm_on_eth", "vpi 1"),
		f("filter_ss7_on_eth", "sio 1"),
		f("filter_load_size", "ether[6:6] = 1"),
		f("filter_radio_on_eth", "radio"),
	}
}

// twoSnaplens: README difference 5 — a pcapng file whose interfaces differ
// in snaplen is read; the expectation is 1.6.1 on the same packets in a
// pcapng file with the first interface only.
func twoSnaplens() Case {
	c := file("pcapng_two_snaplens", "two_snaplens.pcapng")
	c.Diff = &Difference{Design: "5 (README) pcapng interfaces that differ in snaplen are read", AltArgs: []string{"-r", in("basic_http.pcapng")}}
	return c
}

// writeAfter: -w with an input 1.6.1 cannot -w after (it aborts with
// pcap_writer::write_error); bpflow writes what 1.6.1 writes for the same
// packets read from a plain pcap.
func writeAfter(name, capture string) Case {
	c := file(name, capture, "-w", "out.pcap")
	c.Diff = &Difference{Design: "4.6 -w after pcapng (or compressed) input works", AltArgs: []string{"-w", "out.pcap", "-r", in("non_tcp.pcap")}}
	return c
}

// writesSVG checks that a run exited 0 and left an SVG document at path.
func writesSVG(path string) func(s *flowdiff.Snapshot) error {
	return func(s *flowdiff.Snapshot) error {
		if s.Exit != 0 {
			return fmt.Errorf("exit status %d, stderr %q", s.Exit, s.Stderr)
		}
		e := s.Entry(path)
		if e == nil {
			return fmt.Errorf("no %s among the output files", path)
		}
		if !bytes.Contains(e.Data[:min(len(e.Data), 200)], []byte("<svg ")) || !bytes.HasSuffix(bytes.TrimSpace(e.Data), []byte("</svg>")) {
			return fmt.Errorf("%s is not a whole SVG document: %q…", path, e.Data[:min(len(e.Data), 40)])
		}
		return nil
	}
}

// farFuture: pcapng times in 2320. 1.6.1 names the flows after them; bpflow's
// Frame.TS (int64 ns) ends in 2262, so bpflow refuses the packet with a read
// error (exit 1, nothing stored) instead of wrapping to a wrong date — README
// difference 13. tcpflow's output is still recorded; Check states bpflow's.
func farFuture() Case {
	c := file("pcapng_far_future", "basic_http_far.pcapng", "-T", "%T-%A")
	c.Check = func(s *flowdiff.Snapshot) error {
		if s.Exit != 1 || !strings.Contains(string(s.Stderr), "beyond 2262-04-11") {
			return fmt.Errorf("exit %d, stderr %q: want exit 1 and the time-range error", s.Exit, s.Stderr)
		}
		for _, e := range s.Entries {
			if e.Kind == flowdiff.KindFile && e.Path != "report.xml" && !strings.HasPrefix(e.Path, "in/") {
				return fmt.Errorf("stored %s although every packet is out of range", e.Path)
			}
		}
		return nil
	}
	return c
}
