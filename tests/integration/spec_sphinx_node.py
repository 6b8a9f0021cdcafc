#!/usr/bin/python3
"""A Sphinx packet built from docs/spec/sphinx.md alone crosses real nodes.

Five real `mixnode` processes (2 gateway+providers, one mix per layer) run
from a network written by `tests/mixtest mknet` (a document from a file,
signed by a test authority), as in mixnode_*.sh.  Everything the test itself
does is written from the specs, with independent libraries:

- it verifies the nodes' signed document per docs/spec/directory.md
  (tests/spec/specdir.py) and takes the path, ids, link keys and Sphinx keys
  from it;
- it builds the packet and a SURB-ack in Python per sphinx.md
  (tests/vectors/sphinx_spec_check.py, itself written from the spec), with
  the payload envelope of docs/spec/client.md;
- it talks to the gateways as two clients A and B over Noise IK links made
  with python3-dissononce (tests/spec/speclink.py) and hand-written protobuf
  frames (tests/spec/specpb.py), per docs/spec/wire.md.

Checks: A's packet, injected at gateway 0, reaches B's inbox at gateway 1
(inbox id per client.md) and B fetches exactly the body A put in; a replay
of the same packet is not delivered twice; after FetchAck the message is
gone; the provider's SURB-ack comes back to A's inbox as a reply with A's
SURB id and opens under A's SURB keys to "mixnet-ack-v1"; a packet with a
flipped header byte is dropped at gateway 0 (MAC), one with a flipped payload
byte at gateway 1 (integrity), each counted in /metrics.

With `--sphinx-format kem-x25519` the network runs on the KEM packet format
(sphinx.md section 15): the test learns the format from the verified
document (key 24, directory.md) and builds every packet and SURB in it
(tests/integration/spec_sphinx_node_kem.sh).

Exit 0 pass, 77 skip (mixnode/mixtest not built, package missing), 1 fail.
"""
import hashlib
import importlib.util
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

TOP = os.environ.get("TOP", os.getcwd())
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(TOP, "tests", "spec"))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
import testlib  # noqa: E402  (tests/lib: shared helpers, standard library only)
try:
    import specdir
    import speclink
    import specpb
    import specproc
    spec = importlib.util.spec_from_file_location(
        "sphinx_spec_check", os.path.join(TOP, "tests", "vectors", "sphinx_spec_check.py"))
    sx = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sx)
except (ImportError, SystemExit) as exc:
    print("python package missing: %s" % exc)
    sys.exit(77)

BUILD_ABS = os.environ.get("BUILD_ABS", os.path.abspath(os.environ.get("BUILD", "build")))
MIXNODE = os.path.join(BUILD_ABS, "mixnode")
MIXTEST = os.path.join(BUILD_ABS, "tests", "mixtest")
DEADLINE = 40
HOP_DELAY_US = 2000
ACK_TEXT = b"mixnet-ack-v1"


class SysRng:
    def take(self, n):
        return os.urandom(n)


def pick_base():
    """A base port with base..base+9 and base+100..base+109 free (tests/lib)."""
    return testlib.pick_base()


def b64url(text):
    import base64
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def inbox_id(k_pub):
    # docs/spec/client.md "Identity and inbox" (architecture decision 3).
    return hashlib.blake2b(b"mixnet-inbox-v1" + k_pub, digest_size=32).digest()


class Network:
    def __init__(self, tmp, mknet_args=()):
        self.tmp = tmp
        self.net = os.path.join(tmp, "net")
        self.base = pick_base()
        self.procs = []
        subprocess.run([MIXTEST, "mknet", self.net, "--base-port", str(self.base)]
                       + list(mknet_args), check=True, capture_output=True)

    def start(self):
        for i in range(5):
            log = open(os.path.join(self.tmp, "node%d.log" % i), "ab")
            self.procs.append(subprocess.Popen(
                [MIXNODE, "-c", os.path.join(self.net, "node%d" % i, "node.ini")],
                stdout=log, stderr=log))

    def metric(self, i, name):
        url = "http://127.0.0.1:%d/metrics" % (self.base + 100 + i)
        try:
            text = urllib.request.urlopen(url, timeout=2).read().decode()
        except OSError:
            return None
        for line in text.splitlines():
            f = line.split()
            if len(f) == 2 and f[0] == name:
                return float(f[1])
        return None

    def wait_up(self, until):
        for i in range(5):
            while (self.metric(i, "mixnode_epoch") or 0) < 1:
                if time.time() > until:
                    raise AssertionError("node %d did not come up" % i)
                time.sleep(0.1)

    def stop(self):
        """SIGTERM every daemon; -> a list of problems (exit status, sanitizer)."""
        return specproc.stop_daemons(self.procs, self.tmp)

    def logs(self):
        for i in range(5):
            path = os.path.join(self.tmp, "node%d.log" % i)
            if os.path.exists(path):
                lines = [ln for ln in open(path, errors="replace") if "[debug]" not in ln]
                print("--- node %d log (tail)" % i)
                print("".join(lines[-12:]))


def load_document(netdir):
    """Verify the network's document per directory.md; -> (doc, nodes by index)."""
    auth = b64url(open(os.path.join(netdir, "auth.pub")).read().split()[0])
    signed = open(os.path.join(netdir, "doc.signed"), "rb").read()
    doc, _, signers = specdir.verify_signed_document(signed, {auth}, 1, int(time.time()))
    assert signers == [auth]
    by_id = {n[1]: n for n in doc[21]}
    nodes = {}
    for line in open(os.path.join(netdir, "nodes.txt")):
        f = line.split()
        nid = b64url(f[1])  # the node id (mixtest's nodes.txt)
        assert nid in by_id, "node %s not in the document" % f[0]
        nodes[int(f[0])] = by_id[nid]
    return doc, nodes


def hop(node, epoch):
    key = dict((e, k) for e, k in node[7])[epoch]
    return {"id": node[1], "pk": key, "delay": HOP_DELAY_US}


def envelope(plain_len, surb, body):
    """docs/spec/client.md "Payload envelope"."""
    head = struct.pack(">BBHI", 1, 1 if surb else 0, len(surb), len(body))
    out = head + surb + body
    assert len(out) <= plain_len
    return out + b"\0" * (plain_len - len(out))


def make_surb(r, path, inbox, sid, kem):
    """sphinx.md section 9 (and 15): -> (SURB bytes, payload keys, k~)."""
    rng = SysRng()
    kt = rng.take(32)
    final = bytes([sx.REPLY]) + inbox + path[-1]["delay"].to_bytes(4, "big") + sid + b"\0" * 16
    header, keys = sx.build_header(r, rng, path, final, kem)
    return path[0]["id"] + kt + header, [k["payload"] for k in keys], kt


def make_packet(r, P, path, inbox, plaintext, kem):
    """sphinx.md sections 5-7 (and 15): a forward packet delivering `plaintext`."""
    final = bytes([sx.DELIVER]) + inbox + path[-1]["delay"].to_bytes(4, "big") + b"\0" * 32
    header, keys = sx.build_header(r, SysRng(), path, final, kem)
    m = b"\0" * 16 + plaintext + b"\0" * (P - 16 - len(plaintext))
    for k in reversed(keys):
        m = sx.lioness_encrypt(k["payload"], m)
    return header + m


def open_reply(P, payload, keys, kt):
    assert len(payload) == P, "a REPLY is stored as all P bytes, got %d" % len(payload)
    m = payload
    for k in reversed(keys):
        m = sx.lioness_encrypt(k, m)
    m = sx.lioness_decrypt(kt, m)
    assert m[:16] == b"\0" * 16, "SURB reply fails the integrity check"
    return m[16:]


def client_link(node, kp):
    host, port = node[6].rsplit(":", 1)
    return speclink.Link(host, int(port), node[3], keypair=kp, role=speclink.ROLE_CLIENT)


RESPONSE_SIZES = set()   # encoded FetchResponse frame sizes seen (wire.md "Fetch padding")


def fetch(node, kp, want, until):
    """Fetch until `want` messages are there; returns them, not acknowledged."""
    with client_link(node, kp) as ln:
        while True:
            ln.send_frame(specpb.fetch_request(0))
            frame = ln.recv_frame()
            RESPONSE_SIZES.add(len(frame))
            f, body = specpb.unframe(frame)
            assert f == specpb.FETCH_RESPONSE, "answer to FetchRequest: field %d %r" % (
                f, specpb.decode_error(body) if f == specpb.ERROR else body)
            msgs, remaining = specpb.decode_fetch_response(body)
            if len(msgs) >= want or time.time() > until:
                return msgs, remaining
            time.sleep(0.2)


def fetch_ack(node, kp, seqs, legacy=False):
    """Acknowledge `seqs` in the next FetchRequest (wire.md), or with the
    deprecated FetchAck frame before it (legacy); -> the request's answer."""
    with client_link(node, kp) as ln:
        if legacy:
            ln.send_frame(specpb.fetch_ack(seqs))
            ln.send_frame(specpb.fetch_request(0))
        else:
            ln.send_frame(specpb.fetch_request(0, seqs))
        f, body = specpb.unframe(ln.recv_frame())
        assert f == specpb.FETCH_RESPONSE, "answer after an ack: field %d" % f
        return specpb.decode_fetch_response(body)


def run(tmp, mknet_args=()):
    for prog in (MIXNODE, MIXTEST):
        if not os.access(prog, os.X_OK):
            print("%s not built" % prog)
            return 77
    start = time.time()
    until = start + DEADLINE
    net = Network(tmp, mknet_args)
    doc, nodes = load_document(net.net)
    epoch = specdir.epoch_of(int(time.time()), doc[3], doc[4])
    assert epoch == doc[2], "document epoch %d, now %d" % (doc[2], epoch)
    r, P = doc[8], doc[9]
    # The packet format is the document's (key 24, absent: classic).
    kem = doc.get(24, 0) == 1
    slot = sx.SLOT_K if kem else sx.SLOT
    if "--sphinx-format" in mknet_args and not kem:
        raise AssertionError("asked for %s, the document says classic" % (mknet_args,))
    gw0, gw1 = nodes[0], nodes[1]
    mixes = [nodes[2], nodes[3], nodes[4]]
    assert [m[5] for m in mixes] == [1, 2, 3] and gw0[4] == 5 and gw1[4] == 5, "network shape"
    print("document verified: epoch %d, geometry (%d, %d), format %s, %d nodes" % (
        epoch, r, P, "kem-x25519" if kem else "classic", len(nodes)))
    with specproc.running(net):
        net.start()
        net.wait_up(until)
        a, b = speclink.x25519_keypair(), speclink.x25519_keypair()
        # Connecting once creates each client's inbox at its gateway.
        assert fetch(gw0, a, 0, until)[0] == [] and fetch(gw1, b, 0, until)[0] == []
        # The SURB-ack: [gateway 1 (the exit, which holds it for the delay
        # chosen here), mix 1, mix 2, mix 3, gateway 0], REPLY to A's inbox
        # (client.md "SURB-ack delay").
        sid = os.urandom(16)
        surb, skeys, kt = make_surb(r, [hop(gw1, epoch)] + [hop(m, epoch) for m in mixes] +
                                    [hop(gw0, epoch)], inbox_id(a.public.data), sid, kem)
        assert len(surb) == 32 + 32 + 48 + r * slot, "SURB length"
        body = b"spec check: " + os.urandom(200)
        plain = envelope(P - 16, surb, body)
        path = [hop(gw0, epoch)] + [hop(m, epoch) for m in mixes] + [hop(gw1, epoch)]
        pkt = make_packet(r, P, path, inbox_id(b.public.data), plain, kem)
        assert len(pkt) == 48 + r * slot + P
        bad = bytearray(pkt)
        bad[100] ^= 1  # a beta byte: gateway 0's MAC fails
        # A fresh packet with one payload bit flipped passes every mix and is
        # caught at the exit by the 16-byte zero block (sphinx.md section 13).
        flipped = bytearray(make_packet(r, P, path, inbox_id(b.public.data), plain, kem))
        flipped[-5] ^= 0x10
        with client_link(gw0, a) as ln:
            ln.send_frame(specpb.sphinx_packet(pkt))
            ln.send_frame(specpb.sphinx_packet(pkt))        # a replay
            ln.send_frame(specpb.sphinx_packet(bytes(bad)))
            ln.send_frame(specpb.sphinx_packet(bytes(flipped)))
            time.sleep(0.3)                                  # let the gateway read them
        msgs, remaining = fetch(gw1, b, 1, until)
        assert len(msgs) == 1, "B's inbox holds %d messages" % len(msgs)
        m = msgs[0]
        assert m["payload"] == body, "B fetched other bytes than A's body (%d bytes)" % len(
            m["payload"])
        assert not m["is_reply"] and m["surb_id"] == b"", "flags of a plain delivery"
        print("B fetched A's %d-byte body (seq %d, remaining %d)" % (len(body), m["seq"],
                                                                      remaining))
        acks, _ = fetch(gw0, a, 1, until)
        assert len(acks) == 1, "A's inbox holds %d messages, wanted the SURB-ack" % len(acks)
        ack = acks[0]
        assert ack["is_reply"] and ack["surb_id"] == sid, "ack: is_reply %r surb_id %s" % (
            ack["is_reply"], ack["surb_id"].hex())
        text = open_reply(P, ack["payload"], skeys, kt)
        assert text.startswith(ACK_TEXT) and text[len(ACK_TEXT):] == b"\0" * (
            len(text) - len(ACK_TEXT)), "ack plaintext %r" % text[:32]
        print("SURB-ack opened under A's keys: %r" % ACK_TEXT.decode())
        # Wait a few hop delays more: the replay and the tampered packet must
        # not have produced anything.
        time.sleep(0.5)
        left, remaining = fetch_ack(gw1, b, [m["seq"]])
        assert left == [] and remaining == 0, \
            "after FetchRequest.ack B's inbox still has %d" % len(left)
        left, _ = fetch_ack(gw0, a, [ack["seq"]], legacy=True)
        assert left == [], "after FetchAck A's inbox still has %d" % len(left)
        drops = {(i, why): net.metric(i, 'mixnode_packets_dropped_total{reason="%s"}' % why)
                 for i, why in ((0, "replay"), (0, "bad_mac"), (1, "bad_integrity"))}
        assert all(v == 1 for v in drops.values()), "drop counters %r" % drops
        print("replay, header and payload tampering dropped and counted: %r" % drops)
        print("acknowledged messages deleted")

        # Fetch padding (wire.md): every response, empty or not, has the size of
        # a full one for the gateway's default batch of 32.
        def reach(t):
            while not any(len(specpb.varint(t - 1 - k)) == k for k in range(1, 11) if t - 1 - k >= 0):
                t += 1
            return t
        expect = reach(32 * (P + 43) + 28)
        assert RESPONSE_SIZES == {expect}, "FetchResponse sizes %r, expected all %d" % (
            sorted(RESPONSE_SIZES), expect)
        print("every FetchResponse (empty or not) was %d bytes" % expect)
        print("done in %.1f s" % (time.time() - start))
    return 0


def main():
    tmp = tempfile.mkdtemp(prefix="spec_sphinx.")
    try:
        return run(tmp, sys.argv[1:])
    except (AssertionError, specdir.SpecError, speclink.LinkError, EOFError, OSError,
            sx.Fail, subprocess.CalledProcessError) as exc:
        print("FAIL: %s: %s" % (type(exc).__name__, exc))
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
