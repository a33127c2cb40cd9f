#!/usr/bin/env bash
# bench-live-kernel.sh - in-kernel cost of bpflow's TC program per packet, for
# each copy path (dynptr, scratch), from the kernel's BPF run-time statistics
# (sysctl kernel.bpf_stats_enabled, restored afterwards; it adds a little
# overhead of its own).
#
#   scripts/bench-live-kernel.sh [-d SECS]
#
# Two namespaces joined by a veth pair (bpflowk-<pid>-a/-b, 198.18.0.1/.2,
# deleted on exit); iperf3 bulk TCP and small-write TCP (-l 100 -N) from a to
# b; bpflow captures "port 5201" on b's veth into a temporary directory.
# Prints one line per copy path and load: program runs, average ns per run,
# bytes recorded, ns per recorded KiB. RING_SIZE (bytes) sets bpflow's
# --ring-size; COPY_PATHS (default "dynptr scratch") picks the paths.
# Needs root, iproute2, iperf3, bpftool, jq, Go.
set -euo pipefail
DUR=5
while getopts "d:h" o; do
	case $o in
	d) DUR=$OPTARG ;;
	*) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
	esac
done
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/bin/bpflow
(cd "$ROOT" && CGO_ENABLED=0 go build -o "$BIN" ./cmd/bpflow)

NA=bpflowk-$$-a NB=bpflowk-$$-b VA=bka$$ VB=bkb$$
WORK=$(mktemp -d)
OLD_STATS=$(sysctl -n kernel.bpf_stats_enabled)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	ip netns del "$NA" 2>/dev/null || true
	ip netns del "$NB" 2>/dev/null || true
	sysctl -q -w kernel.bpf_stats_enabled="$OLD_STATS"
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

ip netns add "$NA"
ip netns add "$NB"
ip link add "$VA" netns "$NA" type veth peer name "$VB" netns "$NB"
ip -n "$NA" addr add 198.18.0.1/30 dev "$VA"
ip -n "$NB" addr add 198.18.0.2/30 dev "$VB"
for n in "$NA" "$NB"; do ip -n "$n" link set lo up; done
ip -n "$NA" link set "$VA" up
ip -n "$NB" link set "$VB" up
sysctl -q -w kernel.bpf_stats_enabled=1

# bpflow_ids: ids of the loaded bpflow programs, one per line.
bpflow_ids() {
	bpftool -j prog show | jq -r '.[] | select(.name == "bpflow_ingress" or .name == "bpflow_egress") | .id'
}

bpftool_ids_sorted() { bpflow_ids | sort; }

# prog_stats IDS: "runs run_time_ns" summed over the programs with these ids
# (bpftool here cannot name the owning pid, so we take the programs that
# appeared when our capture started).
prog_stats() {
	bpftool -j prog show | jq -r --argjson ids "[$(echo $1 | tr ' ' ',')]" '
		[.[] | select(.id as $i | $ids | index($i))]
		| "\(map(.run_cnt // 0) | add // 0) \(map(.run_time_ns // 0) | add // 0)"'
}

measure() { # measure COPYPATH LOAD IPERF-ARGS...
	local path=$1 load=$2
	shift 2
	local out=$WORK/$path-$load
	mkdir -p "$out"
	local old_ids ids
	old_ids=$(bpftool_ids_sorted)
	ip netns exec "$NB" iperf3 -s -1 -B 198.18.0.2 >/dev/null 2>&1 &
	PIDS+=($!)
	local srv=$!
	BPFLOW_EBPF_COPY=$path ip netns exec "$NB" "$BIN" --capture=ebpf ${RING_SIZE:+--ring-size="$RING_SIZE"} -i "$VB" -o "$out" port 5201 2>"$WORK/err" &
	PIDS+=($!)
	local cap=$!
	until grep -q "listening on" "$WORK/err"; do
		kill -0 "$cap" 2>/dev/null || { cat "$WORK/err" >&2; exit 1; }
		sleep 0.1
	done
	ids=$(comm -13 <(echo "$old_ids") <(bpftool_ids_sorted) | tr '\n' ' ')
	local before after
	before=$(prog_stats "$ids")
	ip netns exec "$NA" iperf3 -c 198.18.0.2 -t "$DUR" "$@" >/dev/null
	after=$(prog_stats "$ids")
	wait "$srv" || true
	kill -INT "$cap"
	wait "$cap" || true
	local bytes
	bytes=$(du -sb "$out" | cut -f1)
	set -- $before $after
	local runs=$(($3 - $1)) ns=$(($4 - $2))
	awk -v p="$path" -v l="$load" -v r="$runs" -v n="$ns" -v b="$bytes" 'BEGIN {
		printf "%-8s %-6s runs=%d avg_ns_per_run=%.0f recorded_MB=%.1f ns_per_KiB=%.1f\n",
			p, l, r, (r ? n / r : 0), b / 1e6, (b ? n / (b / 1024) : 0) }'
}

for path in ${COPY_PATHS:-dynptr scratch}; do
	measure "$path" bulk
	measure "$path" small -l 100 -N -b 100M
done
