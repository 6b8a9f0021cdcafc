#!/bin/sh
# mixscope's charts from a real capture (issue 13): a small loopback testnet
# (1 authority, 1 gateway, 3 layers x 1, 2 clients) captured for 10 s by
# `deploy/testnet measure --plot`, then scope/plots.sh: the data files hold
# finished targets and every mix's delay density, mixsim runs with the
# arguments mixscope wrote, and both PNGs are drawn.  Needs root (or the
# capture capability), tcpdump and gnuplot: skipped otherwise.
set -u
BUILD_ABS=${BUILD_ABS:-$(pwd)/${BUILD:-build}}
TOP=${TOP:-$(pwd)}
for p in mixdir mixnode mixclient mixscope mixsim; do
    [ -x "$BUILD_ABS/$p" ] || { echo "$p not built"; exit 77; }
done
command -v tcpdump >/dev/null 2>&1 || { echo "tcpdump is not installed (make deps)"; exit 77; }
command -v gnuplot >/dev/null 2>&1 || { echo "gnuplot is not installed (Debian gnuplot-nox)"; exit 77; }
[ "$(id -u)" -eq 0 ] || { echo "needs root to capture on lo"; exit 77; }
T=$(mktemp -d /tmp/scopeplots.XXXXXX)
TN="/usr/bin/python3 $TOP/deploy/testnet --dir $T/net"
cleanup() {
    [ -f "$T/net/state.json" ] && $TN down >/dev/null 2>&1
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() { echo "FAIL: $*"; tail -n 20 "$T/err" 2>/dev/null; exit 1; }

$TN up --bin "$BUILD_ABS" --authorities 1 --gateways 1 --width 1 --epoch 20 --warmup 8 \
    --no-demo </dev/null >"$T/up" 2>&1 || { tail -n 20 "$T/up"; fail "up"; }
$TN measure --seconds 10 --json --plot "$T/plot" >"$T/report.json" 2>"$T/err" ||
    fail "measure exit $?"
for f in targets_live.csv delays.csv mixsim.args; do
    [ -s "$T/plot/$f" ] || fail "mixscope --plot wrote no $f"
done
fin=$(awk -F, 'NR > 1 && $3 == 1' "$T/plot/targets_live.csv" | wc -l)
[ "$fin" -ge 3 ] || fail "only $fin finished targets in targets_live.csv"
mixes=$(awk -F, 'NR > 1 { print $1 }' "$T/plot/delays.csv" | sort -u | wc -l)
[ "$mixes" -eq 3 ] || fail "delays.csv has $mixes mixes, want 3"
sh "$TOP/scope/plots.sh" "$T/plot" "$BUILD_ABS" >"$T/plots.out" 2>&1 || { cat "$T/plots.out"; fail "plots.sh"; }
[ -s "$T/plot/targets_sim.csv" ] || { cat "$T/plots.out"; fail "mixsim wrote no per-target file"; }
for png in entropy delays; do
    f="$T/plot/$png.png"
    [ -s "$f" ] || fail "no $png.png"
    [ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = "211PNG" ] || fail "$png.png is not a PNG"
done
echo "scope_plots: $fin live targets, 3 mixes, entropy.png and delays.png drawn"
