#!/bin/sh
# Attack 6: idle and half-open links to an authority.  Limits for the test:
# max_connections 64, max_frame 16 KiB (and max_per_address 1000, so that the attacker's
# two addresses are not stopped by it), anon_idle_timeout 4 s,
# evict_idle 2 s, accept_rate 20/s per address.
#  1. An idle anonymous link is closed after anon_idle_timeout.
#  2. 100 idle links (handshake done, never a frame) reopened as soon as
#     closed hold max_connections: a document fetch and a descriptor upload
#     still succeed (the longest-idle anonymous link, idle >= evict_idle,
#     makes room), within evict_idle plus their own time (5 s of retries
#     allowed, while the attack goes on).
#  3. The same with 100 half-open TCP connections (no handshake).
#  4. A peer that sends DocumentRequests and never reads holds one answer:
#     the rest are refused and counted (doc_busy).
# Afterwards a fetch and an upload succeed; no attacker address is logged.
set -u
. "$(dirname "$0")/dir_lib.sh"

start_dir "max_connections = 64
max_frame = 16384
max_per_address = 1000
anon_idle_timeout = 4s
evict_idle = 2s
accept_rate = 20
accept_burst = 40"
ADDR=127.0.0.1:$DPORT
dir_upload -k "$T/n1" >/dev/null || fail "upload before"

# 1.
out=$("$AB" idle --addr "$ADDR" --key "$X" --links 5 --srcs 1 --seconds 7 --reopen-ms 100000)
echo "idle: $out"
echo "$out" | grep -q 'established 5 .* open_at_end 0$' || fail "idle links not closed: $out"

# 2. and 3.
for mode in links tcp; do
    flag=""; [ $mode = tcp ] && flag=--tcp
    "$AB" idle --addr "$ADDR" --key "$X" $flag --links 100 --srcs 2 --seconds 14 >"$T/idle.out" 2>&1 &
    IPID=$!; PIDS="$PIDS $IPID"
    sleep 3.5
    k=$(within 5 dir_fetch) || fail "fetch kept out by idle $mode for 5 s"
    k2=$(within 5 dir_upload -k "$T/n1") || fail "upload kept out by idle $mode for 5 s"
    kill -0 "$IPID" 2>/dev/null || fail "the attack was over before the fetch and upload"
    echo "idle $mode: fetch in at try $k, upload at try $k2"
    wait "$IPID"; echo "idle $mode: $(cat "$T/idle.out")"
done
grep -q 'evicted_idle=[1-9]' "$T/node_mixdir.log" || fail "no idle link evicted"
grep -q 'evicted_half_open=[1-9]' "$T/node_mixdir.log" || fail "no half-open link evicted"
grep -q 'refused_rate=[1-9]' "$T/node_mixdir.log" || fail "no connection refused over the rate"

# 4.
"$AB" fetch-flood --doc --addr "$ADDR" --key "$X" --links 20 --srcs 1 --seconds 4 >"$T/doc.out" 2>&1 ||
    fail "document flood: $(cat "$T/doc.out")"
echo "document flood: $(cat "$T/doc.out")"
sleep 1.2
grep -q 'doc_busy=[1-9]' "$T/node_mixdir.log" || fail "unread documents: requests not refused"
echo "limits: $(grep 'limits:' "$T/node_mixdir.log" | tail -n 1)"
out=$(dir_fetch) || fail "fetch after: $out"
echo "fetch after: $out"
out=$(dir_upload -k "$T/n1") || fail "upload after: $out"
echo "upload after: $out"
bad=$(grep -hoE '127\.[0-9]+\.[0-9]+\.[0-9]+' "$T/node_mixdir.log" | grep -v '^127\.0\.0\.1$' | head -3)
[ -z "$bad" ] || fail "an attacker address was logged: $bad"
echo "PASS"
