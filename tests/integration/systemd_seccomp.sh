#!/bin/sh
# Each daemon runs under the system call filter of its systemd unit
# (deploy/systemd/*.service: SystemCallFilter=, SystemCallErrorNumber=,
# SystemCallArchitectures=native), applied by tests/tools/seccomp_run from the
# sets `systemd-analyze syscall-filter` defines (tests/tools/unit_syscalls.py).
# The unit's ExecStart command line is used as written (program path mapped
# to this build, configuration to a testnet's), through the testnet tool with
# a bin directory whose mixdir, mixnode and mixclient run under the filters:
#  1. `mixnode -n` and `mixdir -n` pass under the filter;
#  2. a small network comes up (authority, gateway, three mixes, two client
#     daemons), a message crosses it, everything stops cleanly;
#  3. no daemon died of SIGSYS (a killed daemon makes step 2 fail).
# A boot under a real systemd (systemd-nspawn) is not done here: see
# deploy/README.md, "Checking the units".
set -u
BUILD_ABS=${BUILD_ABS:-$(pwd)/${BUILD:-build}}
TOP=${TOP:-$(pwd)}
RUN=$BUILD_ABS/tests/tools/seccomp_run
for p in mixdir mixnode mixclient; do
    [ -x "$BUILD_ABS/$p" ] || { echo "$p not built"; exit 77; }
done
command -v systemd-analyze >/dev/null 2>&1 ||
    { echo "systemd-analyze not installed: cannot expand the units' system call sets"; exit 77; }
[ -x "$RUN" ] || { echo "tests/tools/seccomp_run not built (libseccomp-dev missing)"; exit 77; }
T=$(mktemp -d /tmp/sdseccomp.XXXXXX)
TN=$T/net
cleanup() {
    [ -f "$TN/state.json" ] && /usr/bin/python3 "$TOP/deploy/testnet" --dir "$TN" down >/dev/null 2>&1
    cp "$T/out" "$BUILD_ABS/test-logs/systemd_seccomp.out" 2>/dev/null
    for f in "$TN"/logs/*.log; do
        [ -f "$f" ] && cp "$f" "$BUILD_ABS/test-logs/systemd_seccomp.$(basename "$f")"
    done
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() { echo "FAIL: $*"; [ -f "$T/out" ] && tail -n 30 "$T/out"; exit 1; }

# A wrapper per program: the unit's filter, then the real program.
mkdir -p "$T/bin"
for u in mixdir mixnode mixclient; do
    unit=$TOP/deploy/systemd/$u.service
    /usr/bin/python3 "$TOP/tests/tools/unit_syscalls.py" "$unit" >"$T/$u.sys" ||
        fail "cannot compute the filter of $u.service"
    e=""
    if head -n 1 "$T/$u.sys" | grep -q '^errno '; then
        e="-e $(head -n 1 "$T/$u.sys" | cut -d' ' -f2)"
        sed -i 1d "$T/$u.sys"
    fi
    grep -qx sched_setattr "$T/$u.sys" && echo "$u.service allows sched_setattr"
    printf '#!/bin/sh\nexec %s %s %s %s "$@"\n' "$RUN" "$e" "$T/$u.sys" "$BUILD_ABS/$u" >"$T/bin/$u"
    chmod +x "$T/bin/$u"
    # ExecStart as written in the unit, options before any command.
    grep -q "^ExecStart=/usr/local/bin/$u -c /etc/mixnet/" "$unit" ||
        fail "$u.service: ExecStart does not put -c first: $(grep ^ExecStart= "$unit")"
    echo "$u: $(wc -l <"$T/$u.sys") system calls allowed${e:+, others fail with errno ${e#-e }}"
done
# The filter really applies: a call outside it kills (or fails) the runner.
"$RUN" "$T/mixnode.sys" /bin/true || fail "seccomp_run cannot run /bin/true"
# setpriority (@resources) is outside every unit's filter.
if "$RUN" "$T/mixnode.sys" /usr/bin/nice -n 5 /bin/true 2>/dev/null; then
    fail "nice ran: the filter is not applied"
fi

# LeakSanitizer stops the process's threads with ptrace, which the units forbid
# (@debug is outside every filter): under SANITIZE=address it is off here only.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
/usr/bin/python3 "$TOP/deploy/testnet" --dir "$TN" up --bin "$T/bin" --authorities 1 --gateways 1 \
    --width 1 --epoch 20 --warmup 8 --foreground --duration 3 </dev/null >"$T/out" 2>&1 ||
    fail "the testnet under the units' filters failed"
grep -q "bob received after" "$T/out" || fail "no message crossed the network"
grep -q "down: every process stopped" "$T/out" || fail "no clean stop"
if grep -l 'Bad system call\|SIGSYS' "$TN"/logs/*.log 2>/dev/null; then fail "a daemon got SIGSYS"; fi
echo PASS
