// Package bpflow records TCP streams the way tcpflow 1.6.1 does, capturing on
// Linux with eBPF at the TC hook. The data path, one direction only:
//
//  1. bpf/capture.c runs at TC ingress and egress (TCX at the head, or clsact),
//  2. parses Ethernet/VLAN → IPv4/IPv6 → TCP and runs the compiled filter,
//  3. copies each matching packet, as libpcap would deliver it, into one ring buffer;
//  4. internal/capture/ebpf reads the ring into Frames (no allocation per record),
//  5. internal/layers decodes them, as it decodes pcap files,
//  6. internal/flow reassembles tcpflow's flows,
//  7. internal/output writes flow files, console output and report.xml.
//
// The generated eBPF object and its Go bindings are committed; `make generate`
// rebuilds them with the pinned clang (BPF2GO_CC).
package bpflow

//go:generate go tool bpf2go -go-package ebpf -output-dir internal/capture/ebpf -output-stem capture -target bpfel -type bpflow_rec -type bpflow_counters -cflags "-O2 -g -Wall -Werror -I/usr/include/x86_64-linux-gnu" bpf bpf/capture.c
