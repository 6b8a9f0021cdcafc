#!/usr/bin/python3
"""deploy/testnet in network-namespace mode (issue 6).  Needs root.

Every authority, node and client in its own namespace with its own address
on a bridge in a namespace of its own:
  1. `up --netns` shows a message from alice received by bob;
  2. each daemon really runs in its own namespace (ip netns identify);
  3. a message the other way, and the traffic crossed the bridge (every
     node's veth port counted packets both ways);
  4. `down` leaves no process and no namespace behind.
Exit 0 pass, 77 skip (not root, no `ip netns`, daemons not built), 1 fail.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

TOP = os.environ.get("TOP", os.getcwd())
BUILD_ABS = os.environ.get("BUILD_ABS", os.path.join(TOP, os.environ.get("BUILD", "build")))
TOOL = os.path.join(TOP, "deploy", "testnet")
NAME = "testnet_netns"
T0 = time.time()


class TestFail(Exception):
    pass


def log(msg):
    print("[%5.1fs] %s" % (time.time() - T0, msg), flush=True)


def tn(d, *args, timeout=180, check=True):
    r = subprocess.run(["/usr/bin/python3", TOOL, "--dir", d] + list(args),
                       capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise TestFail("testnet %s: exit %d\n%s%s" % (" ".join(args), r.returncode, r.stdout,
                                                      r.stderr))
    return r


def namespaces():
    r = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    return [l.split()[0] for l in r.stdout.splitlines() if l.strip()]


def can_netns():
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return False
    probe = "mtn-probe-%d" % os.getpid()
    ok = subprocess.run(["ip", "netns", "add", probe], capture_output=True).returncode == 0
    if ok:
        ok = subprocess.run(["ip", "-n", probe, "link", "add", "b0", "type", "bridge"],
                            capture_output=True).returncode == 0
        subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return ok


def pids_naming(d):
    left = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open("/proc/%s/cmdline" % p, "rb") as f:
                    if d.encode() in f.read():
                        left.append(int(p))
            except OSError:
                pass
    return left


def test(d):
    r = tn(d, "up", "--netns", "--bin", BUILD_ABS, "--epoch", "20", "--warmup", "10",
           "--width", "1", "--authorities", "3", "--gateways", "2", timeout=300)
    print(r.stdout, end="")
    if "bob received after" not in r.stdout:
        raise TestFail("up did not show the first message received")
    with open(os.path.join(d, "state.json")) as f:
        s = json.load(f)
    ents = s["authorities"] + s["nodes"] + s["clients"]
    have = set(namespaces())
    missing = [e["ns"] for e in ents if e["ns"] not in have] + \
        ([s["ns_bridge"]] if s["ns_bridge"] not in have else [])
    if missing:
        raise TestFail("namespaces missing: %s" % missing)
    log("1. up in %d namespaces + bridge %s" % (len(ents), s["ns_bridge"]))

    for e in ents:
        r = subprocess.run(["ip", "netns", "identify", str(e["pid"])], capture_output=True,
                           text=True)
        if r.stdout.strip() != e["ns"]:
            raise TestFail("%s (pid %s) runs in namespace %r, not %s" % (
                e["name"], e["pid"], r.stdout.strip(), e["ns"]))
    log("2. every daemon in its own namespace")

    r = tn(d, "send", "--from", "bob", "--to", "alice", "-m", "bob to alice across the bridge",
           "--wait", "90", "--show", "60")
    print(r.stdout, end="")
    st = json.loads(tn(d, "status", "--json").stdout)
    if not all(e["running"] for e in st["entities"]) or st["document"]["nodes"] != 5:
        raise TestFail("status: %s" % st)
    link = json.loads(subprocess.run(["ip", "-n", s["ns_bridge"], "-j", "-s", "link", "show"],
                                     capture_output=True, text=True).stdout)
    ports = {l["ifname"]: l["stats64"] for l in link if l["ifname"].startswith("v")}
    for i, e in enumerate(ents):
        st64 = ports.get("v%d" % i)
        if st64 is None or st64["rx"]["packets"] == 0 or st64["tx"]["packets"] == 0:
            raise TestFail("%s: bridge port v%d counted no traffic: %s" % (e["name"], i, st64))
    log("3. message bob -> alice received; traffic on every bridge port, e.g. gw1: %s" %
        ports["v%d" % len(s["authorities"])]["rx"])

    r = tn(d, "down")
    print(r.stdout, end="")
    left_ns = [n for n in namespaces() if n.startswith(s["ns_bridge"][:-2])]
    if left_ns or pids_naming(d):
        raise TestFail("left after down: namespaces %s, pids %s" % (left_ns, pids_naming(d)))
    log("4. down: no process, no namespace left")


def main():
    for prog in ("mixdir", "mixnode", "mixclient"):
        if not os.access(os.path.join(BUILD_ABS, prog), os.X_OK):
            print("%s not built" % prog)
            return 77
    if not can_netns():
        print("namespace mode needs root and a working `ip netns`")
        return 77
    d = tempfile.mkdtemp(prefix="tnns.", dir="/tmp")
    rc = 0
    try:
        test(d)
        print("PASS")
    except (TestFail, subprocess.TimeoutExpired, KeyError, ValueError) as e:
        print("FAIL: %s" % e)
        rc = 1
        logs = os.path.join(d, "logs")
        for f in sorted(os.listdir(logs)) if os.path.isdir(logs) else []:
            with open(os.path.join(logs, f), errors="replace") as fh:
                print("--- %s (tail)\n%s" % (f, "".join(fh.readlines()[-10:])), end="")
    finally:
        if os.path.exists(os.path.join(d, "state.json")):
            tn(d, "down", check=False, timeout=120)
        logs = os.path.join(d, "logs")
        dest = os.path.join(BUILD_ABS, "test-logs")
        if os.path.isdir(logs) and os.path.isdir(dest):
            for f in os.listdir(logs):
                shutil.copy(os.path.join(logs, f), os.path.join(dest, "%s.%s" % (NAME, f)))
        shutil.rmtree(d, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
