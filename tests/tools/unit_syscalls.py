#!/usr/bin/python3
"""Print the system calls a systemd unit's SystemCallFilter= lines allow.

    unit_syscalls.py UNIT_FILE

Follows systemd.exec(5): the first SystemCallFilter= line decides the mode
(an allow list here; a unit starting with ~ is refused), later lines add
names, and lines starting with ~ remove them; @default is always allowed in
allow-list mode.  Groups (@name) are expanded with `systemd-analyze
syscall-filter`.  Prints "errno N" first when SystemCallErrorNumber= is set.
Used by tests/integration/systemd_seccomp.sh with tests/tools/seccomp_run.
"""
import errno
import subprocess
import sys


def groups():
    out = subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True,
                         text=True, check=True).stdout
    g, cur = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            cur = line.strip()
            g[cur] = []
        elif cur and line.startswith("    ") and not line.strip().startswith("#"):
            g[cur].append(line.strip())
        elif not line.strip():
            cur = None
    return g


def expand(name, g, seen=None):
    if not name.startswith("@"):
        return {name}
    if name not in g:
        sys.exit("unknown group %s" % name)
    out = set()
    for n in g[name]:
        out |= expand(n, g)
    return out


def main():
    g = groups()
    allowed, mode, err = None, None, None
    for line in open(sys.argv[1]):
        line = line.strip()
        if line.startswith("SystemCallErrorNumber="):
            err = line.split("=", 1)[1].strip()
        if not line.startswith("SystemCallFilter="):
            continue
        v = line.split("=", 1)[1].strip()
        deny = v.startswith("~")
        names = set()
        for n in v.lstrip("~").split():
            names |= expand(n, g)
        if allowed is None:
            if deny:
                sys.exit("a deny-list first is not handled")
            allowed = names | expand("@default", g)
        elif deny:
            allowed -= names
        else:
            allowed |= names
    if allowed is None:
        sys.exit("no SystemCallFilter=")
    if err:
        print("errno %d" % (int(err) if err.isdigit() else getattr(errno, err)))
    print("\n".join(sorted(allowed)))


main()
