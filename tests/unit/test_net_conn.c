/*
 * net/conn over real loopback sockets: handshake and frames both ways,
 * frames queued before the link is up, authorisation refusal, a wrong pinned
 * key, per-address and total limits, handshake timeout, persistent
 * reconnect with backoff, safe close from inside a callback, paused reads
 * that still let a new link come up, kernel receive times.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <sodium.h>

#include "conn.h"
#include "hostport.h"
#include "log.h"
#include "tap.h"

struct side {
    uint8_t sk[32], pk[32];
    struct conn_mgr *m;
    int frames, closes, established;
    enum conn_close_reason last_close;
    uint8_t last[256];
    size_t last_len;
    bool refuse, echo, close_in_frame;
    uint64_t rx_age_us; /* at the last frame: now - conn_rx_time_us() */
    uint8_t seen_key[32];
    enum link_role seen_role;
};

static struct ev_loop *loop;
static ev_timer deadline;

static void deadline_cb(struct ev_loop *l, ev_timer *w, int rev)
{
    (void)w;
    (void)rev;
    ev_break(l, EVBREAK_ALL);
}

/* Run the loop until cond() or `secs` elapsed. */
static void run_until(bool (*cond)(void), double secs)
{
    ev_timer_init(&deadline, deadline_cb, secs, 0.0);
    ev_timer_start(loop, &deadline);
    while (!cond() && ev_is_active(&deadline))
        ev_run(loop, EVRUN_ONCE);
    ev_timer_stop(loop, &deadline);
}

static bool s_authorize(struct conn *c, const uint8_t pk[static 32], enum link_role role, void *arg)
{
    struct side *s = arg;
    (void)c;
    memcpy(s->seen_key, pk, 32);
    s->seen_role = role;
    return !s->refuse;
}

static void s_est(struct conn *c, void *arg)
{
    (void)c;
    ((struct side *)arg)->established++;
}

static void s_frame(struct conn *c, const uint8_t *f, size_t len, void *arg)
{
    struct side *s = arg;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
    uint64_t rx = conn_rx_time_us(c);
    s->rx_age_us = rx <= now ? now - rx : UINT64_MAX;
    s->frames++;
    s->last_len = len < sizeof s->last ? len : sizeof s->last;
    memcpy(s->last, f, s->last_len);
    if (s->echo && conn_send(c, f, len) != CONN_OK)
        s->frames += 1000; /* makes the calling test fail */
    if (s->close_in_frame)
        conn_close(c);
}

static void s_close(struct conn *c, enum conn_close_reason why, void *arg)
{
    struct side *s = arg;
    (void)c;
    s->closes++;
    s->last_close = why;
}

static const struct conn_callbacks cbs = { s_authorize, s_est, s_frame, s_close };

static struct side A, B;
static char addr[64];

static void setup(const struct conn_limits *la, const struct conn_limits *lb)
{
    memset(&A, 0, sizeof A);
    memset(&B, 0, sizeof B);
    crypto_box_keypair(A.pk, A.sk);
    crypto_box_keypair(B.pk, B.sk);
    A.m = conn_mgr_new(loop, A.sk, A.pk, la, &cbs, &A);
    B.m = conn_mgr_new(loop, B.sk, B.pk, lb, &cbs, &B);
    uint16_t port = 0;
    char err[128];
    CHECK(conn_listen(A.m, "127.0.0.1:0", &port, err, sizeof err) == 0);
    CHECK(port != 0);
    snprintf(addr, sizeof addr, "127.0.0.1:%u", port);
}

static void teardown(void)
{
    conn_mgr_free(A.m);
    conn_mgr_free(B.m);
    A.m = B.m = NULL;
}

static bool b_got_frame(void)
{
    return B.frames > 0;
}
static bool b_closed(void)
{
    return B.closes > 0;
}
static bool a_closed(void)
{
    return A.closes > 0;
}
static bool never(void)
{
    return false;
}

static void test_hostport(void)
{
    char h[64];
    uint16_t p;
    CHECK(hostport_parse("127.0.0.1:7000", h, sizeof h, &p) && p == 7000 &&
          !strcmp(h, "127.0.0.1"));
    CHECK(hostport_parse("[::1]:9", h, sizeof h, &p) && p == 9 && !strcmp(h, "::1"));
    CHECK(hostport_parse("localhost:0", h, sizeof h, &p) && p == 0);
    CHECK(!hostport_parse("127.0.0.1", h, sizeof h, &p));
    CHECK(!hostport_parse(":80", h, sizeof h, &p));
    CHECK(!hostport_parse("h:70000", h, sizeof h, &p));
    CHECK(!hostport_parse("h:-1", h, sizeof h, &p));
    CHECK(!hostport_parse("h:", h, sizeof h, &p));
    CHECK(!hostport_parse("::1:80", h, sizeof h, &p));
    CHECK(!hostport_parse("[::1]80", h, sizeof h, &p));
    CHECK(!hostport_parse(NULL, h, sizeof h, &p));
}

static void test_echo(void)
{
    setup(NULL, NULL);
    A.echo = true;
    struct conn *c = conn_dial(B.m, addr, A.pk, LINK_ROLE_NODE, false, NULL);
    CHECK(c != NULL);
    /* Queued before the link is up: must arrive once it is. */
    CHECK(conn_send(c, (const uint8_t *)"hello", 5) == CONN_OK);
    run_until(b_got_frame, 5);
    CHECK(B.frames == 1 && B.last_len == 5 && memcmp(B.last, "hello", 5) == 0);
    CHECK(A.frames == 1);
    CHECK(memcmp(A.seen_key, B.pk, 32) == 0 && A.seen_role == LINK_ROLE_NODE);
    CHECK(A.established == 1 && B.established == 1);
    uint8_t k[32];
    CHECK(conn_remote_key(c, k) && memcmp(k, A.pk, 32) == 0);
    CHECK(conn_get_state(c) == CONN_STATE_ESTABLISHED);
    /* A big frame both ways (several Noise messages). */
    static uint8_t big[200000];
    randombytes_buf(big, sizeof big);
    B.frames = 0;
    CHECK(conn_send(c, big, sizeof big) == CONN_OK);
    run_until(b_got_frame, 5);
    CHECK(B.frames == 1 && memcmp(B.last, big, sizeof B.last) == 0);
    /* Larger than max_frame is refused and counted, the conn survives. */
    static uint8_t huge[LINK_DEFAULT_MAX_FRAME + 1];
    CHECK(conn_send(c, huge, sizeof huge) == CONN_ERR_TOO_BIG);
    struct conn_stats st;
    conn_mgr_get_stats(B.m, &st);
    CHECK(st.send_too_big == 1 && st.frames_in == 2 && st.established == 1);
    /* Closing here makes A see EOF. */
    conn_close(c);
    CHECK(B.closes == 1 && B.last_close == CONN_CLOSE_LOCAL);
    run_until(a_closed, 5);
    CHECK(A.closes == 1 && A.last_close == CONN_CLOSE_EOF);
    teardown();
}

static void test_refused(void)
{
    setup(NULL, NULL);
    A.refuse = true;
    struct conn *c = conn_dial(B.m, addr, A.pk, LINK_ROLE_CLIENT, false, NULL);
    CHECK(c != NULL);
    run_until(b_closed, 5);
    CHECK(B.closes == 1 && B.established == 0);
    struct conn_stats st;
    conn_mgr_get_stats(A.m, &st);
    CHECK(st.refused_auth == 1);
    CHECK(A.seen_role == LINK_ROLE_CLIENT);
    teardown();
}

static void test_wrong_key(void)
{
    setup(NULL, NULL);
    uint8_t wrong[32];
    randombytes_buf(wrong, sizeof wrong);
    struct conn *c = conn_dial(B.m, addr, wrong, LINK_ROLE_NODE, false, NULL);
    CHECK(c != NULL);
    run_until(a_closed, 5);
    /* A cannot decrypt msg1 made for another key: a link error, no frame. */
    CHECK(A.closes == 1 && A.last_close == CONN_CLOSE_LINK && A.frames == 0);
    run_until(b_closed, 5);
    CHECK(B.closes == 1 && B.established == 0);
    teardown();
}

static void test_limits(void)
{
    struct conn_limits la;
    memset(&la, 0, sizeof la);
    la.max_per_addr = 1;
    setup(&la, NULL);
    A.echo = true;
    struct conn *c1 = conn_dial(B.m, addr, A.pk, LINK_ROLE_NODE, false, NULL);
    CHECK(c1 != NULL && conn_send(c1, (const uint8_t *)"x", 1) == CONN_OK);
    run_until(b_got_frame, 5);
    CHECK(B.frames == 1);
    struct conn *c2 = conn_dial(B.m, addr, A.pk, LINK_ROLE_NODE, false, NULL);
    CHECK(c2 != NULL);
    run_until(b_closed, 5);
    CHECK(B.closes == 1);
    struct conn_stats st;
    conn_mgr_get_stats(A.m, &st);
    CHECK(st.refused_per_addr == 1 && st.accepted == 1);
    teardown();

    memset(&la, 0, sizeof la);
    la.max_conns = 1;
    setup(NULL, &la);
    c1 = conn_dial(B.m, addr, A.pk, LINK_ROLE_NODE, false, NULL);
    CHECK(c1 != NULL);
    CHECK(conn_dial(B.m, addr, A.pk, LINK_ROLE_NODE, false, NULL) == NULL);
    conn_mgr_get_stats(B.m, &st);
    CHECK(st.refused_max_conns == 1);
    CHECK(conn_dial(B.m, "no-port", A.pk, LINK_ROLE_NODE, false, NULL) == NULL);
    teardown();
}

static void test_hs_timeout(void)
{
    struct conn_limits la;
    memset(&la, 0, sizeof la);
    la.handshake_timeout = 0.2;
    setup(&la, NULL);
    /* A raw TCP peer that never speaks. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons((uint16_t)atoi(strchr(addr, ':') + 1));
    CHECK(connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0);
    run_until(a_closed, 3);
    CHECK(A.closes == 1 && A.last_close == CONN_CLOSE_HS_TIMEOUT);
    /* Garbage instead of a handshake: a link error, never a crash. */
    A.closes = 0;
    int fd2 = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(connect(fd2, (struct sockaddr *)&sin, sizeof sin) == 0);
    static const uint8_t junk[] = { 0x00, 0x05, 1, 2, 3, 4, 5 };
    CHECK(write(fd2, junk, sizeof junk) == (ssize_t)sizeof junk);
    run_until(a_closed, 3);
    CHECK(A.closes == 1 && A.last_close == CONN_CLOSE_LINK);
    close(fd);
    close(fd2);
    teardown();
}

static void test_reconnect(void)
{
    struct conn_limits lb;
    memset(&lb, 0, sizeof lb);
    lb.backoff_min = 0.05;
    lb.backoff_max = 0.2;
    setup(NULL, &lb);
    A.echo = true;
    /* Nothing listens on this port (bind then close a socket to find one). */
    char dead[64];
    struct conn_mgr *tmp = conn_mgr_new(loop, A.sk, A.pk, NULL, NULL, NULL);
    uint16_t port = 0;
    char err[128];
    CHECK(conn_listen(tmp, "127.0.0.1:0", &port, err, sizeof err) == 0);
    conn_mgr_free(tmp);
    snprintf(dead, sizeof dead, "127.0.0.1:%u", port);
    struct conn *c = conn_dial(B.m, dead, A.pk, LINK_ROLE_NODE, true, NULL);
    CHECK(c != NULL);
    run_until(never, 0.8);
    struct conn_stats st;
    conn_mgr_get_stats(B.m, &st);
    CHECKF(st.connect_failures >= 3, "failures %llu", (unsigned long long)st.connect_failures);
    CHECK(conn_get_state(c) == CONN_STATE_BACKOFF || conn_get_state(c) == CONN_STATE_CONNECTING);
    conn_close(c);
    teardown();

    /* A persistent link that the peer drops comes back by itself. */
    setup(NULL, &lb);
    A.close_in_frame = true; /* A closes from inside on_frame */
    c = conn_dial(B.m, addr, A.pk, LINK_ROLE_NODE, true, NULL);
    CHECK(conn_send(c, (const uint8_t *)"1", 1) == CONN_OK);
    run_until(b_closed, 5);
    CHECK(A.frames == 1 && B.closes == 1 && B.last_close == CONN_CLOSE_EOF);
    A.close_in_frame = false;
    A.echo = true;
    B.frames = 0;
    CHECK(conn_send(c, (const uint8_t *)"2", 1) == CONN_OK); /* queued while down */
    run_until(b_got_frame, 5);
    CHECK(B.frames == 1 && B.last[0] == '2' && B.established == 2);
    conn_close(c);
    teardown();
}

static void test_idle_and_full(void)
{
    struct conn_limits la, lb;
    memset(&la, 0, sizeof la);
    memset(&lb, 0, sizeof lb);
    la.idle_timeout = 0.3;
    lb.idle_timeout = 0.1; /* applies to inbound conns only: B's dialled one stays */
    lb.max_out_bytes = 1000;
    setup(&la, &lb);
    A.echo = true;
    struct conn *c = conn_dial(B.m, addr, A.pk, LINK_ROLE_NODE, false, NULL);
    static uint8_t chunk[600];
    /* Before the link is up frames wait in the conn, bounded by max_out_bytes. */
    CHECK(conn_send(c, chunk, sizeof chunk) == CONN_OK);
    CHECK(conn_send(c, chunk, sizeof chunk) == CONN_ERR_FULL);
    CHECK(conn_out_pending(c) == sizeof chunk);
    run_until(b_got_frame, 5);
    CHECK(B.frames == 1);
    /* Then silence: A's idle timeout closes the link. */
    run_until(a_closed, 3);
    CHECK(A.closes == 1 && A.last_close == CONN_CLOSE_IDLE);
    run_until(b_closed, 3);
    CHECK(B.closes == 1 && B.last_close == CONN_CLOSE_EOF);
    struct conn_stats st;
    conn_mgr_get_stats(A.m, &st);
    CHECK(st.idle_timeouts == 1);
    conn_mgr_get_stats(B.m, &st);
    CHECK(st.send_full == 1);
    teardown();
}

/* Out of file descriptors at accept(): counted, paused, then recovered. */
static void test_accept_emfile(void)
{
    setup(NULL, NULL);
    A.echo = true;
    struct conn *c = conn_dial(B.m, addr, A.pk, LINK_ROLE_NODE, false, NULL);
    CHECK(c != NULL && conn_send(c, (const uint8_t *)"fd", 2) == CONN_OK);
    /* The dialler's socket exists; now use up every other descriptor. */
    static int fds[65536];
    size_t n = 0;
    while (n < MIX_ARRAY_LEN(fds)) {
        int fd = dup(0);
        if (fd < 0)
            break;
        fds[n++] = fd;
    }
    run_until(never, 0.3);
    struct conn_stats st;
    conn_mgr_get_stats(A.m, &st);
    CHECKF(st.accept_errors >= 1 && st.accept_errors <= 2, "accept_errors %llu",
           (unsigned long long)st.accept_errors);
    CHECK(B.frames == 0);
    while (n > 0)
        close(fds[--n]);
    run_until(b_got_frame, 3);
    CHECK(B.frames == 1 && memcmp(B.last, "fd", 2) == 0);
    teardown();
}

static bool both_established(void)
{
    return A.established > 0 && B.established > 0;
}
static bool a_got_frame(void)
{
    return A.frames > 0;
}

/*
 * Backpressure pauses only established inbound links: with both managers
 * paused, a new link still completes its handshake (the dialler's next hop
 * must come up under load), the frame queued on it is not read by the paused
 * acceptor, and arrives once reads resume.
 */
static void test_pause_reads(void)
{
    setup(NULL, NULL);
    conn_mgr_pause_reads(A.m, true);
    conn_mgr_pause_reads(B.m, true);
    struct conn *c = conn_dial(B.m, addr, A.pk, LINK_ROLE_NODE, false, NULL);
    CHECK(c != NULL);
    CHECK(conn_send(c, (const uint8_t *)"held", 4) == CONN_OK);
    run_until(both_established, 5);
    CHECK(A.established == 1 && B.established == 1);
    CHECK(conn_get_state(c) == CONN_STATE_ESTABLISHED);
    run_until(a_got_frame, 0.3);
    CHECK(A.frames == 0);
    conn_mgr_pause_reads(A.m, false);
    run_until(a_got_frame, 5);
    CHECK(A.frames == 1 && A.last_len == 4 && memcmp(A.last, "held", 4) == 0);
    struct conn_stats st;
    conn_mgr_get_stats(A.m, &st);
    CHECK(st.read_pauses == 1);
    conn_mgr_pause_reads(B.m, false);
    teardown();
}

static bool two_established(void)
{
    return A.established == 2 && B.established == 2;
}

/*
 * conn_mgr_pause_role() pauses the inbound links of one role only: with node
 * links paused, a client link's frame is still read; the node link's waits
 * until its role resumes.
 */
static void test_pause_role(void)
{
    setup(NULL, NULL);
    conn_mgr_pause_role(A.m, LINK_ROLE_NODE, true);
    struct conn *cn = conn_dial(B.m, addr, A.pk, LINK_ROLE_NODE, false, NULL);
    struct conn *cc = conn_dial(B.m, addr, A.pk, LINK_ROLE_CLIENT, false, NULL);
    CHECK(cn != NULL && cc != NULL);
    run_until(two_established, 5);
    CHECK(A.established == 2);
    CHECK(conn_send(cn, (const uint8_t *)"node", 4) == CONN_OK);
    run_until(never, 0.2);
    CHECK(conn_send(cc, (const uint8_t *)"cli", 3) == CONN_OK);
    run_until(a_got_frame, 5);
    CHECK(A.frames == 1 && A.last_len == 3 && memcmp(A.last, "cli", 3) == 0);
    run_until(never, 0.3);
    CHECK(A.frames == 1);
    /* Pausing the clients too, then resuming the nodes only. */
    conn_mgr_pause_role(A.m, LINK_ROLE_CLIENT, true);
    conn_mgr_pause_role(A.m, LINK_ROLE_NODE, false);
    CHECK(conn_send(cc, (const uint8_t *)"cli2", 4) == CONN_OK);
    A.frames = 0;
    run_until(a_got_frame, 5);
    CHECK(A.frames == 1 && A.last_len == 4 && memcmp(A.last, "node", 4) == 0);
    run_until(never, 0.3);
    CHECK(A.frames == 1);
    conn_mgr_pause_reads(A.m, false);
    A.frames = 0;
    run_until(a_got_frame, 5);
    CHECK(A.frames == 1 && A.last_len == 4 && memcmp(A.last, "cli2", 4) == 0);
    teardown();
}

/*
 * conn_rx_time_us() is when the kernel received the bytes, not when the
 * loop read them: a frame left unread for 300 ms is 300 ms old at on_frame.
 */
static void test_rx_time(void)
{
    setup(NULL, NULL);
    struct conn *c = conn_dial(B.m, addr, A.pk, LINK_ROLE_NODE, false, NULL);
    CHECK(c != NULL);
    run_until(both_established, 5);
    CHECK(conn_send(c, (const uint8_t *)"now", 3) == CONN_OK);
    run_until(a_got_frame, 5);
    CHECK(A.frames == 1 && A.rx_age_us < 200000);
    /* A stops reading (backpressure); B writes the frame out; 300 ms later A
     * reads again. */
    conn_mgr_pause_reads(A.m, true);
    A.frames = 0;
    CHECK(conn_send(c, (const uint8_t *)"late", 4) == CONN_OK);
    run_until(never, 0.3);
    CHECK(A.frames == 0);
    conn_mgr_pause_reads(A.m, false);
    run_until(a_got_frame, 5);
    CHECK(A.frames == 1 && A.last_len == 4);
    CHECK(A.rx_age_us >= 250000 && A.rx_age_us < 5000000);
    teardown();
}

static void test_ipv6(void)
{
    struct conn_mgr *m = conn_mgr_new(loop, A.sk, A.pk, NULL, &cbs, &A);
    uint16_t port = 0;
    char err[128];
    if (conn_listen(m, "[::1]:0", &port, err, sizeof err) < 0) {
        printf("# no IPv6 loopback here (%s): skipped\n", err);
        conn_mgr_free(m);
        return;
    }
    memset(&B, 0, sizeof B);
    crypto_box_keypair(B.pk, B.sk);
    B.m = conn_mgr_new(loop, B.sk, B.pk, NULL, &cbs, &B);
    A.echo = true;
    A.frames = 0;
    snprintf(addr, sizeof addr, "[::1]:%u", port);
    struct conn *c = conn_dial(B.m, addr, A.pk, LINK_ROLE_NODE, false, NULL);
    CHECK(c != NULL && conn_send(c, (const uint8_t *)"v6", 2) == CONN_OK);
    run_until(b_got_frame, 5);
    CHECK(B.frames == 1 && memcmp(B.last, "v6", 2) == 0);
    conn_mgr_free(B.m);
    conn_mgr_free(m);
    B.m = NULL;
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    mix_log_init("test_net_conn", MIX_LOG_WARN, false);
    loop = ev_default_loop(0);
    /* A small descriptor limit keeps test_accept_emfile quick. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > 256) {
        rl.rlim_cur = 256;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    RUN(test_hostport);
    RUN(test_echo);
    RUN(test_refused);
    RUN(test_wrong_key);
    RUN(test_limits);
    RUN(test_hs_timeout);
    RUN(test_reconnect);
    RUN(test_idle_and_full);
    RUN(test_accept_emfile);
    RUN(test_pause_reads);
    RUN(test_pause_role);
    RUN(test_rx_time);
    RUN(test_ipv6);
    return tap_done();
}
