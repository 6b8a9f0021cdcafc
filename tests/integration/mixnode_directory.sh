#!/bin/sh
# mixnode with real mixdir authorities (3, k = 2, 10-second epochs), on loopback:
#  1. five nodes made with `mixnode keygen` upload their signed descriptors,
#     follow the published documents (k-of-n verified) and rotate their Sphinx
#     keys each epoch;
#  2. a packet from a client of gateway 0 reaches a client of gateway 1 through
#     the network the directory describes, before and after an epoch change;
#  3. nodes configure only the authorities and the threshold: the epoch timing
#     comes from the signed document; node 4 states a wrong epoch_length and
#     says so in one line at start, then follows the network.
set -u
. "$(dirname "$0")/mixnode_lib.sh"
MIXDIR=$BUILD_ABS/mixdir
DT=$BUILD_ABS/tests/dirtool
if [ ! -x "$MIXDIR" ] || [ ! -x "$DT" ]; then echo "mixdir or dirtool not built"; exit 77; fi

BASE=$(pick_base); [ -n "$BASE" ] || fail "no free ports"
EPOCH=10
mkdir -p "$NET"
AUTH=""
for a in 1 2 3; do
    line=$("$MIXDIR" keygen -d "$T/a$a" -a "127.0.0.1:$((BASE + 5 + a))") || fail "mixdir keygen"
    AUTH="$AUTH$line
"
done
ED1=$(echo "$AUTH" | sed -n 1p | awk '{print $4}')
X1=$(echo "$AUTH" | sed -n 1p | awk '{print $5}')
GENESIS=$(($(date +%s) - 1))
for a in 1 2 3; do
    cat >"$T/a$a.ini" <<EOF2
[mixdir]
listen = 127.0.0.1:$((BASE + 5 + a))
data_dir = $T/a$a
[network]
${AUTH}threshold = 2
epoch_length = ${EPOCH}s
genesis = $GENESIS
grace = 2s
vote_lead = 4s
exchange_window = 1s
layers = 3
mean_delay = 1ms
max_delay = 1s
lambda_m = 0
[registration]
open = yes
EOF2
    "$MIXDIR" -c "$T/a$a.ini" >"$T/auth$a.log" 2>&1 &
    PIDS="$PIDS $!"
done

# Nodes: 0, 1 gateways+providers; 2, 3, 4 mixes of layers 1, 2, 3.
: >"$NET/nodes.txt"
for i in 0 1 2 3 4; do
    id=$("$MIXNODE" keygen -d "$NET/node$i" | awk '/^node_id/ { print $3 }') || fail "keygen $i"
    echo "$i $id" >>"$NET/nodes.txt"
    if [ $i -le 1 ]; then roles="gateway,provider"; layer=0; else roles=mix; layer=$((i - 1)); fi
    expect=""
    [ $i -eq 4 ] && expect="genesis = $GENESIS
epoch_length = 30
"
    cat >"$NET/node$i/node.ini" <<EOF2
[node]
data_dir = $NET/node$i
listen = 127.0.0.1:$((BASE + i))
roles = $roles
layer = $layer
log_level = debug
metrics_listen = 127.0.0.1:$((BASE + 100 + i))
[directory]
${AUTH}threshold = 2
${expect}poll_interval = 1s
EOF2
    # -n compares with the network's document when an authority serves one:
    # node 4's stated epoch_length then fails the check, with the reason.
    out=$("$MIXNODE" -n -c "$NET/node$i/node.ini" 2>&1) ||
        { [ $i -eq 4 ] && echo "$out" | grep -q "disagrees with the network: \[directory\] epoch_length = 30s"; } ||
        fail "config $i: $out"
    start_node $i
done
echo "$ED1" >"$NET/auth.pub"

# Wait until every node holds a verified document in which it is listed.
for i in 0 1 2 3 4; do wait_metric $i mixnode_documents_accepted_total 1 40; done
n=0
until [ "$(grep -l "this node is listed" "$T"/node*.log | wc -l)" -ge 5 ]; do
    n=$((n + 1)); [ $n -lt 300 ] || fail "nodes not listed in a document"; sleep 0.1
done
# Each node enters an epoch on its own one-second tick: wait until all are in
# the newest one, whose document lists them all, before using it.
EL=0
for i in 0 1 2 3 4; do e=$(metric $i mixnode_epoch); e=${e%.*}; [ "${e:-0}" -gt $EL ] && EL=$e; done
for i in 0 1 2 3 4; do wait_metric $i mixnode_epoch "$EL" 5; done
grep -q "authority . accepted our descriptor" "$T/node2.log" || fail "no accepted upload"
echo "all nodes listed in a verified document"
n=$(grep -c "disagrees with the network" "$T/node4.log")
[ "$n" = 1 ] || fail "node 4: $n disagreement lines, expected 1"
grep -q "disagrees with the network: \[directory\] epoch_length = 30s but the network's is ${EPOCH}s$" \
    "$T/node4.log" || fail "node 4 does not say why: $(grep disagrees "$T/node4.log")"
! grep -q "disagrees" "$T/node2.log" || fail "node 2 disagrees"
echo "node 4: $(grep -o 'disagrees.*' "$T/node4.log")"

deliver() { # deliver TAG: A (gateway 0) -> B (gateway 1) with the current document
    E=$(metric 0 mixnode_epoch)
    "$DT" fetch -A "127.0.0.1:$((BASE + 6))" -K "$X1" -a "$ED1" -t 1 -e "$E" -o "$NET/doc.signed" \
        >/dev/null || fail "fetch document $E"
    "$MT" fetch --net "$NET" --key "$T/b.key" --via 1 --min 0 --wait 0 >/dev/null || fail "B register"
    "$MT" send --net "$NET" --key "$T/a.key" --via 0 --to-gw 1 --to-pub "$PB" --message "$1" \
        >/dev/null || fail "send $1"
    out=$("$MT" fetch --net "$NET" --key "$T/b.key" --via 1 --wait 10 --ack) || fail "$1 not delivered"
    echo "$out" | grep -q "text=$1" || fail "wrong message: $out"
    echo "epoch $E: $1 delivered"
}
"$MT" keygen "$T/a.key" >/dev/null
PB=$("$MT" keygen "$T/b.key")
E0=$(metric 0 mixnode_epoch)
deliver first
# Through an epoch change: keys rotate, the next document takes over.
wait_metric 0 mixnode_epoch $((E0 + 1)) 15
for i in 0 1 2 3 4; do wait_metric $i mixnode_epoch $((E0 + 1)) 5; done
# A node without the new epoch's document at the boundary fetches it after:
# wait until every node holds a verified document of the epoch, listing it.
for i in 0 1 2 3 4; do
    wait_metric $i mixnode_document 1 10
    wait_metric $i mixnode_listed 1 10
done
deliver second
ls "$NET/node2/sphinx-$((E0 + 2)).key" >/dev/null || fail "no key generated ahead"
[ "$(metric 2 mixnode_key_rotations_total)" -ge 1 ] || fail "no key rotation counted"
echo "PASS"
