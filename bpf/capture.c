//go:build ignore

/* bpflow's TC program: observe every packet on an interface, keep the TCP
 * ones the compiled filter accepts, and copy each as libpcap would deliver it
 * (VLAN tag put back, link padding left out) into one shared ring buffer.
 * It never decides a packet's fate: it always returns TCX_NEXT (== TC_ACT_UNSPEC),
 * never pulls, writes or redirects the skb. */

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "capture.h"

#define TC_NEXT (-1) /* TCX_NEXT and TC_ACT_UNSPEC: let the next program decide */

#define MAX_HDR 512          /* link+IP+TCP header bytes the copy path handles */
#define CHUNK (128 << 10)    /* frame bytes in one copy-path record: GSO packets fit whole */
#define ROOM (CHUNK - MAX_HDR) /* payload bytes in one copy-path record */
#define PIECE 60000          /* payload per chunk: its IP length fits 16 bits */
#define MAX_CHUNKS 9         /* 9 × 60000 covers BIG TCP's 512 KiB */
#define MAX_EXT 8            /* IPv6 extension headers we walk */
#define VLAN_LEN 4
#define MIN_SNAP 64

/* Settings, written through spec.Variables before load. */
volatile const __u32 bpflow_l3 = 0;       /* the device has no link header (raw IP) */
volatile const __u32 bpflow_dynptr = 0;   /* 1: exact-size dynptr reservation + bpf_dynptr_copy */
volatile const __u32 bpflow_snaplen = 0;  /* 0: whole frames */
volatile const __u64 bpflow_wake = 1 << 20; /* wake the reader once this much waits */
volatile const __u32 bpflow_room = ROOM;   /* payload that goes whole in one copy-path record */
volatile const __u32 bpflow_piece = PIECE; /* payload per chunk beyond that (tests: less) */

struct bpflow_scratch {
	struct bpflow_rec rec;
	__u8 data[CHUNK];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 26);
} bpflow_ring SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct bpflow_counters);
	__uint(max_entries, 1);
} bpflow_stats SEC(".maps");

/* A plain ARRAY with one slot per possible CPU (Go sets max_entries): per-CPU
 * array values are capped at 32 KiB. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct bpflow_scratch);
	__uint(max_entries, 1);
} bpflow_scratch SEC(".maps");

extern int bpf_dynptr_from_skb(struct __sk_buff *skb, __u64 flags,
			       struct bpf_dynptr *ptr__uninit) __ksym __weak;
extern int bpf_dynptr_copy(struct bpf_dynptr *dst_ptr, __u32 dst_off,
			   struct bpf_dynptr *src_ptr, __u32 src_off, __u32 size) __ksym __weak;

/* Where the headers are, in skb offsets. */
struct pkt {
	__u32 l3;      /* IP header */
	__u32 l4;      /* TCP header */
	__u32 hdr_end; /* end of the TCP header */
	__u32 end;     /* end of the IP packet: link padding excluded */
};

enum verdict { TCP_OK, NOT_TCP, BAD_TCP };

/* The compiled tcpdump expression replaces this body at load time (non-zero:
 * match). The empty asm keeps clang from folding the default "match all"
 * into the caller and from dropping skb from the call: the spliced code
 * finds the context in R1. */
static __noinline int bpflow_filter(struct __sk_buff *skb)
{
	int match = 1;

	asm volatile("" : "+r"(match) : "r"(skb));
	return match;
}

static __always_inline int parse_tcp(struct __sk_buff *skb, struct pkt *p)
{
	__u8 tcp[20];

	if (bpf_skb_load_bytes(skb, p->l4, tcp, sizeof(tcp)))
		return BAD_TCP;
	__u32 doff = (tcp[12] >> 4) * 4;
	if (doff < 20)
		return BAD_TCP;
	p->hdr_end = p->l4 + doff;
	if (p->hdr_end > p->end || p->hdr_end > MAX_HDR - VLAN_LEN)
		return BAD_TCP;
	return TCP_OK;
}

static __always_inline __u32 ip_end(struct __sk_buff *skb, __u32 off, __u32 len)
{
	/* Length 0 is TSO/BIG TCP: the packet runs to the end of the skb. */
	if (len == 0 || off + len > skb->len)
		return skb->len;
	return off + len;
}

static __always_inline int parse_ip4(struct __sk_buff *skb, struct pkt *p)
{
	__u8 ip[20];

	if (bpf_skb_load_bytes(skb, p->l3, ip, sizeof(ip)))
		return BAD_TCP;
	if (ip[9] != IPPROTO_TCP)
		return NOT_TCP;
	if (((ip[6] & 0x1f) << 8 | ip[7]) != 0)
		return NOT_TCP; /* a later fragment holds no TCP header */
	__u32 ihl = (ip[0] & 0x0f) * 4;
	if ((ip[0] >> 4) != 4 || ihl < 20)
		return BAD_TCP;
	p->end = ip_end(skb, p->l3, (__u32)ip[2] << 8 | ip[3]);
	p->l4 = p->l3 + ihl;
	return parse_tcp(skb, p);
}

static __always_inline int parse_ip6(struct __sk_buff *skb, struct pkt *p)
{
	__u8 ip[40], ext[8];

	if (bpf_skb_load_bytes(skb, p->l3, ip, sizeof(ip)))
		return BAD_TCP;
	if ((ip[0] >> 4) != 6)
		return BAD_TCP;
	p->end = ip_end(skb, p->l3 + 40, (__u32)ip[4] << 8 | ip[5]);
	__u32 off = p->l3 + 40;
	__u8 next = ip[6];

	for (int i = 0; i < MAX_EXT; i++) {
		if (next == IPPROTO_TCP) {
			p->l4 = off;
			return parse_tcp(skb, p);
		}
		if (next != IPPROTO_HOPOPTS && next != IPPROTO_ROUTING &&
		    next != IPPROTO_DSTOPTS && next != IPPROTO_FRAGMENT && next != IPPROTO_AH)
			return NOT_TCP;
		if (off > MAX_HDR || bpf_skb_load_bytes(skb, off, ext, sizeof(ext)))
			return BAD_TCP;
		if (next == IPPROTO_FRAGMENT) {
			if (((ext[2] << 8 | ext[3]) & 0xfff8) != 0)
				return NOT_TCP;
			off += 8;
		} else if (next == IPPROTO_AH) {
			off += (ext[1] + 2) * 4;
		} else {
			off += (ext[1] + 1) * 8;
		}
		next = ext[0];
	}
	return BAD_TCP;
}

static __always_inline int parse(struct __sk_buff *skb, struct pkt *p)
{
	__u16 proto = skb->protocol;
	__u8 hdr[4];

	p->l3 = 0;
	if (!bpflow_l3) {
		if (bpf_skb_load_bytes(skb, 12, &proto, sizeof(proto)))
			return NOT_TCP;
		p->l3 = 14;
		/* 802.1Q / 802.1ad tags still in the packet (QinQ: two). */
		for (int i = 0; i < 2; i++) {
			if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
				break;
			if (bpf_skb_load_bytes(skb, p->l3, hdr, sizeof(hdr)))
				return NOT_TCP;
			__builtin_memcpy(&proto, hdr + 2, sizeof(proto));
			p->l3 += VLAN_LEN;
		}
	}
	if (proto == bpf_htons(ETH_P_IP))
		return parse_ip4(skb, p);
	if (proto == bpf_htons(ETH_P_IPV6))
		return parse_ip6(skb, p);
	return NOT_TCP;
}

static __always_inline __u64 wake_flags(void)
{
	/* Waking the reader per record costs more than the copy for small
	 * packets; wake it only when a batch waits (it also polls on a deadline). */
	if (bpf_ringbuf_query(&bpflow_ring, BPF_RB_AVAIL_DATA) >= bpflow_wake)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

static __always_inline void emit_dynptr(struct __sk_buff *skb, struct bpflow_rec *rec,
					__u32 tag, struct bpflow_counters *cnt)
{
	struct bpf_dynptr rp, sp;
	const __u32 h = sizeof(*rec);
	__u32 cap = rec->cap_len;
	long err;

	if (bpf_ringbuf_reserve_dynptr(&bpflow_ring, h + cap, 0, &rp)) {
		bpf_ringbuf_discard_dynptr(&rp, 0);
		cnt->ring_full++;
		return;
	}
	err = bpf_dynptr_write(&rp, 0, rec, h, 0);
	err |= bpf_dynptr_from_skb(skb, 0, &sp);
	if (rec->flags & BPFLOW_F_VLAN) {
		err |= bpf_dynptr_copy(&rp, h, &sp, 0, 12);
		err |= bpf_dynptr_write(&rp, h + 12, &tag, VLAN_LEN, 0);
		err |= bpf_dynptr_copy(&rp, h + 12 + VLAN_LEN, &sp, 12, cap - 12 - VLAN_LEN);
	} else {
		err |= bpf_dynptr_copy(&rp, h, &sp, 0, cap);
	}
	if (err) {
		bpf_ringbuf_discard_dynptr(&rp, 0);
		cnt->copy_err++;
		return;
	}
	bpf_ringbuf_submit_dynptr(&rp, wake_flags());
	cnt->packets++;
	cnt->records++;
	cnt->bytes += cap;
}

/* Copies skb bytes [from, from+n) to dst; n may be 0. The verifier needs n
 * proven in [1, max] on the register passed to the helper. */
static __always_inline long load(struct __sk_buff *skb, __u32 from, void *dst, __u64 n, __u64 max)
{
	if (n == 0)
		return 0;
	if (n > max)
		return -1;
	barrier_var(n);
	return bpf_skb_load_bytes(skb, from, dst, n);
}

/* The frame's headers (tag put back) into s->data; returns their length or -1. */
static __always_inline long copy_headers(struct __sk_buff *skb, struct bpflow_scratch *s,
					 __u64 hlen, __u32 tag)
{
	if (hlen > MAX_HDR)
		return -1;
	if (!(s->rec.flags & BPFLOW_F_VLAN))
		return load(skb, 0, s->data, hlen, MAX_HDR) ? -1 : (long)hlen;
	if (hlen < 12 + VLAN_LEN || load(skb, 0, s->data, 12, 12))
		return -1;
	__builtin_memcpy(s->data + 12, &tag, VLAN_LEN);
	if (load(skb, 12, s->data + 12 + VLAN_LEN, hlen - 12 - VLAN_LEN, MAX_HDR - 12 - VLAN_LEN))
		return -1;
	return hlen;
}

/* A global function, so the verifier checks the chunk loop once instead of
 * once per parse outcome (it would exceed the complexity limit). */
__noinline int bpflow_copyout(struct __sk_buff *skb, struct bpflow_rec *rec, __u32 hdr_end, __u32 tag)
{
	__u32 zero = 0, cpu = bpf_get_smp_processor_id();
	struct bpflow_counters *cnt = bpf_map_lookup_elem(&bpflow_stats, &zero);
	struct bpflow_scratch *s = bpf_map_lookup_elem(&bpflow_scratch, &cpu);
	__u64 hlen, total, done = 0;

	if (!cnt || !rec)
		return 0;
	if (!s) {
		cnt->copy_err++;
		return 0;
	}
	s->rec = *rec;
	hlen = rec->hdr_len;
	if (rec->cap_len < hlen)
		hlen = rec->cap_len; /* snaplen cut into the headers */
	if (copy_headers(skb, s, hlen, tag) < 0) {
		cnt->copy_err++;
		return 0;
	}
	total = rec->cap_len - hlen;
	__u64 room = bpflow_room;
	if (total > room) {
		s->rec.flags |= BPFLOW_F_CHUNK;
		room = bpflow_piece;
	}
	for (int i = 0; i < MAX_CHUNKS; i++) {
		__u64 piece = total - done;

		if (piece > room)
			piece = room;
		if (done + piece == total && (s->rec.flags & BPFLOW_F_CHUNK))
			s->rec.flags |= BPFLOW_F_LAST;
		s->rec.pay_off = done;
		s->rec.cap_len = hlen + piece;
		/* hlen ≤ MAX_HDR and piece ≤ ROOM keep the copy inside data[CHUNK]. */
		if (hlen > MAX_HDR || load(skb, hdr_end + done, s->data + hlen, piece, ROOM)) {
			cnt->copy_err++;
			return 0;
		}
		/* Bounds the helper's read of the scratch slot for the verifier. */
		__u64 size = sizeof(s->rec) + hlen + piece;
		if (size > sizeof(*s)) {
			cnt->copy_err++;
			return 0;
		}
		if (bpf_ringbuf_output(&bpflow_ring, s, size, wake_flags())) {
			cnt->ring_full++;
			return 0;
		}
		cnt->records++;
		cnt->bytes += hlen + piece;
		if (i == 0)
			cnt->packets++;
		done += piece;
		if (done >= total)
			return 0;
	}
	cnt->truncated++;
	return 0;
}

static __always_inline int capture(struct __sk_buff *skb, __u8 dir)
{
	__u32 zero = 0;
	struct bpflow_counters *cnt = bpf_map_lookup_elem(&bpflow_stats, &zero);
	struct pkt p = {};

	if (!cnt)
		return TC_NEXT;
	cnt->seen++;
	int v = parse(skb, &p);
	if (v == NOT_TCP)
		return TC_NEXT;
	if (v == BAD_TCP) {
		cnt->parse_err++;
		return TC_NEXT;
	}
	cnt->tcp++;
	if (!bpflow_filter(skb))
		return TC_NEXT;
	cnt->matched++;

	/* Frame offsets shift by the tag we put back after the MAC addresses. */
	__u32 vlan = !bpflow_l3 && skb->vlan_present ? VLAN_LEN : 0;
	__u32 tag = (__u32)skb->vlan_proto | (__u32)bpf_htons(skb->vlan_tci) << 16;
	struct bpflow_rec rec = {
		.ts_ns = bpf_ktime_get_ns(),
		.ifindex = skb->ifindex,
		.wire_len = skb->len + vlan,
		.cap_len = p.end + vlan,
		.hdr_len = p.hdr_end + vlan,
		.l3_off = p.l3 + vlan,
		.l4_off = p.l4 + vlan,
		.flags = dir | (vlan ? BPFLOW_F_VLAN : 0),
		.pkt_type = skb->pkt_type,
	};
	__u32 snap = bpflow_snaplen;

	if (snap && snap < MIN_SNAP)
		snap = MIN_SNAP;
	if (snap && rec.cap_len > snap) {
		rec.cap_len = snap;
		rec.flags |= BPFLOW_F_TRUNC;
	}
	if (bpflow_dynptr)
		emit_dynptr(skb, &rec, tag, cnt);
	else
		bpflow_copyout(skb, &rec, p.hdr_end, tag);
	return TC_NEXT;
}

SEC("tc")
int bpflow_ingress(struct __sk_buff *skb)
{
	return capture(skb, 0);
}

SEC("tc")
int bpflow_egress(struct __sk_buff *skb)
{
	return capture(skb, BPFLOW_F_EGRESS);
}

char __license[] SEC("license") = "Dual BSD/GPL";
