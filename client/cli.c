/*
 * The mixclient subcommands that talk to a running daemon over its local
 * socket (send, recv, reply, status).  Blocking I/O is fine here: each is a
 * short-lived command with one request.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "frame.h"
#include "local.h"
#include "mixclient.h"

static int lconnect(const char *path)
{
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (fd < 0 || strlen(path) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "mixclient: bad socket path %s\n", path);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    strcpy(sa.sun_path, path);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        fprintf(stderr, "mixclient: cannot reach the daemon at %s: %s (is `mixclient daemon` running?)\n",
                path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int read_all(int fd, uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int lsend_frame(int fd, const struct mix_frame *f)
{
    size_t len;
    const char *why;
    uint8_t *buf = frame_encode_alloc(f, &len, &why);
    uint8_t hdr[4];
    if (buf == NULL) {
        fprintf(stderr, "mixclient: cannot encode the request: %s\n", why);
        return -1;
    }
    mix_put_be32(hdr, (uint32_t)len);
    int rc = write_all(fd, hdr, 4) == 0 && write_all(fd, buf, len) == 0 ? 0 : -1;
    free(buf);
    if (rc != 0)
        fprintf(stderr, "mixclient: the daemon closed the connection\n");
    return rc;
}

/* Read one frame; NULL at end or on error. */
static struct mix_frame *lrecv_frame(int fd)
{
    uint8_t hdr[4];
    struct mix_frame *f = NULL;
    const char *why;
    if (read_all(fd, hdr, 4) != 0)
        return NULL;
    size_t len = mix_get_be32(hdr);
    if (len == 0 || len > LOCAL_MAX_FRAME)
        return NULL;
    uint8_t *buf = malloc(len);
    if (buf == NULL || read_all(fd, buf, len) != 0 || !frame_decode(buf, len, LOCAL_MAX_FRAME, &f, &why))
        f = NULL;
    free(buf);
    return f;
}

static void hex(const uint8_t *p, size_t n, char *out)
{
    sodium_bin2hex(out, 2 * n + 1, p, n);
}

static bool parse_id(const char *s, uint8_t id[16])
{
    size_t len;
    return strlen(s) == 32 && sodium_hex2bin(id, 16, s, 32, NULL, &len, NULL) == 0 && len == 16;
}

/* The message body from -m TEXT or -f FILE ("-" = stdin). */
static uint8_t *load_body(const char *text, const char *file, size_t *len)
{
    if (text != NULL) {
        *len = strlen(text);
        uint8_t *b = malloc(*len + 1);
        if (b)
            memcpy(b, text, *len + 1);
        return b;
    }
    FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
    if (f == NULL) {
        fprintf(stderr, "mixclient: %s: %s\n", file, strerror(errno));
        return NULL;
    }
    size_t cap = 65536, n = 0, max = mixclient_max_message();
    uint8_t *b = malloc(cap);
    while (b != NULL) {
        if (n == cap) {
            if (cap > max) {
                fprintf(stderr, "mixclient: %s: message too large (the maximum is %zu bytes)\n",
                        file, max);
                free(b);
                b = NULL;
                break;
            }
            uint8_t *nb = realloc(b, cap * 2);
            if (nb == NULL) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
        size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    if (f != stdin)
        fclose(f);
    *len = n;
    return b;
}

static const char *state_name(uint32_t s)
{
    switch (s) {
    case FRAME_MSG_QUEUED: return "queued";
    case FRAME_MSG_SENT: return "sent";
    case FRAME_MSG_ACKNOWLEDGED: return "acknowledged";
    case FRAME_MSG_FAILED: return "failed";
    case FRAME_MSG_DELIVERED: return "delivered";
    }
    return "unknown";
}

/* Read the LocalSendReply to a send or reply; prints the id. */
static int await_send_reply(int fd, uint8_t id_out[16])
{
    struct mix_frame *r = lrecv_frame(fd);
    int rc = 1;
    if (r == NULL || r->type != FRAME_LOCAL_SEND_REPLY) {
        fprintf(stderr, "mixclient: no answer from the daemon\n");
    } else if (r->u.local_send_reply.code != 0) {
        fprintf(stderr, "mixclient: refused: %s\n",
                r->u.local_send_reply.reason ? r->u.local_send_reply.reason : "error");
    } else {
        char h[33];
        memcpy(id_out, r->u.local_send_reply.message_id.ptr, 16);
        hex(id_out, 16, h);
        printf("%s\n", h);
        fflush(stdout);
        rc = 0;
    }
    frame_free(r);
    return rc;
}

/* Poll the status of id until acknowledged or failed (or timeout). */
static int wait_ack(const char *sock, const uint8_t id[16], unsigned timeout_s)
{
    time_t end = time(NULL) + timeout_s;
    for (;;) {
        int fd = lconnect(sock);
        if (fd < 0)
            return 1;
        struct mix_frame q = {.type = FRAME_LOCAL_STATUS};
        q.u.local_status.message_id.ptr = id;
        q.u.local_status.message_id.len = 16;
        struct mix_frame *r = lsend_frame(fd, &q) == 0 ? lrecv_frame(fd) : NULL;
        close(fd);
        uint32_t st = 0;
        if (r && r->type == FRAME_LOCAL_STATUS_REPLY && r->u.local_status_reply.n_msgs == 1)
            st = r->u.local_status_reply.msgs[0].state;
        frame_free(r);
        if (st == FRAME_MSG_ACKNOWLEDGED)
            return 0;
        if (st == FRAME_MSG_FAILED) {
            fprintf(stderr, "mixclient: delivery failed\n");
            return 1;
        }
        if (time(NULL) >= end) {
            fprintf(stderr, "mixclient: not acknowledged yet (%s)\n", state_name(st));
            return 1;
        }
        usleep(200000);
    }
}

int cli_send(const char *sock, int argc, char **argv)
{
    static const struct option opts[] = {
        {"message", required_argument, NULL, 'm'}, {"file", required_argument, NULL, 'f'},
        {"reply-surbs", required_argument, NULL, 'r'}, {"wait", required_argument, NULL, 'w'},
        {NULL, 0, NULL, 0}};
    const char *text = NULL, *file = NULL;
    unsigned surbs = 0, wait_s = 0;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "m:f:r:w:", opts, NULL)) != -1) {
        switch (ch) {
        case 'm': text = optarg; break;
        case 'f': file = optarg; break;
        case 'r': surbs = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'w': wait_s = (unsigned)strtoul(optarg, NULL, 10); break;
        default: return 2;
        }
    }
    if (optind + 1 != argc || (text == NULL) == (file == NULL)) {
        fprintf(stderr, "usage: mixclient send ADDRESS (-m TEXT | -f FILE) [--reply-surbs 1] [--wait SECONDS]\n");
        return 2;
    }
    /* A mistyped address is refused here, before anything is sent. */
    char why[160];
    if (mixclient_check_address(argv[optind], why, sizeof(why)) != 0) {
        fprintf(stderr, "mixclient: %s\n", why);
        return 1;
    }
    size_t len;
    uint8_t *body = load_body(text, file, &len), id[16];
    if (body == NULL)
        return 1;
    if (len > mixclient_max_message()) {
        fprintf(stderr, "mixclient: message too large (%zu bytes; the maximum is %zu)\n", len,
                mixclient_max_message());
        free(body);
        return 1;
    }
    if (len == 0) {
        fprintf(stderr, "mixclient: empty message\n");
        free(body);
        return 1;
    }
    int fd = lconnect(sock), rc = 1;
    if (fd >= 0) {
        struct mix_frame f = {.type = FRAME_LOCAL_SEND};
        f.u.local_send.address = argv[optind];
        f.u.local_send.message.ptr = body;
        f.u.local_send.message.len = len;
        f.u.local_send.reply_surbs = surbs;
        if (lsend_frame(fd, &f) == 0)
            rc = await_send_reply(fd, id);
        close(fd);
    }
    free(body);
    if (rc == 0 && wait_s > 0)
        rc = wait_ack(sock, id, wait_s);
    return rc;
}

int cli_reply(const char *sock, int argc, char **argv)
{
    static const struct option opts[] = {
        {"message", required_argument, NULL, 'm'}, {"file", required_argument, NULL, 'f'},
        {NULL, 0, NULL, 0}};
    const char *text = NULL, *file = NULL;
    int ch;
    uint8_t id[16], out_id[16];
    optind = 1;
    while ((ch = getopt_long(argc, argv, "m:f:", opts, NULL)) != -1) {
        if (ch == 'm')
            text = optarg;
        else if (ch == 'f')
            file = optarg;
        else
            return 2;
    }
    if (optind + 1 != argc || (text == NULL) == (file == NULL) || !parse_id(argv[optind], id)) {
        fprintf(stderr, "usage: mixclient reply ID (-m TEXT | -f FILE)   (ID: 32 hex digits from recv)\n");
        return 2;
    }
    size_t len;
    uint8_t *body = load_body(text, file, &len);
    if (body == NULL)
        return 1;
    int fd = lconnect(sock), rc = 1;
    if (fd >= 0 && len > 0) {
        struct mix_frame f = {.type = FRAME_LOCAL_REPLY};
        f.u.local_reply.message_id.ptr = id;
        f.u.local_reply.message_id.len = 16;
        f.u.local_reply.body.ptr = body;
        f.u.local_reply.body.len = len;
        if (lsend_frame(fd, &f) == 0)
            rc = await_send_reply(fd, out_id);
    }
    if (fd >= 0)
        close(fd);
    free(body);
    return rc;
}

/* Print one received message, or write it to dir/ID. */
static int show_message(const struct mix_frame *f, const char *dir)
{
    char h[33];
    hex(f->u.local_msg.message_id.ptr, 16, h);
    size_t len = f->u.local_msg.body.len;
    printf("message %s %zu%s\n", h, len, f->u.local_msg.can_reply ? " can-reply" : "");
    if (dir != NULL) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, h);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || write_all(fd, f->u.local_msg.body.ptr, len) != 0) {
            fprintf(stderr, "mixclient: %s: %s\n", path, strerror(errno));
            if (fd >= 0)
                close(fd);
            return -1;
        }
        close(fd);
    } else {
        fwrite(f->u.local_msg.body.ptr, 1, len, stdout);
        printf("\n");
    }
    fflush(stdout);
    return 0;
}

int cli_recv(const char *sock, int argc, char **argv)
{
    static const struct option opts[] = {
        {"follow", no_argument, NULL, 'F'}, {"output", required_argument, NULL, 'o'},
        {"max", required_argument, NULL, 'n'}, {NULL, 0, NULL, 0}};
    bool follow = false;
    const char *dir = NULL;
    unsigned max = 0;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "Fo:n:", opts, NULL)) != -1) {
        switch (ch) {
        case 'F': follow = true; break;
        case 'o': dir = optarg; break;
        case 'n': max = (unsigned)strtoul(optarg, NULL, 10); break;
        default: return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "usage: mixclient recv [--follow] [-o DIR] [--max N]\n");
        return 2;
    }
    int fd = lconnect(sock);
    if (fd < 0)
        return 1;
    struct mix_frame q = {.type = FRAME_LOCAL_RECV};
    q.u.local_recv.follow = follow;
    q.u.local_recv.max = max;
    int rc = lsend_frame(fd, &q) == 0 ? 0 : 1;
    while (rc == 0) {
        struct mix_frame *f = lrecv_frame(fd);
        if (f == NULL) {
            if (!follow)
                rc = 1;
            break;
        }
        if (f->type == FRAME_LOCAL_MESSAGE) {
            if (show_message(f, dir) != 0)
                rc = 1;
        } else if (f->type == FRAME_LOCAL_RECV_END) {
            frame_free(f);
            break;
        }
        frame_free(f);
    }
    close(fd);
    return rc;
}

int cli_status(const char *sock, int argc, char **argv)
{
    uint8_t id[16];
    if (argc > 2 || (argc == 2 && !parse_id(argv[1], id))) {
        fprintf(stderr, "usage: mixclient status [ID]\n");
        return 2;
    }
    int fd = lconnect(sock);
    if (fd < 0)
        return 1;
    struct mix_frame q = {.type = FRAME_LOCAL_STATUS};
    if (argc == 2) {
        q.u.local_status.message_id.ptr = id;
        q.u.local_status.message_id.len = 16;
    }
    struct mix_frame *r = lsend_frame(fd, &q) == 0 ? lrecv_frame(fd) : NULL;
    close(fd);
    if (r == NULL || r->type != FRAME_LOCAL_STATUS_REPLY) {
        fprintf(stderr, "mixclient: no answer from the daemon\n");
        frame_free(r);
        return 1;
    }
    printf("address %s\nconnected %s\nepoch %llu\nqueued_packets %u\n",
           r->u.local_status_reply.address, r->u.local_status_reply.connected ? "yes" : "no",
           (unsigned long long)r->u.local_status_reply.epoch, r->u.local_status_reply.queue_len);
    for (size_t i = 0; i < r->u.local_status_reply.n_msgs; i++) {
        const struct frame_msg_status *s = &r->u.local_status_reply.msgs[i];
        char h[33];
        hex(s->id.ptr, 16, h);
        printf("%s %s %u/%u\n", h, state_name(s->state), s->acked, s->fragments);
    }
    int rc = argc == 2 && r->u.local_status_reply.n_msgs == 0 ? 1 : 0;
    if (rc)
        fprintf(stderr, "mixclient: unknown message id\n");
    frame_free(r);
    return rc;
}
