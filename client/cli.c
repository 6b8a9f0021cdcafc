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
#include "cconf.h"
#include "common.h"
#include "fileio.h"
#include "frame.h"
#include "local.h"
#include "mixclient.h"

/* ------------------------------------------------------------ options and help */

/* One line of the synopsis and the lines that explain it, per command. */
static const struct {
    const char *name, *synopsis, *help;
} commands[] = {
    { "init", "init [--timeout SECONDS]",
      "create the key, register an inbox at a gateway, print the address\n"
      "      --timeout SECONDS   give up after SECONDS (1-3600, default 30)\n" },
    { "daemon", "daemon", "run the client: cover traffic, inbox fetches, the local socket\n" },
    { "address", "address", "print this client's address\n" },
    { "send", "send ADDRESS (-m TEXT | -f FILE) [--reply-surbs N] [--wait SECONDS]",
      "queue a message for ADDRESS and print its id\n"
      "  -m, --message TEXT      the message\n"
      "  -f, --file FILE         the message is FILE (- = standard input)\n"
      "  -r, --reply-surbs N     attach N reply blocks (0 or 1, default 0)\n"
      "  -w, --wait SECONDS      wait until acknowledged, showing progress (0-86400,\n"
      "                          0 = do not wait)\n" },
    { "recv", "recv [--follow] [-o DIR] [--max N]",
      "print the received messages not taken yet\n"
      "      --follow            keep waiting for new messages\n"
      "  -o, --output DIR        write each body to DIR/ID instead\n"
      "      --max N             take at most N messages (1-100000)\n" },
    { "reply", "reply ID (-m TEXT | -f FILE)",
      "answer received message ID through its reply block (once)\n"
      "  -m, --message TEXT      the reply\n"
      "  -f, --file FILE         the reply is FILE (- = standard input)\n" },
    { "status", "status [--follow] [ID]",
      "the link, the directory epoch, the queue, and each message: id, state,\n"
      "fragments done, direction, size, peer, time, percent\n"
      "      --follow            show ID's progress until it is complete\n" },
};

/* Print text with every line indented. */
static void indented(FILE *f, const char *indent, const char *text)
{
    while (*text) {
        size_t n = strcspn(text, "\n");
        fprintf(f, "%s%.*s\n", indent, (int)n, text);
        text += n + (text[n] == '\n');
    }
}

void cli_usage(FILE *f, const char *cmd)
{
    if (cmd != NULL) {
        for (size_t i = 0; i < MIX_ARRAY_LEN(commands); i++) {
            if (strcmp(commands[i].name, cmd) == 0) {
                fprintf(f, "usage: mixclient [-c CONFIG] %s\n%s", commands[i].synopsis,
                        commands[i].help);
                return;
            }
        }
    }
    fprintf(f, "usage: mixclient [-c CONFIG] COMMAND [OPTIONS] [ARGS]\n"
               "       mixclient -n [-c CONFIG]\n"
               "       mixclient -h | --help | -V | --version\n"
               "\ncommands:\n");
    for (size_t i = 0; i < MIX_ARRAY_LEN(commands); i++) {
        fprintf(f, "  %s\n", commands[i].synopsis);
        indented(f, "      ", commands[i].help);
    }
    fprintf(
        f, "\noptions (before or after the command):\n"
           "  -c, --config CONFIG     config file (default $MIXCLIENT_CONFIG or ./mixclient.conf)\n"
           "  -n, --check             check the config file and exit (before the command)\n"
           "  -h, --help              this help; after a command, that command's\n"
           "  -V, --version           print the version\n");
}

void cli_version(void)
{
    printf("mixclient %s\n", mixclient_version());
}

/* The option getopt just refused, as the user wrote it. */
static void opt_name(char **argv, char *out, size_t outlen)
{
    const char *a = optind > 0 ? argv[optind - 1] : NULL;
    if (a != NULL && strncmp(a, "--", 2) == 0)
        snprintf(out, outlen, "%.*s", (int)strcspn(a, "="), a);
    else
        snprintf(out, outlen, "-%c", optopt ? optopt : '?');
}

int cli_common_opt(int ch, const char *cmd, char **argv, const char **config)
{
    char name[64];
    const char *who = cmd ? cmd : "";
    switch (ch) {
    case 'c': *config = optarg; return -1;
    case 'h': cli_usage(stdout, cmd); return 0;
    case 'V': cli_version(); return 0;
    case ':':
        opt_name(argv, name, sizeof(name));
        fprintf(stderr, "mixclient%s%s: option %s needs a value\n", cmd ? " " : "", who, name);
        break;
    default:
        opt_name(argv, name, sizeof(name));
        fprintf(stderr, "mixclient%s%s: unknown option %s\n", cmd ? " " : "", who, name);
        break;
    }
    fprintf(stderr, "try 'mixclient %s%s--help'\n", who, cmd ? " " : "");
    return 2;
}

bool cli_parse_num(const char *cmd, const char *opt, const char *s, unsigned long min,
                   unsigned long max, unsigned long *out)
{
    char *end = NULL;
    unsigned long v = 0;
    bool ok = s[0] >= '0' && s[0] <= '9';
    if (ok) {
        errno = 0;
        v = strtoul(s, &end, 10);
        ok = errno == 0 && *end == '\0' && v >= min && v <= max;
    }
    if (!ok) {
        fprintf(stderr, "mixclient %s: %s '%s': expected a whole number from %lu to %lu\n", cmd,
                opt, s, min, max);
        return false;
    }
    *out = v;
    return true;
}

bool cli_socket(const char *config, char *out, size_t outlen)
{
    char err[512];
    struct cconf conf;
    if (cconf_load(config, &conf, err, sizeof(err)) < 0) {
        fprintf(stderr, "mixclient: %s\n", err);
        return false;
    }
    if (strlen(conf.socket) >= outlen) {
        fprintf(stderr, "mixclient: socket path too long\n");
        return false;
    }
    strcpy(out, conf.socket);
    return true;
}

/* The message is given by exactly one of -m and -f. */
static bool one_body(const char *cmd, const char *text, const char *file)
{
    if ((text == NULL) == (file == NULL)) {
        fprintf(stderr, "mixclient %s: %s\n", cmd,
                text ? "give -m TEXT or -f FILE, not both" : "no message: give -m TEXT or -f FILE");
        fprintf(stderr, "try 'mixclient %s --help'\n", cmd);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------ the local socket */

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
        fprintf(stderr,
                "mixclient: cannot reach the daemon at %s: %s (is `mixclient daemon` running?)\n",
                path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
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
    int rc = fileio_write_all(fd, hdr, 4) == 0 && fileio_write_all(fd, buf, len) == 0 ? 0 : -1;
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
    if (fileio_read_all(fd, hdr, 4) != 0)
        return NULL;
    size_t len = mix_get_be32(hdr);
    if (len == 0 || len > LOCAL_MAX_FRAME)
        return NULL;
    uint8_t *buf = malloc(len);
    if (buf == NULL || fileio_read_all(fd, buf, len) != 0 ||
        !frame_decode(buf, len, LOCAL_MAX_FRAME, &f, &why))
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
    case FRAME_MSG_RECEIVING: return "receiving";
    case FRAME_MSG_RECEIVED: return "received";
    }
    return "unknown";
}

/* ------------------------------------------------------------ status and progress */

/* One LocalStatus round trip: id NULL = every message.  NULL (and says why) on failure. */
static struct mix_frame *query_status(const char *sock, const uint8_t *id)
{
    int fd = lconnect(sock);
    if (fd < 0)
        return NULL;
    struct mix_frame q = { .type = FRAME_LOCAL_STATUS };
    if (id != NULL) {
        q.u.local_status.message_id.ptr = id;
        q.u.local_status.message_id.len = 16;
    }
    struct mix_frame *r = lsend_frame(fd, &q) == 0 ? lrecv_frame(fd) : NULL;
    close(fd);
    if (r == NULL || r->type != FRAME_LOCAL_STATUS_REPLY) {
        fprintf(stderr, "mixclient: no answer from the daemon\n");
        frame_free(r);
        return NULL;
    }
    return r;
}

static void fmt_size(uint64_t n, char *out, size_t outlen)
{
    if (n < 1024)
        snprintf(out, outlen, "%lluB", (unsigned long long)n);
    else if (n < 1024 * 1024)
        snprintf(out, outlen, "%.1fKiB", (double)n / 1024);
    else
        snprintf(out, outlen, "%.1fMiB", (double)n / (1024 * 1024));
}

static void fmt_dur(double s, char *out, size_t outlen)
{
    unsigned long t = s < 0 ? 0 : (unsigned long)(s + 0.5);
    if (t < 60)
        snprintf(out, outlen, "%lus", t);
    else if (t < 3600)
        snprintf(out, outlen, "%lum%02lus", t / 60, t % 60);
    else
        snprintf(out, outlen, "%luh%02lum", t / 3600, t / 60 % 60);
}

/* A recipient address shortened to its start and end (mix1abcdef...wxyz); "-" if none. */
static void fmt_peer(const char *peer, char *out, size_t outlen)
{
    size_t n = peer ? strlen(peer) : 0;
    if (n == 0)
        snprintf(out, outlen, "-");
    else if (n <= 16)
        snprintf(out, outlen, "%s", peer);
    else
        snprintf(out, outlen, "%.10s...%s", peer, peer + n - 4);
}

static void fmt_time(uint64_t t, char *out, size_t outlen)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (t == 0 || gmtime_r(&tt, &tm) == NULL)
        snprintf(out, outlen, "-");
    else
        strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* "ID STATE DONE/FRAGMENTS DIRECTION SIZE PEER TIME PERCENT" (the first three as before). */
static void print_status_line(const struct frame_msg_status *m)
{
    char h[33], size[32], peer[32], when[32];
    hex(m->id.ptr, 16, h);
    fmt_size(m->size, size, sizeof(size));
    fmt_peer(m->peer, peer, sizeof(peer));
    fmt_time(m->time, when, sizeof(when));
    unsigned pct = m->fragments ? (unsigned)(100ull * m->acked / m->fragments) : 0;
    printf("%s %s %u/%u %s %s %s %s %u%%\n", h, state_name(m->state), m->acked, m->fragments,
           m->direction == FRAME_DIR_IN ? "in" : "out", size, peer, when, pct);
}

/* Seconds for n fragments at the payload rate (millihertz); < 0 if unknown. */
static double slot_time(uint64_t n, uint64_t lambda_p_mhz)
{
    return lambda_p_mhz ? (double)n * 1000.0 / (double)lambda_p_mhz : -1;
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Follow message id until it is complete (acknowledged, or received for an
 * incoming one) or failed, or timeout_s passes (0 = no limit), showing its
 * progress on stderr: a bar redrawn in place on a terminal, else a plain
 * line whenever it moves (at most every 5 s).  The ETA uses the rate seen
 * so far, or the network's payload rate before there is one.
 */
static int follow_progress(const char *sock, const uint8_t id[16], unsigned timeout_s)
{
    bool tty = isatty(STDERR_FILENO) == 1;
    double start = mono_now(), last_line = 0;
    uint32_t first_done = UINT32_MAX, last_done = UINT32_MAX;
    int rc = 1;
    for (;;) {
        struct mix_frame *r = query_status(sock, id);
        if (r == NULL)
            return 1;
        if (r->u.local_status_reply.n_msgs != 1) {
            fprintf(stderr, "%smixclient: no message with that id\n", tty ? "\n" : "");
            frame_free(r);
            return 1;
        }
        struct frame_msg_status m = r->u.local_status_reply.msgs[0];
        uint64_t lp = r->u.local_status_reply.lambda_p_mhz;
        frame_free(r);
        double now = mono_now(), el = now - start;
        if (first_done == UINT32_MAX)
            first_done = m.acked;
        uint32_t left = m.fragments - m.acked;
        double rate = el > 3 && m.acked > first_done ? (m.acked - first_done) / el : 0;
        double eta = rate > 0 ? left / rate : slot_time(left, lp);
        char etas[32] = "?";
        if (eta >= 0)
            fmt_dur(eta, etas, sizeof(etas));
        unsigned pct = m.fragments ? (unsigned)(100ull * m.acked / m.fragments) : 0;
        bool done = m.state == FRAME_MSG_ACKNOWLEDGED || m.state == FRAME_MSG_RECEIVED;
        bool failed = m.state == FRAME_MSG_FAILED;
        if (tty) {
            char bar[31];
            size_t fill = m.fragments ? (size_t)30 * m.acked / m.fragments : 0;
            memset(bar, '#', fill);
            memset(bar + fill, '.', 30 - fill);
            bar[30] = '\0';
            fprintf(stderr, "\r[%s] %3u%% %u/%u %s, ETA %s   ", bar, pct, m.acked, m.fragments,
                    state_name(m.state), done ? "0s" : etas);
        } else if (done || failed || (m.acked != last_done && now - last_line >= 5) ||
                   last_line == 0) {
            fprintf(stderr, "progress %u/%u %u%% %s eta %s\n", m.acked, m.fragments, pct,
                    state_name(m.state), done ? "0s" : etas);
            last_line = now;
        }
        last_done = m.acked;
        if (done || failed) {
            if (tty)
                fprintf(stderr, "\n");
            if (failed)
                fprintf(stderr, "mixclient: delivery failed (%u of %u fragments acknowledged)\n",
                        m.acked, m.fragments);
            rc = failed ? 1 : 0;
            break;
        }
        if (timeout_s > 0 && el >= timeout_s) {
            fprintf(stderr, "%smixclient: not acknowledged yet (%s, %u/%u)\n", tty ? "\n" : "",
                    state_name(m.state), m.acked, m.fragments);
            break;
        }
        usleep(tty ? 250000 : 500000);
    }
    return rc;
}

/* Before a multi-fragment message goes out: how many fragments and how long. */
static void announce(const char *sock, const uint8_t id[16], size_t len)
{
    struct mix_frame *r = query_status(sock, id);
    if (r == NULL)
        return;
    if (r->u.local_status_reply.n_msgs == 1) {
        const struct frame_msg_status *m = &r->u.local_status_reply.msgs[0];
        uint64_t lp = r->u.local_status_reply.lambda_p_mhz;
        double t = slot_time(m->fragments, lp);
        char size[32], dur[32] = "?";
        fmt_size(len, size, sizeof(size));
        if (t >= 0)
            fmt_dur(t, dur, sizeof(dur));
        fprintf(stderr,
                "mixclient: %s in %u fragments: about %s at the network's payload rate "
                "(%.2f packets/s; longer while other messages share it)\n",
                size, m->fragments, dur, (double)lp / 1000.0);
    }
    frame_free(r);
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

int cli_send(const char *config, int argc, char **argv)
{
    static const struct option opts[] = { { "message", required_argument, NULL, 'm' },
                                          { "file", required_argument, NULL, 'f' },
                                          { "reply-surbs", required_argument, NULL, 'r' },
                                          { "wait", required_argument, NULL, 'w' },
                                          CLI_COMMON_LONG,
                                          { NULL, 0, NULL, 0 } };
    const char *text = NULL, *file = NULL;
    unsigned long surbs = 0, wait_s = 0;
    char sock[CCONF_PATH_MAX];
    int ch, r;
    optind = 0;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, CLI_COMMON_SHORT "m:f:r:w:", opts, NULL)) != -1) {
        switch (ch) {
        case 'm': text = optarg; break;
        case 'f': file = optarg; break;
        case 'r':
            if (!cli_parse_num("send", "--reply-surbs", optarg, 0, 1, &surbs))
                return 2;
            break;
        case 'w':
            if (!cli_parse_num("send", "--wait", optarg, 0, 86400, &wait_s))
                return 2;
            break;
        default:
            if ((r = cli_common_opt(ch, "send", argv, &config)) >= 0)
                return r;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "mixclient send: %s\ntry 'mixclient send --help'\n",
                optind == argc ? "no ADDRESS given" : "give one ADDRESS only");
        return 2;
    }
    if (!one_body("send", text, file))
        return 2;
    if (!cli_socket(config, sock, sizeof(sock)))
        return 1;
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
        struct mix_frame f = { .type = FRAME_LOCAL_SEND };
        f.u.local_send.address = argv[optind];
        f.u.local_send.message.ptr = body;
        f.u.local_send.message.len = len;
        f.u.local_send.reply_surbs = (uint32_t)surbs;
        if (lsend_frame(fd, &f) == 0)
            rc = await_send_reply(fd, id);
        close(fd);
    }
    free(body);
    if (rc == 0 && file != NULL)
        announce(sock, id, len);
    if (rc == 0 && wait_s > 0)
        rc = follow_progress(sock, id, (unsigned)wait_s);
    return rc;
}

int cli_reply(const char *config, int argc, char **argv)
{
    static const struct option opts[] = { { "message", required_argument, NULL, 'm' },
                                          { "file", required_argument, NULL, 'f' },
                                          CLI_COMMON_LONG,
                                          { NULL, 0, NULL, 0 } };
    const char *text = NULL, *file = NULL;
    char sock[CCONF_PATH_MAX];
    int ch, r;
    uint8_t id[16], out_id[16];
    optind = 0;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, CLI_COMMON_SHORT "m:f:", opts, NULL)) != -1) {
        if (ch == 'm')
            text = optarg;
        else if (ch == 'f')
            file = optarg;
        else if ((r = cli_common_opt(ch, "reply", argv, &config)) >= 0)
            return r;
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "mixclient reply: %s\ntry 'mixclient reply --help'\n",
                optind == argc ? "no message ID given" : "give one ID only");
        return 2;
    }
    if (!parse_id(argv[optind], id)) {
        fprintf(stderr,
                "mixclient reply: '%s' is not a message id (32 hex digits, as recv prints)\n",
                argv[optind]);
        return 2;
    }
    if (!one_body("reply", text, file))
        return 2;
    if (!cli_socket(config, sock, sizeof(sock)))
        return 1;
    size_t len;
    uint8_t *body = load_body(text, file, &len);
    if (body == NULL)
        return 1;
    if (len == 0) {
        fprintf(stderr, "mixclient: empty reply\n");
        free(body);
        return 1;
    }
    int fd = lconnect(sock), rc = 1;
    if (fd >= 0) {
        struct mix_frame f = { .type = FRAME_LOCAL_REPLY };
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
    /* "message ID LEN" then flags: can-reply, or reply-to ID for an answer to one of ours. */
    printf("message %s %zu", h, len);
    if (f->u.local_msg.can_reply)
        printf(" can-reply");
    if (f->u.local_msg.is_reply) {
        char r[33] = "unknown";
        if (f->u.local_msg.in_reply_to.len == 16)
            hex(f->u.local_msg.in_reply_to.ptr, 16, r);
        printf(" reply-to %s", r);
    }
    printf("\n");
    if (dir != NULL) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, h);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || fileio_write_all(fd, f->u.local_msg.body.ptr, len) != 0) {
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

int cli_recv(const char *config, int argc, char **argv)
{
    static const struct option opts[] = { { "follow", no_argument, NULL, 'F' },
                                          { "output", required_argument, NULL, 'o' },
                                          { "max", required_argument, NULL, 'M' },
                                          CLI_COMMON_LONG,
                                          { NULL, 0, NULL, 0 } };
    bool follow = false;
    const char *dir = NULL;
    unsigned long max = 0;
    char sock[CCONF_PATH_MAX];
    int ch, r;
    optind = 0;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, CLI_COMMON_SHORT "o:", opts, NULL)) != -1) {
        switch (ch) {
        case 'F': follow = true; break;
        case 'o': dir = optarg; break;
        case 'M':
            if (!cli_parse_num("recv", "--max", optarg, 1, 100000, &max))
                return 2;
            break;
        default:
            if ((r = cli_common_opt(ch, "recv", argv, &config)) >= 0)
                return r;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "mixclient recv: unexpected argument '%s'\ntry 'mixclient recv --help'\n",
                argv[optind]);
        return 2;
    }
    if (!cli_socket(config, sock, sizeof(sock)))
        return 1;
    int fd = lconnect(sock);
    if (fd < 0)
        return 1;
    struct mix_frame q = { .type = FRAME_LOCAL_RECV };
    q.u.local_recv.follow = follow;
    q.u.local_recv.max = (uint32_t)max;
    int rc = lsend_frame(fd, &q) == 0 ? 0 : 1;
    while (rc == 0) {
        struct mix_frame *f = lrecv_frame(fd);
        if (f == NULL) {
            /* Only the daemon ends a follow: it stopped (or dropped us). */
            fprintf(stderr, "mixclient recv: the daemon closed the connection%s\n",
                    follow ? " (stopped?); no more messages will come" : " before the end");
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

int cli_status(const char *config, int argc, char **argv)
{
    static const struct option opts[] = { { "follow", no_argument, NULL, 'F' },
                                          CLI_COMMON_LONG,
                                          { NULL, 0, NULL, 0 } };
    char sock[CCONF_PATH_MAX];
    uint8_t id[16];
    bool follow = false;
    int ch, e;
    optind = 0;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, CLI_COMMON_SHORT, opts, NULL)) != -1) {
        if (ch == 'F')
            follow = true;
        else if ((e = cli_common_opt(ch, "status", argv, &config)) >= 0)
            return e;
    }
    if (optind + 1 < argc) {
        fprintf(stderr, "mixclient status: give one ID only\ntry 'mixclient status --help'\n");
        return 2;
    }
    bool one = optind + 1 == argc;
    if (one && !parse_id(argv[optind], id)) {
        fprintf(stderr,
                "mixclient status: '%s' is not a message id (32 hex digits, as send prints)\n",
                argv[optind]);
        return 2;
    }
    if (follow && !one) {
        fprintf(stderr,
                "mixclient status: --follow needs a message ID\ntry 'mixclient status --help'\n");
        return 2;
    }
    if (!cli_socket(config, sock, sizeof(sock)))
        return 1;
    if (follow)
        return follow_progress(sock, id, 0);
    struct mix_frame *r = query_status(sock, one ? id : NULL);
    if (r == NULL)
        return 1;
    const __typeof__(r->u.local_status_reply) *sr = &r->u.local_status_reply;
    if (one && sr->n_msgs == 0) {
        fprintf(stderr, "mixclient status: no sent message with id %s\n", argv[optind]);
        frame_free(r);
        return 1;
    }
    if (!one)
        printf("address %s\nconnected %s\nepoch %llu\nqueued_packets %u\npayload_rate %.2f/s\n",
               sr->address, sr->connected ? "yes" : "no", (unsigned long long)sr->epoch,
               sr->queue_len, (double)sr->lambda_p_mhz / 1000.0);
    for (size_t i = 0; i < sr->n_msgs; i++)
        print_status_line(&sr->msgs[i]);
    frame_free(r);
    return 0;
}
