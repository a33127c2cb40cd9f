package pcapfile_test

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpflow/bpflow/internal/layers"
	"github.com/bpflow/bpflow/internal/pcapfile"
	"github.com/bpflow/bpflow/internal/testutil"
	"github.com/bpflow/bpflow/internal/testutil/pktbuild"
)

var (
	client = netip.MustParseAddr("192.168.1.1")
	server = netip.MustParseAddr("10.0.0.2")
)

// testFrames are Ethernet frames of different sizes, each carrying payload
// so tcpflow -c prints one line per frame.
func testFrames() [][]byte {
	var frames [][]byte
	for i, n := range []int{1, 43, 1460, 7, 300} {
		frames = append(frames, pktbuild.Build(
			pktbuild.Ethernet{Dst: [6]byte{2, 0, 0, 0, 0, 2}, Src: [6]byte{2, 0, 0, 0, 0, 1}},
			pktbuild.IPv4{Src: client, Dst: server, ID: uint16(i)},
			pktbuild.TCP{SrcPort: 54156, DstPort: 80, Seq: 1001 + uint32(i)*2000, Flags: pktbuild.PSH | pktbuild.ACK},
			pktbuild.Payload(bytes.Repeat([]byte{'a' + byte(i)}, n)),
		))
	}
	return frames
}

// times are timestamps that exercise the fraction: ns digits, µs digits,
// second boundaries.
var times = []int64{
	pktbuild.BaseTime,
	pktbuild.BaseTime + 123_456_789,
	pktbuild.BaseTime + 999_999_999,
	pktbuild.BaseTime + 5e9 + 1,
	pktbuild.BaseTime + 86400e9 + 500_000_000,
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func classic(t testing.TB, cfg pcapfile.WriterConfig, frames [][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := pcapfile.NewWriterConfig(&buf, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range frames {
		if err := w.WritePacket(times[i%len(times)], 0, f); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// ngFile writes frames round-robin over interfaces with the given if_tsresol
// values (all Ethernet, same snaplen, so libpcap accepts the file), starting
// a new section every sectionEvery frames (0: never).
func ngFile(t testing.TB, bigEndian bool, resols []uint8, sectionEvery int, simple bool, frames [][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := pcapfile.NewNgWriter(&buf, bigEndian)
	if err != nil {
		t.Fatal(err)
	}
	addIfaces := func() {
		for _, r := range resols {
			if _, err := w.AddInterface(pcapfile.NgInterface{LinkType: layers.LinkEthernet, Snaplen: 65535, TsResol: r}); err != nil {
				t.Fatal(err)
			}
		}
	}
	addIfaces()
	for i, f := range frames {
		if sectionEvery > 0 && i > 0 && i%sectionEvery == 0 {
			if err := w.NewSection(); err != nil {
				t.Fatal(err)
			}
			addIfaces()
		}
		if simple && i%2 == 1 {
			err = w.WriteSimple(0, f)
		} else {
			err = w.WritePacket(uint32(i%len(resols)), times[i%len(times)], 0, f)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func TestReadsWhatLibpcapReads(t *testing.T) {
	frames := testFrames()
	cases := []struct {
		name string
		data []byte
	}{
		{"pcap le usec", classic(t, pcapfile.WriterConfig{LinkType: layers.LinkEthernet, Snaplen: 65535}, frames)},
		{"pcap be usec", classic(t, pcapfile.WriterConfig{LinkType: layers.LinkEthernet, Snaplen: 65535, BigEndian: true}, frames)},
		{"pcap le nsec", classic(t, pcapfile.WriterConfig{LinkType: layers.LinkEthernet, Snaplen: 65535, Nanosecond: true}, frames)},
		{"pcap be nsec", classic(t, pcapfile.WriterConfig{LinkType: layers.LinkEthernet, Snaplen: 65535, Nanosecond: true, BigEndian: true}, frames)},
		{"pcap snaplen 0", classic(t, pcapfile.WriterConfig{LinkType: layers.LinkEthernet}, frames)},
		{"pcap snaplen 100 caplen beyond", classic(t, pcapfile.WriterConfig{LinkType: layers.LinkEthernet, Snaplen: 100}, frames)},
		{"pcapng le", ngFile(t, false, []uint8{0}, 0, false, frames)},
		{"pcapng be", ngFile(t, true, []uint8{0}, 0, false, frames)},
		{"pcapng tsresol ns, ms, 2^-20, 2^-30", ngFile(t, false, []uint8{9, 3, 0x80 | 20, 0x80 | 30}, 0, false, frames)},
		{"pcapng be tsresol 10^-7", ngFile(t, true, []uint8{7}, 0, false, frames)},
		{"pcapng sections", ngFile(t, false, []uint8{0, 9}, 2, false, frames)},
		{"pcapng simple packets", ngFile(t, true, []uint8{6}, 0, true, frames)},
		{"pcapng tsoffset and foreign blocks", ngOffsetFile(t, frames)},
		{"pcapng simple packets with tsoffset", ngSimpleOffsetFile(t, frames)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeFile(t, "in.cap", c.data)
			got, err := ourRecords(t, path)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			diffRecords(t, got, tcpdumpRecords(t, path))
		})
	}
}

func TestCompressedAndStdin(t *testing.T) {
	data := classic(t, pcapfile.WriterConfig{LinkType: layers.LinkEthernet, Snaplen: 65535}, testFrames())
	plain := writeFile(t, "in.pcap", data)
	want := tcpdumpRecords(t, plain)
	for _, tool := range []struct{ ext, cmd string }{{".gz", "gzip"}, {".bz2", "bzip2"}, {".xz", "xz"}, {".lzma", "lzma"}} {
		t.Run(tool.cmd, func(t *testing.T) {
			testutil.RequireTool(t, tool.cmd)
			out, err := exec.Command(tool.cmd, "-c", plain).Output()
			if err != nil {
				t.Fatalf("%s -c: %v", tool.cmd, err)
			}
			got, err := ourRecords(t, writeFile(t, "in.pcap"+tool.ext, out))
			if err != nil {
				t.Fatal(err)
			}
			diffRecords(t, got, want)
		})
	}
	t.Run("zip", func(t *testing.T) {
		testutil.RequireTool(t, "zip")
		archive := filepath.Join(t.TempDir(), "in.pcap.zip")
		if out, err := exec.Command("zip", "-q", "-j", archive, plain).CombinedOutput(); err != nil {
			t.Fatalf("zip: %v\n%s", err, out)
		}
		got, err := ourRecords(t, archive)
		if err != nil {
			t.Fatal(err)
		}
		diffRecords(t, got, want)
	})
	t.Run("stdin", func(t *testing.T) {
		f, err := os.Open(plain)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		old := os.Stdin
		os.Stdin = f
		defer func() { os.Stdin = old }()
		got, err := ourRecords(t, "-")
		if err != nil {
			t.Fatal(err)
		}
		diffRecords(t, got, want)
	})
}

// mutate returns a copy of b with the 32-bit little-endian value at off set.
func mutate(b []byte, off int, v uint32) []byte {
	c := bytes.Clone(b)
	binary.LittleEndian.PutUint32(c[off:], v)
	return c
}

func TestErrorsWordedAsTcpflow(t *testing.T) {
	frames := testFrames()
	pcap := classic(t, pcapfile.WriterConfig{LinkType: layers.LinkEthernet, Snaplen: 65535}, frames)
	ng := ngFile(t, false, []uint8{0}, 0, false, frames)
	rec0 := 24 + 16 + len(frames[0]) // offset of the second classic record
	shbLen, idbLen := 28, 20
	epb0 := shbLen + idbLen // offset of the first EPB
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(pcap)
	zw.Close()
	cases := []struct {
		name string
		data []byte // nil: the file does not exist; "dir": a directory
		ext  string
	}{
		{"missing file", nil, ".pcap"},
		{"directory", []byte("dir"), ".pcap"},
		{"missing gz", nil, ".pcap.gz"},
		{"empty", []byte{}, ".pcap"},
		{"three bytes", pcap[:3], ".pcap"},
		{"magic only", pcap[:4], ".pcap"},
		{"short file header", pcap[:10], ".pcap"},
		{"text", []byte("this is not a capture file, just some text\n"), ".pcap"},
		{"not gzip", []byte("plain text"), ".pcap.gz"},
		{"not zip", []byte("plain text"), ".pcap.zip"},
		{"missing zip", nil, ".pcap.zip"},
		{"archaic version", mutate(pcap, 4, 1|4<<16), ".pcap"},
		{"unsupported version", mutate(pcap, 4, 2|5<<16), ".pcap"},
		{"truncated record data", pcap[:len(pcap)-77], ".pcap"},
		{"truncated record header", pcap[:rec0+5], ".pcap"},
		{"truncated gz", gz.Bytes()[:gz.Len()-30], ".pcap.gz"},
		{"caplen beyond maximum", mutate(pcap, rec0+8, 300000), ".pcap"},
		{"caplen beyond snaplen, file ends", mutate(pcap, rec0+8, 70000), ".pcap"},
		{"pcapng truncated block header", ng[:epb0+5], ".pcapng"},
		{"pcapng truncated block", ng[:len(ng)-20], ".pcapng"},
		{"pcapng zero-length block", mutate(ng, epb0+4, 0), ".pcapng"},
		{"pcapng unaligned block", mutate(ng, epb0+4, 33), ".pcapng"},
		{"pcapng huge block", mutate(ng, epb0+4, 0x7ffffff0), ".pcapng"},
		{"pcapng trailer mismatch", mutate(ng, epb0+4, 32), ".pcapng"},
		{"pcapng unknown interface", mutate(ng, epb0+8, 5), ".pcapng"},
		{"pcapng caplen beyond snaplen", mutate(ng, epb0+20, 0x100000), ".pcapng"},
		{"pcapng caplen beyond block", mutate(ng, epb0+20, 2000), ".pcapng"},
		{"pcapng no interfaces", ng[:shbLen], ".pcapng"},
		{"pcapng short shb", ng[:20], ".pcapng"},
		{"pcapng shb insane", mutate(ng, 4, 8), ".pcapng"},
		{"pcapng bad version", mutate(ng, 12, 2), ".pcapng"},
		{"pcapng idb short", mutate(mutate(ng, shbLen+4, 16), shbLen+12, 16), ".pcapng"},
		{"pcapng packet before idb", append(bytes.Clone(ng[:shbLen]), ng[epb0:]...), ".pcapng"},
		{"pcapng tsresol too fine", tsresolFile(t, 20), ".pcapng"},
		{"pcapng binary tsresol too fine", tsresolFile(t, 0x80|64), ".pcapng"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "in"+c.ext)
			switch {
			case string(c.data) == "dir":
				if err := os.Mkdir(path, 0o755); err != nil {
					t.Fatal(err)
				}
			case c.data != nil:
				if err := os.WriteFile(path, c.data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			wantMsg, wantN := tcpflowError(t, path)
			recs, err := ourRecords(t, path)
			if err == nil {
				t.Fatalf("read %d records and no error; tcpflow said %q", len(recs), wantMsg)
			}
			if got := strings.TrimPrefix(err.Error(), path+": "); got != wantMsg {
				t.Errorf("error:\n got  %q\n want %q", got, wantMsg)
			}
			if len(recs) != wantN {
				t.Errorf("read %d records before the error, tcpflow printed %d", len(recs), wantN)
			}
		})
	}
}

// tsresolFile is a pcapng file whose interface has the given if_tsresol
// byte, written by hand because the writer refuses resolutions readers do not
// accept.
func tsresolFile(t *testing.T, resol uint8) []byte {
	t.Helper()
	ng := ngFile(t, false, []uint8{9}, 0, false, testFrames())
	const resolOff = 28 + 8 + 8 + 4 // SHB, IDB header, IDB body, option header
	c := bytes.Clone(ng)
	c[resolOff] = resol
	return c
}

// ngOffsetFile has interfaces with if_tsoffset and blocks readers skip (Name
// Resolution, Interface Statistics, an unknown type) between the packets.
func ngOffsetFile(t testing.TB, frames [][]byte) []byte {
	t.Helper()
	w, buf := ngWriter(t,
		pcapfile.NgInterface{LinkType: layers.LinkEthernet, Snaplen: 65535, TsOffset: 1_500_000_000},
		pcapfile.NgInterface{LinkType: layers.LinkEthernet, Snaplen: 65535, TsResol: 9, TsOffset: -100})
	foreign := []struct {
		typ  uint32
		body []byte
	}{{4, []byte{0, 0, 0, 0}}, {5, make([]byte, 12)}, {0x40000bad, []byte("x")}}
	for i, f := range frames {
		b := foreign[i%len(foreign)]
		if err := w.WriteBlock(b.typ, b.body); err != nil {
			t.Fatal(err)
		}
		if err := w.WritePacket(uint32(i%2), times[i%len(times)], 0, f); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// ngSimpleOffsetFile has Simple Packet Blocks (no timestamp of their own)
// on an interface with if_tsoffset, between Enhanced Packet Blocks.
func ngSimpleOffsetFile(t testing.TB, frames [][]byte) []byte {
	t.Helper()
	w, buf := ngWriter(t, pcapfile.NgInterface{LinkType: layers.LinkEthernet, Snaplen: 65535, TsOffset: 100})
	var err error
	for i, f := range frames {
		if i%2 == 0 {
			err = w.WriteSimple(0, f)
		} else {
			err = w.WritePacket(0, times[i%len(times)], 0, f)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// ngWriter starts a little-endian pcapng file with the given interfaces.
func ngWriter(t testing.TB, ifcs ...pcapfile.NgInterface) (*pcapfile.NgWriter, *bytes.Buffer) {
	t.Helper()
	buf := new(bytes.Buffer)
	w, err := pcapfile.NewNgWriter(buf, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, ifc := range ifcs {
		if _, err := w.AddInterface(ifc); err != nil {
			t.Fatal(err)
		}
	}
	return w, buf
}

// TestFarFutureTimeIsRefused: pcapng's 64-bit timestamps reach past
// 2262-04-11, where Frame.TS (int64 ns) ends; such a packet is a clear read
// error, never a wrapped date (the capture's packets are stamped in 2320).
func TestFarFutureTimeIsRefused(t *testing.T) {
	rd, err := pcapfile.Open("../../testdata/golden/captures/basic_http_far.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	_, err = rd.Next()
	if err == nil || !strings.Contains(err.Error(), "beyond 2262-04-11") {
		t.Fatalf("first packet of a 2320 capture: err %v, want a time-range error", err)
	}
}
