package golden

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"strings"

	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"

	"github.com/bpflow/bpflow/internal/golden/flowdiff"
	"github.com/bpflow/bpflow/internal/layers"
	"github.com/bpflow/bpflow/internal/pcapfile"
	"github.com/bpflow/bpflow/internal/testutil/pktbuild"
)

// format is how a capture file is stored.
type format int

const (
	fmtPcap           format = iota // little-endian µs pcap, what tcpdump -w writes
	fmtPcapBE                       // big-endian µs pcap
	fmtPcapNano                     // little-endian ns pcap
	fmtPcapng                       // little-endian pcapng, one interface
	fmtPcapGzip                     // pcap inside gzip (stored blocks: stable bytes)
	fmtPcapXz                       // pcap inside xz
	fmtPcapLzma                     // pcap inside lzma (.lzma, "LZMA alone")
	fmtPcapngBE                     // big-endian pcapng
	fmtPcapngNano                   // pcapng with if_tsresol 9 (ns)
	fmtPcapngSections               // pcapng, a new section (and interface) halfway
	fmtPcapngSimple                 // pcapng, Simple Packet Blocks only (no timestamps), if_tsoffset 100 s
	fmtPcapngFar                    // pcapng (µs), every timestamp 300 years later: beyond int64 nanoseconds
)

// capture is one input file of the corpus: a script encoded on a link type.
type capture struct {
	name   string // file name under testdata/golden/captures
	link   layers.LinkType
	header func(p *pkt) pktbuild.Layer // link-layer header; nil for raw IP links
	s      *script
	format format
	// tweak, when set, rewrites (a copy of) each packet before encoding, or
	// drops it by returning false: how the alternative captures of the
	// documented differences are derived from the original script.
	tweak func(p *pkt) bool
	cut   int                  // bytes removed from the end of the file (a truncated capture)
	raw   []byte               // the file's bytes as they are (not a capture)
	mpls  []pktbuild.MPLSLabel // a label stack between link header and IP
	// wrap, for link types pktbuild does not build, turns the IP packet into
	// the frame.
	wrap func(p *pkt, ip []byte) []byte
	// second, in a pcapng capture, is a second interface with another link
	// type; the packets it selects are written on it.
	second *iface
}

// iface is a pcapng interface's link type and encoding.
type iface struct {
	link    layers.LinkType
	header  func(p *pkt) pktbuild.Layer
	has     func(p *pkt) bool
	snaplen uint32 // 0: 65535, as the first interface
}

// Link-layer encodings. Ethernet MACs come from the endpoints, so the
// report's mac_saddr/mac_daddr identify the direction.
func ethernet(p *pkt) pktbuild.Layer {
	return pktbuild.Ethernet{Dst: p.c.ep[1-p.from].mac, Src: p.c.ep[p.from].mac, Tags: p.tags}
}

func sll(p *pkt) pktbuild.Layer {
	return pktbuild.SLL{PacketType: sllPacketType(p), Addr: p.c.ep[p.from].mac[:]}
}

func sll2(p *pkt) pktbuild.Layer {
	return pktbuild.SLL2{Ifindex: 2, PacketType: uint8(sllPacketType(p)), Addr: p.c.ep[p.from].mac[:]}
}

// sllPacketType is what a capture on the client host records: its own
// packets as outgoing (4), the server's as addressed to the host (0).
func sllPacketType(p *pkt) uint16 {
	if p.from == cli {
		return 4
	}
	return 0
}

func null(p *pkt) pktbuild.Layer { return pktbuild.Null{} }
func nullBE(p *pkt) pktbuild.Layer {
	return pktbuild.Null{BigEndian: true}
}
func nullFamily(fam uint32) func(p *pkt) pktbuild.Layer {
	return func(p *pkt) pktbuild.Layer { return pktbuild.Null{Family: fam} }
}
func loop(p *pkt) pktbuild.Layer { return pktbuild.Loop{} }
func ppp(p *pkt) pktbuild.Layer  { return pktbuild.PPP{} }

// frame encodes p: link header, IP, TCP (or UDP), payload, padding; it
// returns the captured bytes and the length on the wire.
func (c *capture) frame(p *pkt) ([]byte, uint32) {
	var ls []pktbuild.Layer
	header := c.header
	if c.onSecond(p) {
		header = c.second.header
	}
	if header != nil {
		ls = append(ls, header(p))
	}
	if c.mpls != nil {
		ls = append(ls, pktbuild.MPLS{Labels: c.mpls})
	}
	src, dst := p.c.ep[p.from], p.c.ep[1-p.from]
	proto := p.ipProto
	if p.rawL4 && proto == 0 {
		proto = pktbuild.ProtoTCP
	}
	if src.addr.Is4() {
		ip := pktbuild.IPv4{Src: src.addr, Dst: dst.addr, Options: p.ipOpts, TotalLen: p.ipTotal, FragOff: p.fragOff, Proto: proto}
		if p.fragMF {
			ip.Flags = pktbuild.IPv4MoreFragments
		}
		ls = append(ls, ip)
	} else {
		ls = append(ls, pktbuild.IPv6{Src: src.addr, Dst: dst.addr, ExtHeaders: p.extHdrs, PayloadLen: p.ipTotal, Proto: proto})
	}
	switch {
	case p.rawL4:
		// A non-first fragment: the data is the IP payload itself.
	case p.ipProto == pktbuild.ProtoUDP:
		ls = append(ls, pktbuild.UDP{SrcPort: src.port, DstPort: dst.port})
	default:
		ls = append(ls, pktbuild.TCP{SrcPort: src.port, DstPort: dst.port, Seq: p.seq, Ack: p.ack,
			Flags: p.flags, Window: 64240, Options: p.tcpOpts, DataOff: p.dataOff})
	}
	ls = append(ls, pktbuild.Payload(p.data))
	b := pktbuild.Build(ls...)
	if c.wrap != nil {
		b = c.wrap(p, b)
	}
	b = append(b, p.pad...)
	wire := uint32(len(b))
	if p.padUncapt {
		b = b[:len(b)-len(p.pad)]
	}
	if p.snap > 0 && p.snap < len(b) {
		b = b[:p.snap]
	}
	return b, wire
}

// bytes returns the capture file's contents.
func (c *capture) bytes() ([]byte, error) {
	if c.raw != nil {
		return c.raw, nil
	}
	var buf bytes.Buffer
	if err := c.writePackets(&buf); err != nil {
		return nil, fmt.Errorf("encode capture %s: %w", c.name, err)
	}
	out, err := compress(buf.Bytes(), c.format)
	if err != nil {
		return nil, fmt.Errorf("compress capture %s: %w", c.name, err)
	}
	return out[:len(out)-c.cut], nil
}

func (c *capture) writePackets(buf *bytes.Buffer) error {
	switch c.format {
	case fmtPcapng, fmtPcapngBE, fmtPcapngNano, fmtPcapngSections, fmtPcapngSimple, fmtPcapngFar:
		return c.writePcapng(buf)
	}
	w, err := pcapfile.NewWriterConfig(buf, pcapfile.WriterConfig{LinkType: c.link, Snaplen: 65535,
		BigEndian: c.format == fmtPcapBE, Nanosecond: c.format == fmtPcapNano})
	if err != nil {
		return err
	}
	return c.each(func(p *pkt, wire uint32, data []byte) error { return w.WritePacket(p.ts, wire, data) })
}

func (c *capture) writePcapng(buf *bytes.Buffer) error {
	w, err := pcapfile.NewNgWriter(buf, c.format == fmtPcapngBE)
	if err != nil {
		return err
	}
	ifc := pcapfile.NgInterface{LinkType: c.link, Snaplen: 65535}
	if c.format == fmtPcapngNano {
		ifc.TsResol = 9
	}
	if c.format == fmtPcapngSimple {
		ifc.TsOffset = 100
	}
	id, err := w.AddInterface(ifc)
	if err != nil {
		return err
	}
	id2 := id
	if c.second != nil {
		snaplen := c.second.snaplen
		if snaplen == 0 {
			snaplen = 65535
		}
		if id2, err = w.AddInterface(pcapfile.NgInterface{LinkType: c.second.link, Snaplen: snaplen}); err != nil {
			return err
		}
	}
	n := 0
	return c.each(func(p *pkt, wire uint32, data []byte) error {
		if n++; c.format == fmtPcapngSections && n == len(c.s.pkts)/2+1 {
			if err := w.NewSection(); err != nil {
				return err
			}
			if id, err = w.AddInterface(ifc); err != nil {
				return err
			}
		}
		if c.onSecond(p) {
			return w.WritePacket(id2, p.ts, wire, data)
		}
		if c.format == fmtPcapngSimple {
			return w.WriteSimple(wire, data)
		}
		if c.format == fmtPcapngFar {
			return w.WriteBlock(blockEPB, farEPB(p.ts, wire, data))
		}
		return w.WritePacket(id, p.ts, wire, data)
	})
}

// blockEPB is the pcapng Enhanced Packet Block type.
const blockEPB = 6

// farEPB is the body of an Enhanced Packet Block on interface 0 (µs) for a
// packet at ts (ns) plus 300 years, a time int64 nanoseconds cannot hold.
func farEPB(ts int64, wire uint32, data []byte) []byte {
	const years300 = 300 * 365 * 86400 * uint64(1e6)
	us := uint64(ts/1e3) + years300
	body := binary.LittleEndian.AppendUint32(nil, 0)
	body = binary.LittleEndian.AppendUint32(body, uint32(us>>32))
	body = binary.LittleEndian.AppendUint32(body, uint32(us))
	body = binary.LittleEndian.AppendUint32(body, uint32(len(data)))
	body = binary.LittleEndian.AppendUint32(body, wire)
	return append(body, data...)
}

func (c *capture) onSecond(p *pkt) bool { return c.second != nil && c.second.has(p) }

// each encodes the capture's packets in order, tweaks applied.
func (c *capture) each(fn func(p *pkt, wire uint32, data []byte) error) error {
	for _, orig := range c.s.pkts {
		p := *orig
		if c.tweak != nil && !c.tweak(&p) {
			continue
		}
		data, wire := c.frame(&p)
		if err := fn(&p, wire, data); err != nil {
			return err
		}
	}
	return nil
}

// macRemap rewrites the report's mac_daddr/mac_saddr attributes from what
// tcpflow derives from alt's frames to what it derives from orig's: bytes
// 0–5 and 6–11 of a flow's first frame, whatever the link type (reference
// §4.1), omitted when all zero. orig and alt must encode the same packets.
func macRemap(orig, alt *capture) Transform {
	return Transform{Name: "MAC attributes from the bytes of " + orig.name, Apply: func(s *flowdiff.Snapshot) error {
		pairs, err := macPairs(orig, alt)
		if err != nil {
			return err
		}
		r := strings.NewReplacer(pairs...)
		return editReports(s, func(b []byte) ([]byte, error) { return []byte(r.Replace(string(b))), nil })
	}}
}

func macPairs(orig, alt *capture) ([]string, error) {
	var o, a []string
	collect := func(dst *[]string) func(*pkt, uint32, []byte) error {
		return func(_ *pkt, _ uint32, data []byte) error {
			*dst = append(*dst, macAttrs(data)+" family=")
			return nil
		}
	}
	if err := orig.each(collect(&o)); err != nil {
		return nil, err
	}
	if err := alt.each(collect(&a)); err != nil {
		return nil, err
	}
	if len(o) != len(a) {
		return nil, fmt.Errorf("%s has %d frames, %s %d", orig.name, len(o), alt.name, len(a))
	}
	seen := map[string]string{}
	var pairs []string
	for i := range a {
		if prev, ok := seen[a[i]]; ok {
			if prev != o[i] {
				return nil, fmt.Errorf("frame %d: %q maps to both %q and %q", i, a[i], prev, o[i])
			}
			continue
		}
		seen[a[i]] = o[i]
		pairs = append(pairs, a[i], o[i])
	}
	return pairs, nil
}

func macAttrs(frame []byte) string {
	var b strings.Builder
	for _, f := range []struct {
		name string
		mac  []byte
	}{{"mac_daddr", frame[0:6]}, {"mac_saddr", frame[6:12]}} {
		if string(f.mac) == "\x00\x00\x00\x00\x00\x00" {
			continue
		}
		fmt.Fprintf(&b, " %s='%02x:%02x:%02x:%02x:%02x:%02x'", f.name, f.mac[0], f.mac[1], f.mac[2], f.mac[3], f.mac[4], f.mac[5])
	}
	return b.String()
}

func compress(pcap []byte, f format) ([]byte, error) {
	var out bytes.Buffer
	var zw io.WriteCloser
	var err error
	switch f {
	case fmtPcapGzip:
		// Stored blocks: the bytes do not depend on the compressor's version.
		zw, err = gzip.NewWriterLevel(&out, gzip.NoCompression)
	case fmtPcapXz:
		zw, err = xz.NewWriter(&out)
	case fmtPcapLzma:
		zw, err = lzma.NewWriter(&out)
	default:
		return pcap, nil
	}
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(pcap); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
