/*
 * Internal to libmixclient's event-driven part (client.c, dir.c, init.c,
 * local.c): the mixclient struct and helpers shared by those files.
 */
#ifndef MIX_CLIENT_INT_H
#define MIX_CLIENT_INT_H

#include <ev.h>
#include <pthread.h>

#include "address.h"
#include "cconf.h"
#include "cconn.h"
#include "core.h"
#include "log.h"
#include "mixclient.h"
#include "store.h"

/* Responses awaiting handling, and seqs handled but not yet acknowledged. */
#define MC_RX_FRAMES 4
#define MC_MAX_ACKS (MC_RX_FRAMES * 256)

struct mixclient {
    struct cconf conf;
    uint8_t *keys; /* sodium_malloc: sk[32] || pk[32] */
    uint8_t gateway_id[32];
    struct cstore *store;
    struct core *core;
    struct mix_rng rng;
    struct ev_loop *loop;
    bool own_loop;
    struct cconn *gw, *auth;
    size_t auth_idx;
    bool dir_running, auth_answered, dir_have_timing;
    struct pki_timing dir_timing; /* of the last verified document */
    ev_timer t_payload, t_loop, t_drop, t_fetch, t_tick, t_redial, t_dir, t_reap;
    double due[3];        /* when each stream timer is due (ev_now clock) */
    uint64_t late_max_us; /* the latest a stream timer ran after its time */
    /* The longest the loop thread spent on one received entry (passing it on,
     * applying its result): wall clock, and its own CPU time (what the
     * handling cost, without the time other processes had the CPU). */
    uint64_t handle_max_us, handle_cpu_max_us;
    double gw_backoff_s;
    bool fetch_outstanding;
    ev_idle t_rx;                       /* handles mc->rx one message per round */
    struct mix_frame *rx[MC_RX_FRAMES]; /* FetchResponses, oldest first */
    size_t rx_pos;                      /* next message of rx[0] */
    uint64_t acks[MC_MAX_ACKS];         /* handled seqs for the next FetchRequest */
    size_t n_acks;
    /*
     * The handling thread (client.c): inbox jobs go to it in order (todo)
     * and come back (done, then h_async) to be applied on the loop thread;
     * pend holds their seqs meanwhile.  Started with the first job.
     */
    bool h_init, h_started, h_stop;
    pthread_t h_thread;
    pthread_mutex_t h_mu;
    pthread_cond_t h_cv;
    struct mc_jobnode *h_todo, *h_todo_tail, *h_done, *h_done_tail;
    ev_async h_async;
    uint64_t pend[MC_MAX_ACKS];
    size_t n_pend;
    uint64_t fetch_sent_us;
    uint64_t stats_send_fail;
    uint64_t last_stats_us, last_gc;
    mixclient_recv_fn recv_fn;
    void *recv_ctx;
    /* Hooks for init and the daemon. */
    void (*on_doc)(struct mixclient *mc, struct pki_doc *doc); /* takes ownership */
    void (*on_gateway_up)(struct mixclient *mc);
    /* A fetch was answered (ok) or refused with an error (!ok). */
    void (*on_fetched)(struct mixclient *mc, bool ok);
    void (*on_new_message)(struct mixclient *mc);
    void *hook_ctx;
    const char *last_dir_error;
    char errmsg[256]; /* mixclient_errmsg() */
    bool log_owner;   /* its options set the process's log sink */
};

int mc_err_from_core(int e);
uint64_t mc_unix_now(void);
uint64_t mc_mono_us(struct mixclient *mc);
void mc_core_recv(void *ctx, const struct core_received *m);
void mc_dial_gateway(struct mixclient *mc);
struct mixclient *mc_new_common(const char *config_path, struct ev_loop *loop, bool need_gateway,
                                char *err, size_t errlen);
/* sodium_init() and the default (silent) log sink unless options set one: 0 or -1 with err. */
int mc_lib_setup(char *err, size_t errlen);

/* dir.c: fetch and verify the directory, now and then periodically. */
void mc_dir_start(struct mixclient *mc);
void mc_dir_stop(struct mixclient *mc);
/*
 * Seconds from now_s (Unix time) to the next directory refresh after holding
 * the document of `epoch`: a uniform moment of the first `grace` seconds
 * (at least 1 s) of epoch+1, or of a window from now if that has passed.
 */
double mc_dir_next_refresh_s(const struct pki_timing *t, uint64_t epoch, double now_s,
                             const struct mix_rng *rng);

/* init.c: the gateway recorded by `mixclient init` (data_dir/gateway). */
int mc_read_gateway_file(const struct cconf *c, uint8_t id[32], char *err, size_t errlen);

#endif
