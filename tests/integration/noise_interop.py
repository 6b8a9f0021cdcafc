#!/usr/bin/python3
"""Interop of our Noise links with an independent implementation.

Debian's python3-dissononce plays the other end of a link, with the same
pattern (Noise_IK_25519_ChaChaPoly_BLAKE2b), prologue, 2-byte message framing,
handshake payloads and 4-byte frame stream as docs/spec/wire.md ("Links"):

1. dissononce initiator -> our responder (tests/tools/noise_peer listen, which
   echoes frames): handshake, frames both ways (one spanning several Noise
   messages, one of the 1 MiB maximum), an on-demand rekey.
2. dissononce initiator with a wrong responder key -> our responder refuses.
3. our initiator (noise_peer connect) -> dissononce responder that echoes.

Exit 0 pass, 77 skip (dissononce not importable), 1 fail.
"""
import os
import secrets
import socket
import struct
import subprocess
import sys

try:
    from dissononce.processing.impl.handshakestate import HandshakeState
    from dissononce.processing.impl.symmetricstate import SymmetricState
    from dissononce.processing.impl.cipherstate import CipherState
    from dissononce.processing.handshakepatterns.interactive.IK import IKHandshakePattern
    from dissononce.cipher.chachapoly import ChaChaPolyCipher
    from dissononce.dh.x25519.x25519 import X25519DH
    from dissononce.dh.x25519.private import PrivateKey
    from dissononce.dh.x25519.public import PublicKey
    from dissononce.hash.blake2b import Blake2bHash
except ImportError as exc:
    print("dissononce not importable: %s" % exc)
    sys.exit(77)

PROLOGUE = b"mixnet-link-v1"
VERSION = 1
ROLE_CLIENT = 1
MAX_CHUNK = 65535 - 16
TIMEOUT = 30

BUILD_ABS = os.environ.get("BUILD_ABS", os.path.abspath(os.environ.get("BUILD", "build")))
PEER = os.path.join(BUILD_ABS, "tests", "tools", "noise_peer")


def new_hs():
    return HandshakeState(SymmetricState(CipherState(ChaChaPolyCipher()), Blake2bHash()),
                          X25519DH())


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        got = sock.recv(n - len(buf))
        if not got:
            raise EOFError("connection closed after %d of %d bytes" % (len(buf), n))
        buf.extend(got)
    return bytes(buf)


def send_msg(sock, msg):
    assert len(msg) <= 65535
    sock.sendall(struct.pack(">H", len(msg)) + msg)


def recv_msg(sock):
    (n,) = struct.unpack(">H", recv_exact(sock, 2))
    return recv_exact(sock, n)


def rekey(cs):
    """REKEY per spec rev 34 section 11.3 with dissononce's own cipher.

    dissononce's CipherState.rekey() resets the nonce and keeps the whole
    48-byte ENCRYPT output as the key; the spec keeps n and takes the first
    32 bytes, so we apply the spec by hand with its ChaChaPoly primitive.
    """
    cs._key = cs.cipher.rekey(cs._key)[:32]


class Transport:
    """The frame stream over two dissononce CipherStates."""

    def __init__(self, sock, send_cs, recv_cs):
        self.sock, self.send_cs, self.recv_cs = sock, send_cs, recv_cs
        self.stream = bytearray()

    def send_frame(self, data):
        stream = struct.pack(">I", len(data)) + data
        for i in range(0, len(stream), MAX_CHUNK):
            send_msg(self.sock, self.send_cs.encrypt_with_ad(b"", stream[i:i + MAX_CHUNK]))

    def send_rekey(self):
        send_msg(self.sock, self.send_cs.encrypt_with_ad(b"", b""))
        rekey(self.send_cs)

    def recv_frame(self):
        """The next frame, or None on a clean close between messages."""
        while True:
            if len(self.stream) >= 4:
                (n,) = struct.unpack(">I", self.stream[:4])
                if len(self.stream) >= 4 + n:
                    frame = bytes(self.stream[4:4 + n])
                    del self.stream[:4 + n]
                    return frame
            try:
                msg = recv_msg(self.sock)
            except EOFError:
                if self.stream:
                    raise
                return None
            pt = self.recv_cs.decrypt_with_ad(b"", msg)
            if len(pt) == 0:
                rekey(self.recv_cs)
            self.stream.extend(pt)


def start_listener(sk):
    proc = subprocess.Popen([PEER, "listen", sk.hex()], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    port_line = proc.stdout.readline().split()
    key_line = proc.stdout.readline().split()
    if len(port_line) != 2 or port_line[0] != "port" or key_line[0] != "pubkey":
        raise RuntimeError("noise_peer did not start: %r %r" % (port_line, key_line))
    return proc, int(port_line[1]), bytes.fromhex(key_line[1])


def finish(proc):
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return proc.returncode, out, err


def initiator_handshake(sock, our_kp, resp_pub):
    hs = new_hs()
    hs.initialize(IKHandshakePattern(), True, PROLOGUE, s=our_kp, rs=PublicKey(resp_pub))
    msg1 = bytearray()
    hs.write_message(bytes([VERSION, ROLE_CLIENT]), msg1)
    send_msg(sock, bytes(msg1))
    payload = bytearray()
    ciphers = hs.read_message(recv_msg(sock), payload)
    if bytes(payload) != bytes([VERSION]):
        raise AssertionError("msg2 payload %r" % bytes(payload))
    return Transport(sock, ciphers[0], ciphers[1])


def test_dissononce_initiator():
    dh = X25519DH()
    resp_sk = secrets.token_bytes(32)
    proc, port, resp_pub = start_listener(resp_sk)
    try:
        # The listener's key as dissononce derives it must be what it printed.
        assert dh.generate_keypair(PrivateKey(resp_sk)).public.data == resp_pub
        kp = dh.generate_keypair()
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
            t = initiator_handshake(sock, kp, resp_pub)
            sizes = [0, 1, 300, MAX_CHUNK - 4, MAX_CHUNK, 200000, 1 << 20, 5]
            for i, n in enumerate(sizes):
                if i == 3:
                    t.send_rekey()
                data = bytes((j * 13 + i) & 0xFF for j in range(n)) if n < 4096 \
                    else secrets.token_bytes(n)
                t.send_frame(data)
                echo = t.recv_frame()
                assert echo == data, "echo of %d-byte frame differs" % n
        rc, out, err = finish(proc)
        assert rc == 0, "responder exit %d: %s" % (rc, err)
        want = "remote %s role %d" % (kp.public.data.hex(), ROLE_CLIENT)
        assert want in out, "responder saw %r" % out
        print("dissononce initiator -> our responder: %d frames echoed" % len(sizes))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_wrong_key_refused():
    resp_sk = secrets.token_bytes(32)
    proc, port, _ = start_listener(resp_sk)
    try:
        dh = X25519DH()
        wrong_pub = dh.generate_keypair().public.data
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
            try:
                initiator_handshake(sock, dh.generate_keypair(), wrong_pub)
                raise AssertionError("handshake with a wrong responder key completed")
            except (EOFError, ConnectionResetError):
                pass
        rc, _, err = finish(proc)
        assert rc == 1 and "handshake failed" in err, "responder: exit %d %r" % (rc, err)
        print("wrong responder key: refused (%s)" % err.strip())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_our_initiator():
    dh = X25519DH()
    kp = dh.generate_keypair()
    init_sk = secrets.token_bytes(32)
    init_pub = dh.generate_keypair(PrivateKey(init_sk)).public.data
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    lsock.settimeout(TIMEOUT)
    port = lsock.getsockname()[1]
    proc = subprocess.Popen([PEER, "connect", str(port), init_sk.hex(), kp.public.data.hex()],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        sock, _ = lsock.accept()
        sock.settimeout(TIMEOUT)
        with sock:
            hs = new_hs()
            hs.initialize(IKHandshakePattern(), False, PROLOGUE, s=kp)
            payload = bytearray()
            hs.read_message(recv_msg(sock), payload)
            assert bytes(payload) == bytes([VERSION, ROLE_CLIENT]), payload
            assert hs.rs.data == init_pub, "initiator static key differs"
            msg2 = bytearray()
            ciphers = hs.write_message(bytes([VERSION]), msg2)
            send_msg(sock, bytes(msg2))
            t = Transport(sock, ciphers[1], ciphers[0])
            frames = 0
            while True:
                f = t.recv_frame()
                if f is None:
                    break
                t.send_frame(f)
                frames += 1
        rc, out, err = finish(proc)
        assert rc == 0 and "ok" in out, "initiator exit %d: %s %s" % (rc, out, err)
        print("our initiator -> dissononce responder: %d frames echoed" % frames)
    finally:
        lsock.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def main():
    if not os.access(PEER, os.X_OK):
        print("missing %s (build first)" % PEER)
        return 1
    test_dissononce_initiator()
    test_wrong_key_refused()
    test_our_initiator()
    print("noise interop: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
