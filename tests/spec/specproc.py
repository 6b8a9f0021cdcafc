"""Process handling shared by the spec tests (not part of any spec)."""
import contextlib
import os
import re
import signal
import subprocess


def stop_daemons(procs, logdir):
    """SIGTERM every daemon; -> a list of problems (exit status, sanitizer report)."""
    bad = []
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for i, p in enumerate(procs):
        try:
            rc = p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = p.wait()
        if rc != 0:
            bad.append("daemon %d exit status %d after SIGTERM" % (i, rc))
    for name in sorted(os.listdir(logdir)):
        if name.endswith(".log"):
            text = open(os.path.join(logdir, name), errors="replace").read()
            if re.search(r"AddressSanitizer|LeakSanitizer|runtime error:", text):
                bad.append("sanitizer report in %s" % name)
    return bad


@contextlib.contextmanager
def running(net):
    """Run a test body over `net` (an object with stop() and logs()): on any
    failure show the daemons' logs and stop them; on success stop them and
    fail if one exited badly or printed a sanitizer report."""
    try:
        yield net
    except BaseException:
        net.logs()
        net.stop()
        raise
    problems = net.stop()
    if problems:
        net.logs()
        raise AssertionError("; ".join(problems))
