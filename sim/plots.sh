#!/bin/sh
# `make plots`: run mixsim sweeps and draw SVG charts with gnuplot into
# $BUILD/plots/: mean entropy (with its standard error) against the per-hop
# delay, the number of layers, the width and the cover rate, each with the
# mean end-to-end latency beside it on a second axis.
#   sh sim/plots.sh BUILD_DIR
# Not part of `make check`.  Installs Debian's gnuplot-nox if gnuplot is
# missing (and says so).  Set JOBS to change the number of processes.
set -eu
BUILD=${1:-build}
M="$BUILD/mixsim"
OUT="$BUILD/plots"
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
[ -x "$M" ] || { echo "plots: build $M first (make BUILD=$BUILD)" >&2; exit 1; }

if ! command -v gnuplot >/dev/null 2>&1; then
    echo "plots: gnuplot is missing; installing Debian's gnuplot-nox"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get install -y -qq --no-install-recommends gnuplot-nox
fi
mkdir -p "$OUT"

# The base: MiXiM's stratified Poisson setting (docs/sim.md).
BASE="--layers 3 --width 10 --clients 50 --rate-real 100 --link-delay 0.05
      --duration 60 --target-interval 1"

sweep() { # sweep NAME ARGS...: one CSV per chart
    name=$1; shift
    echo "plots: sweep $name"
    # shellcheck disable=SC2086
    "$M" sweep $BASE "$@" -j "$JOBS" -o "$OUT/$name.csv"
}
sweep delay --vary mean_delay=0.05,0.1,0.2,0.3,0.5,0.75,1
sweep layers --e2e 1 --vary layers=1:10
sweep width --e2e 1 --vary width=10:100:10
sweep cover --e2e 1 --rate-real 2 --vary rate_payload=3,4,8,16,32,64,100

chart() { # chart NAME XCOLUMN XLABEL
    csv="$OUT/$1.csv"
    x=$(head -1 "$csv" | tr ',' '\n' | grep -n -x "$2" | cut -d: -f1)
    h=$(head -1 "$csv" | tr ',' '\n' | grep -n -x h_msg_mean | cut -d: -f1)
    se=$(head -1 "$csv" | tr ',' '\n' | grep -n -x h_msg_se | cut -d: -f1)
    hr=$(head -1 "$csv" | tr ',' '\n' | grep -n -x h_rcpt_mean | cut -d: -f1)
    lat=$(head -1 "$csv" | tr ',' '\n' | grep -n -x lat_mean | cut -d: -f1)
    few=$(head -1 "$csv" | tr ',' '\n' | grep -n -x few_targets | cut -d: -f1)
    dropped=$(awk -F, -v c="$few" 'NR>1 && $c==1' "$csv" | wc -l)
    [ "$dropped" -eq 0 ] || echo "plots: $1: $dropped point(s) with too few targets left out"
    gnuplot <<GP
set terminal svg size 800,500 dynamic
set output "$OUT/$1.svg"
set datafile separator ","
set key bottom right box opaque
set yrange [0:*]
set y2range [0:*]
set title "mixsim: entropy and latency against $3"
set xlabel "$3"
set ylabel "entropy (bits)"
set y2label "mean latency (s)"
set y2tics
set ytics nomirror
set grid
# Points with too few targets (few_targets = 1) are left out: 1/0 is undefined.
ok(v) = column($few) == 0 ? v : 1/0
plot "$csv" using $x:(ok(column($h))):$se with yerrorlines lw 2 title "entropy over messages", \
     "$csv" using $x:(ok(column($hr))) with linespoints lw 2 title "entropy over recipients", \
     "$csv" using $x:$lat axes x1y2 with linespoints dt 2 title "latency (right axis)"
GP
    echo "plots: $OUT/$1.svg"
}
chart delay mean_delay "per-hop mean delay (s)"
chart layers layers "layers L (1 s end-to-end)"
chart width width "width W (1 s end-to-end)"
chart cover rate_payload "payload rate lambda_P per client (real rate 2/s)"
