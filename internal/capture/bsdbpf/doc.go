// Package bsdbpf captures live on macOS through /dev/bpf: the compiled filter
// runs in the kernel (BIOCSETF) when it fits, in userspace otherwise. The
// read-buffer parser (bpf_hdr records) has no build tag so it is tested and
// fuzzed on every OS.
package bsdbpf
