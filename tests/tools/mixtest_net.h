/*
 * mixtest_net: helpers shared by tests/tools/mixtest and bench/node.
 *
 *  - tnet_*: a whole test network on disk: an authority key, node key
 *    directories (identity, link, Sphinx keys of the current and next
 *    epoch), a signed directory document and one mixnode config per node.
 *  - blink_*: a blocking Noise link over a TCP socket (lib/link), for
 *    test clients and benchmark peers that do not need libev.
 */
#ifndef MIX_TESTS_MIXTEST_NET_H
#define MIX_TESTS_MIXTEST_NET_H

#include "common.h"
#include "link.h"
#include "pki.h"
#include "rng.h"

#define TNET_MAX_NODES 64

struct tnet_node {
    uint8_t id_sk[64], id_pk[32], id[32];
    uint8_t link_sk[32], link_pk[32];
    uint8_t sphinx_sk[2][32], sphinx_pk[2][32]; /* epoch, epoch + 1 */
    uint32_t roles, layer;
    uint16_t port, metrics_port;
    bool external; /* played by the test itself: no config */
};

struct tnet {
    char dir[400];
    size_t n;
    struct tnet_node nodes[TNET_MAX_NODES];
    uint8_t auth_sk[64], auth_pk[32];
    struct pki_params params;
};

/* Defaults: 3 layers, Poisson, 1 ms mean delay, one-hour epochs starting now. */
void tnet_params_default(struct pki_params *p, uint64_t now);
/* Add a node with fresh keys; returns its index or -1. */
int tnet_add(struct tnet *t, uint32_t roles, uint32_t layer, uint16_t port, uint16_t mport,
             bool external);
/*
 * Write everything under t->dir: auth.key, doc.signed, nodeI/{identity,link,
 * sphinx-E}.key and nodeI/node.ini (extra_ini appended to every config).
 */
int tnet_write(struct tnet *t, const char *extra_ini, char *err, size_t errlen) MIX_WUR;
/* Build, sign and return the document (malloc()ed). */
int tnet_document(struct tnet *t, uint8_t **out, size_t *len) MIX_WUR;

/* Load DIR/doc.signed and verify it with DIR/auth.pub. */
struct pki_doc *tnet_load_doc(const char *dir, char *err, size_t errlen);

/* ---------------------------------------------------------------- blocking links */

struct blink {
    int fd;
    struct link *l;
    /* Receive timestamps (blink_rx_stamps): reads stop at each Noise record's
     * end, and rx_ns is when the kernel received the bytes that completed the
     * record of the frames blink_recv returns now (CLOCK_MONOTONIC, ns). */
    bool stamp;
    size_t rec_left, hdr_have;
    uint8_t hdr[2];
    uint64_t rx_ns;
};

/* Connect and finish the handshake (timeout_ms).  0, or -1 with err. */
int blink_connect(struct blink *b, const char *hostport, const uint8_t sk[32], const uint8_t pk[32],
                  const uint8_t remote_pk[32], enum link_role role, const struct mix_rng *rng,
                  int timeout_ms, char *err, size_t errlen) MIX_WUR;
/* Accept on a listening fd and finish the handshake as responder. */
int blink_accept(struct blink *b, int lfd, const uint8_t sk[32], const uint8_t pk[32],
                 const struct mix_rng *rng, int timeout_ms) MIX_WUR;
/* Queue one frame (no write yet). */
int blink_queue(struct blink *b, const uint8_t *frame, size_t len) MIX_WUR;
/* Write out everything queued. */
int blink_flush(struct blink *b) MIX_WUR;
/* Receive one frame into a malloc()ed buffer; 0 ok, 1 timeout, -1 closed/error. */
int blink_recv(struct blink *b, uint8_t **frame, size_t *len, int timeout_ms) MIX_WUR;
void blink_close(struct blink *b);
/* Kernel receive timestamps (SO_TIMESTAMPNS) in b->rx_ns: the time a frame's
 * bytes reached this socket, however late this thread wakes up to read them.
 * blink_accept_stamped() turns them on from the first byte; blink_rx_stamps()
 * on a link where no byte has been read yet.  0 or -1. */
int blink_accept_stamped(struct blink *b, int lfd, const uint8_t sk[32], const uint8_t pk[32],
                         const struct mix_rng *rng, int timeout_ms, bool stamp) MIX_WUR;
int blink_rx_stamps(struct blink *b);
/* A listening socket on 127.0.0.1:port (0 = any); *bound gets the port. */
int tcp_listen_local(uint16_t port, uint16_t *bound);

#endif
