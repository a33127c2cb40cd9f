package layers_test

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/bpflow/bpflow/internal/layers"
	"github.com/bpflow/bpflow/internal/testutil"
)

// handlerLine is tcpflow's -d 3 trace naming the DLT libpcap reported.
var handlerLine = regexp.MustCompile(`looking for handler for datalink type (\d+) `)

// tcpflowDLT is the DLT tcpflow 1.6.1 (through libpcap) reports for an empty
// pcap file whose header says lt.
func tcpflowDLT(t *testing.T, lt layers.LinkType) int {
	t.Helper()
	dir := t.TempDir()
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], uint32(lt))
	path := filepath.Join(dir, "in.pcap")
	if err := os.WriteFile(path, hdr, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("tcpflow", "-d", "3", "-r", path)
	cmd.Dir = dir // tcpflow writes report.xml into its directory
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	_ = cmd.Run() // unknown link types end with status 1; the trace comes first
	m := handlerLine.FindSubmatch(stderr.Bytes())
	if m == nil {
		t.Fatalf("tcpflow -d 3 on link type %d printed no handler line:\n%s", lt, stderr.String())
	}
	dlt, err := strconv.Atoi(string(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	return dlt
}

// The DLT numbers tcpflow's messages print are libpcap's, mapped from the
// file's LINKTYPE; checked on every link type up to the matching range, the
// decoded ones, and a few beyond.
func TestDLTAsLibpcap(t *testing.T) {
	testutil.RequireTool(t, "tcpflow")
	var lts []layers.LinkType
	for lt := range layers.LinkType(123) {
		lts = append(lts, lt)
	}
	lts = append(lts, 127, 147, 228, 229, 246, 258, 276, 289, 290)
	for _, lt := range lts {
		if got, want := lt.DLT(), tcpflowDLT(t, lt); got != want {
			t.Errorf("link type %d: DLT %d, libpcap %d", lt, got, want)
		}
	}
}
