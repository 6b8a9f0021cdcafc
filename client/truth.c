/*
 * The ground-truth writer of test builds; see truth.h.  Lines are written
 * with one write() each on an O_APPEND descriptor, so several clients may
 * share one file.
 */
#ifndef MIXCLIENT_TRUTH
#error "truth.c is built only into the test program (-DMIXCLIENT_TRUTH)"
#endif

#include "truth.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TRUTH_ENV "MIXCLIENT_TRUTH_FILE"
#define TRUTH_HEADER "# mixscope-truth 1\n"

struct truth_mark {
    uint64_t frame_index, end_offset;
};

struct truth_link {
    char local[64]; /* "a.b.c.d:port" or "[v6]:port" */
    struct truth_mark marks[TRUTH_MAX_MARKS];
    size_t head, n;
};

/* The process's one descriptor: -2 not opened yet, -1 off. */
static int g_fd = -2;

static int truth_fd(void)
{
    if (g_fd != -2)
        return g_fd;
    const char *path = getenv(TRUTH_ENV);
    g_fd = -1;
    if (path == NULL || path[0] == '\0')
        return g_fd;
    /*
     * The file appears with its header already in it (written to a file of
     * our own, then linked to the name, which fails if another client's
     * file is there), so no writer's line can come before the header.
     */
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
        bool ok = write(fd, TRUTH_HEADER, strlen(TRUTH_HEADER)) == (ssize_t)strlen(TRUTH_HEADER);
        close(fd);
        if (ok && link(tmp, path) != 0 && errno != EEXIST)
            fprintf(stderr, "mixclient: truth: link %s: %s\n", path, strerror(errno));
        unlink(tmp);
    }
    fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0)
        fprintf(stderr, "mixclient: cannot open the truth file %s: %s\n", path, strerror(errno));
    g_fd = fd;
    return g_fd;
}

static int local_name(int fd, char *out, size_t outlen)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char ip[INET6_ADDRSTRLEN];
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
        return -1;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        if (inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip)) == NULL)
            return -1;
        snprintf(out, outlen, "%s:%u", ip, (unsigned)ntohs(a->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        if (inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip)) == NULL)
            return -1;
        snprintf(out, outlen, "[%s]:%u", ip, (unsigned)ntohs(a->sin6_port));
    } else {
        return -1;
    }
    return 0;
}

struct truth_link *truth_link_new(int fd)
{
    if (truth_fd() < 0)
        return NULL;
    struct truth_link *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    if (local_name(fd, t->local, sizeof(t->local)) != 0) {
        fprintf(stderr, "mixclient: truth: getsockname: %s\n", strerror(errno));
        free(t);
        return NULL;
    }
    return t;
}

void truth_link_free(struct truth_link *t)
{
    free(t);
}

static void write_line(const struct truth_link *t, uint64_t frame_index)
{
    struct timespec ts;
    char line[128];
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    int n = snprintf(line, sizeof(line), "%llu %s %llu\n", (unsigned long long)ns, t->local,
                     (unsigned long long)frame_index);
    if (n > 0 && (size_t)n < sizeof(line) && write(g_fd, line, (size_t)n) != n)
        fprintf(stderr, "mixclient: truth: short write\n");
}

void truth_link_queued(struct truth_link *t, uint64_t frame_index, uint64_t end_offset)
{
    if (t == NULL)
        return;
    if (t->n == TRUTH_MAX_MARKS) {
        /* More real frames unwritten than a test ever queues: record the oldest early. */
        write_line(t, t->marks[t->head].frame_index);
        t->head = (t->head + 1) % TRUTH_MAX_MARKS;
        t->n--;
    }
    t->marks[(t->head + t->n) % TRUTH_MAX_MARKS] =
        (struct truth_mark){ .frame_index = frame_index, .end_offset = end_offset };
    t->n++;
}

void truth_link_written(struct truth_link *t, uint64_t bytes_out)
{
    while (t != NULL && t->n > 0 && t->marks[t->head].end_offset <= bytes_out) {
        write_line(t, t->marks[t->head].frame_index);
        t->head = (t->head + 1) % TRUTH_MAX_MARKS;
        t->n--;
    }
}
