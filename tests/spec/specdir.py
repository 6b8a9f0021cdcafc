"""Directory descriptors and documents from docs/spec/directory.md alone.

Uses python3-cbor2 (canonical=True is RFC 8949 core deterministic encoding
for these structures) and python3-cryptography (Ed25519).
"""
import hashlib

import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import (Ed25519PrivateKey,
                                                               Ed25519PublicKey)
from cryptography.hazmat.primitives import serialization

DESC_LABEL = b"mixnet-descriptor-v1\x00"
DOC_LABEL = b"mixnet-document-v1\x00"
ROLE_GATEWAY, ROLE_MIX, ROLE_PROVIDER = 1, 2, 4


class SpecError(AssertionError):
    pass


def need(cond, what):
    if not cond:
        raise SpecError(what)


def b2b256(data):
    return hashlib.blake2b(data, digest_size=32).digest()


def ed25519_raw_public(sk):
    return sk.public_key().public_bytes(serialization.Encoding.Raw,
                                        serialization.PublicFormat.Raw)


def canonical(obj):
    return cbor2.dumps(obj, canonical=True)


def epoch_of(t, genesis, epoch_len):
    return 0 if t < genesis else (t - genesis) // epoch_len + 1


def make_descriptor(ed_sk, link_pub, roles, layer, address, sphinx_keys):
    """-> (descriptor map, signed_descriptor bytes). sphinx_keys: [(epoch, pub32)]."""
    ident = ed25519_raw_public(ed_sk)
    desc = {1: b2b256(ident), 2: ident, 3: link_pub, 4: roles, 5: layer,
            6: address, 7: [[e, k] for e, k in sorted(sphinx_keys)]}
    desc_bytes = canonical(desc)
    sig = ed_sk.sign(DESC_LABEL + desc_bytes)
    signed = canonical([desc_bytes, sig])
    need(len(signed) <= 8192, "signed descriptor over 8192 bytes")
    return desc, signed


def check_descriptor(d, layers, epoch):
    need(isinstance(d, dict) and set(d) == set(range(1, 8)),
         "descriptor keys %r" % (sorted(d) if isinstance(d, dict) else d))
    for k in (1, 2, 3):
        need(isinstance(d[k], bytes) and len(d[k]) == 32, "descriptor key %d: 32 bytes" % k)
    need(b2b256(d[2]) == d[1], "descriptor id != BLAKE2b-256(identity_key)")
    roles, layer = d[4], d[5]
    if roles == ROLE_MIX:
        need(1 <= layer <= layers, "mix layer %d outside 1..%d" % (layer, layers))
    else:
        need(roles in (1, 4, 5) and layer == 0, "roles %d layer %d" % (roles, layer))
    addr = d[6]
    need(isinstance(addr, str) and 1 <= len(addr) <= 255 and ":" in addr
         and all(0x21 <= ord(c) <= 0x7e for c in addr), "address %r" % addr)
    sk = d[7]
    need(isinstance(sk, list) and 1 <= len(sk) <= 8, "sphinx_keys count")
    prev = 0
    for e in sk:
        need(isinstance(e, list) and len(e) == 2 and isinstance(e[0], int)
             and isinstance(e[1], bytes) and len(e[1]) == 32, "sphinx key entry %r" % (e,))
        need(e[0] > prev, "sphinx key epochs not strictly increasing")
        prev = e[0]
    need(any(e[0] == epoch for e in sk), "node without a Sphinx key for epoch %d" % epoch)


def check_document(doc, doc_bytes):
    """Every rule of directory.md "Epoch document"; returns doc."""
    need(isinstance(doc, dict), "document is not a map")
    # Key 24 (sphinx_format) is present only when it is not 0 (classic).
    last = 24 if 24 in doc else 23
    need(set(doc) == set(range(1, last + 1)), "document keys %r" % sorted(doc))
    need(list(doc) == list(range(1, last + 1)), "document keys not in order")
    if last == 24:
        need(isinstance(doc[24], int) and not isinstance(doc[24], bool) and doc[24] == 1,
             "sphinx_format %r (1 = kem-x25519; 0 is written by leaving the key out)" % doc[24])
    need(canonical(doc) == doc_bytes, "document bytes are not canonical CBOR")
    for k in range(1, 21):
        need(isinstance(doc[k], int) and not isinstance(doc[k], bool) and doc[k] >= 0,
             "field %d is not an unsigned integer" % k)
    need(doc[1] == 1, "version %r" % doc[1])
    epoch, genesis, elen, grace = doc[2], doc[3], doc[4], doc[5]
    need(epoch >= 1 and elen > 0 and grace < elen, "epoch/epoch_len/grace")
    need(doc[6] == genesis + (epoch - 1) * elen, "valid_from")
    need(doc[7] == doc[6] + elen, "valid_until")
    layers = doc[10]
    need(1 <= layers <= 16, "layers")
    need(layers + 2 <= doc[8] <= 64, "max_hops")
    need(1 <= doc[9] <= 1048576, "payload_len")
    need(doc[11] > 0 and doc[12] >= doc[11], "delays")
    need(doc[17] in (0, 1, 2), "strategy")
    if doc[17] == 1:
        need(doc[18] > 0, "pool_interval_us")
    if doc[17] == 2:
        need(doc[20] > 0, "threshold_n")
    nodes = doc[21]
    need(isinstance(nodes, list) and len(nodes) <= 4096, "nodes")
    ids = [n.get(1) if isinstance(n, dict) else None for n in nodes]
    for n in nodes:
        check_descriptor(n, layers, epoch)
    need(ids == sorted(ids) and len(set(ids)) == len(ids), "nodes not sorted by id / duplicate")
    need(doc[22] == [n[1] for n in nodes if n[4] & ROLE_GATEWAY], "gateways list")
    need(doc[23] == [n[1] for n in nodes if n[4] & ROLE_PROVIDER], "providers list")
    return doc


def verify_signed_document(signed, authorities, k, now, max_ahead=None, epoch=None):
    """directory.md "Verifying a document", steps 1-5. -> (doc, doc_bytes, signers)."""
    outer = cbor2.loads(signed)
    need(canonical(outer) == signed, "signed document is not canonical CBOR")
    need(isinstance(outer, list) and len(outer) == 2, "outer array of two")
    doc_bytes, sigs = outer
    need(isinstance(doc_bytes, bytes) and isinstance(sigs, list) and len(sigs) <= 32,
         "outer item types")
    keys = [s[0] for s in sigs]
    need(keys == sorted(keys) and len(set(keys)) == len(keys), "signatures not sorted / dup")
    signers = []
    for entry in sigs:
        need(isinstance(entry, list) and len(entry) == 2 and len(entry[0]) == 32
             and len(entry[1]) == 64, "signature entry shape")
        akey, sig = entry
        if akey in authorities:
            # Raises cryptography's InvalidSignature on a bad one (step 2).
            Ed25519PublicKey.from_public_bytes(akey).verify(sig, DOC_LABEL + doc_bytes)
            signers.append(akey)
    need(len(signers) >= k, "%d valid signatures, need %d" % (len(signers), k))
    doc = check_document(cbor2.loads(doc_bytes), doc_bytes)
    if max_ahead is None:
        max_ahead = doc[4]
    need(now < doc[7] + doc[5], "stale document")
    need(doc[6] <= now + max_ahead, "future document")
    if epoch is not None:
        need(doc[2] == epoch, "wrong epoch %d, wanted %d" % (doc[2], epoch))
    return doc, doc_bytes, signers


def new_ed25519():
    return Ed25519PrivateKey.generate()
