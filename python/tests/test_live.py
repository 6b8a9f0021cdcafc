"""The mixclient Python package against two live daemons (a and b) on a
loopback testnet.  Run by tests/integration/client_python.sh, which sets
MIXCLIENT_TEST_A / MIXCLIENT_TEST_B (config files) and MIXCLIENT_TEST_ADDR_A /
MIXCLIENT_TEST_ADDR_B; skipped without them."""

import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import mixclient  # noqa: E402

A = os.environ.get("MIXCLIENT_TEST_A")
B = os.environ.get("MIXCLIENT_TEST_B")


def until(what, pred, timeout=60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError("timed out waiting for " + what)


@unittest.skipUnless(A and B, "no live daemons (run by tests/integration/client_python.sh)")
class Live(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.a = mixclient.Client(config=A)
        cls.b = mixclient.Client(config=B)
        cls.addr_a = os.environ["MIXCLIENT_TEST_ADDR_A"]
        cls.addr_b = os.environ["MIXCLIENT_TEST_ADDR_B"]

    def test_1_status(self):
        st = self.a.status()
        self.assertEqual(st.address, self.addr_a)
        self.assertTrue(st.connected)
        self.assertGreater(st.epoch, 0)
        self.assertGreater(st.payload_rate, 0)
        self.assertGreater(st.fragment_len, 1000)
        self.assertEqual(self.b.address(), self.addr_b)

    def test_2_send_receive_reply(self):
        # a listens with a callback; b takes messages with the iterator.
        got = []
        cond = threading.Condition()

        def on_msg(m):
            with cond:
                got.append(m)
                cond.notify_all()

        listener = self.a.on_message(on_msg)
        try:
            mid = self.a.send(self.addr_b, "question from python", reply_surbs=1)
            self.assertRegex(mid, "^[0-9a-f]{32}$")
            st = self.a.wait(mid, timeout=60)
            self.assertEqual(st.state, "acknowledged", st)
            self.assertFalse(st.incoming)
            self.assertEqual(st.peer, self.addr_b)
            self.assertEqual(st.size, len("question from python"))

            def take():
                return [m for m in self.b.messages() if m.id == mid]
            msgs = until("b receives the question", take)
            q = msgs[0]
            self.assertEqual(q.text, "question from python")
            self.assertTrue(q.can_reply)
            self.assertFalse(q.is_reply)
            inc = self.b.message_status(mid)
            self.assertTrue(inc.incoming)
            self.assertEqual(inc.state, "received")

            rid = self.b.reply(q, b"answer from python")
            self.assertRegex(rid, "^[0-9a-f]{32}$")
            self.assertNotEqual(rid, mid)
            with self.assertRaises(mixclient.MixclientError) as e:
                self.b.reply(q, "again")
            self.assertEqual(e.exception.code, mixclient.E_NOT_FOUND)
            self.assertIn("reply block already used", e.exception.reason)

            with cond:
                cond.wait_for(lambda: any(m.id == rid for m in got), timeout=60)
            ans = [m for m in got if m.id == rid]
            self.assertEqual(len(ans), 1, "the reply did not reach a's callback")
            self.assertEqual(ans[0].body, b"answer from python")
            self.assertTrue(ans[0].is_reply)
            self.assertEqual(ans[0].in_reply_to, mid)
        finally:
            listener.stop()
        self.assertFalse(listener.running)
        self.assertIsNone(listener.error)

    def test_3_errors(self):
        with self.assertRaises(mixclient.MixclientError) as e:
            self.a.send(self.addr_b[:-1] + ("a" if self.addr_b[-1] != "a" else "b"), "typo")
        self.assertEqual(e.exception.code, mixclient.E_BAD_REQUEST)
        self.assertIn("bad address", e.exception.reason)
        with self.assertRaises(mixclient.MixclientError) as e:
            self.a.send(self.addr_b, b"x" * (4 * 1048576 + 1))
        self.assertIn("the limit is 4194304 bytes", e.exception.reason)
        with self.assertRaises(mixclient.MixclientError) as e:
            self.a.message_status("00" * 16)
        self.assertEqual(e.exception.code, mixclient.E_NOT_FOUND)
        with self.assertRaises(ValueError):
            self.a.reply("nothex", "x")
        with self.assertRaises(mixclient.MixclientError) as e:
            mixclient.Client(socket="/nonexistent/mixclient.sock").status()
        self.assertIn("cannot reach the daemon", e.exception.reason)

    def test_4_iterator_follow(self):
        # A follow iterator yields a message sent after it started.
        it = self.b.messages(follow=True)
        mid = self.a.send(self.addr_b, "for the follower")
        for m in it:
            if m.id == mid:
                self.assertEqual(m.text, "for the follower")
                break
        it.close()


if __name__ == "__main__":
    unittest.main()
