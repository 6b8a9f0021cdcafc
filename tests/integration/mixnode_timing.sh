#!/bin/sh
# The network's timing comes from the signed document, and the newest wins:
#  1. nodes keep a copy of the current document (data_dir/network.doc) and
#     take the timing from it at the next start;
#  2. when the authorities were set up again with other timing (a new genesis
#     and epoch length), a node restarted with the old copy finds the
#     authorities' current document, says the timing changed, follows it and
#     is listed again.
set -u
. "$(dirname "$0")/mixnode_lib.sh"
MIXDIR=$BUILD_ABS/mixdir
[ -x "$MIXDIR" ] || { echo "mixdir not built"; exit 77; }
GEN="/usr/bin/python3 $TOP/deploy/netgen.py"

BASE=$(pick_base); [ -n "$BASE" ] || fail "no free ports"
cat >"$T/hosts" <<EOF2
authority auth1 127.0.0.1:$((BASE + 1))
gateway gw1 127.0.0.1:$((BASE + 2)) metrics=127.0.0.1:$((BASE + 100))
mix m1 127.0.0.1:$((BASE + 3)) layer=1 metrics=127.0.0.1:$((BASE + 101))
EOF2
gen() { # gen EPOCH GENESIS
    $GEN "$T/hosts" "$T/out" --bin "$BUILD_ABS" --data-prefix "$T/root" --epoch "$1" \
        --genesis "$2" --mean-delay 1ms >"$T/gen.log" 2>&1 || { cat "$T/gen.log"; fail "netgen"; }
}
start_all() {
    "$MIXDIR" -c "$T/out/auth1/etc/mixnet/dir.ini" >>"$T/auth.log" 2>&1 &
    APID=$!; PIDS="$PIDS $APID"
    "$MIXNODE" -c "$T/out/gw1/etc/mixnet/node.ini" >>"$T/node0.log" 2>&1 &
    PID_0=$!; PIDS="$PIDS $PID_0"
    "$MIXNODE" -c "$T/out/m1/etc/mixnet/node.ini" >>"$T/node1.log" 2>&1 &
    PID_1=$!; PIDS="$PIDS $PID_1"
}
gen 8s $(($(date +%s) - 1))
start_all
wait_metric 0 mixnode_listed 1 40
[ -s "$T/root/var/lib/mixnode/gw1/network.doc" ] || fail "no saved document"
grep -q "network timing from the signed document: .*epoch_length 8s" "$T/node0.log" ||
    fail "no timing line"
echo "1. listed with 8 s epochs; document saved"

kill "$APID" "$PID_0" "$PID_1"; wait "$APID" "$PID_0" "$PID_1" 2>/dev/null
# The authority is set up again: 12 s epochs from a new genesis, same keys.
rm -rf "$T/root/var/lib/mixdir/auth1/documents" "$T/root/var/lib/mixdir/auth1/descriptors"
sed -i "s/^epoch_length = .*/epoch_length = 12s/; s/^genesis = .*/genesis = $(($(date +%s) - 3))/" \
    "$T/out/auth1/etc/mixnet/dir.ini"
start_all
n=0
until grep -q "the network's epoch timing is now .*epoch_length 12s" "$T/node0.log"; do
    n=$((n + 1)); [ $n -le 200 ] || fail "the node did not follow the new timing"; sleep 0.1
done
wait_metric 0 mixnode_listed 1 60
grep "network timing from the signed document" "$T/node0.log" | tail -n 1 | grep -q "epoch_length 8s" ||
    fail "the restart did not start from the saved copy"
echo "2. restarted from the saved copy (8 s), followed the authorities' 12 s epochs, listed again"
echo PASS
