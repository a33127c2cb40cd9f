package output

import "testing"

// FuzzNamer expands arbitrary -T templates (after -T's own rewriting) for a
// flow: no panic; an error or a name.
func FuzzNamer(f *testing.F) {
	for _, s := range []string{DefaultTemplate, "%A%", "%c%", "%z", "%T/%t/%N%K%M%G%S%#%%%E%e%V%v", "a/b/../%C"} {
		f.Add(s, uint32(0))
	}
	f.Fuzz(func(t *testing.T, tmpl string, count uint32) {
		n := Namer{Template: ApplyT(tmpl), OutDir: "out"}
		name, err := n.Name(benchFlow(), count)
		if err == nil && len(name) < len("out/") {
			t.Fatalf("name %q lacks the -o prefix", name)
		}
	})
}
