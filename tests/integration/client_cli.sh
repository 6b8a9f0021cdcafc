#!/bin/sh
# The mixclient command line without a network: --help lists exactly the
# commands, options and ranges of the man page; options work after the
# command (`mixclient daemon -c FILE`); unknown options, missing values,
# numbers out of range and a missing or doubled message are usage errors
# (exit 2) naming what was wrong; -V/--version everywhere.
set -u
BUILD_ABS=${BUILD_ABS:-$(pwd)/${BUILD:-build}}
TOP=${TOP:-$(pwd)}
MC=$BUILD_ABS/mixclient
MAN=$TOP/docs/man/mixclient.1
[ -x "$MC" ] || { echo "mixclient not built"; exit 77; }
T=$(mktemp -d /tmp/client_cli.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# 1. --help and the man page agree.
"$MC" --help >"$T/help" || fail "--help exit code"
sed 's/\\-/-/g; s/\\f[BIRP]//g' "$MAN" >"$T/man"
opts() { grep -o -- '--[a-z][a-z-]*[a-z]' "$1" | sort -u; }
shorts() { grep -oE -- '(^|[ (\[|])-[a-zA-Z]([ ,]|$)' "$1" | grep -oE -- '-[a-zA-Z]' | sort -u; }
opts "$T/help" >"$T/h.long"; opts "$T/man" >"$T/m.long"
diff "$T/h.long" "$T/m.long" >"$T/d" || { cat "$T/d"; fail "long options of --help (<) and the man page (>) differ"; }
shorts "$T/help" >"$T/h.short"; shorts "$T/man" >"$T/m.short"
diff "$T/h.short" "$T/m.short" >"$T/d" || { cat "$T/d"; fail "short options of --help (<) and the man page (>) differ"; }
sed -n 's/^  \([a-z][a-z]*\)\( .*\)*$/\1/p' "$T/help" | sort -u >"$T/h.cmds"
sed -n '/^\.SH COMMANDS/,/^\.SH/p' "$MAN" | sed -n '/^\.TP/{n;s/^\.B \([a-z][a-z]*\)$/\1/p}' | sort -u >"$T/m.cmds"
[ -s "$T/h.cmds" ] || fail "no commands found in --help"
diff "$T/h.cmds" "$T/m.cmds" >"$T/d" || { cat "$T/d"; fail "commands of --help (<) and the man page (>) differ"; }
for r in $(grep -oE '\(([0-9]+)-([0-9]+)' "$T/help" | tr -d '('); do
    grep -q "${r%-*} to ${r#*-}" "$T/man" || fail "range $r of --help not in the man page"
done
echo "--help matches the man page: $(wc -l <"$T/h.long") long options, $(wc -l <"$T/h.cmds") commands"

# 2. Version and help everywhere.
for a in -V --version "send -V" "daemon --version"; do
    # shellcheck disable=SC2086
    "$MC" $a | grep -q "^mixclient [0-9]" || fail "$a"
done
"$MC" send --help | grep -q "reply-surbs" || fail "send --help"
"$MC" recv -h | grep -q "follow" || fail "recv -h"

# 3. Options after the command: -c is used wherever it is.
printf '[client]\ndata_dir = %s/data\n[directory]\nauthority = 127.0.0.1:9 %s %s\n' "$T" \
    AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA >"$T/c.ini"
cd "$T" || exit 1
out=$("$MC" daemon -c "$T/c.ini" 2>&1) && fail "daemon without a gateway ran"
echo "$out" | grep -q "$T/data" || fail "daemon -c FILE did not use FILE: $out"
out=$("$MC" status -c "$T/c.ini" 2>&1) && fail "status without a daemon"
echo "$out" | grep -q "cannot reach the daemon at $T/data" || fail "status -c FILE: $out"
out=$("$MC" send -c "$T/c.ini" mix1x 2>&1); [ $? -eq 2 ] || fail "send without a message: exit code"
"$MC" -n --config "$T/c.ini" >/dev/null || fail "-n --config"
echo "options after the command work"

# 4. Usage errors name the problem (exit 2).
usage_err() { # usage_err PATTERN ARGS...
    pat=$1; shift
    out=$("$MC" -c "$T/c.ini" "$@" 2>&1); rc=$?
    [ "$rc" -eq 2 ] || fail "'$*' exit $rc (want 2): $out"
    echo "$out" | grep -q -- "$pat" || fail "'$*' does not say '$pat': $out"
}
usage_err "unknown option --frob" send --frob
usage_err "unknown option -x" recv -x
usage_err "unknown option --bogus" --bogus status
usage_err "option --timeout needs a value" init --timeout
usage_err "--wait 'abc': expected a whole number from 0 to 86400" send mix1x -m hi --wait abc
usage_err "--wait '-1': expected a whole number from 0 to 86400" send mix1x -m hi --wait -1
usage_err "--reply-surbs '7': expected a whole number from 0 to 1" send mix1x -m hi --reply-surbs 7
usage_err "--timeout '0': expected a whole number from 1 to 3600" init --timeout 0
usage_err "--timeout '99999999999999999999999': expected" init --timeout 99999999999999999999999
usage_err "--max '0': expected a whole number from 1 to 100000" recv --max 0
usage_err "no message: give -m TEXT or -f FILE" send mix1x
usage_err "not both" send mix1x -m a -f b
usage_err "no ADDRESS given" send -m hi
usage_err "not a message id" reply 1234 -m hi
usage_err "not a message id" status xyz
usage_err "unknown command 'sned'" sned
usage_err "unexpected argument 'extra'" address extra
# Empty bodies are refused before the daemon is asked.
out=$("$MC" -c "$T/c.ini" reply 0123456789abcdef0123456789abcdef -m "" 2>&1) && fail "empty reply accepted"
echo "$out" | grep -q "empty reply" || fail "unclear error for an empty reply: $out"
GOOD=mix1aaaqeayeaudaocajbifqydiob4ibceqtcqkrmfyydenbwha5dyp2bincuoskljvhvcu2vk5mvwxk7mfrwkz3jnnww64ltov3xs635p6yp2lyk
out=$("$MC" -c "$T/c.ini" send "$GOOD" -m "" 2>&1) && fail "empty message accepted"
echo "$out" | grep -q "empty message" || fail "unclear error for an empty message: $out"
echo PASS
