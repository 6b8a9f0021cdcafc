#!/bin/sh
# Handling received data never delays a frame (docs/threat-model.md,
# "Handling on one thread"): while client b receives and completes 1 MiB
# messages (707 fragments each: reassembly, an LMDB write of the whole message
# and a sync), its stream packets (payload, loop and drop cover, ~120 a
# second here) still leave on time.  Two figures of b's stats line:
#  - handle_max_us, the longest its loop thread spent on one received entry:
#    the most received data can delay a stream packet.  Completing a 1 MiB
#    message on the loop thread made it tens of milliseconds; with the
#    completion on the handling thread it is one fragment's handling.
#    Asserted below BOUND_US.
#  - late_max_us, the worst lateness of any of its stream timers (from when
#    it was due to when its callback ran): shown, not asserted, as on a
#    loaded machine the scheduler alone can make it milliseconds.
TESTNAME=client_late
. "$TOP/tests/integration/client_net.inc"
BOUND_US=${HANDLE_BOUND_US:-4000}

net_start 30 100 10 10 10ms
client_init a
client_init b
client_daemon a
client_daemon b

N=2
i=1
while [ $i -le $N ]; do
    head -c 1048576 /dev/urandom >"$T/big$i"
    mc a send "$ADDR_b" -f "$T/big$i" >>"$T/ids" 2>>"$T/send.err" || fail "file $i refused"
    i=$((i + 1))
done
wait_recv b $N "$T/rb" 90 || fail "the files did not arrive"
i=1
for id in $(cat "$T/ids"); do
    cmp -s "$T/big$i" "$T/rb/$id" || fail "file $i differs"
    i=$((i + 1))
done
# The next stats line of each client covers the completions.
sleep 2.5
stat() { grep "client: stats " "$T/c_$1.log" | tail -n 1 | sed -n "s/.* $2=\([0-9]*\).*/\1/p"; }
hb=$(stat b handle_max_us)
lb=$(stat b late_max_us)
la=$(stat a late_max_us)
[ -n "$hb" ] && [ -n "$lb" ] && [ -n "$la" ] || fail "no handle_max_us / late_max_us in the stats lines"
[ "$(stat b msgs_in)" -ge $N ] || fail "b's stats line does not count the $N messages"
echo "receiver b: longest handling of one entry on the loop thread ${hb} us (bound ${BOUND_US} us)," \
    "worst stream timer lateness ${lb} us; sender a: worst lateness ${la} us"
[ "$hb" -lt "$BOUND_US" ] || fail "b's loop thread spent ${hb} us on one received entry: a stream packet falling due then leaves that late"
echo "PASS"
