package flowdiff

import (
	"bytes"
	"regexp"
	"sort"
	"strconv"
)

var (
	pidPrefix   = regexp.MustCompile(`(?m)^([^\s\[\]]+)\[[0-9]+\]: `)
	synPointer  = regexp.MustCompile(`SYN TO IGNORE! SYN tcp=0x[0-9a-fA-F]+`)
	openFD      = regexp.MustCompile(`(retrying_open ::open\(.*\))=[0-9]+\n`)
	volatileXML = []*regexp.Regexp{
		regexp.MustCompile(`(?s)(<build_environment>).*?(</build_environment>)`),
		regexp.MustCompile(`(?s)(<execution_environment>).*?(</execution_environment>)`),
		regexp.MustCompile(`(?s)(<rusage>).*?(</rusage>)`),
		// A report cut short by a crash has no </execution_environment>.
		regexp.MustCompile(`(<start_time>)[^<]*(</start_time>)`),
	}
	fileobject = regexp.MustCompile(`(?s) *<fileobject>.*?</fileobject>\n`)
	// The flows still open at the end of input, as -d 5 and up list them,
	// just before the totals.
	cleanupRun  = regexp.MustCompile(`(?m)(?:^[^\n]*: closing file in tcpip::close_file\n)+[^\n]*Total flows processed:`)
	flowMapSize = regexp.MustCompile(`<flow_map_size>([0-9]+)</flow_map_size>`)
)

// Normalize rewrites, in place, what legitimately differs between runs.
// On stderr (stdout carries payload bytes and is left alone):
//   - "name[1234]: " at the start of a line becomes "name[PID]: ";
//   - the pointer of "SYN TO IGNORE! SYN tcp=0x…" becomes "0xPTR";
//   - the descriptor in "retrying_open ::open(…)=5" (-d 2 and up) becomes "FD";
//   - the "closing file" lines just before "Total flows processed" (-d 5 and
//     up) are sorted: like the report's end-of-input fileobjects they come
//     in tcpflow's hash-table order.
//
// In every DFXML report (a file starting with "<?xml" that has a <dfxml>
// element) the contents of build_environment, execution_environment and
// rusage (and of start_time, in a report a crash left unfinished) are dropped, and the fileobjects of the flows still open at the end
// of input — the last <flow_map_size> of them — are sorted.
func Normalize(s *Snapshot) {
	s.Stderr = normalizeText(s.Stderr)
	for i := range s.Entries {
		e := &s.Entries[i]
		if e.Kind == KindFile && IsReport(e.Data) {
			e.Data = NormalizeReport(e.Data)
		}
	}
}

func normalizeText(b []byte) []byte {
	b = pidPrefix.ReplaceAll(b, []byte("${1}[PID]: "))
	b = openFD.ReplaceAll(b, []byte("${1}=FD\n"))
	b = synPointer.ReplaceAll(b, []byte("SYN TO IGNORE! SYN tcp=0xPTR"))
	return cleanupRun.ReplaceAllFunc(b, sortCleanupLines)
}

// sortCleanupLines sorts the closing-file lines of one cleanupRun match
// (the last, partial line is the totals line).
func sortCleanupLines(m []byte) []byte {
	cut := bytes.LastIndexByte(m, '\n') + 1
	lines := bytes.SplitAfter(m[:cut], []byte("\n"))
	sort.Slice(lines, func(i, j int) bool { return bytes.Compare(lines[i], lines[j]) < 0 })
	return append(bytes.Join(lines, nil), m[cut:]...)
}

// IsReport tells whether data is a DFXML report as tcpflow writes it.
func IsReport(data []byte) bool {
	return bytes.HasPrefix(data, []byte("<?xml")) && bytes.Contains(data, []byte("<dfxml"))
}

// NormalizeReport returns report with its volatile parts dropped and the
// end-of-input fileobjects sorted (see Normalize).
func NormalizeReport(report []byte) []byte {
	out := report
	for _, re := range volatileXML {
		out = re.ReplaceAll(out, []byte("${1}${2}"))
	}
	return sortOpenFlows(out)
}

// sortOpenFlows sorts the last N fileobjects, N being the report's
// flow_map_size: the flows closed because input ended, in hash-table order.
func sortOpenFlows(report []byte) []byte {
	m := flowMapSize.FindSubmatch(report)
	if m == nil {
		return report
	}
	n, err := strconv.Atoi(string(m[1]))
	if err != nil || n < 2 {
		return report
	}
	locs := fileobject.FindAllIndex(report, -1)
	if n > len(locs) {
		n = len(locs)
	}
	tail := locs[len(locs)-n:]
	// Only a contiguous run can be reordered safely.
	for i := 1; i < len(tail); i++ {
		if tail[i][0] != tail[i-1][1] {
			return report
		}
	}
	objs := make([][]byte, len(tail))
	for i, l := range tail {
		objs[i] = report[l[0]:l[1]]
	}
	sort.Slice(objs, func(i, j int) bool { return bytes.Compare(objs[i], objs[j]) < 0 })
	start, end := tail[0][0], tail[len(tail)-1][1]
	out := append([]byte{}, report[:start]...)
	for _, o := range objs {
		out = append(out, o...)
	}
	return append(out, report[end:]...)
}
