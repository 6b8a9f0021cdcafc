#!/bin/sh
# `make plots`, second part: the anonymity trilemma for one network.  One
# mixsim sweep over the per-hop delay and the payload (cover) rate lambda_P,
# then two gnuplot SVG charts into $BUILD/plots/:
#   trilemma_latency.svg   entropy against end-to-end latency (client queue
#                          included), one line per cover rate
#   trilemma_overhead.svg  entropy against bandwidth overhead (cover messages
#                          per real one), one line per per-hop delay
#   detection.svg          n-1 attack: time until a lost client loop reveals
#                          it, against the loop rate lambda_L, with its
#                          closed form (mixsim nminus1)
#   sh sim/trilemma.sh BUILD_DIR     (PLOTS_OUT overrides the output folder)
# Needs gnuplot (sim/plots.sh installs it).  JOBS sets the processes.
set -eu
BUILD=${1:-build}
M="$BUILD/mixsim"
OUT=${PLOTS_OUT:-$BUILD/plots}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
[ -x "$M" ] || { echo "trilemma: build $M first (make BUILD=$BUILD)" >&2; exit 1; }
command -v gnuplot >/dev/null 2>&1 || { echo "trilemma: gnuplot is missing" >&2; exit 1; }
mkdir -p "$OUT"

# 3 layers of 5, 50 clients writing 2 messages/s; lambda_P = 0 is no cover
# (a message leaves when written).
DELAYS="0.02,0.05,0.1,0.2,0.5,1"
COVERS="0,3,6,12,24"
CSV="$OUT/trilemma.csv"
echo "trilemma: sweep"
"$M" sweep --layers 3 --width 5 --clients 50 --rate-real 2 --link-delay 0.01 \
    --duration 150 --target-interval 0.2 \
    --vary rate_payload="$COVERS" --vary mean_delay="$DELAYS" -j "$JOBS" -o "$CSV"

col() { head -1 "$CSV" | tr ',' '\n' | grep -n -x "$1" | cut -d: -f1; }
H=$(col h_msg_mean)
SE=$(col h_msg_se)
LAT=$(col e2e_mean)
OV=$(col overhead)
P=$(col rate_payload)
D=$(col mean_delay)
N=$(col targets)

# One gnuplot data block per value of column $1 (blank-line separated), the
# rows ordered by column $2, so that each block is one line of the chart.
# A point without measured targets (the run too short) is left out.
blocks() {
    tail -n +2 "$CSV" | awk -F, -v n="$N" '$n > 0' | sort -t, -k"$1","$1"g -k"$2","$2"g |
        awk -F, -v k="$1" 'NR > 1 && $k != prev { print ""; print "" } { print; prev = $k }'
}
blocks "$P" "$LAT" >"$OUT/trilemma_by_cover.dat"
blocks "$D" "$OV" >"$OUT/trilemma_by_delay.dat"

gnuplot <<GP
set terminal svg size 800,500 dynamic
set datafile separator ","
unset key
set grid
set ylabel "entropy over messages (bits)"

set output "$OUT/trilemma_latency.svg"
set title "mixsim trilemma: anonymity against latency (lines: payload rate lambda_P, 2 real msg/s)"
set xlabel "mean end-to-end latency incl. client queue (s)"
set logscale x
plot for [i=0:4] "$OUT/trilemma_by_cover.dat" index i using $LAT:$H:$SE \
     with yerrorlines lw 2 notitle, \
     for [i=0:4] "$OUT/trilemma_by_cover.dat" index i every ::0::0 using $LAT:$H:(sprintf("lambda_P=%g", column($P))) \
     with labels offset 0,1 notitle

set output "$OUT/trilemma_overhead.svg"
set title "mixsim trilemma: anonymity against bandwidth overhead (lines: per-hop mean delay)"
set xlabel "cover messages per real message"
unset logscale x
plot for [i=0:5] "$OUT/trilemma_by_delay.dat" index i using $OV:$H:$SE \
     with yerrorlines lw 2 notitle, \
     for [i=0:5] "$OUT/trilemma_by_delay.dat" index i every ::0::0 using $OV:$H:(sprintf("delay %g s", column($D))) \
     with labels offset 0,1 notitle
GP
# Loop cover against the n-1 attack: 100 clients, 10 s loop timeout.
DET="$OUT/detection.csv"
first=1
for l in 0.005 0.01 0.02 0.05 0.1 0.2 0.5 1; do
    if [ $first -eq 1 ]; then h=""; first=0; else h="--no-header"; fi
    # shellcheck disable=SC2086
    "$M" nminus1 --runs 100 --loop-rate "$l" --csv $h
done >"$DET"
gnuplot <<GP
set terminal svg size 800,500 dynamic
set output "$OUT/detection.svg"
set datafile separator ","
set key top right box opaque
set grid
set logscale x
set title "mixsim: n-1 attack on a Poisson mix, 100 clients, loop timeout 10 s"
set xlabel "client loop rate lambda_L per client (1/s)"
set ylabel "time from the attack to the first lost loop (s)"
plot "$DET" every ::1 using 5:14:15 with yerrorlines lw 2 title "simulated (mean, se)", \
     [0.005:1] 10 - 0.05 + 1 / (100 * x) with lines dt 2 title "timeout - link + 1/(N lambda_L)"
GP
echo "trilemma: $OUT/trilemma_latency.svg $OUT/trilemma_overhead.svg $OUT/detection.svg"
