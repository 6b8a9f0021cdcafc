#!/bin/sh
# Attack 3: idle and half-open links.  Gateway 1 runs with small limits
# (max_clients 40, max_connections 80, client_idle_timeout 4 s,
# handshake_rate 20/s per address) so that the attacker fills them quickly.
#  1. Idle client links are closed after client_idle_timeout.
#  2. 60 idle client links, reopened as soon as closed, hold max_clients:
#     a new legitimate client still gets in (the longest-idle link, idle >=
#     client_evict_idle = 2 s, makes room), within client_evict_idle plus its
#     own connect (the test allows 8 s of retries); evictions are counted.
#  3. 100 half-open TCP connections (no handshake) reopened as soon as
#     closed hold max_connections: a new legitimate client gets in (the
#     oldest half-open connection older than 1 s makes room; 8 s of retries
#     allowed); the attacker's reconnects beyond 20/s are refused and counted.
# A normal send succeeds afterwards; no attacker address is logged.
set -u
. "$(dirname "$0")/lib.sh"

start_net "[limits]
max_clients = 40
max_connections = 80
max_connections_per_addr = 1000
client_idle_timeout = 4s
handshake_rate = 20
handshake_burst = 40"
ADDR=$(node_addr 1); KEY=$(node_key 1)

# 1. Idle links are closed by the gateway (no reopening here).
out=$("$AB" idle --addr "$ADDR" --key "$KEY" --links 10 --srcs 1 --seconds 8 --reopen-ms 100000)
echo "idle: $out"
echo "$out" | grep -q 'established 10 .* open_at_end 0$' || fail "idle links not closed: $out"

# 2. Idle links holding max_clients.
"$AB" idle --addr "$ADDR" --key "$KEY" --links 60 --srcs 2 --seconds 14 >"$T/idle.out" 2>&1 &
IPID=$!; PIDS="$PIDS $IPID"
wait_metric 1 'mixnode_links{kind="client"}' 40
k=$(within 8 "$MT" fetch --net "$NET" --key "$T/b.key" --via 1 --min 0 --wait 0) ||
    fail "a new client was kept out by idle links for 8 s"
kill -0 "$IPID" 2>/dev/null || fail "the idle links were gone before the new client got in"
echo "new client in at try $k"
ev=$(metric_int 1 mixnode_clients_evicted_total)
[ "$ev" -ge 1 ] || fail "no idle client link was evicted"
wait "$IPID"; cat "$T/idle.out"
echo "idle links: a new client got in at max_clients ($ev evictions)"

# 3. Half-open connections holding max_connections.
"$AB" idle --addr "$ADDR" --tcp --links 100 --srcs 1 --seconds 14 >"$T/half.out" 2>&1 &
HPID=$!; PIDS="$PIDS $HPID"
sleep 3
k=$(within 8 "$MT" fetch --net "$NET" --key "$T/b.key" --via 1 --min 0 --wait 0) ||
    fail "a new client was kept out by half-open connections for 8 s"
kill -0 "$HPID" 2>/dev/null || fail "the half-open flood was over before the new client got in"
echo "new client in at try $k"
wait "$HPID"; cat "$T/half.out"
he=$(metric_int 1 mixnode_half_open_evicted_total)
rl=$(metric_int 1 mixnode_links_rate_limited_total)
echo "half-open: $he evicted, $rl refused over the per-address rate"
[ "$he" -ge 1 ] || fail "no half-open connection was evicted"
[ "$rl" -ge 1 ] || fail "no connection was refused over the per-address rate"

normal_send after
no_attacker_addr_logged
echo "PASS"
