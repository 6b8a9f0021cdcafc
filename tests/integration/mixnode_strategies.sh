#!/bin/sh
# Each mixing strategy forwards everything it accepts: for Poisson, timed pool
# (T = 200 ms, f = 0) and threshold (n = 4), 12 packets from a client of
# gateway 0 all reach the inbox at gateway 1, with no drops on any node.
set -u
. "$(dirname "$0")/mixnode_lib.sh"

run_strategy() {
    BASE=$(pick_base); [ -n "$BASE" ] || fail "no free ports"
    NET=$T/net-$1
    "$MT" mknet "$NET" --base-port "$BASE" --strategy "$1" --pool-interval-us 200000 \
        --pool-keep 0 --threshold 4 >/dev/null || fail "mknet $1"
    for i in 0 1 2 3 4; do start_node $i; done
    for i in 0 1 2 3 4; do wait_up $i; done
    "$MT" keygen "$T/a-$1.key" >/dev/null || fail "keygen a"
    PB=$("$MT" keygen "$T/b-$1.key") || fail "keygen b"
    "$MT" fetch --net "$NET" --key "$T/b-$1.key" --via 1 --min 0 --wait 0 >/dev/null || fail "B"
    "$MT" send --net "$NET" --key "$T/a-$1.key" --via 0 --to-gw 1 --to-pub "$PB" --count 12 \
        --message "strategy $1" >/dev/null || fail "send $1"
    wait_metric 1 mixnode_delivered_total 12 15
    for i in 0 2 3 4; do
        [ "$(metric $i mixnode_packets_out_total)" = 12 ] || fail "$1: node $i sent $(metric $i mixnode_packets_out_total)"
        [ "$(metric $i mixnode_queue_depth)" = 0 ] || fail "$1: node $i still holds packets"
    done
    drops=$(curl -s "http://127.0.0.1:$((BASE + 101))/metrics" | awk '/^mixnode_packets_dropped_total/ { s += $2 } END { print s + 0 }')
    [ "$drops" = 0 ] || fail "$1: $drops drops at gateway 1"
    out=$("$MT" fetch --net "$NET" --key "$T/b-$1.key" --via 1 --min 12 --wait 5 --ack) || fail "$1 fetch"
    echo "$1: $(echo "$out" | tail -n 1)"
    for i in 0 1 2 3 4; do stop_node $i; done
    PIDS=""
}

run_strategy poisson
run_strategy timed_pool
run_strategy threshold
echo "PASS"
