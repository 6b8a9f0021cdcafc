#!/bin/sh
# The systemd units in deploy/systemd/ must pass `systemd-analyze verify`,
# pointing at the programs of this build, and keep their hardening settings.
set -eu
command -v systemd-analyze >/dev/null || { echo "systemd-analyze not installed"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for u in mixnode mixdir mixclient; do
    [ -x "$BUILD_ABS/$u" ] || { echo "missing $BUILD_ABS/$u"; exit 1; }
    sed "s#/usr/local/bin/#$BUILD_ABS/#g" "deploy/systemd/$u.service" > "$tmp/$u.service"
    for want in NoNewPrivileges=yes ProtectSystem=strict CapabilityBoundingSet= \
                "StateDirectory=$u" User=mixnet; do
        grep -qx "$want" "$tmp/$u.service" || { echo "$u.service lacks $want"; exit 1; }
    done
    # A filtered call fails with EPERM instead of killing the daemon (issue 15).
    grep -qx "SystemCallErrorNumber=EPERM" "$tmp/$u.service" ||
        { echo "$u.service lacks SystemCallErrorNumber=EPERM"; exit 1; }
done
out=$(cd "$tmp" && systemd-analyze verify --man=no ./mixnode.service ./mixdir.service \
      ./mixclient.service 2>&1) || { echo "$out"; exit 1; }
# SIGHUP reloads mixdir and mixnode: `systemctl reload` must send it.
for u in mixnode mixdir; do
    grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "$tmp/$u.service" ||
        { echo "$u.service lacks ExecReload"; exit 1; }
done
# verify prints warnings without failing; treat any as a failure.
[ -z "$out" ] || { echo "$out"; exit 1; }
echo "units verified"
