// Package golden holds bpflow's golden corpus: crafted captures, the
// command lines run on them, and the output Debian's tcpflow 1.6.1 gave,
// recorded once and committed — and the tests that hold bpflow to it.
//
// Layout:
//
//	captures.go, script.go, capture.go  the capture generator (packet scripts
//	                                    encoded with internal/testutil/pktbuild)
//	cases.go, case.go                   the case table: command lines, and for
//	                                    DESIGN §4 differences how bpflow's
//	                                    expectation derives from tcpflow's output
//	run.go                              runs a tool on a case
//	flowdiff/                           snapshot, normalisation, storage, diff
//	                                    (reused by the live-capture tests)
//	qacases.go                          cases on recorded traffic and on
//	                                    damaged inputs found by QA
//	filters_test.go                     filters on recorded traffic vs libpcap
//	../../testdata/golden/captures/     the generated captures
//	../../testdata/golden/real/         recorded real traffic (seen as real/
//	                                    beside in/; README says how), and
//	                                    filters.txt/.tsv (tcpdump's answers)
//	../../testdata/golden/want/         <case>.txt: tcpflow 1.6.1's output;
//	                                    <case>.alt.txt: tcpflow on the case's
//	                                    alternative input (differences only)
//
// Every run happens in a fresh directory (the CWD) where in/ holds the
// captures, with argv[0] "tcpflow" (through a symlink of that name, so both
// tools print the same message prefix), TZ=UTC, LC_ALL=C and umask 022. The
// snapshot is exit status, stdout, stderr and every file with mode, mtime
// (µs, or "now" for files stamped with the wall clock) and bytes, normalised
// as flowdiff.Normalize says.
//
// # For bpflow developers
//
//	go test ./internal/golden -run TestGolden              # build cmd/bpflow, run every case
//	go test ./internal/golden -run 'TestGolden/^c_basic$' -v
//	BPFLOW_BIN=bin/bpflow go test ./internal/golden -run TestGolden  # a prebuilt binary
//	BPFLOW_GOLDEN_STRICT=1 go test ./internal/golden -run TestGolden # pending cases fail too
//
// A mismatch prints the command line, where the expectation comes from
// (tcpflow's output, or for a documented difference the DESIGN item, the
// alternative command and the edits applied), then one section per differing
// part: exit status, stdout/stderr as a line diff, each file missing,
// unexpected, with another mode/mtime, or with other bytes (line diff for
// text, hexdump diff for binary). To see a case by hand, run the same command
// line under both tools in two empty directories that contain a symlink
// in -> testdata/golden/captures, or read testdata/golden/want/<case>.txt.
// Cases bpflow does not match yet are listed in pending (golden_test.go) with
// the reason; they are skipped with their diff and fail once they match, so
// remove them as they are fixed.
//
// # Regenerating
//
//	go test ./internal/golden -run TestGenerate -update      # captures, from the generator
//	go test ./internal/golden -run TestConformance -record   # goldens, from tcpflow 1.6.1 only
//
// TestGenerate (always) fails when a committed capture differs from what the
// generator makes. TestConformance re-runs tcpflow on every case and fails
// when its output differs from the committed golden; it skips without
// tcpflow 1.6.1 unless BPFLOW_REQUIRE_TCPFLOW=1. Goldens are never recorded
// from bpflow.
package golden

//go:generate go test -run TestGenerate -update
