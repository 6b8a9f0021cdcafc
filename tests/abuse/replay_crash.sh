#!/bin/sh
# Attack 5: replay across a crash.  Replay caches are saved every
# replay.save_interval (30 s); before, a packet replayed right after a
# kill -9 was processed (stored) a second time.  Bound: a packet leaves a
# node, or enters an inbox, only once its replay tag is durable (appended
# and fdatasync()ed in groups every replay.journal_interval, 2 ms), so a
# replay is refused after kill -9 at any moment.  Here: a packet is
# delivered, then the entry gateway, the layer-1 mix and the exit gateway
# are killed with -9 within a second (long before any periodic save) and
# restarted; the same packet sent again to each is dropped as a replay and
# nothing is stored twice.  A normal send succeeds afterwards.
set -u
. "$(dirname "$0")/lib.sh"

start_net ""
"$MT" send --net "$NET" --key "$T/a.key" --via 0 --to-gw 1 --to-pub "$PB" --message once \
    --save "$T/p" >/dev/null || fail "send"
wait_metric 1 mixnode_delivered_total 1
for i in 0 2 1; do kill9_node $i; done
ls "$NET"/node2/replay-*.cache >/dev/null 2>&1 && fail "a periodic save ran: the test proves nothing"
for i in 0 2 1; do start_node $i; done
for i in 0 2 1; do wait_up $i; done
# Entry gateway: the same packet from a client.
"$MT" sendraw --net "$NET" --key "$T/a.key" --via 0 --file "$T/p" >/dev/null || fail "resend"
wait_metric 0 'mixnode_packets_dropped_total{reason="replay"}' 1
# Layer-1 mix and exit gateway: the packet as they got it, over node links.
"$MT" unwrap --net "$NET" --to 0 --file "$T/p" "$T/p0" || fail "unwrap 0"
"$MT" sendnode --net "$NET" --to 2 --node-key 0 --file "$T/p0" >/dev/null || fail "sendnode 2"
wait_metric 2 'mixnode_packets_dropped_total{reason="replay"}' 1
"$MT" unwrap --net "$NET" --to 2 --file "$T/p0" "$T/p2" || fail "unwrap 2"
"$MT" unwrap --net "$NET" --to 3 --file "$T/p2" "$T/p3" || fail "unwrap 3"
"$MT" unwrap --net "$NET" --to 4 --file "$T/p3" "$T/p4" || fail "unwrap 4"
"$MT" sendnode --net "$NET" --to 1 --node-key 4 --file "$T/p4" >/dev/null || fail "sendnode 1"
wait_metric 1 'mixnode_packets_dropped_total{reason="replay"}' 1
out=$("$MT" fetch --net "$NET" --key "$T/b.key" --via 1 --min 0 --wait 0 --ack)
[ "$(echo "$out" | grep -c 'text=once')" = 1 ] || fail "stored other than once: $out"
echo "replays refused at the gateway, the mix and the exit after kill -9"
normal_send after
no_attacker_addr_logged
echo "PASS"
