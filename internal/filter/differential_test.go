package filter

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/bpf"

	"github.com/bpflow/bpflow/internal/layers"
	"github.com/bpflow/bpflow/internal/pcapfile"
	"github.com/bpflow/bpflow/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite testdata/filter (corpus pcaps and tcpdump's answers)")

const testdataDir = "../../testdata/filter"

// writePcap writes frames as a classic pcap; packet i has timestamp i+1
// seconds, which is how tcpdump's output is mapped back.
func writePcap(path string, link layers.LinkType, frames []frame) error {
	var b bytes.Buffer
	w, err := pcapfile.NewWriter(&b, link, 262144)
	if err != nil {
		return err
	}
	for i, f := range frames {
		if err := w.WritePacket(int64(i+1)*1e9, f.wireLen, f.data); err != nil {
			return err
		}
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// readPcap reads a capture written by writePcap or tcpdump: its link type,
// frames and whole-second timestamps.
func readPcap(data []byte) (layers.LinkType, []frame, []uint32, error) {
	rd, err := pcapfile.NewReader(bytes.NewReader(data))
	if err != nil {
		return 0, nil, nil, err
	}
	var frames []frame
	var secs []uint32
	for {
		f, err := rd.Next()
		if err == io.EOF {
			return rd.LinkType(), frames, secs, nil
		}
		if err != nil {
			return 0, nil, nil, err
		}
		// Next reuses its buffer: keep a copy.
		frames = append(frames, frame{data: bytes.Clone(f.Data), wireLen: f.WireLen})
		secs = append(secs, uint32(f.TS/1e9))
	}
}

func readExpressions(t testing.TB) []string {
	return testutil.ReadList(t, filepath.Join(testdataDir, "expressions.txt"))
}

// tcpdumpAnswer runs the oracle: "error: MSG" or "match: i,j,…" (0-based).
func tcpdumpAnswer(pcapPath, expr string) (string, error) {
	cmd := exec.Command("tcpdump", "-r", pcapPath, "-w", "-", "--", expr)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		for _, line := range strings.Split(stderr.String(), "\n") {
			if msg, ok := strings.CutPrefix(line, "tcpdump: "); ok {
				return "error: " + msg, nil
			}
		}
		return "", fmt.Errorf("tcpdump -r %s %q: %w: %s", pcapPath, expr, err, stderr.String())
	}
	_, _, secs, err := readPcap(stdout.Bytes())
	if err != nil {
		return "", fmt.Errorf("read tcpdump output for %q: %w", expr, err)
	}
	idx := make([]int, len(secs))
	for i, s := range secs {
		idx[i] = int(s) - 1
	}
	return formatMatches(idx), nil
}

func formatMatches(idx []int) string {
	parts := make([]string, len(idx))
	for i, v := range idx {
		parts[i] = strconv.Itoa(v)
	}
	return "match: " + strings.Join(parts, ",")
}

type answerKey struct{ file, expr string }

func loadExpected(t testing.TB) map[answerKey]string {
	f, err := os.Open(filepath.Join(testdataDir, "expected.tsv"))
	if err != nil {
		t.Fatalf("load tcpdump's answers (run go test -run TestDifferential -update): %v", err)
	}
	defer f.Close()
	want := map[answerKey]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), "\t", 3)
		if len(parts) == 3 {
			want[answerKey{parts[0], parts[1]}] = parts[2]
		}
	}
	return want
}

type loadedFile struct {
	corpusFile
	path string
}

func loadCorpus(t testing.TB) []loadedFile {
	var out []loadedFile
	for _, cf := range corpus() {
		path := filepath.Join(testdataDir, cf.name+".pcap")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		link, frames, _, err := readPcap(data)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		cf.link, cf.frames = link, frames
		out = append(out, loadedFile{cf, path})
	}
	return out
}

// regenerate writes the corpus pcaps and records tcpdump's answers.
func regenerate(t *testing.T) {
	exprs := readExpressions(t)
	var lines []string
	for _, cf := range corpus() {
		path := filepath.Join(testdataDir, cf.name+".pcap")
		if err := writePcap(path, cf.link, cf.frames); err != nil {
			t.Fatal(err)
		}
		for _, e := range exprs {
			ans, err := tcpdumpAnswer(path, e)
			if err != nil {
				t.Fatal(err)
			}
			lines = append(lines, cf.name+"\t"+e+"\t"+ans)
		}
	}
	sort.Strings(lines)
	if err := os.WriteFile(filepath.Join(testdataDir, "expected.tsv"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// ourAnswer compiles expr and runs match on every frame.
func ourAnswer(expr string, cf loadedFile, match func(*Program, frame) (bool, error)) (string, error) {
	p, err := Compile(expr, cf.link)
	if err != nil {
		return "error: " + err.Error(), nil
	}
	var idx []int
	for i, f := range cf.frames {
		ok, err := match(p, f)
		if err != nil {
			return "", err
		}
		if ok {
			idx = append(idx, i)
		}
	}
	return formatMatches(idx), nil
}

// TestDifferential compares the interpreter and the cBPF program (in
// golang.org/x/net/bpf's VM) with tcpdump's recorded answers.
func TestDifferential(t *testing.T) {
	if *update {
		regenerate(t)
	}
	want := loadExpected(t)
	exprs := readExpressions(t)
	agree, total, vmAgree, vmTotal := 0, 0, 0, 0
	pendingDiffers := map[string]bool{}
	for _, cf := range loadCorpus(t) {
		for _, e := range exprs {
			w, ok := want[answerKey{cf.name, e}]
			if !ok {
				t.Fatalf("no recorded answer for %s %q (run with -update)", cf.name, e)
			}
			got, _ := ourAnswer(e, cf, func(p *Program, f frame) (bool, error) { return p.Match(f.data, f.wireLen), nil })
			if _, pending := differentialPending[e]; pending {
				pendingDiffers[e] = pendingDiffers[e] || got != w
				continue
			}
			total++
			if got != w {
				t.Errorf("%s: %q: interpreter %s, tcpdump %s", cf.name, e, got, w)
			} else {
				agree++
			}
			if strings.HasPrefix(w, "error") {
				continue
			}
			vm, vw, err := vmAnswer(e, cf, w)
			if err != nil {
				t.Errorf("%s: %q: %v", cf.name, e, err)
				continue
			}
			vmTotal++
			if vm != vw {
				t.Errorf("%s: %q: x/net/bpf VM %s, tcpdump %s (frames with caplen == wirelen)", cf.name, e, vm, vw)
			} else {
				vmAgree++
			}
		}
	}
	for e, differs := range pendingDiffers {
		if !differs {
			t.Errorf("%q agrees with tcpdump on every file now: remove it from differentialPending", e)
		}
	}
	t.Logf("interpreter agrees with tcpdump on %d/%d (file, expression) pairs; x/net/bpf VM on %d/%d; %d known differences skipped",
		agree, total, vmAgree, vmTotal, len(pendingDiffers))
}

// differentialPending: corpus expressions where bpflow is known to differ
// from libpcap, with the reason. Both differential tests skip them; the
// interpreter's test fails once one agrees everywhere.
var differentialPending = map[string]string{
	"ip6 protochain 6":               "README: protochain is refused (libpcap accepts it)",
	"ip6 protochain 300":             "README: protochain is refused (libpcap accepts it)",
	"ip protochain 6":                "README: protochain is refused (libpcap accepts it)",
	"geneve":                         "README: geneve is refused (libpcap accepts it)",
	"ip and geneve":                  "README: geneve is refused (libpcap accepts it)",
	"atalk":                          "README: atalk/ipx forms are refused (libpcap accepts them)",
	"ipx":                            "README: atalk/ipx forms are refused (libpcap accepts them)",
	"aarp":                           "README: atalk/ipx forms are refused (libpcap accepts them)",
	"decnet host 1.2":                "README: decnet forms are refused (libpcap accepts them)",
	"decnet src 10.20":               "README: decnet forms are refused (libpcap accepts them)",
	"decnet dst 1.1":                 "README: decnet forms are refused (libpcap accepts them)",
	"tcp[-1] = 0":                    "libpcap's optimizer folds the index into the load (ldb [x + 0xffffffff] on raw IP), which bpf_filter's bounds check rejects; bpflow keeps the arithmetic, which wraps",
	"ip6[6] = 6 and tcp[100] = 0":    "libpcap's optimizer proves the filter rejects all packets on some link types; bpflow's does not",
	"dst fd99::1 and tcp[13] = 0x18": "libpcap's optimizer proves the filter rejects all packets on some link types; bpflow's does not",
}

// vmAnswer runs the cBPF program in x/net/bpf's VM over the frames whose
// captured length equals the wire length (the VM's len is the captured length).
func vmAnswer(expr string, cf loadedFile, want string) (string, string, error) {
	p, err := Compile(expr, cf.link)
	if err != nil {
		return "", "", err
	}
	insns, err := p.CBPF()
	if err != nil {
		return "", "", err
	}
	vm, err := bpf.NewVM(insns)
	if err != nil {
		return "", "", fmt.Errorf("x/net/bpf refuses the program: %w", err)
	}
	wantSet := map[int]bool{}
	if list := strings.TrimPrefix(want, "match: "); list != "" {
		for _, s := range strings.Split(list, ",") {
			v, _ := strconv.Atoi(s)
			wantSet[v] = true
		}
	}
	var got, exp []int
	for i, f := range cf.frames {
		if uint32(len(f.data)) != f.wireLen {
			continue
		}
		n, err := vm.Run(f.data)
		if err != nil {
			return "", "", fmt.Errorf("x/net/bpf VM on frame %d: %w", i, err)
		}
		if n != 0 {
			got = append(got, i)
		}
		if wantSet[i] {
			exp = append(exp, i)
		}
	}
	return formatMatches(got), formatMatches(exp), nil
}

// TestOracleDrift re-derives tcpdump's answers where tcpdump is installed, so
// the committed expected.tsv cannot silently stop being libpcap's output.
func TestOracleDrift(t *testing.T) {
	requireTcpdump(t)
	want := loadExpected(t)
	exprs := readExpressions(t)
	for _, cf := range loadCorpus(t) {
		for _, e := range exprs {
			got, err := tcpdumpAnswer(cf.path, e)
			if err != nil {
				t.Fatal(err)
			}
			if w := want[answerKey{cf.name, e}]; got != w {
				t.Errorf("%s: %q: tcpdump now says %s, expected.tsv has %s", cf.name, e, got, w)
			}
		}
	}
}

// TestCorpusUpToDate checks the committed pcaps are what corpus() builds.
func TestCorpusUpToDate(t *testing.T) {
	for _, cf := range corpus() {
		tmp := filepath.Join(t.TempDir(), cf.name+".pcap")
		if err := writePcap(tmp, cf.link, cf.frames); err != nil {
			t.Fatal(err)
		}
		a, _ := os.ReadFile(tmp)
		b, err := os.ReadFile(filepath.Join(testdataDir, cf.name+".pcap"))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s.pcap is stale or missing (run go test -run TestDifferential -update): %v", cf.name, err)
		}
	}
}

// requireTcpdump skips without tcpdump, unless BPFLOW_REQUIRE_TCPDUMP=1.
func requireTcpdump(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("tcpdump"); err != nil {
		if os.Getenv("BPFLOW_REQUIRE_TCPDUMP") == "1" {
			t.Fatalf("tcpdump is required (BPFLOW_REQUIRE_TCPDUMP=1): %v", err)
		}
		t.Skipf("tcpdump not installed: %v", err)
	}
	if testing.Short() {
		t.Skip("runs tcpdump once per (file, expression); skipped with -short")
	}
}
