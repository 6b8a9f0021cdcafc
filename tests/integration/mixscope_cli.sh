#!/bin/sh
# mixscope's command line on a slice of a real testnet capture (namespace
# mode, 40 frames): the three output formats agree on the counts, a peers
# file names endpoints, windows add the window figures, damaged and
# truncated captures give a report (not a crash), and usage and input
# errors exit 2 and 1 with a message.
set -u
M="$BUILD_ABS/mixscope"
[ -x "$M" ] || { echo "no $M"; exit 1; }
C="$TOP/tests/fuzz/corpus/scope_capture"
T=$(mktemp -d /tmp/mixscope_cli.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# The slice's document (tests/vectors), its authorities, and names for a gateway and a client.
printf '10.77.0.13:7100 gwA\n10.77.0.21:0 alice\n' >"$T/peers"
A="-d $TOP/tests/vectors/mixscope_slice_document.cbor -A 10.77.0.10:7000 -A 10.77.0.11:7000"
# shellcheck disable=SC2086
"$M" -r "$C/slice40.pcap" $A -p "$T/peers" --json >"$T/r.json" || fail "json run"
# shellcheck disable=SC2086
"$M" -r "$C/slice40.pcap" $A -p "$T/peers" --csv >"$T/r.csv" || fail "csv run"
# shellcheck disable=SC2086
"$M" -r "$C/slice40.pcap" $A -p "$T/peers" >"$T/r.txt" || fail "text run"
python3 - "$T/r.json" "$T/r.csv" <<'PY' || fail "json/csv check"
import csv, json, sys
r = json.load(open(sys.argv[1]))
cap = r["capture"][0]
# Every connection was open before the capture: framing is found mid-stream.
assert cap["frames"] == 40 and cap["messages"] == 21 and cap["resyncs"] > 0, cap
assert cap["truncated"] == 0 and cap["unrelated"] == 0 and cap["layers"] == 3, cap
kinds = {k["subject"]: k for k in r["link_kinds"]}
assert kinds["client->gateway"]["sizes"] == "2467:3 24:3 81:3", kinds
assert kinds["gateway->client"]["sizes"] == "8412:3", kinds
assert kinds["mix->mix"]["sizes"] == "2467:5", kinds
assert all(c["real"] == "yes" for c in r["link_classes"]), r["link_classes"]
assert {"alice", "10.77.0.22"} <= {c["subject"] for c in r["clients"]}, r["clients"]
rows = list(csv.reader(open(sys.argv[2])))
assert all(len(x) == 4 for x in rows), [x for x in rows if len(x) != 4][:3]
flat = {(x[0], x[1], x[2]): x[3] for x in rows}
assert int(flat[("capture", "capture", "frames")]) == 40
assert int(flat[("capture", "capture", "messages")]) == cap["messages"]
subjects = {l["subject"] for l in r["links"]}
assert "alice->gwA" in subjects and "gwA->alice" in subjects, subjects
assert len(r["mixes"]) == 6 and len(r["gateways"]) == 2
print("frames", cap["frames"], "messages", cap["messages"], "links", len(subjects))
PY
grep -q '^== capture ==' "$T/r.txt" || fail "no summary"

# Windows add per-window figures.
# shellcheck disable=SC2086
"$M" -r "$C/slice40.pcap" $A --window-a 0:0.05 --window-b 0.05:1 --json >"$T/w.json" ||
    fail "window run"
grep -q '"window_b_s"' "$T/w.json" || fail "no window figures"

# Damaged captures: a report, every problem counted, never a crash.
for f in truncated.pcap corrupt.pcap header_only.pcap; do
    # shellcheck disable=SC2086
    "$M" -r "$C/$f" $A --json >"$T/d.json" 2>"$T/d.err"; rc=$?
    [ $rc -eq 0 ] || [ $rc -eq 1 ] || fail "$f: exit $rc"
    [ $rc -eq 1 ] || python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$T/d.json" ||
        fail "$f: bad JSON"
done

# Errors.
"$M" >/dev/null 2>&1; [ $? -eq 2 ] || fail "no arguments: want exit 2"
"$M" -r x -i lo -A 1.2.3.4:5 >/dev/null 2>&1; [ $? -eq 2 ] || fail "-r and -i: want exit 2"
"$M" -r x --window-a 5:1 -A 1.2.3.4:5 >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad window"
"$M" -r "$T/none.pcap" -A 1.2.3.4:5 2>"$T/e"; [ $? -eq 1 ] || fail "missing file: want 1"
grep -q none.pcap "$T/e" || fail "missing file: no message"
"$M" -r "$C/slice40.pcap" 2>"$T/e"; [ $? -eq 1 ] || fail "no nodes: want 1"
"$M" -r "$C/slice40.pcap" -d "$C/raw_frame" 2>"$T/e"; [ $? -eq 1 ] || fail "bad document"
grep -q "not a signed directory document" "$T/e" || fail "bad document: no message"
"$M" -r "$C/slice40.pcap" -A nothost 2>/dev/null; [ $? -eq 1 ] || fail "bad -A"
# Corrupt mixes, ground truth, node delays and charts' data: names checked, files parsed.
# shellcheck disable=SC2086
"$M" -r "$C/slice40.pcap" $A --corrupt nosuchmix 2>"$T/e"; [ $? -eq 1 ] || fail "--corrupt unknown: want 1"
grep -q "nosuchmix" "$T/e" || fail "--corrupt unknown: no message"
# shellcheck disable=SC2086
"$M" -r "$C/slice40.pcap" $A --node-delay x 2>"$T/e"; [ $? -eq 1 ] || fail "--node-delay x: want 1"
printf '# mixscope-truth 1\n12 10.77.0.21:1 zero\n' >"$T/bad.truth"
# shellcheck disable=SC2086
"$M" -r "$C/slice40.pcap" $A --truth "$T/bad.truth" 2>"$T/e"; [ $? -eq 1 ] || fail "bad truth: want 1"
grep -q "bad.truth: line 2" "$T/e" || fail "bad truth: no line number"
mix=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['mixes'][0]['subject'])" "$T/r.json")
printf '# mixscope-truth 1\n12 10.77.0.21:1 0\n' >"$T/ok.truth"
# shellcheck disable=SC2086
"$M" -r "$C/slice40.pcap" $A --corrupt "$mix" --node-delay "$mix=2" --truth "$T/ok.truth" \
    --plot "$T/plot" --json >"$T/c.json" || fail "corrupt/truth/plot run"
python3 - "$T/c.json" <<'PY' || fail "corrupt/truth report"
import json, sys
e = json.load(open(sys.argv[1]))["entropy"][0]
assert e["corrupt_mixes"] == 1 and e["truth_entries"] == 1 and e["truth_unmatched"] == 1, e
assert "--layer_delays" in e["mixsim_args"] and "--corrupt_ids" in e["mixsim_args"], e
for k in ("h_msg", "hmin_msg", "h_rcpt", "hmin_rcpt"):
    assert k + "_mean_bits" in e and k + "_p25_bits" in e and k + "_se_bits" in e, (k, e)
PY
# mixsim's figure beside the live one (a mixsim that cannot run: an error item, still a report).
# shellcheck disable=SC2086
"$M" -r "$C/slice40.pcap" $A --mixsim "$BUILD_ABS/mixsim" --json >"$T/s.json" || fail "--mixsim run"
# shellcheck disable=SC2086
"$M" -r "$C/slice40.pcap" $A --mixsim "$T/none" --json >"$T/s2.json" || fail "--mixsim none"
python3 - "$T/s.json" "$T/s2.json" <<'PY' || fail "--mixsim report"
import json, sys
e = json.load(open(sys.argv[1]))["entropy"]
sim = [x for x in e if x["subject"] == "mixsim"][0]
assert sim["measured"] > 10 and 0 < sim["h_msg_mean_bits"] < 10, sim
assert sim["hmin_msg_mean_bits"] <= sim["h_msg_mean_bits"], sim
bad = [x for x in json.load(open(sys.argv[2]))["entropy"] if x["subject"] == "mixsim"][0]
assert "exited" in bad["error"], bad
PY
for f in targets_live.csv delays.csv mixsim.args; do
    [ -f "$T/plot/$f" ] || fail "--plot wrote no $f"
done
"$M" --help | grep -q -- "--window-a" || fail "help"
"$M" --version | grep -q "^mixscope " || fail "version"
echo "mixscope_cli: ok"
