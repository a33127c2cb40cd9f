package golden

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/bpflow/bpflow/internal/golden/flowdiff"
)

// Case is one golden run: a tcpflow command line over captures of the corpus.
// It runs in a fresh directory (the CWD) holding `in/`, the captures; argv[0]
// is "tcpflow" for both tools, TZ=UTC, umask 022.
type Case struct {
	Name string
	Args []string // after argv[0]; captures are named in/<capture>
	// Stdin names the capture fed on standard input (none: empty input).
	Stdin string
	// Runs repeats the command in the same directory (default once); the
	// snapshot shows the last run's output and the directory after it.
	Runs int
	// Setup lists paths created in the run directory before the first run:
	// "name/" makes a directory, anything else an empty regular file.
	Setup []string
	// Diff, when set, says how bpflow deliberately differs from 1.6.1 here.
	Diff *Difference
	// NoTcpflow, when set, says why 1.6.1 is not run on this case (it hangs);
	// such a case has no golden and Check states what bpflow must do.
	NoTcpflow string
	Check     func(s *flowdiff.Snapshot) error
	// Timeout bounds each run (default runTimeout).
	Timeout time.Duration
}

// Difference derives bpflow's expected output for a case where DESIGN §4
// says bpflow must not do what 1.6.1 does. The expectation is always
// tcpflow's output — on AltArgs (other captures or options) if given, else
// on the case itself — passed through Fix, a list of explicit edits.
type Difference struct {
	Design  string   // the DESIGN §4 item, e.g. "4.1 padding"
	AltArgs []string // nil: the case's own tcpflow output is the starting point
	Fix     []Transform
}

// Transform is one named, explicit edit of an expected snapshot.
type Transform struct {
	Name  string
	Apply func(s *flowdiff.Snapshot) error
}

func (c *Case) runs() int { return max(c.Runs, 1) }

// Expect applies d's transforms to the oracle snapshot (a copy).
func (d *Difference) Expect(oracle *flowdiff.Snapshot) (*flowdiff.Snapshot, error) {
	s := oracle.Clone()
	for _, t := range d.Fix {
		if err := t.Apply(s); err != nil {
			return nil, fmt.Errorf("transform %s: %w", t.Name, err)
		}
	}
	return s, nil
}

var reportLine = regexp.MustCompile(`(?m)^reportfilename: (.*)\n`)

// dropConsoleReport: DESIGN §4.2 — console modes write no report.xml and
// print no "reportfilename:" line unless -X is given.
var dropConsoleReport = Transform{Name: "drop report.xml and its reportfilename line", Apply: func(s *flowdiff.Snapshot) error {
	m := reportLine.FindSubmatch(s.Stderr)
	if m == nil {
		return fmt.Errorf("no reportfilename line in stderr %q", s.Stderr)
	}
	path := strings.TrimPrefix(string(m[1]), "./")
	if !s.Remove(path) {
		return fmt.Errorf("report %q not among the output files", path)
	}
	s.Stderr = reportLine.ReplaceAll(s.Stderr, nil)
	return nil
}}

// editReports applies edit to every DFXML report of s.
func editReports(s *flowdiff.Snapshot, edit func([]byte) ([]byte, error)) error {
	n := 0
	for i := range s.Entries {
		e := &s.Entries[i]
		if e.Kind != flowdiff.KindFile || !flowdiff.IsReport(e.Data) {
			continue
		}
		out, err := edit(e.Data)
		if err != nil {
			return fmt.Errorf("%s: %w", e.Path, err)
		}
		e.Data = out
		n++
	}
	if n == 0 {
		return fmt.Errorf("no report among the output files")
	}
	return nil
}

// dropAttr removes attribute name from every <tcpflow …/> element.
func dropAttr(name string) Transform {
	re := regexp.MustCompile(` ` + name + `='[^']*'`)
	return Transform{Name: "remove report attribute " + name, Apply: func(s *flowdiff.Snapshot) error {
		return editReports(s, func(r []byte) ([]byte, error) { return re.ReplaceAll(r, nil), nil })
	}}
}

// replaceReport replaces literal text in the report(s): every pair old→new.
func replaceReport(why string, pairs ...string) Transform {
	return Transform{Name: why, Apply: func(s *flowdiff.Snapshot) error {
		r := strings.NewReplacer(pairs...)
		return editReports(s, func(b []byte) ([]byte, error) { return []byte(r.Replace(string(b))), nil })
	}}
}

// replaceStdout replaces literal text on stdout: every pair old→new.
func replaceStdout(why string, pairs ...string) Transform {
	return Transform{Name: why, Apply: func(s *flowdiff.Snapshot) error {
		s.Stdout = []byte(strings.NewReplacer(pairs...).Replace(string(s.Stdout)))
		return nil
	}}
}

var packetsAndLen = regexp.MustCompile(`packets='([0-9]+)'(.*?) len='([0-9]+)'( caplen='([0-9]+)')?`)

// addLenPerPacket adds n bytes per packet to each flow's len (and caplen):
// the alternative capture's frames are n bytes shorter than the case's.
func addLenPerPacket(n int) Transform {
	return Transform{Name: fmt.Sprintf("len += %d per packet", n), Apply: func(s *flowdiff.Snapshot) error {
		return editReports(s, func(r []byte) ([]byte, error) {
			var err error
			out := packetsAndLen.ReplaceAllFunc(r, func(m []byte) []byte {
				g := packetsAndLen.FindSubmatch(m)
				pk, _ := strconv.Atoi(string(g[1]))
				l, _ := strconv.Atoi(string(g[3]))
				res := fmt.Sprintf("packets='%s'%s len='%d'", g[1], g[2], l+n*pk)
				if len(g[5]) > 0 {
					cl, _ := strconv.Atoi(string(g[5]))
					res += fmt.Sprintf(" caplen='%d'", cl+n*pk)
				}
				return []byte(res)
			})
			if !packetsAndLen.Match(r) {
				err = fmt.Errorf("no packets/len attributes")
			}
			return out, err
		})
	}}
}
