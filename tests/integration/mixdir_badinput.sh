#!/bin/sh
# mixdir refuses bad input with a clear reason and a counter, and never dies:
# a descriptor with a wrong signature, one from a node not registered, one
# with only stale keys, a frame that does not decode, an authority-only frame
# from a non-authority, a link to the wrong key; `mixdir -n` rejects
# bad configurations with a clear message; --help/--version/usage.
set -u
BUILD_ABS=${BUILD_ABS:-$(pwd)/${BUILD:-build}}
MIXDIR=$BUILD_ABS/mixdir
TOOL=$BUILD_ABS/tests/dirtool
if [ ! -x "$MIXDIR" ] || [ ! -x "$TOOL" ]; then
    echo "mixdir or dirtool not built"; exit 77
fi
T=$(mktemp -d /tmp/mixdir_bad.XXXXXX)
PID=""
cleanup() {
    rc=$?
    # SIGTERM (then -9 after a bound): LeakSanitizer reports at a clean exit.
    [ -n "$PID" ] && stop_pids "$PID"
    wait 2>/dev/null
    cp "$T/a.log" "$BUILD_ABS/test-logs/mixdir_badinput.daemon.log" 2>/dev/null
    scan_sanitizer "$T/a.log" || rc=1
    rm -rf "$T"
    exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() { echo "FAIL: $*"; tail -n 20 "$T/a.log" 2>/dev/null; exit 1; }

TOP=${TOP:-$(pwd)}
. "$TOP/tests/lib/common.sh"
PORT=$(pick_ports 1)
LINE=$("$MIXDIR" keygen -d "$T/a" -a "127.0.0.1:$PORT") || fail keygen
ED=$(echo "$LINE" | awk '{print $4}')
X=$(echo "$LINE" | awk '{print $5}')
# Keys are never overwritten.
"$MIXDIR" keygen -d "$T/a" >/dev/null 2>&1 && fail "keygen overwrote existing keys"
[ "$(stat -c %a "$T/a/identity.key")" = 600 ] || fail "identity.key mode"

N1=$("$TOOL" nodekeys "$T/n1") || fail nodekeys
"$TOOL" nodekeys "$T/n2" >/dev/null || fail nodekeys
GENESIS=$(($(date +%s) - 605))  # epoch 11: room for stale keys

write_conf() { # write_conf FILE EXTRA_NETWORK_LINES
    cat >"$1" <<EOF
[mixdir]
listen = 127.0.0.1:$PORT
data_dir = $T/a
stats_interval = 1
[network]
$LINE
threshold = 1
epoch_length = 60s
genesis = $GENESIS
$2
[registration]
node = $N1
EOF
}

# ---- mixdir -n: good and bad configurations
write_conf "$T/good.ini" ""
out=$("$MIXDIR" -n -c "$T/good.ini" 2>&1) || fail "good config refused: $out"
case "$out" in *"configuration OK"*) ;; *) fail "good config: $out" ;; esac

check_bad() { # check_bad NAME EXPECTED_TEXT  (config in $T/bad.ini)
    out=$("$MIXDIR" -n -c "$T/bad.ini" 2>&1); rc=$?
    [ "$rc" -eq 1 ] || fail "$1: exit $rc (want 1): $out"
    case "$out" in *"$2"*) echo "bad config ($1): $out" ;; *) fail "$1: unclear message: $out" ;; esac
}
write_conf "$T/bad.ini" "bogus_key = 1"
check_bad "unknown key" "bogus_key"
write_conf "$T/bad.ini" "threshold = 3"
check_bad "threshold above n" "threshold"
write_conf "$T/bad.ini" "epoch_length = 2s"
check_bad "epoch too short" "epoch_length"
write_conf "$T/bad.ini" "strategy = fifo"
check_bad "strategy" "strategy"
write_conf "$T/bad.ini" "authority = 127.0.0.1:1 notbase64 alsonot"
check_bad "authority line" "authority"
sed "s|^authority = .*|authority = 127.0.0.1:$PORT $X $X|" "$T/good.ini" >"$T/bad.ini"
check_bad "self not listed" "not in the [network] authority lines"
sed "s|^data_dir = .*|data_dir = $T/nokeys|" "$T/good.ini" >"$T/bad.ini"
check_bad "missing key file" "identity.key"
printf '[mixdir\nlisten = x\n' >"$T/bad.ini"
check_bad "syntax" "line"
out=$("$MIXDIR" -n -c "$T/missing.ini" 2>&1); [ $? -eq 1 ] || fail "missing config file: $out"
"$MIXDIR" --help | grep -q "usage: mixdir" || fail "--help"
"$MIXDIR" --version | grep -q "^mixdir [0-9]" || fail "--version"
"$MIXDIR" >/dev/null 2>&1; [ $? -eq 2 ] || fail "no arguments should be a usage error"

# ---- the daemon with bad uploads
"$MIXDIR" -c "$T/good.ini" >"$T/a.log" 2>&1 &
PID=$!
wait_log 10 "$T/a.log" "listening on"
up() { "$TOOL" upload -A "127.0.0.1:$PORT" -K "$X" -g "$GENESIS" -l 60 "$@"; }

out=$(up -k "$T/n1" --bad-sig); rc=$?
[ "$rc" -eq 1 ] && [ "$out" = "refused: bad signature" ] || fail "bad signature: rc $rc $out"
out=$(up -k "$T/n2"); rc=$?
[ "$rc" -eq 1 ] && [ "$out" = "refused: node not registered" ] || fail "unregistered: rc $rc $out"
out=$(up -k "$T/n1" --stale); rc=$?
case "$out" in "refused: stale"*) ;; *) fail "stale keys: rc $rc $out" ;; esac
out=$("$TOOL" garbage -A "127.0.0.1:$PORT" -K "$X") || fail "garbage frame not closed: $out"
out=$("$TOOL" peerframe -A "127.0.0.1:$PORT" -K "$X") || fail "authority frame from a node: $out"
echo "signature from a non-authority: $out"
out=$(up -k "$T/n1") || fail "good upload refused: $out"
[ "$out" = "accepted: stored" ] || fail "good upload: $out"
out=$(up -k "$T/n1") || fail "re-upload refused: $out"
# A fresh descriptor (new Sphinx keys) replaces or is kept by the fixed order.
case "$out" in "accepted: "*) ;; *) fail "re-upload: $out" ;; esac
# Wrong authority key: the Noise handshake fails, the tool gets no answer.
"$TOOL" fetch -A "127.0.0.1:$PORT" -K "$ED" -a "$ED" -t 1 >/dev/null 2>&1
[ $? -eq 2 ] || fail "fetch with a wrong link key should fail to connect"
out=$("$TOOL" fetch -A "127.0.0.1:$PORT" -K "$X" -a "$ED" -t 1 -e 999); rc=$?
[ "$rc" -eq 1 ] || fail "document for a far epoch: rc $rc $out"
echo "far epoch: $out"

# The far-epoch fetch was the last event: once a counters line (logged each
# stats_interval when they changed) counts it, it counts everything before.
wait_log 10 "$T/a.log" "counters:.* doc_not_found=1 "
kill -0 "$PID" || fail "mixdir died"
L=$(grep "counters:" "$T/a.log" | tail -n 1)
# Two good uploads: the second is "stored" or "unchanged" (fixed order of
# two valid descriptors of one node), so the two counters add up to 2.
case "$L" in *" uploads_accepted=1 uploads_unchanged=1 "*|*" uploads_accepted=2 uploads_unchanged=0 "*) ;;
    *) fail "upload counters in: $L" ;; esac
for want in rejected_bad_signature=1 rejected_not_registered=1 rejected_stale=1 bad_frames=1 \
            doc_not_found=1 unexpected_frames=1; do
    case "$L" in *" $want "*) ;; *) fail "counter $want missing in: $L" ;; esac
done
echo "counters ok"
kill -TERM "$PID"; wait "$PID"; rc=$?; PID=""
[ "$rc" -eq 0 ] || fail "exit status $rc after SIGTERM"
echo PASS
