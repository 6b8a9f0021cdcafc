#!/bin/sh
# The Python binding (python/mixclient) on a loopback network of real
# processes: its own unit tests (codec, agreement with lib/frame.c), its live
# tests against two daemons (status, send, receive by iterator and by
# callback, reply, errors), the example chat (examples/chat.py) between the
# two addresses, and a listener that reports the daemon going away.
TESTNAME=client_python
. "$TOP/tests/integration/client_net.inc"
command -v python3 >/dev/null || { echo "python3 missing"; exit 77; }
PY="timeout 240 python3"

(cd "$TOP/python" && $PY -m unittest tests.test_wire) >"$T/unit.log" 2>&1 \
    || { cat "$T/unit.log"; fail "python unit tests"; }
echo "python unit tests: $(tail -n 1 "$T/unit.log")"

net_start 30 50 5 5 20ms
client_init a
client_init b
client_daemon a
client_daemon b

export MIXCLIENT_TEST_A="$T/c_a.ini" MIXCLIENT_TEST_B="$T/c_b.ini"
export MIXCLIENT_TEST_ADDR_A="$ADDR_a" MIXCLIENT_TEST_ADDR_B="$ADDR_b"
(cd "$TOP/python" && $PY -m unittest -v tests.test_live) >"$T/live.log" 2>&1 \
    || { cat "$T/live.log"; fail "python live tests"; }
grep -q "skipped" "$T/live.log" && { cat "$T/live.log"; fail "live tests skipped"; }
echo "python live tests: $(tail -n 1 "$T/live.log")"

# The example chat: two processes, one line each way.
mkfifo "$T/in_a" "$T/in_b"
$PY "$TOP/examples/chat.py" -c "$T/c_a.ini" --to "$ADDR_b" <"$T/in_a" >"$T/chat_a.out" 2>&1 &
CA=$!
$PY "$TOP/examples/chat.py" -c "$T/c_b.ini" --to "$ADDR_a" <"$T/in_b" >"$T/chat_b.out" 2>&1 &
CB=$!
PIDS="$PIDS $CA $CB"
exec 3>"$T/in_a" 4>"$T/in_b"
echo "hello bob, this is alice" >&3
end=$(($(date +%s) + 60))
until grep -q "< hello bob, this is alice" "$T/chat_b.out"; do
    [ "$(date +%s)" -ge "$end" ] && fail "bob's chat did not show alice's line: $(cat "$T/chat_b.out")"
    sleep 0.3
done
echo "hi alice" >&4
until grep -q "< hi alice" "$T/chat_a.out"; do
    [ "$(date +%s)" -ge "$end" ] && fail "alice's chat did not show bob's line: $(cat "$T/chat_a.out")"
    sleep 0.3
done
exec 3>&- 4>&-
wait "$CA" || fail "alice's chat failed: $(cat "$T/chat_a.out")"
wait "$CB" || fail "bob's chat failed: $(cat "$T/chat_b.out")"
grep -q "bye (1 sent)" "$T/chat_a.out" || fail "alice's chat did not end cleanly: $(cat "$T/chat_a.out")"
echo "chat: $(grep '<' "$T/chat_a.out") / $(grep '<' "$T/chat_b.out")"

# A listener hears of the daemon going away.
cat >"$T/gone.py" <<'EOP'
import os, sys, threading
sys.path.insert(0, os.path.join(os.environ["TOP"], "python"))
import mixclient
done = threading.Event()
errs = []
l = mixclient.Client(config=os.environ["MIXCLIENT_TEST_A"]).on_message(lambda m: None, lambda e: (errs.append(e), done.set()))
print("listening", flush=True)
done.wait(60)
if not errs or not isinstance(errs[0], mixclient.MixclientError):
    sys.exit("no error reported: %r" % errs)
print("error:", errs[0].reason)
EOP
$PY "$T/gone.py" >"$T/gone.out" 2>&1 &
GP=$!
end=$(($(date +%s) + 20))
until grep -q listening "$T/gone.out"; do
    [ "$(date +%s)" -ge "$end" ] && fail "listener did not start: $(cat "$T/gone.out")"
    sleep 0.2
done
kill -TERM "$CPID_a"
wait "$GP" || fail "the listener did not report the daemon going away: $(cat "$T/gone.out")"
grep -q "error: the daemon closed the connection" "$T/gone.out" || fail "listener error: $(cat "$T/gone.out")"
echo PASS
