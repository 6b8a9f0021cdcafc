/*
 * bench/gateway: how many clients one gateway core serves (issue 19).
 *
 * A one-layer test network (tests/tools/mixtest_net): the gateway under test
 * G (a real mixnode process, roles gateway,provider, one worker, pinned to
 * CPU 0 with its I/O thread), and two layer-1 mixes played by this program:
 * S, the sink G forwards every client packet to, and Y, which delivers
 * packets into the clients' inboxes at G (the last layer's side of a
 * gateway).  This program runs on the other CPUs:
 *
 *  - one libev loop holding every client link (real Noise IK links, role
 *    client, lib/link over non-blocking sockets).  Each client sends Sphinx
 *    packets at lambda_P + lambda_L + lambda_D of the document (the three
 *    Poisson streams merged: one Poisson stream of the summed rate is the
 *    same process) and fetches every FETCH_INTERVAL (random phase) with the
 *    current protocol: FetchRequest{max_messages = batch, ack = the seqs of
 *    the previous responses}, padded to Q(batch); the gateway answers with a
 *    FetchResponse padded to R(batch, P) (docs/spec/wire.md "Fetch
 *    padding").  batch is the client's default, ceil(2 (lambda_P +
 *    lambda_L) fetch_interval) within [4, 256] (client/client.c).
 *  - a thread playing Y: one node link to G carrying, per client, a Poisson
 *    stream of lambda_P + lambda_L packets for its inbox (in steady state a
 *    client receives its loops and, on average, as many payloads as it
 *    sends);
 *  - a thread playing S: counts what G forwards.
 *
 * Packets are built ahead: a pool of 2-hop packets G -> S (G unwraps a real
 * hop, zero delay) shared by all clients, and at least DELIVER_MIN one-hop
 * packets per client for its inbox.  G's replay cache is set to its minimum
 * (1024 tags, oldest evicted first), far below the cycle of either pool, so
 * each packet comes round as new and is processed in full.
 *
 * Search: start at N0 clients, double while a step passes, then bisect twice
 * between the last pass and the first failure.  A step that failed while G
 * waited for its CPU a quarter of the time or more (run-queue wait from
 * /proc/PID/task/T/schedstat: other work on a shared machine) runs once
 * more; after a failed step G is restarted, since an overloaded gateway can
 * stay wedged (bench/README.md).  A step: add (or close)
 * clients, WARMUP seconds, then WINDOW seconds measured.  It passes when
 *   - the clients sent >= 95 % of their nominal rate (the driver kept up and
 *     G kept reading), Y delivered >= 95 % of its nominal rate;
 *   - what G forwarded to S keeps up with what the clients sent (the
 *     backlog grew by less than 2 % of the window's packets), what G stored
 *     keeps up with what Y sent, no packet dropped (G's counters);
 *   - no fetch refused or answered with an error, fetch latency (request
 *     written to response read, in this program) p99 < 50 ms, a fetch still
 *     unanswered at the next one counted as late.
 *
 * Figures at the largest passing count: gateway_clients_per_core, bytes per
 * client per second each way (TCP payload bytes on the client links),
 * fetch p99, the gateway's CPU use (/proc, user + system, of one core) and
 * its split: Sphinx (the node's own unwrap histogram sum), link crypto (bytes
 * over all its links times ChaCha20-Poly1305's cost per byte measured here),
 * kernel (system time: syscalls and TCP), other (user time left: frames,
 * LMDB inbox, event loop); and the share of the down bytes that is fetch
 * padding.
 *
 * Environment: GATEWAY_BENCH_START (N0, default 200), GATEWAY_BENCH_MAX
 * (default 6000), GATEWAY_BENCH_WINDOW (seconds, default 4),
 * GATEWAY_BENCH_FETCH_MS (default 1000, the client's default
 * fetch_interval), GATEWAY_BENCH_BUDGET (seconds of search before it
 * stops stepping, default 90), GATEWAY_BENCH_DIR (where G's data and its
 * LMDB inbox store live, default /tmp; /dev/shm takes the disk out),
 * GATEWAY_BENCH_CONF (lines added to G's configuration),
 * GATEWAY_BENCH_DEBUG (each step on stderr; with GATEWAY_BENCH_TRACE the
 * client-to-sink backlog every 250 ms, with GATEWAY_BENCH_METRICS G's
 * /metrics at each read).
 * Usage: bench/gateway [MIXNODE].
 */
#include <dirent.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "../common/benchnet.h"
#include "frame.h"
#include "payload.h"
#include "sphinx.h"

#define UP_POOL 8192
/* Deliveries go round the clients in turn, each cycling through its own
 * packets: a packet comes again after DELIVER_CYCLE or more deliveries
 * (and the client packets in between), well beyond G's 1024 replay tags. */
#define DELIVER_CYCLE 1600
#define DELIVER_MIN 4
#define MAX_ACKS 256
#define P99_LIMIT_MS 50.0

static struct tnet *net;
static int idx_g, idx_s, idx_y;
static struct sphinx_geometry geom;
static size_t plen;
static uint8_t *up_pool; /* UP_POOL * plen, path G -> S */
static char mixnode_path[600];
static uint16_t metrics_port;
static pid_t gw_pid;
static double rate_up, rate_down; /* per client, packets/s */
static uint64_t fetch_ns;
static uint32_t batch;
static bool debug;

static double exp_ns(double rate)
{
    double u = ((double)randombytes_uniform(1u << 30) + 1.0) / (double)(1u << 30);
    return -log(u) / rate * 1e9;
}

/* ------------------------------------------------------------ clients */

struct client {
    int fd;
    struct link *l;
    ev_io io;
    uint8_t sk[32], pk[32];
    uint8_t *deliver;                 /* n_deliver packets for its inbox */
    unsigned n_deliver, next_deliver; /* next_deliver: used by Y's thread */
    uint64_t acks[MAX_ACKS];
    size_t n_acks;
    uint64_t fetch_sent; /* 0 = none outstanding */
    uint64_t next_send, next_fetch;
    bool alive, established;
    volatile int ready; /* first fetch answered: its inbox exists */
};

static struct client *clients;
static int n_clients; /* slots in use: [0, n_clients) */
static int cap_clients;
static volatile int n_ready_clients;              /* Y delivers to [0, this) */
static volatile int y_pause, y_paused, y_running; /* set_clients() holds Y */
static struct ev_loop *loop;
static ev_timer tick;

/* Counters (the loop thread writes, others read). */
static struct {
    uint64_t up_sent, up_bytes, down_bytes, fetches, fetch_msgs, fetch_errors, late_fetches;
    uint64_t link_failures, pad_bytes, max_pending, ack_fetches;
} cs;
static volatile uint64_t sink_count, sink_bytes, y_sent, y_bytes;
static uint64_t *lat_us; /* fetch latencies of the window */
static size_t n_lat, cap_lat;
static bool in_window;
static bool quiet; /* clients hold their streams (see quiesce()) */
/* Moments this program did not run (the loop's tick came STALL_NS late or
 * more: other work on the shared machine): a fetch over the bar that would
 * have been under it without the stalls it spans is not counted in the
 * latency figures (stall_excluded). */
#define STALL_NS 10000000u
#define MAX_STALLS 4096
static uint64_t stall_from[MAX_STALLS], stall_to[MAX_STALLS], last_tick, stall_ns_total;
static size_t n_stalls;
static uint64_t stall_excluded;

/* ns of this program's stalls within [a, b]. */
static uint64_t stalled_between(uint64_t a, uint64_t b)
{
    uint64_t sum = 0;
    for (size_t i = n_stalls; i-- > 0;) {
        if (stall_to[i] < a)
            break;
        if (stall_from[i] <= b) {
            uint64_t f = stall_from[i] > a ? stall_from[i] : a;
            uint64_t t = stall_to[i] < b ? stall_to[i] : b;
            sum += t > f ? t - f : 0;
        }
    }
    return sum;
}

static void lat_add(uint64_t sent, uint64_t t)
{
    uint64_t lim = (uint64_t)(P99_LIMIT_MS * 1e6);
    if (t - sent >= lim && t - sent - stalled_between(sent, t) < lim) {
        stall_excluded++;
        return;
    }
    if (n_lat == cap_lat) {
        cap_lat = cap_lat ? 2 * cap_lat : 4096;
        lat_us = realloc(lat_us, cap_lat * sizeof(*lat_us));
    }
    lat_us[n_lat++] = (t - sent) / 1000;
}

static void client_close(struct client *c)
{
    if (!c->alive)
        return;
    ev_io_stop(loop, &c->io);
    close(c->fd);
    link_free(c->l);
    c->l = NULL;
    c->alive = false;
}

static void client_fail(struct client *c)
{
    cs.link_failures++;
    client_close(c);
}

static void client_flush(struct client *c)
{
    const uint8_t *p;
    size_t len;
    link_output(c->l, &p, &len);
    while (len > 0) {
        ssize_t w = send(c->fd, p, len, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                client_fail(c);
            break;
        }
        cs.up_bytes += (uint64_t)w;
        link_consume_output(c->l, (size_t)w);
        link_output(c->l, &p, &len);
    }
    if (!c->alive)
        return;
    size_t pend = link_output_pending(c->l);
    if (pend > cs.max_pending && in_window)
        cs.max_pending = pend;
    int want = EV_READ | (pend ? EV_WRITE : 0);
    if ((c->io.events & (EV_READ | EV_WRITE)) != want) {
        ev_io_stop(loop, &c->io);
        ev_io_set(&c->io, c->fd, want);
        ev_io_start(loop, &c->io);
    }
}

static void client_frame(struct client *c, const struct mix_frame *f, size_t len)
{
    (void)len;
    if (f->type == FRAME_FETCH_RESPONSE) {
        uint64_t t = bnet_now_ns();
        if (c->fetch_sent && in_window)
            lat_add(c->fetch_sent, t);
        c->fetch_sent = 0;
        size_t content = 0;
        for (size_t i = 0; i < f->u.fetch_resp.n_msgs; i++) {
            if (c->n_acks < MAX_ACKS)
                c->acks[c->n_acks++] = f->u.fetch_resp.msgs[i].seq;
            content += f->u.fetch_resp.msgs[i].payload.len + 43;
        }
        cs.fetches++;
        cs.fetch_msgs += f->u.fetch_resp.n_msgs;
        size_t full = frame_fetch_response_padded_len(batch, geom.payload_len);
        cs.pad_bytes += full > content ? full - content : 0;
        if (!c->ready) {
            c->ready = 1;
        }
    } else {
        cs.fetch_errors++;
        if (debug && f->type == FRAME_ERROR)
            fprintf(stderr, "bench: gateway error %u: %s\n", f->u.error.code,
                    f->u.error.reason ? f->u.error.reason : "");
    }
}

static void client_cb(struct ev_loop *lp, ev_io *w, int revents)
{
    struct client *c = w->data;
    static uint8_t buf[1 << 16];
    (void)lp;
    if (revents & EV_READ) {
        for (;;) {
            ssize_t r = recv(c->fd, buf, sizeof(buf), 0);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                client_fail(c);
                return;
            }
            if (r < 0)
                break;
            cs.down_bytes += (uint64_t)r;
            if (link_feed(c->l, buf, (size_t)r) < 0) {
                client_fail(c);
                return;
            }
            const uint8_t *p;
            size_t len;
            while (link_next_frame(c->l, &p, &len) == 1) {
                struct mix_frame *f = NULL;
                if (frame_decode(p, len, FRAME_MAX_DEFAULT, &f, NULL))
                    client_frame(c, f, len);
                else
                    cs.fetch_errors++;
                frame_free(f);
            }
            if ((size_t)r < sizeof(buf))
                break;
        }
        if (!c->established && link_is_established(c->l))
            c->established = true;
    }
    client_flush(c);
}

static int client_send_frame(struct client *c, const struct mix_frame *f)
{
    uint8_t enc[1 << 14];
    size_t len;
    if (!c->alive || !c->established || !frame_encode(f, enc, sizeof(enc), &len, NULL))
        return -1;
    if (link_send_frame(c->l, enc, len) < 0)
        return -1;
    client_flush(c);
    return 0;
}

static void client_fetch(struct client *c)
{
    uint64_t t = bnet_now_ns();
    if (c->fetch_sent) {
        /* Unanswered after a whole interval: late (counts in p99 at the
         * interval, which is above the bar), then ask again as a client does. */
        if (in_window) {
            cs.late_fetches++;
            lat_add(c->fetch_sent, t);
        }
        return;
    }
    size_t k = c->n_acks < batch ? c->n_acks : batch;
    struct mix_frame f = { .type = FRAME_FETCH_REQUEST };
    f.u.fetch_req.max_messages = batch;
    f.u.fetch_req.acks = c->acks;
    f.u.fetch_req.n_acks = k;
    f.u.fetch_req.pad_to = frame_fetch_request_padded_len(batch);
    if (client_send_frame(c, &f) == 0) {
        c->fetch_sent = t;
        cs.ack_fetches += k > 0;
        memmove(c->acks, c->acks + k, (c->n_acks - k) * sizeof(*c->acks));
        c->n_acks -= k;
    }
}

static unsigned up_next;

static void client_send(struct client *c)
{
    struct mix_frame f = { .type = FRAME_SPHINX_PACKET };
    f.u.sphinx.packet.ptr = up_pool + (size_t)(up_next++ % UP_POOL) * plen;
    f.u.sphinx.packet.len = plen;
    if (client_send_frame(c, &f) == 0)
        cs.up_sent++;
}

/* Every millisecond: the streams and fetches that fell due (a scan: a few
 * thousand clients cost microseconds). */
static void tick_cb(struct ev_loop *lp, ev_timer *w, int revents)
{
    (void)lp;
    (void)w;
    (void)revents;
    uint64_t t = bnet_now_ns();
    if (last_tick && t - last_tick > STALL_NS && in_window && n_stalls < MAX_STALLS) {
        stall_from[n_stalls] = last_tick;
        stall_to[n_stalls++] = t;
        stall_ns_total += t - last_tick;
    }
    last_tick = t;
    for (int i = 0; i < n_clients; i++) {
        struct client *c = &clients[i];
        if (!c->alive || !c->established)
            continue;
        if (quiet) {
            /* Held: start again from now, no burst to catch up. */
            c->next_send = t + (uint64_t)exp_ns(rate_up);
            if (c->next_fetch <= t)
                c->next_fetch += fetch_ns;
            continue;
        }
        while (c->next_send <= t) {
            client_send(c);
            c->next_send += (uint64_t)exp_ns(rate_up);
        }
        if (c->next_fetch <= t) {
            client_fetch(c);
            c->next_fetch += fetch_ns;
            if (c->next_fetch <= t)
                c->next_fetch = t + fetch_ns;
        }
    }
}

/* Give c k packets for its inbox (more when there are few clients: see DELIVER_CYCLE). */
static void make_deliver(struct client *c, unsigned k)
{
    if (c->n_deliver >= k)
        return;
    struct mix_rng rng = mix_rng_system();
    struct sphinx_hop hop;
    uint8_t rcpt[32], *plain = calloc(1, sphinx_plaintext_len(&geom));
    struct tnet_node *g = &net->nodes[idx_g];
    memcpy(hop.node_id, g->id, 32);
    memcpy(hop.public_key, g->sphinx_pk[0], 32);
    hop.delay_us = 0;
    payload_inbox_id(rcpt, c->pk);
    c->deliver = realloc(c->deliver, k * plen);
    for (unsigned i = c->n_deliver; i < k; i++) {
        /* A full-size body, as a payload fragment has (the stored message
         * and the fetch responses carry payload_len bytes either way). */
        size_t pl = sphinx_plaintext_len(&geom), cap = payload_body_cap(pl, 0);
        uint8_t *body = malloc(cap);
        randombytes_buf(body, cap);
        if (payload_build(plain, pl, NULL, 0, body, cap) != PAYLOAD_OK ||
            sphinx_create(&geom, &rng, &hop, 1, rcpt, plain, pl, c->deliver + (size_t)i * plen) !=
                SPHINX_OK)
            abort();
        free(body);
    }
    /* Continue with the new ones: the old ones were just used. */
    c->next_deliver = c->n_deliver;
    c->n_deliver = k;
    free(plain);
}

static int client_open(struct client *c)
{
    struct mix_rng rng = mix_rng_system();
    struct tnet_node *g = &net->nodes[idx_g];
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(g->port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0)
        return -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
        close(c->fd);
        return -1;
    }
    c->l = link_new_initiator(c->sk, c->pk, g->link_pk, LINK_ROLE_CLIENT, 0, &rng);
    if (c->l == NULL || link_start(c->l) < 0) {
        close(c->fd);
        return -1;
    }
    c->alive = true;
    c->established = false;
    c->fetch_sent = 0;
    c->n_acks = 0;
    uint64_t t = bnet_now_ns();
    c->next_send = t + (uint64_t)exp_ns(rate_up);
    c->next_fetch = t + randombytes_uniform((uint32_t)(fetch_ns / 1000)) * 1000ull;
    ev_io_init(&c->io, client_cb, c->fd, EV_READ | EV_WRITE);
    c->io.data = c;
    ev_io_start(loop, &c->io);
    return 0;
}

static void run_for(double secs)
{
    uint64_t end = bnet_now_ns() + (uint64_t)(secs * 1e9), pr = bnet_now_ns();
    while (bnet_now_ns() < end) {
        ev_run(loop, EVRUN_ONCE);
        if (getenv("GATEWAY_BENCH_TRACE") && bnet_now_ns() > pr + 250000000) {
            pr = bnet_now_ns();
            fprintf(stderr, "trace %.2f backlog %lld\n", (double)pr / 1e9,
                    (long long)cs.up_sent - (long long)sink_count);
        }
    }
}

/* Have exactly n live, ready clients (slots [0, n)). */
static int set_clients(int n)
{
    /* Y stops while the clients and their packets change. */
    y_pause = 1;
    while (!y_paused && y_running)
        usleep(1000);
    while (n_clients > n) {
        struct client *c = &clients[--n_clients];
        client_close(c);
        c->ready = 0;
    }
    int from = n_clients;
    unsigned k = n > 0 ? (DELIVER_CYCLE + (unsigned)n - 1) / (unsigned)n : 0;
    if (k < DELIVER_MIN)
        k = DELIVER_MIN;
    for (int i = 0; i < from; i++)
        make_deliver(&clients[i], k);
    for (int i = from; i < n; i++) {
        struct client *c = &clients[i];
        if (c->n_deliver == 0)
            crypto_box_keypair(c->pk, c->sk);
        make_deliver(c, k);
        c->ready = 0;
        if (client_open(c) < 0) {
            y_pause = 0;
            fprintf(stderr, "bench: client %d: %s\n", i, strerror(errno));
            return -1;
        }
        n_clients = i + 1;
        /* Do not let a few thousand handshakes queue up at once. */
        if ((i - from) % 100 == 99)
            run_for(0.02);
    }
    uint64_t deadline = bnet_now_ns() + 20000000000ull;
    for (;;) {
        int ready = 0;
        for (int i = 0; i < n_clients; i++)
            ready += clients[i].ready;
        if (ready == n_clients)
            break;
        if (bnet_now_ns() > deadline) {
            y_pause = 0;
            fprintf(stderr, "bench: %d of %d clients ready\n", ready, n_clients);
            return -1;
        }
        run_for(0.05);
    }
    n_ready_clients = n_clients;
    y_pause = 0;
    return 0;
}

/* ------------------------------------------------------------ Y and S */

static volatile int threads_stop;

/* Y: deliveries into the ready clients' inboxes, lambda_P + lambda_L each. */
/* Y's link to G, again after G restarts (restart_gateway()). */
static int y_connect(struct blink *b)
{
    char addr[64], err[256];
    struct mix_rng rng = mix_rng_system();
    struct tnet_node *g = &net->nodes[idx_g], *y = &net->nodes[idx_y];
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", g->port);
    for (int i = 0; i < 300 && !threads_stop; i++) {
        if (blink_connect(b, addr, y->link_sk, y->link_pk, g->link_pk, LINK_ROLE_NODE, &rng, 3000,
                          err, sizeof(err)) == 0)
            return 0;
        usleep(100000);
    }
    fprintf(stderr, "bench: Y: %s\n", err);
    return -1;
}

static void *y_thread(void *a)
{
    struct blink b;
    (void)a;
    if (y_connect(&b) < 0)
        return NULL;
    uint64_t next = bnet_now_ns();
    uint8_t enc[4096];
    unsigned rr = 0;
    y_running = 1;
    while (!threads_stop) {
        if (y_pause) {
            y_paused = 1;
            usleep(1000);
            next = bnet_now_ns();
            continue;
        }
        y_paused = 0;
        int n = n_ready_clients;
        if (n == 0) {
            usleep(10000);
            next = bnet_now_ns();
            continue;
        }
        uint64_t t = bnet_now_ns();
        if (t < next) {
            struct timespec ts = { (time_t)(next / 1000000000u), (long)(next % 1000000000u) };
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
        } else if (t > next + 1000000000ull) {
            next = t; /* a stall (new clients being built): do not burst */
        }
        struct client *c = &clients[rr++ % (unsigned)n];
        struct mix_frame f = { .type = FRAME_SPHINX_PACKET };
        f.u.sphinx.packet.ptr = c->deliver + (size_t)(c->next_deliver++ % c->n_deliver) * plen;
        f.u.sphinx.packet.len = plen;
        size_t len;
        if (!frame_encode(&f, enc, sizeof(enc), &len, NULL) || blink_queue(&b, enc, len) < 0 ||
            blink_flush(&b) < 0) {
            /* G restarted: connect again. */
            blink_close(&b);
            if (y_connect(&b) < 0)
                break;
            continue;
        }
        __atomic_add_fetch(&y_sent, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&y_bytes, len, __ATOMIC_RELAXED);
        next += (uint64_t)exp_ns(rate_down * n);
    }
    blink_close(&b);
    y_running = 0;
    return NULL;
}

static int s_lfd;

/* S: what G forwards. */
static void *s_thread(void *a)
{
    struct blink b;
    struct mix_rng rng = mix_rng_system();
    struct tnet_node *s = &net->nodes[idx_s];
    (void)a;
    /* Each G (restart_gateway()) dials the sink anew. */
    while (!threads_stop) {
        if (blink_accept(&b, s_lfd, s->link_sk, s->link_pk, &rng, 1000) < 0)
            continue;
        while (!threads_stop) {
            uint8_t *fr = NULL;
            size_t len;
            int r = blink_recv(&b, &fr, &len, 10);
            if (r < 0)
                break;
            if (r > 0)
                continue;
            __atomic_add_fetch(&sink_count, 1, __ATOMIC_RELAXED);
            __atomic_add_fetch(&sink_bytes, len, __ATOMIC_RELAXED);
            free(fr);
        }
        blink_close(&b);
    }
    return NULL;
}

/* ------------------------------------------------------------ the gateway */

static pid_t start_gateway(void)
{
    char extra[1400];
    snprintf(extra, sizeof(extra),
             "[node]\nworkers = 1\nlog_level = warn\nmetrics_listen = 127.0.0.1:%u\n"
             "[limits]\nmax_connections = 100000\nmax_connections_per_addr = 100000\n"
             "max_clients = 100000\nhandshake_rate = 0\n"
             "[inbox]\nmax_inboxes = 1000000\ncreate_per_minute = 100000000\n"
             "create_burst = 100000000\ncreate_per_minute_per_prefix = 100000000\n"
             "create_burst_per_prefix = 100000000\n"
             "[replay]\ncapacity = 1024\n%s\n",
             metrics_port, getenv("GATEWAY_BENCH_CONF") ? getenv("GATEWAY_BENCH_CONF") : "");
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    return bnet_start_mixnode(net, idx_g, mixnode_path, extra, &set);
}

/* Seconds G's threads waited on a run queue (runnable, not running:
 * other work on its CPU), summed over its threads (/proc/PID/task/T/schedstat). */
static double rq_wait_s(pid_t pid)
{
    char p[320], line[256];
    double sum = 0;
    snprintf(p, sizeof(p), "/proc/%d/task", (int)pid);
    DIR *d = opendir(p);
    if (!d)
        return 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof(p), "/proc/%d/task/%s/schedstat", (int)pid, e->d_name);
        FILE *f = fopen(p, "r");
        unsigned long long run, wait;
        if (f && fgets(line, sizeof(line), f) && sscanf(line, "%llu %llu", &run, &wait) == 2)
            sum += (double)wait / 1e9;
        if (f)
            fclose(f);
    }
    closedir(d);
    return sum;
}

struct gw_metrics {
    double unwrap_s, delivered, dropped, refused, fetches, pin, pout, work_queue;
    double store_commits, ack_commits; /* group commits (0 from a mixnode without them) */
};

static double metric(const char *buf, const char *name, bool sum_labels)
{
    double v = 0;
    size_t nl = strlen(name);
    for (const char *p = strstr(buf, name); p; p = strstr(p + 1, name)) {
        if (p != buf && p[-1] != '\n')
            continue;
        const char *q = p + nl;
        if (*q == '{' && sum_labels)
            q = strchr(q, '}') + 1;
        if (*q != ' ')
            continue;
        v += strtod(q + 1, NULL);
        if (!sum_labels)
            break;
    }
    return v;
}

static int read_metrics(struct gw_metrics *m)
{
    char *buf = bnet_metrics(metrics_port);
    memset(m, 0, sizeof(*m));
    if (buf == NULL)
        return -1;
    m->unwrap_s = metric(buf, "mixnode_unwrap_seconds_sum", false);
    m->delivered = metric(buf, "mixnode_delivered_total", false);
    m->dropped = metric(buf, "mixnode_packets_dropped_total", true);
    m->refused = metric(buf, "mixnode_fetches_refused_total", false);
    m->fetches = metric(buf, "mixnode_fetches_total", false);
    m->pin = metric(buf, "mixnode_packets_in_total", true);
    m->pout = metric(buf, "mixnode_packets_out_total", true);
    m->work_queue = metric(buf, "mixnode_work_queue_depth", false);
    m->store_commits = metric(buf, "mixnode_store_commits_total", false);
    m->ack_commits = metric(buf, "mixnode_ack_commits_total", false);
    if (debug && getenv("GATEWAY_BENCH_METRICS"))
        fputs(buf, stderr);
    free(buf);
    return 0;
}

/* ChaCha20-Poly1305 seconds per byte on this machine (the link's AEAD). */
static double aead_s_per_byte(void)
{
    uint8_t k[32] = { 0 }, n[12] = { 0 }, *m = calloc(1, 65536), *c = malloc(65536 + 16);
    uint64_t best = UINT64_MAX;
    for (int r = 0; r < 50; r++) {
        uint64_t t = bnet_now_ns();
        crypto_aead_chacha20poly1305_ietf_encrypt(c, NULL, m, 65536, NULL, 0, NULL, n, k);
        t = bnet_now_ns() - t;
        if (t < best)
            best = t;
    }
    free(m);
    free(c);
    return (double)best / 1e9 / 65536.0;
}

/* ------------------------------------------------------------ one step */

struct step {
    int n;
    bool pass;
    const char *why;
    double up_rate, down_rate, p99_ms, p50_ms;
    double up_B, down_B, cpu, user, sys, sphinx, crypto, pad_share, commits, rq_wait;
};

/* The least count of a Poisson stream of mean `mean` that still keeps its
 * rate: 2 % below, and four standard deviations of chance. */
static double lower(double mean)
{
    return 0.98 * mean - 4 * sqrt(mean);
}

/* Hold every client stream for `secs` (fetches too): what is in flight
 * arrives, so the counters on both sides can be compared. */
static void quiesce(double secs)
{
    quiet = true;
    run_for(secs);
    quiet = false;
}

static pid_t start_gateway(void);

/* Wait until G answers on its metrics port (it is up and listening). */
static void wait_gateway(void)
{
    struct gw_metrics m;
    for (int i = 0; i < 100; i++) {
        if (read_metrics(&m) == 0)
            break;
        usleep(100000);
    }
}

/*
 * After a failed step: a fresh G, so that the next step starts from an idle
 * gateway (an overloaded one can stay wedged: see bench/README.md).  Clients
 * close and reconnect at the next step with their keys (their inboxes are
 * kept in G's store); Y and S connect again; the replay cache starts empty.
 */
static void restart_gateway(void)
{
    char rp[600];
    set_clients(0);
    y_pause = 1;
    while (!y_paused && y_running)
        usleep(1000);
    bnet_stop(gw_pid);
    for (int e = 0; e < 4; e++) {
        snprintf(rp, sizeof(rp), "%s/node%d/replay-%d.cache", net->dir, idx_g, e);
        unlink(rp);
    }
    gw_pid = start_gateway();
    wait_gateway();
    y_pause = 0;
}

/* Median time of a 4 KiB write + fdatasync() in dir: what one durable
 * commit of G's inbox store (LMDB, data and meta page synced) costs twice. */
static double fsync_us(const char *dir)
{
    char p[600];
    uint8_t blk[4096] = { 0 };
    uint64_t v[31];
    snprintf(p, sizeof(p), "%s/fsync.probe", dir);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return 0;
    for (int i = 0; i < 31; i++) {
        uint64_t t = bnet_now_ns();
        if (pwrite(fd, blk, sizeof(blk), (off_t)(i % 4) * 4096) < 0 || fdatasync(fd) < 0)
            break;
        v[i] = bnet_now_ns() - t;
    }
    close(fd);
    unlink(p);
    qsort(v, 31, sizeof(v[0]), bnet_cmp_u64);
    return (double)v[15] / 1000.0;
}

static double window_s = 4, warmup_s = 2, aead_cost;

static struct step run_step(int n)
{
    struct step st = { .n = n, .pass = true, .why = "-" };
    if (set_clients(n) < 0) {
        st.pass = false;
        st.why = "clients could not connect";
        return st;
    }
    run_for(warmup_s);
    quiesce(0.3);
    struct gw_metrics m0, m1;
    double u0, s0, u1, s1;
    /* The counters first, the same way at both ends (reading G's metrics
     * holds this loop for a moment, during which the sink catches up). */
    __typeof__(cs) c0 = cs;
    uint64_t sk0 = sink_count, sb0 = sink_bytes, y0 = y_sent, yb0 = y_bytes;
    uint64_t t0 = bnet_now_ns();
    bnet_cpu_s(gw_pid, &u0, &s0);
    double rq0 = rq_wait_s(gw_pid);
    read_metrics(&m0);
    n_lat = 0;
    n_stalls = 0;
    stall_excluded = 0;
    stall_ns_total = 0;
    cs.max_pending = 0;
    in_window = true;
    run_for(window_s);
    double w = (double)(bnet_now_ns() - t0) / 1e9;
    bnet_cpu_s(gw_pid, &u1, &s1);
    st.rq_wait = (rq_wait_s(gw_pid) - rq0) / w;
    quiesce(0.3);
    in_window = false;
    uint64_t sk1 = sink_count, sb1 = sink_bytes, y1 = y_sent, yb1 = y_bytes;
    read_metrics(&m1);
    double up_sent = (double)(cs.up_sent - c0.up_sent), sunk = (double)(sk1 - sk0);
    double backlog0 = (double)c0.up_sent - (double)sk0, backlog1 = (double)cs.up_sent - (double)sk1;
    double ysent = (double)(y1 - y0), stored = m1.delivered - m0.delivered;
    st.up_rate = up_sent / w / n;
    st.down_rate = ysent / w / n;
    qsort(lat_us, n_lat, sizeof(*lat_us), bnet_cmp_u64);
    st.p99_ms = n_lat ? (double)lat_us[n_lat * 99 / 100] / 1000.0 : 1e9;
    st.p50_ms = n_lat ? (double)lat_us[n_lat / 2] / 1000.0 : 1e9;
    st.up_B = (double)(cs.up_bytes - c0.up_bytes) / w / n;
    st.down_B = (double)(cs.down_bytes - c0.down_bytes) / w / n;
    st.user = (u1 - u0) / w;
    st.sys = (s1 - s0) / w;
    st.cpu = st.user + st.sys;
    st.sphinx = (m1.unwrap_s - m0.unwrap_s) / w;
    /* Bytes through G's links: the client links both ways, Y's and S's. */
    double link_bytes = (double)(cs.up_bytes - c0.up_bytes) +
                        (double)(cs.down_bytes - c0.down_bytes) + (double)(sb1 - sb0) +
                        (double)(yb1 - yb0);
    st.crypto = link_bytes * aead_cost / w;
    double down = (double)(cs.down_bytes - c0.down_bytes);
    /* G's own counts of its store transactions (group commits); a mixnode
     * without them commits once per stored message and per fetch with acks. */
    double gc = (m1.store_commits - m0.store_commits) + (m1.ack_commits - m0.ack_commits);
    st.commits = (gc > 0 ? gc : stored + (double)(cs.ack_fetches - c0.ack_fetches)) / w;
    st.pad_share = down > 0 ? (double)(cs.pad_bytes - c0.pad_bytes) / down : 0;
    if (cs.link_failures != c0.link_failures)
        st.pass = false, st.why = "client links failed";
    else if (up_sent < lower(rate_up * n * w))
        st.pass = false, st.why = "clients below their rate (driver or backpressure)";
    else if (ysent < lower(rate_down * n * w))
        st.pass = false, st.why = "deliveries below their rate";
    else if (backlog1 - backlog0 > 0.01 * up_sent + 10)
        st.pass = false, st.why = "forwarding fell behind";
    else if (stored < 0.97 * ysent)
        st.pass = false, st.why = "inbox storage fell behind";
    else if (m1.dropped > m0.dropped)
        st.pass = false, st.why = "packets dropped";
    else if (m1.refused > m0.refused || cs.fetch_errors != c0.fetch_errors)
        st.pass = false, st.why = "fetches refused";
    else if (st.p99_ms >= P99_LIMIT_MS)
        st.pass = false, st.why = "fetch p99 over 50 ms";
    if (debug)
        fprintf(stderr,
                "step %d clients: %s (%s); up %.2f/s down %.2f/s per client, sunk %.0f of %.0f, "
                "stored %.0f of %.0f, dropped %.0f, fetch p50 %.1f p99 %.1f ms (%zu, late %llu), "
                "stalls %zu (%.0f ms, %llu fetches left out), backlog %.0f -> %.0f, max pending "
                "%llu B; G in %.0f out %.0f; G run-queue wait %.2f; G cpu %.2f (user %.2f sys %.2f "
                "sphinx %.2f crypto %.2f)\n",
                n, st.pass ? "pass" : "FAIL", st.why, st.up_rate, st.down_rate, sunk, up_sent,
                stored, ysent, m1.dropped - m0.dropped, st.p50_ms, st.p99_ms, n_lat,
                (unsigned long long)(cs.late_fetches - c0.late_fetches), n_stalls,
                (double)stall_ns_total / 1e6, (unsigned long long)stall_excluded, backlog0,
                backlog1, (unsigned long long)cs.max_pending, m1.pin - m0.pin, m1.pout - m0.pout,
                st.rq_wait, st.cpu, st.user, st.sys, st.sphinx, st.crypto);
    return st;
}

/* A step, run once more if it failed while G waited for its CPU a good part
 * of the time (other work on a shared machine, not G's own limit). */
#define RQ_RETRY 0.25
static int retries;

static struct step step_retried(int n)
{
    struct step st = run_step(n);
    if (!st.pass)
        restart_gateway();
    if (!st.pass && st.rq_wait > RQ_RETRY) {
        retries++;
        if (debug)
            fprintf(stderr, "step %d: G waited %.2f of the time for its CPU: once more\n", n,
                    st.rq_wait);
        st = run_step(n);
        if (!st.pass)
            restart_gateway();
    }
    return st;
}

/* ------------------------------------------------------------ main */

static void cleanup(void)
{
    if (gw_pid > 0) {
        bnet_stop(gw_pid);
        gw_pid = 0;
    }
    if (net)
        bnet_remove(net);
}

static double env_d(const char *name, double def)
{
    const char *e = getenv(name);
    return e && atof(e) > 0 ? atof(e) : def;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return 1;
    bnet_catch_signals(&net);
    bnet_find_mixnode(argc, argv, mixnode_path, sizeof(mixnode_path));
    if (access(mixnode_path, X_OK) != 0) {
        fprintf(stderr, "bench: %s not found\n", mixnode_path);
        return 1;
    }
    debug = getenv("GATEWAY_BENCH_DEBUG") != NULL;
    window_s = env_d("GATEWAY_BENCH_WINDOW", 4);
    int n0 = (int)env_d("GATEWAY_BENCH_START", 200);
    int nmax = (int)env_d("GATEWAY_BENCH_MAX", 6000);
    fetch_ns = (uint64_t)(env_d("GATEWAY_BENCH_FETCH_MS", 1000) * 1e6);

    /* Client links need file descriptors. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)nmax + 100) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < (rlim_t)nmax + 100)
            nmax = (int)rl.rlim_cur - 100;
    }

    /* GATEWAY_BENCH_DIR: where G's data (its LMDB inbox store) lives;
     * /dev/shm takes the disk out of the figures. */
    char dir[400];
    snprintf(dir, sizeof(dir), "%s/bench_gateway.%d",
             getenv("GATEWAY_BENCH_DIR") ? getenv("GATEWAY_BENCH_DIR") : "/tmp", (int)getpid());
    net = bnet_new(dir);
    /* The rates of the example network (deploy/examples/dir.ini). */
    net->params.lambda_p_mhz = 2000;
    net->params.lambda_l_mhz = 500;
    net->params.lambda_d_mhz = 500;
    rate_up =
        (double)(net->params.lambda_p_mhz + net->params.lambda_l_mhz + net->params.lambda_d_mhz) /
        1000.0;
    rate_down = (double)(net->params.lambda_p_mhz + net->params.lambda_l_mhz) / 1000.0;
    double nb = ceil(2.0 * rate_down * (double)fetch_ns / 1e9);
    batch = nb < 4 ? 4 : nb > 256 ? 256 : (uint32_t)nb;
    bnet_geometry(net, &geom, &plen);
    uint16_t sport = 0;
    s_lfd = tcp_listen_local(0, &sport);
    uint16_t gport = bnet_free_port();
    metrics_port = bnet_free_port();
    idx_g = tnet_add(net, 5 /* gateway,provider */, 0, gport, 0, false);
    idx_s = tnet_add(net, 2 /* mix */, 1, sport, 0, true);
    idx_y = tnet_add(net, 2 /* mix */, 1, 9, 0, true);
    if (s_lfd < 0 || idx_g < 0 || idx_s < 0 || idx_y < 0) {
        fprintf(stderr, "bench: cannot set up the network\n");
        return 1;
    }

    /* The shared pool of client packets G -> S. */
    {
        struct mix_rng rng = mix_rng_system();
        struct sphinx_hop hops[2];
        uint8_t rcpt[32], *plain = calloc(1, sphinx_plaintext_len(&geom));
        struct tnet_node *g = &net->nodes[idx_g], *s = &net->nodes[idx_s];
        memcpy(hops[0].node_id, g->id, 32);
        memcpy(hops[0].public_key, g->sphinx_pk[0], 32);
        hops[0].delay_us = 0;
        memcpy(hops[1].node_id, s->id, 32);
        memcpy(hops[1].public_key, s->sphinx_pk[0], 32);
        hops[1].delay_us = 0;
        up_pool = malloc((size_t)UP_POOL * plen);
        for (int i = 0; i < UP_POOL; i++) {
            randombytes_buf(rcpt, 32);
            if (sphinx_create(&geom, &rng, hops, 2, rcpt, plain, 16, up_pool + (size_t)i * plen) !=
                SPHINX_OK)
                abort();
        }
        free(plain);
    }
    aead_cost = aead_s_per_byte();

    /* This program stays off the gateway's CPU. */
    cpu_set_t all, others;
    sched_getaffinity(0, sizeof(all), &all);
    others = all;
    CPU_CLR(0, &others);
    if (CPU_COUNT(&others) > 0)
        sched_setaffinity(0, sizeof(others), &others);
    else
        fprintf(stderr, "bench: one CPU only: the driver shares the gateway's core\n");

    gw_pid = start_gateway();
    double sync_us = fsync_us(net->dir);
    pthread_t yt, stt;
    pthread_create(&stt, NULL, s_thread, NULL);
    pthread_create(&yt, NULL, y_thread, NULL);
    loop = ev_default_loop(0);
    ev_timer_init(&tick, tick_cb, 0.001, 0.001);
    ev_timer_start(loop, &tick);
    cap_clients = nmax;
    clients = calloc((size_t)cap_clients, sizeof(*clients));

    wait_gateway();

    /* Double while passing, then bisect twice. */
    struct step best = { 0 }, st, fail = { 0 };
    int lo = 0, hi = 0, n = n0;
    uint64_t t_start = bnet_now_ns();
    double budget = env_d("GATEWAY_BENCH_BUDGET", 70);
    while (n <= nmax) {
        st = step_retried(n);
        if (st.pass) {
            best = st;
            lo = n;
            if (n == nmax)
                break;
            n = n * 2 > nmax ? nmax : n * 2;
        } else {
            fail = st;
            hi = n;
            break;
        }
        if ((double)(bnet_now_ns() - t_start) / 1e9 > budget)
            break;
    }
    for (int k = 0; k < 2 && hi > 0 && hi - lo > hi / 20; k++) {
        if ((double)(bnet_now_ns() - t_start) / 1e9 > budget)
            break;
        n = (lo + hi) / 2;
        if (lo == 0)
            n = hi / 2;
        st = step_retried(n);
        if (st.pass) {
            best = st;
            lo = n;
        } else {
            fail = st;
            hi = n;
        }
    }
    set_clients(0);
    threads_stop = 1;
    double la[3] = { 0, 0, 0 };
    if (getloadavg(la, 3) < 0)
        la[0] = -1;
    cleanup();
    pthread_join(yt, NULL);
    /* Wakes the sink's accept(). */
    shutdown(s_lfd, SHUT_RDWR);
    pthread_join(stt, NULL);
    close(s_lfd);

    if (best.n == 0) {
        fprintf(stderr, "bench: no client count passed (first failure at %d: %s)\n", fail.n,
                fail.why);
        return 1;
    }
    printf("gateway_clients_per_core %d clients\n", best.n);
    printf("gateway_first_failing_clients %d clients\n", hi);
    printf("gateway_bytes_per_client_up %.0f B/s\n", best.up_B);
    printf("gateway_bytes_per_client_down %.0f B/s\n", best.down_B);
    printf("gateway_fetch_p50_ms %.2f ms\n", best.p50_ms);
    printf("gateway_fetch_p99_ms %.2f ms\n", best.p99_ms);
    printf("gateway_packets_per_client_up %.2f pps\n", best.up_rate);
    printf("gateway_packets_per_client_down %.2f pps\n", best.down_rate);
    printf("gateway_cpu_share %.2f ratio\n", best.cpu);
    /* What a whole core would serve were CPU the only limit: clients per
     * CPU-second of G at the passing count (on a loaded machine the count
     * itself is set by G's waits for its CPU and disk, see below). */
    printf("gateway_clients_per_cpu_second %.0f clients\n", best.cpu > 0 ? best.n / best.cpu : 0);
    printf("gateway_runqueue_wait_share %.2f ratio\n", best.rq_wait);
    printf("gateway_first_failing_runqueue_wait_share %.2f ratio\n", fail.rq_wait);
    double c = best.cpu > 0 ? best.cpu : 1;
    double other = best.user - best.sphinx - best.crypto;
    printf("gateway_limit_sphinx_share %.2f ratio\n", best.sphinx / c);
    printf("gateway_limit_link_crypto_share %.2f ratio\n", best.crypto / c);
    printf("gateway_limit_kernel_share %.2f ratio\n", best.sys / c);
    printf("gateway_limit_other_share %.2f ratio\n", (other > 0 ? other : 0) / c);
    printf("gateway_fetch_padding_down_share %.2f ratio\n", best.pad_share);
    /* The inbox store commits durably (group commits: the payloads of a
     * worker's batch, the acks of a loop round's fetches; each commit syncs
     * data and meta pages): the share of one thread's time those syncs take. */
    printf("gateway_store_commits_per_s %.0f 1/s\n", best.commits);
    printf("gateway_store_fdatasync_us %.0f us\n", sync_us);
    printf("gateway_limit_store_sync_share %.2f ratio\n", best.commits * 2 * sync_us / 1e6);
    printf("gateway_fetch_batch %u messages\n", batch);
    printf("gateway_steps_retried %d steps\n", retries);
    printf("gateway_bench_loadavg %.2f load\n", la[0]);
    if (hi > 0)
        fprintf(stderr, "bench: gateway: %d clients failed: %s\n", hi, fail.why);
    return 0;
}
