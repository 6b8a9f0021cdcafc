#!/usr/bin/python3
"""Verify the committed signed directory document with independent tools.

tests/vectors/pki_signed_document.cbor is written by tests/unit/test_pki.c
(from fixed seeds).  This script follows docs/spec/directory.md
("Verifying a document") using only Python's cbor2 and cryptography
packages: outer structure, canonical encoding, k-of-n Ed25519 signatures
over "mixnet-document-v1\\0" || document, every descriptor's id, the
derived gateway/provider lists and the validity window.  It also checks that
tampering is noticed.  Exit 0 pass, 77 skip (a package missing), 1 fail.
"""
import hashlib
import json
import os
import sys

try:
    import cbor2
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
except ImportError as exc:  # pragma: no cover
    print(f"skip: {exc} (install python3-cbor2 python3-cryptography)")
    sys.exit(77)

TOP = os.environ.get("TOP", ".")
VEC = os.path.join(TOP, "tests/vectors/pki_signed_document.cbor")
CONTEXT = b"mixnet-document-v1\x00"
DOC_KEYS = set(range(1, 24))
DESC_KEYS = set(range(1, 8))
ROLE_GATEWAY, ROLE_MIX, ROLE_PROVIDER = 1, 2, 4


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def canonical(obj):
    return cbor2.dumps(obj, canonical=True)


def verify(signed, authorities, k):
    """Return the decoded document map, or raise ValueError with a reason."""
    outer = cbor2.loads(signed)
    if not (isinstance(outer, list) and len(outer) == 2 and isinstance(outer[0], bytes)):
        raise ValueError("malformed outer array")
    if canonical(outer) != signed:
        raise ValueError("non-canonical outer encoding")
    doc_bytes, sigs = outer
    keys = [s[0] for s in sigs]
    if keys != sorted(set(keys)):
        raise ValueError("signatures not sorted by key / duplicate signer")
    valid = 0
    for key, sig in sigs:
        if key not in authorities:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(key).verify(sig, CONTEXT + doc_bytes)
        except InvalidSignature:
            raise ValueError("bad signature")
        valid += 1
    if valid < k:
        raise ValueError("too few signatures")
    doc = cbor2.loads(doc_bytes)
    if canonical(doc) != doc_bytes:
        raise ValueError("non-canonical document")
    if set(doc) != DOC_KEYS:
        raise ValueError("unknown or missing document keys")
    if doc[1] != 1:
        raise ValueError("version")
    epoch, genesis, length = doc[2], doc[3], doc[4]
    if doc[6] != genesis + (epoch - 1) * length or doc[7] != doc[6] + length:
        raise ValueError("validity window")
    ids = []
    for d in doc[21]:
        if set(d) != DESC_KEYS:
            raise ValueError("descriptor keys")
        if hashlib.blake2b(d[2], digest_size=32).digest() != d[1]:
            raise ValueError("descriptor id is not BLAKE2b-256(identity key)")
        if not any(e == epoch for e, _ in d[7]):
            raise ValueError("descriptor without a Sphinx key for the epoch")
        ids.append(d[1])
    if ids != sorted(set(ids)):
        raise ValueError("descriptors not sorted by id")
    if doc[22] != [d[1] for d in doc[21] if d[4] & ROLE_GATEWAY]:
        raise ValueError("gateway list")
    if doc[23] != [d[1] for d in doc[21] if d[4] & ROLE_PROVIDER]:
        raise ValueError("provider list")
    return doc, doc_bytes


def main():
    with open(VEC, "rb") as f:
        signed = f.read()
    with open(VEC[:-5] + ".json") as f:
        meta = json.load(f)
    authorities = {bytes.fromhex(h) for h in meta["authorities"]}
    k = meta["threshold"]

    doc, doc_bytes = verify(signed, authorities, k)
    if doc[2] != meta["epoch"] or len(doc[21]) != meta["nodes"]:
        fail("epoch or node count differs from the JSON")
    if hashlib.blake2b(doc_bytes, digest_size=32).hexdigest() != meta["document_hash"]:
        fail("document hash differs")
    mixes = [d for d in doc[21] if d[4] == ROLE_MIX]
    if sorted({d[5] for d in mixes}) != list(range(1, doc[10] + 1)):
        fail("mix layers do not cover 1..layers")
    print(f"ok: epoch {doc[2]}, {len(doc[21])} nodes, {len(mixes)} mixes, "
          f"{len(doc[22])} gateways, {len(doc[23])} providers")

    # Tampering must be noticed: a flipped byte in the document, and a threshold
    # higher than the number of signers.
    bad = bytearray(signed)
    bad[len(bad) // 3] ^= 0x01
    try:
        verify(bytes(bad), authorities, k)
        fail("a flipped document byte was accepted")
    except (ValueError, cbor2.CBORDecodeError) as exc:
        print("ok: tampered document rejected:", exc)
    try:
        verify(signed, authorities, k + 1)
        fail("threshold 3 accepted with 2 signatures")
    except ValueError as exc:
        print("ok: k=3 rejected:", exc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
