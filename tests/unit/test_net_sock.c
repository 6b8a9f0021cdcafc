/*
 * net/sock, the socket calls the daemons and the client share: address
 * resolution (dial vs listen), the link options on every socket
 * (TCP_NODELAY, SO_TIMESTAMPNS), a refused connect seen through SO_ERROR,
 * stamped reads, and flushing a link's output through a small socket buffer
 * with partial writes until every frame arrived in order.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "link.h"
#include "rng.h"
#include "sock.h"
#include "tap.h"

/* Wait (bounded) for fd to be ready for events; true if it is. */
static bool wait_fd(int fd, short events)
{
    struct pollfd p = { .fd = fd, .events = events };
    return poll(&p, 1, 10000) == 1;
}

static void test_resolve(void)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    char err[160] = "";
    CHECK(sock_resolve("127.0.0.1:4000", false, &ss, &sl, err, sizeof err) == 0);
    CHECK(ss.ss_family == AF_INET && sl == sizeof(struct sockaddr_in));
    CHECK(sock_resolve("[::1]:4000", false, &ss, &sl, err, sizeof err) == 0);
    CHECK(ss.ss_family == AF_INET6);
    /* Port 0: a listener may ask the kernel for one, a dial has nowhere to go. */
    CHECK(sock_resolve("127.0.0.1:0", true, &ss, &sl, err, sizeof err) == 0);
    CHECK(sock_resolve("127.0.0.1:0", false, &ss, &sl, err, sizeof err) == -1);
    CHECK(strstr(err, "bad address") != NULL);
    err[0] = '\0';
    CHECK(sock_resolve("127.0.0.1", false, &ss, &sl, err, sizeof err) == -1);
    CHECK(strstr(err, "bad address") != NULL);
    CHECK(sock_resolve("::1:4000", false, &ss, &sl, err, sizeof err) == -1);
}

/* A loopback listener on a kernel-chosen port; its address in *ss. */
static int listener(struct sockaddr_storage *ss, socklen_t *sl, bool do_listen)
{
    char err[160];
    if (sock_resolve("127.0.0.1:0", true, ss, sl, err, sizeof err) != 0)
        return -1;
    int fd = sock_stream(ss->ss_family);
    if (fd < 0 || bind(fd, (struct sockaddr *)ss, *sl) != 0 ||
        getsockname(fd, (struct sockaddr *)ss, sl) != 0 || (do_listen && listen(fd, 4) != 0)) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int int_opt(int fd, int level, int name)
{
    int v = -1;
    socklen_t l = sizeof v;
    return getsockopt(fd, level, name, &v, &l) == 0 ? v : -1;
}

static void test_connect_options_read(void)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int lfd = listener(&ss, &sl, true);
    CHECK(lfd >= 0);
    int fd = sock_stream(ss.ss_family);
    CHECK(fd >= 0);
    CHECK(int_opt(fd, IPPROTO_TCP, TCP_NODELAY) == 1);
    CHECK(int_opt(fd, SOL_SOCKET, SO_TIMESTAMPNS) == 1);
    CHECK(sock_connect(fd, &ss, sl) == 0);
    CHECK(wait_fd(fd, POLLOUT));
    CHECK(sock_connect_result(fd) == 0);
    CHECK(wait_fd(lfd, POLLIN));
    int afd = accept(lfd, NULL, NULL);
    CHECK(afd >= 0);
    CHECK(sock_options(afd) == 0);
    CHECK(int_opt(afd, IPPROTO_TCP, TCP_NODELAY) == 1);
    CHECK(send(afd, "hello", 5, 0) == 5);
    CHECK(wait_fd(fd, POLLIN));
    uint8_t buf[16];
    uint64_t rx = 0;
    CHECK(sock_read_stamped(fd, buf, sizeof buf, &rx) == 5 && memcmp(buf, "hello", 5) == 0);
    uint64_t now = sock_mono_us();
    CHECK(rx > 0 && rx <= now && now - rx < 10000000);
    close(afd);
    CHECK(wait_fd(fd, POLLIN));
    CHECK(sock_read_stamped(fd, buf, sizeof buf, &rx) == 0); /* end of stream */
    close(fd);
    close(lfd);
}

static void test_refused(void)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int bound = listener(&ss, &sl, false); /* bound, not listening: the port refuses */
    CHECK(bound >= 0);
    int fd = sock_stream(ss.ss_family);
    CHECK(fd >= 0);
    if (sock_connect(fd, &ss, sl) == 0) {
        CHECK(wait_fd(fd, POLLOUT));
        CHECK(sock_connect_result(fd) == ECONNREFUSED);
    } else {
        CHECK(errno == ECONNREFUSED);
    }
    close(fd);
    close(bound);
}

/* Move what one link has for the other through fd pair sv, both ways. */
static void pump(struct link *a, struct link *b, const int sv[2])
{
    uint8_t buf[65536];
    for (int i = 0; i < 8; i++) {
        CHECK(sock_flush_link(sv[0], a) >= 0);
        CHECK(sock_flush_link(sv[1], b) >= 0);
        ssize_t n;
        while ((n = recv(sv[1], buf, sizeof buf, MSG_DONTWAIT)) > 0)
            CHECK(link_feed(b, buf, (size_t)n) == LINK_OK);
        while ((n = recv(sv[0], buf, sizeof buf, MSG_DONTWAIT)) > 0)
            CHECK(link_feed(a, buf, (size_t)n) == LINK_OK);
    }
}

static void test_flush_partial(void)
{
    struct mix_rng rng = mix_rng_system();
    uint8_t isk[32], ipk[32], rsk[32], rpk[32];
    crypto_box_keypair(ipk, isk);
    crypto_box_keypair(rpk, rsk);
    struct link *a = link_new_initiator(isk, ipk, rpk, LINK_ROLE_CLIENT, 4096, &rng);
    struct link *b = link_new_responder(rsk, rpk, 4096, &rng);
    int sv[2];
    CHECK(a != NULL && b != NULL);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
    int small = 4096;
    (void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    (void)setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    CHECK(link_start(a) == LINK_OK);
    pump(a, b, sv);
    CHECK(link_is_established(a) && link_is_established(b));

    /* 200 frames of 1000 bytes: far more than the socket buffers hold. */
    enum { FRAMES = 200, FLEN = 1000 };
    uint8_t frame[FLEN];
    for (int i = 0; i < FRAMES; i++) {
        memset(frame, i & 0xff, sizeof frame);
        CHECK(link_send_frame(a, frame, sizeof frame) == LINK_OK);
    }
    int got = 0, rounds = 0, partial = 0;
    uint8_t buf[65536];
    while (got < FRAMES && rounds++ < 100000) {
        ssize_t w = sock_flush_link(sv[0], a);
        CHECK(w >= 0);
        if (link_output_pending(a) > 0)
            partial++; /* the buffer filled: the rest waits, nothing lost */
        ssize_t n;
        while ((n = recv(sv[1], buf, sizeof buf, MSG_DONTWAIT)) > 0)
            CHECK(link_feed(b, buf, (size_t)n) == LINK_OK);
        const uint8_t *f;
        size_t flen;
        while (link_next_frame(b, &f, &flen) == 1) {
            CHECKF(flen == FLEN && f[0] == (got & 0xff) && f[FLEN - 1] == (got & 0xff), "frame %d",
                   got);
            got++;
        }
    }
    CHECK(got == FRAMES);
    CHECK(partial > 0);
    CHECK(link_output_pending(a) == 0);

    /* A socket whose peer is gone fails the flush (EPIPE, no SIGPIPE). */
    close(sv[1]);
    CHECK(link_send_frame(a, frame, sizeof frame) == LINK_OK);
    CHECK(sock_flush_link(sv[0], a) == -1);
    close(sv[0]);
    link_free(a);
    link_free(b);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    RUN(test_resolve);
    RUN(test_connect_options_read);
    RUN(test_refused);
    RUN(test_flush_partial);
    return tap_done();
}
