#!/usr/bin/python3
"""An outside implementation of the directory protocol, from the specs alone.

Written from docs/spec/wire.md and docs/spec/directory.md (plus mixdir.conf(5)
for the configuration) with independent libraries only: python3-dissononce
for Noise, a hand-written protobuf encoder (tests/spec/specpb.py), cbor2 and
cryptography.  Three authorities are configured with k = 2 and two of them
run (one down must not stop publication).  The test

1. generates two nodes' Ed25519 and X25519 keys in Python, builds and signs
   their descriptors (a gateway+provider and a layer-2 mix), and uploads each
   over its own Noise IK link (role node) to a different authority;
2. checks that bad uploads are refused with accepted = false: a wrong
   signature, an unregistered identity key, a non-canonical encoding;
3. waits for the first document voted after the uploads, fetches it from both
   authorities over Noise links, and verifies it per directory.md: 2-of-3
   signatures, canonical CBOR (cbor2 canonical=True re-encodes to the same
   bytes), all 23 fields, both descriptors listed byte for byte, identical
   bytes from both authorities;
4. checks that the verifier can fail: a flipped document byte breaks a
   signature, a third unknown signer does not count, a stale time is refused;
5. asks for epoch 0 (the current one) and an epoch far ahead.

Exit 0 pass, 77 skip (mixdir not built or a Python package missing), 1 fail.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

TOP = os.environ.get("TOP", os.getcwd())
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(TOP, "tests", "spec"))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
import testlib  # noqa: E402  (tests/lib: shared helpers, standard library only)
try:
    import cbor2
    import specdir
    import speclink
    import specpb
    import specproc
    from cryptography.exceptions import InvalidSignature
except ImportError as exc:
    print("python package missing: %s" % exc)
    sys.exit(77)

BUILD_ABS = os.environ.get("BUILD_ABS", os.path.abspath(os.environ.get("BUILD", "build")))
MIXDIR = os.path.join(BUILD_ABS, "mixdir")
EPOCH_LEN = 6
VOTE_LEAD = 3
DEADLINE = 40


def free_ports(n):
    """Ports below the ephemeral range (tests/lib/testlib.py)."""
    return testlib.pick_ports(n)


def b64url(text):
    import base64
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url_enc(raw):
    import base64
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class Net:
    """Three configured authorities, the first two running."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = []
        ports = free_ports(3)
        self.auth = []          # (port, ed25519 pub, x25519 link pub, line)
        for i, port in enumerate(ports):
            out = subprocess.run([MIXDIR, "keygen", "-d", os.path.join(tmp, "a%d" % i),
                                  "-a", "127.0.0.1:%d" % port],
                                 check=True, capture_output=True, text=True).stdout.strip()
            f = out.split()
            assert f[:3] == ["authority", "=", "127.0.0.1:%d" % port], out
            ed, x = b64url(f[3]), b64url(f[4])
            assert len(ed) == 32 and len(x) == 32, "keygen keys: %r" % out
            self.auth.append((port, ed, x, out))

    def configure(self, registered):
        self.genesis = int(time.time()) - 1
        lines = "\n".join(a[3] for a in self.auth)
        reg = "\n".join("node = %s" % b64url_enc(k) for k in registered)
        for i, a in enumerate(self.auth):
            path = os.path.join(self.tmp, "a%d.ini" % i)
            with open(path, "w") as fh:
                fh.write("[mixdir]\nlisten = 127.0.0.1:%d\ndata_dir = %s\n"
                         "[network]\n%s\nthreshold = 2\nepoch_length = %ds\n"
                         "genesis = %d\ngrace = 1s\nvote_lead = %ds\nexchange_window = 1s\n"
                         "layers = 3\nmean_delay = 20ms\nlambda_p = 1.5\n"
                         "[registration]\n%s\n"
                         % (a[0], os.path.join(self.tmp, "a%d" % i), lines, EPOCH_LEN,
                            self.genesis, VOTE_LEAD, reg))
            subprocess.run([MIXDIR, "-n", "-c", path], check=True, capture_output=True)

    def start(self, i):
        log = open(os.path.join(self.tmp, "a%d.log" % i), "ab")
        p = subprocess.Popen([MIXDIR, "-c", os.path.join(self.tmp, "a%d.ini" % i)],
                             stdout=log, stderr=log)
        self.procs.append(p)

    def wait_listening(self, i, until):
        while time.time() < until:
            try:
                socket.create_connection(("127.0.0.1", self.auth[i][0]), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("authority %d does not listen" % i)

    def stop(self):
        """SIGTERM every daemon; -> a list of problems (exit status, sanitizer)."""
        return specproc.stop_daemons(self.procs, self.tmp)

    def logs(self):
        for i in range(2):
            path = os.path.join(self.tmp, "a%d.log" % i)
            if os.path.exists(path):
                print("--- authority %d log (tail)" % i)
                print("".join(open(path, errors="replace").readlines()[-20:]))


def link_to(net, i, role=speclink.ROLE_CLIENT):
    return speclink.Link("127.0.0.1", net.auth[i][0], net.auth[i][2], role=role)


def upload(net, i, signed):
    with link_to(net, i, speclink.ROLE_NODE) as ln:
        ln.send_frame(specpb.descriptor_upload(signed))
        f, body = specpb.unframe(ln.recv_frame())
    if f == specpb.ERROR:
        return False, "Error %r" % (specpb.decode_error(body),)
    assert f == specpb.DESCRIPTOR_UPLOAD_REPLY, "answer to an upload: field %d" % f
    return specpb.decode_upload_reply(body)


def fetch(net, i, epoch):
    """-> ('doc', epoch, signed bytes) or ('error', code, reason)."""
    with link_to(net, i) as ln:
        ln.send_frame(specpb.document_request(epoch))
        f, body = specpb.unframe(ln.recv_frame())
    if f == specpb.ERROR:
        code, reason = specpb.decode_error(body)
        return "error", code, reason
    assert f == specpb.DOCUMENT_RESPONSE, "answer to a DocumentRequest: field %d" % f
    e, signed = specpb.decode_document_response(body)
    return "doc", e, signed


class Node:
    def __init__(self, roles, layer, port, first_epoch):
        self.ed = specdir.new_ed25519()
        self.link = speclink.x25519_keypair()
        self.sphinx = [(e, speclink.x25519_keypair().public.data)
                       for e in range(first_epoch, first_epoch + 5)]
        self.desc, self.signed = specdir.make_descriptor(
            self.ed, self.link.public.data, roles, layer, "127.0.0.1:%d" % port, self.sphinx)
        self.id = self.desc[1]
        self.ident = self.desc[2]


def check_bad_uploads(net, gw):
    # A signature by another key.
    desc_bytes, sig = cbor2.loads(gw.signed)
    bad = specdir.canonical([desc_bytes, sig[:10] + bytes([sig[10] ^ 1]) + sig[11:]])
    ok, reason = upload(net, 0, bad)
    assert not ok, "a descriptor with a broken signature was accepted"
    print("broken signature refused: %s" % reason)
    # A properly signed descriptor of a key not in [registration].
    stranger = Node(5, 0, 40000, gw.sphinx[0][0])
    ok, reason = upload(net, 0, stranger.signed)
    assert not ok, "a descriptor of an unregistered key was accepted"
    print("unregistered key refused: %s" % reason)
    # The registered key, signed, but the descriptor's CBOR not canonical
    # (the address as an indefinite-length text string would also be
    # refused; here the map keys are out of order).
    d = dict(sorted(gw.desc.items(), reverse=True))
    raw = cbor2.dumps(d)  # keys 7..1: not canonical
    assert raw != specdir.canonical(gw.desc)
    sig = gw.ed.sign(specdir.DESC_LABEL + raw)
    ok, reason = upload(net, 0, specdir.canonical([raw, sig]))
    assert not ok, "a non-canonical descriptor was accepted"
    print("non-canonical descriptor refused: %s" % reason)


def wait_document(net, i, first, nodes, until):
    """Poll authority i for epochs from `first` until one lists all `nodes`."""
    epoch = first
    last = None
    while time.time() < until:
        r = fetch(net, i, epoch)
        if r[0] == "doc":
            doc = cbor2.loads(cbor2.loads(r[2])[0])
            ids = {n[1] for n in doc[21]}
            sigs = len(cbor2.loads(r[2])[1])
            if all(n.id in ids for n in nodes) and sigs >= 2:
                return r
            if doc[2] == epoch and sigs >= 2 and not all(n.id in ids for n in nodes):
                epoch += 1  # voted before our uploads arrived: the next one will list us
        last = r
        time.sleep(0.5)
    raise AssertionError("no document listing our nodes (last answer %r)" % (last,))


def verify(net, signed, nodes, epoch):
    authorities = {a[1] for a in net.auth}
    now = int(time.time())
    doc, doc_bytes, signers = specdir.verify_signed_document(
        signed, authorities, 2, now, epoch=epoch)
    assert set(signers) == {net.auth[0][1], net.auth[1][1]}, "signers are not authorities 1, 2"
    assert doc[3] == net.genesis and doc[4] == EPOCH_LEN and doc[5] == 1, "epoch parameters"
    assert doc[8] == 5 and doc[9] == 2048 and doc[10] == 3, "geometry defaults 5, 2048, 3"
    assert doc[11] == 20000, "mean_delay 20ms -> 20000 us, got %r" % doc[11]
    assert doc[12] == 2000000, "max_delay default 2s, got %r" % doc[12]
    assert [doc[13], doc[14], doc[15], doc[16]] == [1500, 500, 500, 500], \
        "rates in millihertz: %r" % ([doc[13], doc[14], doc[15], doc[16]],)
    assert doc[17] == 0, "strategy poisson"
    listed = {n[1]: n for n in doc[21]}
    for n in nodes:
        assert specdir.canonical(listed[n.id]) == specdir.canonical(n.desc), \
            "descriptor of %s altered in the document" % n.id.hex()[:8]
    print("epoch %d verified: %d nodes, signers %d, hash %s" % (
        doc[2], len(doc[21]), len(signers), specdir.b2b256(doc_bytes).hex()[:16]))
    return doc, doc_bytes


def check_verifier_fails(net, signed, doc):
    authorities = {a[1] for a in net.auth}
    doc_bytes, sigs = cbor2.loads(signed)
    now = int(time.time())
    # One byte of the document changed: a configured key's signature fails.
    pos = len(doc_bytes) - 40
    bad = specdir.canonical([doc_bytes[:pos] + bytes([doc_bytes[pos] ^ 1]) + doc_bytes[pos + 1:],
                             sigs])
    try:
        specdir.verify_signed_document(bad, authorities, 2, now)
        raise AssertionError("a modified document verified")
    except InvalidSignature:
        pass
    # Only one configured signer left, plus an unknown one: fewer than k.
    other = specdir.new_ed25519()
    okey = specdir.ed25519_raw_public(other)
    fewer = sorted([sigs[0], [okey, other.sign(specdir.DOC_LABEL + doc_bytes)]])
    try:
        specdir.verify_signed_document(specdir.canonical([doc_bytes, fewer]), authorities, 2, now)
        raise AssertionError("one authority signature plus a stranger's passed k = 2")
    except specdir.SpecError:
        pass
    # Stale: at valid_until + grace.
    try:
        specdir.verify_signed_document(signed, authorities, 2, doc[7] + doc[5])
        raise AssertionError("a stale document verified")
    except specdir.SpecError:
        pass
    print("verifier refuses a modified byte, an unknown signer, a stale time")


def run(tmp):
    if not os.access(MIXDIR, os.X_OK):
        print("mixdir not built")
        return 77
    net = Net(tmp)
    start = time.time()
    until = start + DEADLINE
    # The nodes are created before the genesis is fixed; their Sphinx keys
    # start at the epoch current when they upload (epoch 1 or 2).
    gw_port, mix_port = free_ports(2)
    gw_first = 1
    gw = Node(5, 0, gw_port, gw_first)
    mix = Node(2, 2, mix_port, gw_first)
    net.configure([gw.ident, mix.ident])
    with specproc.running(net):
        net.start(0)
        net.start(1)
        net.wait_listening(0, until)
        net.wait_listening(1, until)
        for n, i in ((gw, 0), (mix, 1)):
            ok, reason = upload(net, i, n.signed)
            assert ok, "upload to authority %d refused: %s" % (i + 1, reason)
        print("descriptors accepted by authorities 1 and 2")
        check_bad_uploads(net, gw)
        cur = specdir.epoch_of(int(time.time()), net.genesis, EPOCH_LEN)
        kind, epoch, signed = wait_document(net, 0, cur + 1, [gw, mix], until)
        doc, doc_bytes = verify(net, signed, [gw, mix], epoch)
        # The other authority serves the same document (identical bytes once
        # both have both signatures).
        r = wait_document(net, 1, epoch, [gw, mix], until)
        assert r[1] == epoch and cbor2.loads(r[2])[0] == doc_bytes, \
            "authorities 1 and 2 built different documents for epoch %d" % epoch
        print("authority 2 serves the same document bytes")
        check_verifier_fails(net, signed, doc)
        # Epoch 0 = the current epoch.
        r = fetch(net, 0, 0)
        now_epoch = specdir.epoch_of(int(time.time()), net.genesis, EPOCH_LEN)
        if r[0] == "doc":
            d, _, _ = specdir.verify_signed_document(r[2], {a[1] for a in net.auth}, 2,
                                                     int(time.time()))
            assert d[2] in (now_epoch, now_epoch - 1, now_epoch + 1), \
                "epoch 0 answered with epoch %d (now %d)" % (d[2], now_epoch)
            assert r[1] == d[2], "DocumentResponse.epoch %d != document epoch %d" % (r[1], d[2])
            print("epoch 0 -> current document, epoch %d" % d[2])
        else:
            print("epoch 0 -> Error %r (no current document yet)" % (r[1:],))
        # An epoch far ahead: no document, an Error (wire.md code 3, not found).
        r = fetch(net, 0, now_epoch + 1000)
        assert r[0] == "error" and r[1] == 3, "epoch far ahead answered %r" % (r[:2],)
        print("epoch far ahead -> Error code 3: %s" % r[2])
        print("done in %.1f s" % (time.time() - start))
    return 0


def main():
    tmp = tempfile.mkdtemp(prefix="spec_dir.")
    try:
        return run(tmp)
    except (AssertionError, specdir.SpecError, speclink.LinkError, EOFError,
            InvalidSignature, OSError) as exc:
        print("FAIL: %s: %s" % (type(exc).__name__, exc))
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
