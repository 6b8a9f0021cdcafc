#!/bin/sh
# mixnode on loopback: 2 gateways (0, 1) and 3 mixes (2, 3, 4), real processes.
#  1. a packet from client A of gateway 0 reaches the inbox of client B of
#     gateway 1; B fetches it over its own link, acknowledges, and it is gone;
#  2. the packet's SURB-ack comes back to A's inbox and opens with A's keys;
#  3. drop cover (all-zero recipient) is counted and discarded;
#  4. mix loop cover (lambda_M) goes out and comes back, counted per next hop;
#  5. /metrics passes `promtool check metrics`;
#  6. with debug logs on, no log line names a client address next to anything
#     about traffic, nor a client link's address at all (tests/abuse/ checks
#     the attackers' addresses too).
set -u
. "$(dirname "$0")/mixnode_lib.sh"

BASE=$(pick_base); [ -n "$BASE" ] || fail "no free ports"
"$MT" mknet "$NET" --base-port "$BASE" --lambda-m 5000 >/dev/null || fail "mknet"
for i in 0 1 2 3 4; do start_node $i; done
for i in 0 1 2 3 4; do wait_up $i; done

"$MT" keygen "$T/a.key" >/dev/null || fail "keygen a"
PB=$("$MT" keygen "$T/b.key") || fail "keygen b"
# B connects once: its gateway creates the inbox.
"$MT" fetch --net "$NET" --key "$T/b.key" --via 1 --min 0 --wait 0 >/dev/null || fail "B register"
"$MT" fetch --net "$NET" --key "$T/a.key" --via 0 --min 0 --wait 0 >/dev/null || fail "A register"

"$MT" send --net "$NET" --key "$T/a.key" --via 0 --to-gw 1 --to-pub "$PB" \
    --message "hello across the mixnet" --surb-ack "$T/surb.keys" >/dev/null || fail "send"
out=$("$MT" fetch --net "$NET" --key "$T/b.key" --via 1 --wait 10 --ack) || fail "B got nothing: $out"
echo "$out" | grep -q 'reply=0 .*text=hello across the mixnet' || fail "wrong message: $out"
echo "B: $out"
out=$("$MT" fetch --net "$NET" --key "$T/b.key" --via 1 --min 0 --wait 0)
echo "$out" | grep -q '^fetched 0' || fail "acknowledged message still there: $out"
out=$("$MT" fetch --net "$NET" --key "$T/a.key" --via 0 --wait 10 --ack --surb-keys "$T/surb.keys") ||
    fail "no SURB-ack: $out"
echo "$out" | grep -q 'reply=1 .*ack=valid' || fail "bad SURB-ack: $out"
echo "A: $out"
[ "$(metric 1 mixnode_acks_sent_total)" = 1 ] || fail "gateway 1 acks_sent != 1"

# Drop cover: accepted, forwarded, discarded at the last hop.
"$MT" send --net "$NET" --key "$T/a.key" --via 0 --to-gw 1 --drop-cover --count 3 >/dev/null ||
    fail "send cover"
wait_metric 1 mixnode_drop_cover_total 3

# Mix loops at 5/s per node: sent and returned, by next hop.
wait_metric 2 mixnode_loops_returned_total 3 15
curl -s "http://127.0.0.1:$((BASE + 102))/metrics" | grep -q 'mixnode_loops_returned_by_hop_total{next_hop="[A-Za-z0-9_-]\{43\}"} [1-9]' ||
    fail "no per-hop loop counts"

# Prometheus format.
if command -v promtool >/dev/null 2>&1; then
    for i in 0 2; do
        curl -s "http://127.0.0.1:$((BASE + 100 + i))/metrics" >"$T/m$i.txt"
        promtool check metrics <"$T/m$i.txt" >"$T/promtool.out" 2>&1 ||
            { cat "$T/promtool.out"; fail "promtool rejects node $i metrics"; }
    done
    echo "promtool: ok"
else
    echo "promtool not installed: format check skipped"
fi

for i in 0 1 2 3 4; do stop_node $i; done
# Privacy: no line with an IP address/port may also speak about traffic.
bad=$(cat "$T"/node*.log | grep -E '([0-9]{1,3}\.){3}[0-9]{1,3}|\[::' |
      grep -iE 'packet|inbox|fetch|deliver|payload|message|bytes|frame|sphinx|surb|drop|loop')
[ -z "$bad" ] || fail "a log line names an address with traffic: $bad"
# Client link addresses are never logged, at any level: the nodes listen
# below the ephemeral range, clients connect from a port in it.
eph=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
bad=$(cat "$T"/node*.log | grep -oE '127\.0\.0\.[0-9]+:[0-9]+' | sort -u |
      awk -F: -v e="$eph" '$2 >= e' | head -3)
[ -z "$bad" ] || fail "a log line names a client address: $bad"
grep -q '\[debug\]' "$T"/node0.log || fail "debug logging was not on"
grep -q 'stopped' "$T/node0.log" || fail "no clean shutdown"
echo "PASS"
