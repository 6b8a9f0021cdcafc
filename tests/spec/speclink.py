"""A mixnet link (docs/spec/wire.md, "Links") written with python3-dissononce.

Noise_IK_25519_ChaChaPoly_BLAKE2b, prologue "mixnet-link-v1", every Noise
message preceded by its 2-byte big-endian length, handshake payloads
[version 1, role] and [version 1], then a stream of 4-byte-length frames
split into transport messages of at most 65519 plaintext bytes; an empty
transport message is a rekey (REKEY of rev 34: first 32 bytes of
ENCRYPT(k, 2^64-1, "", zeros(32)), nonce kept).
"""
import socket
import struct

from dissononce.processing.impl.handshakestate import HandshakeState
from dissononce.processing.impl.symmetricstate import SymmetricState
from dissononce.processing.impl.cipherstate import CipherState
from dissononce.processing.handshakepatterns.interactive.IK import IKHandshakePattern
from dissononce.cipher.chachapoly import ChaChaPolyCipher
from dissononce.dh.x25519.x25519 import X25519DH
from dissononce.dh.x25519.private import PrivateKey
from dissononce.dh.x25519.public import PublicKey
from dissononce.hash.blake2b import Blake2bHash

PROLOGUE = b"mixnet-link-v1"
VERSION = 1
ROLE_CLIENT = 1
ROLE_NODE = 2
ROLE_AUTHORITY = 3
MAX_CHUNK = 65535 - 16
REKEY_EVERY = 1 << 20


class LinkError(Exception):
    pass


def x25519_keypair(secret=None):
    """A dissononce key pair; `secret` is 32 raw bytes or None for fresh."""
    dh = X25519DH()
    if secret is None:
        return dh.generate_keypair()
    return dh.generate_keypair(PrivateKey(secret))


def _recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        got = sock.recv(n - len(buf))
        if not got:
            raise EOFError("link closed after %d of %d bytes" % (len(buf), n))
        buf.extend(got)
    return bytes(buf)


def _send_msg(sock, msg):
    if len(msg) > 65535:
        raise LinkError("Noise message over 65535 bytes")
    sock.sendall(struct.pack(">H", len(msg)) + msg)


def _recv_msg(sock):
    (n,) = struct.unpack(">H", _recv_exact(sock, 2))
    return _recv_exact(sock, n)


def _rekey(cs):
    # dissononce's CipherState.rekey() would reset n and keep 48 bytes; the
    # spec keeps n and takes the first 32 bytes of the cipher's REKEY output.
    cs._key = cs.cipher.rekey(cs._key)[:32]


class Link:
    """An initiator's link: connect(), then send_frame()/recv_frame()."""

    def __init__(self, host, port, remote_static, keypair=None, role=ROLE_CLIENT,
                 timeout=20.0):
        self.keypair = keypair or x25519_keypair()
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.stream = bytearray()
        self.sent = 0
        self.received = 0
        try:
            self._handshake(remote_static, role)
        except BaseException:
            self.sock.close()
            raise

    def _handshake(self, remote_static, role):
        hs = HandshakeState(SymmetricState(CipherState(ChaChaPolyCipher()), Blake2bHash()),
                            X25519DH())
        hs.initialize(IKHandshakePattern(), True, PROLOGUE, s=self.keypair,
                      rs=PublicKey(remote_static))
        msg1 = bytearray()
        hs.write_message(bytes([VERSION, role]), msg1)
        if len(msg1) != 98:
            raise LinkError("message 1 is %d bytes, wire.md says 98" % len(msg1))
        _send_msg(self.sock, bytes(msg1))
        msg2 = _recv_msg(self.sock)
        if len(msg2) != 49:
            raise LinkError("message 2 is %d bytes, wire.md says 49" % len(msg2))
        payload = bytearray()
        ciphers = hs.read_message(msg2, payload)
        if bytes(payload) != bytes([VERSION]):
            raise LinkError("message 2 payload %r, wanted 01" % bytes(payload))
        # Initiator: sends with c1, receives with c2.
        self.send_cs, self.recv_cs = ciphers[0], ciphers[1]

    @property
    def public(self):
        return self.keypair.public.data

    def _after(self, cs, count, empty):
        if empty:
            _rekey(cs)
        if count % REKEY_EVERY == 0:
            _rekey(cs)

    def send_frame(self, data):
        stream = struct.pack(">I", len(data)) + data
        for i in range(0, len(stream), MAX_CHUNK):
            _send_msg(self.sock, self.send_cs.encrypt_with_ad(b"", stream[i:i + MAX_CHUNK]))
            self.sent += 1
            self._after(self.send_cs, self.sent, False)

    def send_rekey(self):
        _send_msg(self.sock, self.send_cs.encrypt_with_ad(b"", b""))
        self.sent += 1
        self._after(self.send_cs, self.sent, True)

    def recv_frame(self, max_frame=1 << 20):
        """The next frame's bytes, or None on a clean close between frames."""
        while True:
            if len(self.stream) >= 4:
                (n,) = struct.unpack(">I", self.stream[:4])
                if n > max_frame:
                    raise LinkError("frame length %d above the maximum" % n)
                if len(self.stream) >= 4 + n:
                    frame = bytes(self.stream[4:4 + n])
                    del self.stream[:4 + n]
                    return frame
            try:
                msg = _recv_msg(self.sock)
            except EOFError:
                if self.stream:
                    raise
                return None
            pt = self.recv_cs.decrypt_with_ad(b"", msg)
            self.received += 1
            self._after(self.recv_cs, self.received, len(pt) == 0)
            self.stream.extend(pt)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
