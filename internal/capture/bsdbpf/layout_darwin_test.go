//go:build darwin

package bsdbpf

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestLayoutIsTheSystemHeader checks darwinLayout against struct bpf_hdr and
// BPF_ALIGNMENT as x/sys/unix generated them from the SDK.
func TestLayoutIsTheSystemHeader(t *testing.T) {
	var h unix.BpfHdr
	if got := int(unsafe.Sizeof(h.Tstamp)); got != darwinLayout.tvSize {
		t.Errorf("bh_tstamp is %d bytes, layout says %d", got, darwinLayout.tvSize)
	}
	if got := int(unsafe.Offsetof(h.Hdrlen)); got != darwinLayout.tvSize+8 {
		t.Errorf("bh_hdrlen at %d, layout says %d", got, darwinLayout.tvSize+8)
	}
	if unix.BPF_ALIGNMENT != darwinLayout.align {
		t.Errorf("BPF_ALIGNMENT %d, layout says %d", unix.BPF_ALIGNMENT, darwinLayout.align)
	}
}
