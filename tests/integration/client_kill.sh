#!/bin/sh
# Reliability over a loopback network of real processes (two mixes per layer):
#  - a layer-2 mix is killed with -9 in the middle of a transfer: every
#    message is still acknowledged and delivered exactly once (retransmission
#    on fresh paths, duplicates dropped by the recipient);
#  - the sending daemon is killed with -9 right after accepting messages:
#    after a restart the queued messages are sent and delivered exactly once;
#  - the gateway is killed with -9: the client notices, keeps accepting
#    (queued), reconnects when the gateway is back, and delivers.
TESTNAME=client_kill
MIXES_PER_LAYER=2
MAX_ATTEMPTS=25
. "$TOP/tests/integration/client_net.inc"

net_start 40 100 5 5 20ms
client_init a
client_init b
client_daemon a
client_daemon b
echo "$(date +%T) clients up"

N=25
i=1
while [ $i -le $N ]; do
    mc a send "$ADDR_b" -m "message $i of the kill test" >>"$T/ids" || fail "send $i"
    i=$((i + 1))
done
head -c 500000 /dev/urandom >"$T/file"
mc a send "$ADDR_b" -f "$T/file" >>"$T/ids" || fail "send file"
sleep 1
kill -9 "$PID_m21"
echo "$(date +%T) killed mix m21 mid-transfer"

# Every message acknowledged...
end=$(($(date +%s) + 40))
while :; do
    st=$(mc a status) || fail "status"
    acked=$(echo "$st" | grep -c " acknowledged ")
    [ "$acked" -eq $((N + 1)) ] && break
    echo "$st" | grep -q " failed " && fail "a message failed: $st"
    [ "$(date +%s)" -ge "$end" ] && fail "only $acked of $((N + 1)) acknowledged: $(echo "$st" | grep -v " acknowledged ")"
    sleep 0.5
done
echo "$(date +%T) all $((N + 1)) acknowledged"
# ...and delivered exactly once.
wait_recv b $((N + 1)) "$T/rb" 20 || fail "not all received"
sleep 2
mc b recv -o "$T/rb" >>"$T/recv_b.out" || fail "recv"
got=$(grep -c "^message " "$T/recv_b.out")
[ "$got" -eq $((N + 1)) ] || fail "received $got messages for $((N + 1)) sent (duplicates?)"
for id in $(cat "$T/ids"); do [ -f "$T/rb/$id" ] || fail "message $id missing"; done
fid=$(tail -n 1 "$T/ids")
cmp "$T/file" "$T/rb/$fid" || fail "file differs"
i=1
while [ $i -le $N ]; do
    grep -lq "^message $i of the kill test\$" "$T"/rb/* || fail "message $i missing or altered"
    i=$((i + 1))
done
echo "$(date +%T) every message delivered exactly once"

# The sending daemon dies right after accepting: nothing accepted is lost.
: >"$T/ids2"
i=1
while [ $i -le 10 ]; do
    mc a send "$ADDR_b" -m "after restart $i" >>"$T/ids2" || fail "send $i"
    i=$((i + 1))
done
kill -9 "$CPID_a"
wait "$CPID_a" 2>/dev/null
client_daemon a
end=$(($(date +%s) + 30))
for id in $(cat "$T/ids2"); do
    until mc a status "$id" | grep -q " acknowledged "; do
        [ "$(date +%s)" -ge "$end" ] && fail "message $id not acknowledged after the restart"
        sleep 0.5
    done
done
wait_recv b $((N + 11)) "$T/rb" 20 || fail "messages accepted before the crash not received"
sleep 1
mc b recv -o "$T/rb" >>"$T/recv_b.out"
got=$(grep -c "^message " "$T/recv_b.out")
[ "$got" -eq $((N + 11)) ] || fail "received $got, expected $((N + 11))"
echo "$(date +%T) messages accepted before a crash delivered exactly once"

# The gateway dies (-9): the clients notice, keep accepting, reconnect when it is back.
kill -9 "$PID_gw"
end=$(($(date +%s) + 15))
until mc a status | grep -q "connected no"; do
    [ "$(date +%s)" -ge "$end" ] && fail "client did not notice the gateway went away"
    sleep 0.3
done
idg=$(mc a send "$ADDR_b" -m "sent while the gateway was down") || fail "send while the gateway is down"
mc a status "$idg" | grep -q " queued " || fail "not queued while the gateway is down"
start_node gw
end=$(($(date +%s) + 30))
until mc a status "$idg" | grep -q " acknowledged "; do
    [ "$(date +%s)" -ge "$end" ] && fail "not delivered after the gateway came back"
    sleep 0.5
done
wait_recv b $((N + 12)) "$T/rb" 20 || fail "message sent while the gateway was down not received"
grep -q "^sent while the gateway was down\$" "$T/rb/$idg" || fail "wrong body"
echo "$(date +%T) gateway restart: reconnected, nothing lost"
echo "$(date +%T) PASS"
