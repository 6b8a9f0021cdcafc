#!/bin/sh
# The C API's status (client/mixclient.h) on a loopback network: two clients
# made with mixclient_new() on one loop (build/tests/tools/client_status_api);
# a sends to b, and mixclient_message_status() gives state, fragments,
# direction, time, size and peer for the sent and the received message,
# mixclient_status() the same state and counts; only out_size bytes are
# written; a too small struct and an unknown id are refused.
TESTNAME=client_status_api
. "$TOP/tests/integration/client_net.inc"
PROG=$BUILD_ABS/tests/tools/client_status_api
[ -x "$PROG" ] || { echo "$PROG not built"; exit 77; }
net_start 30 100 5 5 20ms
client_init a
client_init b
"$PROG" "$T/c_a.ini" "$T/c_b.ini" 60 >"$T/api.log" 2>&1 &
APID=$!
PIDS="$PIDS $APID"
wait "$APID"; rc=$?
cat "$T/api.log"
[ "$rc" -eq 0 ] || fail "client_status_api exited $rc"
grep -q '^PASS$' "$T/api.log" || fail "no PASS from client_status_api"
echo "PASS"
