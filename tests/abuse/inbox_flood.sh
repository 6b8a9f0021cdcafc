#!/bin/sh
# Attack 2: inboxes from fresh keys.  A handshake leaves nothing durable: a
# client's inbox is created at its link's first fetch, within a
# creation rate per source prefix (IPv4 /24) and for the whole gateway, up
# to inbox.max_inboxes; empty inboxes unused for inbox.unused_expiry are
# deleted.  Gateway 1 runs with max_inboxes 40, 10 creations/s overall
# (burst 20), 2/s per prefix (burst 10), unused_expiry 10 s, expiry pass
# every second.  The attacker: 8 links from 4 prefixes (127.1.0.2,
# 127.1.1.2, ...), each a fresh key per fetch, for 5 s.
# Bounds: no inbox from a bare handshake; at most 40 inboxes; creations
# over the rates refused and counted; an existing client is served at the
# cap; a new client kept out at the cap gets in at most unused_expiry +
# the expiry interval after the flood stops (the test allows 25 s); a
# normal send succeeds afterwards.
set -u
. "$(dirname "$0")/lib.sh"

start_net "[inbox]
max_inboxes = 40
create_per_minute = 600
create_burst = 20
create_per_minute_per_prefix = 120
create_burst_per_prefix = 10
unused_expiry = 10s
expire_interval = 1s"
ADDR=$(node_addr 1); KEY=$(node_key 1)
before=$(metric_int 1 mixnode_inboxes_created_total)

# A bare handshake creates nothing.
"$MT" probe --net "$NET" --to 1 --role client >/dev/null || fail "probe"
"$AB" idle --addr "$ADDR" --key "$KEY" --links 5 --srcs 1 --src-base 127.1.0.2 --seconds 1 \
    --reopen-ms 100000 >/dev/null
[ "$(metric_int 1 mixnode_inboxes_created_total)" = "$before" ] || fail "a handshake created an inbox"

"$AB" create --addr "$ADDR" --key "$KEY" --links 8 --srcs 4 --src-base 127.1.0.2 --seconds 5 \
    >"$T/create.out" 2>&1 &
CPID=$!; PIDS="$PIDS $CPID"
max=0
while kill -0 "$CPID" 2>/dev/null; do
    v=$(metric_int 1 mixnode_inboxes); [ "$v" -gt "$max" ] && max=$v
    sleep 0.3
done
cat "$T/create.out"
created=$(metric_int 1 mixnode_inboxes_created_total)
refused=$(metric_int 1 mixnode_inbox_creates_refused_total)
echo "inboxes: at most $max held; $created created, $refused refused"
[ "$max" -le 40 ] || fail "more than max_inboxes: $max"
[ "$refused" -ge 10 ] || fail "creations over the limits not refused ($refused)"
# 5 s at 10/s overall (burst 20).
[ "$created" -le 75 ] || fail "creation rate not enforced ($created)"
[ "$max" -eq 40 ] || fail "the flood did not reach the cap ($max)"

# At the cap an existing client is still served ...
"$MT" fetch --net "$NET" --key "$T/b.key" --via 1 --min 0 --wait 0 >/dev/null ||
    fail "existing client B not served at the cap"
# ... and a new one is kept out until the unused inboxes expire.
"$MT" keygen "$T/c.key" >/dev/null
"$MT" fetch --net "$NET" --key "$T/c.key" --via 1 --min 0 --wait 0 >/dev/null 2>&1 &&
    fail "new client C got an inbox beyond the cap"
n=0
until "$MT" fetch --net "$NET" --key "$T/c.key" --via 1 --min 0 --wait 0 >/dev/null 2>&1; do
    n=$((n + 1)); [ $n -lt 50 ] || fail "new client C kept out for 25 s"; sleep 0.5
done
echo "new client C got its inbox after $((n / 2)) s; $(metric_int 1 mixnode_inboxes_expired_total) unused inboxes expired"
[ "$(metric_int 1 mixnode_inboxes_expired_total)" -ge 1 ] || fail "no unused inbox expired"
# B's empty inbox was unused too: B's next fetch creates it again.
"$MT" fetch --net "$NET" --key "$T/b.key" --via 1 --min 0 --wait 0 >/dev/null || fail "B again"
normal_send after
no_attacker_addr_logged
echo "PASS"
