/*
 * cconn: the client's one outbound TCP connection carrying a Noise link
 * (lib/link), driven by libev.  Its socket calls are the daemons' (net/sock.h:
 * resolve, socket options with TCP_NODELAY, connect and SO_ERROR, stamped
 * reads, flushing partial writes); the connection itself is not a net/conn:
 * the client needs one dial, no listening, no backoff (the owner redials
 * from a timer), and its writes feed the truth recorder (truth.h).
 *
 * Callbacks: on_up once the handshake completed (the responder key is pinned
 * by IK, so the peer is authenticated), on_frame for each received frame,
 * on_down exactly once when the connection ends for any reason.  After
 * on_down the cconn is inert; the owner frees it later, from outside any
 * cconn callback (e.g. a timer), never inside one.
 */
#ifndef MIX_CLIENT_CCONN_H
#define MIX_CLIENT_CCONN_H

#include "common.h"
#include "link.h"
#include "rng.h"

struct ev_loop;
struct cconn;

struct cconn_cbs {
    void (*on_up)(void *ctx, struct cconn *c);
    void (*on_frame)(void *ctx, struct cconn *c, const uint8_t *frame, size_t len);
    void (*on_down)(void *ctx, struct cconn *c, const char *why);
    void *ctx;
};

/*
 * Dial hostport ("host:port") and run the Noise IK handshake as `role` with
 * our static key pair, expecting remote_pk.  NULL with err set if the
 * address is bad or no socket can be made; a refused connection is reported
 * later through on_down.  timeout_ms bounds connect + handshake.
 */
struct cconn *cconn_dial(struct ev_loop *loop, const char *hostport,
                         const uint8_t sk[static LINK_KEY_LEN],
                         const uint8_t pk[static LINK_KEY_LEN],
                         const uint8_t remote_pk[static LINK_KEY_LEN], enum link_role role,
                         size_t max_frame, uint32_t timeout_ms, const struct mix_rng *rng,
                         const struct cconn_cbs *cbs, char *err, size_t errlen) MIX_WUR;

/* Queue a frame (only once up).  0, or -1 if down or the output cap is reached. */
int cconn_send(struct cconn *c, const uint8_t *frame, size_t len) MIX_WUR;
/*
 * cconn_send() for a real payload packet (a message fragment or a reply).
 * The same in every build but the test program built with -DMIXCLIENT_TRUTH,
 * where its send time also goes to the ground-truth file (truth.h).
 */
int cconn_send_real(struct cconn *c, const uint8_t *frame, size_t len) MIX_WUR;
bool cconn_is_up(const struct cconn *c);
bool cconn_is_down(const struct cconn *c);
/* Bytes queued but not yet written. */
size_t cconn_pending(const struct cconn *c);
/* Close (calls on_down if not down yet) and free.  NULL is a no-op.  Not from inside a callback. */
void cconn_free(struct cconn *c);

#endif
