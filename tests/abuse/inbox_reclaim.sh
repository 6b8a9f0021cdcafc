#!/bin/sh
# Attack 2, many prefixes: fresh keys that make an inbox each and go away,
# from more prefixes than the per-prefix limits catch, until the gateway is at
# max_inboxes.  Waiting for unused_expiry (30 days by default) would keep new
# clients out that long; instead, at the cap the empty inbox unused longest
# is deleted to make room once it has been unused for inbox.reclaim_idle
# (an empty inbox holds nothing to lose: its owner's next fetch makes it again).
# Gateway 1 runs with max_inboxes 40, unused_expiry 1 h (so expiry cannot
# help), reclaim_idle 3 s.  The attacker: 8 links from 4 prefixes, a fresh
# key per fetch, for 5 s.
# Bounds: at most 40 inboxes; a new client at the cap gets in within
# reclaim_idle (the test allows 10 s) with nothing expired; reclaims are
# counted; an existing client's messages are kept (its inbox is not empty);
# a normal send succeeds afterwards.
set -u
. "$(dirname "$0")/lib.sh"

start_net "[inbox]
max_inboxes = 40
create_per_minute = 600
create_burst = 20
create_per_minute_per_prefix = 120
create_burst_per_prefix = 10
unused_expiry = 1h
reclaim_idle = 3s
expire_interval = 1s"
ADDR=$(node_addr 1); KEY=$(node_key 1)

# B has a message waiting in its inbox: a non-empty inbox is never reclaimed.
"$MT" send --net "$NET" --key "$T/a.key" --via 0 --to-gw 1 --to-pub "$PB" --message kept \
    >/dev/null || fail "send to B"
n=0
until [ "$(metric_int 1 mixnode_inbox_messages)" -ge 1 ]; do
    n=$((n + 1)); [ $n -lt 200 ] || fail "the message to B was not stored"; sleep 0.1
done

"$AB" create --addr "$ADDR" --key "$KEY" --links 8 --srcs 4 --src-base 127.1.0.2 --seconds 5 \
    >"$T/create.out" 2>&1 || fail "attacker: $(cat "$T/create.out")"
cat "$T/create.out"
held=$(metric_int 1 mixnode_inboxes)
echo "after the flood: $held inboxes held"
[ "$held" -le 40 ] || fail "more than max_inboxes: $held"

"$MT" keygen "$T/c.key" >/dev/null
n=0
until "$MT" fetch --net "$NET" --key "$T/c.key" --via 1 --min 0 --wait 0 >/dev/null 2>&1; do
    n=$((n + 1)); [ $n -lt 20 ] || fail "new client C kept out for 10 s at the cap"; sleep 0.5
done
rec=$(metric_int 1 mixnode_inboxes_reclaimed_total)
exp=$(metric_int 1 mixnode_inboxes_expired_total)
echo "new client C got its inbox after $((n / 2)) s; $rec reclaimed, $exp expired"
[ "$rec" -ge 1 ] || fail "no inbox reclaimed"
[ "$exp" -eq 0 ] || fail "$exp inboxes expired (unused_expiry is 1 h)"
out=$("$MT" fetch --net "$NET" --key "$T/b.key" --via 1 --wait 5 --ack) || fail "B fetch"
echo "$out" | grep -q "text=kept" || fail "B's stored message lost: $out"
normal_send after
no_attacker_addr_logged
echo "PASS"
