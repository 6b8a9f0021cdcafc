#!/bin/sh
# Frames are plain protobuf: `protoc --decode=mixnet.Frame proto/mixnet.proto`
# (Google's protoc, from protobuf-compiler) reads frames that lib/frame wrote,
# and lib/frame reads a frame that `protoc --encode` wrote.  Exit 77 if protoc
# is missing.
set -u
: "${BUILD_ABS:?}" "${TOP:?}"
TOOL="$BUILD_ABS/tests/frame_tool"
command -v protoc >/dev/null 2>&1 || { echo "skip: protoc not installed (protobuf-compiler)"; exit 77; }
[ -x "$TOOL" ] || { echo "missing $TOOL"; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cd "$TOP" || exit 1
fail=0

decode() {
    protoc --proto_path=proto --decode=mixnet.Frame proto/mixnet.proto <"$1"
}

# expect TYPE PATTERN...: write a TYPE frame, decode it with protoc, and find
# every pattern (a fixed string) in protoc's text output.
expect() {
    type=$1; shift
    "$TOOL" write "$type" >"$TMP/$type.bin" || { echo "FAIL: frame_tool write $type"; fail=1; return; }
    if ! decode "$TMP/$type.bin" >"$TMP/$type.txt" 2>"$TMP/$type.err"; then
        echo "FAIL: protoc could not decode $type:"; cat "$TMP/$type.err"; fail=1; return
    fi
    for pat in "$@"; do
        if ! grep -qF -- "$pat" "$TMP/$type.txt"; then
            echo "FAIL: $type: '$pat' not in protoc output:"; cat "$TMP/$type.txt"; fail=1; return
        fi
    done
    echo "ok: $type ($(wc -c <"$TMP/$type.bin") bytes) decoded by protoc"
}

expect sphinx 'sphinx_packet {' 'packet: "\001\002\003sphinx"'
expect fetch_response 'fetch_response {' 'seq: 7' 'payload: "hello"' \
    'surb_id: "0123456789abcdef"' 'is_reply: true' 'seq: 8' 'remaining: 5'
expect fetch_ack 'fetch_ack {' 'seq: 1099511627776'
expect signature_exchange 'signature_exchange {' 'epoch: 4242' \
    'document_hash: "0123456789abcdef0123456789ABCDEF"'
expect local_status_reply 'local_status_reply {' 'state: 3' 'address: "alice@gw"' \
    'epoch: 99' 'connected: true' 'queue_len: 2'
expect error 'error {' 'code: 3' 'reason: "no document for that epoch"'

# The other direction: protoc encodes from text, lib/frame decodes.
printf 'local_send { address: "bob@gw" message: "hi" reply_surbs: 2 }' |
    protoc --proto_path=proto --encode=mixnet.Frame proto/mixnet.proto >"$TMP/ls.bin" || fail=1
out=$("$TOOL" read <"$TMP/ls.bin")
if [ "$out" = "type=local_send address=bob@gw reply_surbs=2 message=6869" ]; then
    echo "ok: protoc-encoded local_send read by lib/frame"
else
    echo "FAIL: lib/frame read '$out'"; fail=1
fi
printf 'document_request { epoch: 17 }' |
    protoc --proto_path=proto --encode=mixnet.Frame proto/mixnet.proto >"$TMP/dr.bin" || fail=1
out=$("$TOOL" read <"$TMP/dr.bin")
[ "$out" = "type=document_request epoch=17" ] && echo "ok: document_request" ||
    { echo "FAIL: lib/frame read '$out'"; fail=1; }

# And lib/frame refuses what protoc happily encodes but our rules forbid:
# a signature exchange with a 3-byte hash, and an empty Frame.
printf 'signature_exchange { epoch: 1 document_hash: "abc" }' |
    protoc --proto_path=proto --encode=mixnet.Frame proto/mixnet.proto >"$TMP/bad.bin" || fail=1
out=$("$TOOL" read <"$TMP/bad.bin")
case "$out" in "rejected: signature_exchange: document_hash"*) echo "ok: $out" ;;
    *) echo "FAIL: short hash not rejected: '$out'"; fail=1 ;; esac
: | protoc --proto_path=proto --encode=mixnet.Frame proto/mixnet.proto >"$TMP/empty.bin" || fail=1
out=$("$TOOL" read <"$TMP/empty.bin")
case "$out" in "rejected: frame has no"*) echo "ok: $out" ;;
    *) echo "FAIL: empty frame not rejected: '$out'"; fail=1 ;; esac
exit $fail
