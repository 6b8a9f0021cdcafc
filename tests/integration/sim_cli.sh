#!/bin/sh
# mixsim's command line: INI config, flags, --seed determinism, human / CSV /
# JSON output, errors, `sweep` in parallel processes, `sweep --jobs` command
# lines run on their own, and `merge` joining them into the same CSV.
set -u
M="$BUILD_ABS/mixsim"
[ -x "$M" ] || { echo "no $M"; exit 1; }
T=$(mktemp -d /tmp/sim_cli.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# A short, small configuration for everything below.
cat >"$T/sim.ini" <<'INI'
[network]
layers = 2
width = 2
link_delay = 0.01
[mixing]
strategy = poisson
mean_delay = 0.05
[clients]
clients = 8
rate_real = 20
rate_payload = 0
rate_loop = 0
rate_drop = 0
rate_mix_loop = 0
[run]
duration = 6
warmup = 1
drain = 1
target_interval = 0.05
INI

"$M" --help | grep -q 'mixsim sweep' || fail "--help"
"$M" --version | grep -q '^mixsim ' || fail "--version"
"$M" params | grep -q '^mean_delay ' || fail "params"

"$M" -c "$T/sim.ini" --no-progress >"$T/human.txt" || fail "run with -c"
grep -q 'entropy, messages' "$T/human.txt" || fail "human summary"
grep -q 'stratified 2 x 2' "$T/human.txt" || fail "ini values not used"

# Flags override the file, in order; dashes work as underscores.
"$M" -c "$T/sim.ini" --layers 3 --mean-delay=0.04 --csv >"$T/a.csv" || fail "csv"
[ "$(wc -l <"$T/a.csv")" -eq 2 ] || fail "csv should be header + 1 row"
hdr=$(head -1 "$T/a.csv" | tr ',' '\n' | wc -l)
row=$(tail -1 "$T/a.csv" | tr ',' '\n' | wc -l)
[ "$hdr" -eq "$row" ] || fail "csv header has $hdr columns, row $row"
col() { # col FILE NAME -> value in the first data row
    awk -F, -v n="$2" 'NR==1{for(i=1;i<=NF;i++) if($i==n) c=i} NR==2{print $c}' "$1"
}
[ "$(col "$T/a.csv" layers)" = 3 ] || fail "--layers flag"
[ "$(col "$T/a.csv" mean_delay)" = 0.04 ] || fail "--mean-delay flag"
[ "$(col "$T/a.csv" targets)" -gt 20 ] || fail "too few targets"

# Same seed: identical numbers (all but the wall time); another seed differs.
strip() { awk -F, 'NR==1{for(i=1;i<=NF;i++) if($i=="wall_s") w=i} {$w=""; print}' "$1"; }
"$M" -c "$T/sim.ini" --seed 7 --csv >"$T/s7a.csv"
"$M" -c "$T/sim.ini" --seed 7 --csv >"$T/s7b.csv"
"$M" -c "$T/sim.ini" --seed 8 --csv >"$T/s8.csv"
[ "$(strip "$T/s7a.csv")" = "$(strip "$T/s7b.csv")" ] || fail "same seed, different output"
[ "$(strip "$T/s7a.csv")" != "$(strip "$T/s8.csv")" ] || fail "different seeds, same output"

"$M" -c "$T/sim.ini" --json >"$T/a.json" || fail "json"
/usr/bin/python3 - "$T/a.json" <<'PY' || fail "json content"
import json, sys
d = json.load(open(sys.argv[1]))
r = d["results"]
assert d["params"]["layers"] == 2 and d["params"]["strategy"] == "poisson"
assert r["targets"] > 20 and 0 < r["h_msg_mean"] < 20
assert abs(r["max_mass_error"]) < 1e-6
PY

# Per-target and latency-histogram dumps agree with the summary.
"$M" -c "$T/sim.ini" --csv --targets-csv "$T/targets.csv" --latency-csv "$T/lat.csv" \
    >"$T/sum.csv" || fail "dumps"
n=$(awk -F, 'NR>1 && $3==1' "$T/targets.csv" | wc -l)
[ "$n" -eq $(( $(col "$T/sum.csv" targets) - $(col "$T/sum.csv" unfinished) )) ] \
    || fail "targets.csv has $n finished targets"
mean=$(awk -F, 'NR>1 && $3==1 {s+=$4; n++} END {printf "%.6f", s/n}' "$T/targets.csv")
want=$(awk -v x="$(col "$T/sum.csv" h_msg_mean)" 'BEGIN {printf "%.6f", x}')
[ "$mean" = "$want" ] || fail "targets.csv mean $mean, summary $want"
cnt=$(awk -F, 'NR>1 {s+=$2} END {print s}' "$T/lat.csv")
[ "$cnt" -gt 100 ] || fail "latency histogram empty"

# Too few targets: marked in every format, with the fix on stderr.
few="--layers 1 --e2e 5 --duration 150"
"$M" $few -q >"$T/few.txt" 2>"$T/few.err" || fail "few targets run"
grep -q '^WARNING: too few targets' "$T/few.txt" || fail "human: no warning"
grep -q 'no target was measured' "$T/few.txt" || fail "human: 0 targets shown as bits"
grep -q 'warning: only 0 targets.*--duration [0-9]' "$T/few.err" || fail "stderr: no reason or fix"
"$M" $few --csv -q >"$T/few.csv" 2>/dev/null
[ "$(col "$T/few.csv" few_targets)" = 1 ] || fail "csv: few_targets not set"
[ "$(col "$T/a.csv" few_targets)" = 0 ] || fail "csv: few_targets set on a good run"
"$M" $few --json -q 2>/dev/null | grep -q '"few_targets": 1,.*"warning": "only 0 targets' \
    || fail "json: no warning"

# --repeat: seeds aggregated into one row with an interval across them.
"$M" -c "$T/sim.ini" --repeat 3 --csv >"$T/rep.csv" || fail "--repeat"
[ "$(col "$T/rep.csv" seeds)" = 3 ] && [ "$(col "$T/rep.csv" ci_dof)" = 2 ] || fail "repeat cols"
[ "$(col "$T/sum.csv" batches)" = 10 ] || fail "one run: no batch means"
awk -v a="$(col "$T/rep.csv" h_msg_ci95)" 'BEGIN {exit !(a > 0)}' || fail "repeat: no interval"
"$M" -c "$T/sim.ini" --repeat 2 --targets-csv "$T/x.csv" >/dev/null 2>&1
[ $? -eq 2 ] || fail "--targets-csv with --repeat accepted"

# Errors: bad flag value, unknown argument, bad file, impossible config.
"$M" --layers x >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad value accepted"
"$M" --frobnicate >/dev/null 2>&1; [ $? -eq 2 ] || fail "unknown flag accepted"
"$M" -c "$T/missing.ini" >/dev/null 2>&1; [ $? -eq 2 ] || fail "missing file accepted"
"$M" --routing weighted --weights 1,2 >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad weights accepted"

# Sweep in parallel processes: 2 x 2 grid in point order.
"$M" sweep -c "$T/sim.ini" --vary layers=1,2 --vary width=1:2 -j 2 -o "$T/sweep.csv" \
    || fail "sweep"
[ "$(wc -l <"$T/sweep.csv")" -eq 5 ] || fail "sweep rows"
pts=$(awk -F, 'NR==1{for(i=1;i<=NF;i++) if($i=="point") c=i} NR>1{printf "%s ", $c}' "$T/sweep.csv")
[ "$pts" = "0 1 2 3 " ] || fail "sweep point order: $pts"
lw=$(awk -F, 'NR==1{for(i=1;i<=NF;i++){if($i=="layers") l=i; if($i=="width") w=i}} NR>1{printf "%s%s ", $l, $w}' "$T/sweep.csv")
[ "$lw" = "11 12 21 22 " ] || fail "sweep grid: $lw"

# The same grid as self-contained job lines, run out of order, then merged.
"$M" sweep -c "$T/sim.ini" --vary layers=1,2 --vary width=1:2 --jobs >"$T/jobs.txt" || fail "--jobs"
[ "$(wc -l <"$T/jobs.txt")" -eq 4 ] || fail "--jobs lines"
grep -q -- '--layers=2 --width=1' "$T/jobs.txt" || fail "--jobs content"
# Run from another directory: the lines must not need sim.ini.
(cd / && sort -r "$T/jobs.txt" | while read -r line; do sh -c "$line"; done) >"$T/raw.csv" \
    || fail "running job lines"
"$M" merge "$T/raw.csv" -o "$T/merged.csv" || fail "merge"
[ "$(strip "$T/merged.csv")" = "$(strip "$T/sweep.csv")" ] || fail "merged jobs differ from sweep"
# Merging from several files works too, and a foreign CSV is refused.
head -3 "$T/sweep.csv" >"$T/p1.csv"
(head -1 "$T/sweep.csv"; tail -2 "$T/sweep.csv") >"$T/p2.csv"
"$M" merge "$T/p2.csv" "$T/p1.csv" >"$T/m2.csv" || fail "merge two files"
cmp -s "$T/m2.csv" "$T/sweep.csv" || fail "two-file merge differs"
printf 'a,b\n1,2\n' >"$T/other.csv"
"$M" merge "$T/sweep.csv" "$T/other.csv" >/dev/null 2>&1 && fail "merge accepted a foreign CSV"
# An authority's configuration as is: the [network] section, its names and units.
"$M" -c "$TOP/deploy/examples/dir.ini" --duration 30 --csv >"$T/net.csv" 2>"$T/net.err" \
    || { cat "$T/net.err"; fail "-c deploy/examples/dir.ini"; }
[ "$(col "$T/net.csv" mean_delay)" = 0.05 ] && [ "$(col "$T/net.csv" rate_payload)" = 2 ] \
    && [ "$(col "$T/net.csv" max_delay)" = 2 ] && [ "$(col "$T/net.csv" rate_mix_loop)" = 0.5 ] \
    || fail "dir.ini values"
sed -e 's/^mean_delay = .*/mean_delay = 120ms/' -e 's/^lambda_p = .*/lambda_p = 3/' \
    -e 's/^layers = .*/layers = 2/' "$TOP/deploy/examples/dir.ini" >"$T/dir2.ini"
"$M" -c "$T/dir2.ini" --width 4 --duration 30 --csv >"$T/net2.csv" 2>/dev/null || fail "dir2.ini"
[ "$(col "$T/net2.csv" mean_delay)" = 0.12 ] && [ "$(col "$T/net2.csv" rate_payload)" = 3 ] \
    && [ "$(col "$T/net2.csv" layers)" = 2 ] && [ "$(col "$T/net2.csv" width)" = 4 ] \
    || fail "dir2.ini values"
# The defaults are the shipped network's: the same numbers without -c.
"$M" --duration 30 --csv >"$T/def.csv" 2>/dev/null || fail "defaults"
[ "$(strip "$T/def.csv")" = "$(strip "$T/net.csv")" ] || fail "defaults differ from dir.ini"
printf '[network]\nlamda_p = 2\n' >"$T/typo.ini"
"$M" -c "$T/typo.ini" >/dev/null 2>"$T/typo.err"; [ $? -eq 2 ] || fail "typo accepted"
grep -q 'lamda_p' "$T/typo.err" || fail "typo not named"

# Duplicated or missing grid points are refused unless allowed.
"$M" merge "$T/sweep.csv" "$T/p1.csv" >/dev/null 2>"$T/dup.err" && fail "duplicates accepted"
grep -q 'point 0 twice' "$T/dup.err" || fail "duplicate not named"
"$M" merge --allow-duplicates "$T/sweep.csv" "$T/p1.csv" >"$T/dup.csv" || fail "--allow-duplicates"
[ "$(wc -l <"$T/dup.csv")" -eq 7 ] || fail "--allow-duplicates rows"
"$M" merge "$T/p1.csv" >/dev/null 2>"$T/miss.err" && fail "missing points accepted"
grep -q 'point 2 missing' "$T/miss.err" && grep -q 'point 3 missing' "$T/miss.err" \
    || fail "missing points not named"
"$M" merge --allow-missing "$T/p1.csv" >"$T/miss.csv" || fail "--allow-missing"
cmp -s "$T/miss.csv" "$T/p1.csv" || fail "--allow-missing output"
[ "$(col "$T/sweep.csv" points)" = 4 ] || fail "points column"

# The CSV records the effective value of every derived parameter.
"$M" --layers 2 --width 3 --clients 8 --rate-real 20 --duration 10 --corrupt 1 \
    --corrupt-ids 0,1 --topology stratified --e2e 0.5 --csv -q >"$T/eff.csv" 2>/dev/null
[ "$(col "$T/eff.csv" warmup)" = -1 ] || fail "warmup param"
awk -v w="$(col "$T/eff.csv" warmup_eff)" -v d="$(col "$T/eff.csv" drain_eff)" \
    -v i="$(col "$T/eff.csv" target_interval_eff)" -v m="$(col "$T/eff.csv" mean_delay_eff)" \
    -v p="$(col "$T/eff.csv" tag_prob)" \
    'BEGIN {exit !(w >= 1 && d > 0 && i > 0 && m > 0.1749 && m < 0.1751 && p > 0 && p <= 1)}' \
    || fail "effective values missing"
[ "$(col "$T/eff.csv" mixes)" = 6 ] || fail "mixes"
c=$(col "$T/eff.csv" corrupt_mixes); [ "$c" -ge 2 ] && [ "$c" -le 3 ] || fail "corrupt_mixes $c"

echo "sim_cli: all good"
exit 0
