"""The local-socket codec of the mixclient Python package, without a daemon:
round trips, malformed input, and agreement with the C implementation
(lib/frame.c through build/tests/frame_tool, when it is built)."""

import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from mixclient import _wire  # noqa: E402
from mixclient.client import _id_bytes, socket_from_config  # noqa: E402

FRAME_TOOL = os.path.join(os.environ.get("BUILD_ABS", "build"), "tests", "frame_tool")


class Codec(unittest.TestCase):
    def test_varints_and_fields(self):
        body = _wire.f_uint(1, 300) + _wire.f_bytes(2, b"xyz") + _wire.f_uint(3, 0) + _wire.f_uint(4, 2**63)
        fs = _wire.fields(body)
        self.assertEqual(fs, {1: [300], 2: [b"xyz"], 4: [2**63]})

    def test_frames_round_trip(self):
        kind, body = _wire.parse_frame(_wire.local_send("mix1abc", b"hi", 1))
        self.assertEqual(kind, _wire.LOCAL_SEND)
        self.assertEqual(_wire.fields(body), {1: [b"mix1abc"], 2: [b"hi"], 3: [1]})
        # An empty LocalStatus is still a LocalStatus.
        kind, body = _wire.parse_frame(_wire.local_status())
        self.assertEqual((kind, body), (_wire.LOCAL_STATUS, b""))

    def test_malformed(self):
        for bad in (b"\xff", b"\x0a\x05ab", b"\x00\x01", b"\x0b", b""):
            with self.assertRaises(_wire.WireError, msg=bad):
                _wire.parse_frame(bad)
        with self.assertRaises(_wire.WireError):
            _wire.pack(b"x" * (_wire.MAX_FRAME + 1))

    def test_ids(self):
        self.assertEqual(_id_bytes("00" * 16), bytes(16))
        for bad in ("00" * 15, "zz" * 16, None):
            with self.assertRaises(ValueError):
                _id_bytes(bad)

    def test_socket_from_config(self):
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "c.ini")
            with open(p, "w") as f:
                f.write("[client]\ndata_dir = /var/lib/mc\n[directory]\nauthority = a\nauthority = b\n")
            self.assertEqual(socket_from_config(p), "/var/lib/mc/mixclient.sock")
            with open(p, "a") as f:
                f.write("[client]\nsocket = /run/mc.sock\n")
            self.assertEqual(socket_from_config(p), "/run/mc.sock")


@unittest.skipUnless(os.access(FRAME_TOOL, os.X_OK), "frame_tool not built")
class AgainstC(unittest.TestCase):
    def c_write(self, kind):
        return subprocess.run([FRAME_TOOL, "write", kind], check=True, capture_output=True).stdout

    def test_c_reads_python_send(self):
        out = subprocess.run([FRAME_TOOL, "read"], input=_wire.local_send("mix1abc", b"\x01\x02", 1),
                             check=True, capture_output=True).stdout.decode()
        self.assertEqual(out.strip(), "type=local_send address=mix1abc reply_surbs=1 message=0102")

    def test_python_reads_c_status(self):
        kind, body = _wire.parse_frame(self.c_write("local_status_reply"))
        self.assertEqual(kind, _wire.LOCAL_STATUS_REPLY)
        r = _wire.status_reply(body)
        self.assertEqual((r["address"], r["epoch"], r["connected"], r["queue_len"]), ("alice@gw", 99, True, 2))
        self.assertEqual(len(r["messages"]), 1)
        m = r["messages"][0]
        self.assertEqual((m["id"], m["state"], m["fragments"], m["acked"]), (b"0123456789abcdef", 3, 3, 3))

    def test_python_reads_c_reply_message(self):
        kind, body = _wire.parse_frame(self.c_write("local_message"))
        self.assertEqual(kind, _wire.LOCAL_MESSAGE)
        m = _wire.message(body)
        self.assertEqual(m["body"], b"an answer")
        self.assertTrue(m["is_reply"])
        self.assertFalse(m["can_reply"])
        self.assertEqual(m["in_reply_to"], b"0123456789abcdef")
        self.assertEqual(m["received_at"], 1700000000)


if __name__ == "__main__":
    unittest.main()
