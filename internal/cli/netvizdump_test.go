package cli

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// tcpflowTreeCounters are the lines of tcpflow's histogram dump that
// describe its address tree's internals, which bpflow does not have
// (README: -S netviz_histogram_dump).
var tcpflowTreeCounters = regexp.MustCompile(`(?m)^(nodes|cache_hits|cache_misses):.*\n`)

// TestNetvizHistogramDumpMatchesTcpflow: -S netviz_histogram_dump=1 prints
// each direction's address histogram as tcpflow 1.6.1 does, on real
// captures with IPv4, IPv6, link-local and unspecified addresses.
func TestNetvizHistogramDumpMatchesTcpflow(t *testing.T) {
	for _, in := range []string{"sample/http.pcap", "golden/real/mixed_v4v6.pcap", "golden/real/bulk_snap96.pcap",
		"golden/real/many_short.pcap", "golden/captures/non_tcp.pcap"} {
		t.Run(in, func(t *testing.T) {
			path, err := filepath.Abs(filepath.Join("../../testdata", in))
			if err != nil {
				t.Fatal(err)
			}
			args := []string{"-S", "netviz_histogram_dump=1", "-e", "netviz", "-r", path}
			want := runTcpflow(t, t.TempDir(), args...)
			got := runBpflow(t, t.TempDir(), args...)
			dump := want.Stdout[max(strings.Index(want.Stdout, "src_tree:"), 0):]
			dump = tcpflowTreeCounters.ReplaceAllString(dump, "")
			if got.Code != want.Code || got.Stdout != dump {
				t.Errorf("exit %d (tcpflow %d), dump:\n%s\ntcpflow's:\n%s", got.Code, want.Code, got.Stdout, dump)
			}
		})
	}
}
