#!/usr/bin/python3
"""Anonymity measured live against mixsim's prediction (issue 13).

Two namespace-mode testnets, each captured for OBSERVE_SECONDS (default 60)
on its bridge and analysed with mixscope: the default mean delay (50 ms) in
every layer, and a deliberately weak one where ONE layer (layer 2) holds
packets about 2 ms (its mixes' local [limits] max_delay = 2ms, testnet
--weak-layer 2:2ms; mixscope is told with --node-delay, mixsim with
layer_delays).  Four clients, lambda_P 10/s (default 2/s) so the mixes see
enough traffic for mixing to matter.  The default capture is analysed a
second time with one layer-2 mix named corrupt (--corrupt ID).  For each,
mixsim runs with the arguments mixscope reports (mixsim_args: the same
topology, delays and corrupt mix, at the load mixscope measured: the
layer-1 mixes' input rate as clients x rate_real, no link delay), and

  E1  |live entropy - mixsim entropy| <= 0.3 bits + 3 standard errors
      (the combined standard error of both means), for the three analyses
      (message-level Shannon entropy; min-entropy is printed beside it);
  E2  the weak layer loses at least 0.25 bits against the default, live, and
      the live loss is within 0.3 bits + 3 standard errors of mixsim's;
  E3  the corrupt mix loses entropy live (more than 0.02 bits, same capture),
      within 0.3 bits of the loss mixsim predicts for the same mix corrupt.

Exit 0 if all hold, 1 otherwise ("FAIL En ..." lines), 77 to skip (not root,
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


# The weak layer: its mixes cap every delay at WEAK_CAP_MS, so a delay drawn Exp(50 ms) is held
# min(Exp(50), 2) ms, whose mean is 50 (1 - e^(-2/50)) = 1.96 ms.
WEAK_LAYER, WEAK_CAP_MS, MEAN_MS = 2, 2.0, 50.0
WEAK_MEAN_MS = MEAN_MS * (1 - math.exp(-WEAK_CAP_MS / MEAN_MS))


def mixscope(tn, net, cap, doc, extra):
    r = subprocess.run(tn.mixscope_argv(net, cap, doc, ["--json"] + extra), capture_output=True,
                       text=True, timeout=300)
    if r.returncode != 0:
        raise tn.Fail("mixscope: " + r.stderr.strip())
    return json.loads(r.stdout)["entropy"][0]


def live(tn, weak):
    """mixscope's entropy items of a fresh testnet: [plain] or, on the default one,
    [plain, with one layer-2 mix corrupt]."""
    d = tempfile.mkdtemp(prefix="mixent-")
    net = tn.Net(d)
    argv = ["--dir", d, "up", "--netns", "--clients", "4", "--no-demo", "--lambda-p", "10.0",
            "--mean-delay", "%gms" % MEAN_MS, "--bin", ot.BUILD]
    if weak:
        argv += ["--weak-layer", "%d:%gms" % (WEAK_LAYER, WEAK_CAP_MS)]
    args = tn.parser().parse_args(argv)
    try:
        tn.up(net, args)
        time.sleep(5)
        cap = tn.Capture(net, os.path.join(d, "measure"))
        time.sleep(SECONDS)
        cap.stop()
        doc = os.path.join(d, "measure", "document.cbor")
        tn.save_document(net, doc)
        layer2 = [n for n in net.s["nodes"] if n["role"] == "mix" and n["layer"] == WEAK_LAYER]
        if weak:
            extra = []
            for n in layer2:
                extra += ["--node-delay", "%s=%.4f" % (n["node_id"], WEAK_MEAN_MS)]
            return [mixscope(tn, net, cap, doc, extra)]
        return [mixscope(tn, net, cap, doc, []),
                mixscope(tn, net, cap, doc, ["--corrupt", layer2[0]["node_id"]])]
    finally:
        if net.s is not None and "authorities" in net.s:
            tn.down(net)
        shutil.rmtree(d, ignore_errors=True)


def simulated(e):
    """mixsim's results for the configuration and load of a mixscope entropy item."""
    argv = [os.path.join(ot.BUILD, "mixsim")] + e["mixsim_args"].split() + ["--json"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError("mixsim: " + r.stderr.strip())
    res = json.loads(r.stdout).get("results", {})
    if "h_msg_mean" not in res:
        raise RuntimeError("no h_msg_mean in mixsim's JSON: %s" % r.stdout[:300])
    return res, argv


def se(x):
    return x if isinstance(x, (int, float)) else 0.0


def main():
    if os.geteuid() != 0:
        ot.skip("needs root (network namespaces and a capture on the bridge)")
    if shutil.which("tcpdump") is None:
        ot.skip("tcpdump is not installed (make deps)")
    for prog in ("mixscope", "mixsim", "mixnode", "mixdir", "mixclient"):
        if not os.access(os.path.join(ot.BUILD, prog), os.X_OK):
            ot.skip("%s/%s is missing (make)" % (ot.BUILD, prog))
    tn = ot.load_testnet()
    items = live(tn, False) + live(tn, True)
    res, failed = {}, []
    for name, e in zip(("default", "corrupt", "weak"), items):
        sim, argv = simulated(e)
        h, s_h, hs, s_hs = e["h_msg_mean_bits"], se(e["h_msg_se_bits"]), sim["h_msg_mean"], \
            se(sim.get("h_msg_se", 0.0))
        res[name] = (h, s_h, hs, s_hs)
        tol = 0.3 + 3 * math.sqrt(s_h * s_h + s_hs * s_hs)
        ok = abs(h - hs) <= tol
        print("%s E1 %s: live %.2f bits (se %.2f, %d targets), mixsim %.2f (se %.2f), "
              "|diff| %.2f, allowed %.2f; min-entropy live %.2f, mixsim %.2f; recipient "
              "entropy live %.2f (over gateways), mixsim %.2f (over clients)" % (
                  "ok  " if ok else "FAIL", name, h, s_h, e["h_msg_n"], hs, s_hs, abs(h - hs), tol,
                  e["hmin_msg_mean_bits"], sim.get("hmin_msg_mean", float("nan")),
                  e["h_rcpt_mean_bits"], sim.get("h_rcpt_mean", float("nan"))), flush=True)
        print("     mixsim: " + " ".join(argv), flush=True)
        if not ok:
            failed.append("E1")
    d, w, c = res["default"], res["weak"], res["corrupt"]
    drop, sdrop = d[0] - w[0], d[2] - w[2]
    tol = 0.3 + 3 * math.sqrt(d[1] ** 2 + w[1] ** 2 + d[3] ** 2 + w[3] ** 2)
    ok = drop >= 0.25 and abs(drop - sdrop) <= tol
    print("%s E2 the weak layer loses %.2f bits live, mixsim %.2f (allowed difference %.2f)" % (
        "ok  " if ok else "FAIL", drop, sdrop, tol))
    if not ok:
        failed.append("E2")
    drop, sdrop = d[0] - c[0], d[2] - c[2]
    ok = drop > 0.02 and abs(drop - sdrop) <= 0.3
    print("%s E3 one corrupt layer-2 mix loses %.2f bits live, mixsim %.2f" % (
        "ok  " if ok else "FAIL", drop, sdrop))
    if not ok:
        failed.append("E3")
    if failed:
        print("FAIL: %s" % ", ".join(sorted(set(failed))))
        return 1
    print("PASS: live entropy matches mixsim, and drops as mixsim predicts with a weak layer "
          "and with a corrupt mix")
    return 0


if __name__ == "__main__":
    sys.exit(main())
