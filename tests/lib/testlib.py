"""Shared helpers for the Python integration tests (and the shell ones'
port picker: `python3 tests/lib/testlib.py ports N`).

    sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
    import testlib

pick_ports, wait_until, wait_log, stop, scan_sanitizer: the same contracts as
tests/lib/common.sh.
"""
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time

SANITIZER = re.compile(r"AddressSanitizer|LeakSanitizer|runtime error:")


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def port_range(top):
    """The ports [low, high) this test may pick from, below top.  Under
    tests/run.sh each test runs in a port slot (MIX_PORT_SLOT of
    MIX_PORT_SLOTS, held with flock for its whole run): its own share of the
    range, so that tests running side by side never pick the same port (a
    port free when one picks it could be bound by the other's daemon first)."""
    try:
        k = int(os.environ.get("MIX_PORT_SLOT", ""))
        n = int(os.environ.get("MIX_PORT_SLOTS", ""))
    except ValueError:
        return 10000, top
    if n < 1 or not 0 <= k < n:
        return 10000, top
    width = (top - 10000) // n
    return 10000 + k * width, 10000 + (k + 1) * width


def pick_ports(n):
    """n distinct loopback TCP ports, free when picked, below the kernel's
    ephemeral range (an outgoing connection could take one there first),
    in this test's port slot."""
    lo = _ephemeral_low()
    low, high = port_range(lo - 1 if lo > 12000 else 60000)
    out = []
    for _ in range(20000):
        if len(out) == n:
            return out
        p = random.randrange(low, high)
        if p in out:
            continue
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p))
            out.append(p)
        except OSError:
            pass
        finally:
            s.close()
    raise RuntimeError("no %d free ports below %d" % (n, lo))


def pick_base():
    """A base port with base..base+9 and base+100..base+109 free (daemons
    on base+i, their metrics on base+100+i), below the ephemeral range."""
    lo = _ephemeral_low()
    low, high = port_range(lo if lo > 12000 else 60000)
    for _ in range(200):
        b = random.randrange(low, high - 200)
        ok = True
        for p in list(range(b, b + 10)) + list(range(b + 100, b + 110)):
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                ok = False
            finally:
                s.close()
            if not ok:
                break
        if ok:
            return b
    raise RuntimeError("no free block of ports below %d" % lo)


def wait_until(pred, timeout, what):
    """Call pred() every 0.1 s until it returns a true value (returned);
    raise AssertionError naming `what` after timeout seconds."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= end:
            raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(0.1)


def wait_log(path, pattern, timeout):
    """Until the file at path has a line matching the regular expression."""
    rx = re.compile(pattern)

    def seen():
        try:
            with open(path, errors="replace") as f:
                return any(rx.search(line) for line in f)
        except OSError:
            return False
    return wait_until(seen, timeout, "%r in %s" % (pattern, os.path.basename(path)))


def stop(procs, grace=10.0):
    """SIGTERM every subprocess.Popen (LeakSanitizer runs at a clean exit),
    then SIGKILL those still running after grace seconds."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    end = time.monotonic() + grace
    for p in procs:
        try:
            p.wait(timeout=max(0.0, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            sys.stderr.write("note: pid %d ignored SIGTERM; killed\n" % p.pid)
            p.kill()
            p.wait()


def scan_sanitizer(paths):
    """The sanitizer report lines found in the files ([] if none)."""
    found = []
    for path in paths:
        try:
            with open(path, errors="replace") as f:
                found += ["%s: %s" % (os.path.basename(path), l.rstrip())
                          for l in f if SANITIZER.search(l)]
        except OSError:
            pass
    return found


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "ports":
        print(" ".join(str(p) for p in pick_ports(int(sys.argv[2]))))
    elif len(sys.argv) == 2 and sys.argv[1] == "base":
        print(pick_base())
    else:
        sys.exit("usage: testlib.py ports N | base")
