#!/bin/sh
# e2e_latency_p50_ms / e2e_latency_p99_ms: message latency from `mixclient
# send` returning to the message appearing at the recipient's `recv --follow`,
# over a loopback network of real processes (mixdir, a gateway+provider, one
# mix per layer) with mu set for a 50 ms mean delay per hop (5 hops), the
# payload stream at 50/s and a 100 ms fetch interval.  60 one-packet messages.
TOP=${TOP:-$(pwd)}
BUILD_ABS=${BUILD_ABS:?}
TESTNAME=bench_e2e
. "$TOP/tests/integration/client_net.inc" >/dev/null
fail() { echo "bench e2e: $*" >&2; exit 1; }
net_start 60 50 2 2 50ms
client_init a 60
client_init b 60
sed -i 's/^fetch_interval = .*/fetch_interval = 100ms/' "$T/c_a.ini" "$T/c_b.ini"
client_daemon a
client_daemon b
# Stamp each arrival as it is printed.
( mc b recv --follow | while read -r w id rest; do
      [ "$w" = message ] && echo "$id $(date +%s%N)"
  done >"$T/arrivals" ) &
PIDS="$PIDS $!"
sleep 1
i=0
while [ $i -lt 60 ]; do
    id=$(mc a send "$ADDR_b" -m "latency probe $i") || fail "send"
    echo "$id $(date +%s%N)" >>"$T/sends"
    sleep 0.15
    i=$((i + 1))
done
end=$(($(date +%s) + 20))
while [ "$(wc -l <"$T/arrivals")" -lt 60 ] && [ "$(date +%s)" -lt "$end" ]; do sleep 0.5; done
/usr/bin/python3 - "$T/sends" "$T/arrivals" <<'PY'
import sys
s = dict(l.split() for l in open(sys.argv[1]))
a = dict(l.split() for l in open(sys.argv[2]))
lat = sorted((int(a[i]) - int(t)) / 1e6 for i, t in s.items() if i in a)
if len(lat) < len(s) * 0.9:
    sys.exit("bench e2e: only %d of %d arrived" % (len(lat), len(s)))
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
print("e2e_latency_p50_ms %.0f ms" % q(0.50))
print("e2e_latency_p99_ms %.0f ms" % q(0.99))
PY
