package pcapfile_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/bpflow/bpflow/internal/pcapfile"
	"github.com/bpflow/bpflow/internal/testutil"
)

// seen is one record as a reader delivered it.
type seen struct {
	TS      string // sec.nanoseconds
	WireLen string
	Data    string // hex of the captured bytes
}

// etherLength is the frame length tcpdump -e prints for Ethernet: the
// record's length on the wire.
var etherLength = regexp.MustCompile(`, length (\d+):`)

func fmtTS(ns int64) string { return fmt.Sprintf("%d.%09d", ns/1e9, ns%1e9) }

// tcpdumpRecords is what libpcap (through tcpdump) reads from path: every
// record's timestamp at ns precision and its captured bytes.
func tcpdumpRecords(t *testing.T, path string) []seen {
	t.Helper()
	testutil.RequireTool(t, "tcpdump")
	cmd := exec.Command("tcpdump", "-r", path, "-tt", "-nn", "-q", "-e", "-xx", "--time-stamp-precision=nano")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tcpdump -r %s: %v\n%s", path, err, stderr.String())
	}
	var recs []seen
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, "\t0x"):
			_, hexPart, _ := strings.Cut(line, ":  ")
			recs[len(recs)-1].Data += strings.ReplaceAll(strings.TrimSpace(hexPart), " ", "")
		case line != "":
			ts, _, _ := strings.Cut(line, " ")
			var wire string
			if m := etherLength.FindStringSubmatch(line); m != nil {
				wire = m[1]
			}
			recs = append(recs, seen{TS: ts, WireLen: wire})
		}
	}
	return recs
}

// ourRecords reads path with Open and returns the records and the error that
// ended the read (nil at a clean end).
func ourRecords(t *testing.T, path string) ([]seen, error) {
	t.Helper()
	rd, err := pcapfile.Open(path)
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	var recs []seen
	for {
		f, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return recs, nil
		}
		if err != nil {
			return recs, err
		}
		recs = append(recs, seen{TS: fmtTS(f.TS), WireLen: strconv.Itoa(int(f.WireLen)), Data: hex.EncodeToString(f.Data)})
	}
}

func diffRecords(t *testing.T, got, want []seen) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("read %d records, libpcap read %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("record %d:\n got  %+v\n want %+v", i, got[i], want[i])
		}
	}
}

// tcpflowError runs tcpflow -r path -c and returns its stderr message about
// the input with the "tcpflow: " and "<path>: " prefixes removed, and how
// many records it printed before it.
func tcpflowError(t *testing.T, path string) (msg string, printed int) {
	t.Helper()
	testutil.RequireTool(t, "tcpflow")
	cmd := exec.Command("tcpflow", "-r", path, "-c")
	cmd.Dir = t.TempDir() // tcpflow writes report.xml into its directory
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err == nil {
		t.Fatalf("tcpflow accepted %s; stderr: %s", path, stderr.String())
	}
	for _, line := range strings.Split(stderr.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, "tcpflow: "); ok {
			msg = strings.TrimPrefix(rest, path+": ")
		}
	}
	printed = strings.Count(stdout.String(), "\n")
	return msg, printed
}
