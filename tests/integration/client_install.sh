#!/bin/sh
# `make install` (PREFIX honoured) installs libmixclient with mixclient.pc;
# a program built only with `pkg-config --cflags --libs --static mixclient`
# against that prefix links and works (address checks, version), and the
# installed mixclient runs.
set -u
BUILD=${BUILD:-build}
T=$(mktemp -d /tmp/client_install.XXXXXX)
trap 'rm -rf "$T"' EXIT
command -v pkg-config >/dev/null || { echo "pkg-config missing"; exit 77; }
make -s --no-print-directory BUILD="$BUILD" PREFIX="$T/inst" install-client >"$T/make.log" 2>&1 \
    || { cat "$T/make.log"; echo "FAIL: make install-client"; exit 1; }
for f in bin/mixclient lib/libmixclient.a lib/pkgconfig/mixclient.pc include/mixclient/mixclient.h \
         share/man/man1/mixclient.1; do
    [ -f "$T/inst/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done
grep -q "^prefix=$T/inst\$" "$T/inst/lib/pkgconfig/mixclient.pc" || { echo "FAIL: PREFIX not in the .pc"; exit 1; }
cat >"$T/app.c" <<'EOC'
#include <mixclient.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
    char err[128];
    /* A known-good address (docs/spec/client.md) and a one-character typo. */
    const char *ok = "mix1aaaqeayeaudaocajbifqydiob4ibceqtcqkrmfyydenbwha5dyp2bincuoskljvhvcu2vk5mvwxk7mfrwkz3jnnww64ltov3xs635p6yp2lyk";
    char bad[200];
    strcpy(bad, ok);
    bad[40] = bad[40] == 'a' ? 'b' : 'a';
    if (mixclient_check_address(ok, err, sizeof(err)) != 0) return 1;
    if (mixclient_check_address(bad, err, sizeof(err)) != MIXCLIENT_E_ADDRESS) return 2;
    printf("libmixclient %s ok: %s\n", mixclient_version(), err);
    return 0;
}
EOC
export PKG_CONFIG_PATH="$T/inst/lib/pkgconfig"
# A sanitized build's library needs the sanitizer runtime in the program too.
SAN=""
nm "$T/inst/lib/libmixclient.a" 2>/dev/null | grep -q __asan_ && SAN="-fsanitize=address,undefined"
# shellcheck disable=SC2046
cc $SAN -o "$T/app" "$T/app.c" $(pkg-config --cflags --libs --static mixclient) \
    || { echo "FAIL: building against the installed library"; exit 1; }
"$T/app" || { echo "FAIL: the program linked with libmixclient failed"; exit 1; }
"$T/inst/bin/mixclient" --version | grep -q "^mixclient " || { echo "FAIL: installed mixclient"; exit 1; }
echo PASS
