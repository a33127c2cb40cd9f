package output

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The date part is checked against GNU date, which formats with glibc's
// gmtime and strftime as tcpflow's dfxml_writer::to8601 does.
func TestISO8601MatchesStrftime(t *testing.T) {
	if _, err := exec.LookPath("date"); err != nil {
		t.Skip("no date command")
	}
	for _, ns := range []int64{0, 1, 999, 1000, -1, -1000, -1001, 1_700_000_000_123_456_789,
		951_782_400_000_000_000 /* 2000-02-29 */, 4_107_542_399_999_999_000, -2_208_988_800_000_000_000,
		math.MaxInt64, math.MinInt64} {
		usec := floorDiv(ns, 1000)
		sec, frac := floorDiv(usec, 1e6), usec-floorDiv(usec, 1e6)*1e6
		out, err := exec.Command("date", "-u", "-d", "@"+strconv.FormatInt(sec, 10), "+%Y-%m-%dT%H:%M:%S").Output()
		if err != nil {
			t.Fatalf("date for %d: %v", sec, err)
		}
		want := strings.TrimSpace(string(out))
		if frac > 0 {
			want += fmt.Sprintf(".%06d", frac)
		}
		want += "Z"
		if got := ISO8601(ns); got != want {
			t.Errorf("ISO8601(%d) = %q, strftime gives %q", ns, got, want)
		}
	}
}

// Over the whole int64 range the digits agree with time.Format.
func TestISO8601MatchesTimeFormat(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		ns := int64(rng.Uint64())
		usec := floorDiv(ns, 1000)
		sec := floorDiv(usec, 1e6)
		want := time.Unix(sec, 0).UTC().Format("2006-01-02T15:04:05")
		if frac := usec - sec*1e6; frac > 0 {
			want += fmt.Sprintf(".%06d", frac)
		}
		if got := ISO8601(ns); got != want+"Z" {
			t.Fatalf("ISO8601(%d) = %q, want %q", ns, got, want+"Z")
		}
	}
}

func BenchmarkISO8601(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = ISO8601(1_700_000_000_123_456_789)
	}
}
