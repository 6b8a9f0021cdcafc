#!/bin/sh
# `deploy/testnet up --foreground`, what `make testnet` runs (issue 6):
#  1. without a tty and with --duration: the first message is shown received,
#     status lines (from the nodes' /metrics) are printed, everything stops,
#     exit 0, no process left;
#  2. Ctrl-C (SIGINT to the tool) while the status line runs: everything
#     stops, exit 0, no process left.
# A small network (1 authority, 1 gateway, 3 layers x 1) keeps it short.
set -u
BUILD_ABS=${BUILD_ABS:-$(pwd)/${BUILD:-build}}
TOP=${TOP:-$(pwd)}
for p in mixdir mixnode mixclient; do
    [ -x "$BUILD_ABS/$p" ] || { echo "$p not built"; exit 77; }
done
T=$(mktemp -d /tmp/tnfg.XXXXXX)
TPID=""
cleanup() {
    [ -n "$TPID" ] && kill -TERM "$TPID" 2>/dev/null && wait "$TPID" 2>/dev/null
    [ -f "$T/net/state.json" ] && /usr/bin/python3 "$TOP/deploy/testnet" --dir "$T/net" down >/dev/null 2>&1
    cp "$T/out1" "$BUILD_ABS/test-logs/testnet_foreground.out1" 2>/dev/null
    cp "$T/out2" "$BUILD_ABS/test-logs/testnet_foreground.out2" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() { echo "FAIL: $*"; for f in "$T"/out*; do echo "--- $f"; tail -n 20 "$f"; done; exit 1; }

# Processes whose command line names the testnet directory.
left() {
    for d in /proc/[0-9]*; do
        { tr '\0' ' ' <"$d/cmdline"; } 2>/dev/null | grep -q "$T/net/" && echo "${d#/proc/}"
    done
}

UP="up --bin $BUILD_ABS --authorities 1 --gateways 1 --width 1 --epoch 20 --warmup 8 --foreground"

# 1. No tty, --duration 4.
/usr/bin/python3 "$TOP/deploy/testnet" --dir "$T/net" $UP --duration 4 </dev/null >"$T/out1" 2>&1
rc=$?
[ "$rc" -eq 0 ] || fail "exit $rc"
grep -q "bob received after" "$T/out1" || fail "no message shown received"
grep -q "pkt/s" "$T/out1" || fail "no status line"
grep -q "down: every process stopped" "$T/out1" || fail "no clean stop"
[ -z "$(left)" ] || fail "processes left: $(left)"
echo "1. no tty: message received, $(grep -c 'pkt/s' "$T/out1") status lines, all stopped"

# 2. SIGINT while running (as Ctrl-C would deliver it).
/usr/bin/python3 "$TOP/deploy/testnet" --dir "$T/net" $UP --duration 300 </dev/null >"$T/out2" 2>&1 &
TPID=$!
n=0
until grep -q "pkt/s" "$T/out2"; do
    n=$((n + 1)); [ $n -gt 600 ] && fail "no status line after 120 s"
    kill -0 "$TPID" 2>/dev/null || fail "the tool exited early"
    sleep 0.2
done
kill -INT "$TPID"
wait "$TPID"; rc=$?
TPID=""
[ "$rc" -eq 0 ] || fail "exit $rc after SIGINT"
grep -q "down: every process stopped" "$T/out2" || fail "no clean stop after SIGINT"
[ -z "$(left)" ] || fail "processes left after SIGINT: $(left)"
echo "2. SIGINT: all stopped, exit 0"
echo PASS
