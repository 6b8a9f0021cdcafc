#!/bin/sh
# Key tools, as an operator uses them:
#  1. `mixnode keygen -d A/B/C` creates the missing parents and prints the
#     exact `node = ...` line the authorities' [registration] needs;
#     `mixnode pubkey` (and `fingerprint`), from -d DIR or -c FILE, prints the
#     same again from the key files;
#  2. `mixdir keygen` creates parents too; `mixdir pubkey -d DIR -a ADDR` and
#     `mixdir pubkey -c FILE` re-print the `authority =` line;
#  3. `mixdir fetch -c FILE` works with a mixdir, a mixnode and a mixclient
#     configuration against a running authority;
#  4. that authority's metrics_listen serves /metrics (counters, epoch,
#     build_info, start time; valid for promtool) and /health (200).
set -u
. "$(dirname "$0")/mixnode_lib.sh"
MIXDIR=$BUILD_ABS/mixdir
[ -x "$MIXDIR" ] || { echo "mixdir not built"; exit 77; }

out=$("$MIXNODE" keygen -d "$T/deep/er/node") || fail "keygen with missing parents"
id=$(echo "$out" | sed -n 's/^identity_key = //p')
echo "$out" | grep -qx "node = $id" || fail "no 'node = $id' line: $out"
[ "$(stat -c %a "$T/deep/er/node")" = 700 ] || fail "key directory mode"
[ "$("$MIXNODE" pubkey -d "$T/deep/er/node")" = "$out" ] || fail "pubkey -d differs from keygen"
[ "$("$MIXNODE" fingerprint -d "$T/deep/er/node")" = "$out" ] || fail "fingerprint differs"
"$MIXNODE" pubkey -d "$T/nothing" 2>"$T/err" && fail "pubkey of a missing key"
grep -q "No such file" "$T/err" || fail "pubkey error: $(cat "$T/err")"
echo "1. mixnode keygen/pubkey: node = $id"

BASE=$(pick_base); [ -n "$BASE" ] || fail "no free ports"
AP=$((BASE + 1))
line=$("$MIXDIR" keygen -d "$T/d/e/auth" -a "127.0.0.1:$AP") || fail "mixdir keygen"
[ "$("$MIXDIR" pubkey -d "$T/d/e/auth" -a "127.0.0.1:$AP")" = "$line" ] || fail "mixdir pubkey -d"
cat >"$T/dir.ini" <<EOF2
[mixdir]
listen = 127.0.0.1:$AP
data_dir = $T/d/e/auth
metrics_listen = 127.0.0.1:$((BASE + 3))
[network]
$line
threshold = 1
epoch_length = 30s
genesis = $(($(date +%s) - 1))
vote_lead = 4s
exchange_window = 1s
[registration]
node = $id
EOF2
[ "$("$MIXDIR" pubkey -c "$T/dir.ini")" = "$line" ] || fail "mixdir pubkey -c"
echo "2. mixdir keygen/pubkey: $line"

"$MIXDIR" -c "$T/dir.ini" >"$T/dir.log" 2>&1 &
PIDS="$PIDS $!"
auth=${line#authority = }
cat >"$T/node.ini" <<EOF2
[node]
data_dir = $T/deep/er/node
listen = 127.0.0.1:$((BASE + 2))
roles = gateway,provider
[directory]
authority = $auth
threshold = 1
EOF2
cat >"$T/client.ini" <<EOF2
[client]
data_dir = $T/client
[directory]
authority = $auth
EOF2
for f in dir node client; do
    k=0
    until out=$("$MIXDIR" fetch -c "$T/$f.ini" 2>&1); do
        k=$((k + 1)); [ $k -le 50 ] || fail "mixdir fetch -c $f.ini: $out"; sleep 0.2
    done
    echo "$out" | grep -q "^epoch [0-9]* nodes 0 signatures 1 from 127.0.0.1:$AP" ||
        fail "fetch -c $f.ini: $out"
done
echo "3. mixdir fetch from mixdir, mixnode and mixclient configurations: $out"

k=0
until M=$(curl -s "http://127.0.0.1:$((BASE + 3))/metrics") &&
      echo "$M" | grep -q '^mixdir_document_requests_total [3-9]'; do
    k=$((k + 1)); [ $k -le 30 ] || fail "mixdir metrics: $(echo "$M" | grep requests)"; sleep 0.2
done
echo "$M" | grep -q '^mixdir_build_info{version="[0-9.]*"} 1$' || fail "no mixdir_build_info"
echo "$M" | grep -q '^mixdir_epoch [1-9]' || fail "no mixdir_epoch"
echo "$M" | grep -q '^mixdir_document_published 1$' || fail "no mixdir_document_published"
echo "$M" | grep -q '^mixdir_start_time_seconds [1-9]' || fail "no start time"
if command -v promtool >/dev/null 2>&1; then
    echo "$M" | promtool check metrics >"$T/prom" 2>&1 || { cat "$T/prom"; fail "promtool"; }
fi
h=$(curl -s -w ' %{http_code}' "http://127.0.0.1:$((BASE + 3))/health")
[ "$h" = "ok
 200" ] || fail "mixdir /health: $h"
echo "4. mixdir /metrics and /health"
echo PASS
