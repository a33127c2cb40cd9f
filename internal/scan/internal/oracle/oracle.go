// Package oracle builds small HTTP captures and runs Debian's tcpflow 1.6.1 on
// them, so the scanner tests can record and re-check tcpflow's own output.
// It is test support only: nothing outside internal/scan imports it.
package oracle

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// Fixed endpoints and times of every generated capture (the reference's
// conventions: client 192.168.1.1:54156, server 10.0.0.2:80, ISNs 1000 and
// 5000, first packet at 1600000000 s, one millisecond apart).
const (
	clientISN = 1000
	serverISN = 5000
	startSec  = 1600000000
	mss       = 1448
)

var (
	clientIP  = [4]byte{192, 168, 1, 1}
	serverIP  = [4]byte{10, 0, 0, 2}
	clientMAC = [6]byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55}
	serverMAC = [6]byte{0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb}
)

// ServerFlow is the name tcpflow gives the server→client flow file of the
// first connection of a capture.
const ServerFlow = "010.000.000.002.00080-192.168.001.001.54156"

// ServerFlowN is the server→client flow file name of connection i.
func ServerFlowN(i int) string {
	return fmt.Sprintf("010.000.000.002.00080-192.168.001.001.%05d", clientPort+i)
}

const clientPort = 54156

// Exchange is one TCP connection: the client sends Request, the server
// answers with Response; both sides then close with FIN.
type Exchange struct {
	Request  []byte
	Response []byte
}

// Capture returns the exchanges as one pcap, one after the other, connection
// i from client port 54156+i.
func Capture(xs ...Exchange) []byte {
	var w pcapWriter
	w.header()
	for i, x := range xs {
		w.exchange(x, uint16(clientPort+i))
	}
	return w.buf.Bytes()
}

type endpoint struct {
	mac  [6]byte
	ip   [4]byte
	port uint16
	seq  uint32
	ack  uint32
}

// PCAP returns the exchange as a classic little-endian microsecond pcap
// (Ethernet link type).
func (x Exchange) PCAP() []byte { return Capture(x) }

func (w *pcapWriter) exchange(x Exchange, port uint16) {
	c := &endpoint{mac: clientMAC, ip: clientIP, port: port, seq: clientISN}
	s := &endpoint{mac: serverMAC, ip: serverIP, port: 80, seq: serverISN}
	w.segment(c, s, flagSYN, nil)
	c.seq++
	w.segment(s, c, flagSYN|flagACK, nil)
	s.seq++
	w.data(c, s, x.Request)
	w.data(s, c, x.Response)
	w.segment(s, c, flagFIN|flagACK, nil)
	s.seq++
	w.segment(c, s, flagFIN|flagACK, nil)
	c.seq++
	w.segment(s, c, flagACK, nil)
}

const (
	flagFIN = 0x01
	flagSYN = 0x02
	flagPSH = 0x08
	flagACK = 0x10
)

type pcapWriter struct {
	buf     bytes.Buffer
	packets int
}

func (w *pcapWriter) header() {
	var h [24]byte
	le := binary.LittleEndian
	le.PutUint32(h[0:], 0xa1b2c3d4)
	le.PutUint16(h[4:], 2)
	le.PutUint16(h[6:], 4)
	le.PutUint32(h[16:], 65535)
	le.PutUint32(h[20:], 1)
	w.buf.Write(h[:])
}

// data sends payload from a to b in MSS-sized segments.
func (w *pcapWriter) data(from, to *endpoint, payload []byte) {
	for len(payload) > 0 {
		n := min(len(payload), mss)
		w.segment(from, to, flagPSH|flagACK, payload[:n])
		from.seq += uint32(n)
		payload = payload[n:]
	}
}

// segment appends one Ethernet/IPv4/TCP frame from a to b.
func (w *pcapWriter) segment(from, to *endpoint, flags uint8, payload []byte) {
	be := binary.BigEndian
	frame := make([]byte, 14+20+20+len(payload))
	copy(frame[0:6], to.mac[:])
	copy(frame[6:12], from.mac[:])
	be.PutUint16(frame[12:], 0x0800)
	ip := frame[14:34]
	ip[0] = 0x45
	be.PutUint16(ip[2:], uint16(40+len(payload)))
	be.PutUint16(ip[4:], uint16(w.packets))
	ip[8] = 64
	ip[9] = 6
	copy(ip[12:16], from.ip[:])
	copy(ip[16:20], to.ip[:])
	be.PutUint16(ip[10:], onesComplement(ip, 0))
	tcp := frame[34:54]
	be.PutUint16(tcp[0:], from.port)
	be.PutUint16(tcp[2:], to.port)
	be.PutUint32(tcp[4:], from.seq)
	if flags&flagACK != 0 {
		be.PutUint32(tcp[8:], to.seq)
	}
	tcp[12] = 5 << 4
	tcp[13] = flags
	be.PutUint16(tcp[14:], 65535)
	copy(frame[54:], payload)
	pseudo := uint32(6 + 20 + len(payload))
	for i := 0; i < 4; i += 2 {
		pseudo += uint32(be.Uint16(from.ip[i:])) + uint32(be.Uint16(to.ip[i:]))
	}
	be.PutUint16(tcp[16:], onesComplement(frame[34:], pseudo))

	var rec [16]byte
	le := binary.LittleEndian
	le.PutUint32(rec[0:], startSec+uint32(w.packets/1000))
	le.PutUint32(rec[4:], uint32(w.packets%1000)*1000)
	le.PutUint32(rec[8:], uint32(len(frame)))
	le.PutUint32(rec[12:], uint32(len(frame)))
	w.buf.Write(rec[:])
	w.buf.Write(frame)
	w.packets++
}

// onesComplement is the Internet checksum of b added to a partial sum.
func onesComplement(b []byte, sum uint32) uint16 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// Path is where Debian's tcpflow is installed.
const Path = "/usr/bin/tcpflow"

// ErrNoTCPFlow says the oracle is not installed here.
var ErrNoTCPFlow = errors.New("tcpflow 1.6.1 is not installed at " + Path)

// Run runs tcpflow with args in dir and returns its stderr. It fails when
// tcpflow is missing or exits non-zero.
func Run(dir string, args ...string) (string, error) {
	if _, err := os.Stat(Path); err != nil {
		return "", ErrNoTCPFlow
	}
	cmd := exec.Command(Path, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return stderr.String(), fmt.Errorf("run tcpflow %s in %s: %w (stderr %q)", strings.Join(args, " "), dir, err, stderr.String())
	}
	return stderr.String(), nil
}

// fileobjectRE matches a flow's fileobject up to its own closing tag, which
// is the only one indented by four spaces (body byte_runs nest others).
var fileobjectRE = regexp.MustCompile(`(?s)<fileobject>\s*<filename>([^<]*)</filename>.*?<tcpflow [^>]*/>(.*?)\n    </fileobject>`)

// Fragment is the scanner text of one fileobject of a report.xml.
type Fragment struct {
	// Name is the base name of the flow file.
	Name string
	// Text is what tcpflow wrote after the <tcpflow …/> element up to
	// </fileobject>, without the leading newline and six-space indent:
	// exactly what the scanners contributed.
	Text string
}

// Fragments returns the fragments of every fileobject with a filename in the
// report.xml at reportPath, in report (flow closing) order.
func Fragments(reportPath string) ([]Fragment, error) {
	b, err := os.ReadFile(reportPath)
	if err != nil {
		return nil, fmt.Errorf("read tcpflow report: %w", err)
	}
	var out []Fragment
	for _, m := range fileobjectRE.FindAllSubmatch(b, -1) {
		out = append(out, Fragment{
			Name: filepath.Base(string(m[1])),
			Text: strings.TrimPrefix(string(m[2]), "\n      "),
		})
	}
	return out, nil
}
