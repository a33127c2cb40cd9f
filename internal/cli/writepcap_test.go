package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

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

// TestUnprocessedOutputErrors: where 1.6.1 aborts with -w (SIGABRT, DESIGN
// §4.6), bpflow ends with one line and status 1. An input that is no
// capture fails exactly as 1.6.1 fails on it without -w, and no -w file is
// left behind; an unwritable -w file gets perror's "name: reason" line.
func TestUnprocessedOutputErrors(t *testing.T) {
	dir := oracleDir(t) // "afile" is empty: no capture
	want := runTcpflow(t, dir, "-r", "afile")
	if want.Code == 0 {
		t.Fatalf("tcpflow accepts an empty file: %+v", want)
	}
	dir = oracleDir(t)
	got := runBpflow(t, dir, "-w", "out.pcap", "-r", "afile")
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("-w with no capture (-tcpflow without -w +bpflow):\n%s", d)
	}
	if _, err := os.Stat(filepath.Join(dir, "out.pcap")); !os.IsNotExist(err) {
		t.Errorf("out.pcap left behind (stat: %v)", err)
	}

	sample, err := filepath.Abs("../../testdata/sample/http.pcap")
	if err != nil {
		t.Fatal(err)
	}
	got = runBpflow(t, t.TempDir(), "-w", "nodir/out.pcap", "-r", sample)
	lines := strings.Split(strings.TrimSuffix(got.Stderr, "\n"), "\n")
	if got.Code != 1 || lines[len(lines)-1] != "tcpflow: nodir/out.pcap: No such file or directory" {
		t.Errorf("unwritable -w: exit %d, stderr %q", got.Code, got.Stderr)
	}
}
