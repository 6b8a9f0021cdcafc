#!/bin/sh
# `make plots` (sim/plots.sh), shortened: every chart is drawn; points with
# too few targets are left out (and said so); the cover chart shows the
# latency including the client queue; labels use a subscript only where
# one is meant.  Skips without gnuplot (plots.sh would try to install it).
set -u
command -v gnuplot >/dev/null 2>&1 || { echo "gnuplot is not installed"; exit 77; }
T=$(mktemp -d /tmp/sim_plots.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# 60 s: the delay sweep's slowest points cannot measure 30 targets.
PLOTS_DURATION=60 PLOTS_OUT="$T" JOBS=2 timeout 300 sh "$TOP/sim/plots.sh" "$BUILD_ABS" \
    >"$T/log" 2>&1 || { cat "$T/log"; fail "plots.sh"; }
for c in delay layers width cover; do
    [ -s "$T/$c.svg" ] || fail "no $c chart"
done
grep -q 'plots: delay: [0-9]* point(s) with too few targets left out' "$T/log" \
    || fail "delay: short points not reported as left out"
grep -q 'gnuplot>' "$T/log" && fail "gnuplot complained"
grep -q 'latency incl. client queue' "$T/cover.svg" || fail "cover: no latency with the queue"
grep -q 'network latency (right axis)' "$T/cover.svg" || fail "cover: no network latency"
# lambda_P: P alone is a subscript, the rest of the label is not.
grep -q 'λ</tspan><tspan[^>]*dy="[0-9.]*px">P</tspan>' "$T/cover.svg" || fail "cover: no λ_P"
grep -q '> per client (messages/s' "$T/cover.svg" || fail "cover: label text"
grep -q 'dy="[0-9.]*px">[a-z]\{2,\}' "$T/delay.svg" "$T/layers.svg" "$T/width.svg" \
    && fail "accidental subscript"
# The sweep really had short points (else the check above proves nothing).
awk -F, 'NR==1{for(i=1;i<=NF;i++) if($i=="few_targets") c=i} NR>1 && $c==1 {n++} END {exit !(n>0)}' \
    "$T/delay.csv" || fail "expected short points in the delay sweep"
echo "sim_plots: all good"
exit 0
