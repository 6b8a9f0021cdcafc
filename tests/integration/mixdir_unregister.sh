#!/bin/sh
# Removing a node from [registration] and reloading (SIGHUP) takes it out of
# the documents, on a real mixdir:
#  1. two registered mixes upload descriptors (Sphinx keys for many epochs)
#     and a document lists both;
#  2. node 2's line is removed and mixdir gets SIGHUP: the reload is logged
#     with one node listed, a later document lists only node 1 (node 2's
#     stored descriptor is not used), the authority says at warn level that
#     node 2 was left out, and node 2's next upload is refused.
set -u
. "$(dirname "$0")/mixnode_lib.sh"
MIXDIR=$BUILD_ABS/mixdir
DT=$BUILD_ABS/tests/dirtool
[ -x "$MIXDIR" ] && [ -x "$DT" ] || { echo "mixdir or dirtool not built"; exit 77; }

# wait_log FILE PATTERN [SECONDS]
wait_log() {
    lim=$(( ${3:-10} * 10 )); k=0
    until grep -q "$2" "$1" 2>/dev/null; do
        k=$((k + 1)); [ $k -le $lim ] || fail "no \"$2\" in $1: $(tail -n 5 "$1" 2>/dev/null)"
        sleep 0.1
    done
}

BASE=$(pick_base); [ -n "$BASE" ] || fail "no free ports"
AP=$((BASE + 9))
EL=4
line=$("$MIXDIR" keygen -d "$T/a" -a "127.0.0.1:$AP") || fail "mixdir keygen"
X=$(echo "$line" | awk '{print $5}')
ED=$(echo "$line" | awk '{print $4}')
PUB1=$("$DT" nodekeys "$T/n1") || fail "nodekeys 1"
PUB2=$("$DT" nodekeys "$T/n2") || fail "nodekeys 2"
GENESIS=$(($(date +%s) - 1))
auth_conf() { # auth_conf REGISTRATION_LINES
    cat >"$T/a.ini" <<EOF2
[mixdir]
listen = 127.0.0.1:$AP
data_dir = $T/a
log_level = info
log_file = $T/a.log
[network]
${line}
threshold = 1
epoch_length = ${EL}s
genesis = $GENESIS
grace = 1s
vote_lead = 2s
exchange_window = 1s
layers = 3
[registration]
$1
EOF2
}
auth_conf "node = $PUB1
node = $PUB2"
"$MIXDIR" -n -c "$T/a.ini" >/dev/null || fail "mixdir -n"
"$MIXDIR" -c "$T/a.ini" 2>"$T/a.stderr" &
APID=$!; PIDS="$PIDS $APID"
wait_log "$T/a.log" "listening on"

up() { "$DT" upload -A "127.0.0.1:$AP" -K "$X" -k "$T/n$1" -g "$GENESIS" -l $EL -r mix -L 1 \
       -s "127.0.0.1:$((BASE + $1))" -n 8; }
# The number of nodes in the document of epoch $1, or nothing if there is none yet.
nodes_in() {
    "$DT" fetch -A "127.0.0.1:$AP" -K "$X" -a "$ED" -t 1 -e "$1" 2>/dev/null |
        awk '/^epoch/ {print $4}'
}

out=$(up 1) || fail "node 1 refused: $out"
out=$(up 2) || fail "node 2 refused: $out"
# 1. A document listing both: that of the first epoch whose vote (vote_lead = 2 s before it
# starts) comes after the uploads, with a second of margin.  The current epoch's may have been
# built before them (it was, under ASan with 6 tests side by side).
k=0; E=$(( ($(date +%s) - GENESIS + 3) / EL + 2 ))
until [ "$(nodes_in $E)" = 2 ]; do
    k=$((k + 1)); [ $k -le 100 ] || fail "no document of epoch $E lists 2 nodes: $(nodes_in $E)"
    sleep 0.2
done
echo "1. epoch $E: 2 nodes listed"

# 2. Remove node 2, SIGHUP.
auth_conf "node = $PUB1"
kill -HUP "$APID"
wait_log "$T/a.log" "SIGHUP: .* reloaded: registration by list (1 nodes listed)"
# The first document built after the reload: the authority names the node
# it leaves out and the epoch; that document lists node 1 alone.
wait_log "$T/a.log" "left out: no longer in \[registration\]" 20
grep "left out: no longer in \[registration\]" "$T/a.log" | head -n 1 | grep -q "\[warn\]" ||
    fail "the left-out node is not logged at warn"
E2=$(grep -o "epoch [0-9]*: node [^ ]* left out: no longer" "$T/a.log" | head -n 1 | awk '{print $2}' | tr -d :)
[ "$E2" -gt "$E" ] || fail "left out of epoch $E2, not after $E"
k=0
until [ -n "$(nodes_in $E2)" ]; do
    k=$((k + 1)); [ $k -le 100 ] || fail "no document of epoch $E2"
    sleep 0.2
done
n=$(nodes_in $E2)
[ "$n" = 1 ] || fail "epoch $E2 lists $n nodes after node 2 was unregistered"
out=$(up 2) && fail "node 2 accepted after it was unregistered: $out"
echo "$out" | grep -q "not registered" || fail "node 2: $out"
kill -0 "$APID" || fail "mixdir died"
echo "2. after SIGHUP: epoch $E2 lists $n node; $(grep -o 'node .* left out: no longer.*' "$T/a.log" | head -n 1); upload $out"
echo PASS
