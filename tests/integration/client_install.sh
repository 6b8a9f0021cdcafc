#!/bin/sh
# `make install` (PREFIX honoured) installs libmixclient (the shared library
# with its soname, and the static archives) with mixclient.pc.
#  - A program built with `pkg-config --cflags --libs mixclient` links
#    dynamically against libmixclient.so.0, never calls sodium_init() itself,
#    and works: init creates a key (and names the unreachable directory),
#    mixclient_new starts, the default is silent (nothing on stderr), errors
#    carry a code and a message (the size limit is named), and a log callback
#    given in the options receives the library's lines.
#  - The same program linked statically (`pkg-config --static`) works too.
#  - The installed mixclient runs.
set -u
BUILD=${BUILD:-build}
T=$(mktemp -d /tmp/client_install.XXXXXX)
trap 'rm -rf "$T"' EXIT
command -v pkg-config >/dev/null || { echo "pkg-config missing"; exit 77; }
make -s --no-print-directory BUILD="$BUILD" PREFIX="$T/inst" install-client >"$T/make.log" 2>&1 \
    || { cat "$T/make.log"; echo "FAIL: make install-client"; exit 1; }
for f in bin/mixclient lib/libmixclient.a lib/libmixclient.so.0 lib/pkgconfig/mixclient.pc \
         include/mixclient/mixclient.h share/man/man1/mixclient.1; do
    [ -f "$T/inst/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done
[ -L "$T/inst/lib/libmixclient.so" ] || { echo "FAIL: no libmixclient.so link"; exit 1; }
readelf -d "$T/inst/lib/libmixclient.so.0" | grep -q 'SONAME.*\[libmixclient\.so\.0\]' \
    || { echo "FAIL: soname"; exit 1; }
# Only the API is exported (libmix's symbols could clash with an application's).
if nm -D --defined-only "$T/inst/lib/libmixclient.so.0" | awk '$2 == "T" {print $3}' | grep -v '^mixclient_'; then
    echo "FAIL: libmixclient.so exports more than mixclient_*"; exit 1
fi
grep -q "^prefix=$T/inst\$" "$T/inst/lib/pkgconfig/mixclient.pc" || { echo "FAIL: PREFIX not in the .pc"; exit 1; }

cat >"$T/app.c" <<'EOC'
#include <ev.h>
#include <mixclient.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int lines, fail;

static void on_log(void *ctx, enum mixclient_log_level level, const char *line)
{
    (void)ctx;
    lines++;
    if (level < MIXCLIENT_LOG_ERROR || level > MIXCLIENT_LOG_WARN)
        fail = 1;
    printf("log %d: %s\n", (int)level, line);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)w;
    (void)revents;
    ev_break(loop, EVBREAK_ALL);
}

static void run(struct ev_loop *loop, double s)
{
    ev_timer t;
    ev_timer_init(&t, on_timer, s, 0.);
    ev_timer_start(loop, &t);
    ev_run(loop, 0);
    ev_timer_stop(loop, &t);
}

int main(int argc, char **argv)
{
    char err[256], addr[MIXCLIENT_ADDRESS_SIZE];
    uint8_t id[MIXCLIENT_ID_LEN];
    struct ev_loop *loop = ev_default_loop(0);
    if (argc != 2)
        return 9;
    /* Known-good address (docs/spec/client.md) and a one-character typo. */
    const char *ok = "mix1aaaqeayeaudaocajbifqydiob4ibceqtcqkrmfyydenbwha5dyp2bincuoskljvhvcu2vk5mvwxk7mfrwkz3jnnww64ltov3xs635p6yp2lyk";
    char bad[200];
    strcpy(bad, ok);
    bad[40] = bad[40] == 'a' ? 'b' : 'a';
    if (mixclient_check_address(ok, err, sizeof(err)) != 0) return 1;
    if (mixclient_check_address(bad, err, sizeof(err)) != MIXCLIENT_E_ADDRESS) return 2;
    /* The key is made first; the directory (authority down) then fails, and says so. */
    int rc = mixclient_init(argv[1], 1, addr, err, sizeof(err));
    printf("init: %d %s\n", rc, err);
    if (rc != MIXCLIENT_E_NETWORK || strstr(err, "directory") == NULL) return 3;
    /* Defaults: no log callback, nothing written anywhere. */
    struct mixclient *mc = mixclient_new(argv[1], loop, err, sizeof(err));
    if (mc == NULL) { printf("new: %s\n", err); return 4; }
    run(loop, 1.5);
    mixclient_address(mc, addr);
    if (strncmp(addr, "mix1", 4) != 0) return 5;
    rc = mixclient_send(mc, addr, "hi", 2, 0, id);
    printf("send: %d %s: %s\n", rc, mixclient_strerror(rc), mixclient_errmsg(mc));
    if (rc != MIXCLIENT_E_NO_DIRECTORY || mixclient_errmsg(mc)[0] == 0) return 6;
    size_t max = mixclient_max_message();
    char *big = calloc(1, max + 1), want[64];
    rc = mixclient_send(mc, addr, big, max + 1, 0, id);
    free(big);
    snprintf(want, sizeof(want), "limit is %zu bytes", max);
    printf("big: %d %s\n", rc, mixclient_errmsg(mc));
    if (rc != MIXCLIENT_E_TOO_BIG || strstr(mixclient_errmsg(mc), want) == NULL) return 7;
    mixclient_free(mc);
    /* A log callback in the options gets the library's lines (the refused authority). */
    struct mixclient_options o = {on_log, NULL, MIXCLIENT_LOG_WARN};
    mc = mixclient_new_opts(argv[1], loop, &o, err, sizeof(err));
    if (mc == NULL) { printf("new_opts: %s\n", err); return 8; }
    run(loop, 1.5);
    mixclient_free(mc);
    if (lines == 0 || fail) { printf("log lines: %d, bad level: %d\n", lines, fail); return 10; }
    printf("libmixclient %s ok\n", mixclient_version());
    return 0;
}
EOC
grep -q sodium_init "$T/app.c" && { echo "FAIL: the test program must not call sodium_init"; exit 1; }
# 127.0.0.1:9 (discard) refuses: the authority is down; its keys are random.
b64() { head -c 32 /dev/urandom | base64 | tr "+/" "-_" | tr -d "=\n"; }
k1=$(b64); k2=$(b64)
g=$(b64)
cat >"$T/c.ini" <<EOC
[client]
data_dir = $T/data
gateway = $g
connect_timeout = 1s
[directory]
authority = 127.0.0.1:9 $k1 $k2
threshold = 1
poll_interval = 1s
EOC

export PKG_CONFIG_PATH="$T/inst/lib/pkgconfig"
# A sanitized build's library needs the sanitizer runtime in the program too.
SAN=""
nm "$T/inst/lib/libmixclient.a" 2>/dev/null | grep -q __asan_ && SAN="-fsanitize=address,undefined"
# shellcheck disable=SC2046
cc $SAN -o "$T/app" "$T/app.c" $(pkg-config --cflags --libs mixclient) -lev \
    -Wl,-rpath,"$T/inst/lib" || { echo "FAIL: building against the installed library"; exit 1; }
readelf -d "$T/app" | grep -q 'NEEDED.*\[libmixclient\.so\.0\]' || { echo "FAIL: not linked dynamically"; exit 1; }
"$T/app" "$T/c.ini" >"$T/out" 2>"$T/err"; rc=$?
cat "$T/out"
[ "$rc" -eq 0 ] || { cat "$T/err"; echo "FAIL: the dynamically linked program failed ($rc)"; exit 1; }
[ -s "$T/err" ] && { cat "$T/err"; echo "FAIL: the library wrote to stderr"; exit 1; }
[ -f "$T/data/client.key" ] || { echo "FAIL: init made no key"; exit 1; }

# The static archives work as well.
rm -rf "$T/data"
# shellcheck disable=SC2046
cc $SAN -o "$T/app_static" "$T/app.c" $(pkg-config --cflags mixclient) "$T/inst/lib/libmixclient.a" \
    $(pkg-config --static --libs mixclient | sed 's/-lmixclient//') -lev \
    || { echo "FAIL: static link"; exit 1; }
readelf -d "$T/app_static" | grep -q 'libmixclient' && { echo "FAIL: static app needs the .so"; exit 1; }
"$T/app_static" "$T/c.ini" >"$T/out" 2>"$T/err" || { cat "$T/out" "$T/err"; echo "FAIL: static program"; exit 1; }

"$T/inst/bin/mixclient" --version | grep -q "^mixclient " || { echo "FAIL: installed mixclient"; exit 1; }
echo PASS
