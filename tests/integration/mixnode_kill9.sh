#!/bin/sh
# The recipient's gateway stores a packet, commits, sends the SURB-ack, and is
# killed with -9 right after: the packet is still in the inbox after a
# restart (LMDB commit before the ack), and the ack reaches the sender.
set -u
. "$(dirname "$0")/mixnode_lib.sh"

BASE=$(pick_base); [ -n "$BASE" ] || fail "no free ports"
"$MT" mknet "$NET" --base-port "$BASE" >/dev/null || fail "mknet"
for i in 0 1 2 3 4; do start_node $i; done
for i in 0 1 2 3 4; do wait_up $i; done
"$MT" keygen "$T/a.key" >/dev/null || fail "keygen a"
PB=$("$MT" keygen "$T/b.key") || fail "keygen b"
"$MT" fetch --net "$NET" --key "$T/a.key" --via 0 --min 0 --wait 0 >/dev/null || fail "A register"
"$MT" fetch --net "$NET" --key "$T/b.key" --via 1 --min 0 --wait 0 >/dev/null || fail "B register"

"$MT" send --net "$NET" --key "$T/a.key" --via 0 --to-gw 1 --to-pub "$PB" \
    --message "survives kill -9" --surb-ack "$T/surb.keys" >/dev/null || fail "send"
# Kill the moment the gateway reports the ack sent (poll fast).
n=0
while [ "$(metric 1 mixnode_acks_sent_total)" != 1 ]; do
    n=$((n + 1)); [ $n -lt 500 ] || fail "no ack sent"
    sleep 0.02
done
kill9_node 1
echo "gateway 1 killed -9 after acknowledging"
out=$("$MT" fetch --net "$NET" --key "$T/a.key" --via 0 --wait 10 --surb-keys "$T/surb.keys") ||
    fail "the sender got no ack: $out"
echo "$out" | grep -q 'ack=valid' || fail "bad ack: $out"
start_node 1; wait_up 1
out=$("$MT" fetch --net "$NET" --key "$T/b.key" --via 1 --wait 5 --ack) || fail "message lost: $out"
echo "$out" | grep -q 'text=survives kill -9' || fail "wrong message: $out"
echo "after restart: $out"
echo "PASS"
