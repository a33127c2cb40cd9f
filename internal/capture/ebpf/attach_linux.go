package ebpf

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Attach modes (--attach).
const (
	AttachAuto = "auto"
	AttachTCX  = "tcx"
	AttachTC   = "tc"
)

const tcFilterName = "bpflow"

// attachment is everything bpflow hooked onto one interface.
type attachment struct {
	ifindex int
	name    string
	mode    string // AttachTCX or AttachTC
	links   []link.Link
	filters []*netlink.BpfFilter
	// qdisc is the clsact qdisc bpflow created (nil when it already existed).
	qdisc *netlink.GenericQdisc
	h     *netlink.Handle
}

// attachIface hooks progs onto ifindex at ingress and, unless skipEgress
// (loopback: every packet crosses both hooks, libpcap reports it once),
// at egress.
func attachIface(h *netlink.Handle, mode string, ifindex int, name string, progs *programs, skipEgress bool) (*attachment, error) {
	a := &attachment{ifindex: ifindex, name: name, h: h}
	if mode == AttachAuto || mode == AttachTCX {
		err := a.attachTCX(progs, skipEgress)
		if err == nil || mode == AttachTCX || !errors.Is(err, ebpf.ErrNotSupported) {
			return a, errors.Join(err, cleanupOnError(a, err))
		}
	}
	err := a.attachTC(progs, skipEgress)
	return a, errors.Join(err, cleanupOnError(a, err))
}

func cleanupOnError(a *attachment, err error) error {
	if err == nil {
		return nil
	}
	return a.detach()
}

func (a *attachment) attachTCX(progs *programs, skipEgress bool) error {
	a.mode = AttachTCX
	hooks := []struct {
		prog *ebpf.Program
		at   ebpf.AttachType
		dir  string
	}{{progs.ingress, ebpf.AttachTCXIngress, "ingress"}, {progs.egress, ebpf.AttachTCXEgress, "egress"}}
	for _, hk := range hooks {
		if skipEgress && hk.at == ebpf.AttachTCXEgress {
			continue
		}
		// At the head, so a CNI program that redirects or drops cannot hide
		// packets from us; we return TCX_NEXT, so it still runs.
		l, err := link.AttachTCX(link.TCXOptions{Interface: a.ifindex, Program: hk.prog, Attach: hk.at, Anchor: link.Head()})
		if err != nil {
			return attachError("tcx "+hk.dir, a, err)
		}
		a.links = append(a.links, l)
	}
	return nil
}

func attachError(what string, a *attachment, err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return fmt.Errorf("attach %s on %s (ifindex %d): permission denied: bpflow needs CAP_NET_ADMIN; "+
			"run as root or grant it in the DaemonSet's securityContext: %w", what, a.name, a.ifindex, err)
	}
	return fmt.Errorf("attach %s on %s (ifindex %d): %w", what, a.name, a.ifindex, err)
}

// attachTC is the fallback for kernels without TCX: a clsact qdisc (created
// only if absent) and a direct-action cls_bpf filter at a priority no other
// filter uses, so no other tool's filter is replaced.
func (a *attachment) attachTC(progs *programs, skipEgress bool) error {
	a.mode = AttachTC
	q := &netlink.GenericQdisc{
		QdiscAttrs: netlink.QdiscAttrs{LinkIndex: a.ifindex, Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT},
		QdiscType:  "clsact",
	}
	switch err := a.h.QdiscAdd(q); {
	case err == nil:
		a.qdisc = q
	case errors.Is(err, unix.EEXIST):
	default:
		return attachError("clsact qdisc", a, err)
	}
	hooks := []struct {
		prog   *ebpf.Program
		parent uint32
		dir    string
	}{{progs.ingress, netlink.HANDLE_MIN_INGRESS, "tc ingress"}, {progs.egress, netlink.HANDLE_MIN_EGRESS, "tc egress"}}
	for _, hk := range hooks {
		if skipEgress && hk.parent == netlink.HANDLE_MIN_EGRESS {
			continue
		}
		f, err := a.addFilter(hk.prog, hk.parent)
		if err != nil {
			return attachError(hk.dir, a, err)
		}
		a.filters = append(a.filters, f)
	}
	return nil
}

// addFilter adds prog at the lowest priority no filter on parent uses; a
// racing tool that takes it first makes the kernel answer EEXIST, and we try
// the next one.
func (a *attachment) addFilter(prog *ebpf.Program, parent uint32) (*netlink.BpfFilter, error) {
	existing, err := a.h.FilterList(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Index: a.ifindex}}, parent)
	if err != nil {
		return nil, fmt.Errorf("list filters: %w", err)
	}
	used := map[uint16]bool{}
	for _, f := range existing {
		used[f.Attrs().Priority] = true
	}
	for prio := uint16(1); prio < 0xffff; prio++ {
		if used[prio] {
			continue
		}
		f := &netlink.BpfFilter{
			FilterAttrs: netlink.FilterAttrs{
				LinkIndex: a.ifindex, Parent: parent, Handle: 1, Priority: prio, Protocol: unix.ETH_P_ALL,
			},
			Fd: prog.FD(), Name: tcFilterName, DirectAction: true,
		}
		err := a.h.FilterAdd(f)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("add cls_bpf filter at priority %d: %w", prio, err)
		}
	}
	return nil, errors.New("add cls_bpf filter: every priority is in use")
}

// detach removes what bpflow attached. A device that is already gone took
// our hooks with it, so ENODEV/ENOENT are not errors.
func (a *attachment) detach() error {
	var errs []error
	for _, l := range a.links {
		errs = append(errs, ignoreGone(l.Close()))
	}
	a.links = nil
	for _, f := range a.filters {
		if err := ignoreGone(a.h.FilterDel(f)); err != nil {
			errs = append(errs, fmt.Errorf("remove tc filter %d on %s: %w", f.Priority, a.name, err))
		}
	}
	a.filters = nil
	if a.qdisc != nil {
		errs = append(errs, a.removeQdiscIfUnused())
		a.qdisc = nil
	}
	return errors.Join(errs...)
}

// removeQdiscIfUnused deletes the clsact qdisc bpflow created, unless another
// tool has since put filters on it.
func (a *attachment) removeQdiscIfUnused() error {
	dev := &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Index: a.ifindex}}
	for _, parent := range []uint32{netlink.HANDLE_MIN_INGRESS, netlink.HANDLE_MIN_EGRESS} {
		fs, err := a.h.FilterList(dev, parent)
		if err != nil {
			return ignoreGone(err)
		}
		if len(fs) > 0 {
			return nil
		}
	}
	if err := ignoreGone(a.h.QdiscDel(a.qdisc)); err != nil {
		return fmt.Errorf("remove clsact qdisc on %s: %w", a.name, err)
	}
	return nil
}

func ignoreGone(err error) error {
	if errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return err
}
