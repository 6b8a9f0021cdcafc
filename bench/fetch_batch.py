#!/usr/bin/env python3
"""Fetch batch: down bytes against waiting time (issue 19; bench/README.md).

A client fetches every fetch_interval and takes at most n messages (the
batch) per fetch; every response is padded to R(n, P) bytes (wire.md "Fetch
padding").  Messages reach its inbox as a Poisson stream of lambda_P +
lambda_L per second (steady state: its loops and, on average, as many
payloads as it sends).  For each batch this prints the padded response size
and how long a message waits in the inbox (in fetch intervals: the mean, the
99th and 99.9th percentiles, and the share waiting longer than the two
intervals the sender's ack timeout allows, client/core_send.c).

Usage: python3 bench/fetch_batch.py [RATE_PER_INTERVAL [PAYLOAD_LEN]]
(defaults 2.5 and 2048: deploy/examples/dir.ini with a 1 s fetch_interval).
"""
import math
import random
import sys


def varint_len(v):
    n = 1
    while v >= 128:
        v >>= 7
        n += 1
    return n


def reach(t):
    """Smallest t' >= t with t' = 1 + len(varint(L)) + L for some L."""
    tp = t
    while True:
        for L in range(max(0, tp - 12), tp):
            if 1 + varint_len(L) + L == tp:
                return tp
        tp += 1


def waits(lam, batch, rounds, rng):
    q, out, nxt = [], [], rng.expovariate(lam)
    head = 0
    for k in range(1, rounds + 1):
        while nxt < k:
            q.append(nxt)
            nxt += rng.expovariate(lam)
        take = q[head:head + batch]
        head += len(take)
        out.extend(k - a for a in take)
        if head > 4096:
            q, head = q[head:], 0
    out.sort()
    return out


def main():
    lam = float(sys.argv[1]) if len(sys.argv) > 1 else 2.5
    P = int(sys.argv[2]) if len(sys.argv) > 2 else 2048
    rng = random.Random(1)
    for factor in (1.2, 1.5, 2.0):
        n = math.ceil(factor * lam)
        w = waits(lam, n, 200000, rng)
        m = len(w)
        tag = "fetch_batch_f%02d" % round(factor * 10)
        print("%s_batch %d messages" % (tag, n))
        print("%s_response_bytes %d B" % (tag, reach(n * (P + 43) + 28)))
        print("%s_wait_mean %.2f intervals" % (tag, sum(w) / m))
        print("%s_wait_p99 %.2f intervals" % (tag, w[int(0.99 * m)]))
        print("%s_wait_p999 %.2f intervals" % (tag, w[int(0.999 * m)]))
        print("%s_past_ack_timeout %.4f ratio" % (tag, sum(1 for x in w if x > 2) / m))


if __name__ == "__main__":
    main()
