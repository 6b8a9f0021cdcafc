#!/bin/sh
# make check-systemd: the units under a real systemd, with their real sandboxing.
#
# A Debian image made by debootstrap (cached in $MIX_NSPAWN_CACHE, default
# /var/tmp/mixnet-nspawn; the first run downloads it, minutes) is booted with
# systemd-nspawn once per participant of a network written by deploy/netgen.py
# (1 authority, 1 gateway, 3 mixes, 2 clients; loopback ports, the containers
# share the host's network).  The project is installed by `make install
# PREFIX=/usr/local DESTDIR=...` and that tree is /usr/local in every
# container; the image is read-only (--volatile=overlay), so nothing of a run
# stays in the cache.  In each container, as deploy/README.md tells an
# operator: systemd-sysusers (the mixnet user from the installed sysusers
# file), the files of OUT/NAME, `systemctl start` of the installed unit:
#  1. mixdir.service and mixnode.service reach active (running), each main
#     process runs with seccomp, no_new_privs and no capabilities, and every
#     node is listed in a document (mixnode_listed 1 on its metrics);
#  2. `mixclient init` as the mixnet user, then mixclient.service reaches
#     active (running) for alice and bob, and a message sent by alice
#     (`mixclient send`) is received by bob (`mixclient recv`);
#  3. `systemctl reload mixdir` and `systemctl reload mixnode` are logged by
#     the daemons in the journal and leave them running.
# Exit 77 (skip, reason on the last line): not root, no systemd-nspawn or
# debootstrap, no way to the Debian archive, or nspawn cannot boot here.
set -u
TOP=${TOP:-$(pwd)}
. "$TOP/tests/lib/common.sh"
BUILD=${BUILD:-build}
BUILD_ABS=${BUILD_ABS:-$TOP/$BUILD}
CACHE=${MIX_NSPAWN_CACHE:-/var/tmp/mixnet-nspawn}
SUITE=${MIX_NSPAWN_SUITE:-bookworm}
MIRROR=${MIX_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# The runtime packages of deploy/deps.sh's -dev packages, and what the test uses inside.
PKGS="systemd,systemd-sysv,dbus,libsodium23,libev4,libprotobuf-c1,libcbor0.8,libinih1,liblmdb0,libmicrohttpd12,libseccomp2,libpcap0.8,python3,curl,procps"

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "systemd-nspawn and debootstrap need root"
for c in systemd-nspawn debootstrap nsenter curl python3; do
    command -v "$c" >/dev/null 2>&1 ||
        skip "no $c (apt-get install systemd-container debootstrap util-linux curl python3)"
done
for p in mixdir mixnode mixclient; do
    [ -x "$BUILD_ABS/$p" ] || skip "$BUILD_ABS/$p not built"
done

IMG=$CACHE/$SUITE
mkdir -p "$CACHE"
if [ "$(cat "$IMG/.mixnet-packages" 2>/dev/null)" != "$PKGS" ]; then
    rm -rf "$IMG" "$IMG.tmp"
    echo "debootstrap $SUITE into $IMG (first run only: a few minutes)"
    if ! debootstrap --variant=minbase --include="$PKGS" "$SUITE" "$IMG.tmp" "$MIRROR" \
            >"$CACHE/debootstrap.log" 2>&1; then
        rm -rf "$IMG.tmp"
        skip "debootstrap from $MIRROR failed (no network to the Debian archive?): $(tail -n 1 "$CACHE/debootstrap.log")"
    fi
    echo "$PKGS" >"$IMG.tmp/.mixnet-packages"
    mv "$IMG.tmp" "$IMG"
fi

W=$(mktemp -d "$CACHE/run.XXXXXX")
NAMES=""
cleanup() {
    rc=$?
    for n in $NAMES; do
        p=$(cat "$W/$n.pid" 2>/dev/null) && kill -TERM "$p" 2>/dev/null
    done
    for n in $NAMES; do
        p=$(cat "$W/$n.pid" 2>/dev/null) || continue
        k=0
        while kill -0 "$p" 2>/dev/null && [ $k -lt 300 ]; do sleep 0.1; k=$((k + 1)); done
        kill -KILL "$p" 2>/dev/null
    done
    wait 2>/dev/null
    [ -n "${KEEP:-}" ] && echo "kept $W" || rm -rf "$W"
    exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# run_in NAME CMD...: run CMD inside the booted container NAME.
run_in() {
    n=$1; shift
    nsenter -t "$(cat "$W/$n.leader")" -a "$@"
}
fail() {
    echo "FAIL: $*"
    for n in $NAMES; do
        [ -f "$W/$n.leader" ] || continue
        echo "--- $n"
        run_in "$n" systemctl --no-pager --failed --no-legend 2>/dev/null
        run_in "$n" journalctl --no-pager -q -n 12 -u mixdir -u mixnode -u mixclient 2>/dev/null
    done
    exit 1
}

BASE=$(pick_base)
[ -n "$BASE" ] || fail "no free ports"

make -s --no-print-directory -C "$TOP" BUILD="$BUILD" PREFIX=/usr/local DESTDIR="$W/stage" \
    install >"$W/install.log" 2>&1 || { tail -n 20 "$W/install.log"; fail "make install"; }
cat >"$W/hosts" <<EOF2
authority auth1 127.0.0.1:$((BASE + 1)) metrics=127.0.0.1:$((BASE + 101))
gateway gw1 127.0.0.1:$((BASE + 2)) metrics=127.0.0.1:$((BASE + 102))
mix m1 127.0.0.1:$((BASE + 3)) layer=1 metrics=127.0.0.1:$((BASE + 103))
mix m2 127.0.0.1:$((BASE + 4)) layer=2 metrics=127.0.0.1:$((BASE + 104))
mix m3 127.0.0.1:$((BASE + 5)) layer=3 metrics=127.0.0.1:$((BASE + 105))
client alice gateway=gw1
client bob gateway=gw1
EOF2
python3 "$TOP/deploy/netgen.py" "$W/hosts" "$W/out" --bin "$BUILD_ABS" --epoch 10s \
    --genesis $(($(date +%s) - 1)) --mean-delay 5ms >"$W/netgen.log" 2>&1 ||
    { cat "$W/netgen.log"; fail "netgen"; }

# boot NAME: a container of the image, read-only under a tmpfs overlay, with
# the installed tree as /usr/local and OUT/NAME as /mnt/host.
boot() {
    systemd-nspawn --register=no --keep-unit -q -D "$IMG" --volatile=overlay -M "mixnet-$1" \
        --bind-ro="$W/stage/usr/local:/usr/local" --bind-ro="$W/out/$1:/mnt/host" -b \
        </dev/null >"$W/$1.console" 2>&1 &
    echo $! >"$W/$1.pid"
    NAMES="$NAMES $1"
}
# ready NAME: wait until the container's systemd has booted.
ready() {
    p=$(cat "$W/$1.pid"); k=0
    until l=$(ps --ppid "$p" -o pid=,comm= | awk '$2 == "systemd" {print $1}') && [ -n "$l" ]; do
        kill -0 "$p" 2>/dev/null ||
            skip "systemd-nspawn cannot boot a container here: $(grep -v '^$' "$W/$1.console" | tail -n 1)"
        k=$((k + 1)); [ $k -le 300 ] || fail "$1: no container process"
        sleep 0.1
    done
    echo "$l" >"$W/$1.leader"
    k=0
    while s=$(timeout 120 nsenter -t "$l" -a systemctl is-system-running --wait 2>&1); \
            case $s in *"Failed to connect"*|offline) true ;; *) false ;; esac; do
        k=$((k + 1)); [ $k -le 300 ] || break
        sleep 0.1
    done
    case $s in
        running|degraded) ;;
        *) kill -0 "$p" 2>/dev/null || skip "systemd-nspawn cannot boot a container here: $(tail -n 1 "$W/$1.console")"
           fail "$1: systemd is $s" ;;
    esac
}
# setup NAME DATA: the mixnet user and the host's files, as OUT/NAME/INSTALL does.
setup() {
    run_in "$1" sh -c "set -e; systemd-sysusers; cd /mnt/host; cp -r etc /;
                   if [ -d var ]; then cp -r var /; fi; mkdir -p $2; chown -R mixnet:mixnet $2" ||
        fail "$1: setup"
    run_in "$1" getent passwd mixnet >/dev/null || fail "$1: systemd-sysusers made no mixnet user"
}
# running NAME UNIT: the unit is active (running) and sandboxed.
running() {
    k=0
    until [ "$(run_in "$1" systemctl show -P SubState "$2")" = running ]; do
        k=$((k + 1)); [ $k -le 100 ] || fail "$1: $2 is $(run_in "$1" systemctl is-active "$2")"
        sleep 0.1
    done
    sleep 1
    [ "$(run_in "$1" systemctl is-active "$2")" = active ] || fail "$1: $2 did not stay active"
    m=$(run_in "$1" systemctl show -P MainPID "$2")
    st=$(run_in "$1" cat "/proc/$m/status") || fail "$1: $2: no main process"
    echo "$st" | grep -q '^Seccomp:[[:space:]]*2' || fail "$1: $2 runs without its seccomp filter"
    echo "$st" | grep -q '^NoNewPrivs:[[:space:]]*1' || fail "$1: $2 without NoNewPrivileges"
    echo "$st" | grep -q '^CapEff:[[:space:]]*0*$' || fail "$1: $2 has capabilities"
    [ "$(run_in "$1" stat -c %U "/proc/$m")" = mixnet ] || fail "$1: $2 does not run as mixnet"
}
metric() { # metric PORT NAME
    curl -s --max-time 3 "http://127.0.0.1:$1/metrics" 2>/dev/null | awk -v n="$2" '$1 == n {print $2}'
}

for n in auth1 gw1 m1 m2 m3 alice bob; do boot "$n"; done
for n in auth1 gw1 m1 m2 m3 alice bob; do ready "$n"; done
echo "0. 7 containers booted ($(run_in auth1 systemctl --version | head -n 1))"

setup auth1 /var/lib/mixdir
run_in auth1 mixdir -n -c /etc/mixnet/dir.ini >/dev/null || fail "auth1: mixdir -n"
run_in auth1 systemctl start mixdir || fail "systemctl start mixdir"
running auth1 mixdir
for n in gw1 m1 m2 m3; do
    setup "$n" /var/lib/mixnode
    run_in "$n" systemctl start mixnode || fail "$n: systemctl start mixnode"
done
for n in gw1 m1 m2 m3; do running "$n" mixnode; done
i=2
for n in gw1 m1 m2 m3; do
    k=0
    until [ "$(metric $((BASE + 100 + i)) mixnode_listed)" = 1 ]; do
        k=$((k + 1)); [ $k -le 600 ] || fail "$n is not listed"
        sleep 0.2
    done
    i=$((i + 1))
done
echo "1. mixdir.service and 4 mixnode.service active (running), sandboxed; every node listed"

MC="runuser -u mixnet -- mixclient -c /etc/mixnet/client.ini"
for n in alice bob; do
    setup "$n" /var/lib/mixclient
    run_in "$n" $MC init --timeout 60 >"$W/$n.init" 2>&1 || { cat "$W/$n.init"; fail "$n: mixclient init"; }
    run_in "$n" systemctl start mixclient || fail "$n: systemctl start mixclient"
done
for n in alice bob; do running "$n" mixclient; done
ADDR=$(run_in bob $MC address) || fail "bob: mixclient address"
MSG="through seven systemd containers $$"
k=0
until out=$(run_in alice $MC send "$ADDR" -m "$MSG" 2>&1); do
    k=$((k + 1)); [ $k -le 50 ] || fail "alice: mixclient send: $out"
    sleep 0.2
done
k=0
: >"$W/bob.recv"
until grep -q "$MSG" "$W/bob.recv"; do
    k=$((k + 1)); [ $k -le 120 ] || fail "bob did not receive the message: $(run_in alice $MC status 2>&1 | tail -n 3)"
    run_in bob $MC recv >>"$W/bob.recv" 2>&1
    sleep 0.5
done
echo "2. mixclient.service active (running) for alice and bob; alice -> bob: \"$MSG\" received"

run_in auth1 systemctl reload mixdir || fail "systemctl reload mixdir"
k=0
until run_in auth1 journalctl -q --no-pager -u mixdir | grep -q "SIGHUP: .* reloaded"; do
    k=$((k + 1)); [ $k -le 100 ] || fail "mixdir logged no reload"
    sleep 0.1
done
run_in gw1 systemctl reload mixnode || fail "systemctl reload mixnode"
k=0
until run_in gw1 journalctl -q --no-pager -u mixnode | grep -q "SIGHUP: .* reloaded"; do
    k=$((k + 1)); [ $k -le 100 ] || fail "mixnode logged no reload"
    sleep 0.1
done
running auth1 mixdir
running gw1 mixnode
echo "3. systemctl reload: $(run_in auth1 journalctl -q --no-pager -o cat -u mixdir | grep -o 'SIGHUP: .*' | tail -n 1)"
echo "   $(run_in gw1 journalctl -q --no-pager -o cat -u mixnode | grep -o 'SIGHUP: .*' | tail -n 1)"
echo PASS
