package cli

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/bpflow/bpflow/internal/testutil"
)

// TestWritePcapMatchesTcpdump holds --write-pcap to the promise:
// `bpflow -FX -S enable_report=NO -r in --write-pcap - -- EXPR` writes the
// bytes `tcpdump -r in -w - EXPR` writes, including when nothing matches.
func TestWritePcapMatchesTcpdump(t *testing.T) {
	testutil.RequireTool(t, "tcpdump")
	inputs := []string{"../../testdata/sample/http.pcap", "../../testdata/filter/ethernet.pcap",
		"../../testdata/filter/raw.pcap", "../../testdata/filter/sll.pcap", "../../testdata/filter/snaplen64.pcap"}
	exprs := []string{"", "tcp[13] & 2 != 0", "port 80 or port 8765", "ip6", "port 1", "vlan", "less 80"}
	for _, in := range inputs {
		in, err := filepath.Abs(in)
		if err != nil {
			t.Fatal(err)
		}
		for _, expr := range exprs {
			t.Run(filepath.Base(in)+"/"+expr, func(t *testing.T) {
				want, err := exec.Command("tcpdump", "-r", in, "-w", "-", expr).Output()
				got := runBpflow(t, t.TempDir(), "-FX", "-S", "enable_report=NO", "-r", in, "--write-pcap", "-", "--", expr)
				if err != nil { // libpcap refuses the expression here (vlan on raw IP …)
					if got.Code != 1 {
						t.Fatalf("tcpdump refuses %q (%v); bpflow exits %d", expr, err, got.Code)
					}
					return
				}
				if got.Code != 0 {
					t.Fatalf("exit %d: %s", got.Code, got.Stderr)
				}
				if !bytes.Equal([]byte(got.Stdout), want) {
					t.Errorf("--write-pcap wrote %d bytes, tcpdump -w %d; they differ", len(got.Stdout), len(want))
				}
			})
		}
	}
}
