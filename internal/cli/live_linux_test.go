package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/bpflow/bpflow/internal/testutil"
)

// TestAFPacketBlockSizeReachesTheRing: --afpacket-block-size is handed to
// the TPACKET_V3 ring, whose checks answer a size that is no power of two.
func TestAFPacketBlockSizeReachesTheRing(t *testing.T) {
	testutil.RequireBPF(t) // root, to make the namespace and the socket
	ns := testutil.NewNetns(t)
	var out, errb bytes.Buffer
	code := -1
	if err := ns.Do(func() error {
		code = Main(context.Background(), []string{"bpflow", "--capture=afpacket", "--afpacket-block-size", "1000",
			"-p", "-c", "-i", "lo"}, &out, &errb)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if code != 1 || !strings.Contains(errb.String(), "block size 1000 must be a power of two") {
		t.Fatalf("exit %d, stderr %q: want exit 1 naming the bad block size", code, errb.String())
	}
}
