#!/bin/sh
# Attack 1: fetch flood.  120 client links (from 4 addresses) send
# FetchRequests as fast as they can and never read an answer.
# Bound: gateway RSS stays within 64 MB of its idle size (each link holds at
# most one padded answer in the process: one fetch outstanding, output cap
# limits.client_queue_bytes, fetch cadence limits.fetch_rate); the refusals
# are counted (mixnode_fetches_refused_total); a normal send and fetch
# succeed during and after the flood.  ABUSE_FLOOD_S sets the flood's
# length (default 20 s; the issue's figure is 60 s).
set -u
. "$(dirname "$0")/lib.sh"

# Inbox creation is not what this test is about: every flooding link gets
# an inbox, so that each fetch it may make is answered in full.
start_net "[inbox]
create_burst = 1000
create_burst_per_prefix = 1000"
normal_send before
sleep 1
idle=$(rss_kb 1)
secs=${ABUSE_FLOOD_S:-20}
"$AB" fetch-flood --addr "$(node_addr 1)" --key "$(node_key 1)" --links 120 --srcs 4 \
    --seconds "$secs" >"$T/flood.out" 2>&1 &
FPID=$!; PIDS="$PIDS $FPID"
max=$idle; n=0; sent=0
while kill -0 "$FPID" 2>/dev/null; do
    r=$(rss_kb 1); [ -n "$r" ] || fail "gateway 1 died"
    [ "$r" -gt "$max" ] && max=$r
    n=$((n + 1))
    # Half way through, a legitimate client is still served.
    if [ $sent = 0 ] && [ $n -ge $((secs * 2 / 3)) ]; then normal_send during; sent=1; fi
    sleep 0.5
done
cat "$T/flood.out"
grep -q 'established 120 ' "$T/flood.out" || fail "the flood did not get its 120 links up"
[ $sent = 1 ] || fail "no send during the flood"
refused=$(metric_int 1 mixnode_fetches_refused_total)
fetches=$(metric_int 1 mixnode_fetches_total)
echo "gateway 1 RSS: idle ${idle} kB, max ${max} kB during the flood; fetches answered $fetches, refused $refused"
[ $((max - idle)) -le 65536 ] || fail "RSS grew by $((max - idle)) kB (bound 65536 kB)"
[ "$refused" -gt 1000 ] || fail "fetches over the cadence were not refused ($refused)"
normal_send after
no_attacker_addr_logged
echo "PASS"
