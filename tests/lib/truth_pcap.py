"""Check a mixscope ground-truth file against a capture of the client links.

    truth_pcap.py PCAP TRUTH GWPORT

The capture (tcpdump -i lo, Ethernet framing, IPv4) holds the clients'
links to the gateway on GWPORT.  For every connection the client's byte
stream is reassembled and split into Noise messages by their 2-byte length:
the first is handshake message 1, the rest are the transport messages the
truth file's frame_index counts.  For each truth line the message at that
index must exist, have the size of a Sphinx packet frame (the size most of
that connection's messages have: every stream packet is one), and its last
byte must have been captured between 2 s before the line's time (the time is
taken after send() returned) and 250 ms after it (TCP may hold bytes it was
handed, e.g. while its window is full); and the median of line time minus
capture time must lie within -1..5 ms.  Prints one summary line; exit 1 with the reason on a mismatch.
Used by tests/integration/client_truth.sh.
"""
import collections
import struct
import sys


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    scale = {0xA1B2C3D4: 1000, 0xA1B23C4D: 1}.get(magic)
    if scale is None or struct.unpack("<I", data[20:24])[0] != 1:
        raise SystemExit("FAIL: not a little-endian Ethernet pcap")
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack("<IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if incl < orig:
            raise SystemExit("FAIL: truncated packet in the capture")
        yield sec * 1000000000 + frac * scale, pkt


def client_streams(path, gwport):
    """(ip, port) -> list of (stream offset, capture ns, bytes) in stream order."""
    isn, segs = {}, collections.defaultdict(list)
    for ts, pkt in read_pcap(path):
        if len(pkt) < 34 or pkt[12:14] != b"\x08\x00" or pkt[23] != 6:
            continue
        ihl = (pkt[14] & 15) * 4
        ip_len = struct.unpack(">H", pkt[16:18])[0]
        tcp = pkt[14 + ihl:14 + ip_len]
        sport, dport, seq = struct.unpack(">HHI", tcp[:8])
        if dport != gwport:
            continue
        src = ("%d.%d.%d.%d" % tuple(pkt[26:30]), sport)
        flags = tcp[13]
        if flags & 0x02:
            isn[src] = seq
            continue
        payload = tcp[(tcp[12] >> 4) * 4:]
        if payload and src in isn:
            segs[src].append(((seq - isn[src] - 1) % (1 << 32), ts, payload))
    return segs


def messages(segs):
    """Reassemble one direction; [(length, capture ns of its last byte)], handshake first."""
    buf, stamps = bytearray(), []
    for off, ts, payload in sorted(segs, key=lambda s: (s[0], s[1])):
        if off > len(buf):
            raise SystemExit("FAIL: a gap in a captured client stream")
        new = payload[len(buf) - off:]
        buf += new
        stamps += [ts] * len(new)
    out, pos = [], 0
    while pos + 2 <= len(buf):
        n = struct.unpack(">H", buf[pos:pos + 2])[0]
        if pos + 2 + n > len(buf):
            break
        out.append((n, stamps[pos + 1 + n]))
        pos += 2 + n
    return out


def main():
    pcap, truth, gwport = sys.argv[1], sys.argv[2], int(sys.argv[3])
    streams = {k: messages(v) for k, v in client_streams(pcap, gwport).items()}
    checked, lags = 0, []
    for line in open(truth):
        if line.startswith("#"):
            continue
        t, ep, idx = line.split()
        t, idx = int(t), int(idx)
        ip, port = ep.rsplit(":", 1)
        msgs = streams.get((ip, int(port)))
        if not msgs:
            raise SystemExit("FAIL: no captured stream for %s" % ep)
        transport = msgs[1:]
        if idx >= len(transport):
            raise SystemExit("FAIL: %s has %d transport messages, truth names %d"
                             % (ep, len(transport), idx))
        size = collections.Counter(n for n, _ in transport).most_common(1)[0][0]
        n, ts = transport[idx]
        if n != size:
            raise SystemExit("FAIL: %s message %d is %d bytes, a packet frame is %d"
                             % (ep, idx, n, size))
        if ts > t + 250000000 or ts < t - 2000000000:
            raise SystemExit("FAIL: %s message %d captured at %d, truth says %d"
                             % (ep, idx, ts, t))
        lags.append(t - ts)
        checked += 1
    lags.sort()
    # The line is written right after send() returns and the bytes leave
    # during it (TCP_NODELAY): the median lag is well under a millisecond,
    # where a frame index off by one would put it near the packet gap (ms).
    if not checked or not -1000000 <= lags[len(lags) // 2] <= 5000000:
        raise SystemExit("FAIL: median line-minus-capture time %.3f ms over %d lines"
                         % (lags[len(lags) // 2] / 1e6 if lags else 0, checked))
    print("capture: %d truth lines match a packet-sized message at their index; line time "
          "minus capture time: median %.3f ms, range %.3f..%.3f ms"
          % (checked, lags[len(lags) // 2] / 1e6, lags[0] / 1e6, lags[-1] / 1e6))


main()
