#!/usr/bin/python3
"""An authority never sees a client's long-term key (docs/spec/client.md "Directory").

A fake authority written with python3-dissononce plays the responder of the
Noise IK link (wire.md "Handshake"), records the initiator's static key of
every link, answers every DocumentRequest with Error code 3 (not found) and
closes.  `mixclient init` runs against it (it retries while it gets no
document), then `mixclient daemon` with a gateway set in its config.  The test
checks that

1. every link presented a static key other than the client's own (the X25519
   public key of data_dir/client.key, which is in the client's address);
2. no two links presented the same key;
3. the retries after a refusal are randomised (1 to 3 s), not a fixed poll
   (the refresh of a held document, once per epoch, is test_client_core's
   test_dir_refresh).

Exit 0 pass, 77 skip (mixclient not built or dissononce missing), 1 fail.
"""
import base64
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.environ.get("TOP", os.getcwd())
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(TOP, "tests", "spec"))
try:
    import speclink
    import specpb
    from dissononce.processing.impl.handshakestate import HandshakeState
    from dissononce.processing.impl.symmetricstate import SymmetricState
    from dissononce.processing.impl.cipherstate import CipherState
    from dissononce.processing.handshakepatterns.interactive.IK import IKHandshakePattern
    from dissononce.cipher.chachapoly import ChaChaPolyCipher
    from dissononce.dh.x25519.x25519 import X25519DH
    from dissononce.dh.x25519.private import PrivateKey
    from dissononce.hash.blake2b import Blake2bHash
except ImportError as exc:
    print("python package missing: %s" % exc)
    sys.exit(77)

BUILD_ABS = os.environ.get("BUILD_ABS", os.path.abspath(os.environ.get("BUILD", "build")))
MIXCLIENT = os.path.join(BUILD_ABS, "mixclient")


def b64(raw):
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class FakeAuthority:
    """Noise IK responder: records (time, initiator static key) per link."""

    def __init__(self):
        self.kp = speclink.x25519_keypair()
        self.sign_pk = os.urandom(32)  # never used: no document is served
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.seen = []
        self.errors = []
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def line(self):
        return "authority = 127.0.0.1:%d %s %s" % (self.port, b64(self.sign_pk),
                                                    b64(self.kp.public.data))

    def run(self):
        self.sock.settimeout(0.5)
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                conn.settimeout(10)
                self.serve(conn)
            except Exception as exc:  # a broken link is a finding, not a crash
                self.errors.append(repr(exc))
            finally:
                conn.close()

    def serve(self, conn):
        hs = HandshakeState(SymmetricState(CipherState(ChaChaPolyCipher()), Blake2bHash()),
                            X25519DH())
        hs.initialize(IKHandshakePattern(), False, speclink.PROLOGUE, s=self.kp)
        payload = bytearray()
        hs.read_message(speclink._recv_msg(conn), payload)
        self.seen.append((time.time(), bytes(hs.rs.data)))
        msg2 = bytearray()
        ciphers = hs.write_message(bytes([speclink.VERSION]), msg2)
        speclink._send_msg(conn, bytes(msg2))
        # Responder: receives with c1, sends with c2.  Read the request, refuse it.
        recv_cs, send_cs = ciphers[0], ciphers[1]
        recv_cs.decrypt_with_ad(b"", speclink._recv_msg(conn))
        err = specpb.frame(13, specpb.f_uint(1, 3) + specpb.f_bytes(2, b"no document for that epoch"))
        stream = len(err).to_bytes(4, "big") + err
        speclink._send_msg(conn, send_cs.encrypt_with_ad(b"", stream))
        time.sleep(0.1)


def client_pub(data_dir):
    with open(os.path.join(data_dir, "client.key")) as fh:
        lines = fh.read().split()
    return speclink.x25519_keypair(unb64(lines[-1])).public.data


def run(tmp):
    if not os.access(MIXCLIENT, os.X_OK):
        print("mixclient not built")
        return 77
    auth = FakeAuthority()
    conf = os.path.join(tmp, "c.ini")
    data = os.path.join(tmp, "data")
    with open(conf, "w") as fh:
        fh.write("[client]\ndata_dir = %s\nconnect_timeout = 3s\nlog_level = debug\n"
                 "gateway = %s\n[directory]\n%s\nthreshold = 1\npoll_interval = 1s\n"
                 % (data, b64(os.urandom(32)), auth.line()))
    log = open(os.path.join(tmp, "client.log"), "ab")
    # init: creates client.key, then keeps asking while refused.
    subprocess.run([MIXCLIENT, "-c", conf, "init", "--timeout", "6"], stdout=log, stderr=log)
    n_init = len(auth.seen)
    d = subprocess.Popen([MIXCLIENT, "-c", conf, "daemon"], stdout=log, stderr=log)
    try:
        end = time.time() + 45
        while time.time() < end and len(auth.seen) < n_init + 5:
            time.sleep(0.2)
    finally:
        d.terminate()
        d.wait(10)
        auth.stop = True
    mine = client_pub(data)
    keys = [k for _, k in auth.seen]
    print("links seen: %d (%d from init); client key %s" % (len(keys), n_init, mine.hex()[:16]))
    for t, k in auth.seen:
        print("  %.3f %s" % (t, k.hex()[:16]))
    assert not auth.errors, "fake authority errors: %r" % auth.errors
    assert n_init >= 2, "init made %d links in 6 s (expected retries)" % n_init
    assert len(keys) >= n_init + 5, "the daemon made %d links" % (len(keys) - n_init)
    assert mine not in keys, "an authority saw the client's long-term key"
    assert len(set(keys)) == len(keys), "a static key was used on two authority links"
    # Retries after a refusal: 1-3 s apart (plus the dial and handshake time),
    # never a short poll, and not all the same gap.
    gaps = [b[0] - a[0] for a, b in zip(auth.seen[n_init:], auth.seen[n_init + 1:])]
    print("daemon retry gaps: %s" % " ".join("%.2f" % g for g in gaps))
    assert all(0.9 <= g <= 5 for g in gaps), "retry gaps outside 1-3 s: %r" % gaps
    assert max(gaps) - min(gaps) > 0.05, "retry gaps not randomised: %r" % gaps
    return 0


def main():
    tmp = tempfile.mkdtemp(prefix="client_dir_anon.")
    try:
        return run(tmp)
    except (AssertionError, OSError, EOFError) as exc:
        print("FAIL: %s: %s" % (type(exc).__name__, exc))
        log = os.path.join(tmp, "client.log")
        if os.path.exists(log):
            print("".join(open(log, errors="replace").readlines()[-20:]))
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
