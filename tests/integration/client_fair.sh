#!/bin/sh
# Fair sending over a real loopback network: a short message sent while a
# 1 MiB file (707 fragments, ~18 s at lambda_P = 40/s) is going out arrives
# while most of the file is still queued, not after it (fragments of
# different messages take turns in the payload stream); the file then
# arrives intact.  Progress: `send -f` announces fragments and time,
# `status` shows time, size, direction, peer and percent, `status --follow`
# shows progress lines (not a terminal) for an outgoing and an incoming file.
TESTNAME=client_fair
. "$TOP/tests/integration/client_net.inc"

net_start 30 40 5 5 20ms
client_init a
client_init b
client_daemon a
client_daemon b

head -c 1048576 /dev/urandom >"$T/big"
fid=$(mc a send "$ADDR_b" -f "$T/big" 2>"$T/send.err") || fail "file refused: $(cat "$T/send.err")"
# Progress: the fragment count and the time at lambda_P = 40/s, before it goes.
grep -q "1.0MiB in 707 fragments: about 18s at the network's payload rate (40.00 packets/s" "$T/send.err" \
    || fail "send -f did not announce fragments and time: $(cat "$T/send.err")"
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
# status: time, size, direction, shortened peer, progress per message.
line=$(mc a status | grep "^$fid ") || fail "the file is not in status"
short=$(echo "$ADDR_b" | cut -c1-10)...$(echo "$ADDR_b" | rev | cut -c1-4 | rev)
echo "$line" | grep -qE "^$fid (queued|sent) [0-9]+/707 out 1.0MiB $short 20[0-9-]+T[0-9:]+Z [0-9]+%\$" \
    || fail "status line of the file: $line"
# The recipient follows the incoming file to the end; the sender its acknowledgement
# (plain progress lines when not on a terminal).
mc a status --follow "$fid" 2>"$T/follow_a.err" &
FA=$!
mc b status --follow "$fid" 2>"$T/follow_b.err" || fail "status --follow of the incoming file: $(tail -n 3 "$T/follow_b.err")"
tail -n 1 "$T/follow_b.err" | grep -q "^progress 1/1 100% received eta 0s\$\|^progress 707/707 100% received" \
    || fail "incoming progress did not end complete: $(tail -n 3 "$T/follow_b.err")"
wait "$FA" || fail "status --follow of the file: $(tail -n 3 "$T/follow_a.err")"
grep -q "^progress [0-9]*/707 [0-9]*% sent eta [0-9ms]*\$" "$T/follow_a.err" \
    || fail "no progress line while sending: $(head -n 3 "$T/follow_a.err")"
tail -n 1 "$T/follow_a.err" | grep -q "^progress 707/707 100% acknowledged eta 0s\$" \
    || fail "progress did not end acknowledged: $(tail -n 3 "$T/follow_a.err")"
# On a terminal the same progress is a bar.
if command -v script >/dev/null; then
    script -qec "$MIXCLIENT -c $T/c_a.ini status --follow $fid" /dev/null >"$T/tty.out" 2>&1 \
        || fail "status --follow on a terminal: $(cat "$T/tty.out")"
    grep -q '\[##############################\] 100% 707/707 acknowledged, ETA 0s' "$T/tty.out" \
        || fail "no progress bar on a terminal: $(cat "$T/tty.out")"
fi
wait_recv b 2 "$T/rb" 60 || fail "1 MiB file not received"
cmp "$T/big" "$T/rb/$fid" || fail "1 MiB file differs"
mc b status | grep -qE "^$fid received 1/1 in 1.0MiB - 20[0-9-]+T[0-9:]+Z 100%\$" \
    || fail "received file in b's status: $(mc b status | grep "^$fid")"
echo PASS
