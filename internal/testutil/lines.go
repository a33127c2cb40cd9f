package testutil

import (
	"os"
	"strings"
	"testing"
)

// ReadList reads a test list file (expressions, cases): one entry per line,
// blank lines and lines starting with '#' skipped.
func ReadList(t testing.TB, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(data), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	return lines
}
