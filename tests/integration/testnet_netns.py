#!/usr/bin/python3
"""deploy/testnet in network-namespace mode (issue 6).  Needs root.

Every authority, node and client in its own namespace with its own address
on a bridge in a namespace of its own (3 layers x 1 mix, 2 gateways, 3
authorities, 15 s epochs):
  1. `up --netns` shows a message from alice received by bob;
  1b. each daemon really runs in its own namespace (ip netns identify);
  2-6. the scenario of testnet_e2e.py: both ways, a SURB reply, kill -9 of a
     mix and a gateway mid-traffic, two epoch changes, nothing lost;
  6b. the traffic crossed the bridge: every participant's bridge port counted
     packets both ways;
  7. `down` leaves no process and no namespace behind.
Exit 0 pass, 77 skip (not root, no `ip netns`, daemons not built), 1 fail.
"""
import importlib.util
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("testnet_e2e", os.path.join(HERE, "testnet_e2e.py"))
e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(e2e)
TestFail, log = e2e.TestFail, e2e.log


def namespaces():
    r = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    return [l.split()[0] for l in r.stdout.splitlines() if l.strip()]


def why_skip():
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return "namespace mode needs root and iproute2"
    probe = "mtn-probe-%d" % os.getpid()
    ok = subprocess.run(["ip", "netns", "add", probe], capture_output=True).returncode == 0
    if ok:
        ok = subprocess.run(["ip", "-n", probe, "link", "add", "b0", "type", "bridge"],
                            capture_output=True).returncode == 0
        subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None if ok else "`ip netns` does not work here"


def check_namespaces(net):
    s = net.state()
    ents = s["authorities"] + s["nodes"] + s["clients"]
    have = set(namespaces())
    missing = [e["ns"] for e in ents if e["ns"] not in have]
    if s["ns_bridge"] not in have:
        missing.append(s["ns_bridge"])
    if missing:
        raise TestFail("namespaces missing: %s" % missing)
    for e in ents:
        r = subprocess.run(["ip", "netns", "identify", str(e["pid"])], capture_output=True,
                           text=True)
        if r.stdout.strip() != e["ns"]:
            raise TestFail("%s (pid %s) runs in namespace %r, not %s" % (
                e["name"], e["pid"], r.stdout.strip(), e["ns"]))
    log("1b. every one of %d daemons in its own namespace, bridge in %s" % (
        len(ents), s["ns_bridge"]))


def check_bridge(net):
    s = net.state()
    ents = s["authorities"] + s["nodes"] + s["clients"]
    out = subprocess.run(["ip", "-n", s["ns_bridge"], "-j", "-s", "link", "show"],
                         capture_output=True, text=True).stdout
    ports = {l["ifname"]: l["stats64"] for l in json.loads(out) if l["ifname"].startswith("v")}
    for i, e in enumerate(ents):
        st = ports.get("v%d" % i)
        if st is None or st["rx"]["packets"] == 0 or st["tx"]["packets"] == 0:
            raise TestFail("%s: bridge port v%d counted no traffic: %s" % (e["name"], i, st))
    gw1 = ports["v%d" % len(s["authorities"])]
    log("6b. traffic on every bridge port; gw1's port: %d packets in, %d out" % (
        gw1["rx"]["packets"], gw1["tx"]["packets"]))


def body(net):
    e2e.bring_up(net, "--netns", "--width", "1")
    check_namespaces(net)
    e2e.scenario(net)
    check_bridge(net)
    prefix = net.state()["ns_bridge"][:-2]
    e2e.bring_down(net)
    left = [n for n in namespaces() if n.startswith(prefix)]
    if left:
        raise TestFail("namespaces left after down: %s" % left)
    log("7b. no namespace left")


if __name__ == "__main__":
    sys.exit(e2e.main("testnet_netns", body, why_skip))
