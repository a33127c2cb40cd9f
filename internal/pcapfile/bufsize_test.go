package pcapfile_test

import (
	"bytes"
	"testing"

	"github.com/bpflow/bpflow/internal/layers"
	"github.com/bpflow/bpflow/internal/pcapfile"
)

// Records of every size up to libpcap's largest snaplen (262144) come back
// whole, including those as large as the read buffer and right after a
// record that left the buffer nearly empty.
func TestReadRecordsUpToMaxSnaplen(t *testing.T) {
	sizes := []int{262144, 1, 262143, 262144, 100000, 262144, 60}
	var buf bytes.Buffer
	w, err := pcapfile.NewWriter(&buf, layers.LinkEthernet, 262144)
	if err != nil {
		t.Fatal(err)
	}
	records := make([][]byte, len(sizes))
	for i, n := range sizes {
		records[i] = bytes.Repeat([]byte{byte(i + 1)}, n)
		if err := w.WritePacket(int64(i)*1000, 0, records[i]); err != nil {
			t.Fatal(err)
		}
	}
	rd, err := pcapfile.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range records {
		fr, err := rd.Next()
		if err != nil {
			t.Fatalf("record %d (%d bytes): %v", i, len(want), err)
		}
		if !bytes.Equal(fr.Data, want) {
			t.Fatalf("record %d: got %d bytes, want %d bytes of %#x", i, len(fr.Data), len(want), i+1)
		}
	}
	if _, err := rd.Next(); err == nil {
		t.Fatal("a record after the last one")
	}
}
