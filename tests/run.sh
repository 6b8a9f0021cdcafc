#!/bin/sh
# Run every test and print one closing line "N passed, M failed, K skipped".
#   tests/run.sh BUILD_DIR [FILTER]
# Tiers: unit tests ($BUILD/tests/test_*), fuzz corpus replays
# ($BUILD/tests/replay_*), integration tests (tests/integration/*.sh|*.py
# and tests/abuse/*.sh, executable; exit 0 = pass, 77 = skip).  A unit test prints TAP lines
# ("ok N - name" / "not ok N - name"); each counts once.
set -u
BUILD=${1:-build}
FILTER=${2:-}
export BUILD
BUILD_ABS=$(cd "$BUILD" && pwd); export BUILD_ABS
TOP=$(pwd); export TOP
LOGDIR="$BUILD/test-logs"
mkdir -p "$LOGDIR"
pass=0; fail=0; skip=0; failed=""

note() { printf '%-6s %s\n' "$1" "$2"; }

for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    case "$name" in *"$FILTER"*) ;; *) continue ;; esac
    log="$LOGDIR/$name.log"
    "$t" >"$log" 2>&1; rc=$?
    p=$(grep -c '^ok ' "$log"); f=$(grep -c '^not ok ' "$log")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    pass=$((pass + p)); fail=$((fail + f))
    if [ "$f" -eq 0 ]; then note PASS "$name ($p)"; else
        note FAIL "$name ($f of $((p + f)) failed, exit $rc; see $log)"
        grep -E '^(not ok|#)' "$log" | head -20
        failed="$failed $name"
    fi
done

for r in "$BUILD"/tests/replay_*; do
    [ -x "$r" ] || continue
    name=${r##*/replay_}
    case "fuzz_$name" in *"$FILTER"*) ;; *) continue ;; esac
    log="$LOGDIR/replay_$name.log"
    if "$r" "tests/fuzz/corpus/$name" >"$log" 2>&1; then
        pass=$((pass + 1)); note PASS "fuzz corpus $name ($(tail -n 1 "$log"))"
    else
        fail=$((fail + 1)); note FAIL "fuzz corpus $name (see $log)"; tail -5 "$log"
        failed="$failed fuzz_$name"
    fi
done

# Integration tests start their own daemons on their own ports and folders,
# so they run side by side: $TEST_JOBS at a time (default 3; most of their
# time is spent waiting on daemons, not computing).  Each writes its result
# to a file; the results are read back in name order.
RESDIR=$(mktemp -d "${TMPDIR:-/tmp}/mixtests.XXXXXX")
export LOGDIR RESDIR
# tests/abuse/: one test per attack on a gateway or an authority (docs/abuse.md).
# The whole-testnet tests take longest: they start first.
list=""
for t in tests/integration/testnet_* tests/integration/*.sh tests/integration/*.py tests/abuse/*.sh; do
    case " $list " in *" $t "*) continue ;; esac
    [ -x "$t" ] || continue
    name=$(basename "$t")
    case "$name" in *"$FILTER"*) ;; *) continue ;; esac
    list="$list $t"
done
if [ -n "$list" ]; then
    # shellcheck disable=SC2086
    printf '%s\n' $list | xargs -P "${TEST_JOBS:-3}" -n 1 sh tests/run_one.sh
fi
for t in $list; do
    name=$(basename "$t")
    res="$RESDIR/$name"
    read -r rc secs <"$res" 2>/dev/null || { rc=1; secs=0; }
    log="$LOGDIR/$name.log"
    if [ "$rc" -eq 0 ]; then pass=$((pass + 1)); note PASS "$name (${secs}s)"
    elif [ "$rc" -eq 77 ]; then skip=$((skip + 1)); note SKIP "$name: $(tail -n 1 "$log")"
    else fail=$((fail + 1)); note FAIL "$name (exit $rc, ${secs}s; see $log)"; tail -25 "$log"
        # The reason first printed may be above the tail: show it on its own.
        grep -E '^(FAIL|not ok|Traceback|[A-Za-z]*Error)' "$log" | tail -n 5 | sed 's/^/  reason: /'
        failed="$failed $name"
    fi
done
rm -rf "$RESDIR"

[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
