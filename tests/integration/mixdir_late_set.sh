#!/bin/sh
# A peer authority's descriptor set that arrives after this authority voted
# (here: for an epoch whose document is already published) is too late for
# the vote, but its valid descriptors are kept and stored: they are counted
# (peer_descs_kept_late), a restart reloads them, and the next documents
# list the node.  A bad-signature descriptor in a late set is refused.
# One authority runs; the test tool speaks as its configured peer (with the
# peer's link key).  This is the case a loaded authority meets when its vote
# runs before its peers' sets arrive: it must not end up holding, and
# reloading after a kill, only the uploads it received itself.
set -u
BUILD_ABS=${BUILD_ABS:-$(pwd)/${BUILD:-build}}
MIXDIR=$BUILD_ABS/mixdir
TOOL=$BUILD_ABS/tests/dirtool
if [ ! -x "$MIXDIR" ] || [ ! -x "$TOOL" ]; then
    echo "mixdir or dirtool not built"; exit 77
fi
T=$(mktemp -d /tmp/mixdir_late.XXXXXX)
PIDS=""
cleanup() {
    rc=$?
    stop_pids $PIDS
    wait 2>/dev/null
    cp "$T/a1.log" "$BUILD_ABS/test-logs/mixdir_late_set.a1.log" 2>/dev/null
    scan_sanitizer "$T/a1.log" || rc=1
    rm -rf "$T"
    exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() {
    echo "FAIL: $*"
    echo "--- authority log (tail)"; tail -n 25 "$T/a1.log" 2>/dev/null
    exit 1
}
TOP=${TOP:-$(pwd)}
. "$TOP/tests/lib/common.sh"
set -- $(pick_ports 2)
P1=$1; P2=$2
EPOCH_LEN=6

AUTH_LINES=""
i=1
for p in $P1 $P2; do
    line=$("$MIXDIR" keygen -d "$T/a$i" -a "127.0.0.1:$p") || fail "keygen $i"
    AUTH_LINES="$AUTH_LINES$line
"
    i=$((i + 1))
done
ED1=$(echo "$AUTH_LINES" | sed -n 1p | awk '{print $4}')
X1=$(echo "$AUTH_LINES" | sed -n 1p | awk '{print $5}')
[ -n "$X1" ] || fail "authority lines"
REG=""
for n in 1 2; do
    pub=$("$TOOL" nodekeys "$T/n$n") || fail "nodekeys $n"
    REG="${REG}node = $pub
"
done
GENESIS=$(($(date +%s) - 1))
cat >"$T/a1.ini" <<EOF
[mixdir]
listen = 127.0.0.1:$P1
data_dir = $T/a1
stats_interval = 1
[network]
${AUTH_LINES}threshold = 1
epoch_length = ${EPOCH_LEN}s
genesis = $GENESIS
grace = 1s
vote_lead = 3s
exchange_window = 1s
layers = 1
[registration]
${REG}
EOF
"$MIXDIR" -n -c "$T/a1.ini" >/dev/null || fail "config check"
start() {
    "$MIXDIR" -c "$T/a1.ini" >>"$T/a1.log" 2>&1 &
    PID=$!
    PIDS="$PIDS $PID"
}
start
fetch() { "$TOOL" fetch -A "127.0.0.1:$P1" -K "$X1" -a "$ED1" -t 1 -e "$1"; }
# Node 1 uploads; the authority publishes its current document.
wait_until 10 "an upload accepted" "$TOOL" upload -A "127.0.0.1:$P1" -K "$X1" -k "$T/n1" \
    -g "$GENESIS" -l "$EPOCH_LEN" -r mix -L 1 -s 127.0.0.1:30001 -n 4
wait_until 20 "a current document" fetch 0
echo "current document: $(fetch 0)"

# As authority 2, a set for the current epoch (whose document is out, so the vote is over;
# the epoch may have changed since, then that one's vote is over too) with keys from it on.
peerset() { # peerset NODE_DIR [extra dirtool options]
    nd=$1; shift
    "$TOOL" peerset -A "127.0.0.1:$P1" -K "$X1" -p "$T/a2" -k "$nd" -g "$GENESIS" \
        -l "$EPOCH_LEN" -r mix -L 1 -s 127.0.0.1:30002 -n 4 "$@"
}
# A late set with a bad signature: refused, nothing kept.
r=$(peerset "$T/n2" --bad-sig) || fail "peerset (bad signature): $r"
wait_log 10 "$T/a1.log" "peer_descs_rejected=1 peer_sets_late=1 peer_descs_kept_late=0"
# The same node's valid descriptor, late: kept and stored.
r=$(peerset "$T/n2") || fail "peerset: $r"
echo "late set answered: $r"
wait_log 10 "$T/a1.log" "peer_sets_late=2 peer_descs_kept_late=1"
grep -q "peer_descs_merged=0" "$T/a1.log" || fail "a late set merged into a vote"
# A restart reloads both descriptors.
stop_pids $PID
start
wait_log 10 "$T/a1.log" "loaded 2 of 2 stored descriptors"
# A later document lists both nodes.
end=$(($(date +%s) + 4 * EPOCH_LEN))
until r=$(fetch 0 2>/dev/null) && case "$r" in *" nodes 2 "*) true ;; *) false ;; esac; do
    [ "$(date +%s)" -le "$end" ] || fail "no document with both nodes: ${r:-none}"
    sleep 0.3
done
echo "later document: $r"
echo "PASS"
