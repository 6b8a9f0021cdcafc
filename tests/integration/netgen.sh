#!/bin/sh
# deploy/netgen.py, the generator of a whole network from hosts and roles:
#  1. from a hosts file (3 authorities, a gateway, 3 mixes in 3 layers, a
#     client) it writes each participant's configuration, unit and INSTALL,
#     the authority lines and the registration list; every configuration
#     passes the programs' own -n check, and the [network] digests agree;
#  2. the network it describes runs: the authorities and nodes started from
#     the generated files (data under --data-prefix, on loopback) publish a
#     document signed by 2 of 3 that lists every node;
#     `mixnode -n` then checks a configuration against the network's document:
#     a mix layer the network lacks, or a stated epoch_length that differs,
#     fails with the reason in one line;
#  3. without keys (--no-keys) it writes KEYGEN commands only; with the lines
#     they print (--pubkeys) it writes the same kind of configurations and
#     makes no secret key.
set -u
. "$(dirname "$0")/mixnode_lib.sh"
MIXDIR=$BUILD_ABS/mixdir
MC=$BUILD_ABS/mixclient
[ -x "$MIXDIR" ] && [ -x "$MC" ] || { echo "mixdir or mixclient not built"; exit 77; }
GEN="/usr/bin/python3 $TOP/deploy/netgen.py"

BASE=$(pick_base); [ -n "$BASE" ] || fail "no free ports"
cat >"$T/hosts" <<EOF2
# role name address options
authority auth1 127.0.0.1:$((BASE + 1))
authority auth2 127.0.0.1:$((BASE + 2))
authority auth3 127.0.0.1:$((BASE + 3))
gateway gw1 127.0.0.1:$((BASE + 4)) metrics=127.0.0.1:$((BASE + 104))
mix m1 127.0.0.1:$((BASE + 5)) layer=1 metrics=127.0.0.1:$((BASE + 105))
mix m2 127.0.0.1:$((BASE + 6)) layer=2 metrics=127.0.0.1:$((BASE + 106))
mix m3 127.0.0.1:$((BASE + 7)) layer=3 metrics=127.0.0.1:$((BASE + 107))
client alice gateway=gw1
EOF2
$GEN "$T/hosts" "$T/out" --bin "$BUILD_ABS" --data-prefix "$T/root" --epoch 8s \
    --genesis $(($(date +%s) - 1)) --mean-delay 1ms >"$T/gen.log" 2>&1 || { cat "$T/gen.log"; fail "netgen"; }
cat "$T/gen.log"
for n in auth1 auth2 auth3 gw1 m1 m2 m3 alice; do
    [ -f "$T/out/$n/INSTALL" ] || fail "$n: no INSTALL"
    ls "$T/out/$n"/*.service >/dev/null 2>&1 || fail "$n: no unit"
done
[ "$(wc -l <"$T/out/authorities.txt")" = 3 ] || fail "authorities.txt"
[ "$(wc -l <"$T/out/registration.txt")" = 4 ] || fail "registration.txt"
D=""
for n in auth1 auth2 auth3; do
    d=$("$MIXDIR" -n -c "$T/out/$n/etc/mixnet/dir.ini" | awk '/^network digest/ {print $3}') ||
        fail "$n: mixdir -n"
    [ -z "$D" ] || [ "$d" = "$D" ] || fail "digests differ: $D $d"
    D=$d
done
for n in gw1 m1 m2 m3; do
    "$MIXNODE" -n -c "$T/out/$n/etc/mixnet/node.ini" >/dev/null || fail "$n: mixnode -n"
    ! grep -q "^genesis\|^epoch_length" "$T/out/$n/etc/mixnet/node.ini" || fail "$n: timing in a node"
done
"$MC" -c "$T/out/alice/etc/mixnet/client.ini" -n >/dev/null || fail "alice: mixclient -n"
echo "1. every configuration passes -n; network digest $D at all three authorities"

for n in auth1 auth2 auth3; do
    "$MIXDIR" -c "$T/out/$n/etc/mixnet/dir.ini" >"$T/$n.log" 2>&1 &
    PIDS="$PIDS $!"
done
i=4
for n in gw1 m1 m2 m3; do
    "$MIXNODE" -c "$T/out/$n/etc/mixnet/node.ini" >"$T/node$i.log" 2>&1 &
    PIDS="$PIDS $!"
    i=$((i + 1))
done
for i in 4 5 6 7; do wait_metric "$i" mixnode_listed 1 60; done
out=$("$MIXDIR" fetch -c "$T/out/gw1/etc/mixnet/node.ini") || fail "fetch: $out"
echo "$out" | grep -q "nodes 4 signatures [23] " || fail "document: $out"
echo "2. the generated network runs: $out"
out=$("$MIXNODE" -n -c "$T/out/m3/etc/mixnet/node.ini") || fail "-n of m3 against the network: $out"
echo "$out" | grep -q "^mixnode: network: epoch [0-9]*, 4 nodes, 3 layers" || fail "-n: $out"
sed 's/^layer = 3/layer = 4/' "$T/out/m3/etc/mixnet/node.ini" >"$T/m3-l4.ini"
out=$("$MIXNODE" -n -c "$T/m3-l4.ini") && fail "-n accepted layer 4 in a 3-layer network"
echo "$out" | grep -q "disagrees with the network: \[node\] layer = 4 but the network has 3 layers" ||
    fail "-n layer 4: $out"
sed 's/^threshold = 2/threshold = 2\nepoch_length = 30s/' "$T/out/m3/etc/mixnet/node.ini" >"$T/m3-e.ini"
out=$("$MIXNODE" -n -c "$T/m3-e.ini") && fail "-n accepted epoch_length 30s"
echo "$out" | grep -q "epoch_length = 30s but the network's is 8s" || fail "-n epoch: $out"
echo "   mixnode -n against the network: layer and epoch_length differences found"
for p in $PIDS; do kill "$p" 2>/dev/null; done

$GEN "$T/hosts" "$T/out2" --no-keys >"$T/gen2.log" 2>&1 || { cat "$T/gen2.log"; fail "--no-keys"; }
grep -q "mixdir keygen -d /var/lib/mixdir -a 127.0.0.1:$((BASE + 1))" "$T/out2/auth1/KEYGEN" ||
    fail "auth1 KEYGEN: $(cat "$T/out2/auth1/KEYGEN")"
[ ! -e "$T/out2/auth1/etc" ] || fail "--no-keys wrote configurations"
: >"$T/pub"
for n in auth1 auth2 auth3; do
    echo "$n $("$MIXDIR" pubkey -d "$T/root/var/lib/mixdir/$n" -a "$(awk -v n=$n '$2 == n {print $3}' "$T/hosts")")" >>"$T/pub"
done
for n in gw1 m1 m2 m3; do
    echo "$n $("$MIXNODE" pubkey -d "$T/root/var/lib/mixnode/$n" | grep '^node = ')" >>"$T/pub"
done
$GEN "$T/hosts" "$T/out2" --pubkeys "$T/pub" >>"$T/gen2.log" 2>&1 || { cat "$T/gen2.log"; fail "--pubkeys"; }
[ -z "$(find "$T/out2" -name '*.key')" ] || fail "--pubkeys made keys"
cmp -s "$T/out/registration.txt" "$T/out2/registration.txt" || fail "registration differs"
cmp -s "$T/out/authorities.txt" "$T/out2/authorities.txt" || fail "authorities differ"
grep -q "^gateway = $("$MIXNODE" pubkey -d "$T/root/var/lib/mixnode/gw1" | sed -n 's/^node_id = //p')$" \
    "$T/out2/alice/etc/mixnet/client.ini" || fail "alice's gateway id"
echo "3. --no-keys and --pubkeys: same lines, no secret key"
echo PASS
