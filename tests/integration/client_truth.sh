#!/bin/sh
# The ground-truth file for mixscope (client/truth.h), written only by the
# test program build/test/mixclient-truth:
#  - mixclient, libmixclient.so and libmixclient.a hold no truth-writing code
#    (no MIXCLIENT_TRUTH_FILE string, no truth_* symbol), the test program
#    does, and `make install` never installs it;
#  - on a live loopback network two clients of the test program append to one
#    file: the header once, then one line per real packet (a 1-fragment text,
#    a multi-fragment file, a SURB reply), none while the clients only send
#    cover; per client, lines == real + reply packets its stats count; times
#    lie within the test's wall time and never go back; per connection the
#    frame indexes strictly increase; every local address is a client's
#    established TCP connection to the gateway;
#  - where tcpdump can capture on lo: in the captured client streams, the
#    transport message at each line's index has a Sphinx packet frame's size
#    and was captured no later than the line's time (tests/lib/truth_pcap.py).
TESTNAME=client_truth
. "$TOP/tests/integration/client_net.inc"
TRUTHBIN=$BUILD_ABS/test/mixclient-truth
[ -x "$TRUTHBIN" ] || { echo "$TRUTHBIN not built"; exit 77; }

# 1. Production builds have no truth-writing code; the test program has (the control).
for f in "$MIXCLIENT" "$BUILD_ABS/libmixclient.so" "$BUILD_ABS/libmixclient.a"; do
    [ -f "$f" ] || fail "$f not built"
    if strings -a "$f" | grep -q 'MIXCLIENT_TRUTH_FILE\|mixscope-truth'; then
        fail "$(basename "$f") contains the truth file's name or header"
    fi
    if nm -A "$f" 2>/dev/null | grep -q ' [TtDdBb] truth_'; then
        fail "$(basename "$f") has truth_* symbols"
    fi
done
strings -a "$TRUTHBIN" | grep -q MIXCLIENT_TRUTH_FILE || fail "the test program lacks the truth writer"
nm "$TRUTHBIN" | grep -q ' [Tt] truth_link_written$' || fail "the test program lacks truth_link_written"
if make -C "$TOP" -n --no-print-directory BUILD="$BUILD_ABS" PREFIX=/nonexistent install 2>/dev/null |
    grep '^install' | grep -q 'mixclient-truth'; then
    fail "make install installs mixclient-truth"
fi
echo "no truth writer in mixclient, libmixclient.so, libmixclient.a; make install leaves the test program out"

# 2. A live network; both clients run the test program on one truth file.
T0=$(date +%s%N)
net_start 30 100 5 5 20ms
TRUTH=$T/truth
GWPORT=$(sed -n 's/^listen = 127.0.0.1://p' "$T/gw.ini")
client_init a
client_init b
# The gateway links, captured from before the clients connect (optional).
CAP=""
if command -v tcpdump >/dev/null 2>&1; then
    tcpdump -q -n -s 0 -U -Z root -i lo -w "$T/link.pcap" "tcp dst port $GWPORT" \
        >"$T/tcpdump.log" 2>&1 &
    CAP=$!
    PIDS="$PIDS $CAP"
    n=0
    until grep -q "listening on" "$T/tcpdump.log" || [ $n -ge 100 ] || ! kill -0 "$CAP" 2>/dev/null; do
        sleep 0.1; n=$((n + 1))
    done
fi
MIXCLIENT=$TRUTHBIN
export MIXCLIENT_TRUTH_FILE="$TRUTH"
client_daemon a
client_daemon b
unset MIXCLIENT_TRUTH_FILE
echo "clients up (test program): $ADDR_b"

# Cover only: loops and drops (and fetches) are never recorded.
wait_log 20 "$T/c_a.log" 'client: stats real=0 drop=[1-9]'
wait_log 20 "$T/c_b.log" 'client: stats real=0 drop=[1-9]'
[ -f "$TRUTH" ] || fail "no truth file"
[ "$(head -n 1 "$TRUTH")" = "# mixscope-truth 1" ] || fail "header: $(head -n 1 "$TRUTH")"
[ "$(wc -l <"$TRUTH")" -eq 1 ] || fail "cover packets recorded: $(cat "$TRUTH")"
echo "cover only: header, no lines"

# Real packets: a text, a file of several fragments, a question and its reply.
id1=$(mc a send "$ADDR_b" -m "truth one" --wait 30) || fail "text not acknowledged"
head -c 6000 /dev/urandom >"$T/file"
id2=$(mc a send "$ADDR_b" -f "$T/file" --wait 45) || fail "file not acknowledged"
id3=$(mc a send "$ADDR_b" -m "question" --reply-surbs 1 --wait 30) || fail "question not acknowledged"
wait_recv b 3 "$T/rb" 20 || fail "messages not received"
mc b reply "$id3" -m "answer" >/dev/null || fail "reply refused"
mkdir -p "$T/ra"
end=$(($(date +%s) + 20))
until mc a recv -o "$T/ra" >/dev/null 2>&1 && [ "$(ls "$T/ra" | wc -l)" -ge 1 ]; do
    [ "$(date +%s)" -ge "$end" ] && fail "reply not received"
    sleep 0.3
done
frags=0
for id in $id1 $id2 $id3; do
    n=$(mc a status "$id" | awk '{ split($3, f, "/"); print f[2] }')
    [ -n "$n" ] && [ "$n" -ge 1 ] || fail "status $id: $(mc a status "$id")"
    frags=$((frags + n))
done
[ "$frags" -ge 4 ] || fail "the file took one fragment only ($frags in all)"
echo "sent $frags fragments and one reply"

# Lines == real + reply packets counted by each client (retransmissions are real too).
sent_of() { # sent_of NAME: real + reply from its last stats line
    grep 'client: stats real=' "$T/c_$1.log" | tail -n 1 |
        sed 's/.* real=\([0-9]*\) .* reply=\([0-9]*\) .*/\1 \2/' | awk '{ print $1 + $2 }'
}
lines() { grep -vc '^#' "$TRUTH"; }
counts_match() { [ "$(lines)" -eq $(($(sent_of a) + $(sent_of b))) ]; }
wait_until 20 "truth lines == real + reply packets" counts_match
T1=$(date +%s%N)
na=$(sent_of a); nb=$(sent_of b)
[ "$na" -ge "$frags" ] || fail "client a counts $na real packets for $frags fragments"
[ "$nb" -ge 1 ] || fail "client b counts no reply"
echo "truth lines $(lines) == real+reply packets: a $na, b $nb"

# Format, times, per-connection indexes, and the local ends of gateway links.
[ "$(grep -c '^#' "$TRUTH")" -eq 1 ] || fail "the header was written more than once"
bad=$(grep -v '^#' "$TRUTH" | grep -vE '^[0-9]+ 127\.0\.0\.1:[0-9]+ [0-9]+$' | head -n 3)
[ -z "$bad" ] || fail "malformed lines: $bad"
grep -v '^#' "$TRUTH" | awk -v t0="$T0" -v t1="$T1" '
    { if ($1 < t0 || $1 > t1) { print "time " $1 " outside " t0 ".." t1; exit 1 }
      if (NR > 1 && $1 < prev) { print "time went back at line " NR; exit 1 }
      if (($2 in last) && $3 <= last[$2]) { print "index " $3 " after " last[$2] " on " $2; exit 1 }
      prev = $1; last[$2] = $3 }' >"$T/awk.out" || fail "$(cat "$T/awk.out")"
for ep in $(grep -v '^#' "$TRUTH" | awk '{ print $2 }' | sort -u); do
    ss -Htn state established "( sport = :${ep##*:} )" | grep -q "127.0.0.1:$GWPORT" ||
        fail "$ep is not a connection to the gateway (port $GWPORT): $(ss -Htn "( sport = :${ep##*:} )")"
done
if [ -n "$CAP" ] && kill -0 "$CAP" 2>/dev/null; then
    kill -INT "$CAP"
    wait "$CAP"
    /usr/bin/python3 "$TOP/tests/lib/truth_pcap.py" "$T/link.pcap" "$TRUTH" "$GWPORT" \
        || fail "the capture does not match the truth file"
else
    echo "note: no capture on lo (tcpdump missing or not permitted): $(tail -n 1 "$T/tcpdump.log" 2>/dev/null)"
fi
echo "$(lines) lines: times within the test and monotone, indexes increasing per connection," \
     "$(grep -v '^#' "$TRUTH" | awk '{ print $2 }' | sort -u | wc -l) gateway connections"
echo "PASS"
