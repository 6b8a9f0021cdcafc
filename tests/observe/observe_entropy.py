#!/usr/bin/python3
"""Anonymity measured live against mixsim's prediction (issue 13).

Two namespace-mode testnets, each captured for OBSERVE_SECONDS (default 60)
on its bridge and analysed with mixscope: the default mean delay (50 ms) and a
deliberately weak one (2 ms).  Four clients, lambda_P 10/s (default 2/s) so
the mixes see enough traffic for mixing to matter.  For each, mixsim runs the
same topology and mean delay at the load mixscope measured (the mean input
rate of the layer-1 mixes, as clients x rate_real with no link delay), and

  E1  |live entropy - mixsim entropy| <= 0.3 bits + 3 standard errors
      (the combined standard error of both means), for both configurations;
  E2  the weak configuration loses at least 1 bit against the default one,
      live, as mixsim predicts (mixsim's drop is printed beside it).

Exit 0 if both hold, 1 otherwise ("FAIL En ..." lines), 77 to skip (not root,
no tcpdump).  Environment: BUILD, OBSERVE_SECONDS.
"""

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import observe_testnet as ot  # noqa: E402  (shared helpers: load_testnet, BUILD, skip)

SECONDS = int(os.environ.get("OBSERVE_SECONDS", "60"))


def live(tn, mean_delay):
    """(entropy mean, se, n, layer-1 input rate per mix) of a fresh testnet."""
    d = tempfile.mkdtemp(prefix="mixent-")
    net = tn.Net(d)
    args = tn.parser().parse_args(["--dir", d, "up", "--netns", "--clients", "4", "--no-demo",
                                   "--lambda-p", "10.0", "--mean-delay", mean_delay,
                                   "--bin", ot.BUILD])
    try:
        tn.up(net, args)
        time.sleep(5)
        cap = tn.Capture(net, os.path.join(d, "measure"))
        time.sleep(SECONDS)
        cap.stop()
        doc = os.path.join(d, "measure", "document.cbor")
        tn.save_document(net, doc)
        r = subprocess.run(tn.mixscope_argv(net, cap, doc, ["--json"]), capture_output=True,
                           text=True, timeout=300)
        if r.returncode != 0:
            raise tn.Fail("mixscope: " + r.stderr.strip())
        rep = json.loads(r.stdout)
    finally:
        if net.s is not None and "authorities" in net.s:
            tn.down(net)
        shutil.rmtree(d, ignore_errors=True)
    e = rep["entropy"][0]
    l1 = [m["in_rate_per_s"] for m in rep["mixes"] if m["layer"] == 1]
    return e["h_mean_bits"], e["h_se_bits"], e["h_n"], sum(l1) / max(1, len(l1)), len(l1)


def simulated(mean_delay_s, rate_per_mix, width):
    clients = 4
    rate = rate_per_mix * width / clients
    argv = [os.path.join(ot.BUILD, "mixsim"), "--layers", "3", "--width", str(width),
            "--link_delay", "0.0001", "--mean_delay", str(mean_delay_s), "--max_delay", "2",
            "--clients", str(clients), "--rate_real", "%.3f" % rate, "--rate_payload", "0",
            "--rate_loop", "0", "--rate_drop", "0", "--rate_mix_loop", "0",
            "--duration", "60", "--seed", "1", "--json"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError("mixsim: " + r.stderr.strip())
    return r.stdout, argv


def sim_entropy(out):
    """Mean and standard error of mixsim's message entropy (results.h_msg_mean/_se)."""
    r = json.loads(out).get("results", {})
    if "h_msg_mean" not in r:
        raise RuntimeError("no h_msg_mean in mixsim's JSON: %s" % out[:300])
    return r["h_msg_mean"], r.get("h_msg_se", 0.0)


def main():
    if os.geteuid() != 0:
        ot.skip("needs root (network namespaces and a capture on the bridge)")
    if shutil.which("tcpdump") is None:
        ot.skip("tcpdump is not installed (make deps)")
    for prog in ("mixscope", "mixsim", "mixnode", "mixdir", "mixclient"):
        if not os.access(os.path.join(ot.BUILD, prog), os.X_OK):
            ot.skip("%s/%s is missing (make)" % (ot.BUILD, prog))
    tn = ot.load_testnet()
    res, failed = {}, []
    for name, md, md_s in (("default", "50ms", 0.05), ("weak", "2ms", 0.002)):
        h, se, n, rate, width = live(tn, md)
        out, argv = simulated(md_s, rate, width)
        hs, ses = sim_entropy(out)
        res[name] = (h, hs)
        tol = 0.3 + 3 * math.sqrt(se * se + ses * ses)
        ok = abs(h - hs) <= tol
        print("%s E1 %s (mean delay %s, %.1f msg/s into each layer-1 mix): live %.2f bits "
              "(se %.2f, %d targets), mixsim %.2f (se %.2f), |diff| %.2f, allowed %.2f" % (
                  "ok  " if ok else "FAIL", name, md, rate, h, se, n, hs, ses, abs(h - hs), tol),
              flush=True)
        print("     mixsim: " + " ".join(argv), flush=True)
        if not ok:
            failed.append("E1")
    drop, sdrop = res["default"][0] - res["weak"][0], res["default"][1] - res["weak"][1]
    ok = drop >= 1.0
    print("%s E2 the weak configuration loses %.2f bits live (mixsim: %.2f)" % (
        "ok  " if ok else "FAIL", drop, sdrop))
    if not ok:
        failed.append("E2")
    if failed:
        print("FAIL: %s" % ", ".join(sorted(set(failed))))
        return 1
    print("PASS: live entropy matches mixsim and drops with the weak configuration")
    return 0


if __name__ == "__main__":
    sys.exit(main())
