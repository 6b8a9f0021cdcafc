#!/bin/sh
# mixclient over a loopback network of real processes (mixdir, mixnode
# gateway+provider and one mix per layer, two mixclient daemons):
#  - a text message and a 1 MiB file arrive intact and are acknowledged;
#  - a SURB reply arrives at the original sender;
#  - the recipient gateway's stored bytes (its LMDB files) never contain plaintext;
#  - an idle client keeps sending (gateway metrics grow);
#  - a mistyped address and an oversized message are refused before anything is sent;
#  - a directory without k valid signatures by configured authorities is refused;
#  - garbage on the local socket closes only that connection; SIGTERM stops cleanly.
TESTNAME=client_basic
. "$TOP/tests/integration/client_net.inc"

net_start 30 100 5 5 20ms
client_init a
client_init b
client_daemon a
client_daemon b
echo "clients up: $ADDR_b"

# 1. Text.
MARK="plaintext-marker-$(date +%s)-$$"
id=$(mc a send "$ADDR_b" -m "$MARK hello" --wait 30) || fail "text not acknowledged"
wait_recv b 1 "$T/rb" 20 || fail "text not received"
[ "$(cat "$T/rb/$id")" = "$MARK hello" ] || fail "text differs"
echo "text delivered: $id"

# 2. A 1 MiB file.
head -c 1048576 /dev/urandom >"$T/big"
printf '%s' "$MARK-in-file" | dd of="$T/big" bs=1 seek=500000 conv=notrunc 2>/dev/null
id2=$(mc a send "$ADDR_b" -f "$T/big" --wait 45) || fail "1 MiB file not acknowledged"
wait_recv b 2 "$T/rb" 20 || fail "1 MiB file not received"
cmp "$T/big" "$T/rb/$id2" || fail "1 MiB file differs"
echo "1 MiB file delivered intact"

# 3. A SURB reply (received by a `recv --follow` reader).
mkdir -p "$T/ra"
"$MIXCLIENT" -c "$T/c_a.ini" recv --follow -o "$T/ra" >"$T/follow_a.out" 2>&1 &
FOLLOW=$!
PIDS="$PIDS $FOLLOW"
id3=$(mc a send "$ADDR_b" -m "question with reply" --reply-surbs 1 --wait 30) || fail "question"
wait_recv b 3 "$T/rb" 20 || fail "question not received"
grep -q "$id3 [0-9]* can-reply" "$T/recv_b.out" || fail "question not marked can-reply"
mc b reply "$id3" -m "the answer $MARK" >/dev/null || fail "reply refused"
mc b reply "$id3" -m "again" >/dev/null 2>&1 && fail "a SURB was used twice"
end=$(($(date +%s) + 20))
until [ "$(ls "$T/ra" | wc -l)" -ge 1 ]; do
    [ "$(date +%s)" -ge "$end" ] && fail "reply not received by recv --follow"
    sleep 0.3
done
grep -q "the answer $MARK" "$T"/ra/* || fail "reply text differs"
grep -q "^message " "$T/follow_a.out" || fail "recv --follow printed no header"
kill "$FOLLOW"
echo "SURB reply delivered"
[ "$(mc b address)" = "$ADDR_b" ] || fail "mixclient address differs from init's"

# Garbage on the local socket closes that connection only.
/usr/bin/python3 - "$T/c_a/mixclient.sock" <<'PY' || fail "local socket garbage test"
import socket, sys
for junk in (b"\xff\xff\xff\xff", b"\x00\x00\x00\x05hello", b"\x00\x00\x00\x00"):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(junk)
    s.settimeout(5)
    assert s.recv(100) == b"", "the daemon answered garbage"
    s.close()
PY
mc a status >/dev/null || fail "daemon died after garbage on its socket"
# Another local user can neither use the socket nor read the store.
case "$(stat -c %a "$T/c_a/mixclient.sock")" in
    [67]00) ;; *) fail "local socket open to others: $(stat -c %a "$T/c_a/mixclient.sock")" ;;
esac
[ "$(stat -c %a "$T/c_a")" = 700 ] || fail "data_dir mode $(stat -c %a "$T/c_a")"

# 4. The gateway stored ciphertext only: no plaintext in any of its files.
if grep -rqa "$MARK" "$T/gw"; then fail "plaintext found in the gateway's store"; fi
echo "gateway files hold no plaintext"

# 5. An idle client keeps sending: the gateway keeps receiving client packets.
c1=$(metric_exact gw 'mixnode_packets_in_total{source="client"}')
sleep 3
c2=$(metric_exact gw 'mixnode_packets_in_total{source="client"}')
f1=$(metric gw mixnode_fetches_total)
echo "client packets at the gateway: $c1 -> $c2, fetches $f1"
[ "$c2" -gt $((c1 + 100)) ] || fail "idle clients stopped sending ($c1 -> $c2)"

# 5b. Acknowledgements ride in the fetch requests (wire.md "Fetching an inbox"):
#     the gateway deleted what was delivered and never got a FetchAck frame.
acked=$(metric gw mixnode_acked_messages_total)
legacy=$(metric gw mixnode_fetch_ack_frames_total)
echo "messages acknowledged in fetch requests: $acked, FetchAck frames: $legacy"
[ "$acked" -gt 0 ] || fail "the gateway deleted no acknowledged message"
[ "$legacy" -eq 0 ] || fail "clients still send FetchAck frames ($legacy)"
# Payload-stream drop cover carries a SURB-ack that the gateway sends back.
cover=$(metric gw mixnode_cover_acks_sent_total)
echo "SURB-acks of drop cover sent by the gateway: $cover"
[ "$cover" -gt 0 ] || fail "drop cover caused no SURB-ack"

# 6. Refused before anything is sent.
q1=$(mc a status | sed -n 's/^queued_packets //p')
n1=$(mc a status | grep -c ' acknowledged\| queued\| sent\| failed')
bad=$(echo "$ADDR_b" | sed 's/\(.\{20\}\)./\1q/')
[ "$bad" != "$ADDR_b" ] || bad=$(echo "$ADDR_b" | sed 's/\(.\{20\}\)./\1r/')
out=$(mc a send "$bad" -m "typo" 2>&1) && fail "a mistyped address was accepted"
echo "$out" | grep -q "checksum" || fail "unclear error for a typo: $out"
out=$(mc a send "nonsense" -m "x" 2>&1) && fail "garbage address accepted"
head -c $((4 * 1048576 + 1)) /dev/zero >"$T/huge"
out=$(mc a send "$ADDR_b" -f "$T/huge" 2>&1) && fail "oversized message accepted"
echo "$out" | grep -q "too large" || fail "unclear error for an oversized message: $out"
n2=$(mc a status | grep -c ' acknowledged\| queued\| sent\| failed')
[ "$n1" = "$n2" ] || fail "a refused message was queued"
echo "bad address and oversized message refused"

# 7. k of n: with a second (absent) authority and threshold 2, the one-signature
#    document is refused; with the real authority's key swapped for another, too.
client_conf k2
FAKE=$("$MIXDIR" keygen -d "$T/fake" -a 127.0.0.1:1 | awk '{print $4}')
sed -i "s|^threshold = 1|authority = 127.0.0.1:1 $FAKE $FAKE\nthreshold = 2|" "$T/c_k2.ini"
out=$(mc k2 init --timeout 4 2>&1) && fail "a document with 1 of 2 required signatures was accepted"
echo "$out" | grep -q "too few signatures\|unknown signer" || fail "unclear k-of-n refusal: $out"
client_conf wrongkey
REALED=$(echo "$AUTH_LINE" | awk '{print $4}')
sed -i "s|$REALED|$FAKE|" "$T/c_wrongkey.ini"
out=$(mc wrongkey init --timeout 4 2>&1) && fail "a document signed by an unconfigured key was accepted"
echo "$out" | grep -q "unknown signer\|too few signatures" || fail "unclear refusal: $out"
echo "directory refused without k valid signatures: $(echo "$out" | tail -n 1)"

# 8. SIGTERM stops a daemon cleanly.
kill -TERM "$CPID_a"
wait "$CPID_a"; rc=$?
[ "$rc" -eq 0 ] || fail "daemon exit status $rc after SIGTERM"
echo "PASS"
