/*
 * Internal to libmixclient's event-driven part (client.c, dir.c, init.c,
 * local.c): the mixclient struct and helpers shared by those files.
 */
#ifndef MIX_CLIENT_INT_H
#define MIX_CLIENT_INT_H

#include <ev.h>

#include "address.h"
#include "cconf.h"
#include "cconn.h"
#include "core.h"
#include "log.h"
#include "mixclient.h"
#include "store.h"

struct mixclient {
    struct cconf conf;
    uint8_t *keys;                      /* sodium_malloc: sk[32] || pk[32] */
    uint8_t gateway_id[32];
    struct cstore *store;
    struct core *core;
    struct mix_rng rng;
    struct ev_loop *loop;
    bool own_loop;
    struct cconn *gw, *auth;
    size_t auth_idx;
    bool dir_running, auth_answered;
    ev_timer t_payload, t_loop, t_drop, t_fetch, t_tick, t_redial, t_dir, t_reap;
    double gw_backoff_s;
    bool fetch_outstanding;
    uint64_t fetch_sent_us;
    uint64_t stats_send_fail;
    uint64_t last_stats_us, last_gc;
    mixclient_recv_fn recv_fn;
    void *recv_ctx;
    /* Hooks for init and the daemon. */
    void (*on_doc)(struct mixclient *mc, struct pki_doc *doc);   /* takes ownership */
    void (*on_gateway_up)(struct mixclient *mc);
    /* A fetch was answered (ok) or refused with an error (!ok). */
    void (*on_fetched)(struct mixclient *mc, bool ok);
    void (*on_new_message)(struct mixclient *mc);
    void *hook_ctx;
    const char *last_dir_error;
};

int mc_err_from_core(int e);
uint64_t mc_unix_now(void);
uint64_t mc_mono_us(struct mixclient *mc);
void mc_core_recv(void *ctx, const struct core_received *m);
void mc_dial_gateway(struct mixclient *mc);
struct mixclient *mc_new_common(const char *config_path, struct ev_loop *loop, bool need_gateway,
                                char *err, size_t errlen);

/* dir.c: fetch and verify the directory, now and then periodically. */
void mc_dir_start(struct mixclient *mc);
void mc_dir_stop(struct mixclient *mc);

/* init.c: the gateway recorded by `mixclient init` (data_dir/gateway). */
int mc_read_gateway_file(const struct cconf *c, uint8_t id[32], char *err, size_t errlen);

#endif
