package pcapfile_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"strconv"
	"testing"

	"github.com/bpflow/bpflow/internal/layers"
	"github.com/bpflow/bpflow/internal/pcapfile"
)

// The --write-pcap format (µs, little-endian) as libpcap reads it back: the
// times truncated to µs, the bytes unchanged.
func TestWriterAsTcpdumpReadsIt(t *testing.T) {
	frames := testFrames()
	path := writeFile(t, "out.pcap", classic(t, pcapfile.WriterConfig{LinkType: layers.LinkEthernet, Snaplen: 65535}, frames))
	var want []seen
	for i, f := range frames {
		us := times[i] / 1000 * 1000
		want = append(want, seen{TS: fmtTS(us), WireLen: strconv.Itoa(len(f)), Data: hex.EncodeToString(f)})
	}
	diffRecords(t, tcpdumpRecords(t, path), want)
}

type ngRec struct {
	link    layers.LinkType
	iface   uint32
	ts      int64
	wireLen uint32
	data    string
}

// Features libpcap 1.10 refuses and bpflow reads: interfaces with different
// link types and snaplens, sections of both byte orders.
func TestPcapngBeyondLibpcap(t *testing.T) {
	var buf bytes.Buffer
	w, err := pcapfile.NewNgWriter(&buf, false)
	if err != nil {
		t.Fatal(err)
	}
	var want []ngRec
	add := func(ifc pcapfile.NgInterface) uint32 {
		id, err := w.AddInterface(ifc)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	put := func(id uint32, link layers.LinkType, ts int64, data string) {
		if err := w.WritePacket(id, ts, uint32(len(data)+10), []byte(data)); err != nil {
			t.Fatal(err)
		}
		want = append(want, ngRec{link, id, ts, uint32(len(data) + 10), hex.EncodeToString([]byte(data))})
	}
	eth := add(pcapfile.NgInterface{LinkType: layers.LinkEthernet, Snaplen: 65535})
	raw := add(pcapfile.NgInterface{LinkType: layers.LinkRaw, Snaplen: 1500, TsResol: 9})
	put(eth, layers.LinkEthernet, 1_600_000_000_123_456_000, "ethernet")
	put(raw, layers.LinkRaw, 1_600_000_000_123_456_789, "raw")
	if err := w.NewSection(); err != nil {
		t.Fatal(err)
	}
	sll := add(pcapfile.NgInterface{LinkType: layers.LinkLinuxSLL2, Snaplen: 262144, TsResol: 0x80 | 10})
	put(sll, layers.LinkLinuxSLL2, 1_600_000_001_000_000_000, "sll2")
	// a big-endian section after the little-endian ones
	w2, err := pcapfile.NewNgWriter(&buf, true)
	if err != nil {
		t.Fatal(err)
	}
	w = w2
	null := add(pcapfile.NgInterface{LinkType: layers.LinkNull, Snaplen: 100, TsResol: 6})
	put(null, layers.LinkNull, 1_600_000_002_000_001_000, "null")

	rd, err := pcapfile.NewReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if rd.LinkType() != layers.LinkEthernet || rd.Snaplen() != 65535 {
		t.Errorf("first interface: link %d snaplen %d", rd.LinkType(), rd.Snaplen())
	}
	var got []ngRec
	for {
		f, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ngRec{f.LinkType, f.Ifindex, f.TS, f.WireLen, hex.EncodeToString(f.Data)})
	}
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("record %d:\n got  %+v\n want %+v", i, got[i], want[i])
		}
	}
}

// if_tsoffset round trip: the times written come back.
func TestPcapngTsoffsetRoundTrip(t *testing.T) {
	frames := testFrames()
	rd, err := pcapfile.NewReader(bytes.NewReader(ngOffsetFile(t, frames)))
	if err != nil {
		t.Fatal(err)
	}
	for i := range frames {
		f, err := rd.Next()
		if err != nil {
			t.Fatal(err)
		}
		want := times[i]
		if i%2 == 0 { // interface 0 has µs resolution
			want = want / 1000 * 1000
		}
		if f.TS != want {
			t.Errorf("record %d at %d, wrote %d", i, f.TS, want)
		}
	}
}
