#!/bin/sh
# A node's health at a glance:
#  1. `mixnode status -c FILE` on a running node of a test network shows its
#     node id (base64url, as keys and logs print it), version and uptime, the
#     epoch, "document: yes  listed: yes", links, packets in/out (after
#     traffic), drops by reason and queues;
#  2. /metrics has mixnode_build_info, mixnode_start_time_seconds,
#     mixnode_listed and mixnode_document; /health answers 200 "ok";
#  3. a node without a document: /health answers 503 with the reason and
#     status says "document: NO"; a stopped node: status exits 1, saying so.
set -u
. "$(dirname "$0")/mixnode_lib.sh"

BASE=$(pick_base); [ -n "$BASE" ] || fail "no free ports"
"$MT" mknet "$NET" --base-port "$BASE" >/dev/null || fail "mknet"
for i in 0 1 2 3 4; do start_node $i; done
for i in 0 1 2 3 4; do wait_up $i; done
wait_metric 0 mixnode_listed 1 15
"$MT" keygen "$T/a.key" >/dev/null || fail "keygen a"
"$MT" send --net "$NET" --key "$T/a.key" --via 0 --to-gw 1 --drop-cover --count 3 >/dev/null ||
    fail "send"
wait_metric 1 mixnode_drop_cover_total 3

ID=$("$MIXNODE" pubkey -c "$NET/node0/node.ini" | sed -n 's/^node_id = //p')
out=$("$MIXNODE" status -c "$NET/node0/node.ini") || fail "status exit $?: $out"
echo "$out"
echo "$out" | grep -qx "node: $ID" || fail "no node id line"
echo "$out" | grep -q "running: mixnode [0-9.]*, up " || fail "no version/uptime"
echo "$out" | grep -q "epoch: [1-9][0-9]*   document: yes   listed: yes" || fail "no epoch/listed"
echo "$out" | grep -q "links: clients [0-9]*, nodes in [0-9]*, nodes out [1-9]" || fail "no links"
echo "$out" | grep -q "packets: in [1-9][0-9]* (.*client [1-9]" || fail "no packets in"
echo "$out" | grep -q "drops: [0-9]*" || fail "no drops line"
echo "$out" | grep -q "queues: mixing [0-9]*, crypto work [0-9]*" || fail "no queues"
echo "1. status: ok"

M=$(curl -s "http://127.0.0.1:$((BASE + 100))/metrics")
echo "$M" | grep -q '^mixnode_build_info{version="[0-9.]*"} 1$' || fail "no build_info"
st=$(echo "$M" | awk '$1 == "mixnode_start_time_seconds" {print $2}')
now=$(date +%s)
[ -n "$st" ] && [ "$st" -le "$now" ] && [ "$st" -gt $((now - 300)) ] || fail "start time '$st'"
echo "$M" | grep -q '^mixnode_listed 1$' || fail "mixnode_listed"
echo "$M" | grep -q '^mixnode_document 1$' || fail "mixnode_document"
h=$(curl -s -w ' %{http_code}' "http://127.0.0.1:$((BASE + 100))/health")
[ "$h" = "ok
 200" ] || fail "/health: $h"
echo "2. metrics and /health: ok"

stop_node 0
out=$("$MIXNODE" status -c "$NET/node0/node.ini"); rc=$?
[ $rc -eq 1 ] || fail "status of a stopped node exited $rc"
echo "$out" | grep -q "state: not answering (cannot reach" || fail "stopped: $out"
# Without a document (its file gone, no authority reachable), and no saved copy.
sed -i "s#^document_file = .*#document_file = $T/none#" "$NET/node0/node.ini"
rm -f "$NET/node0/network.doc"
start_node 0
n=0
until h=$(curl -s -w ' %{http_code}' "http://127.0.0.1:$((BASE + 100))/health") &&
      [ "$h" = "no current document
 503" ]; do
    n=$((n + 1)); [ $n -le 100 ] || fail "/health without a document: $h"; sleep 0.1
done
"$MIXNODE" status -c "$NET/node0/node.ini" | grep -q "document: NO   listed: NO" ||
    fail "status without a document"
echo "3. no document: 503, status says so; stopped: exit 1"
echo PASS
