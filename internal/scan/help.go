package scan

import (
	"fmt"
	"io"
	"slices"
)

// settable is one -S option as -H lists it: name, default, help, owner.
type settable struct{ name, value, help, owner string }

// settables are tcpflow 1.6.1's -S options in -H order.
var settables = []settable{
	{"enable_report", "YES", "Enable report.xml", ""},
	{"http_cmd", "", "Command to execute on each HTTP attachment", "http"},
	{"http_alert_fd", "-1", "File descriptor to send information about completed HTTP attachments", "http"},
	{"netviz_histogram_dump", "0", "Dumps the histogram", "netviz"},
	{"netviz_histogram_size", "1000", "Maximum histogram size", "netviz"},
	{"tcp_timeout", "0", "Timeout for TCP connections", "tcpdemux"},
	{"tcp_cmd", "", "Command to execute on each TCP flow", "tcpdemux"},
	{"tcp_alert_fd", "-1", "File descriptor to send information about completed TCP flows", "tcpdemux"},
	{"check_fcs", "YES", "Require valid Frame Check Sum (FCS)", "wifiviz"},
}

// WriteHelp writes the -H listing (stdout; tcpflow then exits 0 without
// checking any -e/-x/-E name).
func WriteHelp(w io.Writer) error {
	ew := &errWriter{w: w}
	for _, b := range builtins {
		flags := "SCANNER_DISABLED"
		if b.enabledByDefault {
			flags = "NONE"
		}
		ew.printf("\nScanner Name: %s\nflags:  %s \nScanner Interface version: 4\n", b.name, flags)
		if b.author != "" {
			ew.printf("Author: %s\n", b.author)
		}
		if b.description != "" {
			ew.printf("Description: %s\n", b.description)
		}
		ew.printf("Feature Names: \n")
	}
	ew.printf("\nSettable Options (and their defaults): \n")
	for _, s := range settables {
		ew.printf("   -S %s=%s    %s (%s)\n", s.name, s.value, s.help, s.owner)
	}
	var off, on []string
	for _, b := range builtins {
		if b.enabledByDefault {
			on = append(on, b.name)
		} else {
			off = append(off, b.name)
		}
	}
	slices.Sort(off)
	slices.Sort(on)
	ew.printf("\nThese scanners disabled by default; enable with -e:\n")
	for _, n := range off {
		ew.printf("   -e %s - enable scanner %s\n", n, n)
	}
	ew.printf("\nThese scanners enabled by default; disable with -x:\n")
	for _, n := range on {
		ew.printf("   -x %s - disable scanner %s\n", n, n)
	}
	return ew.err
}

// errWriter keeps the first write error so a listing is written with one check.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
