#!/bin/sh
# Data-directory locks and SIGHUP reloads, on real daemons:
#  1. a second mixdir on the same data directory refuses to start, naming the
#     directory and the running pid; the first keeps serving;
#  2. SIGHUP to mixdir: a node added to [registration] can register at once
#     (refused before), the log level changes, the log file is reopened after
#     rotation, a [network] change is reported as needing a restart, and a
#     configuration that no longer loads changes nothing; all logged;
#  3. a second mixnode on the same data directory refuses to start; SIGHUP to
#     mixnode changes its log level and reopens its log file; a broken
#     configuration is reported and the node keeps running.
set -u
. "$(dirname "$0")/mixnode_lib.sh"
MIXDIR=$BUILD_ABS/mixdir
DT=$BUILD_ABS/tests/dirtool
[ -x "$MIXDIR" ] && [ -x "$DT" ] || { echo "mixdir or dirtool not built"; exit 77; }

# wait_log FILE PATTERN [SECONDS]
wait_log() {
    lim=$(( ${3:-10} * 10 )); k=0
    until grep -q "$2" "$1" 2>/dev/null; do
        k=$((k + 1)); [ $k -le $lim ] || fail "no \"$2\" in $1: $(tail -n 5 "$1" 2>/dev/null)"
        sleep 0.1
    done
}

BASE=$(pick_base); [ -n "$BASE" ] || fail "no free ports"
AP=$((BASE + 9))
line=$("$MIXDIR" keygen -d "$T/a" -a "127.0.0.1:$AP") || fail "mixdir keygen"
X=$(echo "$line" | awk '{print $5}')
PUB1=$("$DT" nodekeys "$T/n1") || fail "nodekeys 1"
PUB2=$("$DT" nodekeys "$T/n2") || fail "nodekeys 2"
GENESIS=$(($(date +%s) - 1))
auth_conf() { # auth_conf LOG_LEVEL EXTRA_REGISTRATION [EXTRA_NETWORK_LINE]
    cat >"$T/a.ini" <<EOF2
[mixdir]
listen = 127.0.0.1:$AP
data_dir = $T/a
log_level = $1
log_file = $T/a.log
[network]
${line}
threshold = 1
epoch_length = 30s
genesis = $GENESIS
grace = 2s
vote_lead = 4s
exchange_window = 1s
layers = 3
${3:-}
[registration]
node = $PUB1
$2
EOF2
}
auth_conf info ""
"$MIXDIR" -n -c "$T/a.ini" >/dev/null || fail "mixdir -n"
"$MIXDIR" -c "$T/a.ini" 2>"$T/a.stderr" &
APID=$!; PIDS="$PIDS $APID"
wait_log "$T/a.log" "listening on"

# 1. A second authority on the same data directory.
out=$("$MIXDIR" -c "$T/a.ini" 2>&1); rc=$?
[ $rc -ne 0 ] || fail "a second mixdir started"
echo "$out" | grep -q "$T/a is in use by another mixdir (pid $APID)" ||
    fail "second mixdir: unclear refusal: $out"
kill -0 "$APID" || fail "the first mixdir died"
echo "1. second mixdir refused: $out"

# 2. SIGHUP: registration, log level, log reopen.
up() { "$DT" upload -A "127.0.0.1:$AP" -K "$X" -k "$T/n$1" -g "$GENESIS" -l 30 -r mix -L 1 \
       -s "127.0.0.1:$((BASE + $1))" -n 2; }
out=$(up 2) && fail "node 2 accepted before it was registered: $out"
echo "$out" | grep -q refused || fail "node 2: $out"
mv "$T/a.log" "$T/a.log.1"
auth_conf debug "node = $PUB2"
kill -HUP "$APID"
wait_log "$T/a.log" "SIGHUP: .* reloaded: registration by list (2 nodes listed)"
out=$(up 2) || fail "node 2 refused after the reload: $out"
wait_log "$T/a.log" "\[debug\]"
grep -q "SIGHUP" "$T/a.log.1" && fail "the reload was logged to the rotated file"
echo "2. after SIGHUP: node 2 $out; debug lines in the reopened log"
# A [network] change is not applied, and says so.
auth_conf debug "node = $PUB2" "lambda_m = 1.5"
kill -HUP "$APID"
wait_log "$T/a.log" "SIGHUP: \[network\] changed .* takes a restart"
# A broken configuration changes nothing.
echo "colour = blue" >>"$T/a.ini"
kill -HUP "$APID"
wait_log "$T/a.log" "SIGHUP: .*colour.*running configuration stays"
kill -0 "$APID" || fail "mixdir died on SIGHUP"
k=0
until out=$("$DT" fetch -A "127.0.0.1:$AP" -K "$X" -a "$(echo "$line" | awk '{print $4}')" -t 1 2>&1); do
    k=$((k + 1)); [ $k -le 40 ] || fail "mixdir serves no document after the reloads: $out"
    sleep 0.25
done
echo "   [network] change and broken config reported; still serving"

# 3. mixnode: a test network's node 0 (document from a file).
"$MT" mknet "$NET" --base-port "$BASE" >/dev/null || fail "mknet"
sed -i "s#^\[node\]#[node]\nlog_file = $T/node0.file.log#" "$NET/node0/node.ini"
start_node 0
wait_up 0
out=$("$MIXNODE" -c "$NET/node0/node.ini" 2>&1); rc=$?
[ $rc -ne 0 ] || fail "a second mixnode started"
grep -q "$NET/node0 is in use by another mixnode (pid $PID_0)" "$T/node0.file.log" ||
    echo "$out" | grep -q "$NET/node0 is in use by another mixnode (pid $PID_0)" ||
    fail "second mixnode: unclear refusal: $out $(tail -n 3 "$T/node0.file.log")"
kill -0 "$PID_0" || fail "the first mixnode died"
echo "3. second mixnode refused"
mv "$T/node0.file.log" "$T/node0.file.log.1"
sed -i 's/^log_level = .*/log_level = warn/' "$NET/node0/node.ini"
grep -q '^log_level = warn' "$NET/node0/node.ini" || sed -i "s#^\[node\]#[node]\nlog_level = warn#" "$NET/node0/node.ini"
kill -HUP "$PID_0"
wait_log "$T/node0.file.log" "SIGHUP: .* reloaded: log level warn"
sed -i 's/^log_level = warn/log_level = bogus/' "$NET/node0/node.ini"
kill -HUP "$PID_0"
wait_log "$T/node0.file.log" "SIGHUP: .*log_level.*running configuration stays"
[ "$(metric 0 mixnode_epoch)" != "" ] || fail "mixnode stopped answering"
kill -0 "$PID_0" || fail "mixnode died on SIGHUP"
echo "   mixnode: log level reloaded, log reopened, broken config reported"
echo PASS
