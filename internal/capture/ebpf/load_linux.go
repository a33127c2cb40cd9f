package ebpf

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"
)

// copyPath names how the program moves packet bytes into the ring.
type copyPath string

const (
	// copyDynptr reserves an exact-size record and copies with bpf_dynptr_copy
	// (kernel 6.15+): no bounce buffer, super-packets whole.
	copyDynptr copyPath = "dynptr"
	// copyScratch loads into a per-CPU scratch slot and outputs the exact size
	// (kernel 5.8+); super-packets go in chunks.
	copyScratch copyPath = "scratch"
)

const (
	filterSymbol = "bpflow_filter"
	defaultRing  = 64 << 20
	minRing      = 64 << 10
	minWakeBytes = 4 << 10
)

// programs is one loaded pair of programs for one kind of device: the link
// header differs (Ethernet or none) and so does the spliced filter.
type programs struct {
	ingress, egress *ebpf.Program
}

func (p *programs) Close() error {
	return errors.Join(p.ingress.Close(), p.egress.Close())
}

// loadOptions are the load-time settings of the program.
type loadOptions struct {
	l3       bool
	copy     copyPath
	snaplen  uint32
	ringSize uint32
	// room is the most payload a scratch-path record carries whole, piece
	// the payload per chunk beyond it (0: the defaults); tests lower them to
	// make chunks from the small frames PROG_TEST_RUN takes.
	room, piece uint32
	// filter is the eBPF body of bpflow_filter (nil: match everything).
	filter asm.Instructions
	// maps already created by an earlier load, shared by every program.
	maps *sharedMaps
}

// sharedMaps are the maps every loaded program writes to.
type sharedMaps struct {
	ring, stats, scratch *ebpf.Map
}

func (m *sharedMaps) Close() error {
	if m == nil {
		return nil
	}
	return errors.Join(m.ring.Close(), m.stats.Close(), m.scratch.Close())
}

// roundRing returns the ring size the kernel accepts: a power of two, at
// least a few pages.
func roundRing(n int) uint32 {
	if n <= 0 {
		n = defaultRing
	}
	size := uint32(minRing)
	for int(size) < n && size < 1<<30 {
		size <<= 1
	}
	return size
}

// probeCopyPath picks dynptr when the kernel has the kfuncs the fast path
// calls (found in its BTF, never guessed from the version), else scratch.
func probeCopyPath() copyPath {
	if forced := copyPath(os.Getenv("BPFLOW_EBPF_COPY")); forced == copyDynptr || forced == copyScratch {
		return forced
	}
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		return copyScratch
	}
	for _, name := range []string{"bpf_dynptr_from_skb", "bpf_dynptr_copy"} {
		var fn *btf.Func
		if spec.TypeByName(name, &fn) != nil {
			return copyScratch
		}
	}
	return copyDynptr
}

// load prepares the embedded spec with opts and loads it into the kernel.
// When maps is nil it creates the shared maps and returns them.
func load(opts loadOptions) (*programs, *sharedMaps, error) {
	spec, err := loadBpf()
	if err != nil {
		return nil, nil, fmt.Errorf("read embedded eBPF object: %w", err)
	}
	if err := configure(spec, opts); err != nil {
		return nil, nil, err
	}
	var copts ebpf.CollectionOptions
	if opts.maps != nil {
		copts.MapReplacements = map[string]*ebpf.Map{
			bpfMapBpflowRing: opts.maps.ring, bpfMapBpflowStats: opts.maps.stats, bpfMapBpflowScratch: opts.maps.scratch,
		}
	}
	coll, err := ebpf.NewCollectionWithOptions(spec, copts)
	if err != nil {
		return nil, nil, loadError(opts, err)
	}
	progs := &programs{ingress: coll.DetachProgram(bpfProgBpflowIngress), egress: coll.DetachProgram(bpfProgBpflowEgress)}
	maps := opts.maps
	if maps == nil {
		maps = &sharedMaps{
			ring:    coll.DetachMap(bpfMapBpflowRing),
			stats:   coll.DetachMap(bpfMapBpflowStats),
			scratch: coll.DetachMap(bpfMapBpflowScratch),
		}
	}
	coll.Close()
	return progs, maps, nil
}

func loadError(opts loadOptions, err error) error {
	var verr *ebpf.VerifierError
	if errors.As(err, &verr) {
		return fmt.Errorf("load eBPF capture program (copy path %s, l3 %v): verifier rejected it: %w", opts.copy, opts.l3, err)
	}
	if errors.Is(err, unix.EPERM) {
		return fmt.Errorf("load eBPF capture program: permission denied: bpflow needs CAP_BPF and CAP_PERFMON "+
			"(CAP_SYS_ADMIN on kernels before 5.8); run as root or grant them in the DaemonSet's securityContext: %w", err)
	}
	return fmt.Errorf("load eBPF capture program (copy path %s, l3 %v): %w", opts.copy, opts.l3, err)
}

func configure(spec *ebpf.CollectionSpec, opts loadOptions) error {
	ring := opts.ringSize
	if ring == 0 {
		ring = roundRing(0)
	}
	spec.Maps[bpfMapBpflowRing].MaxEntries = ring
	slots := 1
	if opts.copy == copyScratch {
		n, err := ebpf.PossibleCPU()
		if err != nil {
			return fmt.Errorf("count possible CPUs for the scratch map: %w", err)
		}
		slots = n
	}
	spec.Maps[bpfMapBpflowScratch].MaxEntries = uint32(slots)
	wake := uint64(max(ring/16, minWakeBytes))
	vars := []struct {
		name  string
		value any
	}{
		{bpfVarBpflowL3, boolU32(opts.l3)},
		{bpfVarBpflowDynptr, boolU32(opts.copy == copyDynptr)},
		{bpfVarBpflowSnaplen, opts.snaplen},
		{bpfVarBpflowWake, wake},
	}
	for _, v := range vars {
		if err := spec.Variables[v.name].Set(v.value); err != nil {
			return fmt.Errorf("set %s to %v: %w", v.name, v.value, err)
		}
	}
	for name, v := range map[string]uint32{bpfVarBpflowRoom: opts.room, bpfVarBpflowPiece: opts.piece} {
		if v == 0 {
			continue // the program's default
		}
		if err := spec.Variables[name].Set(v); err != nil {
			return fmt.Errorf("set %s to %d: %w", name, v, err)
		}
	}
	if opts.filter == nil {
		return nil
	}
	for _, name := range []string{bpfProgBpflowIngress, bpfProgBpflowEgress} {
		if err := spliceFilter(spec.Programs[name], opts.filter); err != nil {
			return err
		}
	}
	return nil
}

func boolU32(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// spliceFilter replaces the body of the bpflow_filter subprogram in prog with
// filter, whose first instruction must carry the symbol. The old first
// instruction's metadata (BTF function info) moves to the new one, so the
// kernel still sees a well-formed subprogram.
func spliceFilter(prog *ebpf.ProgramSpec, filter asm.Instructions) error {
	if len(filter) == 0 || filter[0].Symbol() != filterSymbol {
		return fmt.Errorf("splice filter into %s: first instruction must carry symbol %q", prog.Name, filterSymbol)
	}
	insns := prog.Instructions
	start := -1
	for i, ins := range insns {
		if ins.Symbol() == filterSymbol {
			start = i
			break
		}
	}
	if start < 0 {
		return fmt.Errorf("splice filter into %s: no subprogram %q", prog.Name, filterSymbol)
	}
	end := len(insns)
	for i := start + 1; i < len(insns); i++ {
		if insns[i].Symbol() != "" {
			end = i
			break
		}
	}
	body := make(asm.Instructions, len(filter))
	copy(body, filter)
	body[0] = body[0].WithMetadata(insns[start].Metadata)
	out := make(asm.Instructions, 0, len(insns)-(end-start)+len(body))
	out = append(out, insns[:start]...)
	out = append(out, body...)
	out = append(out, insns[end:]...)
	prog.Instructions = out
	return nil
}

// loadWithFallback loads with the probed copy path and, if the dynptr path is
// refused (a kernel whose BTF lists the kfuncs but whose verifier rejects
// their use), retries with the scratch path.
func loadWithFallback(opts loadOptions, log *slog.Logger) (*programs, *sharedMaps, copyPath, error) {
	progs, maps, err := load(opts)
	if err == nil || opts.copy != copyDynptr || errors.Is(err, unix.EPERM) {
		return progs, maps, opts.copy, err
	}
	scratch := opts
	scratch.copy = copyScratch
	progs, maps, serr := load(scratch)
	if serr != nil {
		// Both refused: the cause is not the copy path (a bad filter, say).
		return nil, nil, opts.copy, err
	}
	log.Debug("dynptr copy path refused, using the scratch copy path", "err", err)
	return progs, maps, copyScratch, nil
}
