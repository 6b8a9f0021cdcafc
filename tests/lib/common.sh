# Shared shell helpers for the integration tests (sourced, not run):
#   . "$TOP/tests/lib/common.sh"
# pick_ports, pick_base, wait_until, wait_log, wait_metric_url, stop_pids, scan_sanitizer.
# POSIX sh; the callers' own fail() is used when defined.

# pick_ports N: N distinct free loopback TCP ports, space-separated, below
# the kernel's ephemeral range (a port picked inside it could be taken by
# any outgoing connection, a dial or a metrics scrape, before the daemon
# binds it).  Each port was free when picked.
pick_ports() {
    /usr/bin/python3 "${TOP:-.}/tests/lib/testlib.py" ports "$1"
}

# pick_base: a base port B with B..B+9 and B+100..B+109 free, below the
# ephemeral range (daemons on B+i, their metrics on B+100+i).
pick_base() {
    /usr/bin/python3 "${TOP:-.}/tests/lib/testlib.py" base
}

# _lib_fail MSG: the caller's fail() if it has one, else print and exit 1.
_lib_fail() {
    if command -v fail >/dev/null 2>&1; then fail "$*"; fi
    echo "FAIL: $*"; exit 1
}

# wait_until SECONDS WHAT CMD...: run CMD every 0.1 s until it succeeds;
# fail (naming WHAT) after SECONDS.
wait_until() {
    _wu_lim=$(( $1 * 10 )); _wu_what=$2; shift 2
    _wu_n=0
    while [ $_wu_n -lt $_wu_lim ]; do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.1; _wu_n=$((_wu_n + 1))
    done
    _lib_fail "timed out after ${_wu_lim}0 ms waiting for $_wu_what"
}

# wait_log SECONDS FILE PATTERN: until FILE has a line matching the
# extended regular expression PATTERN.
wait_log() {
    wait_until "$1" "'$3' in $(basename "$2")" grep -qE "$3" "$2"
}

# metric_url URL NAME: one sample's value from a Prometheus text endpoint ("" if absent).
metric_url() {
    curl -s "$1" | awk -v k="$2" '$1 == k { print $2; found = 1 } END { if (!found) print "" }'
}

_metric_ge() {
    _mg=$(metric_url "$1" "$2"); _mg=${_mg%.*}
    [ -n "$_mg" ] && [ "$_mg" -ge "$3" ]
}

# wait_metric_url SECONDS URL NAME MIN: until the sample NAME at URL is >= MIN.
wait_metric_url() {
    wait_until "$1" "$3 >= $4 at $2" _metric_ge "$2" "$3" "$4"
}

# stop_pids PID...: SIGTERM each (so the daemons shut down cleanly and
# LeakSanitizer runs at exit), then SIGKILL any still running after 10 s.
stop_pids() {
    for _sp in "$@"; do kill -TERM "$_sp" 2>/dev/null; done
    _sp_n=0
    while [ $_sp_n -lt 100 ]; do
        _sp_alive=""
        for _sp in "$@"; do kill -0 "$_sp" 2>/dev/null && _sp_alive="$_sp_alive $_sp"; done
        [ -z "$_sp_alive" ] && break
        sleep 0.1; _sp_n=$((_sp_n + 1))
    done
    for _sp in $_sp_alive; do
        echo "note: pid $_sp ignored SIGTERM for 10 s; killed" >&2
        kill -9 "$_sp" 2>/dev/null
    done
    for _sp in "$@"; do wait "$_sp" 2>/dev/null; done
    return 0
}

# scan_sanitizer FILE...: print the sanitizer reports found in the files
# (AddressSanitizer, LeakSanitizer, UBSan) and return 1, or return 0 if none.
scan_sanitizer() {
    _ss_rc=0
    for _ss in "$@"; do
        [ -f "$_ss" ] || continue
        if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$_ss"; then
            echo "sanitizer report in $(basename "$_ss"):"
            grep -E -A8 'AddressSanitizer|LeakSanitizer|runtime error:' "$_ss" | head -40
            _ss_rc=1
        fi
    done
    return $_ss_rc
}
