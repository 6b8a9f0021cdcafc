/*
 * mixabuse: the attacker of tests/abuse/.  Opens many connections from
 * several loopback source addresses (127.0.0.2, 127.0.1.2, ..., one /24
 * apart, or from --src-base A.B.C.D on) and abuses
 * them the way a stranger would; prints what it managed on its last line.
 *
 *   mixabuse fetch-flood --addr H:P --key B64 --links N --seconds S [--srcs K]
 *       N client links that send FetchRequests (about 800 a second each)
 *       and never read a byte once the handshake is done (with --doc:
 *       DocumentRequests, to an authority).
 *   mixabuse idle --addr H:P [--key B64] --links N --seconds S [--srcs K]
 *                 [--role client|node] [--tcp]
 *       hold N links open and silent (with --tcp: bare TCP connections, no
 *       handshake, i.e. half-open links, or idle HTTP connections); every
 *       one the server closes is opened again after --reopen-ms (default 50).
 *   mixabuse create --addr H:P --key B64 --links N --seconds S [--srcs K]
 *       fresh keys, one after another on N links: each sends one
 *       FetchRequest (which creates its inbox), closes at the answer and
 *       opens again with a new key.
 *   mixabuse storm --addr H:P --links N [--srcs K]
 *       open N TCP connections as fast as possible, close each at once;
 *       prints how many the server accepted (read no EOF/RST before close).
 *
 * --key is the server's X25519 link key (base64).  Exit 0 unless the
 * arguments are bad; the caller checks the server's counters.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "keyfile.h"
#include "link.h"
#include "rng.h"

struct alink {
    int fd;
    struct link *l;
    bool connecting, up;
    double reopen_at; /* closed: open again at this time */
};

struct opts {
    struct sockaddr_in dst;
    uint8_t remote_pk[32];
    bool have_key, tcp, doc, small_rcvbuf, create;
    double reopen_s;
    enum link_role role;
    unsigned links, srcs;
    uint32_t src_base; /* first source address (host order) */
    double seconds;
};

static uint64_t opened, established, reopened;

static void die(const char *m)
{
    fprintf(stderr, "mixabuse: %s\n", m);
    exit(2);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void al_close(struct alink *a)
{
    if (a->fd >= 0)
        close(a->fd);
    link_free(a->l);
    memset(a, 0, sizeof(*a));
    a->fd = -1;
}

/* Connect link i from source 127.0.0.(2 + i % srcs), non-blocking. */
static void al_open(struct alink *a, unsigned i, const struct opts *o)
{
    struct sockaddr_in src;
    struct mix_rng rng = mix_rng_system();
    uint8_t sk[32], pk[32];

    al_close(a);
    a->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (a->fd < 0)
        return;
    memset(&src, 0, sizeof(src));
    src.sin_family = AF_INET;
    /* Sources base, base + 256, ...: distinct addresses in distinct /24s. */
    src.sin_addr.s_addr = htonl(o->src_base + ((o->srcs ? i % o->srcs : 0) << 8));
    int one = 1, small = 4096;
    (void)setsockopt(a->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    /* A flooder that never reads: its own buffer need not absorb the answers. */
    if (o->small_rcvbuf)
        (void)setsockopt(a->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    if (bind(a->fd, (struct sockaddr *)&src, sizeof(src)) < 0 ||
        (connect(a->fd, (struct sockaddr *)&o->dst, sizeof(o->dst)) < 0 && errno != EINPROGRESS)) {
        al_close(a);
        return;
    }
    opened++;
    a->connecting = true;
    if (o->tcp)
        return;
    randombytes_buf(sk, 32);
    crypto_scalarmult_base(pk, sk);
    a->l = link_new_initiator(sk, pk, o->remote_pk, o->role, 0, &rng);
    sodium_memzero(sk, sizeof(sk));
    if (!a->l || link_start(a->l) != LINK_OK)
        al_close(a);
}

static void al_write(struct alink *a)
{
    const uint8_t *p;
    size_t len;
    if (!a->l)
        return;
    for (;;) {
        link_output(a->l, &p, &len);
        if (len == 0)
            return;
        ssize_t w = send(a->fd, p, len, MSG_NOSIGNAL);
        if (w <= 0) {
            if (w < 0 && errno != EAGAIN && errno != EINTR)
                al_close(a);
            return;
        }
        link_consume_output(a->l, (size_t)w);
    }
}

static void queue_fetch(struct alink *a, bool doc);
static uint64_t answers;

/* Read what there is; false once the server closed the connection (or, with
 * create, once the answer to our one fetch came). */
static bool al_read(struct alink *a, bool create)
{
    uint8_t buf[65536];
    ssize_t n = recv(a->fd, buf, sizeof(buf), 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
        return false;
    if (n > 0 && a->l) {
        if (link_feed(a->l, buf, (size_t)n) != LINK_OK)
            return false;
        const uint8_t *f;
        size_t fl;
        bool got = false;
        while (link_next_frame(a->l, &f, &fl) == 1)
            got = true;
        if (got && create && a->up) {
            answers++;
            return false;
        }
        if (!a->up && link_is_established(a->l)) {
            a->up = true;
            established++;
            if (create)
                queue_fetch(a, false);
        }
    }
    return true;
}

static void queue_fetch(struct alink *a, bool doc)
{
    struct mix_frame f;
    uint8_t buf[64];
    size_t len = 0;
    memset(&f, 0, sizeof(f));
    f.type = doc ? FRAME_DOCUMENT_REQUEST : FRAME_FETCH_REQUEST;
    if (link_output_pending(a->l) < 65536 && frame_encode(&f, buf, sizeof(buf), &len, NULL))
        if (link_send_frame(a->l, buf, len) != LINK_OK)
            return;
}

/*
 * One loop for every mode.  flood: established links send fetches and are
 * never read again; otherwise links are read (to notice a close) and
 * reopened when the server closes them.
 */
static void run(const struct opts *o, bool flood)
{
    struct alink *a = calloc(o->links, sizeof(*a));
    struct pollfd *pf = calloc(o->links, sizeof(*pf));
    if (!a || !pf)
        die("out of memory");
    for (unsigned i = 0; i < o->links; i++) {
        a[i].fd = -1;
        al_open(&a[i], i, o);
    }
    double end = now_s() + o->seconds, next_fetch = 0;
    while (now_s() < end) {
        bool fetch_now = flood && now_s() >= next_fetch;
        if (fetch_now)
            next_fetch = now_s() + 0.005;
        for (unsigned i = 0; i < o->links; i++) {
            pf[i].fd = a[i].fd;
            pf[i].events = 0;
            pf[i].revents = 0;
            if (a[i].fd < 0)
                continue;
            if (a[i].up && flood) {
                for (int k = 0; fetch_now && k < 4; k++)
                    queue_fetch(&a[i], o->doc);
                if (link_output_pending(a[i].l))
                    pf[i].events = POLLOUT;
                continue;
            }
            pf[i].events = POLLIN;
            if (a[i].connecting || (a[i].l && link_output_pending(a[i].l)))
                pf[i].events |= POLLOUT;
        }
        (void)poll(pf, o->links, 5);
        for (unsigned i = 0; i < o->links; i++) {
            if (a[i].fd < 0) {
                if (now_s() >= a[i].reopen_at) {
                    reopened++;
                    al_open(&a[i], i, o);
                }
                continue;
            }
            if (pf[i].revents & (POLLERR | POLLHUP)) {
                if (!(a[i].up && flood)) {
                    al_close(&a[i]);
                    a[i].reopen_at = now_s() + o->reopen_s;
                }
                continue;
            }
            if (pf[i].revents & POLLOUT) {
                a[i].connecting = false;
                al_write(&a[i]);
            }
            if ((pf[i].revents & POLLIN) && !al_read(&a[i], o->create)) {
                al_close(&a[i]);
                a[i].reopen_at = now_s() + o->reopen_s;
                continue;
            }
            if (a[i].fd >= 0 && a[i].l && !a[i].connecting)
                al_write(&a[i]);
        }
    }
    unsigned up = 0;
    for (unsigned i = 0; i < o->links; i++) {
        up += a[i].up || (o->tcp && a[i].fd >= 0);
        al_close(&a[i]);
    }
    printf("opened %llu established %llu reopened %llu answers %llu open_at_end %u\n",
           (unsigned long long)opened, (unsigned long long)established,
           (unsigned long long)reopened, (unsigned long long)answers, up);
    free(a);
    free(pf);
}

/* Connections opened as fast as possible; each closed once accepted or refused. */
static void storm(const struct opts *o)
{
    unsigned ok = 0;
    for (unsigned i = 0; i < o->links; i++) {
        struct alink a = { .fd = -1 };
        struct opts t = *o;
        t.tcp = true;
        al_open(&a, i, &t);
        if (a.fd < 0)
            continue;
        struct pollfd p = { a.fd, POLLOUT, 0 };
        (void)poll(&p, 1, 1000);
        /* Accepted connections stay open for a moment; refused ones are reset at once. */
        p.events = POLLIN;
        p.revents = 0;
        int r = poll(&p, 1, 50);
        if (r == 0)
            ok++;
        al_close(&a);
    }
    printf("storm %u of %u stayed open\n", ok, o->links);
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        { "addr", 1, 0, 'a' },  { "key", 1, 0, 'k' },
        { "links", 1, 0, 'n' }, { "seconds", 1, 0, 's' },
        { "srcs", 1, 0, 'S' },  { "role", 1, 0, 'r' },
        { "tcp", 0, 0, 't' },   { "src-base", 1, 0, 'B' },
        { "doc", 0, 0, 'D' },   { "reopen-ms", 1, 0, 'R' },
        { 0, 0, 0, 0 },
    };
    struct opts o = { .links = 10,
                      .srcs = 4,
                      .seconds = 5,
                      .role = LINK_ROLE_CLIENT,
                      .reopen_s = 0.05,
                      .src_base = 0x7f000002u };
    char host[64];
    int c;

    if (sodium_init() < 0 || argc < 2)
        die("usage: mixabuse fetch-flood|idle|storm --addr H:P [--key B64] ... (see source)");
    optind = 2;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'a': {
            const char *colon = strrchr(optarg, ':');
            if (!colon || (size_t)(colon - optarg) >= sizeof(host))
                die("--addr HOST:PORT");
            memcpy(host, optarg, (size_t)(colon - optarg));
            host[colon - optarg] = 0;
            o.dst.sin_family = AF_INET;
            o.dst.sin_port = htons((uint16_t)atoi(colon + 1));
            if (inet_pton(AF_INET, host, &o.dst.sin_addr) != 1)
                die("--addr: IPv4 HOST:PORT");
            break;
        }
        case 'k':
            if (!key_from_b64(optarg, o.remote_pk, 32))
                die("--key: base64 X25519 key");
            o.have_key = true;
            break;
        case 'n': o.links = (unsigned)atoi(optarg); break;
        case 's': o.seconds = atof(optarg); break;
        case 'S': o.srcs = (unsigned)atoi(optarg); break;
        case 'r': o.role = strcmp(optarg, "node") == 0 ? LINK_ROLE_NODE : LINK_ROLE_CLIENT; break;
        case 't': o.tcp = true; break;
        case 'D': o.doc = true; break;
        case 'B': {
            struct in_addr in;
            if (inet_pton(AF_INET, optarg, &in) != 1)
                die("--src-base: an IPv4 address");
            o.src_base = ntohl(in.s_addr);
            break;
        }
        case 'R': o.reopen_s = atof(optarg) / 1000.0; break;
        default: die("bad option");
        }
    }
    if (!o.dst.sin_port || o.links == 0)
        die("--addr and --links are required");
    if (!o.tcp && !o.have_key && strcmp(argv[1], "storm") != 0)
        die("--key is required (or --tcp)");
    if (strcmp(argv[1], "fetch-flood") == 0) {
        o.small_rcvbuf = true;
        run(&o, true);
    } else if (strcmp(argv[1], "idle") == 0)
        run(&o, false);
    else if (strcmp(argv[1], "create") == 0) {
        o.create = true;
        run(&o, false);
    } else if (strcmp(argv[1], "storm") == 0)
        storm(&o);
    else
        die("unknown command");
    return 0;
}
