#!/bin/sh
# --help and the man page list the same options, and -V/--version prints the
# version, for every program (mixclient has its own, fuller test in
# client_cli.sh):
#  1. mixnode, mixdir, mixscope: the long and the short options of --help are
#     exactly those of the man page (outside its EXAMPLES section);
#  2. mixsim: every option of `mixsim --help` and of each command's --help is
#     in mixsim(1), and every option of mixsim(1) is in one of them or is a
#     parameter of `mixsim params` (--PARAM VALUE);
#  3. -V and --version print "PROGRAM VERSION", the same for all five, exit 0.
set -u
BUILD_ABS=${BUILD_ABS:-$(pwd)/${BUILD:-build}}
TOP=${TOP:-$(pwd)}
for p in mixnode mixdir mixscope mixsim mixclient; do
    [ -x "$BUILD_ABS/$p" ] || { echo "$p not built"; exit 77; }
done
T=$(mktemp -d /tmp/cli_man.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

opts() { grep -o -- '--[a-z][a-z0-9-]*[a-z0-9]' "$@" | sed 's/^[^:]*://' | sort -u; }
shorts() { grep -hoE -- '(^|[ (\[|])-[a-zA-Z]([] ,|)]|$)' "$@" | grep -oE -- '-[a-zA-Z]' | sort -u; }
# man PAGE: the page as text, without its EXAMPLES section and other programs' command lines.
man() {
    sed 's/\\-/-/g; s/\\f[BIRP]//g' "$1" |
        awk '/^\.SH/ { ex = ($2 == "EXAMPLES") } !ex' | grep -vE 'tcpdump|curl |parallel '
}

# 1.
for p in mixnode:8 mixdir:8 mixscope:1; do
    n=${p%:*}
    "$BUILD_ABS/$n" --help >"$T/$n.help" 2>&1 || fail "$n --help: exit $?"
    man "$TOP/docs/man/$n.${p#*:}" >"$T/$n.man"
    opts "$T/$n.help" >"$T/h"; opts "$T/$n.man" >"$T/m"
    [ -s "$T/h" ] || fail "$n --help lists no long option"
    diff "$T/h" "$T/m" >"$T/d" || { cat "$T/d"; fail "$n: long options of --help (<) and $n.${p#*:} (>) differ"; }
    shorts "$T/$n.help" >"$T/h"; shorts "$T/$n.man" >"$T/m"
    diff "$T/h" "$T/m" >"$T/d" || { cat "$T/d"; fail "$n: short options of --help (<) and $n.${p#*:} (>) differ"; }
    echo "1. $n --help matches $n.${p#*:}: $(opts "$T/$n.help" | wc -l) long, $(wc -l <"$T/h") short options"
done

# 2.
S=$BUILD_ABS/mixsim
"$S" --help >"$T/sim.help" || fail "mixsim --help"
for c in sweep merge sda unlink nminus1 flood retx; do
    "$S" $c --help >"$T/sim.$c.help" 2>&1 || fail "mixsim $c --help: exit $?: $(head -n 1 "$T/sim.$c.help")"
done
"$S" params | awk '{print "--" $1}' | tr _ - >"$T/sim.params"
[ "$(wc -l <"$T/sim.params")" -gt 10 ] || fail "mixsim params"
man "$TOP/docs/man/mixsim.1" >"$T/sim.man"
opts "$T"/sim*.help >"$T/h"; opts "$T/sim.man" >"$T/m"
comm -23 "$T/h" "$T/m" >"$T/d"; [ ! -s "$T/d" ] || { cat "$T/d"; fail "mixsim: options of --help not in mixsim.1"; }
sort -u "$T/h" "$T/sim.params" >"$T/hp"
comm -13 "$T/hp" "$T/m" >"$T/d"; [ ! -s "$T/d" ] || { cat "$T/d"; fail "mixsim: options of mixsim.1 in no --help and no parameter"; }
shorts "$T"/sim*.help >"$T/h"; shorts "$T/sim.man" >"$T/m"
diff "$T/h" "$T/m" >"$T/d" || { cat "$T/d"; fail "mixsim: short options of --help (<) and mixsim.1 (>) differ"; }
echo "2. mixsim and its 7 commands' --help match mixsim.1: $(wc -l <"$T/hp") long options and parameters"

# 3.
V=""
for p in mixnode mixdir mixscope mixsim mixclient; do
    for f in -V --version; do
        out=$("$BUILD_ABS/$p" $f 2>&1) || fail "$p $f: exit $?"
        echo "$out" | grep -qE "^$p [0-9]+\.[0-9]+\.[0-9]+$" || fail "$p $f: $out"
        v=${out#* }; [ -z "$V" ] || [ "$v" = "$V" ] || fail "$p $f: version $v, others $V"
        V=$v
    done
    grep -qE -- '\\-V\b' "$TOP"/docs/man/$p.[18] || fail "$p: -V not in its man page"
done
echo "3. -V and --version: $V everywhere, in every man page"
echo PASS
