#!/bin/sh
# Attack 4b: junk through the whole mixnet into one inbox.  Anyone who
# knows B's address can send to B; 300 junk packets sent at once would fill
# B's inbox (max_messages 150 here) and push B's real mail out (inbox_full).
# Bound: an inbox admits inbox.admit_rate messages a second (10 here; by
# default twice the document's lambda_P + lambda_L, plus 10), burst
# admit_burst (50 here), the rest dropped and counted (reason inbox_rate);
# below what B drains, so the inbox never fills and B's next real message
# is stored and fetched.
set -u
. "$(dirname "$0")/lib.sh"

start_net "[inbox]
max_messages = 150
admit_rate = 10
admit_burst = 50"
"$MT" send --net "$NET" --key "$T/a.key" --via 0 --to-gw 1 --to-pub "$PB" --count 300 \
    --message junk >/dev/null || fail "junk send"
wait_metric 1 'mixnode_packets_dropped_total{reason="inbox_rate"}' 200 30
full=$(metric_int 1 'mixnode_packets_dropped_total{reason="inbox_full"}')
stored=$(metric_int 1 mixnode_delivered_total)
echo "junk: $stored stored, $(metric_int 1 'mixnode_packets_dropped_total{reason="inbox_rate"}') over the admission rate, $full for a full inbox"
[ "$full" = 0 ] || fail "the inbox filled up"
[ "$stored" -le 100 ] || fail "admission rate not enforced ($stored stored)"
normal_send after
no_attacker_addr_logged
echo "PASS"
