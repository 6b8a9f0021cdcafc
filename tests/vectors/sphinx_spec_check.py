#!/usr/bin/python3
"""Independent implementation of docs/spec/sphinx.md (the classic format and
the KEM format of section 15), checked against the known-answer vectors in
tests/vectors/sphinx_kat.txt.

Written from the spec text only (hashlib BLAKE2b, the `cryptography`
package's X25519 and ChaCha20), it rebuilds every packet and SURB from the
RNG seed, processes each hop, and compares every line.  Usage:
    tests/vectors/sphinx_spec_check.py [tests/vectors/sphinx_kat.txt]
Exit 0 if all match, 1 on a mismatch, 77 if `cryptography` is missing.
"""
import hashlib
import os
import sys

try:
    from cryptography.hazmat.primitives.asymmetric.x25519 import (
        X25519PrivateKey, X25519PublicKey)
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
except ImportError:
    print("python3 cryptography package missing")
    sys.exit(77)

SLOT = 69          # classic slot
SLOT_K = 69 + 32   # KEM slot (section 15.2): slot | next ct
FORWARD, DELIVER, REPLY = 1, 2, 3


class Fail(Exception):
    pass


def H(n, msg, key=b""):
    return hashlib.blake2b(msg, digest_size=n, key=key).digest()


def S(key, n):
    # Zero nonce, counter 0: OpenSSL's 16-byte IV is counter | nonce, all zero.
    enc = Cipher(algorithms.ChaCha20(key, b"\0" * 16), mode=None).encryptor()
    return enc.update(b"\0" * n)


def X25519(k, u):
    out = X25519PrivateKey.from_private_bytes(k).exchange(
        X25519PublicKey.from_public_bytes(u))
    if out == b"\0" * 32:
        raise Fail("X25519 result is zero")
    return out


def base(k):
    return X25519(k, bytes([9]) + b"\0" * 31)


def xor(a, b):
    return bytes(x ^ y for x, y in zip(a, b))


class DetRng:
    """mix_rng_det: RFC 8439 ChaCha20 keystream of the seed, read in order."""

    def __init__(self, seed):
        self.stream = S(seed, 1 << 16)
        self.pos = 0

    def take(self, n):
        out = self.stream[self.pos:self.pos + n]
        self.pos += n
        return out


# ---------------------------------------------------------------- Lioness
def lioness_keys(k):
    return [H(32, b"mixnet-lioness-v1 round %d" % j, k) for j in (1, 2, 3, 4)]


def lioness_encrypt(k, m):
    K = lioness_keys(k)
    L, R = m[:32], m[32:]
    R = xor(R, S(H(32, L, K[0]), len(R)))
    L = xor(L, H(32, R, K[1]))
    R = xor(R, S(H(32, L, K[2]), len(R)))
    L = xor(L, H(32, R, K[3]))
    return L + R


def lioness_decrypt(k, m):
    K = lioness_keys(k)
    L, R = m[:32], m[32:]
    L = xor(L, H(32, R, K[3]))
    R = xor(R, S(H(32, L, K[2]), len(R)))
    L = xor(L, H(32, R, K[1]))
    R = xor(R, S(H(32, L, K[0]), len(R)))
    return L + R


# ---------------------------------------------------------------- Sphinx
def hop_keys(s, alpha):
    return {
        "stream": H(32, b"mixnet-sphinx-v1 header-stream", s),
        "mac": H(32, b"mixnet-sphinx-v1 header-mac", s),
        "payload": H(32, b"mixnet-sphinx-v1 payload", s),
        "tag": H(16, b"mixnet-sphinx-v1 replay-tag", s),
        "blind": H(32, b"mixnet-sphinx-v1 blinding" + alpha, s),
    }


# KEM format, section 15.1: X25519 with ct bound into the secret.
KEM_LABEL = b"mixnet-sphinx-kem-v1 x25519"


def kem_encap(rng, pk):
    e = rng.take(32)
    ct = base(e)
    return ct, H(32, KEM_LABEL + ct, X25519(e, pk))


def kem_decap(sk, ct):
    return H(32, KEM_LABEL + ct, X25519(sk, ct))


def classic_secrets(rng, path):
    """Section 5, the defining chain (not the linear shortcut of 5.1)."""
    nu = len(path)
    x = rng.take(32)
    alphas, keys = [base(x)], []
    for i, hop in enumerate(path):
        t = X25519(x, hop["pk"])
        for j in range(i):
            t = X25519(keys[j]["blind"], t)
        keys.append(hop_keys(t, alphas[i]))
        if i < nu - 1:
            alphas.append(X25519(keys[i]["blind"], alphas[i]))
    return alphas, keys


def kem_secrets(rng, path):
    """Section 15.2: one encapsulation per hop, in path order."""
    alphas, keys = [], []
    for hop in path:
        ct, ss = kem_encap(rng, hop["pk"])
        alphas.append(ct)
        keys.append(hop_keys(ss, ct))
    return alphas, keys


def build_header(r, rng, path, final_slot, kem=False):
    nu = len(path)
    sl = SLOT_K if kem else SLOT
    alphas, keys = (kem_secrets if kem else classic_secrets)(rng, path)
    if kem:
        final_slot += b"\0" * 32
    phi = b""
    for i in range(nu - 1):
        rho = S(keys[i]["stream"], (r + 1) * sl)
        phi = xor(phi + b"\0" * sl, rho[(r - i) * sl:])
    pad = rng.take((r - nu) * sl)
    head = (r - nu + 1) * sl
    rho = S(keys[nu - 1]["stream"], (r + 1) * sl)
    beta = xor(final_slot + pad, rho[:head]) + phi
    gamma = H(16, alphas[nu - 1] + beta, keys[nu - 1]["mac"])
    for i in range(nu - 2, -1, -1):
        slot = (bytes([FORWARD]) + path[i + 1]["id"] + path[i]["delay"].to_bytes(4, "big")
                + b"\0" * 16 + gamma)
        if kem:
            slot += alphas[i + 1]
        rho = S(keys[i]["stream"], (r + 1) * sl)
        beta = xor(slot + beta[:(r - 1) * sl], rho[:r * sl])
        gamma = H(16, alphas[i] + beta, keys[i]["mac"])
    return alphas[0] + gamma + beta, keys


def unwrap(r, P, sk, pkt, kem=False):
    """Returns (status, cmd, node id, delay, surb id, tag, out)."""
    sl = SLOT_K if kem else SLOT
    hlen = 48 + r * sl
    if len(pkt) != hlen + P:
        raise Fail("length")
    alpha, gamma, beta, payload = pkt[:32], pkt[32:48], pkt[48:hlen], pkt[hlen:]
    s = kem_decap(sk, alpha) if kem else X25519(sk, alpha)
    k = hop_keys(s, alpha)
    if H(16, alpha + beta, k["mac"]) != gamma:
        raise Fail("mac")
    B = xor(beta + b"\0" * sl, S(k["stream"], (r + 1) * sl))
    cmd, nid, delay, sid = B[0], B[1:33], int.from_bytes(B[33:37], "big"), B[37:53]
    m = lioness_decrypt(k["payload"], payload)
    if cmd == FORWARD:
        nxt = B[69:101] if kem else X25519(k["blind"], alpha)
        out = nxt + B[53:69] + B[sl:] + m
        return 1, cmd, nid, delay, sid, k["tag"], out
    if cmd == DELIVER:
        if m[:16] != b"\0" * 16:
            raise Fail("integrity")
        return 2, cmd, nid, delay, sid, k["tag"], m[16:]
    if cmd == REPLY:
        return 2, cmd, nid, delay, sid, k["tag"], m
    raise Fail("command")


# ---------------------------------------------------------------- vectors
def parse(path):
    sections, cur = [], None
    for line in open(path):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            cur = {"_kind": line.strip("[]"), "_order": []}
            sections.append(cur)
            continue
        name, value = line.split(" ", 1)
        cur[name] = value
        cur["_order"].append(name)
    return sections


def h(b):
    return b.hex()


def check_equal(sec, name, got):
    want = sec.get(name)
    if want != got:
        raise Fail("%s %s: got %s..., want %s..." % (sec["_kind"], name, str(got)[:40],
                                                     (want or "(missing)")[:40]))


def nodes_of(sec):
    nu = int(sec["nhops"])
    path = []
    for i in range(nu):
        sk = bytes.fromhex(sec["node%d_sk" % i])
        check_equal(sec, "node%d_pk" % i, h(base(sk)))
        path.append({"sk": sk, "pk": base(sk), "id": bytes.fromhex(sec["node%d_id" % i]),
                     "delay": int(sec["node%d_delay_us" % i])})
    return path


def check_intermediates(sec, r, sk, pkt, p, kem):
    alpha = pkt[:32]
    s = kem_decap(sk, alpha) if kem else X25519(sk, alpha)
    k = hop_keys(s, alpha)
    sl = SLOT_K if kem else SLOT
    check_equal(sec, p + "alpha", h(alpha))
    check_equal(sec, p + "shared_secret", h(s))
    check_equal(sec, p + "stream_key", h(k["stream"]))
    check_equal(sec, p + "mac_key", h(k["mac"]))
    check_equal(sec, p + "payload_key", h(k["payload"]))
    check_equal(sec, p + "blinding", None if kem else h(k["blind"]))
    check_equal(sec, p + "routing_slot", h(xor(pkt[48:48 + sl], S(k["stream"], sl))))


def check_hops(sec, r, P, path, pkt, kem):
    for i, hop in enumerate(path):
        p = "hop%d_" % i
        check_intermediates(sec, r, hop["sk"], pkt, p, kem)
        st, cmd, nid, delay, sid, tag, out = unwrap(r, P, hop["sk"], pkt, kem)
        check_equal(sec, p + "status", str(st))
        check_equal(sec, p + "cmd", str(cmd))
        check_equal(sec, p + "delay_us", str(delay))
        check_equal(sec, p + "node_id", h(nid))
        check_equal(sec, p + "surb_id", h(sid))
        check_equal(sec, p + "replay_tag", h(tag))
        check_equal(sec, p + "out", h(out))
        if delay != hop["delay"]:
            raise Fail("delay of hop %d" % i)
        pkt = out
    return pkt


def check_forward(sec, kem=False):
    r, P = int(sec["max_hops"]), int(sec["payload_len"])
    path = nodes_of(sec)
    rng = DetRng(bytes.fromhex(sec["rng_seed"]))
    rcpt, msg = bytes.fromhex(sec["recipient"]), bytes.fromhex(sec["plaintext"])
    final = (bytes([DELIVER]) + rcpt + path[-1]["delay"].to_bytes(4, "big") + b"\0" * 32)
    header, keys = build_header(r, rng, path, final, kem)
    m = b"\0" * 16 + msg + b"\0" * (P - 16 - len(msg))
    for k in reversed(keys):
        m = lioness_encrypt(k["payload"], m)
    check_equal(sec, "packet", h(header + m))
    out = check_hops(sec, r, P, path, header + m, kem)
    if out != msg + b"\0" * (P - 16 - len(msg)):
        raise Fail("delivered plaintext")


def check_surb(sec, kem=False):
    r, P = int(sec["max_hops"]), int(sec["payload_len"])
    path = nodes_of(sec)
    rng = DetRng(bytes.fromhex(sec["rng_seed"]))
    inbox, sid = bytes.fromhex(sec["recipient"]), bytes.fromhex(sec["surb_id"])
    msg = bytes.fromhex(sec["plaintext"])
    kt = rng.take(32)
    final = bytes([REPLY]) + inbox + path[-1]["delay"].to_bytes(4, "big") + sid + b"\0" * 16
    header, keys = build_header(r, rng, path, final, kem)
    surb = path[0]["id"] + kt + header
    check_equal(sec, "surb", h(surb))
    nu = len(path)
    kept = (bytes([1, nu, 0, 0]) + sid + kt + b"".join(k["payload"] for k in keys)
            + b"\0" * (32 * (10 - nu)))
    check_equal(sec, "surb_keys", h(kept))
    # The replier sees only the SURB.
    m = b"\0" * 16 + msg + b"\0" * (P - 16 - len(msg))
    pkt = surb[64:] + lioness_encrypt(surb[32:64], m)
    check_equal(sec, "packet", h(pkt))
    got = check_hops(sec, r, P, path, pkt, kem)
    for k in reversed(keys):
        got = lioness_encrypt(k["payload"], got)
    got = lioness_decrypt(kt, got)
    if got[:16] != b"\0" * 16:
        raise Fail("surb open integrity")
    check_equal(sec, "opened", h(got[16:]))


def check_lioness(sec):
    key, pt = bytes.fromhex(sec["key"]), bytes.fromhex(sec["plaintext"])
    ct = lioness_encrypt(key, pt)
    check_equal(sec, "ciphertext", h(ct))
    if lioness_decrypt(key, ct) != pt:
        raise Fail("lioness round trip")


def main():
    top = os.path.dirname(os.path.abspath(__file__))
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(top, "sphinx_kat.txt")
    checks = {"forward": check_forward, "surb": check_surb, "lioness": check_lioness,
              "kem_forward": lambda sec: check_forward(sec, kem=True),
              "kem_surb": lambda sec: check_surb(sec, kem=True)}
    n = 0
    try:
        for sec in parse(path):
            checks[sec["_kind"]](sec)
            n += 1
    except Fail as e:
        print("MISMATCH:", e)
        return 1
    print("%d sections match docs/spec/sphinx.md" % n)
    return 0 if n > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
