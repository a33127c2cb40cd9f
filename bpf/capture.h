/* The only ABI shared by bpf/capture.c and internal/capture/ebpf. Go gets
 * these types from bpf2go (-type); a Go test checks every offset. */
#ifndef BPFLOW_CAPTURE_H
#define BPFLOW_CAPTURE_H

/* bpflow_rec.flags */
#define BPFLOW_F_EGRESS 0x01 /* seen at TC egress (else ingress) */
#define BPFLOW_F_CHUNK  0x02 /* one slice of a packet too big for one record */
#define BPFLOW_F_LAST   0x04 /* last slice of a chunked packet */
#define BPFLOW_F_TRUNC  0x08 /* bytes of the packet are missing (snaplen or chunk limit) */
#define BPFLOW_F_VLAN   0x10 /* the skb's offloaded VLAN tag was put back at byte 12 */

/* One ring record: this header, then cap_len bytes of the frame as libpcap
 * would deliver it, through the end of the TCP payload (link padding is not
 * copied). A chunk record carries the headers, then the payload bytes that
 * start at pay_off within the packet's TCP payload. */
struct bpflow_rec {
	__u64 ts_ns;    /* bpf_ktime_get_ns() (CLOCK_MONOTONIC) */
	__u32 ifindex;  /* skb->ifindex */
	__u32 wire_len; /* packet length on the wire (tag included) */
	__u32 cap_len;  /* frame bytes that follow this header */
	__u32 pay_off;  /* chunk records: offset of their payload in the TCP payload */
	__u16 hdr_len;  /* frame bytes before the TCP payload */
	__u16 l3_off;   /* frame offset of the IP header */
	__u16 l4_off;   /* frame offset of the TCP header */
	__u8 flags;     /* BPFLOW_F_* */
	__u8 pkt_type;  /* skb->pkt_type (PACKET_HOST …) for Linux cooked frames */
};

/* Per-CPU counters; Go sums them over CPUs. */
struct bpflow_counters {
	__u64 seen;      /* packets the program ran on */
	__u64 tcp;       /* parsed as TCP */
	__u64 matched;   /* TCP packets the filter accepted */
	__u64 packets;   /* packets submitted to the ring (whole or in chunks) */
	__u64 records;   /* ring records submitted */
	__u64 bytes;     /* frame bytes submitted */
	__u64 ring_full; /* lost: no room in the ring */
	__u64 truncated; /* delivered short: payload beyond the chunk limit */
	__u64 parse_err; /* lost: malformed or oversized TCP/IP headers */
	__u64 copy_err;  /* lost: a helper failed to copy from the skb */
};

#endif
