#!/bin/sh
# Clear errors without a network: an unreachable directory at init, no
# daemon for the CLI, config mistakes (-n), a bad address refused by the CLI
# before it even looks for the daemon, usage errors, --help/--version.
set -u
BUILD_ABS=${BUILD_ABS:-$(pwd)/${BUILD:-build}}
MC=$BUILD_ABS/mixclient
[ -x "$MC" ] || { echo "mixclient not built"; exit 77; }
T=$(mktemp -d /tmp/client_errors.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
TOP=${TOP:-$(pwd)}
. "$TOP/tests/lib/common.sh"
PORT=$(pick_ports 1)
KEY=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
cat >"$T/c.ini" <<EOC
[client]
data_dir = $T/data
connect_timeout = 1s
[directory]
authority = 127.0.0.1:$PORT $KEY $KEY
threshold = 1
EOC
"$MC" -n -c "$T/c.ini" >/dev/null || fail "a good config refused"
out=$("$MC" -c "$T/c.ini" init --timeout 3 2>&1) && fail "init succeeded without a directory"
echo "$out" | grep -q "directory unreachable" || fail "unclear init error: $out"
[ -f "$T/data/client.key" ] || fail "init did not create the key"
[ "$(stat -c %a "$T/data/client.key")" = 600 ] || fail "key file mode"
cp "$T/data/client.key" "$T/key.before"
"$MC" -c "$T/c.ini" init --timeout 1 >/dev/null 2>&1
cmp -s "$T/data/client.key" "$T/key.before" || fail "init replaced an existing key"
echo "init: clear error, key kept"

out=$("$MC" -c "$T/c.ini" status 2>&1) && fail "status without a daemon"
echo "$out" | grep -q "cannot reach the daemon" || fail "unclear error without a daemon: $out"
out=$("$MC" -c "$T/c.ini" send mix1abc -m hi 2>&1) && fail "bad address accepted"
echo "$out" | grep -q "bad address" || fail "bad address not named: $out"
out=$("$MC" -c "$T/c.ini" daemon 2>&1) && fail "daemon without a gateway"
echo "$out" | grep -q "mixclient init" || fail "unclear daemon error: $out"
echo "CLI: clear errors"

printf '[client]\ndata_dir = %s\ndata_dri = x\n[directory]\nauthority = 127.0.0.1:1 %s %s\n' \
    "$T/d" "$KEY" "$KEY" >"$T/typo.ini"
out=$("$MC" -n -c "$T/typo.ini" 2>&1) && fail "a typo in the config passed"
echo "$out" | grep -q "data_dri" || fail "typo not named: $out"
printf '[client]\ndata_dir = %s\n' "$T/d" >"$T/noauth.ini"
"$MC" -n -c "$T/noauth.ini" >/dev/null 2>&1 && fail "config without authorities passed"
"$MC" -c "$T/c.ini" send 2>/dev/null; [ $? -eq 2 ] || fail "usage error exit code"
"$MC" --help | grep -q "usage: mixclient" || fail "--help"
"$MC" --version | grep -q "^mixclient [0-9]" || fail "--version"
echo "PASS"
