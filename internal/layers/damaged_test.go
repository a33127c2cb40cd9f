package layers_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
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
	}
	compared, printed := 0, 0
	for _, base := range bases {
		hdrLen := len(base.frame) - len(payload)
		for i := range 40 {
			c := base
			c.name = fmt.Sprintf("%s #%d", base.name, i)
			c.frame = bytes.Clone(base.frame)
			for range 1 + rng.IntN(2) {
				off := rng.IntN(hdrLen)
				if off == hdrLen-20+13 { // TCP flags steer the flow engine, not the decoder
					continue
				}
				c.frame[off] = byte(rng.IntN(256))
			}
			if rng.IntN(4) == 0 {
				c.frame = c.frame[:hdrLen-rng.IntN(hdrLen)+rng.IntN(len(payload))]
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
