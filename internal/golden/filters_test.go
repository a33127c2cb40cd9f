package golden

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/bpflow/bpflow/internal/filter"
	"github.com/bpflow/bpflow/internal/layers"
	"github.com/bpflow/bpflow/internal/pcapfile"
	"github.com/bpflow/bpflow/internal/testutil"
)

// The recorded-traffic filter corpus: every expression of filters.txt on
// each of these recorded captures, answered by tcpdump into filters.tsv.
var (
	filterCaptures = []string{"mixed_v4v6.pcap", "closes.pcap", "any_sll.pcap", "bulk_snap96.pcap"}
	realDir        = realDirOf(captureDir)
)

// TestRecordedFilters checks bpflow's filter compiler and interpreter
// against libpcap on real traffic: for every expression and capture the
// same packets match, or the same error is given. The answers were recorded
// from tcpdump 4.99.3 / libpcap 1.10.3 (go test -run TestRecordedFilters
// -record); expressions in filterPending are known mismatches.
func TestRecordedFilters(t *testing.T) {
	exprs := testutil.ReadList(t, filepath.Join(realDir, "filters.txt"))
	if *record {
		recordFilterAnswers(t, exprs)
	}
	want := loadFilterAnswers(t)
	for _, capture := range filterCaptures {
		frames, link := readFrames(t, filepath.Join(realDir, capture))
		for _, expr := range exprs {
			w, ok := want[capture+"\t"+expr]
			if !ok {
				t.Errorf("%s: no recorded answer for %q (run with -record)", capture, expr)
				continue
			}
			got := bpflowAnswer(expr, link, frames)
			reason, pend := filterPending[expr]
			switch {
			case got == w && pend:
				t.Errorf("%s %q matches libpcap now: remove it from filterPending", capture, expr)
			case got != w && !pend:
				t.Errorf("%s %q: libpcap %s, bpflow %s", capture, expr, w, got)
			case got != w:
				t.Logf("PENDING (%s): %s %q: libpcap %s, bpflow %s", reason, capture, expr, w, got)
			}
		}
	}
}

// bpflowAnswer is "match: i,j,…" (0-based) or "error: MSG" for expr.
func bpflowAnswer(expr string, link layers.LinkType, frames []layers.Frame) string {
	prog, err := filter.Compile(expr, link)
	if err != nil {
		return "error: " + err.Error()
	}
	var idx []int
	for i, f := range frames {
		if prog.Match(f.Data, f.WireLen) {
			idx = append(idx, i)
		}
	}
	return formatIndices(idx)
}

func formatIndices(idx []int) string {
	parts := make([]string, len(idx))
	for i, v := range idx {
		parts[i] = strconv.Itoa(v)
	}
	return "match: " + strings.Join(parts, ",")
}

// readFrames reads every frame of a capture (copies: the reader reuses its buffer).
func readFrames(t *testing.T, path string) ([]layers.Frame, layers.LinkType) {
	t.Helper()
	frames, link, err := readAll(path)
	if err != nil {
		t.Fatal(err)
	}
	return frames, link
}

func readAll(path string) ([]layers.Frame, layers.LinkType, error) {
	rd, err := pcapfile.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("open %s: %w", path, err)
	}
	defer rd.Close()
	var frames []layers.Frame
	for {
		f, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return frames, rd.LinkType(), nil
		}
		if err != nil {
			return nil, 0, fmt.Errorf("read %s: %w", path, err)
		}
		c := *f
		c.Data = bytes.Clone(f.Data)
		frames = append(frames, c)
	}
}

func loadFilterAnswers(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(realDir, "filters.tsv"))
	if err != nil {
		t.Fatalf("tcpdump's answers (record with: go test ./internal/golden -run TestRecordedFilters -record): %v", err)
	}
	defer f.Close()
	want := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), "\t", 3)
		if len(parts) != 3 {
			t.Fatalf("filters.tsv: bad line %q", sc.Text())
		}
		want[parts[0]+"\t"+parts[1]] = parts[2]
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return want
}

// recordFilterAnswers asks tcpdump for every pair and rewrites filters.tsv.
func recordFilterAnswers(t *testing.T, exprs []string) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Fatalf("-record needs tcpdump: %v", err)
	}
	var out bytes.Buffer
	for _, capture := range filterCaptures {
		path := filepath.Join(realDir, capture)
		frames, _ := readFrames(t, path)
		for _, expr := range exprs {
			a, err := tcpdumpFilterAnswer(path, expr, frames)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&out, "%s\t%s\t%s\n", capture, expr, a)
		}
	}
	if err := os.WriteFile(filepath.Join(realDir, "filters.tsv"), out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// tcpdumpFilterAnswer runs `tcpdump -r PATH -w - -- EXPR` and finds the
// packets it wrote among the capture's frames, in order.
func tcpdumpFilterAnswer(path, expr string, frames []layers.Frame) (string, error) {
	cmd := exec.Command("tcpdump", "-r", path, "-w", "-", "--", expr)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		for _, line := range strings.Split(stderr.String(), "\n") {
			if msg, ok := strings.CutPrefix(line, "tcpdump: "); ok {
				return "error: " + msg, nil
			}
		}
		return "", fmt.Errorf("tcpdump -r %s %q: %w: %s", path, expr, err, stderr.String())
	}
	tmp, err := os.CreateTemp("", "filter-answer-*.pcap")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(stdout.Bytes()); err != nil {
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	matched, _, err := readAll(tmp.Name())
	if err != nil {
		return "", fmt.Errorf("tcpdump's output for %q: %w", expr, err)
	}
	var idx []int
	j := 0
	for i, f := range frames {
		if j < len(matched) && sameFrame(f, matched[j]) {
			idx = append(idx, i)
			j++
		}
	}
	if j != len(matched) {
		return "", fmt.Errorf("%s %q: %d of tcpdump's %d packets not found in the capture", path, expr, len(matched)-j, len(matched))
	}
	return formatIndices(idx), nil
}

// sameFrame: tcpdump -w keeps time (µs), wire length and bytes.
func sameFrame(a, b layers.Frame) bool {
	return a.TS/1000 == b.TS/1000 && a.WireLen == b.WireLen && bytes.Equal(a.Data, b.Data)
}

// filterPending: expressions where bpflow is known to differ from libpcap
// on these captures, with the reason.
var filterPending = map[string]string{
	"ip6 protochain 6":   "README: protochain is refused (libpcap accepts it)",
	"ip6 protochain 300": "README: protochain is refused (libpcap accepts it)",
	"ip protochain 6":    "README: protochain is refused (libpcap accepts it)",
	"geneve":             "README: geneve is refused (libpcap accepts it)",
	"ip and geneve":      "README: geneve is refused (libpcap accepts it)",
	"atalk":              "README: atalk/ipx forms are refused (libpcap accepts them)",
	"ipx":                "README: atalk/ipx forms are refused (libpcap accepts them)",
	"aarp":               "README: atalk/ipx forms are refused (libpcap accepts them)",
	"decnet host 1.2":    "README: decnet forms are refused (libpcap accepts them; bpflow says 'decnet' modifier applied to host)",
	"decnet src 10.20":   "README: decnet forms are refused (libpcap accepts them; bpflow says 'decnet' modifier applied to host)",
	"decnet dst 1.1":     "README: decnet forms are refused (libpcap accepts them; bpflow says 'decnet' modifier applied to host)",
}
