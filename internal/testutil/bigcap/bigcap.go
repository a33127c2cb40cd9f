// Package bigcap writes large synthetic captures for the offline benchmark:
// many interleaved TCP connections of mixed sizes (handshake, request,
// response, FIN both ways, delayed ACKs), MTU-sized Ethernet frames with
// timestamp options, as a busy server's wire capture looks.
//
// Every stream's payload is the shared benchmark pattern (byte i of each
// direction is Pattern(i)), the one ../shared/bench/flowgen checks, so output
// can be verified byte for byte. The same seed always gives the same file.
package bigcap

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/netip"

	"github.com/bpflow/bpflow/internal/layers"
	"github.com/bpflow/bpflow/internal/pcapfile"
	"github.com/bpflow/bpflow/internal/testutil/pktbuild"
)

// Config says what to generate.
type Config struct {
	// Bytes is the capture size to reach (within one connection).
	Bytes int64
	// Concurrent is how many connections are interleaved at any time.
	Concurrent int
	// Seed makes the file reproducible.
	Seed uint64
}

// Stats describe what was written.
type Stats struct {
	Bytes, Packets, Connections, PayloadBytes int64
}

// Write generates the capture described by cfg into w (classic pcap,
// Ethernet, µs).
func Write(w io.Writer, cfg Config) (Stats, error) {
	if cfg.Concurrent <= 0 {
		cfg.Concurrent = 64
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	pw, err := pcapfile.NewWriter(bw, layers.LinkEthernet, 262144)
	if err != nil {
		return Stats{}, err
	}
	g := &generator{cfg: cfg, pw: pw, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)), ts: pktbuild.BaseTime}
	g.stats.Bytes = 24
	if err := g.run(); err != nil {
		return g.stats, err
	}
	if err := bw.Flush(); err != nil {
		return g.stats, fmt.Errorf("flush capture: %w", err)
	}
	return g.stats, nil
}

const (
	mss       = 1448 // payload per full segment with the timestamp option
	frameSize = 14 + 20 + 32
)

type generator struct {
	cfg   Config
	pw    *pcapfile.Writer
	rng   *rand.Rand
	ts    int64
	next  int // connection counter, for addresses and ports
	buf   []byte
	stats Stats
}

// conn is one connection's progress: a request, then a response.
type conn struct {
	cli, srv        netip.Addr
	cport, sport    uint16
	cisn, sisn      uint32
	reqLen, respLen int64
	reqSent, rspSnt int64
	unacked         int // data segments since the last ACK
	step            int
}

func (g *generator) run() error {
	active := make([]*conn, 0, g.cfg.Concurrent)
	// Connections are started while the bytes they will add (known from
	// their sizes) keep the file within the target.
	planned := g.stats.Bytes
	for planned < g.cfg.Bytes || len(active) > 0 {
		for len(active) < g.cfg.Concurrent && planned < g.cfg.Bytes {
			c := g.newConn()
			planned += c.plannedBytes()
			active = append(active, c)
		}
		if len(active) == 0 {
			break
		}
		// Advance a random active connection by one packet.
		i := g.rng.IntN(len(active))
		done, err := g.step(active[i])
		if err != nil {
			return err
		}
		if done {
			active[i] = active[len(active)-1]
			active = active[:len(active)-1]
			g.stats.Connections++
		}
	}
	return nil
}

func (g *generator) newConn() *conn {
	n := g.next
	g.next++
	return &conn{
		cli:     netip.AddrFrom4([4]byte{10, byte(1 + n>>16&0x3f), byte(n >> 8), byte(n)}),
		srv:     netip.AddrFrom4([4]byte{192, 168, 0, byte(1 + n%8)}),
		cport:   uint16(1024 + g.rng.IntN(60000)),
		sport:   []uint16{80, 443, 8080, 5001}[n%4],
		cisn:    g.rng.Uint32(),
		sisn:    g.rng.Uint32(),
		reqLen:  int64(100 + g.rng.IntN(1900)),
		respLen: flowSize(g.rng.Float64(), g.rng.Float64()),
	}
}

// plannedBytes is what the connection adds to the file: its payload and,
// per packet, a record header and the frame headers (ACKs every second
// response segment, 7 control packets).
func (c *conn) plannedBytes() int64 {
	reqSegs := (c.reqLen + mss - 1) / mss
	respSegs := (c.respLen + mss - 1) / mss
	packets := 7 + reqSegs + respSegs + respSegs/2
	return c.reqLen + c.respLen + packets*(16+frameSize)
}

// flowSize is heavy-tailed: 70 % 100 B–4 KiB, 27 % 4–256 KiB, 3 % 256 KiB–8 MiB
// (log-uniform within each band).
func flowSize(u1, u2 float64) int64 {
	lo, hi := 100.0, 4096.0
	switch {
	case u1 < 0.70:
	case u1 < 0.97:
		lo, hi = 4096, 256<<10
	default:
		lo, hi = 256<<10, 8<<20
	}
	return int64(math.Exp(math.Log(lo) + u2*(math.Log(hi)-math.Log(lo))))
}

// step emits the connection's next packet; done after the last ACK.
func (g *generator) step(c *conn) (done bool, err error) {
	up := func(seq, ack uint32, flags uint8, payload []byte) error {
		return g.emit(c.cli, c.srv, c.cport, c.sport, seq, ack, flags, payload)
	}
	down := func(seq, ack uint32, flags uint8, payload []byte) error {
		return g.emit(c.srv, c.cli, c.sport, c.cport, seq, ack, flags, payload)
	}
	cseq := c.cisn + 1 + uint32(c.reqSent)
	sseq := c.sisn + 1 + uint32(c.rspSnt)
	switch c.step {
	case 0:
		c.step++
		return false, up(c.cisn, 0, pktbuild.SYN, nil)
	case 1:
		c.step++
		return false, down(c.sisn, c.cisn+1, pktbuild.SYN|pktbuild.ACK, nil)
	case 2:
		c.step++
		return false, up(cseq, sseq, pktbuild.ACK, nil)
	case 3: // request
		n := min(int64(mss), c.reqLen-c.reqSent)
		c.reqSent += n
		if c.reqSent == c.reqLen {
			c.step++
		}
		return false, up(cseq, sseq, pktbuild.PSH|pktbuild.ACK, Pattern(cseq-c.cisn-1, int(n)))
	case 4: // response, ACKed every second segment
		if c.unacked == 2 {
			c.unacked = 0
			return false, up(cseq, sseq, pktbuild.ACK, nil)
		}
		n := min(int64(mss), c.respLen-c.rspSnt)
		c.rspSnt += n
		c.unacked++
		if c.rspSnt == c.respLen {
			c.step++
		}
		return false, down(sseq, cseq, pktbuild.ACK, Pattern(sseq-c.sisn-1, int(n)))
	case 5:
		c.step++
		return false, down(sseq, cseq, pktbuild.FIN|pktbuild.ACK, nil)
	case 6:
		c.step++
		return false, up(cseq, sseq+1, pktbuild.FIN|pktbuild.ACK, nil)
	default:
		return true, down(sseq+1, cseq+1, pktbuild.ACK, nil)
	}
}

func (g *generator) emit(src, dst netip.Addr, sport, dport uint16, seq, ack uint32, flags uint8, payload []byte) error {
	g.ts += int64(1000 + g.rng.IntN(20000)) // 1–21 µs apart
	ts := uint32(g.ts / 1e6)
	opts := []byte{1, 1, 8, 10, byte(ts >> 24), byte(ts >> 16), byte(ts >> 8), byte(ts), 0, 0, 0, 1}
	g.buf = pktbuild.Append(g.buf[:0],
		pktbuild.Ethernet{Dst: macOf(dst), Src: macOf(src)},
		pktbuild.IPv4{Src: src, Dst: dst, Flags: pktbuild.IPv4DontFragment},
		pktbuild.TCP{SrcPort: sport, DstPort: dport, Seq: seq, Ack: ack, Flags: flags, Window: 502, Options: opts},
		pktbuild.Payload(payload))
	g.stats.Packets++
	g.stats.PayloadBytes += int64(len(payload))
	g.stats.Bytes += 16 + int64(len(g.buf))
	return g.pw.WritePacket(g.ts, 0, g.buf)
}

func macOf(a netip.Addr) [6]byte {
	b := a.As4()
	return [6]byte{2, 0, b[0], b[1], b[2], b[3]}
}

// patPeriod is prime, so the pattern never lines up with segment sizes.
const patPeriod = 65521

// pattern holds one period plus one full segment, so any segment is a
// sub-slice.
var pattern = func() []byte {
	b := make([]byte, patPeriod+mss)
	for i := range b {
		k := uint32(i % patPeriod)
		b[i] = byte(1 + ((k*2654435761)>>24)%255)
	}
	return b
}()

// Pattern returns the n (≤ 1448) payload bytes at stream offset off.
func Pattern(off uint32, n int) []byte {
	s := int(off % patPeriod)
	return pattern[s : s+n]
}
