#!/bin/sh
# `deploy/testnet measure` (issue 13) on a small loopback testnet (1 authority,
# 1 gateway, 3 layers x 1, 2 clients): tcpdump on lo for 8 s, the document
# saved, a peers file from the daemons' sockets, and mixscope's report: every
# client named and seen at its gateway with the uplink and downlink sizes
# the clients use, every node-to-node message one size, the mixes' inputs
# and outputs counted, the files kept.  Needs root (or the capture
# capability) and tcpdump: skipped otherwise.
set -u
BUILD_ABS=${BUILD_ABS:-$(pwd)/${BUILD:-build}}
TOP=${TOP:-$(pwd)}
for p in mixdir mixnode mixclient mixscope; do
    [ -x "$BUILD_ABS/$p" ] || { echo "$p not built"; exit 77; }
done
command -v tcpdump >/dev/null 2>&1 || { echo "tcpdump is not installed (make deps)"; exit 77; }
[ "$(id -u)" -eq 0 ] || { echo "needs root to capture on lo"; exit 77; }
T=$(mktemp -d /tmp/tnmeasure.XXXXXX)
TN="/usr/bin/python3 $TOP/deploy/testnet --dir $T/net"
cleanup() {
    [ -f "$T/net/state.json" ] && $TN down >/dev/null 2>&1
    cp "$T/report.json" "$BUILD_ABS/test-logs/testnet_measure.report.json" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() { echo "FAIL: $*"; tail -n 20 "$T/err" 2>/dev/null; exit 1; }

$TN up --bin "$BUILD_ABS" --authorities 1 --gateways 1 --width 1 --epoch 20 --warmup 8 \
    --no-demo </dev/null >"$T/up" 2>&1 || { tail -n 20 "$T/up"; fail "up"; }
$TN measure --seconds 8 --json >"$T/report.json" 2>"$T/err" || fail "measure exit $?"
for f in links.pcap document.cbor peers; do
    [ -s "$T/net/measure/$f" ] || fail "no $f kept"
done
python3 - "$T/report.json" <<'PY' || fail "report"
import json, sys
r = json.load(open(sys.argv[1]))
cap = r["capture"][0]
assert cap["duration_s"] > 6 and cap["messages"] > 50 and cap["layers"] == 3, cap
clients = {c["subject"]: c for c in r["clients"]}
assert {"alice", "bob"} <= set(clients), list(clients)
for name in ("alice", "bob"):
    c = clients[name]
    assert c["up_messages"] > 10 and c["down_messages"] > 5, c
    assert "2467:" in c["up_sizes"], c
kinds = {k["subject"]: k for k in r["link_kinds"]}
for k in ("gateway->mix", "mix->mix", "mix->gateway"):
    sizes = kinds[k]["sizes"].split()
    assert len(sizes) == 1 and sizes[0].startswith("2467:"), (k, kinds[k])
mixes = {m["subject"]: m for m in r["mixes"]}
assert set(mixes) == {"mix1-1", "mix2-1", "mix3-1"}, list(mixes)
assert all(m["inputs"] > 10 and m["outputs"] > 10 for m in mixes.values()), mixes
sim = [x for x in r["entropy"] if x["subject"] == "mixsim"]
assert sim and sim[0].get("h_msg_mean_bits") is not None, r["entropy"]
print("measure: %d messages in %.0f s; alice %d up / %d down, bob %d up / %d down" % (
    cap["messages"], cap["duration_s"], clients["alice"]["up_messages"],
    clients["alice"]["down_messages"], clients["bob"]["up_messages"],
    clients["bob"]["down_messages"]))
PY
echo "testnet_measure: ok"
