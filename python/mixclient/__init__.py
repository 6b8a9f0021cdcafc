"""Python binding of mixclient: send and receive messages through the mixnet.

Talks to a running `mixclient daemon` over its local socket (see
mixclient(1) and docs/spec/client.md).  Example:

    import mixclient
    c = mixclient.Client(config="alice.ini")
    mid = c.send(bob_address, "hello", reply_surbs=1)
    for m in c.messages(follow=True):
        print(m.id, m.text, "reply to %s" % m.in_reply_to if m.is_reply else "")
"""

from .client import (E_BAD_REQUEST, E_INTERNAL, E_NOT_FOUND, E_NOT_READY, Client, Listener,
                     Message, MessageStatus, MixclientError, Status, socket_from_config)

__all__ = ["Client", "Listener", "Message", "MessageStatus", "MixclientError", "Status",
           "socket_from_config", "E_BAD_REQUEST", "E_NOT_READY", "E_NOT_FOUND", "E_INTERNAL"]
__version__ = "0.1.0"
