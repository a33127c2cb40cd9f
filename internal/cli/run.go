// Package cli turns tcpflow's command line into a run: option parsing with
// getopt semantics, validation, and wiring sources to the flow engine and
// sinks. It does not use pflag: glibc's permutation, messages and tcpflow's
// order-dependent options (-F, -T) need a hand-written getopt.
package cli

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/bpflow/bpflow/internal/filter"
	"github.com/bpflow/bpflow/internal/layers"
)

//go:embed text/usage.txt
var usageText string

//go:embed text/usage-long.txt
var usageLongText string

//go:embed text/scanners.txt
var scannerInfoText string

// numReservedFDs is tcpflow's NUM_RESERVED_FDS.
const numReservedFDs = 6

// run is one invocation: its streams, argv[0] and the message prefix.
type run struct {
	ctx    context.Context
	prog   string
	stdout io.Writer
	stderr io.Writer
	// prefix starts as "argv0[pid]" while options are parsed, then becomes
	// argv0 (or -S debug-prefix), as tcpflow's init_debug does.
	prefix     string
	debugLevel int
}

// Main runs bpflow with argv (argv[0] included: it prefixes messages as in
// tcpflow) and returns the process exit status.
func Main(ctx context.Context, argv []string, stdout, stderr io.Writer) int {
	if len(argv) == 0 {
		argv = []string{"bpflow"}
	}
	r := &run{
		ctx:        ctx,
		prog:       argv[0],
		stdout:     stdout,
		stderr:     stderr,
		prefix:     argv[0] + "[" + strconv.Itoa(os.Getpid()) + "]",
		debugLevel: 1,
	}
	return r.main(argv)
}

func (r *run) errln(msg string) { _, _ = io.WriteString(r.stderr, msg+"\n") }
func (r *run) outln(msg string) { _, _ = io.WriteString(r.stdout, msg+"\n") }

// debugf is tcpflow's DEBUG(level): "prefix: message" when the debug level
// is at least level.
func (r *run) debugf(current, level int, format string, args ...any) {
	if current >= level {
		r.errln(r.prefix + ": " + fmt.Sprintf(format, args...))
	}
}

// logf is debugf at the current debug level (after option parsing).
func (r *run) logf(level int, format string, args ...any) {
	r.debugf(r.debugLevel, level, format, args...)
}

// die prints "prefix: message" and returns tcpflow's fatal status.
func (r *run) die(msg string) int {
	r.errln(r.prefix + ": " + msg)
	return 1
}

// defaultMaxFDs is getdtablesize() − NUM_RESERVED_FDS. Go raises the soft
// descriptor limit to the hard one at start, so this is the hard limit's
// value where tcpflow would see the soft one.
func (r *run) defaultMaxFDs() int {
	return dtableSize() - numReservedFDs
}

func dtableSize() int {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil || lim.Cur > 1<<30 {
		return 1 << 16
	}
	return int(lim.Cur)
}

func (r *run) main(argv []string) int {
	c, operands, ex := r.parseOptions(argv)
	if ex != nil {
		return ex.code
	}
	if c.chroot != "" && c.user == "" {
		// err(3) prints the short program name and strerror(errno).
		r.errln(filepath.Base(r.prog) + ": -z option requires -U option: Success")
		return 1
	}
	if c.scanH > 0 {
		_, _ = io.WriteString(r.stdout, scannerInfoText)
		return 0
	}
	if c.help > 0 {
		r.usage(c.help, c.template)
		return 0
	}
	if err := c.sel.Check(!c.noStore); err != nil {
		r.errln("ERROR: " + err.Error())
		return 1
	}
	scanners, err := c.sel.Resolve()
	if err != nil {
		r.errln(err.Error())
		return 1
	}
	if c.dumpFilter != "" {
		return r.dumpFilter(c, operands)
	}
	return r.execute(c, operands, scanners)
}

// linkTypeNames are the --linktype names bpflow accepts besides numbers
// (tcpdump's -y names).
var linkTypeNames = map[string]layers.LinkType{
	"EN10MB": layers.LinkEthernet, "NULL": layers.LinkNull, "RAW": layers.LinkRaw,
	"LOOP": layers.LinkLoop, "PPP": layers.LinkPPP, "LINUX_SLL": layers.LinkLinuxSLL,
	"LINUX_SLL2": layers.LinkLinuxSLL2, "IPV4": layers.LinkIPv4, "IPV6": layers.LinkIPv6,
}

// dumpFilter is --dump-filter=asm|c|decimal: print the compiled cBPF
// program like tcpdump -d/-dd/-ddd (for --linktype, default Ethernet).
func (r *run) dumpFilter(c *config, operands []string) int {
	switch c.dumpFilter {
	case "asm", "c", "decimal":
	default:
		return r.die("invalid --dump-filter format '" + c.dumpFilter + "' (want asm, c or decimal)")
	}
	lt := layers.LinkEthernet
	if c.linktype != "" {
		if v, ok := linkTypeNames[strings.ToUpper(c.linktype)]; ok {
			lt = v
		} else if n, err := strconv.ParseUint(c.linktype, 10, 32); err == nil {
			lt = layers.LinkType(n)
		} else {
			return r.die("unknown --linktype '" + c.linktype + "'")
		}
	}
	prog, err := filter.Compile(strings.Join(operands, " "), lt)
	if err != nil {
		return r.die(err.Error())
	}
	if err := prog.Dump(r.stdout, c.dumpFilter); err != nil {
		return r.die("write filter dump: " + err.Error())
	}
	return 0
}

// usage prints -h (level 1) or -hh; like 1.6.1 it shows the filename
// template in force after all options (-T, -F) as the "default".
func (r *run) usage(level int, template string) {
	text := usageText
	if level > 1 {
		r.logf(10, "found max FDs to be %d using getdtablesize", dtableSize())
		text = strings.Replace(usageLongText, "{{MAXFDS}}", strconv.Itoa(dtableSize()), 1)
	}
	text = strings.ReplaceAll(text, "{{TEMPLATE}}", template)
	_, _ = io.WriteString(r.stdout, strings.Replace(text, "{{PROG}}", r.prog, 1))
}
