#!/bin/sh
# `deploy/testnet up --truth` (issue 13's ground truth) on a small loopback
# testnet (1 authority, 1 gateway, 3 layers x 1, 2 clients): the clients run
# the test program build/test/mixclient-truth, the demo message `up` sends
# leaves lines in DIR/truth (header first, one line per real packet, from
# the clients' gateway links), the clients' own commands stay the normal
# mixclient, and `down` stops them.  That mixscope matches the lines in a
# capture (`measure` passes the file as --truth) is testnet_measure.sh's check.
set -u
BUILD_ABS=${BUILD_ABS:-$(pwd)/${BUILD:-build}}
TOP=${TOP:-$(pwd)}
for p in mixdir mixnode mixclient test/mixclient-truth; do
    [ -x "$BUILD_ABS/$p" ] || { echo "$p not built"; exit 77; }
done
T=$(mktemp -d /tmp/tntruth.XXXXXX)
TN="/usr/bin/python3 $TOP/deploy/testnet --dir $T/net"
cleanup() {
    [ -f "$T/net/state.json" ] && $TN down >/dev/null 2>&1
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() { echo "FAIL: $*"; tail -n 20 "$T/up" 2>/dev/null; exit 1; }

# Without the test program, --truth is refused before anything starts.
mkdir -p "$T/nobin"
for p in mixdir mixnode mixclient; do ln -s "$BUILD_ABS/$p" "$T/nobin/$p"; done
out=$(/usr/bin/python3 "$TOP/deploy/testnet" --dir "$T/net0" up --bin "$T/nobin" --truth 2>&1) &&
    fail "up --truth ran without the test program"
echo "$out" | grep -q "test/mixclient-truth is missing" || fail "unclear refusal: $out"

$TN up --bin "$BUILD_ABS" --truth --authorities 1 --gateways 1 --width 1 --epoch 20 --warmup 8 \
    </dev/null >"$T/up" 2>&1 || fail "up --truth"
grep -q "received after" "$T/up" || fail "the demo message did not arrive"
TRUTH=$T/net/truth
[ -f "$TRUTH" ] || fail "no $TRUTH"
[ "$(head -n 1 "$TRUTH")" = "# mixscope-truth 1" ] || fail "header: $(head -n 1 "$TRUTH")"
n=$(grep -vc '^#' "$TRUTH")
[ "$n" -ge 1 ] || fail "no line for the demo message"
bad=$(grep -v '^#' "$TRUTH" | grep -vE '^[0-9]+ 127\.0\.0\.1:[0-9]+ [0-9]+$' | head -n 3)
[ -z "$bad" ] || fail "malformed lines: $bad"
# The clients are the test program with the file named in their environment.
pids=$(python3 -c 'import json,sys; print(" ".join(str(c["pid"]) for c in json.load(open(sys.argv[1]))["clients"]))' "$T/net/state.json")
for p in $pids; do
    tr '\0' ' ' <"/proc/$p/cmdline" | grep -q "test/mixclient-truth -c" || fail "client $p: $(tr '\0' ' ' <"/proc/$p/cmdline")"
    tr '\0' '\n' <"/proc/$p/environ" | grep -qx "MIXCLIENT_TRUTH_FILE=$TRUTH" || fail "client $p has no MIXCLIENT_TRUTH_FILE"
done
$TN down >/dev/null 2>&1 || fail "down"
for p in $pids; do
    # A zombie (reaped later by whoever adopted it) does not count.
    st=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | cut -c1)
    [ -n "$st" ] && [ "$st" != Z ] && fail "client $p survived down (state $st)"
done
echo "up --truth: $n truth line(s) from the demo message, clients $pids ran the test program"
echo "PASS"
