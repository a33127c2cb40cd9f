package filter

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/bpflow/bpflow/internal/layers"
	"github.com/bpflow/bpflow/internal/testutil"
)

// loadFilterProgram wraps the filter in a minimal program the kernel can test-
// run: SchedCLS for link-layer frames (data from the link header), CGroupSKB
// for raw IP (data from the IP header). In the SchedCLS wrapper, a mark of
// 0x10000|TCI makes bpf_skb_vlan_push put a tag in skb metadata first, the way
// the kernel hands a tagged frame to TC.
func loadFilterProgram(t testing.TB, p *Program) (*ebpf.Program, error) {
	t.Helper()
	body, err := p.EBPF()
	if err != nil {
		return nil, err
	}
	typ := ebpf.SchedCLS
	var main asm.Instructions
	if isRawLink(p.LinkType()) {
		typ = ebpf.CGroupSKB
		main = asm.Instructions{
			asm.Call.Label(FilterSymbol),
			{OpCode: asm.JEq.Op(asm.ImmSource), Dst: asm.R0, Constant: 0, Offset: 1},
			asm.Mov.Imm(asm.R0, 1),
			asm.Return(),
		}
	} else {
		main = asm.Instructions{
			asm.Mov.Reg(asm.R6, asm.R1),
			asm.LoadMem(asm.R3, asm.R6, 8, asm.Word), // skb->mark
			{OpCode: asm.JEq.Op(asm.ImmSource), Dst: asm.R3, Constant: 0, Offset: 4},
			asm.And.Imm(asm.R3, 0xffff),
			asm.Mov.Reg(asm.R1, asm.R6),
			asm.Mov.Imm(asm.R2, 0x0081), // htons(ETH_P_8021Q)
			asm.FnSkbVlanPush.Call(),
			asm.Mov.Reg(asm.R1, asm.R6),
			asm.Call.Label(FilterSymbol),
			asm.Return(),
		}
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type: typ, License: "GPL", Instructions: append(main, body...),
	})
	if err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("verifier rejects the filter: %+v", ve)
		}
		return nil, fmt.Errorf("load filter program: %w", err)
	}
	t.Cleanup(func() { prog.Close() })
	return prog, nil
}

func isRawLink(l layers.LinkType) bool {
	return l == layers.LinkRaw || l == layers.LinkIPv4 || l == layers.LinkIPv6
}

var errUntestable = errors.New("the kernel's test run refuses this frame")

// runKernel runs the loaded filter on one frame with BPF_PROG_TEST_RUN.
func runKernel(prog *ebpf.Program, link layers.LinkType, data []byte, vlanTCI int) (bool, error) {
	opts := &ebpf.RunOptions{Data: data}
	if isRawLink(link) {
		et := []byte{0x08, 0x00}
		if len(data) > 0 && data[0]>>4 == 6 {
			et = []byte{0x86, 0xdd}
		}
		// The test run consumes an Ethernet header before a CGroupSKB program.
		opts.Data = cat(make([]byte, 12), et, data)
	} else if len(data) < 14 {
		return false, errUntestable
	}
	if vlanTCI >= 0 {
		ctx := make([]byte, 12)
		ctx[8], ctx[9], ctx[10] = byte(vlanTCI), byte(vlanTCI>>8), 1
		opts.Context = ctx
	}
	ret, err := prog.Run(opts)
	if errors.Is(err, syscall.EINVAL) {
		return false, errUntestable
	}
	return ret != 0, err
}

// TestEBPFDifferential runs every corpus expression's eBPF program in the
// kernel on every frame it can test-run and compares with tcpdump's answers,
// including frames whose outer VLAN tag is handed over in skb metadata.
func TestEBPFDifferential(t *testing.T) {
	testutil.RequireBPF(t)
	want := loadExpected(t)
	exprs := readExpressions(t)
	agree, total, untestable, progs := 0, 0, 0, 0
	for _, cf := range loadCorpus(t) {
		for _, e := range exprs {
			w := want[answerKey{cf.name, e}]
			if _, pending := differentialPending[e]; pending || strings.HasPrefix(w, "error") {
				continue
			}
			p, err := Compile(e, cf.link)
			if err != nil {
				t.Errorf("%s: %q: %v", cf.name, e, err)
				continue
			}
			prog, err := loadFilterProgram(t, p)
			if err != nil {
				t.Fatalf("%s: %q: %v", cf.name, e, err)
			}
			progs++
			wantSet := matchSet(w)
			for i, f := range cf.frames {
				if uint32(len(f.data)) != f.wireLen {
					continue
				}
				cases := []struct {
					data []byte
					tci  int
				}{{f.data, -1}}
				if cf.link == layers.LinkEthernet && len(f.data) >= 18 && f.data[12] == 0x81 && f.data[13] == 0 {
					tci := int(f.data[14])<<8 | int(f.data[15])
					cases = append(cases, struct {
						data []byte
						tci  int
					}{cat(f.data[:12], f.data[16:]), tci})
				}
				for _, c := range cases {
					got, err := runKernel(prog, cf.link, c.data, c.tci)
					if errors.Is(err, errUntestable) {
						untestable++
						continue
					}
					if err != nil {
						t.Fatalf("%s: %q: frame %d: %v", cf.name, e, i, err)
					}
					total++
					if got != wantSet[i] {
						t.Errorf("%s: %q: frame %d (vlan tci in metadata: %d): kernel says %v, tcpdump %v", cf.name, e, i, c.tci, got, wantSet[i])
					} else {
						agree++
					}
				}
			}
		}
	}
	t.Logf("eBPF in the kernel agrees with tcpdump on %d/%d (program, frame) runs over %d programs; %d frames the test run refuses",
		agree, total, progs, untestable)
}

func matchSet(answer string) map[int]bool {
	set := map[int]bool{}
	if list := strings.TrimPrefix(answer, "match: "); list != "" {
		for _, s := range strings.Split(list, ",") {
			v, _ := strconv.Atoi(s)
			set[v] = true
		}
	}
	return set
}

// TestEBPFSizes loads the reference expressions and logs their cBPF and eBPF
// lengths and how many instructions the verifier processed.
func TestEBPFSizes(t *testing.T) {
	testutil.RequireBPF(t)
	for _, e := range []string{
		"tcp", "port 80", "host 192.168.1.2 and not port 80", "portrange 8000-8100",
		"net 2001:db8::/32", "tcp dst port 80 or 443 or 53",
		"tcp[tcpflags] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack)", "vlan and host 1.2.3.4",
	} {
		p, err := Compile(e, layers.LinkEthernet)
		if err != nil {
			t.Fatal(err)
		}
		body, err := p.EBPF()
		if err != nil {
			t.Fatal(err)
		}
		prog, err := loadFilterProgram(t, p)
		if err != nil {
			t.Fatalf("%q: %v", e, err)
		}
		info, err := prog.Info()
		if err != nil {
			t.Fatal(err)
		}
		verified, _ := info.VerifiedInstructions()
		t.Logf("%-56q cBPF %3d  eBPF %4d  verifier processed %5d", e, len(p.Raw()), len(body), verified)
	}
}
