package layers_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/bpflow/bpflow/internal/layers"
	"github.com/bpflow/bpflow/internal/testutil/pktbuild"
)

// deliberateDifference reports whether a frame hits one of DESIGN §4's
// differences, judged from the raw bytes (not from Decode), so the
// differential test below leaves it out.
func deliberateDifference(c decodeCase) bool {
	ip, differs := rawIP(c)
	if differs {
		return true
	}
	if len(ip) < 20 {
		return false
	}
	switch ip[0] >> 4 {
	case 4:
		ihl := int(ip[0]&0xf) * 4
		total := int(binary.BigEndian.Uint16(ip[2:]))
		if ihl < 20 || total < len(ip) || ihl > len(ip) {
			return true // header read as TCP, padding as payload, or wrapped lengths
		}
		if len(ip) >= ihl+20 && ip[ihl+12]>>4 < 5 {
			return true
		}
	case 6:
		if len(ip) < 40 {
			return false
		}
		switch ip[6] {
		case 0, 43, 44, 51, 60: // extension headers
			return true
		}
		if int(binary.BigEndian.Uint16(ip[4:])) > len(ip)-40 {
			return true
		}
		if len(ip) >= 60 && ip[52]>>4 < 5 {
			return true
		}
	}
	return false
}

// rawIP finds the IP header of the test frames' link layers (Ethernet with
// tags, NULL); differs is true for NULL families only bpflow accepts.
func rawIP(c decodeCase) (ip []byte, differs bool) {
	d := c.frame
	switch c.link {
	case layers.LinkNull:
		if len(d) < 4 {
			return nil, false
		}
		if d[0] == 2 || d[0] == 10 { // tcpflow compares the first byte only
			return d[4:], false
		}
		known := func(af uint32) bool { return af == 2 || af == 10 || af == 24 || af == 28 || af == 30 }
		return nil, known(binary.LittleEndian.Uint32(d)) || known(binary.BigEndian.Uint32(d))
	case layers.LinkRadiotap: // to-DS data frame, SNAP, FCS (damage spares these)
		hlen := int(binary.LittleEndian.Uint16(d[2:]))
		return d[hlen+24+8 : len(d)-4], false
	case layers.LinkEthernet:
		off := 12
		for len(d) >= off+2 {
			switch binary.BigEndian.Uint16(d[off:]) {
			case 0x8100, 0x88a8, 0x9100:
				off += 4
				continue
			}
			return d[off+2:], false
		}
	}
	return nil, false
}

var (
	radiotap    = pktbuild.Radiotap{Present: []uint32{1 << 1}, Fields: []byte{pktbuild.RadiotapFlagsFCS}}
	radiotapLen = 9
	toAP        = pktbuild.Dot11{FC: pktbuild.Dot11Data | pktbuild.Dot11ToDS, Addr1: [6]byte{2, 0, 0, 0, 0, 0xa}, Addr2: [6]byte{2, 0, 0, 0, 0, 0xb}}
)

// Frames with random header bytes overwritten decode as tcpflow 1.6.1 decodes
// them (its -c -D output), except where DESIGN §4 differs on purpose.
func TestDamagedFramesAgainstTcpflow(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 8))
	payload := pktbuild.Payload("damaged frame payload")
	v4 := pktbuild.IPv4{Src: v4A, Dst: v4B}
	v6 := pktbuild.IPv6{Src: v6A, Dst: v6B}
	bases := []decodeCase{
		{name: "ethernet ipv4", link: layers.LinkEthernet, frame: pktbuild.Build(eth, v4, tcpSeg(), payload)},
		{name: "vlan ipv4", link: layers.LinkEthernet, frame: pktbuild.Build(tagged(pktbuild.Tag{TPID: 0x8100, TCI: 7}), v4, tcpSeg(), payload)},
		{name: "ethernet ipv6", link: layers.LinkEthernet, frame: pktbuild.Build(eth, v6, tcpSeg(), payload)},
		{name: "null ipv4", link: layers.LinkNull, frame: pktbuild.Build(pktbuild.Null{}, v4, tcpSeg(), payload)},
		{name: "radiotap ipv4", link: layers.LinkRadiotap, frame: pktbuild.AppendFCS(pktbuild.Build(radiotap, toAP, pktbuild.LLC{}, v4, tcpSeg(), payload), radiotapLen)},
	}
	compared, printed := 0, 0
	for _, base := range bases {
		hdrLen := len(base.frame) - len(payload)
		from := 0
		if base.link == layers.LinkRadiotap {
			hdrLen -= 4 // the FCS
			from = radiotapLen + 24 + 8
		}
		for i := range 40 {
			c := base
			c.name = fmt.Sprintf("%s #%d", base.name, i)
			// TCP flags steer the flow engine, not the decoder: keep them.
			c.frame = damage(rng, base.frame, from, hdrLen, hdrLen-20+13, base.link != layers.LinkRadiotap)
			if base.link == layers.LinkRadiotap { // a valid FCS again
				c.frame = pktbuild.AppendFCS(c.frame[:len(c.frame)-4], radiotapLen)
			}
			if deliberateDifference(c) {
				continue
			}
			compared++
			st, s := ours(t, c)
			name, want, ok, refused := tcpflowView(t, writeCase(t, c))
			if refused != "" {
				t.Fatalf("%s: tcpflow refused the capture: %s", c.name, refused)
			}
			if !ok {
				if st == layers.StatusTCP && len(s.Payload) > 0 {
					t.Errorf("%s: decoded %d payload bytes; tcpflow prints nothing\n%x", c.name, len(s.Payload), c.frame)
				}
				continue
			}
			printed++
			if st != layers.StatusTCP || !bytes.Equal(s.Payload, want) || flowName(s) != name {
				t.Errorf("%s: status %d %s %q; tcpflow %s %q\n%x", c.name, st, flowName(s), s.Payload, name, want, c.frame)
			}
		}
	}
	t.Logf("compared %d damaged frames, %d of them printed by tcpflow", compared, printed)
	if compared < 80 || printed < 20 {
		t.Errorf("too few comparisons: %d frames, %d printed", compared, printed)
	}
}

// damage returns a copy of frame with one or two bytes in [lo, hi) other than
// keep overwritten, and sometimes cut short (cut).
func damage(rng *rand.Rand, frame []byte, lo, hi, keep int, cut bool) []byte {
	f := bytes.Clone(frame)
	for range 1 + rng.IntN(2) {
		if off := lo + rng.IntN(hi-lo); off != keep {
			f[off] = byte(rng.IntN(256))
		}
	}
	if cut && rng.IntN(4) == 0 {
		f = f[:rng.IntN(len(f))+1]
	}
	return f
}

// Damaged frames decode as tcpdump decodes them: the oracle for the cases
// where bpflow differs from tcpflow on purpose (§4), which are kept here.
func TestDamagedFramesAgainstTcpdump(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 13))
	payload := pktbuild.Payload("damaged frame payload")
	v4 := pktbuild.IPv4{Src: v4A, Dst: v4B}
	v6 := pktbuild.IPv6{Src: v6A, Dst: v6B, ExtHeaders: []pktbuild.ExtHeader{{Type: pktbuild.ProtoDestOpts}}}
	bases := []decodeCase{
		{name: "ethernet ipv4", link: layers.LinkEthernet, frame: pktbuild.Build(eth, v4, tcpSeg(), payload)},
		{name: "ethernet ipv6", link: layers.LinkEthernet, frame: pktbuild.Build(eth, v6, tcpSeg(), payload)},
	}
	tcp := 0 // frames tcpdump decodes as TCP
	for _, base := range bases {
		hdrLen := len(base.frame) - len(payload)
		for i := range 40 {
			c := base
			c.name = fmt.Sprintf("%s #%d", base.name, i)
			c.frame = damage(rng, base.frame, 14, hdrLen, -1, false)
			st, s := ours(t, c)
			want, ok, line := tcpdumpView(t, writeCase(t, c))
			if !ok {
				if st == layers.StatusTCP && len(s.Payload) > 0 {
					t.Errorf("%s: decoded %d payload bytes; tcpdump sees no TCP segment:\n%s", c.name, len(s.Payload), line)
				}
				continue
			}
			tcp++
			if st != layers.StatusTCP {
				t.Errorf("%s: status %d; tcpdump decodes TCP:\n%s", c.name, st, line)
				continue
			}
			got := seen(s)
			if want.Src == "" {
				got.Src, got.Dst = "", ""
			}
			if strings.Contains(line, "truncated-ip") { // tcpdump gives the header's length, bpflow what was captured
				got.PayloadLen = want.PayloadLen
			}
			if got != want {
				t.Errorf("%s:\n got  %+v\n want %+v\n%s", c.name, got, want, line)
			}
		}
	}
	if tcp < 40 {
		t.Errorf("tcpdump decoded only %d of 80 damaged frames as TCP", tcp)
	}
}
