#!/usr/bin/env python3
"""A small chat between two mixnet addresses, on the mixclient Python package.

    examples/chat.py -c alice.ini --to BOB_ADDRESS

Each line typed is sent to the other address; messages received are printed
as they arrive (the mixnet does not say who sent them: a chat trusts that
only the other side knows its address).  At the end of input (Ctrl-D) it
waits until what was sent is acknowledged, then exits.  Both sides run a
`mixclient daemon` with their own config.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import mixclient  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description="chat with one other mixnet address")
    ap.add_argument("-c", "--config", required=True, help="this side's mixclient config file")
    ap.add_argument("--to", required=True, help="the other side's address (mix1...)")
    ap.add_argument("--ack-timeout", type=float, default=60, help="seconds to wait for acks at the end")
    a = ap.parse_args()

    client = mixclient.Client(config=a.config)
    me = client.address()
    print("* you are %s...%s; chatting with %s...%s" % (me[:10], me[-4:], a.to[:10], a.to[-4:]),
          flush=True)

    def on_message(m):
        when = time.strftime("%H:%M:%S", time.localtime(m.received_at))
        print("[%s] < %s" % (when, m.text), flush=True)

    def on_error(e):
        print("* the daemon went away: %s" % e, flush=True)
        os._exit(1)

    listener = client.on_message(on_message, on_error)
    sent = []
    for line in sys.stdin:
        line = line.rstrip("\n")
        if not line:
            continue
        try:
            sent.append(client.send(a.to, line))
        except mixclient.MixclientError as e:
            print("* not sent: %s" % e.reason, flush=True)
            continue
        print("> %s" % line, flush=True)
    ok = True
    for mid in sent:
        st = client.wait(mid, timeout=a.ack_timeout)
        if st.state != "acknowledged":
            print("* message %s: %s" % (mid, st.state), flush=True)
            ok = False
    listener.stop()
    print("* bye (%d sent%s)" % (len(sent), "" if ok else ", not all acknowledged"), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
