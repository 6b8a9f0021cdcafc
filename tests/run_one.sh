#!/bin/sh
# Run one integration test for tests/run.sh: log to $LOGDIR/NAME.log and write
# "EXIT-CODE SECONDS" to $RESDIR/NAME.  Prints a line when it ends, so that a
# long parallel run shows progress.
t=$1
name=$(basename "$t")
start=$(date +%s)
# A port slot for the test's whole run: the first of MIX_PORT_SLOTS lock files
# that no other test holds, locked with flock on fd 9, which the test and the
# daemons it starts inherit.  The port pickers (tests/lib/testlib.py
# port_range, deploy/testnet) then pick from the slot's share of the range, so
# tests side by side never pick the same port.
MIX_PORT_SLOTS=${MIX_PORT_SLOTS:-16}
unset MIX_PORT_SLOT
if command -v flock >/dev/null 2>&1; then
    locks=/tmp/mixtest-port-slots.$(id -u)
    mkdir -p "$locks"
    k=0
    tries=0
    while [ $tries -lt 1500 ]; do
        exec 9>>"$locks/$k"
        if flock -n 9; then
            MIX_PORT_SLOT=$k
            break
        fi
        exec 9>&-
        k=$((k + 1))
        if [ $k -ge "$MIX_PORT_SLOTS" ]; then
            k=0
            tries=$((tries + 1))
            sleep 0.2
        fi
    done
fi
export MIX_PORT_SLOTS
[ -n "${MIX_PORT_SLOT:-}" ] && export MIX_PORT_SLOT
"$t" >"$LOGDIR/$name.log" 2>&1 </dev/null
rc=$?
exec 9>&-
secs=$(( $(date +%s) - start ))
echo "$rc $secs" >"$RESDIR/$name"
echo "  ...   $name done (${secs}s)"
