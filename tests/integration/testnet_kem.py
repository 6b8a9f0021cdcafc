#!/usr/bin/python3
"""deploy/testnet on the KEM Sphinx format (issue 19), loopback mode.

A short network (3 authorities, 2 gateways, 3 layers x 1 mix, 2 clients,
15 s epochs) brought up with `up --sphinx-format kem-x25519`:
  1. `up` shows alice's first message received by bob;
  1b. the authorities' signed document says sphinx_format kem-x25519
      (`mixdir fetch -v`, which verifies it);
  2. messages both ways, acknowledged and received;
  3. a reply through a SURB;
  3b. every mix forwarded packets (so they unwrapped KEM packets);
  7. `down` leaves no process behind.
Exit 0 pass, 77 skip (daemons not built), 1 fail.
"""
import importlib.util
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("testnet_e2e", os.path.join(HERE, "testnet_e2e.py"))
e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(e2e)
TestFail, log = e2e.TestFail, e2e.log


def check_format(net):
    s = net.state()
    auth = s["authorities"][0]
    r = subprocess.run([os.path.join(e2e.BUILD_ABS, "mixdir"), "fetch", "-c", auth["conf"],
                        "-v"], capture_output=True, text=True, timeout=30)
    lines = [l for l in r.stdout.splitlines() if l.startswith("geometry ")]
    if r.returncode != 0 or not lines or not lines[0].endswith("sphinx_format kem-x25519"):
        raise TestFail("document format: exit %d\n%s%s" % (r.returncode, r.stdout, r.stderr))
    log("1b. %s" % lines[0])


def check_mixes_forwarded(net):
    def forwarded():
        st = json.loads(net.tn("status", "--json").stdout)
        mixes = [e for e in st["entities"] if e["name"].startswith("mix") and "packets_out" in e]
        return mixes if mixes and all(e["packets_out"] > 0 for e in mixes) else None
    mixes = net.wait("every mix forwarded packets", forwarded, 30)
    log("3b. mixes forwarded: %s" % {e["name"]: e["packets_out"] for e in mixes})


def test(net):
    e2e.bring_up(net, "--width", "1", "--sphinx-format", "kem-x25519")
    check_format(net)
    e2e.both_ways(net)
    e2e.surb_reply(net)
    check_mixes_forwarded(net)
    e2e.bring_down(net)


if __name__ == "__main__":
    sys.exit(e2e.main("testnet_kem", test))
