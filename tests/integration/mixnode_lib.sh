# Shared helpers for tests/integration/mixnode_*.sh (sourced, not run).
# Starts a test network made by tests/tools/mixtest (document from a file,
# signed by a test authority) and cleans up every process on exit.
BUILD_ABS=${BUILD_ABS:-$(pwd)/${BUILD:-build}}
TOP=${TOP:-$(pwd)}
MIXNODE=$BUILD_ABS/mixnode
MT=$BUILD_ABS/tests/mixtest
if [ ! -x "$MIXNODE" ] || [ ! -x "$MT" ]; then
    echo "mixnode or mixtest not built"; exit 77
fi
T=$(mktemp -d /tmp/mixnode_test.XXXXXX)
NET=$T/net
PIDS=""
. "$TOP/tests/lib/common.sh"
cleanup() {
    rc=$?
    # SIGTERM (then -9 after a bound): LeakSanitizer reports at a clean exit.
    stop_pids $PIDS
    wait 2>/dev/null
    # Keep the daemons' logs for diagnosis; a sanitizer report fails the test.
    name=$(basename "$0" .sh)
    mkdir -p "$BUILD_ABS/test-logs"
    for f in "$T"/node*.log "$T"/auth*.log; do
        [ -f "$f" ] && cp "$f" "$BUILD_ABS/test-logs/$name.$(basename "$f")"
    done
    scan_sanitizer "$T"/node*.log "$T"/auth*.log || rc=1
    [ -n "${KEEP:-}" ] || rm -rf "$T"
    exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
    echo "FAIL: $*"
    for i in 0 1 2 3 4; do
        m=$(curl -s "http://127.0.0.1:$((BASE + 100 + i))/metrics" 2>/dev/null |
            grep -E '^mixnode_(packets_(in|out|dropped)_total|delivered_total)' | grep -v ' 0$' | tr '\n' ' ')
        [ -n "$m" ] && echo "node $i: $m"
    done
    for f in "$T"/node*.log; do [ -f "$f" ] && { echo "--- $f (tail)"; grep -v '\[debug\]' "$f" | tail -n 15; }; done
    exit 1
}


# start_node I: run node I of $NET in the background, log to $T/nodeI.log.
start_node() {
    "$MIXNODE" -c "$NET/node$1/node.ini" >>"$T/node$1.log" 2>&1 &
    eval "PID_$1=$!"
    PIDS="$PIDS $!"
}

# wait_up I: until node I answers on its metrics port with a document.
wait_up() {
    n=0
    while [ $n -lt 150 ]; do
        if metric "$1" mixnode_epoch | grep -q '^[1-9]'; then return 0; fi
        sleep 0.1; n=$((n + 1))
    done
    fail "node $1 did not come up"
}

# metric I NAME[{labels}]: the value of one sample of node I's /metrics.
metric() {
    curl -s "http://127.0.0.1:$((BASE + 100 + $1))/metrics" |
        awk -v k="$2" '$1 == k { print $2; found = 1 } END { if (!found) print "" }'
}

# wait_metric I NAME MIN [SECONDS]: until the sample is >= MIN.
wait_metric() {
    lim=$(( ${4:-15} * 10 )); n=0
    while [ $n -lt $lim ]; do
        v=$(metric "$1" "$2"); v=${v%.*}
        if [ -n "$v" ] && [ "$v" -ge "$3" ]; then return 0; fi
        sleep 0.1; n=$((n + 1))
    done
    fail "node $1: $2 = '$(metric "$1" "$2")', expected >= $3"
}

stop_node() { eval "p=\$PID_$1"; kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; }
kill9_node() { eval "p=\$PID_$1"; kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; }
