#!/bin/sh
# Three mixdir authorities (k = 2) on loopback with 8-second epochs.
#  1. nodes upload signed descriptors (tests/tools/dirtool); the authorities
#     publish a document signed by >= 2 that verifies with lib/pki and lists
#     every node;
#  2. through an epoch change the next document appears;
#  3. one authority killed with -9: the next document is still signed by 2;
#  4. restarted, it reloads its descriptors and serves the current document;
#  5. SIGTERM stops an authority cleanly.
# Bad input is in mixdir_badinput.sh.
set -u
BUILD_ABS=${BUILD_ABS:-$(pwd)/${BUILD:-build}}
MIXDIR=$BUILD_ABS/mixdir
TOOL=$BUILD_ABS/tests/dirtool
if [ ! -x "$MIXDIR" ] || [ ! -x "$TOOL" ]; then
    echo "mixdir or dirtool not built"; exit 77
fi
T=$(mktemp -d /tmp/mixdir_epochs.XXXXXX)
PIDS=""
cleanup() {
    rc=$?
    # SIGTERM (then -9 after a bound): LeakSanitizer reports at a clean exit.
    stop_pids $PIDS
    wait 2>/dev/null
    # Keep the daemons' logs next to this test's log for diagnosis.
    for i in 1 2 3; do
        cp "$T/a$i.log" "$BUILD_ABS/test-logs/mixdir_epochs.a$i.log" 2>/dev/null
    done
    scan_sanitizer "$T"/a*.log || rc=1
    rm -rf "$T"
    exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
    echo "FAIL: $*"
    for i in 1 2 3; do echo "--- authority $i log (tail)"; tail -n 25 "$T/a$i.log" 2>/dev/null; done
    exit 1
}

TOP=${TOP:-$(pwd)}
. "$TOP/tests/lib/common.sh"
# Three free loopback ports below the ephemeral range.
PORTS=$(pick_ports 3)
set -- $PORTS
P1=$1; P2=$2; P3=$3

EPOCH_LEN=8

# Authority keys and the shared `authority =` lines.
AUTH_LINES=""
i=1
for p in $P1 $P2 $P3; do
    line=$("$MIXDIR" keygen -d "$T/a$i" -a "127.0.0.1:$p") || fail "keygen $i"
    case "$line" in "authority = 127.0.0.1:$p "*) ;; *) fail "keygen output: $line" ;; esac
    AUTH_LINES="$AUTH_LINES$line
"
    i=$((i + 1))
done
ED1=$(echo "$AUTH_LINES" | sed -n 1p | awk '{print $4}')
ED2=$(echo "$AUTH_LINES" | sed -n 2p | awk '{print $4}')
ED3=$(echo "$AUTH_LINES" | sed -n 3p | awk '{print $4}')
X1=$(echo "$AUTH_LINES" | sed -n 1p | awk '{print $5}')
X2=$(echo "$AUTH_LINES" | sed -n 2p | awk '{print $5}')
X3=$(echo "$AUTH_LINES" | sed -n 3p | awk '{print $5}')
[ -n "$X3" ] || fail "authority lines"

# Four nodes: a gateway+provider and one mix per layer.
REG=""
for n in 1 2 3 4; do
    pub=$("$TOOL" nodekeys "$T/n$n") || fail "nodekeys $n"
    REG="${REG}node = $pub
"
done

i=1
for p in $P1 $P2 $P3; do
    cat >"$T/a$i.ini" <<EOF
[mixdir]
listen = 127.0.0.1:$p
data_dir = $T/a$i
stats_interval = 1
[network]
${AUTH_LINES}threshold = 2
epoch_length = ${EPOCH_LEN}s
genesis = @GENESIS@
grace = 1s
vote_lead = 4s
exchange_window = 1s
layers = 3
[registration]
${REG}
EOF
    i=$((i + 1))
done
# Genesis just now (set after the slow set-up, which a sanitizer build stretches).
GENESIS=$(($(date +%s) - 1))
for i in 1 2 3; do
    sed -i "s/@GENESIS@/$GENESIS/" "$T/a$i.ini"
    "$MIXDIR" -n -c "$T/a$i.ini" >/dev/null || fail "config check $i"
done

start_auth() {
    "$MIXDIR" -c "$T/a$1.ini" >>"$T/a$1.log" 2>&1 &
    eval "PID$1=$!"
    PIDS="$PIDS $!"
}
start_auth 1; start_auth 2; start_auth 3
sleep 0.5

up() { # up NODE AUTHPORT AUTHKEY ROLE LAYER
    "$TOOL" upload -A "127.0.0.1:$2" -K "$3" -k "$T/n$1" -g "$GENESIS" -l "$EPOCH_LEN" \
        -r "$4" -L "$5" -s "127.0.0.1:$((30000 + $1))" -n 4
}
# Each node talks to one authority; the exchange spreads the descriptors.
out=$(up 1 "$P1" "$X1" gateway,provider 0) || fail "upload 1: $out"
out=$(up 2 "$P2" "$X2" mix 1) || fail "upload 2: $out"
out=$(up 3 "$P3" "$X3" mix 2) || fail "upload 3: $out"
out=$(up 4 "$P1" "$X1" mix 3) || fail "upload 4: $out"
echo "uploads accepted"

fetch() { # fetch AUTHPORT AUTHKEY EPOCH
    "$TOOL" fetch -A "127.0.0.1:$1" -K "$2" -a "$ED1" -a "$ED2" -a "$ED3" -t 2 -e "$3"
}
# Wait (up to $4 s) until authority $1 serves epoch $3 with 4 nodes; prints the line.
wait_doc() {
    end=$(($(date +%s) + $4))
    while [ "$(date +%s)" -le "$end" ]; do
        r=$(fetch "$1" "$2" "$3" 2>/dev/null) && case "$r" in *" nodes 4 "*) echo "$r"; return 0 ;; esac
        sleep 0.5
    done
    echo "last answer: ${r:-none}"
    return 1
}

# The first epoch whose vote (vote_lead = 4 s before it starts) comes after
# the uploads: its document must list all four nodes.
NOWU=$(date +%s)
N1=$(( (NOWU - GENESIS + 4) / EPOCH_LEN + 2 ))
echo "uploads done at +$((NOWU - GENESIS))s; expecting epoch $N1"
# 1. The next epoch's document, from every authority, signed by >= 2.
r=$(wait_doc "$P1" "$X1" "$N1" 25) || fail "epoch $N1 document from authority 1: $r"
echo "authority 1: $r"
case "$r" in *"signatures 2"|*"signatures 3") ;; *) fail "signatures: $r" ;; esac
r=$(wait_doc "$P2" "$X2" "$N1" 5) || fail "epoch $N1 from authority 2: $r"
r=$(wait_doc "$P3" "$X3" "$N1" 5) || fail "epoch $N1 from authority 3: $r"
# All three serve identical bytes (the same canonical document and signatures
# once every signature has arrived).
"$TOOL" fetch -A "127.0.0.1:$P1" -K "$X1" -a "$ED1" -a "$ED2" -a "$ED3" -t 2 -e "$N1" -o "$T/d1" >/dev/null
"$TOOL" fetch -A "127.0.0.1:$P2" -K "$X2" -a "$ED1" -a "$ED2" -a "$ED3" -t 2 -e "$N1" -o "$T/d2" >/dev/null
cmp -s "$T/d1" "$T/d2" || fail "authorities 1 and 2 serve different documents for epoch $N1"

# 2. Through the epoch change: epoch N1 becomes current (request epoch 0).
end=$(( GENESIS + N1 * EPOCH_LEN - EPOCH_LEN + 1 ))
while [ "$(date +%s)" -lt "$end" ]; do sleep 0.5; done
r=$(fetch "$P2" "$X2" 0) || fail "current document after the epoch change: $r"
case "$r" in "epoch $N1 nodes 4 "*) echo "current after change: $r" ;; *) fail "current: $r" ;; esac

# 3. Kill authority 3 with -9; the next document is still published, signed by 2.
kill -9 "$PID3"
# The first epoch voted on after the kill (normally N1 + 1; later on a slow machine).
KT=$(date +%s)
N2=$(( (KT - GENESIS + 4) / EPOCH_LEN + 2 ))
r=$(wait_doc "$P1" "$X1" "$N2" 20) || fail "epoch $N2 after kill -9: $r"
echo "after kill -9: $r"
case "$r" in *"signatures 2") ;; *) fail "expected 2 signatures: $r" ;; esac
r=$(wait_doc "$P2" "$X2" "$N2" 5) || fail "epoch $N2 from authority 2: $r"

# The operator's view: `mixdir fetch` asks each authority in turn (3 is down),
# verifies against the config's keys and threshold, and lists the nodes.
r=$("$MIXDIR" fetch -c "$T/a3.ini" -e "$N2" -v 2>"$T/fetch.err") || fail "mixdir fetch: $r"
case "$r" in "epoch $N2 nodes 4 signatures 2 from 127.0.0.1:"*) ;; *) fail "mixdir fetch: $r" ;; esac
[ "$(echo "$r" | grep -c '^node .* address ')" -eq 4 ] || fail "mixdir fetch -v lists: $r"
echo "mixdir fetch: $(echo "$r" | head -n 1)"
# A stricter threshold than the document carries: refused, exit 1.
sed 's/^threshold = 2$/threshold = 3/' "$T/a3.ini" >"$T/strict.ini"
r=$("$MIXDIR" fetch -c "$T/strict.ini" -e "$N2" 2>/dev/null); rc=$?
[ "$rc" -eq 1 ] || fail "mixdir fetch with threshold 3 exit $rc: $r"
case "$r" in "invalid document"*) ;; *) fail "mixdir fetch with threshold 3: $r" ;; esac

# 4. Restart authority 3: stored descriptors reloaded, current document adopted.
start_auth 3
r=$(wait_doc "$P3" "$X3" "$N2" 12) || fail "restarted authority 3 serves epoch $N2: $r"
grep -q "loaded 4 of 4 stored descriptors" "$T/a3.log" || fail "authority 3 did not reload descriptors"
echo "restarted authority 3: $r"

# 5. Clean shutdown on SIGTERM.
kill -TERM "$PID1"
wait "$PID1"; rc=$?
[ "$rc" -eq 0 ] || fail "mixdir exit status $rc after SIGTERM"
grep -q "stopped" "$T/a1.log" || fail "no clean stop in the log"
grep -q "counters: uploads_accepted=2" "$T/a1.log" || fail "counters line"
echo "PASS"
exit 0
