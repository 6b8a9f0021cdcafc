#!/usr/bin/python3
"""End-to-end test of deploy/testnet in loopback mode (issue 6).

A whole network of real processes: 3 authorities (threshold 2), 2 gateways,
3 layers x 2 mixes, 2 clients (alice on gw1, bob on gw2), 15-second epochs.
  1. `up` brings it up and shows alice's first message received by bob;
  2. messages both ways;
  3. a reply through a SURB;
  4. an acknowledged message survives kill -9 of its gateway before fetch;
  5. traffic both ways while a mix and a gateway are killed with -9 and
     restarted: every message is acknowledged, and every acknowledged one
     received;
  6. traffic across two epoch changes (key rotation, new documents), no loss;
  7. `down` leaves no process behind.
Exit 0 pass, 77 skip (daemons not built), 1 fail.
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
NAME = "testnet_e2e"
T0 = time.time()


def log(msg):
    print("[%5.1fs] %s" % (time.time() - T0, msg), flush=True)


class TestFail(Exception):
    pass


class Testnet:
    def __init__(self, d):
        self.dir = d
        self.nodes = 0
        self.got = {}          # client -> list of received messages (dicts)

    def tn(self, *args, timeout=120, check=True):
        argv = ["/usr/bin/python3", TOOL, "--dir", self.dir] + list(args)
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise TestFail("testnet %s: exit %d\n%s%s" % (" ".join(args), r.returncode,
                                                          r.stdout, r.stderr))
        return r

    def state(self):
        with open(os.path.join(self.dir, "state.json")) as f:
            return json.load(f)

    def client(self, name):
        return [c for c in self.state()["clients"] if c["name"] == name][0]

    def send(self, src, dst, text, surbs=0):
        r = self.tn("send", "--from", src, "--to", dst, "-m", text, "--wait", "0",
                    "--show", "0", "--reply-surbs", str(surbs))
        return r.stdout.split()[0]

    def msg_state(self, src, mid):
        c = self.client(src)
        r = subprocess.run([os.path.join(BUILD_ABS, "mixclient"), "-c", c["conf"], "status",
                            mid], capture_output=True, text=True, timeout=30)
        for line in r.stdout.splitlines():
            t = line.split()
            if t and t[0] == mid:
                return t[1]
        return "unknown"

    def poll(self, name):
        r = self.tn("recv", name, "--json", check=False)
        for line in r.stdout.splitlines():
            if line.startswith("{"):
                self.got.setdefault(name, []).append(json.loads(line))
        return self.got.get(name, [])

    def bodies(self, name):
        return [m["body"] for m in self.poll(name)]

    def check_alive(self):
        """A daemon that died on its own (not by `kill`) fails the test at once."""
        s = self.state()
        for e in s["authorities"] + s["nodes"] + s["clients"]:
            if not e.get("pid"):
                continue
            try:
                with open("/proc/%d/stat" % e["pid"]) as f:
                    stat = f.read()
                with open("/proc/%d/cmdline" % e["pid"], "rb") as f:
                    cmd = f.read()
                # Empty cmdline: exec in progress; Z: exited, not yet reaped.
                ok = stat[stat.rfind(")") + 2] != "Z" and (not cmd or e["conf"].encode() in cmd)
            except (OSError, IndexError):
                ok = False
            if not ok:
                raise TestFail("%s (pid %d) exited unexpectedly" % (e["name"], e["pid"]))

    def wait(self, what, fn, timeout):
        end = time.time() + timeout
        while time.time() < end:
            self.check_alive()
            v = fn()
            if v:
                return v
            time.sleep(0.5)
        raise TestFail("timed out after %ds: %s" % (timeout, what))

    def wait_acked(self, sent, timeout):
        """sent: list of (src, dst, id, text).  Until all are acknowledged."""
        pending = list(sent)

        def step():
            for s in list(pending):
                st = self.msg_state(s[0], s[2])
                if st == "failed":
                    raise TestFail("message %s %s->%s failed" % (s[2], s[0], s[1]))
                if st in ("acknowledged", "delivered"):
                    pending.remove(s)
            return not pending
        try:
            self.wait("acknowledgements", step, timeout)
        except TestFail:
            raise TestFail("not acknowledged: %s" % [(s[0], s[1], s[3]) for s in pending])

    def wait_received(self, sent, timeout):
        def step():
            return all(s[3] in self.bodies(s[1]) for s in sent)
        try:
            self.wait("deliveries", step, timeout)
        except TestFail:
            lost = [(s[0], s[1], s[3]) for s in sent if s[3] not in self.bodies(s[1])]
            raise TestFail("acknowledged but not received: %s" % lost)


def pids_naming(d):
    left = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % p, "rb") as f:
                if d.encode() in f.read():
                    left.append(int(p))
        except OSError:
            pass
    return left


def test_cli(net):
    """Errors that must not touch anything: no testnet yet, a foreign dir."""
    r = net.tn("status", check=False)
    if r.returncode != 1 or "no testnet" not in r.stderr:
        raise TestFail("status without a testnet: exit %d %s" % (r.returncode, r.stderr))
    foreign = tempfile.mkdtemp(prefix="tnforeign.", dir="/tmp")
    keep = os.path.join(foreign, "precious.txt")
    with open(keep, "w") as f:
        f.write("not a testnet\n")
    try:
        r = subprocess.run(["/usr/bin/python3", TOOL, "--dir", foreign, "up", "--bin", BUILD_ABS],
                           capture_output=True, text=True, timeout=60)
        if r.returncode == 0 or not os.path.exists(keep):
            raise TestFail("up in a foreign directory: exit %d, file kept %s" % (
                r.returncode, os.path.exists(keep)))
    finally:
        shutil.rmtree(foreign, ignore_errors=True)
    r = net.tn("up", "--bin", BUILD_ABS, "--threshold", "4", check=False)
    if r.returncode != 1 or "threshold" not in r.stderr:
        raise TestFail("up --threshold 4 with 3 authorities: exit %d %s" % (r.returncode,
                                                                             r.stderr))
    log("0. usage errors refused, nothing touched")


def bring_up(net, *extra):
    """1. `up` (3 authorities, 2 gateways, 15 s epochs) shows a message received."""
    r = net.tn("up", "--bin", BUILD_ABS, "--epoch", "15", "--warmup", "10",
               "--authorities", "3", "--gateways", "2", *extra, timeout=300)
    print(r.stdout, end="")
    if "bob received after" not in r.stdout:
        raise TestFail("up did not show the first message received")
    s = net.state()
    net.nodes = len(s["nodes"])
    st = json.loads(net.tn("status", "--json").stdout)
    doc = st["document"]
    if doc is None or doc["nodes"] != net.nodes or doc["signatures"] < 2:
        raise TestFail("document: %s" % doc)
    if not all(e["running"] for e in st["entities"]):
        raise TestFail("not every process runs: %s" % st["entities"])
    log("1. up: %s" % doc)


def both_ways(net):
    """2. Messages both ways, acknowledged and received."""
    sent = [("alice", "bob", None, "both ways: alice to bob"),
            ("bob", "alice", None, "both ways: bob to alice")]
    sent = [(s, d, net.send(s, d, t), t) for s, d, _, t in sent]
    net.wait_acked(sent, 90)
    net.wait_received(sent, 60)
    log("2. both ways: acknowledged and received")


def surb_reply(net):
    """3. A reply through a SURB: bob asks, alice answers without his address."""
    # A SURB carries the Sphinx keys of the epoch it is made in (a client
    # uses the keys of the epoch of one second ago), and a node accepts them
    # until that epoch ends plus the grace period: 2 s with these 15 s epochs
    # (docs/spec/client.md, "Replies").  So bob asks 2 to 5 s into an epoch;
    # on a slow machine (sanitizers, namespaces) the answer can still miss
    # its window, and then bob asks again, at most three times.
    for attempt in range(1, 4):
        s = net.state()
        pos = (time.time() - s["genesis"]) % s["epoch"]
        if pos < 2 or pos > 5:
            time.sleep((2 - pos) % s["epoch"] + 0.2)
        s = net.state()
        window = s["epoch"] - (time.time() - s["genesis"]) % s["epoch"] + 2
        q = "question %d from bob, answer through my SURB" % attempt
        net.send("bob", "alice", q, surbs=1)
        msgs = net.wait("alice receives the question",
                        lambda: [m for m in net.poll("alice") if m["body"] == q], 60)
        if not msgs[0]["can_reply"]:
            raise TestFail("the question carries no SURB: %s" % msgs[0])
        ans = "alice's answer %d through bob's reply block" % attempt
        net.tn("reply", "alice", msgs[0]["id"], "-m", ans)
        try:
            net.wait("bob receives the SURB reply", lambda: ans in net.bodies("bob"),
                     window + 10)
            break
        except TestFail:
            if attempt == 3:
                raise
            log("3. reply %d missed its SURB's window; asking again" % attempt)
    log("3. SURB reply received (attempt %d)" % attempt)


def scenario(net):
    """Steps 2 to 6 on a running testnet (alice on gw1, bob on gw2)."""
    both_ways(net)
    surb_reply(net)

    # 4. An acknowledged message waits in bob's inbox (his client is stopped)
    #    while his gateway is killed with -9; after a restart bob gets it.
    net.tn("kill", "bob")
    text = "stored before kill -9 of the gateway"
    m4 = [("alice", "bob", net.send("alice", "bob", text), text)]
    net.wait_acked(m4, 90)
    net.tn("kill", "gw2", "--signal", "9")
    net.tn("start", "gw2")
    net.tn("start", "bob")
    net.wait_received(m4, 90)
    log("4. acknowledged message survived kill -9 of the gateway")

    # 5. kill -9 a mix and a gateway mid-traffic, restart them.
    sent = []
    for i in range(8):
        for s, d in (("alice", "bob"), ("bob", "alice")):
            t = "mid-traffic %d %s to %s" % (i, s, d)
            # The client daemon queues while its gateway is down, so even a
            # send during the outage must be accepted.
            sent.append((s, d, net.send(s, d, t), t))
        if i == 3:
            net.tn("kill", "mix2-1", "--signal", "9")
            net.tn("kill", "gw2", "--signal", "9")
            log("5. killed mix2-1 and gw2 with -9 after %d messages" % len(sent))
            time.sleep(2)
            net.tn("start", "mix2-1")
            net.tn("start", "gw2")
        time.sleep(0.3)
    net.wait_acked(sent, 180)
    net.wait_received(sent, 90)
    log("5. all %d messages acknowledged and received across the restarts" % len(sent))

    # 6. Traffic across two epoch changes.
    s = net.state()
    e0 = int((time.time() - s["genesis"]) // s["epoch"]) + 1
    target = e0 + 2
    sent, i = [], 0
    end_at = s["genesis"] + (target - 1) * s["epoch"] + 3   # 3 s into epoch e0+2
    while time.time() < end_at:
        for a, b in (("alice", "bob"), ("bob", "alice")):
            t = "epochs %d %s to %s" % (i, a, b)
            sent.append((a, b, net.send(a, b, t), t))
        i += 1
        time.sleep(2)
    net.wait_acked(sent, 180)
    net.wait_received(sent, 90)

    # Every node reaches the target epoch and the served document follows; a
    # metrics scrape or a document fetch that misses once is asked again.
    seen = {}

    def epochs_ok():
        st = json.loads(net.tn("status", "--json").stdout)
        seen["st"] = st
        node_epochs = [e["epoch"] for e in st["entities"] if "packets_out" in e]
        doc = st["document"]
        return min(node_epochs) >= target and doc is not None and doc["epoch"] >= target \
            and doc["nodes"] == net.nodes
    try:
        net.wait("every node and the document at epoch %d" % target, epochs_ok, 30)
    except TestFail:
        st = seen.get("st") or {}
        raise TestFail("after two epoch changes (target %d): nodes %s, document %s" % (
            target, [(e["name"], e.get("epoch"), e.get("running")) for e in st.get("entities", [])],
            st.get("document")))
    st = seen["st"]
    node_epochs = [e["epoch"] for e in st["entities"] if "packets_out" in e]
    rot = sum(e["key_rotations"] for e in st["entities"] if "packets_out" in e)
    if rot < 1:
        raise TestFail("no Sphinx key rotation counted across two epoch changes")
    log("6. %d messages across epochs %d..%d, none lost; nodes at epochs %s, %d key "
        "rotations" % (len(sent), e0, target, node_epochs, rot))

    # A second `up` on a running testnet is refused, and changes nothing.
    r = net.tn("up", "--bin", BUILD_ABS, check=False)
    if r.returncode == 0 or "already runs" not in r.stderr:
        raise TestFail("second up: exit %d %s" % (r.returncode, r.stderr))



def bring_down(net):
    """7. down leaves nothing."""
    r = net.tn("down")
    print(r.stdout, end="")
    left = pids_naming(net.dir)
    if left:
        raise TestFail("processes left after down: %s" % left)
    log("7. down: no process left")


def test(net):
    test_cli(net)
    bring_up(net, "--width", "2")
    scenario(net)
    bring_down(net)


def main(name=NAME, body=test, skip=None):
    """Run body(net) on a fresh directory; logs go to test-logs/NAME.*.log."""
    for prog in ("mixdir", "mixnode", "mixclient"):
        if not os.access(os.path.join(BUILD_ABS, prog), os.X_OK):
            print("%s not built" % prog)
            return 77
    why = skip() if skip else None
    if why:
        print(why)
        return 77
    d = tempfile.mkdtemp(prefix=name + ".", dir="/tmp")
    net = Testnet(d)
    rc = 0
    try:
        body(net)
        print("PASS")
    except (TestFail, subprocess.TimeoutExpired) as e:
        print("FAIL: %s" % e)
        rc = 1
        for f in sorted(os.listdir(os.path.join(d, "logs"))) if os.path.isdir(
                os.path.join(d, "logs")) else []:
            with open(os.path.join(d, "logs", f), errors="replace") as fh:
                tail = fh.readlines()[-12:]
            print("--- %s (tail)\n%s" % (f, "".join(tail)), end="")
        print("FAIL: %s" % e)   # again, after the logs, where a short tail shows it
    finally:
        if os.path.exists(os.path.join(d, "state.json")):
            net.tn("down", check=False, timeout=120)
        for p in pids_naming(d):
            print("killing leftover pid %d" % p)
            try:
                os.kill(p, 9)
            except OSError:
                pass
        logs = os.path.join(d, "logs")
        dest = os.path.join(BUILD_ABS, "test-logs")
        if os.path.isdir(logs) and os.path.isdir(dest):
            for f in os.listdir(logs):
                shutil.copy(os.path.join(logs, f), os.path.join(dest, "%s.%s" % (name, f)))
        shutil.rmtree(d, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
