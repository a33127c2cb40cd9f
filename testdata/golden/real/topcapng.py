#!/usr/bin/env python3
"""topcapng.py IN.pcap OUT.pcapng: the same packets as pcapng (one section,
one interface, nanosecond if_tsresol when IN is a nanosecond pcap), for a
real pcapng input; tcpdump reads it back to the same packets."""
import struct, sys

data = open(sys.argv[1], "rb").read()
magic, _, _, _, _, snaplen, linktype = struct.unpack("<IHHiIII", data[:24])
nano = magic == 0xa1b23c4d
assert magic in (0xa1b2c3d4, 0xa1b23c4d), "little-endian classic pcap only"

def block(typ, body):
    body += b"\0" * (-len(body) % 4)
    n = 12 + len(body)
    return struct.pack("<II", typ, n) + body + struct.pack("<I", n)

out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
opts = b""
if nano:
    opts = struct.pack("<HH", 9, 1) + b"\x09\0\0\0" + struct.pack("<HH", 0, 0)
out += block(1, struct.pack("<HHI", linktype, 0, snaplen) + opts)
off = 24
while off < len(data):
    sec, frac, incl, orig = struct.unpack("<IIII", data[off:off + 16])
    ts = sec * (10**9 if nano else 10**6) + frac
    out += block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, incl, orig) + data[off + 16:off + 16 + incl])
    off += 16 + incl
open(sys.argv[2], "wb").write(out)
