#!/usr/bin/env python3
"""perturb.py IN OUT SEED: netem's effects applied after the fact, for
kernels without sch_netem: from a classic pcap, drop ~6% of the packets,
duplicate ~5% and move ~20% one to three places later (deterministic per
SEED). Timestamps stay with their packets, as a capture point between the
hosts would not see them; the point is to feed loss, duplication and
reordering of real segments to the flow engine."""
import random, struct, sys

src, dst, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = open(src, "rb").read()
hdr, off, pkts = data[:24], 24, []
assert struct.unpack("<I", hdr[:4])[0] in (0xa1b2c3d4, 0xa1b23c4d), "little-endian classic pcap only"
while off < len(data):
    incl = struct.unpack("<I", data[off + 8:off + 12])[0]
    pkts.append(data[off:off + 16 + incl])
    off += 16 + incl
rng = random.Random(seed)
out = []
for p in pkts:
    r = rng.random()
    if r < 0.06:
        continue
    out.append(p)
    if r < 0.11:
        out.append(p)
i = 0
while i < len(out) - 3:
    if rng.random() < 0.2:
        j = i + rng.randint(1, 3)
        out[i], out[j] = out[j], out[i]
        i = j
    i += 1
open(dst, "wb").write(hdr + b"".join(out))
