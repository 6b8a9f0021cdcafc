/*
 * mixtest_net: test networks on disk and blocking Noise links.  See the header.
 */
#include "mixtest_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "keyfile.h"
#include "sphinx.h"

void tnet_params_default(struct pki_params *p, uint64_t now)
{
    memset(p, 0, sizeof(*p));
    p->epoch = 1;
    p->timing.genesis = now - 5;
    p->timing.epoch_len = 3600;
    p->timing.grace = 60;
    p->max_hops = SPHINX_DEFAULT_HOPS;
    p->payload_len = SPHINX_DEFAULT_PAYLOAD;
    p->layers = 3;
    p->mean_delay_us = 1000;
    p->max_delay_us = 1000000;
    p->lambda_p_mhz = 1000;
    p->lambda_l_mhz = 1000;
    p->lambda_d_mhz = 1000;
    p->lambda_m_mhz = 0;
    p->strategy = PKI_STRATEGY_POISSON;
    p->pool_interval_us = 0;
    p->pool_keep = 0;
    p->threshold_n = 0;
}

int tnet_add(struct tnet *t, uint32_t roles, uint32_t layer, uint16_t port, uint16_t mport,
             bool external)
{
    if (t->n >= TNET_MAX_NODES)
        return -1;
    struct tnet_node *nd = &t->nodes[t->n];
    memset(nd, 0, sizeof(*nd));
    crypto_sign_keypair(nd->id_pk, nd->id_sk);
    pki_node_id(nd->id_pk, nd->id);
    randombytes_buf(nd->link_sk, 32);
    crypto_scalarmult_base(nd->link_pk, nd->link_sk);
    struct mix_rng sys = mix_rng_system();
    for (int i = 0; i < 2; i++)
        sphinx_keygen(&sys, nd->sphinx_sk[i], nd->sphinx_pk[i]);
    nd->roles = roles;
    nd->layer = layer;
    nd->port = port;
    nd->metrics_port = mport;
    nd->external = external;
    return (int)t->n++;
}

int tnet_document(struct tnet *t, uint8_t **out, size_t *len)
{
    struct pki_doc *doc = pki_doc_new(&t->params);
    uint8_t *bytes = NULL;
    size_t blen = 0;
    struct pki_sig sig;
    int rc = -1;

    if (!doc)
        return -1;
    for (size_t i = 0; i < t->n; i++) {
        struct tnet_node *nd = &t->nodes[i];
        struct pki_descriptor d;
        memset(&d, 0, sizeof(d));
        memcpy(d.id, nd->id, 32);
        memcpy(d.identity_key, nd->id_pk, 32);
        memcpy(d.link_key, nd->link_pk, 32);
        d.roles = nd->roles;
        d.layer = nd->layer;
        snprintf(d.address, sizeof(d.address), "127.0.0.1:%u", nd->port);
        d.n_sphinx_keys = 2;
        for (int k = 0; k < 2; k++) {
            d.sphinx_keys[k].epoch = t->params.epoch + (uint64_t)k;
            memcpy(d.sphinx_keys[k].key, nd->sphinx_pk[k], 32);
        }
        enum pki_err e = pki_doc_add(doc, &d);
        if (e != PKI_OK) {
            fprintf(stderr, "pki_doc_add: %s\n", pki_strerror(e));
            goto out;
        }
    }
    if (pki_doc_encode(doc, &bytes, &blen) != PKI_OK ||
        pki_doc_sign(bytes, blen, t->auth_sk, &sig) != PKI_OK ||
        pki_signed_doc_encode(bytes, blen, &sig, 1, out, len) != PKI_OK)
        goto out;
    rc = 0;
out:
    free(bytes);
    pki_doc_free(doc);
    return rc;
}

static int write_file(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(buf, 1, len, f);
    return (fclose(f) == 0 && w == len) ? 0 : -1;
}

static int write_node(struct tnet *t, size_t i, const char *extra, char *err, size_t errlen)
{
    struct tnet_node *nd = &t->nodes[i];
    char d[512], p[600], a1[KEY_B64_MAX], a2[KEY_B64_MAX];
    uint8_t dummy_link[32];

    snprintf(d, sizeof(d), "%s/node%zu", t->dir, i);
    if (mkdir(d, 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "mkdir %s: %s", d, strerror(errno));
        return -1;
    }
    snprintf(p, sizeof(p), "%s/identity.key", d);
    if (keyfile_write(p, KEYFILE_ED25519_SECRET, nd->id_sk, true, err, errlen) < 0)
        return -1;
    snprintf(p, sizeof(p), "%s/link.key", d);
    if (keyfile_write(p, KEYFILE_X25519_SECRET, nd->link_sk, true, err, errlen) < 0)
        return -1;
    for (int k = 0; k < 2; k++) {
        snprintf(p, sizeof(p), "%s/sphinx-%llu.key", d,
                 (unsigned long long)(t->params.epoch + (uint64_t)k));
        if (keyfile_write(p, KEYFILE_X25519_SECRET, nd->sphinx_sk[k], true, err, errlen) < 0)
            return -1;
    }
    static const char *const roles[8] = { "",         "gateway",          "mix", "",
                                          "provider", "gateway,provider", "",    "" };
    randombytes_buf(dummy_link, 32);
    key_to_b64(t->auth_pk, 32, a1);
    key_to_b64(dummy_link, 32, a2);
    snprintf(p, sizeof(p), "%s/node.ini", d);
    FILE *f = fopen(p, "w");
    if (!f) {
        snprintf(err, errlen, "%s: %s", p, strerror(errno));
        return -1;
    }
    fprintf(f, "[node]\ndata_dir = %s\nlisten = 127.0.0.1:%u\nroles = %s\nlog_level = debug\n", d,
            nd->port, roles[nd->roles & 7]);
    if (nd->layer)
        fprintf(f, "layer = %u\n", nd->layer);
    if (nd->metrics_port)
        fprintf(f, "metrics_listen = 127.0.0.1:%u\n", nd->metrics_port);
    /* The authority address is never listened on: the document comes from the file. */
    fprintf(f,
            "\n[directory]\nauthority = 127.0.0.1:9 %s %s\nthreshold = 1\ngenesis = %llu\n"
            "epoch_length = %llu\ngrace = %llu\ndocument_file = %s/doc.signed\n"
            "poll_interval = 1s\n%s\n",
            a1, a2, (unsigned long long)t->params.timing.genesis,
            (unsigned long long)t->params.timing.epoch_len,
            (unsigned long long)t->params.timing.grace, t->dir, extra ? extra : "");
    return fclose(f) == 0 ? 0 : -1;
}

int tnet_write(struct tnet *t, const char *extra_ini, char *err, size_t errlen)
{
    char p[600], b[KEY_B64_MAX];
    uint8_t *doc = NULL;
    size_t len = 0;

    if (mkdir(t->dir, 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "mkdir %s: %s", t->dir, strerror(errno));
        return -1;
    }
    snprintf(p, sizeof(p), "%s/auth.pub", t->dir);
    key_to_b64(t->auth_pk, 32, b);
    FILE *f = fopen(p, "w");
    if (!f)
        return -1;
    fprintf(f, "%s\n", b);
    fclose(f);
    for (size_t i = 0; i < t->n; i++)
        if (!t->nodes[i].external && write_node(t, i, extra_ini, err, errlen) < 0)
            return -1;
    if (tnet_document(t, &doc, &len) < 0) {
        snprintf(err, errlen, "cannot build the document");
        return -1;
    }
    snprintf(p, sizeof(p), "%s/doc.signed", t->dir);
    int rc = write_file(p, doc, len);
    free(doc);
    if (rc < 0)
        snprintf(err, errlen, "cannot write %s", p);
    return rc;
}

struct pki_doc *tnet_load_doc(const char *dir, char *err, size_t errlen)
{
    char p[600], b[128];
    uint8_t auth[1][PKI_KEY_LEN];
    struct pki_doc *doc = NULL;

    snprintf(p, sizeof(p), "%s/auth.pub", dir);
    FILE *f = fopen(p, "r");
    if (!f || !fgets(b, sizeof(b), f)) {
        snprintf(err, errlen, "cannot read %s", p);
        if (f)
            fclose(f);
        return NULL;
    }
    fclose(f);
    b[strcspn(b, "\r\n")] = 0;
    if (!key_from_b64(b, auth[0], 32)) {
        snprintf(err, errlen, "bad key in %s", p);
        return NULL;
    }
    snprintf(p, sizeof(p), "%s/doc.signed", dir);
    f = fopen(p, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot read %s", p);
        return NULL;
    }
    uint8_t *buf = malloc(PKI_MAX_DOCUMENT_LEN);
    size_t len = buf ? fread(buf, 1, PKI_MAX_DOCUMENT_LEN, f) : 0;
    fclose(f);
    struct pki_verify_opts o;
    memset(&o, 0, sizeof(o));
    o.authorities = (const uint8_t(*)[PKI_KEY_LEN])auth;
    o.n_authorities = 1;
    o.threshold = 1;
    enum pki_err e = pki_verify(buf, len, &o, &doc);
    free(buf);
    if (e != PKI_OK) {
        snprintf(err, errlen, "document: %s", pki_strerror(e));
        return NULL;
    }
    return doc;
}

/* ---------------------------------------------------------------- blocking links */

static int wait_fd(int fd, short ev, int timeout_ms)
{
    struct pollfd p = { fd, ev, 0 };
    int r;
    do {
        r = poll(&p, 1, timeout_ms);
    } while (r < 0 && errno == EINTR);
    return r;
}

int blink_flush(struct blink *b)
{
    const uint8_t *p;
    size_t len;
    for (;;) {
        link_output(b->l, &p, &len);
        if (len == 0)
            return 0;
        ssize_t w = write(b->fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        link_consume_output(b->l, (size_t)w);
    }
}

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int blink_rx_stamps(struct blink *b)
{
    int one = 1;
    if (setsockopt(b->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0)
        return -1;
    b->stamp = true;
    b->rec_left = b->hdr_have = 0;
    return 0;
}

/* One recvmsg() that never reads past the end of the current Noise record
 * (2-byte length, then the message); records its kernel receive time. */
static ssize_t read_stamped(struct blink *b, uint8_t *buf, size_t cap)
{
    size_t want = b->rec_left ? b->rec_left : 2 - b->hdr_have;
    if (want > cap)
        want = cap;
    char ctl[CMSG_SPACE(sizeof(struct timespec))];
    struct iovec iov = { buf, want };
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)
    };
    ssize_t n = recvmsg(b->fd, &mh, 0);
    if (n <= 0)
        return n;
    if (b->rec_left) {
        b->rec_left -= (size_t)n;
    } else {
        memcpy(b->hdr + b->hdr_have, buf, (size_t)n);
        b->hdr_have += (size_t)n;
        if (b->hdr_have == 2) {
            b->rec_left = (size_t)b->hdr[0] << 8 | b->hdr[1];
            b->hdr_have = 0;
        }
    }
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
            struct timespec ts;
            memcpy(&ts, CMSG_DATA(c), sizeof(ts));
            /* The stamp is CLOCK_REALTIME: move it to CLOCK_MONOTONIC. */
            uint64_t real = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
            uint64_t mono = clock_ns(CLOCK_MONOTONIC), now = clock_ns(CLOCK_REALTIME);
            /* A wall clock step between the readings: no stamp (read time). */
            b->rx_ns = real <= now && now - real < mono ? mono - (now - real) : 0;
        }
    }
    return n;
}

/* Read once (up to timeout); 0 ok, 1 timeout, -1 closed/error. */
static int read_some(struct blink *b, int timeout_ms)
{
    uint8_t buf[65536];
    int r = wait_fd(b->fd, POLLIN, timeout_ms);
    if (r == 0)
        return 1;
    if (r < 0)
        return -1;
    ssize_t n = b->stamp ? read_stamped(b, buf, sizeof(buf)) : read(b->fd, buf, sizeof(buf));
    if (n <= 0)
        return -1;
    if (link_feed(b->l, buf, (size_t)n) != LINK_OK)
        return -1;
    return blink_flush(b);
}

static int handshake(struct blink *b, int timeout_ms)
{
    if (blink_flush(b) < 0)
        return -1;
    while (!link_is_established(b->l)) {
        int r = read_some(b, timeout_ms);
        if (r != 0)
            return -1;
    }
    return blink_flush(b);
}

int blink_connect(struct blink *b, const char *hostport, const uint8_t sk[32], const uint8_t pk[32],
                  const uint8_t remote_pk[32], enum link_role role, const struct mix_rng *rng,
                  int timeout_ms, char *err, size_t errlen)
{
    char host[256];
    const char *colon = strrchr(hostport, ':');
    struct sockaddr_in sa;

    memset(b, 0, sizeof(*b));
    b->fd = -1;
    if (!colon || (size_t)(colon - hostport) >= sizeof(host)) {
        snprintf(err, errlen, "bad address %s", hostport);
        return -1;
    }
    memcpy(host, hostport, (size_t)(colon - hostport));
    host[colon - hostport] = 0;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        snprintf(err, errlen, "bad address %s", hostport);
        return -1;
    }
    b->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (b->fd < 0 || connect(b->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        snprintf(err, errlen, "connect %s: %s", hostport, strerror(errno));
        blink_close(b);
        return -1;
    }
    int one = 1;
    setsockopt(b->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    b->l = link_new_initiator(sk, pk, remote_pk, role, 0, rng);
    if (!b->l || link_start(b->l) != LINK_OK || handshake(b, timeout_ms) < 0) {
        snprintf(err, errlen, "handshake with %s failed (refused or timed out)", hostport);
        blink_close(b);
        return -1;
    }
    link_set_output_cap(b->l, 64u << 20);
    return 0;
}

int blink_accept(struct blink *b, int lfd, const uint8_t sk[32], const uint8_t pk[32],
                 const struct mix_rng *rng, int timeout_ms)
{
    return blink_accept_stamped(b, lfd, sk, pk, rng, timeout_ms, false);
}

int blink_accept_stamped(struct blink *b, int lfd, const uint8_t sk[32], const uint8_t pk[32],
                         const struct mix_rng *rng, int timeout_ms, bool stamp)
{
    memset(b, 0, sizeof(*b));
    b->fd = -1;
    if (wait_fd(lfd, POLLIN, timeout_ms) <= 0)
        return -1;
    b->fd = accept(lfd, NULL, NULL);
    if (b->fd < 0)
        return -1;
    int one = 1;
    setsockopt(b->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    /* From the first byte, so that reads follow the records from the start. */
    if (stamp && blink_rx_stamps(b) < 0) {
        blink_close(b);
        return -1;
    }
    b->l = link_new_responder(sk, pk, 0, rng);
    if (!b->l || handshake(b, timeout_ms) < 0) {
        blink_close(b);
        return -1;
    }
    link_set_output_cap(b->l, 64u << 20);
    return 0;
}

int blink_queue(struct blink *b, const uint8_t *frame, size_t len)
{
    return link_send_frame(b->l, frame, len) == LINK_OK ? 0 : -1;
}

int blink_recv(struct blink *b, uint8_t **frame, size_t *len, int timeout_ms)
{
    const uint8_t *p;
    for (;;) {
        if (link_next_frame(b->l, &p, len) == 1) {
            *frame = malloc(*len ? *len : 1);
            if (!*frame)
                return -1;
            memcpy(*frame, p, *len);
            return 0;
        }
        int r = read_some(b, timeout_ms);
        if (r != 0)
            return r;
    }
}

void blink_close(struct blink *b)
{
    if (b->l)
        link_free(b->l);
    if (b->fd >= 0)
        close(b->fd);
    b->l = NULL;
    b->fd = -1;
}

int tcp_listen_local(uint16_t port, uint16_t *bound)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
        close(fd);
        return -1;
    }
    if (bound)
        *bound = ntohs(sa.sin_port);
    return fd;
}
