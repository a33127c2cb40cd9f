package cli

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/bpflow/bpflow/internal/layers"
	"github.com/bpflow/bpflow/internal/pcapfile"
	"github.com/bpflow/bpflow/internal/testutil/pktbuild"
)

// signalWriter collects stderr and closes ready when a line contains want.
type signalWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	want  string
	ready chan struct{}
	once  sync.Once
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.want) {
		w.once.Do(func() { close(w.ready) })
	}
	return len(p), nil
}

// TestSignalEndsOrderly: a signal (the cancelled context cmd/bpflow passes)
// while a flow is open ends the input, and the run finishes like tcpflow
// 1.6.1 after SIGINT/SIGTERM/SIGHUP (reference §7.3): "terminating orderly",
// the open flow flushed to its file with its mtime, the report completed,
// exit status 0.
func TestSignalEndsOrderly(t *testing.T) {
	dir := t.TempDir()
	a, b := netip.MustParseAddr("192.168.1.1"), netip.MustParseAddr("10.0.0.2")
	seg := func(seq uint32, data string) []byte {
		return pktbuild.Build(pktbuild.Ethernet{}, pktbuild.IPv4{Src: a, Dst: b},
			pktbuild.TCP{SrcPort: 1, DstPort: 2, Seq: seq, Flags: pktbuild.ACK}, pktbuild.Payload(data))
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	w, err := pcapfile.NewWriter(pw, layers.LinkEthernet, 65535)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WritePacket(pktbuild.BaseTime, 0, seg(100, "data")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := &signalWriter{want: "created new file", ready: make(chan struct{})}
	var stdout bytes.Buffer
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	done := make(chan int)
	go func() {
		done <- Main(ctx, []string{"tcpflow", "-d", "5", "-r", fmt.Sprintf("/dev/fd/%d", pr.Fd())}, &stdout, stderr)
	}()
	<-stderr.ready
	cancel()
	// whether the loop sees the cancelled context or the end of the pipe
	// first, the run ends the same way
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	if code := <-done; code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	if !strings.Contains(stderr.buf.String(), "tcpflow: terminating orderly\n") {
		t.Errorf("stderr lacks the orderly-termination line:\n%s", stderr.buf.String())
	}
	name := filepath.Join(dir, "192.168.001.001.00001-010.000.000.002.00002")
	got, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "data" {
		t.Errorf("flow file %q, want %q", got, "data")
	}
	if st, err := os.Stat(name); err != nil || st.ModTime().UnixNano() != pktbuild.BaseTime {
		t.Errorf("flow file mtime %v (%v), want the first packet's time", st.ModTime(), err)
	}
	report, err := os.ReadFile(filepath.Join(dir, "report.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(report), "</dfxml>\n") || !strings.Contains(string(report), "<filesize>4</filesize>") {
		t.Errorf("report incomplete:\n%s", report)
	}
}
