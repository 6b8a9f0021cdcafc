#!/bin/sh
# `make install PREFIX=/usr DESTDIR=TMP` installs every program the build
# makes, every man page of docs/man/ in its section, the systemd units (run
# from PREFIX/bin, reading /etc/mixnet), the sysusers file, the testnet tool
# and the example configurations; the installed programs run (--version);
# nothing lands outside DESTDIR/PREFIX.
set -u
BUILD=${BUILD:-build}
TOP=${TOP:-$(pwd)}
T=$(mktemp -d /tmp/make_install.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
make -s --no-print-directory BUILD="$BUILD" PREFIX=/usr DESTDIR="$T/root" install >"$T/make.log" 2>&1 ||
    { tail -n 20 "$T/make.log"; fail "make install"; }
R=$T/root/usr
for p in mixnode mixdir mixclient mixsim; do
    [ -x "$R/bin/$p" ] || fail "bin/$p not installed"
    "$R/bin/$p" --version >/dev/null 2>&1 || fail "installed $p --version"
done
for m in docs/man/*.[0-9]; do
    sec=${m##*.}
    [ -f "$R/share/man/man$sec/$(basename "$m")" ] || fail "man page $(basename "$m") not in man$sec"
done
for u in mixnode mixdir mixclient; do
    f=$R/lib/systemd/system/$u.service
    [ -f "$f" ] || fail "$u.service not installed"
    grep -q "^ExecStart=/usr/bin/$u -c /etc/mixnet/" "$f" || fail "$u.service: $(grep ^ExecStart "$f")"
    ! grep -q /usr/local "$f" || fail "$u.service still names /usr/local"
done
grep -q '^u mixnet ' "$R/lib/sysusers.d/mixnet.conf" || fail "sysusers file"
[ -x "$R/share/mixnet/testnet" ] && [ -x "$R/share/mixnet/netgen.py" ] || fail "testnet tool or netgen"
[ -f "$R/share/mixnet/examples/node.ini" ] || fail "examples"
# Nothing lands outside DESTDIR/PREFIX.
[ -z "$(ls "$T/root" | grep -v '^usr$')" ] || fail "files outside PREFIX: $(ls "$T/root")"
find "$T/root" -type f | sed "s#^$T/root##" | sort >"$T/list"
echo "installed $(wc -l <"$T/list") files:"
sed 's/^/  /' "$T/list"
echo PASS
