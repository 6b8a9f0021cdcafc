#!/bin/sh
# mixnode safety on loopback (2 gateways 0, 1; mixes 2, 3, 4):
#  1. a replayed packet is dropped at the gateway, and at the mix (fed over a
#     node link), also after each restarts (replay caches saved on SIGTERM),
#     and at the mix after kill -9 (saved every second by a helper thread);
#  2. a corrupted packet is dropped and counted (header: bad MAC at the first
#     hop; payload: bad integrity at the exit);
#  3. a node link from a key outside the directory is refused and counted; a
#     directory key is accepted; a mix refuses client links;
#  4. a malformed frame closes that link only (counted), the node goes on;
#     (and, where the kernel shows scheduler slices, the I/O thread has
#     node.io_slice and the workers the default, whatever the parent had);
#  5. `mixnode -n` and `mixnode keygen` behave (errors are clear, keys 0600,
#     no overwrite, a missing key is an error).
set -u
TOP=${TOP:-$(pwd)}
. "$TOP/tests/lib/common.sh"
. "$(dirname "$0")/mixnode_lib.sh"

BASE=$(pick_base); [ -n "$BASE" ] || fail "no free ports"
"$MT" mknet "$NET" --base-port "$BASE" >/dev/null || fail "mknet"
# Mix 2 saves its replay cache every second (a helper thread writes it).
printf '[replay]\nsave_interval = 1s\n' >>"$NET/node2/node.ini"
for i in 0 1 2 3 4; do start_node $i; done
for i in 0 1 2 3 4; do wait_up $i; done
"$MT" keygen "$T/a.key" >/dev/null || fail "keygen a"
PB=$("$MT" keygen "$T/b.key") || fail "keygen b"
"$MT" fetch --net "$NET" --key "$T/b.key" --via 1 --min 0 --wait 0 >/dev/null || fail "B register"

# 1. Replays.
"$MT" send --net "$NET" --key "$T/a.key" --via 0 --to-gw 1 --to-pub "$PB" --save "$T/p1" \
    >/dev/null || fail "send"
wait_metric 1 mixnode_delivered_total 1
"$MT" sendraw --net "$NET" --key "$T/a.key" --via 0 --file "$T/p1" >/dev/null || fail "resend"
wait_metric 0 'mixnode_packets_dropped_total{reason="replay"}' 1
"$MT" unwrap --net "$NET" --to 0 --file "$T/p1" "$T/p1.mix" || fail "unwrap"
"$MT" sendnode --net "$NET" --to 2 --node-key 0 --file "$T/p1.mix" >/dev/null || fail "sendnode"
wait_metric 2 'mixnode_packets_dropped_total{reason="replay"}' 1
stop_node 0; stop_node 2
ls "$NET"/node2/replay-*.cache >/dev/null 2>&1 || fail "no replay cache saved"
start_node 0; start_node 2; wait_up 0; wait_up 2
"$MT" sendraw --net "$NET" --key "$T/a.key" --via 0 --file "$T/p1" >/dev/null || fail "resend 2"
wait_metric 0 'mixnode_packets_dropped_total{reason="replay"}' 1
"$MT" sendnode --net "$NET" --to 2 --node-key 0 --file "$T/p1.mix" >/dev/null || fail "sendnode 2"
wait_metric 2 'mixnode_packets_dropped_total{reason="replay"}' 1
[ "$(metric 1 mixnode_delivered_total)" = 1 ] || fail "a replay was delivered"
echo "replays dropped, also after restarts"

# 2. Corruption: header byte (MAC at gateway 0), payload byte (integrity at gateway 1).
"$MT" send --net "$NET" --key "$T/a.key" --via 0 --to-gw 1 --to-pub "$PB" --count 0 \
    --save "$T/p2" >/dev/null || fail "build p2"
"$MT" send --net "$NET" --key "$T/a.key" --via 0 --to-gw 1 --to-pub "$PB" --count 0 \
    --save "$T/p3" >/dev/null || fail "build p3"
"$MT" sendraw --net "$NET" --key "$T/a.key" --via 0 --file "$T/p2" --flip 100 >/dev/null
wait_metric 0 'mixnode_packets_dropped_total{reason="bad_mac"}' 1
"$MT" sendraw --net "$NET" --key "$T/a.key" --via 0 --file "$T/p3" --flip 2000 >/dev/null
wait_metric 1 'mixnode_packets_dropped_total{reason="bad_integrity"}' 1
[ "$(metric 1 mixnode_delivered_total)" = 1 ] || fail "a corrupted packet was delivered"
echo "corrupted packets dropped and counted"

# 1b. (after 2, whose counts it would change) kill -9 after the periodic save: the mix still knows the packet.
"$MT" send --net "$NET" --key "$T/a.key" --via 0 --to-gw 1 --to-pub "$PB" --count 0 \
    --save "$T/p4" >/dev/null || fail "build p4"
"$MT" unwrap --net "$NET" --to 0 --file "$T/p4" "$T/p4.mix" || fail "unwrap p4"
f0=$(metric 2 mixnode_packets_out_total); f0=${f0%.*}
# The periodic save (save_interval 1s) has written p4's tag once the cache file grows.
cache_size() { cat "$NET"/node2/replay-*.cache 2>/dev/null | wc -c; }
s0=$(cache_size)
cache_grew() { [ "$(cache_size)" -gt "$s0" ]; }
"$MT" sendnode --net "$NET" --to 2 --node-key 0 --file "$T/p4.mix" >/dev/null || fail "sendnode p4"
wait_metric 2 mixnode_packets_out_total $((f0 + 1))
wait_until 15 "node 2 to save its replay cache" cache_grew
kill9_node 2; start_node 2; wait_up 2
"$MT" sendnode --net "$NET" --to 2 --node-key 0 --file "$T/p4.mix" >/dev/null || fail "sendnode p4 again"
wait_metric 2 'mixnode_packets_dropped_total{reason="replay"}' 1
echo "replay dropped after kill -9 too (periodic save)"

# 3. Link authorisation.
out=$("$MT" probe --net "$NET" --to 2 --role node) && fail "unknown node key accepted: $out"
wait_metric 2 mixnode_links_refused_total 1
"$MT" probe --net "$NET" --to 2 --role node --node-key 3 >/dev/null || fail "directory key refused"
out=$("$MT" probe --net "$NET" --to 3 --role client) && fail "a mix accepted a client: $out"
"$MT" probe --net "$NET" --to 0 --role client >/dev/null || fail "gateway refused a client"
echo "link authorisation ok"

# 4. Malformed frame: that link closes, the node serves the next one.
"$MT" garbage --net "$NET" --key "$T/a.key" --via 0 >/dev/null || fail "garbage link stayed open"
wait_metric 0 mixnode_bad_frames_total 1
"$MT" fetch --net "$NET" --key "$T/b.key" --via 1 --wait 5 >/dev/null || fail "inbox lost"
"$MT" fetch --net "$NET" --key "$T/a.key" --via 0 --min 0 --wait 0 >/dev/null || fail "gateway 0 died"
echo "malformed frame handled"

# Scheduler hints, where the kernel shows slices (EEVDF, Linux 6.6+): the I/O
# thread runs with node.io_slice (default 100us), the crypto workers with the
# kernel's default even when the node's parent handed down a short slice.
if grep -q '^se.slice' /proc/self/sched 2>/dev/null; then
    stop_node 4
    "$MT" short-slice 300 "$MIXNODE" -c "$NET/node4/node.ini" >>"$T/node4.log" 2>&1 &
    PID_4=$!; PIDS="$PIDS $!"
    wait_up 4
    p=$PID_4
    # The metrics port answers a moment before the I/O thread takes its slice.
    n=0
    while :; do
        io=$(awk '/^se.slice/ {print $3}' "/proc/$p/task/$p/sched")
        [ "$io" != 300000 ] || [ $n -ge 50 ] && break
        n=$((n + 1)); sleep 0.1
    done
    workers=$(for t in /proc/$p/task/*; do
        [ "$t" = "/proc/$p/task/$p" ] && continue
        case "$(cat "$t/comm")" in MHD*) continue ;; esac
        awk '/^se.slice/ {print $3}' "$t/sched"; done | sort -u | tr '\n' ' ')
    default=$(awk '/^se.slice/ {print $3}' /proc/self/sched)
    if [ "$io" = 300000 ]; then
        echo "note: this kernel keeps no custom slices; not checked"
    else
        [ "$io" = 100000 ] || fail "the I/O thread's slice is $io ns, not node.io_slice"
        [ "$workers" = "$default " ] || fail "worker slices '$workers', not the default $default"
        echo "scheduler slices: I/O thread $io ns, workers $workers"
    fi
fi

# 5. Command line.
"$MIXNODE" -n -c "$NET/node0/node.ini" >/dev/null || fail "-n rejects a good config"
sed 's/^roles = .*/&\ncolour = blue/' "$NET/node0/node.ini" >"$T/bad.ini"
out=$("$MIXNODE" -n -c "$T/bad.ini" 2>&1) && fail "-n accepted an unknown key"
echo "$out" | grep -q colour || fail "error does not name the key: $out"
sed 's/^roles = .*/&\nio_slice = 50us/' "$NET/node0/node.ini" >"$T/slice.ini"
out=$("$MIXNODE" -n -c "$T/slice.ini" 2>&1) && fail "-n accepted io_slice = 50us"
echo "$out" | grep -q "io_slice: 0 (off) or 100us" || fail "io_slice error unclear: $out"
"$MIXNODE" keygen -d "$T/k" >/dev/null || fail "keygen"
[ "$(stat -c %a "$T/k/identity.key")" = 600 ] || fail "identity.key not 0600"
[ "$(stat -c %a "$T/k/link.key")" = 600 ] || fail "link.key not 0600"
out=$("$MIXNODE" keygen -d "$T/k" 2>&1) && fail "keygen overwrote keys"
echo "$out" | grep -q "refusing" || fail "keygen error unclear: $out"
sed "s#^data_dir = .*#data_dir = $T/empty#" "$NET/node0/node.ini" >"$T/nokey.ini"
mkdir -p "$T/empty"
out=$("$MIXNODE" -n -c "$T/nokey.ini" 2>&1) && fail "-n accepted missing keys"
echo "$out" | grep -q "identity.key" || fail "missing key error unclear: $out"
# The example configuration is valid once its placeholders are filled in.
K=$(grep '^identity_key' "$T/k.out" 2>/dev/null | awk '{print $3}')
[ -n "$K" ] || K=$("$MIXNODE" keygen -d "$T/k2" | awk '/^identity_key/ {print $3}')
# Each authority gets keys of its own (a repeated key is refused); the node's own is K.
AK=$(/usr/bin/python3 -c 'import base64, os
for i in range(6): print(base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="))')
set -- $AK
sed -e "s#^data_dir = .*#data_dir = $T/k2#" \
    -e "s#REPLACE_WITH_ED25519_KEY_1#$1#; s#REPLACE_WITH_X25519_KEY_1#$2#" \
    -e "s#REPLACE_WITH_ED25519_KEY_2#$3#; s#REPLACE_WITH_X25519_KEY_2#$4#" \
    -e "s#REPLACE_WITH_ED25519_KEY_3#$5#; s#REPLACE_WITH_X25519_KEY_3#$6#" \
    -e "s#REPLACE_WITH_[A-Z0-9_]*#$K#g" \
    "$TOP/deploy/examples/node.ini" >"$T/example.ini"
out=$("$MIXNODE" -n -c "$T/example.ini" 2>&1) || fail "example config rejected: $out"
"$MIXNODE" --version | grep -q mixnode || fail "--version"
"$MIXNODE" --help | grep -q keygen || fail "--help"
echo "command line ok"
echo "PASS"
