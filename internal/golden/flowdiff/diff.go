package flowdiff

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/google/go-cmp/cmp"
)

// maxDiffLines bounds each section's diff so one broken case stays readable.
const maxDiffLines = 80

// Diff describes how got differs from want, one section per differing part
// (exit status, stdout, stderr, each file), or returns "" when they are equal.
// Text is diffed by lines, binary data as hexdump lines (-want +got).
func Diff(want, got *Snapshot) string {
	var b strings.Builder
	if want.Exit != got.Exit {
		fmt.Fprintf(&b, "exit status: want %d, got %d\n", want.Exit, got.Exit)
	}
	dataDiff(&b, "stdout", want.Stdout, got.Stdout)
	dataDiff(&b, "stderr", want.Stderr, got.Stderr)
	entriesDiff(&b, want.Entries, got.Entries)
	return b.String()
}

func entriesDiff(b *strings.Builder, want, got []Entry) {
	gotByPath := map[string]*Entry{}
	for i := range got {
		gotByPath[got[i].Path] = &got[i]
	}
	wantPaths := map[string]bool{}
	for i := range want {
		w := &want[i]
		wantPaths[w.Path] = true
		g := gotByPath[w.Path]
		if g == nil {
			fmt.Fprintf(b, "%s %q: missing (want %s)\n", w.Kind, w.Path, describe(w))
			continue
		}
		if w.Kind != g.Kind || w.Mode != g.Mode || w.Mtime != g.Mtime {
			fmt.Fprintf(b, "%q: want %s, got %s\n", w.Path, describe(w), describe(g))
		}
		dataDiff(b, fmt.Sprintf("%s %q", w.Kind, w.Path), w.Data, g.Data)
	}
	for i := range got {
		if g := &got[i]; !wantPaths[g.Path] {
			fmt.Fprintf(b, "%s %q: unexpected (%s, %d bytes)\n", g.Kind, g.Path, describe(g), len(g.Data))
		}
	}
}

func describe(e *Entry) string {
	s := fmt.Sprintf("%s mode %04o", e.Kind, e.Mode)
	if e.Kind == KindFile {
		s += " mtime " + e.Mtime
	}
	return s
}

func dataDiff(b *strings.Builder, what string, want, got []byte) {
	if string(want) == string(got) {
		return
	}
	var wl, gl []string
	how := "lines"
	if isText(want) && isText(got) {
		wl, gl = strings.SplitAfter(string(want), "\n"), strings.SplitAfter(string(got), "\n")
	} else {
		how = "hexdump"
		wl, gl = hexLines(want), hexLines(got)
	}
	d := cmp.Diff(wl, gl)
	lines := strings.Split(d, "\n")
	if len(lines) > maxDiffLines {
		lines = append(lines[:maxDiffLines], fmt.Sprintf("… %d more diff lines", len(lines)-maxDiffLines))
	}
	fmt.Fprintf(b, "%s differs (want %d bytes, got %d; -want +got, %s):\n%s\n", what, len(want), len(got), how, strings.Join(lines, "\n"))
}

func hexLines(b []byte) []string {
	return strings.SplitAfter(hex.Dump(b), "\n")
}
