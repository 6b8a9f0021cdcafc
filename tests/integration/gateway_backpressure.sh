#!/bin/sh
# Backpressure is fair between link kinds: gateway 1's inbox store is slow
# (every commit sleeps 40 ms: the MIXNODE_TEST_STORE_DELAY_US hook of
# node/inbox.h, only in the test program build/test/mixnode-slowstore, which
# gateway 1 runs) and a last-layer mix floods it over a node link with packets
# for one inbox, far more than the store takes.  The node links are paused
# (mixnode_node_read_pauses_total) while a client keeps fetching (and
# acknowledging) its own inbox: every fetch is answered within 0.5 s (after
# one or two of the store's 40 ms commits).  Before the fix, the work queue's mark paused every
# inbound link; the flooding link refilled the queue first each time reads
# resumed, and the client's fetches waited for seconds.  With group commits,
# pausing every link still holds a fetch for 0.3 to 3.5 s (the slowest of
# 30; checked by making the pause apply to every link: it failed 3 runs of 3).  Afterwards every flooded packet is stored (group
# commits: fewer commits than packets) and nothing was dropped.  Then a fetch
# without acknowledgements waits for a commit like one with them.
set -u
. "$(dirname "$0")/mixnode_lib.sh"

# The hook is test-only: the daemon has no such code, the test program has.
SLOW=$BUILD_ABS/test/mixnode-slowstore
[ -x "$SLOW" ] || { echo "test/mixnode-slowstore not built"; exit 77; }
n=$(strings -a "$MIXNODE" | grep -c MIXNODE_TEST_STORE_DELAY_US)
[ "$n" = 0 ] || fail "mixnode holds the store-delay test hook"
strings -a "$SLOW" | grep -q MIXNODE_TEST_STORE_DELAY_US || fail "mixnode-slowstore lacks the hook"

FLOOD=3000
BASE=$(pick_base); [ -n "$BASE" ] || fail "no free ports"
"$MT" mknet "$NET" --base-port "$BASE" >/dev/null || fail "mknet"
printf '%s\n' "[node]" "workers = 1" "[inbox]" "max_messages = 100000" "admit_rate = 1000000" \
    "admit_burst = 1000000" "[limits]" "fetch_rate = 100" "fetch_burst = 100" \
    >>"$NET/node1/node.ini"
for i in 0 2 3 4; do start_node $i; done
MIXNODE_TEST_STORE_DELAY_US=40000 "$SLOW" -c "$NET/node1/node.ini" >>"$T/node1.log" 2>&1 &
PID_1=$!; PIDS="$PIDS $!"
for i in 0 1 2 3 4; do wait_up $i; done
PC=$("$MT" keygen "$T/c.key") || fail "keygen c"
"$MT" keygen "$T/b.key" >/dev/null || fail "keygen b"
for k in b c; do
    "$MT" fetch --net "$NET" --key "$T/$k.key" --via 1 --min 0 --wait 0 >/dev/null ||
        fail "register $k"
done

# The flood, in the background (its writes block while gateway 1 does not read).
"$MT" flood --net "$NET" --to 1 --node-key 4 --to-pub "$PC" --count $FLOOD \
    >"$T/flood.out" 2>&1 &
FPID=$!; PIDS="$PIDS $FPID"
wait_metric 1 mixnode_node_read_pauses_total 1 30
out=$("$MT" fetchtime --net "$NET" --key "$T/b.key" --via 1 --count 30 --ack --wait 0.5) ||
    fail "a fetch during the flood was slow: $out"
stored=$(metric 1 mixnode_delivered_total)
echo "fetches during the flood: $out; $stored of $FLOOD stored by then"
[ "${stored%.*}" -lt $FLOOD ] || fail "the flood was over before the fetches (no contention)"
wait "$FPID" || fail "flood: $(cat "$T/flood.out")"
wait_metric 1 mixnode_delivered_total $FLOOD 120
commits=$(metric 1 mixnode_store_commits_total)
dropped=$(curl -s "http://127.0.0.1:$((BASE + 101))/metrics" |
    awk '$1 ~ /^mixnode_packets_dropped_total/ { s += $2 } END { print s + 0 }')
echo "stored $FLOOD in $commits commits; dropped $dropped"
[ "${commits%.*}" -lt $FLOOD ] || fail "no group commit ($commits commits)"
[ "$dropped" = 0 ] || fail "gateway 1 dropped $dropped packets"

# A fetch's answer waits for a store commit whether it carries acknowledgements or not: on
# this store (40 ms per commit) a request without any (b's inbox is empty) is answered no
# sooner than one with them (c acknowledges its 3000 messages four at a time).  Before, it was
# answered at once, so the answer's delay said whether the client had acknowledged anything.
m0=$(metric 1 mixnode_fetch_marker_commits_total)
noack=$("$MT" fetchtime --net "$NET" --key "$T/b.key" --via 1 --count 5 --wait 2) ||
    fail "fetches without acks: $noack"
ack=$("$MT" fetchtime --net "$NET" --key "$T/c.key" --via 1 --count 5 --ack --wait 2) ||
    fail "fetches with acks: $ack"
m1=$(metric 1 mixnode_fetch_marker_commits_total)
echo "fetch answers on a 40 ms store: without acks $noack; with acks $ack"
for r in "$noack" "$ack"; do
    min=$(echo "$r" | awk '{ print int($4) }')
    [ "$min" -ge 39 ] || fail "a fetch answered before the store's commit: $r"
done
[ "${m1%.*}" -ge $(( ${m0%.*} + 5 )) ] || fail "marker commits $m0 -> $m1 for 5 fetches without acks"
echo "PASS"
