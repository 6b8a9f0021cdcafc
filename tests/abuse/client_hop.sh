#!/bin/sh
# Attack 4: inbox flooding through a gateway.  Whoever knows B's public key
# knows B's inbox id; a packet whose only remaining hop is B's gateway
# (here: a real packet unwrapped down to its last hop) handed to that
# gateway over a client link would be stored in B's inbox at once.
# Bound: a gateway forwards a client's packet only to a layer-1 mix; such a
# packet is dropped and counted (reason client_next_hop) and B's inbox
# stays empty; a normal send succeeds afterwards.
set -u
. "$(dirname "$0")/lib.sh"

start_net ""
N=5
i=0
while [ $i -lt $N ]; do
    "$MT" send --net "$NET" --key "$T/a.key" --via 0 --to-gw 1 --to-pub "$PB" --count 0 \
        --message "junk $i" --save "$T/p" >/dev/null || fail "build $i"
    # Peel the gateway and the three mixes: what gateway 1 gets from layer 3.
    "$MT" unwrap --net "$NET" --to 0 --file "$T/p" "$T/p0" || fail "unwrap 0"
    "$MT" unwrap --net "$NET" --to 2 --file "$T/p0" "$T/p2" || fail "unwrap 2"
    "$MT" unwrap --net "$NET" --to 3 --file "$T/p2" "$T/p3" || fail "unwrap 3"
    "$MT" unwrap --net "$NET" --to 4 --file "$T/p3" "$T/p4" || fail "unwrap 4"
    "$MT" sendraw --net "$NET" --key "$T/a.key" --via 1 --file "$T/p4" >/dev/null ||
        fail "sendraw $i"
    i=$((i + 1))
done
wait_metric 1 'mixnode_packets_dropped_total{reason="client_next_hop"}' $N
[ "$(metric_int 1 mixnode_delivered_total)" = 0 ] || fail "a one-hop packet was delivered"
out=$("$MT" fetch --net "$NET" --key "$T/b.key" --via 1 --min 0 --wait 0)
echo "$out" | grep -q '^fetched 0' || fail "junk reached B's inbox: $out"
echo "$N one-hop packets from a client link dropped and counted"
normal_send after
no_attacker_addr_logged
echo "PASS"
