#!/bin/sh
# mixsim's attack subcommands from the command line: --help lists the flags,
# bad flags and values exit 2, --csv gives a header and rows of the right
# width, the same seed gives the same output, and the known answers come
# through the command line (a zero-delay mix: delta = 1; n-1 without mix
# loops: 0 bits).
set -u
M="$BUILD_ABS/mixsim"
[ -x "$M" ] || { echo "no $M"; exit 1; }
T=$(mktemp -d /tmp/sim_attacks.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

for c in sda unlink nminus1 flood retx; do
    "$M" $c --help >"$T/help" || fail "$c --help"
    grep -q -- "--seed" "$T/help" || fail "$c --help lists no flags"
    "$M" $c --no-such-flag >/dev/null 2>&1; [ $? -eq 2 ] || fail "$c: unknown flag must exit 2"
    "$M" $c --seed x >/dev/null 2>&1; [ $? -eq 2 ] || fail "$c: bad value must exit 2"
    "$M" $c --users >/dev/null 2>&1; [ $? -eq 2 ] || fail "$c: missing value must exit 2"
done
"$M" --help | grep -q "mixsim sda" || fail "mixsim --help does not list sda"

# sda: one row per run and attacker, 12 columns, deterministic.
S="--users 200 --contacts 3 --contacts-max 0 --threshold 20 --calibrate 10 --duration 2000"
"$M" sda $S --repeat 2 --csv >"$T/a.csv" || fail "sda --csv"
"$M" sda $S --repeat 2 --csv >"$T/b.csv" || fail "sda --csv again"
cmp -s "$T/a.csv" "$T/b.csv" || fail "sda: same seed, different output"
[ "$(wc -l <"$T/a.csv")" -eq 5 ] || fail "sda: want a header and 4 rows"
awk -F, '{ if (NF != 12) exit 1 }' "$T/a.csv" || fail "sda: rows of the wrong width"
awk -F, 'NR > 1 && $6 == "md" && $7 != 1 { exit 1 }' "$T/a.csv" || fail "sda: md did not succeed"
"$M" sda $S | grep -q "closed form" || fail "sda: no closed form for a threshold mix"
"$M" sda --contacts 5000 >/dev/null 2>&1; [ $? -eq 2 ] || fail "sda: contacts >= users must exit 2"

# sda --trace: a bad line is refused with its number; a good trace runs.
printf 'time,sender,recipient\n0,1,2\nx,1,2\n' >"$T/bad.csv"
"$M" sda --trace "$T/bad.csv" 2>"$T/err"; [ $? -eq 2 ] || fail "sda: a bad trace must exit 2"
grep -q "line 3: time is not a number" "$T/err" || fail "sda: no reason for a bad trace"
awk 'BEGIN { srand(5); for (i = 0; i < 60000; i++) { u = int(rand() * 100);
    v = (u == 4) ? 10 + int(rand() * 3) : int(rand() * 100); if (v == u) v = (u + 1) % 100;
    printf "%.4f,%d,%d\n", i / 100, u, v } }' >"$T/good.csv"
"$M" sda --trace "$T/good.csv" --target 4 --threshold 10 --calibrate 10 --csv >"$T/t.csv" ||
    fail "sda --trace"
awk -F, 'NR > 1 { if ($2 != 100 || $3 != 3 || $7 != 1) exit 1 }' "$T/t.csv" ||
    fail "sda --trace: want 100 users, 3 contacts found: $(cat "$T/t.csv")"

# unlink: a mix that does not delay gives delta = 1.
"$M" unlink --mean-delay 0 --duration 200 --csv >"$T/u.csv" || fail "unlink --csv"
[ "$(wc -l <"$T/u.csv")" -eq 2 ] || fail "unlink: want a header and a row"
awk -F, 'NR == 2 { if (NF != 14 || $7 != 1 || $11 != 1) exit 1 }' "$T/u.csv" ||
    fail "unlink: zero delay must give delta 1: $(cat "$T/u.csv")"

# nminus1 and flood.
"$M" nminus1 --runs 5 --csv >"$T/n.csv" || fail "nminus1 --csv"
awk -F, 'NR == 2 { if (NF != 15 || $8 != 5 || $9 != 0) exit 1 }' "$T/n.csv" ||
    fail "nminus1: want 5 targets at 0 bits: $(cat "$T/n.csv")"
"$M" flood --duration 100 --strategy threshold | grep -q "entropy left" || fail "flood"
# retx: no loss, no failures, a long timeout: one copy per message, no cost.
"$M" retx --loss 0 --timeout 100 --retx-max 0 --users 100 --duration 200 --csv >"$T/r.csv" ||
    fail "retx --csv"
awk -F, 'NR == 2 { if (NF != 16 || $10 != 0 || $11 != 1 || $13 != $15) exit 1 }' "$T/r.csv" ||
    fail "retx: want no loss, one copy, no cost: $(cat "$T/r.csv")"
# The trilemma charts of `make plots`, when gnuplot is there.
if command -v gnuplot >/dev/null 2>&1; then
    PLOTS_OUT="$T/plots" JOBS=2 timeout 120 sh "$TOP/sim/trilemma.sh" "$BUILD_ABS" >"$T/tlog" 2>&1 ||
        { cat "$T/tlog"; fail "trilemma.sh"; }
    for c in trilemma_latency trilemma_overhead detection; do
        [ -s "$T/plots/$c.svg" ] || fail "no $c chart"
    done
    grep -q 'gnuplot>' "$T/tlog" && fail "gnuplot complained"
    [ "$(grep -c . "$T/plots/trilemma_by_cover.dat")" -ge 20 ] || fail "trilemma: too few points"
fi
echo "sim attack commands: ok"
