#!/bin/sh
# Attack 8: a registered node changes its role or layer.  Bound: a node key
# is bound to one role and layer, the one its `[registration] node = KEY
# ROLES [LAYER]` line names, or else the one of the first descriptor the
# authority accepted (while it holds it); a descriptor claiming another is
# refused, counted (rejected_role) and logged.  Uploads that keep their
# role, and document fetches, go on working.
set -u
. "$(dirname "$0")/dir_lib.sh"

start_dir "" "node = @N1@ mix 1
node = @N2@"
expect_refused() { # NODE ARGS...
    k=$1; shift
    out=$(dir_upload -k "$T/$k" "$@"); rc=$?
    [ $rc = 1 ] && [ "$out" = "refused: role or layer differs from the registered one" ] ||
        fail "$k $*: rc $rc: $out"
}
# n1 is bound by its line to mix, layer 1.
out=$(dir_upload -k "$T/n1" -r mix -L 1) || fail "n1 as mix 1: $out"
expect_refused n1 -r gateway,provider
expect_refused n1 -r mix -L 2
# n2 has a bare line: its first accepted descriptor binds it.
out=$(dir_upload -k "$T/n2" -r gateway,provider) || fail "n2 as gateway: $out"
expect_refused n2 -r mix -L 1
expect_refused n2 -r gateway
echo "4 role/layer changes refused"
sleep 1.2
grep -q 'limits:.* rejected_role=4' "$T/node_mixdir.log" ||
    fail "rejected_role counter: $(grep 'limits:' "$T/node_mixdir.log" | tail -n 1)"
grep -q 'descriptor claims roles .* bound to roles .*refused' "$T/node_mixdir.log" || fail "not logged"
# The normal path still works.
out=$(dir_upload -k "$T/n1" -r mix -L 1) || fail "n1 again: $out"
out=$(dir_upload -k "$T/n2" -r gateway,provider) || fail "n2 again: $out"
out=$(dir_fetch) || fail "fetch: $out"
echo "upload and fetch ok: $out"
echo "PASS"
