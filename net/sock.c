/*
 * The sockets of every link; see sock.h.
 */
#include "sock.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "hostport.h"

int sock_resolve(const char *hostport, bool passive, struct sockaddr_storage *ss, socklen_t *len,
                 char *err, size_t errlen)
{
    char host[256], portstr[8];
    uint16_t port;
    if (!hostport_parse(hostport, host, sizeof host, &port) || (!passive && port == 0)) {
        snprintf(err, errlen, "bad address \"%s\" (want host:port or [v6]:port)", hostport);
        return -1;
    }
    snprintf(portstr, sizeof portstr, "%u", (unsigned)port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    int r = getaddrinfo(host, portstr, &hints, &res);
    if (r != 0 || res == NULL) {
        snprintf(err, errlen, "cannot resolve \"%s\": %s", host, gai_strerror(r));
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

int sock_options(int fd)
{
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        return -1;
    /* Without the stamp a read is stamped "now": a fallback, not an error. */
    (void)setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
    return 0;
}

int sock_stream(int family)
{
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0 && sock_options(fd) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int sock_connect(int fd, const struct sockaddr_storage *ss, socklen_t len)
{
    if (connect(fd, (const struct sockaddr *)ss, len) == 0 || errno == EINPROGRESS)
        return 0;
    return -1;
}

int sock_connect_result(int fd)
{
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
        return errno ? errno : EIO;
    return soerr;
}

uint64_t sock_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

ssize_t sock_read_stamped(int fd, uint8_t *buf, size_t cap, uint64_t *rx_us)
{
    union {
        char b[CMSG_SPACE(sizeof(struct timespec))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = { buf, cap };
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl.b;
    mh.msg_controllen = sizeof ctl.b;
    ssize_t n = recvmsg(fd, &mh, 0);
    if (n <= 0)
        return n;
    uint64_t now = sock_mono_us();
    *rx_us = now;
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&mh); h != NULL; h = CMSG_NXTHDR(&mh, h)) {
        if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_TIMESTAMPNS)
            continue;
        struct timespec ts, rt;
        memcpy(&ts, CMSG_DATA(h), sizeof ts);
        clock_gettime(CLOCK_REALTIME, &rt);
        int64_t age = ((int64_t)rt.tv_sec - (int64_t)ts.tv_sec) * 1000000 +
                      ((int64_t)rt.tv_nsec - (int64_t)ts.tv_nsec) / 1000;
        /* A wall clock step between the two readings must not move it far. */
        if (age > 0 && (uint64_t)age < now && age < 10000000)
            *rx_us = now - (uint64_t)age;
    }
    return n;
}

ssize_t sock_flush_link(int fd, struct link *l)
{
    size_t total = 0;
    for (;;) {
        const uint8_t *p;
        size_t len;
        link_output(l, &p, &len);
        if (len == 0)
            break;
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            return -1;
        }
        link_consume_output(l, (size_t)n);
        total += (size_t)n;
        if ((size_t)n < len)
            break;
    }
    return (ssize_t)total;
}
