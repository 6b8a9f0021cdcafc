#!/usr/bin/python3
"""netgen: every host's configuration of a whole mixnet, from a list of hosts.

    deploy/netgen.py HOSTS OUT [--bin DIR] [--pubkeys FILE] [--epoch 20m]
                     [--genesis UNIX] [--threshold K] [options of the network]

HOSTS lists one participant a line (`#` starts a comment):

    authority NAME HOST:PORT [metrics=HOST:PORT]
    gateway   NAME HOST:PORT [metrics=HOST:PORT]     (gateway and provider)
    mix       NAME HOST:PORT layer=L [metrics=HOST:PORT]
    client    NAME gateway=GATEWAY_NAME

For each NAME, OUT/NAME/ receives what that host needs, laid out as on the
host: etc/mixnet/{dir,node,client}.ini, the systemd unit, and INSTALL (the
commands to run there).  OUT/authorities.txt holds the `authority =` lines,
OUT/registration.txt the `node =` lines every authority's [registration]
lists (already in each dir.ini).

Keys: by default they are made here with the programs' own keygen commands
(--bin, default ./build) into OUT/NAME/var/lib/{mixdir,mixnode}/ (copy them
to the host over a secure channel, then delete them here).  To make every
key on its own host instead, run once without --pubkeys: each OUT/NAME/INSTALL
starts with the keygen command; collect what they print, one `NAME LINE`
a line (`auth1 authority = ...`, `gw1 node = ...`), and run again with
--pubkeys FILE: no secret key is made or kept here.

deploy/testnet writes its configurations with the functions below, so the
testnet runs exactly what this generator writes.  Standard library only.
"""

import argparse
import base64
import hashlib
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


class Fail(Exception):
    """A user-facing error: printed as one line, exit status 1."""


def network_timing(epoch):
    """Vote lead, exchange window and grace for an epoch length (seconds)."""
    lead = max(3, min(30, epoch // 5))
    return lead, max(1, lead // 3), max(2, min(60, epoch // 10))


def dir_ini(e, auth_lines, reg_lines, net, extra=""):
    """An authority's configuration.  e: listen host/port, data; net: the
    [network] parameters (threshold, epoch, genesis, layers, rates...)."""
    lead, window, grace = network_timing(net["epoch"])
    return ("[mixdir]\nlisten = %s:%d\ndata_dir = %s\nlog_level = info\n%s"
            "[network]\n%sthreshold = %d\nepoch_length = %ds\ngenesis = %d\ngrace = %ds\n"
            "vote_lead = %ds\nexchange_window = %ds\nmax_hops = %d\nlayers = %d\n"
            "mean_delay = %s\nmax_delay = 2s\nlambda_p = %s\nlambda_l = %s\n"
            "lambda_d = %s\nlambda_m = %s\nstrategy = poisson\nsphinx_format = %s\n"
            "[registration]\n%s") % (
        e["host"], e["port"], e["data"], extra, "".join(l + "\n" for l in auth_lines),
        net["threshold"], net["epoch"], net["genesis"], grace, lead, window,
        max(5, net["layers"] + 2), net["layers"], net["mean_delay"], net["lambda_p"],
        net["lambda_l"], net["lambda_d"], net["lambda_m"], net.get("sphinx_format", "classic"),
        "".join(l + "\n" for l in reg_lines))


def directory_lines(auth_lines):
    """The [directory] authority lines of nodes and clients."""
    return "".join("authority = " + l.split(" = ", 1)[1] + "\n" for l in auth_lines)


def node_ini(e, auth_lines, threshold, metrics=None, extra=""):
    """A gateway's or mix's configuration: the authorities and the threshold
    are all it knows of the network (the rest is in the signed document)."""
    layer = "layer = %d\n" % e["layer"] if e["role"] == "mix" else ""
    m = "metrics_listen = %s\n" % metrics if metrics else ""
    return ("[node]\ndata_dir = %s\nlisten = %s:%d\n%sroles = %s\n%s%s"
            "log_level = info\n[directory]\n%sthreshold = %d\npoll_interval = 2s\n") % (
        e["data"], e.get("listen_host", e["host"]), e["port"],
        "address = %s:%d\n" % (e["host"], e["port"]) if e.get("listen_host") else "",
        e["role"], layer, m + extra, directory_lines(auth_lines), threshold)


def client_ini(e, auth_lines, threshold, gateway_id, extra=""):
    return ("[client]\ndata_dir = %s\ngateway = %s\n%slog_level = info\n[directory]\n"
            "%sthreshold = %d\npoll_interval = 3s\n") % (
        e["data"], gateway_id, extra, directory_lines(auth_lines), threshold)


def node_id_of(identity_b64):
    """BLAKE2b-256 of the Ed25519 identity key, base64url (as keygen prints it)."""
    raw = base64.urlsafe_b64decode(identity_b64 + "=" * (-len(identity_b64) % 4))
    if len(raw) != 32:
        raise Fail("bad identity key %r" % identity_b64)
    return base64.urlsafe_b64encode(hashlib.blake2b(raw, digest_size=32).digest()) \
        .decode().rstrip("=")


def run(argv):
    r = subprocess.run(argv, capture_output=True, text=True)
    if r.returncode != 0:
        raise Fail("%s failed: %s" % (" ".join(argv[:3]), (r.stderr or r.stdout).strip()))
    return r.stdout


def keygen_authority(bindir, data, addr):
    out = run([os.path.join(bindir, "mixdir"), "keygen", "-d", data, "-a", addr]).strip()
    if not out.startswith("authority = "):
        raise Fail("unexpected `mixdir keygen` output: %r" % out)
    return out


def keygen_node(bindir, data):
    out = run([os.path.join(bindir, "mixnode"), "keygen", "-d", data])
    kv = dict(l.split(" = ", 1) for l in out.splitlines() if " = " in l)
    return kv["identity_key"], kv["node_id"]


# ------------------------------------------------------------------ the CLI

ROLES = {"authority": "authority", "gateway": "gateway,provider", "mix": "mix",
         "client": "client"}
UNITS = {"authority": "mixdir", "gateway": "mixnode", "mix": "mixnode", "client": "mixclient"}
CONF = {"authority": "dir.ini", "gateway": "node.ini", "mix": "node.ini", "client": "client.ini"}
DATA = {"authority": "/var/lib/mixdir", "gateway": "/var/lib/mixnode", "mix": "/var/lib/mixnode",
        "client": "/var/lib/mixclient"}


def parse_hosts(path, prefix=""):
    ents, names = [], set()
    with open(path) as f:
        for n, raw in enumerate(f, 1):
            words = raw.split("#", 1)[0].split()
            if not words:
                continue
            where = "%s:%d" % (path, n)
            if words[0] not in ROLES or len(words) < 2:
                raise Fail("%s: want ROLE NAME ..., ROLE one of %s" % (where, ", ".join(ROLES)))
            e = {"kind": words[0], "name": words[1], "role": ROLES[words[0]], "layer": 0}
            if e["name"] in names:
                raise Fail("%s: %s named twice" % (where, e["name"]))
            names.add(e["name"])
            rest = words[2:]
            if e["kind"] != "client":
                if not rest or ":" not in rest[0]:
                    raise Fail("%s: %s needs HOST:PORT" % (where, e["name"]))
                host, port = rest[0].rsplit(":", 1)
                e["host"], e["port"] = host, int(port)
                rest = rest[1:]
            for w in rest:
                k, _, v = w.partition("=")
                if k == "layer":
                    e["layer"] = int(v)
                elif k == "metrics":
                    e["metrics"] = v
                elif k == "gateway":
                    e["gateway"] = v
                else:
                    raise Fail("%s: unknown %r" % (where, w))
            if e["kind"] == "mix" and e["layer"] < 1:
                raise Fail("%s: a mix needs layer=L (1 or more)" % where)
            if e["kind"] == "client" and "gateway" not in e:
                raise Fail("%s: a client needs gateway=NAME" % where)
            e["data"] = prefix + DATA[e["kind"]] + ("/" + e["name"] if prefix else "")
            ents.append(e)
    by = {e["name"]: e for e in ents}
    for e in ents:
        if e["kind"] == "client" and by.get(e["gateway"], {}).get("kind") != "gateway":
            raise Fail("client %s: %s is not a gateway" % (e["name"], e["gateway"]))
    if not any(e["kind"] == "authority" for e in ents):
        raise Fail("%s: no authority" % path)
    return ents


def read_pubkeys(path):
    keys = {}
    with open(path) as f:
        for raw in f:
            if raw.strip() and not raw.startswith("#"):
                name, line = raw.strip().split(None, 1)
                keys[name] = line
    return keys


INSTALL = """# {name}: {kind}.  Run on that host, from this directory, as root.
{keys}cp -r etc / && mkdir -p {data}
{copykeys}install -m 0644 {unit}.service /etc/systemd/system/   # or use `make install`'s unit
chown -R mixnet:mixnet {data}
{check}
systemctl daemon-reload && systemctl enable --now {unit}
"""


def generate(a):
    ents = parse_hosts(a.hosts, a.data_prefix)
    pub = read_pubkeys(a.pubkeys) if a.pubkeys else None
    os.makedirs(a.out, exist_ok=True)
    auths = [e for e in ents if e["kind"] == "authority"]
    nodes = [e for e in ents if e["kind"] in ("gateway", "mix")]
    missing = []
    for e in auths + nodes:
        root = os.path.join(a.out, e["name"])
        addr = "%s:%d" % (e["host"], e["port"])
        if pub is not None:
            line = pub.get(e["name"])
            if not line:
                missing.append(e["name"])
                continue
            if e["kind"] == "authority":
                e["line"] = line
            else:
                e["identity"] = line.split(" = ", 1)[1].strip()
                e["node_id"] = node_id_of(e["identity"])
        elif not a.no_keys:
            kd = e["data"] if a.data_prefix else os.path.join(root, e["data"].lstrip("/"))
            if e["kind"] == "authority":
                e["line"] = keygen_authority(a.bin, kd, addr)
            else:
                e["identity"], e["node_id"] = keygen_node(a.bin, kd)
    if a.no_keys or missing:
        for e in auths + nodes:
            cmd = ("mixdir keygen -d %s -a %s:%d" % (e["data"], e["host"], e["port"])
                   if e["kind"] == "authority" else "mixnode keygen -d %s" % e["data"])
            os.makedirs(os.path.join(a.out, e["name"]), exist_ok=True)
            with open(os.path.join(a.out, e["name"], "KEYGEN"), "w") as f:
                f.write("# on %s, as the mixnet user; send back the `authority =` or `node =`\n"
                        "# line it prints, as: %s LINE\nrunuser -u mixnet -- %s\n"
                        % (e["name"], e["name"], cmd))
        if missing:
            raise Fail("--pubkeys has no line for: %s" % ", ".join(missing))
        print("netgen: no keys made; run OUT/NAME/KEYGEN on each host, collect the lines "
              "as `NAME LINE` and run again with --pubkeys FILE")
        return
    auth_lines = [e["line"] for e in auths]
    reg = ["node = %s" % e["identity"] for e in nodes]
    k = a.threshold or len(auths) // 2 + 1
    layers = max([e["layer"] for e in nodes] + [1])
    net = {"threshold": k, "epoch": a.epoch, "genesis": a.genesis, "layers": layers,
           "mean_delay": a.mean_delay, "lambda_p": a.lambda_p, "lambda_l": a.lambda_l,
           "lambda_d": a.lambda_d, "lambda_m": a.lambda_m}
    by = {e["name"]: e for e in ents}
    for e in ents:
        root = os.path.join(a.out, e["name"])
        os.makedirs(os.path.join(root, "etc/mixnet"), exist_ok=True)
        conf = os.path.join(root, "etc/mixnet", CONF[e["kind"]])
        if e["kind"] == "authority":
            ex = "metrics_listen = %s\n" % e["metrics"] if e.get("metrics") else ""
            text = dir_ini(dict(e, host="0.0.0.0"), auth_lines, reg, net, ex)
        elif e["kind"] == "client":
            text = client_ini(e, auth_lines, k, by[e["gateway"]]["node_id"])
        else:
            text = node_ini(dict(e, listen_host="0.0.0.0"), auth_lines, k,
                            e.get("metrics", "127.0.0.1:9100"))
        with open(conf, "w") as f:
            f.write(text)
        unit = UNITS[e["kind"]]
        shutil.copy(os.path.join(HERE, "systemd", unit + ".service"), root)
        keys = "" if pub is None else "# the keys were made here before (KEYGEN)\n"
        copykeys = "" if pub is not None or e["kind"] == "client" or a.data_prefix else \
            "cp -r var / && rm -r var   # the secret keys: nowhere else\n"
        check = {"mixdir": "mixdir -n -c /etc/mixnet/dir.ini",
                 "mixnode": "mixnode -n -c /etc/mixnet/node.ini",
                 "mixclient": "runuser -u mixnet -- mixclient -c /etc/mixnet/client.ini init"}[unit]
        with open(os.path.join(root, "INSTALL"), "w") as f:
            f.write(INSTALL.format(name=e["name"], kind=e["kind"], keys=keys, data=e["data"],
                                   copykeys=copykeys, unit=unit, check=check))
    with open(os.path.join(a.out, "authorities.txt"), "w") as f:
        f.write("".join(l + "\n" for l in auth_lines))
    with open(os.path.join(a.out, "registration.txt"), "w") as f:
        f.write("".join(l + "\n" for l in reg))
    print("netgen: %d authorities (threshold %d), %d nodes in %d layers, %d clients -> %s"
          % (len(auths), k, len(nodes), layers, len(ents) - len(auths) - len(nodes), a.out))


def duration_s(text):
    units = {"s": 1, "m": 60, "h": 3600}
    if text[-1:] in units:
        return int(text[:-1]) * units[text[-1]]
    return int(text)


def main():
    p = argparse.ArgumentParser(prog="netgen", description=__doc__.split("\n")[0])
    p.add_argument("hosts")
    p.add_argument("out")
    p.add_argument("--bin", default=os.environ.get("MIX_BIN", "build"),
                   help="where mixdir and mixnode are (keygen)")
    p.add_argument("--pubkeys", help="public key lines made on the hosts (NAME LINE)")
    p.add_argument("--no-keys", action="store_true", help="write KEYGEN commands only")
    p.add_argument("--data-prefix", default="",
                   help="put data directories (and keys) under this directory, each in "
                        "PREFIX/var/lib/SERVICE/NAME: to try the whole network on one machine")
    p.add_argument("--epoch", type=duration_s, default=1200, help="epoch length (20m)")
    p.add_argument("--genesis", type=int, default=0,
                   help="Unix time epoch 1 starts (default: the next hour)")
    p.add_argument("--threshold", type=int, default=0, help="default: a majority")
    p.add_argument("--mean-delay", default="50ms")
    p.add_argument("--lambda-p", default="2.0")
    p.add_argument("--lambda-l", default="0.5")
    p.add_argument("--lambda-d", default="0.5")
    p.add_argument("--lambda-m", default="0.5")
    a = p.parse_args()
    if not a.genesis:
        a.genesis = (int(time.time()) // 3600 + 1) * 3600
    try:
        generate(a)
    except (Fail, OSError, ValueError) as ex:
        print("netgen: error: %s" % ex, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
