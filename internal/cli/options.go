package cli

import (
	"strconv"
	"strings"

	"github.com/bpflow/bpflow/internal/flow"
	"github.com/bpflow/bpflow/internal/output"
	"github.com/bpflow/bpflow/internal/scan"
)

// tcpflowShorts is tcpflow 1.6.1's getopt string.
const tcpflowShorts = "aA:Bb:cCd:DE:e:E:F:f:gHhIi:lL:m:o:pqR:r:S:sT:U:Vvw:x:X:z:ZK0J"

var longOptions = []longOpt{
	{"chroot", requiredArg, 'z'},
	{"help", noArg, 'h'},
	{"relinquish-privileges", requiredArg, 'U'},
	{"verbose", noArg, 'v'},
	{"version", noArg, 'V'},
	// bpflow's own
	{"write-pcap", requiredArg, 0},
	{"dump-filter", requiredArg, 0},
	{"linktype", requiredArg, 0},
	{"capture", requiredArg, 0},
	{"attach", requiredArg, 0},
	{"ring-size", requiredArg, 0},
	{"afpacket-block-size", requiredArg, 0},
}

// live reports whether the run captures from an interface (no -r, no -R).
func (c *config) live() bool { return len(c.rfiles) == 0 && len(c.Rfiles) == 0 }

// config is the command line after tcpflow's option loop.
type config struct {
	debug        int
	rfiles       []string
	Rfiles       []string
	device       string
	console      bool
	consoleOpts  output.ConsoleOptions
	forceBinary  bool
	maxBytes     int64
	maxSeek      int32
	maxFDs       int
	outdir       string
	template     string
	noStore      bool
	reportFile   string
	params       map[string]string
	trailingList bool
	help, scanH  int
	chroot, user string
	unkPackets   string
	quiet        bool
	index        bool
	promisc      bool
	// sel collects -a -e -x -E -FM; tcpflow resolves them after parsing.
	sel                                                                         scan.Selection
	noDecompress                                                                bool
	pcapCore                                                                    bool // -K
	lockname                                                                    string
	captureMethod, attach, ringSize, blockSize, linktype, dumpFilter, writePcap string
}

func defaultConfig(maxFDs int) *config {
	return &config{
		debug:       1,
		consoleOpts: output.ConsoleOptions{Strip: true},
		maxBytes:    -1,
		maxSeek:     flow.DefaultMaxSeek,
		maxFDs:      maxFDs,
		outdir:      ".",
		template:    output.DefaultTemplate,
		params:      map[string]string{},
		promisc:     true,
	}
}

// atoi is C's atoi: leading blanks, optional sign, digits; 0 if none.
// It wraps like a 32-bit int.
func atoi(s string) int32 {
	return int32(strtoll(s))
}

func strtoll(s string) int64 {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	var v int64
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		v = v*10 + int64(s[i]-'0')
		if v > 1<<40 {
			break // far beyond any int32; atoi's result is undefined there anyway
		}
	}
	if neg {
		v = -v
	}
	return v
}

// paramInt reads a -S value the way tcpflow's stringstream >> does: the
// leading integer, or 0 when there is none.
func paramInt(s string) int64 {
	return strtoll(s)
}

// paramIntDefault is paramInt for a -S value that has a non-zero default.
func paramIntDefault(params map[string]string, name string, def int64) int64 {
	v, ok := params[name]
	if !ok {
		return def
	}
	return paramInt(v)
}

// paramBool reads a -S YES/NO value: Y, y, T, t or 1 first means true.
func paramBool(s string, def bool) bool {
	if s == "" {
		return def
	}
	switch s[0] {
	case 'Y', 'y', 'T', 't', '1':
		return true
	}
	return false
}

// result of option processing that ends the program early.
type earlyExit struct {
	code int
}

// parseOptions runs tcpflow's option loop. It prints what tcpflow prints
// during the loop and returns an earlyExit when the program must stop.
func (r *run) parseOptions(argv []string) (*config, []string, *earlyExit) {
	c := defaultConfig(r.defaultMaxFDs())
	g := newGetopt(argv, tcpflowShorts, longOptions, func(msg string) { r.errln(msg) })
	for {
		o, ok := g.Next()
		if !ok {
			break
		}
		if o.Long != "" {
			r.longOption(c, o)
			continue
		}
		if ex := r.shortOption(c, o); ex != nil {
			return nil, nil, ex
		}
	}
	return c, g.Operands(), nil
}

func (r *run) longOption(c *config, o option) {
	switch o.Long {
	case "write-pcap":
		c.writePcap = o.Arg
	case "dump-filter":
		c.dumpFilter = o.Arg
	case "linktype":
		c.linktype = o.Arg
	case "capture":
		c.captureMethod = o.Arg
	case "attach":
		c.attach = o.Arg
	case "ring-size":
		c.ringSize = o.Arg
	case "afpacket-block-size":
		c.blockSize = o.Arg
	}
}

func (r *run) shortOption(c *config, o option) *earlyExit {
	arg := o.Arg
	switch o.Short {
	case 'a':
		c.sel.All()
	case 'A':
		r.errln("-AH has been deprecated. Just use -a")
	case 'b':
		c.maxBytes = int64(atoi(arg))
		if c.debug > 1 {
			r.outln("capturing max of " + strconv.FormatInt(c.maxBytes, 10) + " bytes per flow.")
		}
	case 'B':
		c.forceBinary = true
		c.consoleOpts.Strip = false
		r.debugf(c.debug, 10, "converting non-printable characters to '.'")
	case 'C':
		c.console = true
		r.debugf(c.debug, 10, "printing packets to console only")
		c.consoleOpts.NoHeader = true
		r.debugf(c.debug, 10, "packet header dump suppressed")
	case 'c':
		c.console = true
		r.debugf(c.debug, 10, "printing packets to console only")
	case '0':
		c.consoleOpts.NoNewline = true
	case 'd':
		c.debug = int(atoi(arg))
		if c.debug < 0 {
			c.debug = 1
			r.debugf(c.debug, 1, "warning: -d flag with 0 debug level '%s'", arg)
		}
		r.debugLevel = c.debug
	case 'D':
		c.consoleOpts.Hex = true
		r.debugf(c.debug, 10, "Console output in hex")
		c.consoleOpts.Strip = false
		r.debugf(c.debug, 10, "Will not convert non-printablesto '.'")
	case 'E':
		c.sel.Only(arg)
	case 'e':
		c.sel.Enable(arg)
	case 'F':
		var bad []byte
		var noStore, md5 bool
		c.template, noStore, md5, bad = output.ApplyF(c.template, arg)
		c.noStore = c.noStore || noStore
		if md5 {
			// only effective with post-processing (-a/-e): quirk Q5
			c.sel.MD5 = true
		}
		for _, b := range bad {
			r.errln("-F invalid format specification '" + string(b) + "'")
		}
	case 'f':
		n := int(atoi(arg))
		r.debugf(c.debug, 1, "changing max_fds from %d to %d", c.maxFDs, n)
		c.maxFDs = n
	case 'i':
		c.device = arg
	case 'I':
		r.debugf(c.debug, 10, "creating packet index files")
		c.index = true
	case 'g':
		c.consoleOpts.Color = true
		r.debugf(c.debug, 10, "using colors")
	case 'l':
		c.trailingList = true
	case 'J':
		c.consoleOpts.JSON = true
	case 'K':
		r.debugf(c.debug, 1, "ensuring pcap core")
		c.pcapCore = true
	case 'L':
		c.lockname = arg
	case 'm':
		c.maxSeek = atoi(arg)
		r.debugf(c.debug, 10, "max_seek set to %d", c.maxSeek)
	case 'o':
		c.outdir = arg
	case 'p':
		c.promisc = false
		r.debugf(c.debug, 10, "NOT turning on promiscuous mode")
	case 'q':
		c.quiet = true
	case 'R':
		c.Rfiles = append(c.Rfiles, arg)
	case 'r':
		c.rfiles = append(c.rfiles, arg)
	case 'S':
		name, value, ok := strings.Cut(arg, "=")
		if !ok || value == "" || strings.Contains(value, "=") {
			// be13's split drops a trailing empty field: "a=" is invalid too
			r.errln("Invalid paramter: " + arg)
			return &earlyExit{1}
		}
		c.params[name] = value
	case 's':
		c.consoleOpts.Strip = true
		r.debugf(c.debug, 10, "converting non-printable characters to '.'")
	case 'T':
		c.template = output.ApplyT(arg)
	case 'U':
		c.user = arg
	case 'V':
		r.outln("TCPFLOW 1.6.1")
		return &earlyExit{1}
	case 'v':
		c.debug = 10
		r.debugLevel = 10
	case 'w':
		c.unkPackets = arg
	case 'x':
		c.sel.Disable(arg)
	case 'X':
		c.reportFile = arg
	case 'z':
		c.chroot = arg
	case 'Z':
		c.noDecompress = true
	case 'H':
		c.scanH++
	case 'h':
		c.help++
	default:
		r.debugf(c.debug, 1, "error: unrecognized switch '%c'", o.Short)
		c.help++
	}
	return nil
}
