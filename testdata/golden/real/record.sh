#!/bin/sh
# Records the real captures of this directory (see README.md): real TCP
# traffic between two network namespaces made here (veth pair), captured by
# tcpdump inside them. Run as root: sh record.sh OUTDIR [CAPTURE...]
# Everything created is named with this shell's pid and deleted at exit.
set -eu
out=$(realpath "$1"); shift
here=$(dirname "$(realpath "$0")")
A=h8a$$ B=h8b$$ VA=h8va$$ VB=h8vb$$
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	ip netns del "$A" 2>/dev/null || true
	ip netns del "$B" 2>/dev/null || true
}
trap cleanup EXIT INT TERM
ip netns add "$A"; ip netns add "$B"
ip link add "$VA" type veth peer name "$VB"
ip link set "$VA" netns "$A"; ip link set "$VB" netns "$B"
ip -n "$A" link set "$VA" address 02:00:00:00:00:0a
ip -n "$B" link set "$VB" address 02:00:00:00:00:0b
ip -n "$A" addr add 10.99.0.1/24 dev "$VA"; ip -n "$B" addr add 10.99.0.2/24 dev "$VB"
ip -n "$A" addr add fd99::1/64 dev "$VA" nodad; ip -n "$B" addr add fd99::2/64 dev "$VB" nodad
for n in "$A" "$B"; do
	ip -n "$n" link set lo up
	ip netns exec "$n" sysctl -qw net.ipv4.tcp_fastopen=3
done
ip -n "$A" link set "$VA" up; ip -n "$B" link set "$VB" up
# No offloads: the capture shows the segments as they are on the wire.
ip netns exec "$A" ethtool -K "$VA" tso off gso off gro off 2>/dev/null || true
ip netns exec "$B" ethtool -K "$VB" tso off gso off gro off 2>/dev/null || true

serve() { # ns addr port
	f=$(mktemp)
	ip netns exec "$1" python3 "$here/traffic.py" server "$2" "$3" >"$f" &
	pids="$pids $!"
	while ! grep -q ready "$f"; do sleep 0.05; done
	rm -f "$f"
}
serve "$B" 10.99.0.2 80
serve "$B" 10.99.0.2 8080
serve "$B" fd99::2 80
serve "$B" fd99::2 443

# An MTU below 1280 removes the IPv6 addresses; mtu puts them back.
mtu() {
	ip -n "$A" link set "$VA" mtu "$1"; ip -n "$B" link set "$VB" mtu "$1"
	[ "$1" -lt 1280 ] && return 0
	ip -n "$A" addr replace fd99::1/64 dev "$VA" nodad; ip -n "$B" addr replace fd99::2/64 dev "$VB" nodad
}
netem() { # args or "off"
	if [ "$1" = off ]; then ip netns exec "$A" tc qdisc del dev "$VA" root 2>/dev/null || true
	else ip netns exec "$A" tc qdisc add dev "$VA" root netem "$@"; fi
}
c() { ip netns exec "$A" python3 "$here/traffic.py" client "$@"; }

# record NAME "TCPDUMP OPTIONS" CLIENT-COMMANDS...: capture while they run.
record() {
	name=$1 opts=$2; shift 2
	log=$(mktemp)
	# shellcheck disable=SC2086
	ip netns exec "$A" tcpdump --immediate-mode -U $opts -w "$out/$name" >"$log" 2>&1 &
	tp=$!
	while ! grep -q "listening on" "$log"; do sleep 0.05; done
	for cmd in "$@"; do eval "$cmd"; done
	ip netns exec "$A" sh -c 'sleep 0.3' # let the last FIN/ACK reach the capture
	kill -INT "$tp"; wait "$tp" || true
	rm -f "$log"
	# 24 bytes is a file header without packets: the run failed.
	[ "$(stat -c %s "$out/$name")" -gt 24 ] || { echo "no packets in $name" >&2; exit 1; }
	echo "recorded $name: $(stat -c %s "$out/$name") bytes"
}

WANT="${*:-all}"
on() { [ "$WANT" = all ] || case " $WANT " in *" $1 "*) return 0;; *) return 1;; esac; }

on http_keepalive.pcap && record http_keepalive.pcap "-i $VA" "c 10.99.0.2 80 http"
on mixed_v4v6.pcap && record mixed_v4v6.pcap "-i $VA" "c fd99::2 80 http" "c 10.99.0.2 8080 many4" "c fd99::2 443 binary" "c 10.99.0.2 80 upload3000"
on many_short.pcap && record many_short.pcap "-i $VA" "c 10.99.0.2 8080 many25"
on closes.pcap && record closes.pcap "-i $VA" "c 10.99.0.2 80 rst" "c 10.99.0.2 80 half" "c 10.99.0.2 80 simclose" "c fd99::2 80 rst" &&
	python3 "$here/topcapng.py" "$out/closes.pcap" "$out/closes.pcapng"
on bulk_mtu576.pcap && { mtu 576; record bulk_mtu576.pcap "-i $VA" "c 10.99.0.2 80 bulk20000" "c 10.99.0.2 8080 upload6000"; mtu 1500; }
on bulk_snap96.pcap && record bulk_snap96.pcap "-i $VA -s 96" "c 10.99.0.2 80 bulk30000" "c 10.99.0.2 80 http"
on idle.pcap && record idle.pcap "-i $VA" "c 10.99.0.2 80 idle" "c 10.99.0.2 8080 many2"
on reuse.pcap && record reuse.pcap "-i $VA" "c 10.99.0.2 8080 reuse" "c 10.99.0.2 80 tfo" "c 10.99.0.2 80 oob" "c fd99::2 443 reuse"
# netem.pcap: with sch_netem, loss/reorder/duplication on the veth; without
# it (modprobe fails in containers), the same traffic perturbed afterwards.
if on netem.pcap; then
	if netem loss 8% reorder 25% 50% duplicate 5% delay 2ms 2>/dev/null; then
		record netem.pcap "-i $VA" "c 10.99.0.2 80 bulk15000" "c 10.99.0.2 80 http" "c fd99::2 80 upload8000"
		netem off
	else
		record netem_orig.pcap "-i $VA" "c 10.99.0.2 80 bulk15000" "c 10.99.0.2 80 http" "c fd99::2 80 upload8000"
		python3 "$here/perturb.py" "$out/netem_orig.pcap" "$out/netem.pcap" 8
		rm "$out/netem_orig.pcap"
	fi
fi
on any_sll2.pcap && record any_sll2.pcap "-i any" "c 10.99.0.2 80 http" "c fd99::2 80 binary"
on any_sll.pcap && record any_sll.pcap "-i any -y LINUX_SLL" "c 10.99.0.2 8080 many3" "c fd99::2 443 http"
on nano.pcap && record nano.pcap "-i $VA --nano" "c 10.99.0.2 80 http" "c 10.99.0.2 80 binary" &&
	python3 "$here/topcapng.py" "$out/nano.pcap" "$out/nano.pcapng"
on lo_ns.pcap && record lo_ns.pcap "-i lo" "ip netns exec $A python3 $here/traffic.py server 127.0.0.1 81 >/dev/null & sp=\$!; pids=\"\$pids \$sp\"; sleep 0.3; c 127.0.0.1 81 http; kill \$sp"
# Large ones, for comparison runs only (not kept in the repository).
on big_bulk.pcap && record big_bulk.pcap "-i $VA" "c 10.99.0.2 80 bulk4000000" "c 10.99.0.2 80 upload3000000"
on big_netem.pcap && { record big_orig.pcap "-i $VA" "c 10.99.0.2 80 bulk2000000" "c fd99::2 80 many10"; python3 "$here/perturb.py" "$out/big_orig.pcap" "$out/big_netem.pcap" 3; rm "$out/big_orig.pcap"; }
exit 0
