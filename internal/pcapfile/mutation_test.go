package pcapfile_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/bpflow/bpflow/internal/layers"
	"github.com/bpflow/bpflow/internal/pcapfile"
	"github.com/bpflow/bpflow/internal/testutil"
)

// libpcapView runs tcpdump over path: the timestamp of every record libpcap
// delivered, and libpcap's error (empty at a clean end).
func libpcapView(t *testing.T, path string) (stamps []string, msg string) {
	t.Helper()
	cmd := exec.Command("tcpdump", "-r", path, "-tt", "-nn", "-q", "--time-stamp-precision=nano")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	_ = cmd.Run() // a non-zero exit is what the error line says
	for _, line := range strings.Split(stdout.String(), "\n") {
		if ts, _, ok := strings.Cut(line, " "); ok {
			stamps = append(stamps, ts)
		}
	}
	for _, line := range strings.Split(stderr.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, "tcpdump: "); ok {
			msg = strings.TrimPrefix(rest, "pcap_loop: ")
		}
	}
	return stamps, msg
}

var digits = regexp.MustCompile(`\d+`)

var validStamp = regexp.MustCompile(`^\d+\.\d{9}$`)

// Where bpflow reads on and libpcap 1.10 stops on purpose, or tcpdump (not
// libpcap) refuses the file.
var deliberate = []string{
	"an interface has a type",
	"an interface has a snapshot length",
	"the file has sections with different byte orders",
	"unknown data link type",
	"packet printing is not supported",
}

// Damaged captures (random bytes overwritten, random cuts) are read record for
// record as libpcap reads them, ending with libpcap's error text.
func TestDamagedFilesAsLibpcap(t *testing.T) {
	testutil.RequireTool(t, "tcpdump")
	frames := testFrames()
	bases := map[string][]byte{
		"pcap":    classic(t, pcapfile.WriterConfig{LinkType: layers.LinkEthernet, Snaplen: 65535}, frames),
		"pcap-be": classic(t, pcapfile.WriterConfig{LinkType: layers.LinkEthernet, Snaplen: 1000, BigEndian: true, Nanosecond: true}, frames),
		"pcapng":  ngFile(t, false, []uint8{9, 6}, 3, true, frames),
	}
	rng := rand.New(rand.NewPCG(2, 3))
	compared := 0
	kinds := map[string]int{} // libpcap's messages, numbers blanked, for -v
	for _, name := range []string{"pcap", "pcap-be", "pcapng"} {
		base := bases[name]
		for i := range 60 {
			data := bytes.Clone(base)
			if i%3 == 0 {
				data = data[:rng.IntN(len(data))]
			} else {
				for range 1 + rng.IntN(3) {
					// Headers live in the first bytes of records: aim there.
					off := rng.IntN(len(data))
					if rng.IntN(2) == 0 {
						off = rng.IntN(min(len(data), 120))
					}
					data[off] = byte(rng.IntN(256))
				}
			}
			path := writeFile(t, fmt.Sprintf("%s-%d.cap", name, i), data)
			stamps, msg := libpcapView(t, path)
			skip := false
			for _, d := range deliberate {
				skip = skip || strings.Contains(msg, d)
			}
			if skip {
				continue
			}
			compared++
			kinds[digits.ReplaceAllString(msg, "N")]++
			recs, err := ourRecords(t, path)
			got := ""
			if err != nil {
				got = strings.TrimPrefix(err.Error(), path+": ")
			}
			if strings.Contains(got, "beyond 2262-04-11") {
				// A damaged if_tsresol or timestamp past Frame.TS's
				// range: refused on purpose (TestFarFutureTimeIsRefused).
				compared--
				continue
			}
			if got != msg {
				t.Errorf("%s #%d: error %q, libpcap %q", name, i, got, msg)
			}
			if len(recs) != len(stamps) {
				t.Errorf("%s #%d: %d records, libpcap %d", name, i, len(recs), len(stamps))
				continue
			}
			for k, r := range recs {
				// A damaged fraction (≥ 1 s, or a timestamp beyond time_t)
				// has no ns equivalent; tcpdump prints it raw or "[Invalid".
				if validStamp.MatchString(stamps[k]) && r.TS != stamps[k] {
					t.Errorf("%s #%d: record %d at %s, libpcap %s", name, i, k, r.TS, stamps[k])
				}
			}
		}
	}
	t.Logf("compared %d files; libpcap's endings: %v", compared, kinds)
	if compared < 150 {
		t.Errorf("only %d of 180 damaged files compared", compared)
	}
}
