#!/bin/sh
# Regenerates tables.go from a Debian system's /etc/services and /etc/protocols.
# The tables are built in so that port and protocol names resolve the same on
# every OS, the way libpcap resolves them on Debian. Run: sh gentables.sh > tables.go
set -e
echo '// Code generated from Debian 12 /etc/services and /etc/protocols by gentables.sh; DO NOT EDIT.'
echo
echo 'package filter'
echo
echo '// services maps a service name or alias to its TCP and UDP ports (-1: none),'
echo '// as /etc/services defines them.'
echo 'var services = map[string]servicePorts{'
sed 's/#.*//' /etc/services | awk 'NF>=2{split($2,a,"/"); for(i=1;i<=NF;i++){ if(i!=2) print $i, a[1], a[2]}}' |
	awk '{ if ($3=="tcp" && !($1 in t)) t[$1]=$2; if ($3=="udp" && !($1 in u)) u[$1]=$2; n[$1]=1 }
	END { for (k in n) printf "\t\"%s\": {tcp: %d, udp: %d},\n", k, (k in t)? t[k] : -1, (k in u)? u[k] : -1 }' | sort
echo '}'
echo
echo '// protocols maps an /etc/protocols name or alias to its IP protocol number.'
echo 'var protocols = map[string]uint32{'
sed 's/#.*//' /etc/protocols | awk 'NF>=2{print $1, $2; for(i=3;i<=NF;i++) print $i, $2}' |
	awk '!seen[$1]++{printf "\t\"%s\": %d,\n", $1, $2}' | sort
echo '}'
