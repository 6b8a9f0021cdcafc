"""Process handling shared by the spec tests (not part of any spec)."""
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
