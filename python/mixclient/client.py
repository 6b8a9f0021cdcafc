"""A client of the mixclient daemon's local socket.

The daemon (`mixclient daemon`) owns the client's keys and its link to the
mixnet; this module only talks to it, over the Unix socket given in its
configuration, so any number of programs can use one client identity.
Every call opens its own connection: a Client may be used from several
threads at once.
"""

import configparser
import os
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, List, Optional, Union

from . import _wire

# States of MessageStatus (proto/mixnet.proto).
STATES = {1: "queued", 2: "sent", 3: "acknowledged", 4: "failed", 5: "delivered",
          6: "receiving", 7: "received"}

# LocalSendReply / Error codes (lib/frame.h, enum frame_err_code).
E_BAD_REQUEST = 1   # bad address, too large, unknown gateway
E_NOT_READY = 2     # no verified directory yet
E_NOT_FOUND = 3     # unknown id, no reply block, reply block already used
E_INTERNAL = 7


class MixclientError(Exception):
    """The daemon refused a request (code and its reason), or cannot be reached (code 0)."""

    def __init__(self, code, reason):
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass
class Message:
    """A received message."""
    id: str                     # 32 hex digits
    body: bytes
    can_reply: bool             # carries an unused reply block: reply() works
    is_reply: bool              # an answer to one of our messages...
    in_reply_to: Optional[str]  # ...this one (32 hex digits)
    received_at: int            # Unix seconds

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")


@dataclass
class MessageStatus:
    id: str
    state: str                  # queued, sent, acknowledged, failed / receiving, received
    fragments: int
    done: int                   # fragments acknowledged (outgoing) or received (incoming)
    incoming: bool
    size: int
    time: int                   # Unix seconds
    peer: str                   # outgoing: the recipient's address; incoming: ""

    @property
    def complete(self):
        return self.state in ("acknowledged", "received")


@dataclass
class Status:
    address: str
    connected: bool
    epoch: int
    queued_packets: int
    payload_rate: float         # packets per second (lambda_P)
    fragment_len: int           # message bytes per fragment
    messages: List[MessageStatus] = field(default_factory=list)


def socket_from_config(path):
    """The socket path a mixclient INI config file gives (client.socket, else DATA_DIR/mixclient.sock)."""
    cp = configparser.ConfigParser(strict=False, interpolation=None, inline_comment_prefixes=("#", ";"))
    with open(path, encoding="utf-8") as f:
        cp.read_file(f)
    sock = cp.get("client", "socket", fallback="").strip()
    if sock:
        return sock
    data_dir = cp.get("client", "data_dir", fallback="").strip()
    if not data_dir:
        raise MixclientError(0, "%s: client.data_dir is missing" % path)
    return os.path.join(data_dir, "mixclient.sock")


def _id_bytes(msg_id):
    if isinstance(msg_id, Message):
        msg_id = msg_id.id
    try:
        b = bytes.fromhex(msg_id)
    except (TypeError, ValueError):
        b = b""
    if len(b) != 16:
        raise ValueError("a message id is 32 hex digits, not %r" % (msg_id,))
    return b


def _body_bytes(body):
    if isinstance(body, str):
        body = body.encode("utf-8")
    body = bytes(body)
    if not body:
        raise ValueError("empty message")
    return body


class _Conn:
    """One connection to the daemon: length-prefixed frames."""

    def __init__(self, path, timeout):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        try:
            self.s.connect(path)
        except OSError as e:
            self.s.close()
            raise MixclientError(0, "cannot reach the daemon at %s: %s (is `mixclient daemon` running?)"
                                 % (path, e.strerror or e)) from None

    def close(self):
        self.s.close()

    def send(self, frame):
        self.s.sendall(_wire.pack(frame))

    def _read(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.s.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return bytes(buf)

    def recv(self):
        """(kind, body) of the next frame; None if the daemon closed the connection."""
        hdr = self._read(4)
        if hdr is None:
            return None
        (n,) = struct.unpack(">I", hdr)
        if n == 0 or n > _wire.MAX_FRAME:
            raise MixclientError(0, "bad frame length %d from the daemon" % n)
        body = self._read(n)
        if body is None:
            return None
        return _wire.parse_frame(body)


class Client:
    """Send, receive, reply and ask for status through a running mixclient daemon.

    Client(config="mixclient.ini") finds the socket in the config file;
    Client(socket="/path/mixclient.sock") names it directly.
    """

    def __init__(self, config: Optional[str] = None, socket: Optional[str] = None,
                 timeout: float = 30.0):
        if socket is None:
            if config is None:
                config = os.environ.get("MIXCLIENT_CONFIG", "mixclient.conf")
            socket = socket_from_config(config)
        self.socket = socket
        self.timeout = timeout

    def _conn(self, timeout=-1):
        return _Conn(self.socket, self.timeout if timeout == -1 else timeout)

    def _request(self, frame):
        c = self._conn()
        try:
            c.send(frame)
            got = c.recv()
        finally:
            c.close()
        if got is None:
            raise MixclientError(0, "the daemon closed the connection without an answer")
        return got

    def _send_like(self, frame):
        kind, body = self._request(frame)
        if kind == _wire.ERROR:
            e = _wire.error(body)
            raise MixclientError(e["code"], e["reason"])
        if kind != _wire.LOCAL_SEND_REPLY:
            raise MixclientError(0, "unexpected answer %d from the daemon" % kind)
        r = _wire.send_reply(body)
        if r["code"] != 0:
            raise MixclientError(r["code"], r["reason"] or "refused")
        return r["message_id"].hex()

    # ------------------------------------------------------------ sending

    def send(self, address: str, body: Union[str, bytes], reply_surbs: int = 0) -> str:
        """Queue a message for address; returns its id.  reply_surbs=1 lets the recipient answer once."""
        if reply_surbs not in (0, 1):
            raise ValueError("reply_surbs is 0 or 1")
        return self._send_like(_wire.local_send(address, _body_bytes(body), reply_surbs))

    def reply(self, msg_id: Union[str, Message], body: Union[str, bytes]) -> str:
        """Answer a received message through its reply block (once); returns the reply's own id."""
        return self._send_like(_wire.local_reply(_id_bytes(msg_id), _body_bytes(body)))

    # ------------------------------------------------------------ status

    def status(self, msg_id: Optional[Union[str, Message]] = None) -> Status:
        """The link, the directory epoch, the queue and the messages (or only msg_id's)."""
        kind, body = self._request(_wire.local_status(_id_bytes(msg_id) if msg_id else b""))
        if kind != _wire.LOCAL_STATUS_REPLY:
            raise MixclientError(0, "unexpected answer %d from the daemon" % kind)
        r = _wire.status_reply(body)
        msgs = [MessageStatus(id=m["id"].hex(), state=STATES.get(m["state"], "unknown"),
                              fragments=m["fragments"], done=m["acked"],
                              incoming=m["direction"] == 2, size=m["size"], time=m["time"],
                              peer=m["peer"]) for m in r["messages"]]
        return Status(address=r["address"], connected=r["connected"], epoch=r["epoch"],
                      queued_packets=r["queue_len"], payload_rate=r["lambda_p_mhz"] / 1000.0,
                      fragment_len=r["fragment_len"], messages=msgs)

    def message_status(self, msg_id: Union[str, Message]) -> MessageStatus:
        """The status of one message; MixclientError(E_NOT_FOUND) if unknown."""
        st = self.status(msg_id)
        if len(st.messages) != 1:
            raise MixclientError(E_NOT_FOUND, "no message with id %s" % msg_id)
        return st.messages[0]

    def address(self) -> str:
        return self.status().address

    def wait(self, msg_id: Union[str, Message], timeout: float = 60.0,
             interval: float = 0.2) -> MessageStatus:
        """Poll until msg_id is acknowledged (or received) or failed, or timeout passes."""
        end = time.monotonic() + timeout
        while True:
            m = self.message_status(msg_id)
            if m.complete or m.state == "failed" or time.monotonic() >= end:
                return m
            time.sleep(interval)

    # ------------------------------------------------------------ receiving

    def messages(self, follow: bool = False, max_messages: int = 0) -> Iterator[Message]:
        """Received messages not taken yet (each is handed out once).

        follow=False: those waiting now, then the iterator ends.  follow=True:
        those and every new one as it arrives; the iterator raises
        MixclientError if the daemon goes away.  Closing the generator ends
        the connection.
        """
        c = self._open_recv(follow, max_messages)
        try:
            yield from _read_messages(c, follow)
        finally:
            c.close()

    def _open_recv(self, follow, max_messages):
        c = self._conn(None if follow else -1)
        try:
            c.send(_wire.local_recv(follow, 0 if follow else max_messages))
        except OSError as e:
            c.close()
            raise MixclientError(0, "the daemon closed the connection: %s" % e) from None
        return c

    def on_message(self, callback: Callable[[Message], None],
                   on_error: Optional[Callable[[Exception], None]] = None) -> "Listener":
        """Call callback(message) for every message received, from a background thread.

        Returns a Listener; listener.stop() ends it.  If the daemon goes away
        the thread ends and on_error(exception) is called (if given).
        """
        return Listener(self, callback, on_error)


def _read_messages(c, follow):
    while True:
        try:
            got = c.recv()
        except OSError as e:
            raise MixclientError(0, "connection to the daemon lost: %s" % e) from None
        if got is None:
            raise MixclientError(0, "the daemon closed the connection"
                                 + (" (stopped?)" if follow else " before the end"))
        kind, body = got
        if kind == _wire.LOCAL_RECV_END:
            return
        if kind != _wire.LOCAL_MESSAGE:
            raise MixclientError(0, "unexpected frame %d from the daemon" % kind)
        m = _wire.message(body)
        yield Message(id=m["message_id"].hex(), body=m["body"], can_reply=m["can_reply"],
                      is_reply=m["is_reply"],
                      in_reply_to=m["in_reply_to"].hex() if m["in_reply_to"] else None,
                      received_at=m["received_at"])


class Listener:
    """A background thread handing received messages to a callback (Client.on_message)."""

    def __init__(self, client, callback, on_error):
        self._callback = callback
        self._on_error = on_error
        self._stopped = threading.Event()
        self.error = None
        # Connected here, so that a daemon that is not running fails the call itself.
        self._conn = client._open_recv(True, 0)
        self.thread = threading.Thread(target=self._run, name="mixclient-listener", daemon=True)
        self.thread.start()

    def _run(self):
        try:
            for m in _read_messages(self._conn, True):
                if self._stopped.is_set():
                    break
                self._callback(m)
        except Exception as e:  # the daemon went away, or the callback failed
            if not self._stopped.is_set():
                self.error = e
                if self._on_error is not None:
                    self._on_error(e)
        finally:
            self._conn.close()

    def stop(self, timeout: float = 5.0):
        """Stop listening; shutting the socket down wakes the blocked read."""
        self._stopped.set()
        try:
            self._conn.s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.thread.join(timeout)

    @property
    def running(self):
        return self.thread.is_alive()
