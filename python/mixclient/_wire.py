"""The daemon's local socket protocol (docs/spec/client.md, "Local socket").

Each way, a stream of mixnet.Frame protobuf messages (proto/mixnet.proto,
docs/spec/wire.md "Messages"), each preceded by its length as 4 bytes
big-endian.  Only the Local* messages are needed here, so this module
encodes and decodes the protobuf wire format itself (varints and
length-delimited fields) and needs no protobuf library.
"""

import struct

# Field numbers of the Frame oneof (wire.md).
ERROR = 13
LOCAL_SEND = 20
LOCAL_SEND_REPLY = 21
LOCAL_RECV = 22
LOCAL_MESSAGE = 23
LOCAL_RECV_END = 24
LOCAL_REPLY = 25
LOCAL_STATUS = 26
LOCAL_STATUS_REPLY = 27

# The largest frame the daemon sends or accepts (client/local.h).
MAX_FRAME = (4 << 20) + 65536


class WireError(ValueError):
    """Bytes that are not a valid frame."""


def _varint(n):
    if n < 0:
        raise WireError("negative varint")
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _read_varint(buf, pos):
    n = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise WireError("truncated or overlong varint")
        b = buf[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, pos


def f_uint(field, value):
    """A varint field (proto3 leaves out the default 0 / false)."""
    value = int(value)
    return b"" if value == 0 else _varint(field << 3) + _varint(value)


def f_bytes(field, value):
    """A length-delimited field: bytes, string or sub-message (empty ones left out)."""
    if isinstance(value, str):
        value = value.encode("utf-8")
    if not value:
        return b""
    return _varint((field << 3) | 2) + _varint(len(value)) + bytes(value)


def fields(buf):
    """Parse a message into {field: [values]}: ints for varints, bytes otherwise."""
    out = {}
    pos = 0
    buf = bytes(buf)
    while pos < len(buf):
        k, pos = _read_varint(buf, pos)
        field, wt = k >> 3, k & 7
        if field == 0:
            raise WireError("field number 0")
        if wt == 0:
            v, pos = _read_varint(buf, pos)
        elif wt == 2:
            n, pos = _read_varint(buf, pos)
            if pos + n > len(buf):
                raise WireError("truncated field %d" % field)
            v, pos = buf[pos:pos + n], pos + n
        elif wt == 1:
            if pos + 8 > len(buf):
                raise WireError("truncated fixed64")
            v, pos = struct.unpack_from("<Q", buf, pos)[0], pos + 8
        elif wt == 5:
            if pos + 4 > len(buf):
                raise WireError("truncated fixed32")
            v, pos = struct.unpack_from("<I", buf, pos)[0], pos + 4
        else:
            raise WireError("unsupported wire type %d" % wt)
        out.setdefault(field, []).append(v)
    return out


def one(fs, field, default):
    """The last value of a field (proto3: the last one wins), or default."""
    v = fs.get(field)
    return v[-1] if v else default


def frame(kind, body):
    """A Frame with body `kind` (a Local* field number) holding message bytes body."""
    # An empty sub-message is still present: the oneof says which it is.
    return _varint((kind << 3) | 2) + _varint(len(body)) + body


def parse_frame(buf):
    """(kind, body bytes) of a Frame."""
    fs = fields(buf)
    if len(fs) != 1:
        raise WireError("a frame has exactly one body")
    (kind, vals), = fs.items()
    if not isinstance(vals[-1], (bytes, bytearray)):
        raise WireError("frame body is not a message")
    return kind, bytes(vals[-1])


def pack(frame_bytes):
    """Length-prefixed for the socket."""
    if len(frame_bytes) > MAX_FRAME:
        raise WireError("frame of %d bytes exceeds the %d-byte limit" % (len(frame_bytes), MAX_FRAME))
    return struct.pack(">I", len(frame_bytes)) + frame_bytes


# ---------------------------------------------------------------- messages

def local_send(address, message, reply_surbs=0):
    return frame(LOCAL_SEND, f_bytes(1, address) + f_bytes(2, message) + f_uint(3, reply_surbs))


def local_reply(message_id, body):
    return frame(LOCAL_REPLY, f_bytes(1, message_id) + f_bytes(2, body))


def local_recv(follow=False, max_messages=0):
    return frame(LOCAL_RECV, f_uint(1, follow) + f_uint(2, max_messages))


def local_status(message_id=b""):
    return frame(LOCAL_STATUS, f_bytes(1, message_id))


def send_reply(body):
    fs = fields(body)
    return {"message_id": bytes(one(fs, 1, b"")), "code": one(fs, 2, 0),
            "reason": bytes(one(fs, 3, b"")).decode("utf-8", "replace")}


def message(body):
    fs = fields(body)
    return {"message_id": bytes(one(fs, 1, b"")), "body": bytes(one(fs, 2, b"")),
            "can_reply": bool(one(fs, 3, 0)), "received_at": one(fs, 4, 0),
            "is_reply": bool(one(fs, 5, 0)), "in_reply_to": bytes(one(fs, 6, b""))}


def recv_end(body):
    fs = fields(body)
    return {"count": one(fs, 1, 0), "remaining": one(fs, 2, 0)}


def _message_status(body):
    fs = fields(body)
    return {"id": bytes(one(fs, 1, b"")), "state": one(fs, 2, 0), "fragments": one(fs, 3, 0),
            "acked": one(fs, 4, 0), "time": one(fs, 5, 0), "size": one(fs, 6, 0),
            "direction": one(fs, 7, 0), "peer": bytes(one(fs, 8, b"")).decode("utf-8", "replace")}


def status_reply(body):
    fs = fields(body)
    return {"messages": [_message_status(m) for m in fs.get(1, [])],
            "address": bytes(one(fs, 2, b"")).decode("utf-8", "replace"),
            "epoch": one(fs, 3, 0), "connected": bool(one(fs, 4, 0)),
            "gateway_id": bytes(one(fs, 5, b"")), "queue_len": one(fs, 6, 0),
            "lambda_p_mhz": one(fs, 7, 0), "fragment_len": one(fs, 8, 0)}


def error(body):
    fs = fields(body)
    return {"code": one(fs, 1, 0), "reason": bytes(one(fs, 2, b"")).decode("utf-8", "replace")}
