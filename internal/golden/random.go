package golden

import (
	"fmt"
	"math/rand/v2"

	"github.com/bpflow/bpflow/internal/layers"
	"github.com/bpflow/bpflow/internal/testutil/pktbuild"
)

// Random captures: seeded, so the bytes are fixed, but with the mess real
// traffic has — several connections interleaved, IPv4 and IPv6, ISNs
// anywhere (wraparound), segments reordered, duplicated, retransmitted with
// other bytes, overlapping, lost; connections closed by FIN, by RST, or left
// open. tcpflow's output on them is recorded like any other case.

const randomCaptures = 16

func randomName(i int) string { return fmt.Sprintf("random_%02d.pcap", i) }

// event is one segment of a connection before interleaving.
type event struct {
	c     *conn
	from  side
	flags uint8
	off   uint32 // data offset (ignored for SYN)
	data  string
}

func randomScript(seed uint64) *script {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	s := newScript()
	var queues [][]event
	for i := range 1 + rng.IntN(4) {
		c := s.conn().withISN(rng.Uint32(), rng.Uint32()).withPorts(uint16(30000+i), uint16(80+i))
		if rng.IntN(3) == 0 {
			c.withAddrs(fmt.Sprintf("2001:db8::%x", i+1), "2001:db8:0:1::2")
		}
		queues = append(queues, randomConn(rng, c))
	}
	// Interleave the connections, each keeping its own order.
	for len(queues) > 0 {
		i := rng.IntN(len(queues))
		emit(s, queues[i][0])
		if queues[i] = queues[i][1:]; len(queues[i]) == 0 {
			queues = append(queues[:i], queues[i+1:]...)
		}
	}
	return s
}

func emit(s *script, e event) {
	c := e.c
	var p *pkt
	switch {
	case e.flags == pktbuild.SYN:
		p = &pkt{c: c, from: e.from, flags: e.flags, seq: c.isn[e.from]}
	case e.flags == pktbuild.SYN|pktbuild.ACK:
		p = &pkt{c: c, from: e.from, flags: e.flags, seq: c.isn[e.from], ack: c.isn[1-e.from] + 1}
	default:
		p = &pkt{c: c, from: e.from, flags: e.flags, seq: c.isn[e.from] + 1 + e.off, ack: c.isn[1-e.from] + 1, data: []byte(e.data)}
	}
	s.add(p)
}

// randomConn returns one connection's segments in sending order.
func randomConn(rng *rand.Rand, c *conn) []event {
	var evs []event
	if rng.IntN(5) != 0 {
		evs = append(evs, event{c: c, from: cli, flags: pktbuild.SYN}, event{c: c, from: srv, flags: pktbuild.SYN | pktbuild.ACK})
	}
	streams := [2]string{randomText(rng, rng.IntN(1500)), randomText(rng, rng.IntN(1500))}
	var segs []event
	for from := range 2 {
		segs = append(segs, segment(rng, c, side(from), streams[from])...)
	}
	rng.Shuffle(len(segs), func(i, j int) {
		// Mostly in order: only neighbours change places, now and then.
		if j == i+1 && rng.IntN(8) == 0 {
			segs[i], segs[j] = segs[j], segs[i]
		}
	})
	evs = append(evs, segs...)
	switch rng.IntN(4) {
	case 0: // left open
	case 1:
		evs = append(evs, event{c: c, from: side(rng.IntN(2)), flags: pktbuild.RST | pktbuild.ACK, off: uint32(len(streams[0]))})
	default:
		evs = append(evs,
			event{c: c, from: cli, flags: pktbuild.FIN | pktbuild.ACK, off: uint32(len(streams[cli]))},
			event{c: c, from: srv, flags: pktbuild.FIN | pktbuild.ACK, off: uint32(len(streams[srv]))})
	}
	return evs
}

// segment cuts a stream into segments, with losses, duplicates, altered
// retransmissions and overlaps.
func segment(rng *rand.Rand, c *conn, from side, stream string) []event {
	var out []event
	for off := 0; off < len(stream); {
		n := min(1+rng.IntN(400), len(stream)-off)
		e := event{c: c, from: from, flags: pktbuild.PSH | pktbuild.ACK, off: uint32(off), data: stream[off : off+n]}
		switch rng.IntN(20) {
		case 0: // lost
		case 1: // duplicated
			out = append(out, e, e)
		case 2: // retransmitted with other bytes
			alt := e
			alt.data = randomText(rng, n)
			out = append(out, e, alt)
		case 3: // overlapping resend of the previous bytes and these
			back := min(off, 1+rng.IntN(50))
			out = append(out, e, event{c: c, from: from, flags: e.flags, off: uint32(off - back), data: stream[off-back : off+n]})
		default:
			out = append(out, e)
		}
		off += n
	}
	return out
}

func randomText(rng *rand.Rand, n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 \n"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b)
}

// randomPadded: how many random captures also come with Ethernet padding.
const randomPadded = 4

func randomPaddedName(i int) string { return fmt.Sprintf("random_%02d_padded.pcap", i) }

func randomPaddedScript(seed uint64) *script {
	s := randomScript(seed)
	for _, p := range s.pkts {
		if p.c.ep[cli].addr.Is4() {
			p.pad = padTo60(p, 0)
		}
	}
	return s
}

func randomCapturesList() []*capture {
	var cs []*capture
	for i := range randomCaptures {
		cs = append(cs, eth(randomName(i), randomScript(uint64(i))))
	}
	for i := range randomPadded {
		cs = append(cs, eth(randomPaddedName(i), randomPaddedScript(uint64(i))),
			&capture{name: "alt_" + randomPaddedName(i), s: randomPaddedScript(uint64(i)), link: layers.LinkEthernet, header: ethernet, tweak: padUncaptured})
	}
	return cs
}

// randomCases runs each random capture in file mode and in console mode,
// some also with the options that stress the engine (-f 1: every write
// reopens a file; -b; -m small enough to split flows).
func randomCases() []Case {
	var cs []Case
	for i := range randomCaptures {
		name, capture := fmt.Sprintf("random_%02d", i), randomName(i)
		cs = append(cs, file(name, capture), console("c_"+name, capture, "-c"))
		if i < 6 {
			cs = append(cs, file(name+"_f1", capture, "-f", "1"), file(name+"_b200", capture, "-b", "200"),
				file(name+"_m300", capture, "-m", "300"), console("c_"+name+"_b100", capture, "-c", "-b", "100"))
		}
		if i < 3 {
			cs = append(cs, console("c_"+name+"_D", capture, "-c", "-D"), console("C_"+name+"_gB", capture, "-C", "-g", "-B"),
				file(name+"_Fk_T", capture, "-Fk", "-T", "%N-%A.%a-%B.%b%C%c"))
		}
	}
	for i := range randomPadded {
		c := file(fmt.Sprintf("random_%02d_padded", i), randomPaddedName(i))
		c.Diff = &Difference{Design: "4.1 Ethernet padding is not data",
			AltArgs: []string{"-r", in("alt_" + randomPaddedName(i))}, Fix: []Transform{dropAttr("caplen")}}
		cs = append(cs, c)
	}
	return cs
}
