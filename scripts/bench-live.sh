#!/usr/bin/env bash
# bench-live.sh - bpflow's live capture beside tcpflow 1.6.1 (and no capture),
# interleaved run by run, with the capture benchmark harness (run.sh; see its
# README for the fields it prints: gbps, cap_ratio, sys_cpu_per_GB, ...).
#
#   scripts/bench-live.sh [-n RUNS] [-d SECS] [SCENARIO ...]
#
# SCENARIOs: bulk bulk-rate manyflows select1pct (default: all four).
# Captures compared: none, tcpflow-o, bpflow (eBPF, copy path chosen by
# feature probe), bpflow-scratch (eBPF, per-CPU scratch copy path forced).
# BENCH_DIR is the harness directory (default: bench/ in this repository); the
# harness needs root, iproute2, ethtool, iperf3, tcpflow, tcpdump and Go.
# WORKDIR is where captures write (default: the harness's choice); use a
# tmpfs (e.g. WORKDIR=/dev/shm/bench MIN_FREE_GB=5) to measure capture, not
# the disk: with output on disk both tools stall in page-cache writeback.
# BPFLOW_BIN runs that binary instead of building bin/bpflow from this tree.
# RATE and CPS set the bulk-rate and manyflows load (the issue's points:
# RATE=4000, CPS=3000); run.sh's header lists the other knobs.
# In-kernel cost per packet: scripts/bench-live-kernel.sh.
set -euo pipefail
RUNS=3 DUR=10
while getopts "n:d:h" o; do
	case $o in
	n) RUNS=$OPTARG ;;
	d) DUR=$OPTARG ;;
	*) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=(bulk bulk-rate manyflows select1pct)
BENCH_DIR=${BENCH_DIR:-$(cd "$(dirname "$0")/.." && pwd)/bench}
[ -x "$BENCH_DIR/run.sh" ] || { echo "bench-live: no harness at $BENCH_DIR/run.sh (set BENCH_DIR)" >&2; exit 1; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ -n "${BPFLOW_BIN:-}" ]; then
	BIN=$BPFLOW_BIN
else
	BIN=$ROOT/bin/bpflow
	(cd "$ROOT" && CGO_ENABLED=0 go build -o "$BIN" ./cmd/bpflow)
fi

for scen in "${SCENARIOS[@]}"; do
	echo "== $scen"
	"$BENCH_DIR/run.sh" -n "$RUNS" -d "$DUR" ${WORKDIR:+-w "$WORKDIR"} -c none -c tcpflow-o \
		-c "bpflow=$BIN --capture=ebpf -i {IF} -o {OUT} {FILTER}" \
		-c "bpflow-scratch=env BPFLOW_EBPF_COPY=scratch $BIN --capture=ebpf -i {IF} -o {OUT} {FILTER}" \
		-c "bpflow-afpacket=$BIN --capture=afpacket -i {IF} -o {OUT} {FILTER}" \
		"$scen"
done
