package golden

import (
	"net/netip"

	"github.com/bpflow/bpflow/internal/testutil/pktbuild"
)

// baseTime is the first packet time of every capture: 1600000000 s =
// 2020-09-13T12:26:40Z, 1 ms between packets unless a script pauses.
const (
	baseTime = 1_600_000_000 * 1e9
	tick     = 1e6
)

// side is one end of a connection.
type side int

const (
	cli side = 0 // the side that sends the SYN
	srv side = 1
)

// endpoint is an address, a port and the MAC its frames carry.
type endpoint struct {
	addr netip.Addr
	port uint16
	mac  [6]byte
}

var (
	defaultClient = endpoint{netip.MustParseAddr("192.168.1.1"), 54156, [6]byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55}}
	defaultServer = endpoint{netip.MustParseAddr("10.0.0.2"), 80, [6]byte{0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb}}
)

// script is the packet sequence of one capture, in capture order.
type script struct {
	pkts []*pkt
	now  int64 // time of the next packet, ns since the epoch
}

func newScript() *script { return &script{now: baseTime} }

// pause moves the clock forward by d nanoseconds (on top of the usual tick).
func (s *script) pause(d int64) { s.now += d }

func (s *script) add(p *pkt) *pkt {
	p.ts = s.now
	s.now += tick
	s.pkts = append(s.pkts, p)
	return p
}

// pkt is one TCP segment plus the tweaks that make it odd on purpose.
type pkt struct {
	ts       int64
	c        *conn
	from     side
	flags    uint8
	seq, ack uint32
	data     []byte

	tags      []pktbuild.Tag // Ethernet tags, outermost first (default: the connection's)
	pad       []byte         // bytes appended after the IP datagram (Ethernet padding)
	padUncapt bool           // pad counts in the wire length but was not captured
	snap      int            // captured length of the frame (0: all of it)
	ipOpts    []byte
	tcpOpts   []byte
	dataOff   uint8
	ipTotal   uint16 // IPv4 total length / IPv6 payload length override
	fragMF    bool
	fragOff   uint16
	extHdrs   []pktbuild.ExtHeader
	ipProto   uint8 // other than TCP: a UDP datagram instead (17)
	rawL4     bool  // data is the whole IP payload, no TCP header (a later fragment)
}

// conn is one TCP connection: two endpoints, their ISNs and how far each side
// has sent (relative data offsets, so scripts read like the reference).
type conn struct {
	s    *script
	ep   [2]endpoint
	isn  [2]uint32
	next [2]uint32 // offset of the next byte each side sends, relative to ISN+1
	tags []pktbuild.Tag
}

func (s *script) conn() *conn {
	return &conn{s: s, ep: [2]endpoint{defaultClient, defaultServer}, isn: [2]uint32{1000, 5000}}
}

// withPorts / withAddrs return c changed, for scripts with several connections.
func (c *conn) withPorts(cp, sp uint16) *conn {
	c.ep[cli].port, c.ep[srv].port = cp, sp
	return c
}

func (c *conn) withAddrs(ca, sa string) *conn {
	c.ep[cli].addr, c.ep[srv].addr = netip.MustParseAddr(ca), netip.MustParseAddr(sa)
	return c
}

func (c *conn) withISN(ci, si uint32) *conn {
	c.isn = [2]uint32{ci, si}
	return c
}

func (c *conn) withTags(t ...pktbuild.Tag) *conn {
	c.tags = t
	return c
}

func (c *conn) seg(from side, flags uint8, off uint32, data string) *pkt {
	p := &pkt{c: c, from: from, flags: flags, seq: c.isn[from] + 1 + off, data: []byte(data), tags: c.tags}
	if flags&pktbuild.ACK != 0 {
		p.ack = c.isn[1-from] + 1 + c.next[1-from]
	}
	return c.s.add(p)
}

func (c *conn) syn() *pkt {
	return c.s.add(&pkt{c: c, from: cli, flags: pktbuild.SYN, seq: c.isn[cli], tags: c.tags})
}

func (c *conn) synack() *pkt {
	p := &pkt{c: c, from: srv, flags: pktbuild.SYN | pktbuild.ACK, seq: c.isn[srv], ack: c.isn[cli] + 1, tags: c.tags}
	return c.s.add(p)
}

func (c *conn) ack(from side) *pkt { return c.seg(from, pktbuild.ACK, c.next[from], "") }

// handshake adds SYN, SYN/ACK and ACK.
func (c *conn) handshake() *conn {
	c.syn()
	c.synack()
	c.ack(cli)
	return c
}

// send adds a PSH/ACK segment carrying data at the side's current offset.
func (c *conn) send(from side, data string) *pkt {
	p := c.seg(from, pktbuild.PSH|pktbuild.ACK, c.next[from], data)
	c.next[from] += uint32(len(data))
	return p
}

// at adds data at an explicit offset; the side's offset moves past it if
// that is further than before (offsets compare as 32-bit sequence numbers).
func (c *conn) at(from side, off uint32, data string) *pkt {
	p := c.seg(from, pktbuild.PSH|pktbuild.ACK, off, data)
	if end := off + uint32(len(data)); int32(end-c.next[from]) > 0 {
		c.next[from] = end
	}
	return p
}

func (c *conn) fin(from side) *pkt {
	p := c.seg(from, pktbuild.FIN|pktbuild.ACK, c.next[from], "")
	c.next[from]++
	return p
}

func (c *conn) rst(from side) *pkt {
	return c.seg(from, pktbuild.RST|pktbuild.ACK, c.next[from], "")
}

// close adds FIN from the client, FIN from the server and the last ACK.
func (c *conn) close() {
	c.fin(cli)
	c.fin(srv)
	c.ack(cli)
}
