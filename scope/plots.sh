#!/bin/sh
# mixscope's charts (PNG, gnuplot) from the files `mixscope --plot DIR` wrote:
#   DIR/entropy.png  CDF of the per-target message entropy, live and mixsim
#                    (mixsim run with DIR/mixsim.args: the same configuration
#                    and measured load), each mean marked; min-entropy too;
#   DIR/delays.png   each mix's delay density estimated from its input-to-
#                    output lags, against the configured exponential.
#   sh scope/plots.sh DIR [BUILD_DIR]      (`make scope-plots SCOPE_PLOT=DIR`)
# mixsim's per-target file is kept as DIR/targets_sim.csv (not rerun if present).
set -eu
DIR=${1:?usage: sh scope/plots.sh DIR [BUILD_DIR]}
BUILD=${2:-build}
[ -s "$DIR/targets_live.csv" ] || { echo "scope plots: no $DIR/targets_live.csv (mixscope --plot $DIR)" >&2; exit 1; }
command -v gnuplot >/dev/null 2>&1 || { echo "scope plots: gnuplot is missing (Debian gnuplot-nox)" >&2; exit 1; }

if [ ! -s "$DIR/targets_sim.csv" ] && [ -s "$DIR/mixsim.args" ] && [ -x "$BUILD/mixsim" ]; then
    # shellcheck disable=SC2046
    "$BUILD/mixsim" $(cat "$DIR/mixsim.args") --no-progress --targets-csv "$DIR/targets_sim.csv" \
        >/dev/null || echo "scope plots: mixsim failed; the live curve only" >&2
fi

# cdf CSV COLUMN OUT: the sorted values of finished targets with their empirical CDF; prints the mean.
cdf() {
    awk -F, -v c="$2" 'NR > 1 && $3 == 1 { print $c }' "$1" | sort -g |
        awk '{ v[NR] = $1; s += $1 } END { for (i = 1; i <= NR; i++) print v[i], i / NR;
               if (NR) printf "%.4f\n", s / NR > "/dev/stderr" }' >"$3" 2>"$3.mean"
    cat "$3.mean"
}
col() { head -1 "$1" | tr ',' '\n' | grep -n -x "$2" | cut -d: -f1; }
L=$DIR/targets_live.csv S=$DIR/targets_sim.csv
ml=$(cdf "$L" "$(col "$L" h_msg)" "$DIR/cdf_live.dat")
mlm=$(cdf "$L" "$(col "$L" hmin_msg)" "$DIR/cdf_live_min.dat")
plot="\"$DIR/cdf_live.dat\" using 1:2 with steps lw 2 lc 1 title \"live H (mean ${ml:-none})\", \
     \"$DIR/cdf_live_min.dat\" using 1:2 with steps lw 1 dt 2 lc 1 title \"live H_min (mean ${mlm:-none})\""
arrows="set arrow from ${ml:-0}, graph 0 to ${ml:-0}, graph 1 nohead lc 1 dt 3"
if [ -s "$S" ]; then
    ms=$(cdf "$S" "$(col "$S" h_msg)" "$DIR/cdf_sim.dat")
    msm=$(cdf "$S" "$(col "$S" hmin_msg)" "$DIR/cdf_sim_min.dat")
    plot="$plot, \"$DIR/cdf_sim.dat\" using 1:2 with steps lw 2 lc 2 title \"mixsim H (mean ${ms:-none})\", \
     \"$DIR/cdf_sim_min.dat\" using 1:2 with steps lw 1 dt 2 lc 2 title \"mixsim H_min (mean ${msm:-none})\""
    arrows="$arrows
set arrow from ${ms:-0}, graph 0 to ${ms:-0}, graph 1 nohead lc 2 dt 3"
fi
[ -s "$DIR/cdf_live.dat" ] || echo "0 0" >"$DIR/cdf_live.dat"
[ -s "$DIR/cdf_live_min.dat" ] || echo "0 0" >"$DIR/cdf_live_min.dat"
gnuplot <<GP
set terminal png size 800,500
set output "$DIR/entropy.png"
set key bottom right box opaque noenhanced
set title "mixscope: per-target entropy, live against mixsim" noenhanced
set xlabel "entropy of a target (bits)"
set ylabel "share of targets (CDF)"
set yrange [0:1]
set grid
$arrows
plot $plot
GP
echo "scope plots: $DIR/entropy.png"

# Delays: one curve per mix (up to 8), the configured exponential of the first; every 5 lag
# bins averaged into one point, since a short capture leaves the per-bin excess noisy.
awk -F, 'NR > 1 {
        f = d "/delay_" $1 ".dat"
        if (!(f in seen)) { seen[f] = 1; print f }
        k[f]++; lag[f] += $3; den[f] += $4; mod[f] += $5
        if (k[f] % 5 == 0) { print lag[f] / 5, den[f] / 5, mod[f] / 5 > f; lag[f] = den[f] = mod[f] = 0 }
    }' d="$DIR" "$DIR/delays.csv" | head -n 8 >"$DIR/delay_files"
plot=""
for f in $(cat "$DIR/delay_files"); do
    name=$(basename "$f" .dat); name=${name#delay_}
    plot="$plot${plot:+, }\"$f\" using 1:2 with lines lw 1 title \"$name\""
done
first=$(head -n 1 "$DIR/delay_files")
[ -n "$first" ] && plot="$plot, \"$first\" using 1:3 with lines lw 3 lc rgb \"black\" title \"configured exponential\""
[ -n "$plot" ] || { echo "scope plots: no mix delays in $DIR/delays.csv" >&2; exit 1; }
gnuplot <<GP
set terminal png size 800,500
set output "$DIR/delays.png"
set key top right box opaque noenhanced
set title "mixscope: per-mix delay density from input-to-output lags" noenhanced
set xlabel "lag (ms)"
set ylabel "density (per ms)"
set grid
plot $plot
GP
echo "scope plots: $DIR/delays.png"
