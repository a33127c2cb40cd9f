// Package ebpf is bpflow's live capture on Linux: the TC program in
// bpf/capture.c (embedded by bpf2go, see gen.go), attached with TCX at the
// head of each interface's ingress and egress chains (clsact + cls_bpf where
// the kernel has no TCX), filters with the compiled tcpdump expression and
// copies matching TCP packets, as libpcap would deliver them, into one ring
// buffer; Source reads them back as Frames.
//
// Frames: Ethernet (the VLAN tag put back) on Ethernet and loopback devices,
// raw IP on L3 devices (tun, WireGuard, IP tunnels), Linux cooked (SLL, as
// libpcap gives tcpflow) for "-i any". Link padding is not copied, so a
// frame's captured length can be below its wire length. Packets bigger than
// one record on the scratch copy path (BIG TCP) arrive as several frames,
// each a valid segment of the original.
package ebpf
