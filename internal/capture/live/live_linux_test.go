//go:build linux

package live

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/bpflow/bpflow/internal/capture"
	"github.com/bpflow/bpflow/internal/testutil"
)

// TestMethodSelection: auto falls back to AF_PACKET with one warning that
// gives eBPF's reason; ebpf and afpacket force their source; anything else
// is refused.
func TestMethodSelection(t *testing.T) {
	testutil.RequireBPF(t)
	ns := testutil.NewNetns(t)
	saved := openEBPF
	t.Cleanup(func() { openEBPF = saved })
	whyNot := errors.New("attach tcx ingress on lo: kernel too old")
	openEBPF = func(context.Context, capture.Config, *slog.Logger) (capture.Source, error) { return nil, whyNot }

	open := func(method string) (string, string, error) {
		var logged bytes.Buffer
		var kind string
		err := ns.Do(func() error {
			src, err := Open(context.Background(), capture.Config{Interface: "lo", Method: method}, slog.New(slog.NewTextHandler(&logged, nil)))
			if err != nil {
				return err
			}
			kind = fmt.Sprintf("%T", src)
			return src.Close()
		})
		return kind, logged.String(), err
	}

	kind, logged, err := open(MethodAuto)
	if err != nil || !strings.Contains(kind, "afpacket") {
		t.Errorf("auto with eBPF failing: source %s, err %v; want AF_PACKET", kind, err)
	}
	if lines := strings.Count(logged, "\n"); lines != 1 || !strings.Contains(logged, whyNot.Error()) {
		t.Errorf("auto fallback logged %d lines %q; want one giving the reason", lines, logged)
	}
	if _, _, err := open(MethodEBPF); !errors.Is(err, whyNot) {
		t.Errorf("forced ebpf: err %v, want eBPF's own error", err)
	}
	if kind, logged, err := open(MethodAFPacket); err != nil || !strings.Contains(kind, "afpacket") || logged != "" {
		t.Errorf("forced afpacket: source %s, err %v, log %q", kind, err, logged)
	}
	if _, _, err := open("pcap"); err == nil {
		t.Error("--capture=pcap accepted")
	}
}
