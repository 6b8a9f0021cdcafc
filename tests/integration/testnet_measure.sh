#!/bin/sh
# `deploy/testnet measure` (issue 13) on a small loopback testnet (1 authority,
# 1 gateway, 3 layers x 1, 2 clients): tcpdump on lo for 12 s, the document
# saved, a peers file from the daemons' sockets, and mixscope's report: every
# client named and seen at its gateway with the uplink and downlink sizes
# the clients use, every node-to-node message one size, the mixes' inputs
# and outputs counted, the files kept.  The testnet runs with `up --truth`
# and each client sends a message of several packets during the capture:
# the report's targets are those packets, matched on gateway links set up
# before the capture began (aligned by time), with their entropy.  Needs
# root (or the capture capability) and tcpdump: skipped otherwise.
set -u
BUILD_ABS=${BUILD_ABS:-$(pwd)/${BUILD:-build}}
TOP=${TOP:-$(pwd)}
for p in mixdir mixnode mixclient mixscope test/mixclient-truth; do
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

$TN up --bin "$BUILD_ABS" --truth --authorities 1 --gateways 1 --width 1 --epoch 20 --warmup 8 \
    --no-demo </dev/null >"$T/up" 2>&1 || { tail -n 20 "$T/up"; fail "up"; }
# The clients' gateway links are up long before the capture: mixscope aligns the ground truth
# to them by time.  Real messages (several packets each) are sent while it captures.
$TN measure --seconds 12 --json >"$T/report.json" 2>"$T/err" &
mpid=$!
i=0
until grep -q "capturing" "$T/err" 2>/dev/null; do
    i=$((i + 1))
    [ "$i" -le 300 ] && kill -0 "$mpid" 2>/dev/null || fail "measure did not start capturing"
    sleep 0.1
done
big=$(python3 -c 'print("x" * 6000)')
for pair in "alice bob" "bob alice"; do
    set -- $pair
    $TN send --from "$1" --to "$2" -m "$big" --wait 0 --show 0 >>"$T/send" 2>&1 ||
        fail "send $1 -> $2: $(tail -n 3 "$T/send")"
done
wait "$mpid" || fail "measure exit $?"
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
# The ground truth: the two messages' packets, matched on links set up before the capture.
tg = [x for x in r["entropy"] if x["subject"] == "targets (ground truth)"]
assert tg, r["entropy"]
tg = tg[0]
assert tg["truth_entries"] >= 6, tg
assert tg["conns_midstream"] >= 2 and tg["conns_aligned"] >= 1, tg
assert tg["truth_matched"] >= 3, tg
assert tg["truth_unmatched"] <= tg["truth_entries"] // 4, tg
assert tg["started"] == tg["truth_matched"] and tg["finished"] >= 3, tg
assert tg["h_msg_n"] == tg["finished"] and tg["h_msg_mean_bits"] > 0, tg
print("measure: %d messages in %.0f s; alice %d up / %d down, bob %d up / %d down" % (
    cap["messages"], cap["duration_s"], clients["alice"]["up_messages"],
    clients["alice"]["down_messages"], clients["bob"]["up_messages"],
    clients["bob"]["down_messages"]))
print("truth: %d of %d entries matched on %d aligned connections, h_msg %.2f bits" % (
    tg["truth_matched"], tg["truth_entries"], tg["conns_aligned"], tg["h_msg_mean_bits"]))
PY
echo "testnet_measure: ok"
