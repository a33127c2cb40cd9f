package ebpf

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpflow/bpflow/internal/testutil"
)

// recorder is tcpflow or bpflow recording flow files from one interface.
type recorder struct {
	name string
	cmd  *exec.Cmd
	dir  string
	err  bytes.Buffer
}

// consoleFile is where a -c recorder's stdout goes, in its directory.
const consoleFile = "console.txt"

// startRecorder runs argv (the filter expression last) with -o DIR, or with
// -c and stdout to DIR/console.txt, and returns once it is listening.
func startRecorder(t *testing.T, ns *testutil.Netns, name string, console bool, argv ...string) *recorder {
	t.Helper()
	r := &recorder{name: name, dir: filepath.Join(t.TempDir(), name)}
	if err := os.Mkdir(r.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	mode := []string{"-o", r.dir}
	if console {
		mode = []string{"-c"}
	}
	args := append([]string{"netns", "exec", ns.Name}, argv[:len(argv)-1]...)
	args = append(append(args, mode...), argv[len(argv)-1])
	r.cmd = exec.Command("ip", args...)
	r.cmd.Dir = r.dir
	if console {
		f, err := os.Create(filepath.Join(r.dir, consoleFile))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		r.cmd.Stdout = f
	}
	stderr, _ := r.cmd.StderrPipe()
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() { r.stop(t) })
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			r.err.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "listening on") {
				ready <- true
				io.Copy(&r.err, stderr)
				return
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			r.cmd.Wait()
			t.Fatalf("%s exited before listening: %s", name, r.err.String())
		}
	case <-time.After(bound):
		t.Fatalf("%s did not start listening", name)
	}
	return r
}

func (r *recorder) stop(t *testing.T) {
	if r.cmd.ProcessState != nil {
		return
	}
	r.cmd.Process.Signal(syscall.SIGINT)
	if err := r.cmd.Wait(); err != nil {
		t.Errorf("%s exited with %v: %s", r.name, err, r.err.String())
	}
}

// flowFiles reads every flow file (report.xml aside) with its mtime.
func (r *recorder) flowFiles(t *testing.T) map[string]flowFile {
	t.Helper()
	out := map[string]flowFile{}
	err := filepath.WalkDir(r.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "report.xml" {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(r.dir, path)
		out[rel] = flowFile{data: data, mtime: info.ModTime()}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type flowFile struct {
	data  []byte
	mtime time.Time
}

// waitForFile blocks until every dir holds a file whose name contains part
// and whose size is size.
func waitForFile(t *testing.T, dirs []string, part string, size int64) {
	t.Helper()
	waitInotify(t, dirs, unix.IN_CREATE|unix.IN_MODIFY|unix.IN_CLOSE_WRITE, func() bool { return allHave(dirs, part, size) })
}

// waitForConsole blocks until every console recorder has printed text.
func waitForConsole(t *testing.T, recs []*recorder, text string) {
	t.Helper()
	var paths []string
	for _, r := range recs {
		paths = append(paths, filepath.Join(r.dir, consoleFile))
	}
	defer func() { // on timeout: say which recorder missed it
		for _, p := range paths {
			if data, _ := os.ReadFile(p); t.Failed() && !bytes.Contains(data, []byte(text)) {
				t.Logf("%s: no %q in its %d bytes", p, text, len(data))
			}
		}
	}()
	waitInotify(t, paths, unix.IN_MODIFY, func() bool {
		for _, p := range paths {
			if data, _ := os.ReadFile(p); !bytes.Contains(data, []byte(text)) {
				return false
			}
		}
		return true
	})
}

// waitInotify checks ready each time inotify reports a change to paths.
func waitInotify(t *testing.T, paths []string, mask uint32, ready func() bool) {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	for _, p := range paths {
		if _, err := unix.InotifyAddWatch(fd, p, mask); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(bound)
	buf := make([]byte, 4096)
	for !ready() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %v", bound, paths)
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, 1000); err != nil && err != unix.EINTR {
			t.Fatal(err)
		}
		unix.Read(fd, buf)
	}
}

func allHave(dirs []string, part string, size int64) bool {
	for _, d := range dirs {
		found := false
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			if info, err := e.Info(); err == nil && strings.Contains(e.Name(), part) && info.Size() == size {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

var built struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// buildBpflow builds cmd/bpflow once per test binary run.
func buildBpflow(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "bpflow-e2e-")
		if built.err != nil {
			return
		}
		os.Chmod(built.dir, 0o755)
		built.bin = filepath.Join(built.dir, "bpflow")
		out, err := exec.Command("go", "build", "-o", built.bin, "github.com/bpflow/bpflow/cmd/bpflow").CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("build bpflow: %w: %s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// TestEndToEndAgainstTcpflow: tcpflow 1.6.1 and bpflow record the same
// interface at the same time with the same filter, to flow files and to the
// console; the outputs must be identical, flow-file mtimes within a few
// milliseconds (the two capture points see a packet at slightly different
// times). On the veth bpflow runs twice, with the TCX and the tc hook; on
// "any" both tools get Linux cooked frames.
func TestEndToEndAgainstTcpflow(t *testing.T) {
	if _, err := exec.LookPath("tcpflow"); err != nil {
		t.Skip("tcpflow is not installed (apt-get install tcpflow)")
	}
	for _, anyIface := range []bool{false, true} {
		t.Run(fmt.Sprintf("any=%v", anyIface), func(t *testing.T) { endToEnd(t, anyIface) })
	}
}

func endToEnd(t *testing.T, anyIface bool) {
	bin := buildBpflow(t)
	n := newLiveNet(t, false)
	const expr = "tcp and (port 5001 or port 5002 or port 5003 or port 5004 or port 5999)"
	iface := n.ifB
	if anyIface {
		iface = "any"
	}
	recs := []*recorder{
		startRecorder(t, n.b, "tcpflow", false, "tcpflow", "-i", iface, expr),
		startRecorder(t, n.b, "bpflow-tcx", false, bin, "--capture=ebpf", "--attach=tcx", "-i", iface, expr),
		startRecorder(t, n.b, "bpflow-tc", false, bin, "--capture=ebpf", "--attach=tc", "-i", iface, expr),
	}
	if anyIface {
		recs = recs[:2]
	}
	consoles := []*recorder{
		startRecorder(t, n.b, "tcpflow-c", true, "tcpflow", "-i", iface, expr),
		startRecorder(t, n.b, "bpflow-c", true, bin, "--capture=ebpf", "-i", iface, expr),
	}
	for i := range 5 { // HTTP-like exchanges
		transfer(t, n, 5001, 80+i, 10_000+i*1000)
	}
	// Bulk, paced to 2 MB/s: tcpflow's libpcap (2 MB buffer) drops packets
	// of a faster stream on a busy machine (tcpflow -c first), and its
	// output is then no oracle.
	transferPaced(t, n, 5002, 1_000_000, 10, 2_000_000)
	for i := range 30 { // many short flows
		transfer(t, n, 5003, 100+i, 50)
	}
	n6 := *n
	n6.addrA, n6.addrB = netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	transfer(t, &n6, 5004, 20_000, 40_000)
	transfer(t, n, 5007, 1000, 1000) // filtered out
	sendOnly(t, n, 5999, "barrier")
	var dirs []string
	for _, r := range recs {
		dirs = append(dirs, r.dir)
	}
	waitForFile(t, dirs, "05999", int64(len("barrier")))
	for _, r := range recs {
		r.stop(t)
	}
	waitForConsole(t, consoles, "barrier")
	for _, r := range consoles {
		r.stop(t)
	}
	want, err := os.ReadFile(filepath.Join(consoles[0].dir, consoleFile))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(consoles[1].dir, consoleFile))
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case bytes.Equal(want, got):
	case len(got) > len(want):
		// Console lines carry no offsets to check against what was sent;
		// more bytes than tcpflow means tcpflow lost packets (the frame
		// tests against tcpdump rule out duplicates).
		t.Logf("-c output: bpflow printed %d bytes, tcpflow %d (tcpflow lost packets)", len(got), len(want))
	default:
		t.Errorf("-c output differs from tcpflow's (%d vs %d bytes)", len(got), len(want))
	}
	wantFiles := recs[0].flowFiles(t)
	// Two directions for each of 5+1+30+1 exchanges, one for the barrier.
	if n := 2*(5+1+30+1) + 1; len(wantFiles) != n {
		t.Fatalf("tcpflow wrote %d flow files, want %d (it lost packets: no oracle); bpflow-tcx wrote %d",
			len(wantFiles), n, len(recs[1].flowFiles(t)))
	}
	for _, r := range recs[1:] {
		compareFlowFiles(t, r.name, wantFiles, r.flowFiles(t))
	}
}

func compareFlowFiles(t *testing.T, name string, want, got map[string]flowFile) {
	t.Helper()
	var maxSkew time.Duration
	for path, w := range want {
		g, ok := got[path]
		if !ok {
			t.Errorf("%s: no %s", name, path)
			continue
		}
		if !bytes.Equal(w.data, g.data) {
			judgeDifference(t, name, path, w.data, g.data)
		}
		skew := g.mtime.Sub(w.mtime).Abs()
		maxSkew = max(maxSkew, skew)
	}
	for path := range got {
		if _, ok := want[path]; !ok {
			t.Errorf("%s: extra file %s", name, path)
		}
	}
	if maxSkew > 10*time.Millisecond {
		t.Errorf("%s: flow-file mtimes differ from tcpflow's by up to %v", name, maxSkew)
	}
	t.Logf("%s: %d flow files compared with tcpflow's; mtimes within %v", name, len(want), maxSkew)
}

// judgeDifference decides, with what the clients sent as the oracle (every
// stream is pattern(n)), whether bpflow or tcpflow got a flow wrong: when
// tcpflow's libpcap drops a packet on this busy machine its file has a
// hole, and that is no fault of bpflow's.
func judgeDifference(t *testing.T, name, path string, tcpflow, bpflow []byte) {
	t.Helper()
	first := 0
	for first < min(len(tcpflow), len(bpflow)) && tcpflow[first] == bpflow[first] {
		first++
	}
	if bytes.Equal(bpflow, pattern(len(bpflow))) && !bytes.Equal(tcpflow, pattern(len(tcpflow))) {
		t.Logf("%s: %s: tcpflow lost data from byte %d (bpflow has what was sent)", name, path, first)
		return
	}
	t.Errorf("%s: %s has %d bytes, tcpflow's %d, first difference at byte %d", name, path, len(bpflow), len(tcpflow), first)
}

// sendOnly opens a connection and sends msg; the server reads it to EOF.
func sendOnly(t *testing.T, n *liveNet, port int, msg string) {
	t.Helper()
	c, done := connect(t, n, port, func(c net.Conn) error { _, err := io.ReadAll(c); return err })
	fmt.Fprint(c, msg)
	c.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestKillLeavesNothingAttached: TCX links belong to the process's file
// descriptors, so even kill -9 leaves no hook behind.
func TestKillLeavesNothingAttached(t *testing.T) {
	bin := buildBpflow(t)
	n := newLiveNet(t, false)
	r := startRecorder(t, n.b, "bpflow", false, bin, "--capture=ebpf", "--attach=tcx", "-i", n.ifB, "tcp")
	r.cmd.Process.Kill()
	r.cmd.Wait()
	checkNothingAttached(t, n.b, n.ifB)
}

// TestPermissionErrorNamesCapability: without capabilities, loading fails
// and the message says which capabilities bpflow needs.
func TestPermissionErrorNamesCapability(t *testing.T) {
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv is not installed (util-linux)")
	}
	bin := buildBpflow(t)
	n := newLiveNet(t, false)
	cmd := exec.Command("ip", "netns", "exec", n.b.Name, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
		"--inh-caps=-all", "--bounding-set=-all", bin, "--capture=ebpf", "-i", n.ifB, "-c", "tcp")
	cmd.Dir = t.TempDir()
	os.Chmod(cmd.Dir, 0o777)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("unprivileged bpflow: %v, want exit status 1; output:\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("CAP_BPF")) {
		t.Errorf("the error does not name CAP_BPF:\n%s", out)
	}
}
