#!/bin/sh
# Configuration checking, as an operator meets it:
#  1. `mixnode -n` reports every unknown key first (a misspelt required key as
#     unknown, not only as "required"), then every error of every section in
#     the order of their lines, each with FILE:LINE, in one run; exit 1;
#  2. `-n` refuses what start-up would refuse: a metrics address by name;
#  3. `mixdir -n` (and `mixclient -n`) does the same, every error at once, and
#     mixdir prints a digest of [network]: equal for equal networks, different
#     when one parameter differs;
#  4. running authorities warn, naming the field: a mix descriptor whose layer
#     the network lacks is accepted but cannot be listed; two authorities
#     whose lambda_m differs say so when their documents differ.
set -u
. "$(dirname "$0")/mixnode_lib.sh"
MIXDIR=$BUILD_ABS/mixdir
DT=$BUILD_ABS/tests/dirtool
[ -x "$MIXDIR" ] && [ -x "$DT" ] || { echo "mixdir or dirtool not built"; exit 77; }

K=$("$MIXNODE" keygen -d "$T/n" | awk '/^identity_key/ {print $3}')
line=$("$MIXDIR" keygen -d "$T/a1" -a 127.0.0.1:7001) || fail "mixdir keygen"
cat >"$T/bad.ini" <<EOF2
[node]
data_dir = $T/n
lisen = 127.0.0.1:7000
roles = gateway
colour = blue
[directory]
$line
threshold = 5
[limits]
max_frame = lots
max_clients = -1
[inbox]
expiry = soon
[node]
workers = many
io_slice = 1s
EOF2
out=$("$MIXNODE" -n -c "$T/bad.ini" 2>&1) && fail "-n accepted $T/bad.ini"
echo "$out"
B="mixnode: $T/bad.ini"
# Every error of every section, unknown keys first, then by line, then those without one.
cat >"$T/want" <<EOF2
$B:3: unknown setting [node] lisen
$B:5: unknown setting [node] colour
$B:8: [directory] threshold = "5": expected a whole number from 1 to 1
$B:10: [limits] max_frame = "lots": expected a whole number from 4096 to 16777216
$B:11: [limits] max_clients = "-1": expected a whole number from 0 to 1000000
$B:13: [inbox] expiry = "soon": expected a duration such as 500ms, 2s, 20m or 1h
$B:15: [node] workers = "many": expected a whole number from 0 to 256
$B:16: node.io_slice: 0 (off) or 100us .. 100ms
$B: node.listen: required, as HOST:PORT
EOF2
echo "$out" | diff "$T/want" - || fail "mixnode -n: not every error (> got, < wanted)"
echo "1. mixnode -n: $(echo "$out" | wc -l) problems reported at once, each with FILE:LINE"

cat >"$T/ok.ini" <<EOF2
[node]
data_dir = $T/n
listen = 127.0.0.1:7000
roles = gateway,provider
metrics_listen = localhost:9199
[directory]
$line
EOF2
out=$("$MIXNODE" -n -c "$T/ok.ini" 2>&1) && fail "-n accepted metrics_listen = localhost:9199"
echo "$out" | grep -q "ok.ini:5: node.metrics_listen: \"localhost:9199\": a numeric IPv4" ||
    fail "metrics_listen: $out"
sed -i 's/localhost:9199/127.0.0.1:9199/' "$T/ok.ini"
"$MIXNODE" -n -c "$T/ok.ini" >/dev/null || fail "-n refused a good config"
echo "2. metrics_listen by name refused by -n"

BASE=$(pick_base); [ -n "$BASE" ] || fail "no free ports"
P1=$((BASE + 1)); P2=$((BASE + 2))
L1=$("$MIXDIR" keygen -d "$T/d1" -a "127.0.0.1:$P1") || fail "keygen d1"
L2=$("$MIXDIR" keygen -d "$T/d2" -a "127.0.0.1:$P2") || fail "keygen d2"
GENESIS=$(($(date +%s) - 1))
dconf() { # dconf I LAMBDA_M [EXTRA_MIXDIR_LINE]
    cat >"$T/d$1.ini" <<EOF2
[mixdir]
listen = 127.0.0.1:$((BASE + $1))
data_dir = $T/d$1
log_level = info
${3:-}
[network]
$L1
$L2
threshold = 2
epoch_length = 8s
genesis = $GENESIS
grace = 1s
vote_lead = 3s
exchange_window = 1s
layers = 3
lambda_m = $2
[registration]
open = yes
EOF2
}
dconf 1 0.5; dconf 2 0.5
D1=$("$MIXDIR" -n -c "$T/d1.ini" | awk '/^network digest/ {print $3}')
D2=$("$MIXDIR" -n -c "$T/d2.ini" | awk '/^network digest/ {print $3}')
[ -n "$D1" ] && [ "$D1" = "$D2" ] || fail "digests of equal networks: '$D1' '$D2'"
dconf 2 1.5
D2=$("$MIXDIR" -n -c "$T/d2.ini" | awk '/^network digest/ {print $3}')
[ "$D1" != "$D2" ] || fail "the digest ignores lambda_m"
"$MIXDIR" -n -c "$T/d2.ini" | grep -q "lambda_m 1.500" || fail "-n does not print lambda_m"
dconf 1 0.5 "lisen = 127.0.0.1:1"
out=$("$MIXDIR" -n -c "$T/d1.ini" 2>&1) && fail "mixdir -n accepted an unknown key"
echo "$out" | sed -n 1p | grep -q "^mixdir: $T/d1.ini:5: unknown setting \[mixdir\] lisen$" ||
    fail "mixdir -n: $out"
dconf 1 0.5 "log_level = loud
stats_interval = 0"
sed -i -e 's/^layers = 3$/layers = 99/' -e 's/^lambda_m = 0.5$/lambda_m = fast\nstrategy = random/' \
    -e 's/^open = yes$/open = maybe\nnode = notakey/' "$T/d1.ini"
printf '[limits]\nmax_frame = 1\n' >>"$T/d1.ini"
out=$("$MIXDIR" -n -c "$T/d1.ini" 2>&1) && fail "mixdir -n accepted $T/d1.ini"
echo "$out"
B="mixdir: $T/d1.ini"
cat >"$T/want" <<EOF2
$B:5: [mixdir] log_level: "loud" is not error, warn, info or debug
$B:6: [mixdir] stats_interval = "0": expected a whole number from 1 to 86400
$B:16: [network] layers = "99": expected a whole number from 1 to 16
$B:17: [network] lambda_m = "fast": expected a number from 0 to 1e+06
$B:18: [network] strategy: "random" is not poisson, timed_pool or threshold
$B:20: [registration] open = "maybe": expected yes or no
$B:21: [registration] node: expected 'ED25519_KEY [ROLES [LAYER]]' (roles mix or gateway,provider; a mix needs its layer): "notakey"
$B:23: [limits] max_frame = "1": expected a whole number from 16384 to 16777216
EOF2
echo "$out" | diff "$T/want" - || fail "mixdir -n: not every error (> got, < wanted)"
dconf 1 0.5
echo "3. mixdir -n: digest $D1, differs with lambda_m; unknown key with its line; $(echo "$out" | wc -l) errors of 4 sections at once"
MC=$BUILD_ABS/mixclient
if [ -x "$MC" ]; then
    cat >"$T/c.ini" <<EOF2
[client]
data_dir = $T/c
gatway = abc
log_level = chatty
max_attempts = 0
[directory]
$line
authority = 127.0.0.1:7002 AAAA BBBB
poll_interval = often
EOF2
    out=$("$MC" -c "$T/c.ini" -n 2>&1) && fail "mixclient -n accepted $T/c.ini"
    B="mixclient: $T/c.ini"
    cat >"$T/want" <<EOF2
$B:3: unknown setting [client] gatway
$B:4: client.log_level: expected error, warn, info or debug
$B:5: [client] max_attempts = "0": expected a whole number from 1 to 255
$B:8: [directory] authority line: bad Ed25519 key "AAAA"
$B:9: [directory] poll_interval = "often": expected a duration such as 500ms, 2s, 20m or 1h
EOF2
    echo "$out" | diff "$T/want" - || fail "mixclient -n: not every error (> got, < wanted)"
    echo "   mixclient -n: $(echo "$out" | wc -l) problems at once"
fi

"$MIXDIR" -c "$T/d1.ini" >"$T/d1.log" 2>&1 &
PIDS="$PIDS $!"
"$MIXDIR" -c "$T/d2.ini" >"$T/d2.log" 2>&1 &
PIDS="$PIDS $!"
X1=$(echo "$L1" | awk '{print $5}')
k=0
until out=$("$DT" upload -A "127.0.0.1:$P1" -K "$X1" -k "$T/m4" -g "$GENESIS" -l 8 -r mix -L 4 \
            -s 127.0.0.1:9 -n 2 2>&1); do
    [ -d "$T/m4" ] || "$DT" nodekeys "$T/m4" >/dev/null
    k=$((k + 1)); [ $k -le 50 ] || fail "upload: $out"; sleep 0.2
done
k=0
until grep -q "descriptor accepted but it cannot be listed: its layer 4 is outside \[network\] layers = 3" "$T/d1.log"; do
    k=$((k + 1)); [ $k -le 50 ] || fail "no warning for layer 4: $(tail -n 5 "$T/d1.log")"; sleep 0.2
done
grep "cannot be listed" "$T/d1.log" | grep -q "\[warn\]" || fail "not at warn"
echo "4. $(grep -o 'node .*cannot be listed.*' "$T/d1.log" | head -n 1)"
k=0
until grep -q "authority 2 has other \[network\] parameters: lambda_m_mHz 500 (theirs 1500)" "$T/d1.log"; do
    k=$((k + 1)); [ $k -le 150 ] || fail "no parameter warning: $(grep -E 'warn|error' "$T/d1.log" | tail -n 5)"
    sleep 0.2
done
echo "   $(grep -o 'authority 2 has other.*' "$T/d1.log" | head -n 1)"
echo PASS
