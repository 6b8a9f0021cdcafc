"""Hand-written protobuf wire format for mixnet.Frame, from docs/spec/wire.md.

Deliberately independent of proto/mixnet.proto and of any protobuf library:
it encodes and decodes the standard protobuf wire format (varints, wire
types 0 and 2) with the field numbers of the table in wire.md ("Messages").
A frame is a message whose single set field (the oneof `body`) is a
length-delimited sub-message.
"""

# Field numbers of the Frame oneof (wire.md, "Messages").
SPHINX_PACKET = 1
FETCH_REQUEST = 2
FETCH_RESPONSE = 3
FETCH_ACK = 4
DESCRIPTOR_UPLOAD = 5
DESCRIPTOR_UPLOAD_REPLY = 6
DOCUMENT_REQUEST = 7
DOCUMENT_RESPONSE = 8
ERROR = 13


class PbError(ValueError):
    pass


def varint(n):
    if n < 0:
        raise PbError("negative varint")
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(field, wire_type):
    return varint((field << 3) | wire_type)


def f_uint(field, value):
    """A varint field; proto3 omits the default 0."""
    if value == 0:
        return b""
    return key(field, 0) + varint(value)


def f_bytes(field, value):
    """A length-delimited field (bytes, string, sub-message)."""
    if isinstance(value, str):
        value = value.encode("utf-8")
    return key(field, 2) + varint(len(value)) + value


def read_varint(buf, pos):
    n = 0
    shift = 0
    for i in range(10):
        if pos >= len(buf):
            raise PbError("truncated varint")
        b = buf[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        if not b & 0x80:
            return n, pos
        shift += 7
    raise PbError("varint over 10 bytes")


def parse(buf):
    """Decode one message into a list of (field, wire_type, value).

    Values are ints for varints and bytes for length-delimited fields;
    fixed32/fixed64 are returned as bytes too (none are used by wire.md).
    """
    out = []
    pos = 0
    while pos < len(buf):
        k, pos = read_varint(buf, pos)
        field, wt = k >> 3, k & 7
        if field == 0:
            raise PbError("field number 0")
        if wt == 0:
            v, pos = read_varint(buf, pos)
        elif wt == 2:
            n, pos = read_varint(buf, pos)
            if pos + n > len(buf):
                raise PbError("truncated length-delimited field")
            v = bytes(buf[pos:pos + n])
            pos += n
        elif wt == 1:
            v = bytes(buf[pos:pos + 8])
            pos += 8
        elif wt == 5:
            v = bytes(buf[pos:pos + 4])
            pos += 4
        else:
            raise PbError("bad wire type %d" % wt)
        if pos > len(buf):
            raise PbError("truncated fixed field")
        out.append((field, wt, v))
    return out


def fields(buf):
    """Decode a message into {field: last value} and {field: [all values]}."""
    last, every = {}, {}
    for f, _wt, v in parse(buf):
        last[f] = v
        every.setdefault(f, []).append(v)
    return last, every


def frame(body_field, body):
    """Encode a Frame with the oneof member `body_field` set to `body`."""
    return f_bytes(body_field, body)


def unframe(buf):
    """Decode a Frame: returns (body_field, body bytes). Last set wins."""
    items = parse(buf)
    if not items:
        raise PbError("frame body not set")
    f, wt, v = items[-1]
    if wt != 2:
        raise PbError("frame body with wire type %d" % wt)
    return f, v


# --- the messages used by the spec tests -----------------------------------

def descriptor_upload(signed_descriptor):
    return frame(DESCRIPTOR_UPLOAD, f_bytes(1, signed_descriptor))


def document_request(epoch):
    return frame(DOCUMENT_REQUEST, f_uint(1, epoch))


def fetch_request(max_messages=0, acks=()):
    """FetchRequest; `acks` are the seqs handled since the last request
    (field 2, packed, as the deprecated FetchAck's)."""
    body = f_uint(1, max_messages)
    if acks:
        body += f_bytes(2, b"".join(varint(s) for s in acks))
    return frame(FETCH_REQUEST, body)


def fetch_ack(seqs):
    # Deprecated (acks ride in FetchRequest); gateways accept it from old clients.
    # proto3 repeated uint64 is packed by default; a decoder must accept both
    # packed and unpacked, so the packed form is the stronger check.
    packed = b"".join(varint(s) for s in seqs)
    return frame(FETCH_ACK, f_bytes(1, packed))


def sphinx_packet(packet):
    return frame(SPHINX_PACKET, f_bytes(1, packet))


def decode_upload_reply(body):
    last, _ = fields(body)
    reason = last.get(2, b"")
    return bool(last.get(1, 0)), reason.decode("utf-8", "replace")


def decode_document_response(body):
    last, _ = fields(body)
    return last.get(1, 0), last.get(2, b"")


def decode_error(body):
    last, _ = fields(body)
    return last.get(1, 0), last.get(2, b"").decode("utf-8", "replace")


def decode_fetch_response(body):
    """-> (list of dicts {seq, payload, surb_id, is_reply}, remaining)."""
    last, every = fields(body)
    msgs = []
    for m in every.get(1, []):
        ml, _ = fields(m)
        msgs.append({"seq": ml.get(1, 0), "payload": ml.get(2, b""),
                     "surb_id": ml.get(3, b""), "is_reply": bool(ml.get(4, 0))})
    return msgs, last.get(2, 0)
