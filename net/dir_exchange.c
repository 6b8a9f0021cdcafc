/*
 * dir_exchange(): one request, one answer, over a Noise link to an
 * authority.  See dir_exchange.h.
 */
#include "dir_exchange.h"

#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <sodium.h>

#include "conn.h"
#include "log.h"

struct exchange {
    struct ev_loop *loop;
    uint8_t *reply;
    size_t reply_len;
};

static void ex_frame(struct conn *c, const uint8_t *f, size_t len, void *arg)
{
    struct exchange *x = arg;
    (void)c;
    if (x->reply == NULL && (x->reply = malloc(len ? len : 1)) != NULL) {
        memcpy(x->reply, f, len);
        x->reply_len = len;
    }
    ev_break(x->loop, EVBREAK_ALL);
}

static void ex_close(struct conn *c, enum conn_close_reason why, void *arg)
{
    struct exchange *x = arg;
    (void)c;
    (void)why;
    ev_break(x->loop, EVBREAK_ALL);
}

static void ex_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)w;
    (void)revents;
    ev_break(loop, EVBREAK_ALL);
}

static int exchange(const char *addr, const uint8_t auth_link[static 32], int role,
                    const uint8_t *own_sk, const uint8_t *const *frames, const size_t *lens,
                    size_t n, double timeout_s, struct mix_frame **out)
{
    struct exchange x = { .loop = ev_loop_new(EVFLAG_AUTO) };
    uint8_t sk[32], pk[32];
    int rc = -1;
    *out = NULL;
    if (x.loop == NULL)
        return -1;
    if (own_sk != NULL) {
        memcpy(sk, own_sk, 32);
        crypto_scalarmult_base(pk, sk);
    } else {
        /* A throwaway link key: the answer is public, and a key would only link fetches. */
        crypto_box_keypair(pk, sk);
    }
    struct conn_callbacks cb = { NULL, NULL, ex_frame, ex_close };
    struct conn_mgr *m = conn_mgr_new(x.loop, sk, pk, NULL, &cb, &x);
    sodium_memzero(sk, sizeof sk);
    struct conn *c = m ? conn_dial(m, addr, auth_link, (enum link_role)role, false, NULL) : NULL;
    bool sent = c != NULL;
    for (size_t i = 0; sent && i < n; i++)
        sent = conn_send(c, frames[i], lens[i]) == CONN_OK;
    if (sent) {
        ev_timer t;
        ev_timer_init(&t, ex_timeout, timeout_s, 0.0);
        ev_timer_start(x.loop, &t);
        ev_run(x.loop, 0);
        ev_timer_stop(x.loop, &t);
    }
    const char *why = NULL;
    if (x.reply != NULL && frame_decode(x.reply, x.reply_len, FRAME_MAX_DEFAULT, out, &why))
        rc = 0;
    else if (x.reply != NULL)
        log_warn("bad answer frame from %s: %s", addr, why);
    free(x.reply);
    conn_mgr_free(m);
    ev_loop_destroy(x.loop);
    return rc;
}

int dir_exchange(const char *addr, const uint8_t auth_link[static 32], int role,
                 const uint8_t *frame, size_t len, double timeout_s, struct mix_frame **out)
{
    return exchange(addr, auth_link, role, NULL, &frame, &len, 1, timeout_s, out);
}

int dir_exchange_as(const char *addr, const uint8_t auth_link[static 32], int role,
                    const uint8_t own_sk[static 32], const uint8_t *const *frames,
                    const size_t *lens, size_t n, double timeout_s, struct mix_frame **out)
{
    return exchange(addr, auth_link, role, own_sk, frames, lens, n, timeout_s, out);
}
