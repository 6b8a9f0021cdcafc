#!/usr/bin/python3
"""Observe a live testnet as a global passive attacker does (issue 11), with mixscope.

A testnet in namespace mode (every daemon and client with its own address on
one bridge), every link captured on the bridge with tcpdump, an idle phase
(window A) and an active phase (window B: alice sends bob a 1 MiB file, and
short messages go both ways between alice and bob), then `mixscope --json`
with the two windows, and each property checked with a stated test.  alpha is
the family-wise error rate of each property; where a property is many tests
(one per client, link or gateway), each is held to alpha/m (Bonferroni).

  P1 sizes       per link kind (authority links excluded: control plane), the
                 set of Noise message sizes is the same in A and in B (exact).
  P2 client      per client, two-sample KS of the uplink gaps A vs B and of
                 the response-to-next-frame delays A vs B: p > alpha/m.
  P3 rates       the conditional binomial test of equal Poisson rates A vs B,
                 p > alpha/m, on every client<->gateway and mix->mix link with
                 at least 20 messages, and on the two totals of the gateway
                 links (last layer -> any gateway, any gateway -> layer 1).
                 The share of each gateway in those totals is printed but not
                 tested: a real message exits at its recipient's gateway and
                 drop cover at a random one, so deliveries (and their acks)
                 show at the exit gateway; docs/threat-model.md lists this as
                 remaining by design.
  P4 gateways    per gateway and window, the number of outputs to layer 1
                 within 1 ms of an input from the last layer, against the most
                 that a delay drawn like any hop's allows (mean from the
                 document) even if every output answered an input: chance for
                 independent streams plus 1 - exp(-1 ms / mean delay) of the
                 rest; binomial upper-tail p > alpha/m.  An ack sent at once
                 (issue 11, leak 4) is far above it.
  P5 link kinds  no message at all on a class of link real packets never use
                 (real paths: client->gateway, gateway->layer1,
                 layer i->layer i+1, last layer->gateway, gateway->client).
  P6 authority   the client's long-term key travels encrypted in Noise IK, so
                 it cannot be read from the capture; instead, no client may
                 open more authority connections than a refresh per epoch
                 with jitter allows: at most (capture/epoch + 2) * authorities.
                 A client that polls every few seconds with its static key
                 fails; one that fetches through its gateway opens none.

lambda_P is raised to 10/s (default 2/s) so that the 1 MiB file (about 500
Sphinx payloads) crosses in about a minute; every other rate is the default.
Exit 0 if every property holds, 1 if any fails (each failure printed as
"FAIL Pn ..." with its statistic), 77 to skip (not root, no tcpdump).
Environment: BUILD (default build), OBSERVE_IDLE and OBSERVE_ACTIVE_MAX
(seconds, default 60 and 150), OBSERVE_ALPHA (default 0.001: with three
statistical properties, a false failure in at most 0.3 % of CI runs; every
leak of issue 11 has p-values far below it),
OBSERVE_KEEP=1 keeps the testnet directory.
"""

import importlib.machinery
import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

TOP = os.environ.get("TOP", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD = os.environ.get("BUILD_ABS") or os.path.abspath(os.path.join(TOP, os.environ.get("BUILD",
                                                                                         "build")))
ALPHA = float(os.environ.get("OBSERVE_ALPHA", "0.001"))
IDLE = int(os.environ.get("OBSERVE_IDLE", "60"))
ACTIVE_MAX = int(os.environ.get("OBSERVE_ACTIVE_MAX", "150"))
LAMBDA_P = "10.0"
FILE_LEN = 1 << 20


def skip(why):
    print(why)
    sys.exit(77)


def load_testnet():
    path = os.path.join(TOP, "deploy", "testnet")
    loader = importlib.machinery.SourceFileLoader("testnet_tool", path)
    spec = importlib.util.spec_from_loader("testnet_tool", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def poisson_rate_p(na, ta, nb, tb):
    """Two-sided exact conditional test of two Poisson counts (as mixscope computes it)."""
    n = na + nb
    if n == 0 or ta <= 0 or tb <= 0:
        return 1.0
    p = ta / (ta + tb)

    def logpmf(k):
        return (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
                + k * math.log(p) + (n - k) * math.log1p(-p))
    lo = logpmf(na) + 1e-9
    return min(1.0, sum(math.exp(l) for l in (logpmf(k) for k in range(n + 1)) if l <= lo))


def sizes_set(s):
    return {int(x.split(":")[0]) for x in s.split() if not x.startswith("other")}


class Verdict:
    def __init__(self):
        self.failed = []

    def check(self, prop, ok, what):
        print("%s %s %s" % ("ok  " if ok else "FAIL", prop, what), flush=True)
        if not ok:
            self.failed.append(prop)


def properties(rep, epoch_len, n_auth, v):
    cap = rep["capture"][0]
    dur = cap["duration_s"]
    print("capture: %.0f s, %d frames, %d messages, %d gaps, %d retransmitted, "
          "windows A %.0f s and B %.0f s" % (dur, cap["frames"], cap["messages"], cap["gaps"],
                                               cap["retransmitted"], cap["window_a_s"],
                                               cap["window_b_s"]))
    e = rep["entropy"][0]
    print("anonymity (not a property): target entropy %.2f bits (se %.2f, n %d); "
          "A %.2f, B %.2f" % (e["h_mean_bits"], e["h_se_bits"] or 0, e["h_n"],
                              e.get("h_a_mean_bits", 0), e.get("h_b_mean_bits", 0)))
    # P1: sizes per link kind.
    for k in rep["link_kinds"]:
        if k["subject"] == "authority":
            continue
        a, b = sizes_set(k["sizes_a"]), sizes_set(k["sizes_b"])
        v.check("P1", a == b, "sizes on %s: A %s, B %s" % (k["subject"], sorted(a), sorted(b)))
    # P2: per-client KS.
    clients = [c for c in rep["clients"] if c.get("gap_a_n", 0) > 0]
    m = max(1, 2 * len(clients))
    for c in clients:
        for series, name in (("gap", "uplink gaps"), ("resp", "response-to-next-frame delays")):
            p = c[series + "_ks_p"]
            v.check("P2", p > ALPHA / m,
                    "%s %s A vs B: KS D=%.3f p=%.3g (n=%d, %d; medians %.3f vs %.3f ms; "
                    "threshold %.2g)" % (c["subject"], name, c[series + "_ks_d"], p,
                                         c[series + "_a_n"], c[series + "_b_n"],
                                         c[series + "_a_median_ms"], c[series + "_b_median_ms"],
                                         ALPHA / m))
    # P3: per-link Poisson rate test; gateway links as totals.
    ta, tb = cap["window_a_s"], cap["window_b_s"]
    links = [l for l in rep["links"] if "authority" not in (l["src_kind"], l["dst_kind"])]
    tested = [l for l in links if "gateway" not in (l["src_kind"], l["dst_kind"])
              or "client" in (l["src_kind"], l["dst_kind"])]
    tested = [(l["subject"], l["messages_a"], l["messages_b"], l["rate_p"]) for l in tested
              if l["messages_a"] + l["messages_b"] >= 20]
    for name, src, dst in (("last layer -> gateways (total)", "mix", "gateway"),
                           ("gateways -> layer 1 (total)", "gateway", "mix")):
        sel = [l for l in links if l["src_kind"] == src and l["dst_kind"] == dst]
        na, nb = sum(l["messages_a"] for l in sel), sum(l["messages_b"] for l in sel)
        tested.append((name, na, nb, poisson_rate_p(na, ta, nb, tb)))
        for l in sel:
            if l["messages_a"] + l["messages_b"] >= 20:
                print("     note: %s %.2f/s in A, %.2f/s in B (p=%.3g; per-gateway shares are "
                      "not tested, see docs/threat-model.md)" % (
                          l["subject"], l["rate_a"], l["rate_b"], l["rate_p"]))
    m = max(1, len(tested))
    bad = [t for t in tested if t[3] <= ALPHA / m]
    for name, na, nb, p in bad:
        v.check("P3", False, "rate %s: %.2f/s in A, %.2f/s in B, Poisson rate test p=%.3g "
                "(threshold %.2g over %d tests)" % (name, na / ta, nb / tb, p, ALPHA / m, m))
    if not bad:
        w = min(tested, key=lambda t: t[3])
        v.check("P3", True, "rates equal A vs B on %d tests (lowest p=%.3g on %s)" % (
            m, w[3], w[0]))
    # P4: gateway lags.
    gws = rep["gateways"]
    m = max(1, 2 * len(gws))
    for g in gws:
        for w in ("a", "b"):
            p = g["close_delayed_p_" + w]
            v.check("P4", p > ALPHA / m,
                    "%s window %s: %d of %d outputs to layer 1 within 1 ms of an input from the "
                    "last layer; %.1f by chance, at most %.1f with hop-like delays, binomial "
                    "p=%.3g" % (g["subject"], w.upper(), g["close_" + w],
                                g["outputs_to_layer1_" + w], g["close_expected_" + w],
                                g["close_delayed_expected_" + w], p))
    # P5: link classes.
    fake = [c for c in rep["link_classes"] if c["real"] == "no"]
    for c in fake:
        v.check("P5", False, "%d messages (%.2f/s) on %s, a link real packets never use" % (
            c["messages"], c["rate_per_s"], c["subject"]))
    if not fake:
        v.check("P5", True, "no traffic on link classes real packets do not use")
    # P6: authority connections per client.
    bound = (dur / epoch_len + 2) * n_auth
    conns = {a["subject"]: a["connections"] for a in rep["authority_connections"]
             if a["kind"] == "client"}
    for c in rep["clients"]:
        n = conns.get(c["subject"], 0)
        v.check("P6", n <= bound, "%s opened %d connections to authorities in %.0f s "
                "(at most %.0f for a refresh per %d-s epoch)" % (c["subject"], n, dur, bound,
                                                                 epoch_len))


def main():
    if os.geteuid() != 0:
        skip("needs root (network namespaces and a capture on the bridge)")
    if shutil.which("tcpdump") is None:
        skip("tcpdump is not installed (make deps)")
    for prog in ("mixscope", "mixnode", "mixdir", "mixclient"):
        if not os.access(os.path.join(BUILD, prog), os.X_OK):
            skip("%s/%s is missing (make)" % (BUILD, prog))
    tn = load_testnet()
    d = tempfile.mkdtemp(prefix="mixobs-")
    net = tn.Net(d)
    args = tn.parser().parse_args(["--dir", d, "up", "--netns", "--clients", "4", "--no-demo",
                                   "--lambda-p", LAMBDA_P, "--bin", BUILD])
    v = Verdict()
    cap = None
    try:
        tn.up(net, args)
        alice, bob = net.s["clients"][0], net.s["clients"][1]
        time.sleep(5)  # let every client settle into its cover schedule
        cap = tn.Capture(net, os.path.join(d, "measure"))
        t0 = time.time()
        print("idle phase: %d s" % IDLE, flush=True)
        time.sleep(IDLE)
        # Active phase: a 1 MiB file alice -> bob, short messages both ways.
        a_start = time.time()
        path = os.path.join(d, "file.txt")
        line = b"0123456789abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789\n"
        with open(path, "wb") as f:
            f.write((line * (FILE_LEN // len(line) + 1))[:FILE_LEN])
        r = tn.mc(net, alice, ["send", bob["address"], "-f", path], check=False, timeout=120)
        if r.returncode != 0:
            raise tn.Fail("send the file: " + r.stderr.strip())
        print("active phase: 1 MiB alice -> bob and short messages both ways", flush=True)
        got_file, k = False, 0
        while time.time() - a_start < ACTIVE_MAX:
            src, dst = (alice, bob) if k % 2 == 0 else (bob, alice)
            tn.mc(net, src, ["send", dst["address"], "-m", "short message %d" % k], check=False)
            k += 1
            time.sleep(4)
            r = tn.mc(net, bob, ["recv"], check=False, timeout=60)
            if any(l.split()[:1] == ["message"] and l.split()[2:3] == [str(FILE_LEN)]
                   for l in r.stdout.split("\n")):
                got_file = True
            if got_file and time.time() - a_start >= IDLE:
                break
        a_end = time.time()
        print("active phase: %.0f s, file %s" % (a_end - a_start,
                                                  "received" if got_file else "NOT received"),
              flush=True)
        cap.stop()
        doc = os.path.join(d, "measure", "document.cbor")
        tn.save_document(net, doc)
        # Windows leave out 2 s at each phase change.
        wa = "%.1f:%.1f" % (2, a_start - t0 - 1)
        wb = "%.1f:%.1f" % (a_start - t0 + 2, a_end - t0 - 1)
        argv = tn.mixscope_argv(net, cap, doc, ["--json", "--window-a", wa, "--window-b", wb])
        print("mixscope: " + " ".join(argv), flush=True)
        r = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise tn.Fail("mixscope failed: " + r.stderr.strip())
        rep = json.loads(r.stdout)
        with open(os.path.join(d, "measure", "report.json"), "w") as f:
            f.write(r.stdout)
        properties(rep, net.s["epoch"], len(net.s["authorities"]), v)
        if not got_file:
            print("note: the file did not arrive within %d s; the properties were still "
                  "checked on what was sent" % ACTIVE_MAX)
    except tn.Fail as e:
        print("FAIL setup: %s" % e)
        v.failed.append("setup")
    finally:
        if cap is not None and cap.proc.poll() is None:
            cap.stop()
        if net.s is not None and "authorities" in net.s:
            try:
                tn.down(net)
            except tn.Fail as e:
                print("down: %s" % e)
        if os.environ.get("OBSERVE_KEEP") == "1":
            print("kept %s" % d)
        else:
            shutil.rmtree(d, ignore_errors=True)
    if v.failed:
        print("FAIL: properties %s" % ", ".join(sorted(set(v.failed))))
        return 1
    print("PASS: every property holds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
