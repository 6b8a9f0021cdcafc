#!/bin/sh
# mixclient over a loopback network of real processes (mixdir, mixnode
# gateway+provider and one mix per layer, two mixclient daemons):
#  - a second daemon on the same data directory is refused (the lock names the first);
#  - a text message and a 1 MiB file arrive intact and are acknowledged;
#  - a SURB reply arrives at the original sender, marked as the answer to its
#    question, under the id `reply` printed; a second reply is refused as such;
#  - the recipient gateway's stored bytes (its LMDB files) never contain plaintext;
#  - an idle client keeps sending (gateway metrics grow);
#  - a mistyped address and an oversized message are refused before anything is sent;
#  - a directory without k valid signatures by configured authorities is refused;
#  - init with a mix configured as the gateway says so; status of an unknown id is one error;
#  - garbage on the local socket closes only that connection; SIGTERM stops cleanly
#    and a `recv --follow` reader then exits non-zero with a message.
TESTNAME=client_basic
. "$TOP/tests/integration/client_net.inc"

net_start 30 100 5 5 20ms
client_init a
client_init b
client_daemon a
client_daemon b
echo "clients up: $ADDR_b"

# 0. One daemon per data directory: a second one is refused and names the first.
out=$("$MIXCLIENT" -c "$T/c_a.ini" daemon 2>&1) && fail "a second daemon ran on the same data directory"
echo "$out" | grep -q "another mixclient daemon (pid $CPID_a) is using $T/c_a" || fail "unclear lock error: $out"
mc a status | grep -q "connected yes" || fail "the first daemon suffered from the second"

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
rid=$(mc b reply "$id3" -m "the answer $MARK") || fail "reply refused"
echo "$rid" | grep -qE '^[0-9a-f]{32}$' || fail "reply printed no id: $rid"
[ "$rid" != "$id3" ] || fail "reply printed the question's id, not its own"
out=$(mc b reply "$id3" -m "again" 2>&1) && fail "a SURB was used twice"
echo "$out" | grep -q "reply block already used" || fail "unclear error for a used reply block: $out"
head -c 3000 /dev/zero | tr '\0' x >"$T/long"
out=$(mc b reply "$id3" -f "$T/long" 2>&1) && fail "a 3000-byte reply was accepted"
echo "$out" | grep -q "reply too large: 3000 bytes, a reply holds at most [0-9]* bytes" \
    || fail "unclear error for a long reply: $out"
end=$(($(date +%s) + 20))
until [ "$(ls "$T/ra" | wc -l)" -ge 1 ]; do
    [ "$(date +%s)" -ge "$end" ] && fail "reply not received by recv --follow"
    sleep 0.3
done
grep -q "the answer $MARK" "$T"/ra/* || fail "reply text differs"
grep -q "^message $rid [0-9]* reply-to $id3\$" "$T/follow_a.out" \
    || fail "the reply is not marked as the answer to $id3: $(cat "$T/follow_a.out")"
[ -f "$T/ra/$rid" ] || fail "the reply was not received under the id reply printed"
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
client_pkts_grew() { [ "$(metric_exact gw 'mixnode_packets_in_total{source="client"}')" -gt $((c1 + 100)) ]; }
wait_until 30 "more than 100 client packets at the gateway" client_pkts_grew
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

# 8. A mix configured as the gateway: init says what it is.
MIXID=$(sed -n 's/.*: node \([^ ]*\) listening.*/\1/p' "$T/m11.log" | head -n 1)
[ -n "$MIXID" ] || fail "no node id in m11.log"
client_conf mixgw
sed -i "s|^\[client\]|[client]\ngateway = $MIXID|" "$T/c_mixgw.ini"
out=$(mc mixgw init --timeout 10 2>&1) && fail "init accepted a mix as the gateway"
echo "$out" | grep -q "is not a gateway: the directory lists it as a layer-1 mix" \
    || fail "unclear error for a mix as the gateway: $out"
echo "mix as gateway: $out"

# 9. status of an unknown id: one clean error, nothing else.
out=$(mc a status 0123456789abcdef0123456789abcdef 2>"$T/st.err") && fail "status of an unknown id succeeded"
[ -z "$out" ] || fail "status of an unknown id printed: $out"
grep -q "no sent message with id 0123456789abcdef0123456789abcdef" "$T/st.err" || fail "status error: $(cat "$T/st.err")"

# 10. SIGTERM stops a daemon cleanly; its `recv --follow` reader says so and fails.
kill -TERM "$CPID_a"
wait "$CPID_a"; rc=$?
[ "$rc" -eq 0 ] || fail "daemon exit status $rc after SIGTERM"
wait "$FOLLOW"; rc=$?
[ "$rc" -ne 0 ] || fail "recv --follow exited 0 when the daemon stopped"
grep -q "the daemon closed the connection" "$T/follow_a.out" || fail "recv --follow said nothing: $(tail -n 2 "$T/follow_a.out")"
echo "PASS"
