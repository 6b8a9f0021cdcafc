#!/bin/sh
# Attack 7: idle connections to /metrics.
#  1. An idle connection is closed after limits.metrics_timeout (2 s).
#  2. 100 idle TCP connections from 12 addresses, reopened as soon as
#     closed: each address holds at most metrics_connections_per_addr (8),
#     so together they stay below metrics_connections (256) and a scrape
#     from another address is answered at once (the test allows 8 s).  An
#     attacker with more than 256 / 8 addresses can fill the endpoint; each
#     of its connections then goes after 2 s idle, which is the bound for a
#     scrape that retries.
# A normal send succeeds afterwards.
set -u
. "$(dirname "$0")/lib.sh"

start_net ""
MADDR="127.0.0.1:$((BASE + 101))"
out=$("$AB" idle --addr "$MADDR" --tcp --links 8 --srcs 1 --seconds 5 --reopen-ms 100000)
echo "idle: $out"
echo "$out" | grep -q 'open_at_end 0$' || fail "idle metrics connections not closed: $out"

"$AB" idle --addr "$MADDR" --tcp --links 100 --srcs 12 --seconds 10 >"$T/idle.out" 2>&1 &
IPID=$!; PIDS="$PIDS $IPID"
sleep 2
for k in 1 2 3; do
    curl -s --max-time 8 "http://$MADDR/metrics" >"$T/m.txt" || fail "scrape $k failed during the flood"
    grep -q '^mixnode_epoch ' "$T/m.txt" || fail "scrape $k: no metrics"
    sleep 1
done
wait "$IPID"; cat "$T/idle.out"
echo "3 scrapes answered during the flood"
grep -q 'Closing inbound' "$T/node1.log" && ! grep 'Closing inbound' "$T/node1.log" | grep -q '\[debug\]' &&
    fail "refused metrics connections logged above debug"
normal_send after
no_attacker_addr_logged
echo "PASS"
