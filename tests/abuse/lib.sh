# Shared helpers for tests/abuse/*.sh (sourced, not run): the mixnode test
# network of tests/integration/mixnode_lib.sh plus the attacker
# (tests/tools/mixabuse), which connects from 127.0.0.2, 127.0.1.2, ... so that the
# per-address limits see it apart from the legitimate clients on 127.0.0.1.
. "$(dirname "$0")/../integration/mixnode_lib.sh"
AB=$BUILD_ABS/tests/mixabuse
[ -x "$AB" ] || { echo "mixabuse not built"; exit 77; }
# Loopback must route 127.0.0.2 and 127.1.0.2 (Linux routes all of 127/8).
/usr/bin/python3 -c 'import socket
for a in ("127.0.0.2", "127.1.0.2"): socket.socket().bind((a, 0))' 2>/dev/null ||
    { echo "cannot bind 127.0.0.2 and 127.1.0.2 on this host"; exit 77; }
# ASan keeps freed memory in quarantine (256 MB by default): a small one,
# so that a sanitizer build measures the node's own memory bound too.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4:malloc_context_size=5"

# node_addr I / node_key I: where node I listens and its link key (base64).
node_addr() { echo "127.0.0.1:$((BASE + $1))"; }
node_key() { "$MT" pub "$NET/node$1/link.key"; }
# rss_kb I: node I's resident set size in kB.
rss_kb() { eval "p=\$PID_$1"; awk '/^VmRSS/ {print $2}' "/proc/$p/status"; }
# metric_int I NAME: a sample as an integer (0 when absent).
metric_int() { v=$(metric "$1" "$2"); v=${v%.*}; echo "${v:-0}"; }

# start_net [EXTRA_INI]: a 2-gateway, 3-mix network with EXTRA_INI appended to
# gateway 1's config; clients A (gateway 0) and B (gateway 1) registered.
start_net() {
    BASE=$(pick_base); [ -n "$BASE" ] || fail "no free ports"
    "$MT" mknet "$NET" --base-port "$BASE" >/dev/null || fail "mknet"
    [ -n "${1:-}" ] && printf '%s\n' "$1" >>"$NET/node1/node.ini"
    for i in 0 1 2 3 4; do start_node $i; done
    for i in 0 1 2 3 4; do wait_up $i; done
    "$MT" keygen "$T/a.key" >/dev/null || fail "keygen a"
    PB=$("$MT" keygen "$T/b.key") || fail "keygen b"
    "$MT" fetch --net "$NET" --key "$T/b.key" --via 1 --min 0 --wait 0 >/dev/null ||
        fail "B register"
}

# normal_send TAG: A sends to B through the mixnet; B fetches it (and acks).
normal_send() {
    "$MT" send --net "$NET" --key "$T/a.key" --via 0 --to-gw 1 --to-pub "$PB" \
        --message "legit $1" >/dev/null || fail "normal send ($1)"
    # Junk stored earlier may come first: fetch (and acknowledge) until the
    # message is there, for at most 20 s.
    end=$(( $(date +%s) + 20 ))
    until out=$("$MT" fetch --net "$NET" --key "$T/b.key" --via 1 --wait 20 --ack) &&
        echo "$out" | grep -q "text=legit $1"; do
        [ "$(date +%s)" -lt "$end" ] || fail "normal message not fetched ($1): $out"
    done
    echo "normal send ok ($1)"
}

# within SECS CMD...: run CMD until it succeeds, for at most SECS seconds
# (the bound under test); prints how many tries it took.
within() {
    lim=$1; shift
    end=$(( $(date +%s) + lim )); k=1
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$end" ] || return 1
        k=$((k + 1)); sleep 0.2
    done
    echo "$k"
}

# no_attacker_addr_logged: no log line at any level names the attacker's
# addresses (client link addresses are never logged).
no_attacker_addr_logged() {
    bad=$(grep -hoE '127\.[0-9]+\.[0-9]+\.[0-9]+' "$T"/node*.log | grep -v '^127\.0\.0\.1$' | head -3)
    [ -z "$bad" ] || fail "a client address was logged: $bad"
    grep -q '\[debug\]' "$T/node1.log" || fail "debug logging was not on"
}
