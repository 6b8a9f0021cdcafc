#!/bin/sh
# `make plots`: run mixsim sweeps and draw SVG charts with gnuplot into
# $BUILD/plots/: mean entropy (with its 95 % interval) against the per-hop
# delay, the number of layers, the width and the cover rate, each with the
# mean network latency beside it on a second axis (the cover chart also the
# latency including the client queue).  Points with too few targets are
# left out.
#   sh sim/plots.sh BUILD_DIR
# Not part of `make check` (tests/integration/sim_plots.sh runs a short
# version: PLOTS_DURATION, PLOTS_OUT).  Installs Debian's gnuplot-nox if gnuplot is
# missing (and says so).  Set JOBS to change the number of processes.
set -eu
BUILD=${1:-build}
M="$BUILD/mixsim"
OUT=${PLOTS_OUT:-$BUILD/plots}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
[ -x "$M" ] || { echo "plots: build $M first (make BUILD=$BUILD)" >&2; exit 1; }

if ! command -v gnuplot >/dev/null 2>&1; then
    echo "plots: gnuplot is missing; installing Debian's gnuplot-nox"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get install -y -qq --no-install-recommends gnuplot-nox
fi
mkdir -p "$OUT"

# The base: MiXiM's stratified Poisson setting (docs/sim.md).  150 s leave
# enough targets (>= 30) after the warm-up and drain even at 1 s per hop;
# PLOTS_DURATION shortens it for a quick look (short points are left out).
DUR=${PLOTS_DURATION:-150}
BASE="--layers 3 --width 10 --clients 50 --rate-real 100 --link-delay 0.05
      --rate-payload 0 --rate-loop 0 --rate-drop 0 --rate-mix-loop 0 --max-delay 0
      --duration $DUR --target-interval 1"

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

colno() { # colno CSV NAME: the column number of NAME
    head -1 "$1" | tr ',' '\n' | grep -n -x "$2" | cut -d: -f1
}

# chart NAME XCOLUMN XLABEL [queue]: entropies with their 95 % intervals on
# the left axis, latency on the right; with "queue" also the latency
# including the wait in the client queue (what cover traffic trades).
# Labels are plain text (noenhanced) except where a subscript is meant.
chart() {
    csv="$OUT/$1.csv"
    x=$(colno "$csv" "$2")
    h=$(colno "$csv" h_msg_mean)
    ci=$(colno "$csv" h_msg_ci95)
    hr=$(colno "$csv" h_rcpt_mean)
    lat=$(colno "$csv" lat_mean)
    e2e=$(colno "$csv" e2e_mean)
    few=$(colno "$csv" few_targets)
    dropped=$(awk -F, -v c="$few" 'NR>1 && $c==1' "$csv" | wc -l)
    [ "$dropped" -eq 0 ] || echo "plots: $1: $dropped point(s) with too few targets left out"
    if [ "$dropped" -eq "$(($(wc -l <"$csv") - 1))" ]; then
        echo "plots: $1: no point has enough targets, no chart (raise PLOTS_DURATION)"
        return 0
    fi
    queue=""
    if [ "${5:-}" = queue ]; then
        queue=", \"$csv\" using $x:(ok(column($e2e))) axes x1y2 with linespoints dt 3 lw 2 title \"latency incl. client queue (right axis)\""
    fi
    gnuplot <<GP
set terminal svg size 800,500 dynamic enhanced
set output "$OUT/$1.svg"
set datafile separator ","
set key bottom right box opaque noenhanced
set yrange [0:*]
set y2range [0:*]
set title "mixsim: entropy and latency against $3" noenhanced
set xlabel "$4"
set ylabel "entropy (bits)" noenhanced
set y2label "mean latency (s)" noenhanced
set y2tics
set ytics nomirror
set grid
# Points with too few targets (few_targets = 1) are left out: 1/0 is undefined.
ok(v) = column($few) == 0 ? v : 1/0
plot "$csv" using $x:(ok(column($h))):$ci with yerrorlines lw 2 title "entropy over messages (95 % interval)", \
     "$csv" using $x:(ok(column($hr))) with linespoints lw 2 title "entropy over recipients", \
     "$csv" using $x:(ok(column($lat))) axes x1y2 with linespoints dt 2 title "network latency (right axis)"$queue
GP
    echo "plots: $OUT/$1.svg"
}
# chart NAME COLUMN TITLE-TEXT XLABEL (enhanced text: _{x} is a subscript) [queue]
chart delay mean_delay "the per-hop mean delay" "per-hop mean delay (s)"
chart layers layers "the number of layers" "layers L (1 s end-to-end)"
chart width width "the width" "width W, mixes per layer (1 s end-to-end)"
chart cover rate_payload "the payload rate" "payload rate λ_{P} per client (messages/s; real rate 2/s)" queue
