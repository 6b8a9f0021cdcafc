#!/bin/sh
# Fair sending over a real loopback network: a short message sent while a
# 1 MiB file (707 fragments, ~18 s at lambda_P = 40/s) is going out arrives
# while most of the file is still queued, not after it (fragments of
# different messages take turns in the payload stream); the file then
# arrives intact.
TESTNAME=client_fair
. "$TOP/tests/integration/client_net.inc"

net_start 30 40 5 5 20ms
client_init a
client_init b
client_daemon a
client_daemon b

head -c 1048576 /dev/urandom >"$T/big"
fid=$(mc a send "$ADDR_b" -f "$T/big") || fail "file refused"
end=$(($(date +%s) + 20))
until mc a status "$fid" | grep -q "^$fid sent"; do
    [ "$(date +%s)" -ge "$end" ] && fail "the file is not going out"
    sleep 0.2
done
sid=$(mc a send "$ADDR_b" -m "short while a file is in flight") || fail "short message refused"
wait_recv b 1 "$T/rb" 15 || fail "short message not received while the file was in flight"
[ -f "$T/rb/$sid" ] || fail "the first message received is not the short one"
st=$(mc a status "$fid" | grep "^$fid") || fail "status of the file"
q=$(mc a status | sed -n 's/^queued_packets //p')
echo "short message received; file then: $st, $q packets queued"
echo "$st" | grep -q acknowledged && fail "the file was done before the short message arrived"
[ "$q" -gt 100 ] || fail "the short message waited for most of the file ($q packets left)"
wait_recv b 2 "$T/rb" 60 || fail "1 MiB file not received"
cmp "$T/big" "$T/rb/$fid" || fail "1 MiB file differs"
echo PASS
