package scan

import (
	"fmt"
	"slices"
)

// scannerInfo is one of tcpflow 1.6.1's built-in scanners as -H lists them.
type scannerInfo struct {
	name, author, description string
	enabledByDefault          bool
}

// builtins are tcpflow 1.6.1's scanners in registration order, which is the
// order they run in and the order -H lists them.
var builtins = []scannerInfo{
	{name: "md5"},
	{name: "http"},
	{name: "netviz", author: "Mike Shick", description: "Performs 1-page visualization of network packets"},
	{name: "tcpdemux", author: "Simson Garfinkel", enabledByDefault: true},
	{name: "wifiviz", author: "Simson Garfinkel", description: "Performs wifi isualization"},
}

// Names lists the built-in scanner names in tcpflow's order.
func Names() []string {
	out := make([]string, len(builtins))
	for i, b := range builtins {
		out[i] = b.name
	}
	return out
}

type commandKind uint8

const (
	cmdEnable commandKind = iota
	cmdDisable
	cmdEnableAll
	cmdDisableAll
)

type command struct {
	kind commandKind
	name string
}

// Selection collects -a, -e, -x, -E and -FM in command-line order and
// resolves them the way tcpflow 1.6.1 does: the commands are only applied
// (and names only checked) after all options were read.
type Selection struct {
	cmds []command
	// PostProcessing is tcpflow's post_processing flag: set by -a and -e
	// (not by -E, -x or -FM). Without it no scanner runs on flows.
	PostProcessing bool
	// MD5 is set by -a and -FM; md5 is enabled at resolve time (which only
	// matters when PostProcessing is also set).
	MD5 bool
}

// All is -a.
func (s *Selection) All() {
	s.PostProcessing = true
	s.MD5 = true
	s.cmds = append(s.cmds, command{kind: cmdEnableAll})
}

// Enable is -e NAME ("all" enables every scanner).
func (s *Selection) Enable(name string) {
	s.cmds = append(s.cmds, command{kind: cmdEnable, name: name})
	s.PostProcessing = true
}

// Disable is -x NAME.
func (s *Selection) Disable(name string) {
	s.cmds = append(s.cmds, command{kind: cmdDisable, name: name})
}

// Only is -E NAME: every scanner, tcpdemux included, is disabled, then NAME
// enabled. It does not turn post-processing on.
func (s *Selection) Only(name string) {
	s.cmds = append(s.cmds, command{kind: cmdDisableAll}, command{kind: cmdEnable, name: name})
}

// Check is tcpflow's test after option parsing: post-processing needs flow
// files, so -a/-e together with -FX is an error.
func (s *Selection) Check(storeOutput bool) error {
	if s.PostProcessing && !storeOutput {
		return ErrPostProcessingNeedsFiles
	}
	return nil
}

// InvalidNameError is an unknown scanner name; its message is tcpflow's.
type InvalidNameError struct{ Name string }

func (e *InvalidNameError) Error() string { return fmt.Sprintf("Invalid scanner name '%s'", e.Name) }

// Resolve applies the commands and returns the enabled scanners in tcpflow's
// order (tcpdemux included when it stays enabled: without it tcpflow
// processes no packets at all).
func (s *Selection) Resolve() ([]string, error) {
	on := map[string]bool{}
	for _, b := range builtins {
		on[b.name] = b.enabledByDefault
	}
	cmds := s.cmds
	if s.MD5 {
		cmds = append(slices.Clip(cmds), command{kind: cmdEnable, name: "md5"})
	}
	for _, c := range cmds {
		switch c.kind {
		case cmdEnableAll, cmdDisableAll:
			for n := range on {
				on[n] = c.kind == cmdEnableAll
			}
		case cmdEnable, cmdDisable:
			if c.name == "all" {
				for n := range on {
					on[n] = c.kind == cmdEnable
				}
				continue
			}
			if _, ok := on[c.name]; !ok {
				return nil, &InvalidNameError{Name: c.name}
			}
			on[c.name] = c.kind == cmdEnable
		}
	}
	var out []string
	for _, b := range builtins {
		if on[b.name] {
			out = append(out, b.name)
		}
	}
	return out, nil
}

// SummaryXML is report.xml's summary line(s) for the enabled scanners, with
// the indent and final newline: wifiviz, when enabled (as by -a), writes an
// empty SSID list there.
func SummaryXML(enabled []string) string {
	if slices.Contains(enabled, "wifiviz") {
		return "  <summary><ssids>\n</ssids>\n</summary>\n"
	}
	return "  <summary />\n"
}
