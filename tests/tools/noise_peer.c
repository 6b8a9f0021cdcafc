/*
 * noise_peer: a small test program that puts lib/link.c on a real TCP socket
 * on 127.0.0.1, for tests/integration/noise_interop.py.
 *
 *   noise_peer listen SK_HEX
 *       Listen on 127.0.0.1 (a free port), print "port N" and "pubkey HEX",
 *       accept one connection as the link responder, print "remote HEX role R"
 *       once established, echo every frame back, and exit 0 when the peer
 *       closes cleanly (1 on any link error, with the reason on stderr).
 *   noise_peer connect PORT SK_HEX REMOTE_PK_HEX
 *       Connect as the initiator (role client), send frames of several sizes
 *       (one spanning several Noise messages), an on-demand rekey, and check
 *       that each comes back unchanged; exit 0 on success.
 *   noise_peer fuzz-seeds DIR
 *       Write seed inputs for tests/fuzz/fuzz_noise_responder.c.
 *
 * Plain blocking sockets and poll(): this is a test tool, not a daemon.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <sodium.h>

#include "link.h"
#include "noise.h"
#include "rng.h"
#include "../fuzz/noise_fuzz_keys.h"

static int die(const char *what)
{
    fprintf(stderr, "noise_peer: %s\n", what);
    return 1;
}

static bool parse_key(const char *hex, uint8_t out[32])
{
    size_t n = 0;
    return sodium_hex2bin(out, 32, hex, strlen(hex), NULL, &n, NULL) == 0 && n == 32;
}

static void print_key(const char *label, const uint8_t k[32])
{
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, k, 32);
    printf("%s %s", label, hex);
}

/* Write everything the link has queued. */
static int flush_out(int fd, struct link *l)
{
    const uint8_t *p;
    size_t len;
    link_output(l, &p, &len);
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        link_consume_output(l, (size_t)w);
        link_output(l, &p, &len);
    }
    return 0;
}

/* Read once and feed the link: 1 = fed, 0 = clean EOF, -1 = error. */
static int read_feed(int fd, struct link *l)
{
    uint8_t buf[16384];
    ssize_t r;
    do
        r = read(fd, buf, sizeof buf);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return 0;
    if (r < 0)
        return -1;
    int rc = link_feed(l, buf, (size_t)r);
    if (rc != LINK_OK) {
        fprintf(stderr, "noise_peer: link error: %s (%s)\n", link_strerror(rc),
                link_error_reason(l));
        return -1;
    }
    return 1;
}

static int serve(int fd, const uint8_t sk[32], const uint8_t pk[32])
{
    struct mix_rng rng = mix_rng_system();
    struct link *l = link_new_responder(sk, pk, 0, &rng);
    bool announced = false;
    int rc = 1;
    if (l == NULL)
        return die("link_new_responder");
    for (;;) {
        int r = read_feed(fd, l);
        if (r <= 0) {
            rc = (r == 0 && announced) ? 0 : 1;
            break;
        }
        if (link_is_established(l) && !announced) {
            uint8_t rs[32];
            if (!link_remote_static(l, rs))
                break;
            print_key("remote", rs);
            printf(" role %d\n", (int)link_remote_role(l));
            fflush(stdout);
            announced = true;
        }
        const uint8_t *f;
        size_t flen;
        while (link_next_frame(l, &f, &flen) == 1)
            if (link_send_frame(l, f, flen) != LINK_OK)
                goto out;
        if (flush_out(fd, l) != 0)
            break;
    }
out:
    link_free(l);
    return rc;
}

static int cmd_listen(const char *sk_hex)
{
    uint8_t *sk = sodium_malloc(32), pk[32];
    if (sk == NULL || !parse_key(sk_hex, sk) || noise_dh_pubkey(pk, sk) != NOISE_OK)
        return die("bad secret key");
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 4) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &alen) != 0)
        return die("cannot listen on 127.0.0.1");
    printf("port %d\n", ntohs(a.sin_port));
    print_key("pubkey", pk);
    printf("\n");
    fflush(stdout);
    int c = accept(s, NULL, NULL);
    close(s);
    if (c < 0)
        return die("accept");
    int rc = serve(c, sk, pk);
    close(c);
    sodium_free(sk);
    return rc;
}

/* Wait for one frame and check it equals want[0..len). */
static bool await_echo(int fd, struct link *l, const uint8_t *want, size_t len)
{
    const uint8_t *f;
    size_t flen;
    while (link_next_frame(l, &f, &flen) != 1)
        if (read_feed(fd, l) != 1)
            return false;
    return flen == len && memcmp(f, want, len) == 0;
}

static int run_client(int fd, struct link *l)
{
    static const size_t sizes[] = { 0, 1, 5, 1000, LINK_MAX_CHUNK, 150000, 3 };
    uint8_t *buf = malloc(150000);
    if (buf == NULL)
        return 1;
    while (!link_is_established(l))
        if (flush_out(fd, l) != 0 || read_feed(fd, l) != 1) {
            free(buf);
            return die("handshake did not complete");
        }
    int rc = 0;
    for (size_t k = 0; k < MIX_ARRAY_LEN(sizes) && rc == 0; k++) {
        for (size_t j = 0; j < sizes[k]; j++)
            buf[j] = (uint8_t)(j * 7 + k);
        if (k == 4 && link_rekey(l) != LINK_OK)
            rc = die("rekey");
        if (rc == 0 && (link_send_frame(l, buf, sizes[k]) != LINK_OK || flush_out(fd, l) != 0))
            rc = die("send");
        if (rc == 0 && !await_echo(fd, l, buf, sizes[k]))
            rc = die("echo mismatch");
    }
    free(buf);
    if (rc == 0)
        printf("ok %zu frames\n", MIX_ARRAY_LEN(sizes));
    return rc;
}

static int cmd_connect(const char *port, const char *sk_hex, const char *rpk_hex)
{
    uint8_t *sk = sodium_malloc(32), pk[32], rpk[32];
    if (sk == NULL || !parse_key(sk_hex, sk) || !parse_key(rpk_hex, rpk) ||
        noise_dh_pubkey(pk, sk) != NOISE_OK)
        return die("bad key");
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        return die("connect");
    struct mix_rng rng = mix_rng_system();
    struct link *l = link_new_initiator(sk, pk, rpk, LINK_ROLE_CLIENT, 0, &rng);
    int rc = (l != NULL && link_start(l) == LINK_OK) ? run_client(fd, l) : die("link");
    link_free(l);
    close(fd);
    sodium_free(sk);
    return rc;
}

/* ------------------------------------------------------------ fuzz seeds */

static int write_seed(const char *dir, const char *name, uint8_t mode, const uint8_t *p, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return die(path);
    fputc(mode, f);
    fwrite(p, 1, len, f);
    return fclose(f) == 0 ? 0 : die(path);
}

/* Append the initiator's pending output to a growing transcript. */
static void take(struct link *l, uint8_t *t, size_t *tlen, size_t cap, struct link *r)
{
    const uint8_t *p;
    size_t len;
    link_output(l, &p, &len);
    if (*tlen + len <= cap) {
        memcpy(t + *tlen, p, len);
        *tlen += len;
    }
    if (r != NULL && link_feed(r, p, len) != LINK_OK)
        fprintf(stderr, "noise_peer: seed transcript rejected\n");
    link_consume_output(l, len);
}

/*
 * A transcript an initiator sends to the fuzz target's responder: the
 * responder's keys and RNG seed are those of the fuzz target, so the
 * transport messages after msg1 decrypt there too and the fuzzer starts
 * from a link that is established and carries frames.
 */
static int cmd_fuzz_seeds(const char *dir)
{
    static uint8_t t[300000];
    size_t tlen = 0;
    uint8_t rsk[32], rpk[32], isk[32], ipk[32], rseed[32], iseed[32] = { 0x77 };
    struct mix_rng_det rdet, idet;
    noise_fuzz_keys(rsk, rpk, rseed);
    mix_rng_det_init(&rdet, rseed);
    mix_rng_det_init(&idet, iseed);
    struct mix_rng rr = mix_rng_det(&rdet), ir = mix_rng_det(&idet);
    if (noise_dh_keygen(ipk, isk, &ir) != NOISE_OK)
        return die("keygen");
    struct link *r = link_new_responder(rsk, rpk, NOISE_FUZZ_MAX_FRAME, &rr);
    struct link *i = link_new_initiator(isk, ipk, rpk, LINK_ROLE_NODE, 0, &ir);
    if (r == NULL || i == NULL || link_start(i) != LINK_OK)
        return die("link");
    take(i, t, &tlen, sizeof t, r);
    int rc = write_seed(dir, "msg1", 0, t, tlen);
    rc |= write_seed(dir, "msg1_bytewise", 1, t, tlen);
    /* The responder's msg2 completes the initiator. */
    const uint8_t *p;
    size_t len;
    link_output(r, &p, &len);
    if (link_feed(i, p, len) != LINK_OK || !link_is_established(i))
        return die("seed handshake");
    link_consume_output(r, len);
    /* Small frames, a rekey, and one frame spanning two Noise messages. */
    static const size_t sizes[] = { 0, 1, 33, 300, 70000 };
    uint8_t *buf = calloc(1, NOISE_FUZZ_MAX_FRAME + 1);
    for (size_t k = 0; buf && k < MIX_ARRAY_LEN(sizes); k++) {
        memset(buf, (int)k, sizes[k]);
        if (link_send_frame(i, buf, sizes[k]) != LINK_OK)
            rc = 1;
        if (k == 2 && link_rekey(i) != LINK_OK)
            rc = 1;
        take(i, t, &tlen, sizeof t, r);
    }
    rc |= write_seed(dir, "session", 0, t, tlen);
    rc |= write_seed(dir, "session_chunk7", 7, t, tlen);
    /* Then a frame above the fuzz maximum: its first message suffices. */
    size_t before = tlen;
    if (buf == NULL || link_send_frame(i, buf, NOISE_FUZZ_MAX_FRAME + 1) != LINK_OK)
        rc = 1;
    take(i, t, &tlen, sizeof t, NULL);
    rc |= write_seed(dir, "oversized", 0, t, before + 2 + NOISE_MAX_MSG);
    free(buf);
    link_free(i);
    link_free(r);
    return rc;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return die("sodium_init");
    if (argc == 3 && strcmp(argv[1], "listen") == 0)
        return cmd_listen(argv[2]);
    if (argc == 5 && strcmp(argv[1], "connect") == 0)
        return cmd_connect(argv[2], argv[3], argv[4]);
    if (argc == 3 && strcmp(argv[1], "fuzz-seeds") == 0)
        return cmd_fuzz_seeds(argv[2]);
    fprintf(stderr, "usage: noise_peer listen SK_HEX | connect PORT SK_HEX REMOTE_PK_HEX | "
                    "fuzz-seeds DIR\n");
    return 2;
}
