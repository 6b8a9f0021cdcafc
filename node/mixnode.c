/*
 * mixnode: the node daemon (gateway, mix and provider roles).
 *
 *   mixnode -c node.ini           run
 *   mixnode -n -c node.ini        check the configuration and keys, exit
 *   mixnode keygen -d DIR         write identity.key and link.key (0600)
 *
 * See docs/man/mixnode.8 and docs/man/mixnode.conf.5; node/node.h explains
 * the threads and the files.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <string.h>
#include <unistd.h>

#include "dir_exchange.h"
#include "dirlock.h"
#include "keyfile.h"
#include "log.h"
#include "sched_hint.h"
#include "node.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: mixnode -c FILE        run a mix node (gateway, mix or provider)\n"
               "       mixnode -n -c FILE     check the configuration and keys, then exit\n"
               "       mixnode keygen -d DIR  create identity.key and link.key in DIR (and DIR),\n"
               "                              print the public keys and the authorities' line\n"
               "       mixnode status -c FILE state at a glance: document, links, packets,\n"
               "                              drops, queues (from the node's metrics_listen)\n"
               "       mixnode pubkey -d DIR | -c FILE\n"
               "                              print them again from the key files\n"
               "                              (fingerprint is the same command)\n"
               "options:\n"
               "  -c, --config FILE   configuration (see mixnode.conf(5))\n"
               "  -n, --check         check only\n"
               "  -h, --help          this help\n"
               "  -V, --version       print the version\n");
}

/* keygen -d DIR; pubkey (or fingerprint) -d DIR | -c FILE. */
static int cmd_keys(int argc, char **argv)
{
    const char *cmd = argv[0], *dir = NULL, *cfg = NULL;
    bool gen = strcmp(cmd, "keygen") == 0;
    char err[4096];
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-d") == 0 || strcmp(argv[i], "--dir") == 0) && i + 1 < argc)
            dir = argv[++i];
        else if (!gen && (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) &&
                 i + 1 < argc)
            cfg = argv[++i];
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf(gen ? "usage: mixnode keygen -d DIR\n" : "usage: mixnode %s -d DIR | -c FILE\n",
                   cmd);
            return 0;
        } else {
            fprintf(stderr, "mixnode %s: unexpected argument '%s'\n", cmd, argv[i]);
            return 2;
        }
    }
    if (cfg && !dir) {
        struct node_conf *c = malloc(sizeof(*c));
        if (!c || node_conf_load(cfg, c, err, sizeof(err)) < 0) {
            fprintf(stderr, "mixnode %s: %s\n", cmd, c ? err : "out of memory");
            free(c);
            return 1;
        }
        int rc = node_pubkey(c->data_dir, err, sizeof(err));
        if (rc < 0)
            fprintf(stderr, "mixnode %s: %s\n", cmd, err);
        free(c);
        return rc < 0 ? 1 : 0;
    }
    if (!dir) {
        fprintf(stderr, "mixnode %s: -d DIR%s is required\n", cmd, gen ? "" : " or -c FILE");
        return 2;
    }
    if ((gen ? node_keygen(dir, err, sizeof(err)) : node_pubkey(dir, err, sizeof(err))) < 0) {
        fprintf(stderr, "mixnode %s: %s\n", cmd, err);
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------ event callbacks */

static void on_async(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)loop;
    (void)revents;
    node_drain_done(w->data);
}

/* More tags durable: the results workers handed back without waking us
 * (unwrap.c hand_back), then the packets held for their tags. */
static void on_journal(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)loop;
    (void)revents;
    node_drain_done(w->data);
    node_fwd_release(w->data);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)revents;
    log_info("signal %d: shutting down", w->signum);
    ev_break(loop, EVBREAK_ALL);
}

/*
 * SIGHUP: read the configuration again and apply what can change while
 * running: the log level, and the log file or syslog connection is reopened
 * (after log rotation).  Everything else takes effect at the next start; a
 * configuration that no longer loads changes nothing.  Each case is logged.
 */
static void on_hup(struct ev_loop *loop, ev_signal *w, int revents)
{
    struct node *n = w->data;
    struct node_conf *c = malloc(sizeof(*c));
    char err[4096];
    (void)loop;
    (void)revents;
    if (!c)
        return;
    if (mix_log_reopen(err, sizeof(err)) < 0)
        log_err("SIGHUP: %s", err);
    if (node_conf_load(n->conf_path, c, err, sizeof(err)) < 0) {
        log_err("SIGHUP: %s: %s; the running configuration stays", n->conf_path, err);
        free(c);
        return;
    }
    const char *names[] = { "error", "warn", "info", "debug" };
    /* The line is written at info whatever the new level is. */
    mix_log_set_level(MIX_LOG_INFO > c->log_level ? MIX_LOG_INFO : c->log_level);
    log_info("SIGHUP: %s reloaded: log level %s, log reopened; other changes take effect at "
             "the next start",
             n->conf_path, names[c->log_level]);
    mix_log_set_level((enum mix_log_level)c->log_level);
    n->conf.log_level = c->log_level;
    free(c);
}

static void update_gauges(struct node *n)
{
    static uint64_t last_limits, last_drops;
    uint64_t boxes = 0, msgs = 0, drops = 0;
    if (n->inbox) {
        inbox_totals(n->inbox, &boxes, &msgs);
        metric_set(&n->metrics.inboxes, boxes);
        metric_set(&n->metrics.inbox_messages, msgs);
    }
    struct conn_stats cs;
    conn_mgr_get_stats(n->cm, &cs);
    metric_set(&n->metrics.links_rate_limited, cs.refused_rate);
    metric_set(&n->metrics.half_open_evicted, cs.evicted_half_open);
    pthread_mutex_lock(&n->work_mu);
    metric_set(&n->metrics.work_queue_depth, n->work_len);
    pthread_mutex_unlock(&n->work_mu);
    /* Limits and drops are counted per packet and logged once a second at most. */
    uint64_t limits = atomic_load(&n->metrics.limit_hits);
    for (int i = 0; i < DROP__COUNT; i++)
        drops += atomic_load(&n->metrics.dropped[i]);
    if (limits != last_limits)
        log_warn("limits reached %llu times in the last second (see mixnode_limit_hits_total)",
                 (unsigned long long)(limits - last_limits));
    if (drops != last_drops)
        log_info("%llu packets dropped in the last second (see mixnode_packets_dropped_total)",
                 (unsigned long long)(drops - last_drops));
    last_limits = limits;
    last_drops = drops;
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct node *n = w->data;
    (void)loop;
    (void)revents;
    node_dir_tick(n, node_wall_s());
    update_gauges(n);
}

static void on_poll(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    node_dir_poll(w->data);
}

static void on_save(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    node_keys_save_replay(w->data, false);
}

static void on_expire(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct node *n = w->data;
    size_t del = 0;
    (void)loop;
    (void)revents;
    if (n->inbox && inbox_expire(n->inbox, node_wall_s(), &del) == INBOX_OK && del) {
        atomic_fetch_add(&n->metrics.expired_msgs, del);
        log_info("inbox expiry deleted %zu messages", del);
    }
    /* Clients still linked use their inboxes; then drop the empty, unused ones. */
    node_clients_touch(n);
    if (n->inbox && inbox_expire_unused(n->inbox, node_wall_s(), &del) == INBOX_OK && del) {
        atomic_fetch_add(&n->metrics.inboxes_expired, del);
        log_info("inbox expiry deleted %zu unused empty inboxes", del);
    }
}

static void timer_start(struct node *n, ev_timer *t, void (*cb)(struct ev_loop *, ev_timer *, int),
                        double after, double repeat)
{
    ev_timer_init(t, cb, after, repeat);
    t->data = n;
    ev_timer_start(n->loop, t);
}

/* ------------------------------------------------------------ setup */

static int node_setup(struct node *n, char *err, size_t errlen)
{
    struct conn_limits lim;
    uint16_t port = 0;

    n->rng = mix_rng_system();
    metric_set(&n->metrics.start_time, node_wall_s());
    node_keys_init(&n->keys);
    n->mq_tfd = -1;
    if (node_load_identity(n, err, errlen) < 0)
        return -1;
    /* The network's timing comes from a signed document (node_dir.c). */
    n->have_timing = false;
    for (size_t i = 0; i < n->conf.n_auth; i++)
        memcpy(n->auth_keys[i], n->conf.auth[i].sign_pk, PKI_KEY_LEN);
    n->scratch_len = 4096;
    n->scratch = malloc(n->scratch_len);
    if (!n->scratch) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (n->conf.roles & PKI_ROLE_PROVIDER) {
        char dir[NODE_PATH_MAX + 16];
        snprintf(dir, sizeof(dir), "%s/inbox", n->conf.data_dir);
        if (!(n->inbox = inbox_open(dir, &n->conf.inbox, err, errlen)))
            return -1;
    }
    if (n->conf.metrics_listen[0] &&
        !(n->http = metrics_http_start_limited(&n->metrics, n->conf.metrics_listen,
                                               &n->conf.metrics_limits, err, errlen)))
        return -1;
    n->loop = ev_default_loop(0);
    ev_async_init(&n->journal_async, on_journal);
    n->journal_async.data = n;
    ev_async_start(n->loop, &n->journal_async);
    if (n->conf.journal_interval_us && node_journal_start(n, err, errlen) < 0)
        return -1;
    conn_limits_default(&lim);
    lim.max_conns = n->conf.max_connections;
    lim.max_per_addr = n->conf.max_per_addr;
    lim.max_frame = n->conf.max_frame;
    lim.max_out_bytes = n->conf.peer_queue_bytes;
    lim.handshake_timeout = (double)n->conf.handshake_timeout_us / 1e6;
    lim.accept_rate = (double)n->conf.handshake_rate;
    lim.accept_burst = (double)n->conf.handshake_burst;
    lim.backoff_min = 0.2;
    lim.backoff_max = 5;
    n->cm = conn_mgr_new(n->loop, n->link_sk, n->link_pk, &lim, &node_conn_callbacks, n);
    if (!n->cm) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (conn_listen(n->cm, n->conf.listen, &port, err, errlen) < 0)
        return -1;
    if (node_workers_start(n, err, errlen) < 0)
        return -1;
    node_dir_load_saved(n);
    node_dir_tick(n, node_wall_s());
    char idb[KEY_B64_MAX];
    key_to_b64(n->node_id, MIX_NODE_ID_LEN, idb);
    log_info("mixnode %s: node %s listening on port %u (epoch %llu)", MIX_VERSION, idb, port,
             (unsigned long long)n->epoch);
    return 0;
}

static void node_run(struct node *n)
{
    ev_async_init(&n->async, on_async);
    n->async.data = n;
    ev_async_start(n->loop, &n->async);
    ev_signal_init(&n->sig_term, on_signal, SIGTERM);
    ev_signal_init(&n->sig_int, on_signal, SIGINT);
    ev_signal_start(n->loop, &n->sig_term);
    ev_signal_start(n->loop, &n->sig_int);
    ev_signal_init(&n->sig_hup, on_hup, SIGHUP);
    n->sig_hup.data = n;
    ev_signal_start(n->loop, &n->sig_hup);
    timer_start(n, &n->tick_timer, on_tick, 1., 1.);
    timer_start(n, &n->poll_timer, on_poll, 0., (double)n->conf.poll_us / 1e6);
    timer_start(n, &n->save_timer, on_save, (double)n->conf.replay_save_us / 1e6,
                (double)n->conf.replay_save_us / 1e6);
    timer_start(n, &n->expire_timer, on_expire, 1., (double)n->conf.expire_interval_us / 1e6);
    node_loop_schedule(n);
    /* The I/O thread wakes for every packet and runs for microseconds: a
     * short slice lets it preempt a crypto worker (sched_hint.h). */
    if (n->conf.io_slice_us && mix_sched_short_slice(n->conf.io_slice_us) < 0)
        log_debug("scheduler slice hint not taken: %s", strerror(errno));
    /* Held packets leave on a timerfd: fire at the deadline, not up to the
     * default 50 us timer slack after it. */
    if (prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0) < 0)
        log_debug("timer slack not set: %s", strerror(errno));
    ev_run(n->loop, 0);
}

static void node_shutdown(struct node *n)
{
    if (n->loop) {
        ev_timer_stop(n->loop, &n->tick_timer);
        ev_timer_stop(n->loop, &n->poll_timer);
        ev_timer_stop(n->loop, &n->save_timer);
        ev_timer_stop(n->loop, &n->expire_timer);
        ev_async_stop(n->loop, &n->async);
        ev_signal_stop(n->loop, &n->sig_term);
        ev_signal_stop(n->loop, &n->sig_int);
        ev_signal_stop(n->loop, &n->sig_hup);
    }
    node_workers_stop(n);
    /* The replay caches are saved after the workers stopped: nothing is lost. */
    if (n->keys.cur_epoch)
        node_keys_save_replay(n, true);
    node_fwd_stop(n);
    node_journal_stop(n);
    if (n->loop)
        ev_async_stop(n->loop, &n->journal_async);
    node_job_pool_free(n);
    node_dir_free(n);
    node_fetch_queue_free(n);
    conn_mgr_free(n->cm);
    n->cm = NULL;
    inbox_close(n->inbox);
    metrics_http_stop(n->http);
    node_keys_free(n);
    free(n->scratch);
    log_info("stopped");
}

/*
 * -n, when an authority answers within a few seconds: the configuration
 * against the network's current document (k-of-n verified), so that a layer
 * the network lacks or timing that differs is found before start.  0 when it
 * agrees or no authority answered (said on stdout), 1 when it disagrees.
 */
static int check_network(struct node *n)
{
    struct mix_frame req = { .type = FRAME_DOCUMENT_REQUEST };
    uint8_t keys[NODE_MAX_AUTH][PKI_KEY_LEN];
    size_t len;
    char why[512];
    uint8_t *b = frame_encode_alloc(&req, &len, NULL);
    int rc = 0;
    bool done = false;
    if (!b)
        return 0;
    for (size_t i = 0; i < n->conf.n_auth; i++)
        memcpy(keys[i], n->conf.auth[i].sign_pk, PKI_KEY_LEN);
    /* At most 3 s for one authority and 5 s in all: -n runs before every
     * start (ExecStartPre) and must not hold it up when the network is down. */
    uint64_t end = node_now_us() + 5000000;
    for (size_t i = 0; i < n->conf.n_auth && !done && node_now_us() < end; i++) {
        struct mix_frame *ans = NULL;
        struct pki_doc *doc = NULL;
        double left = (double)(end - node_now_us()) / 1e6;
        if (dir_exchange(n->conf.auth[i].addr, n->conf.auth[i].link_pk, LINK_ROLE_CLIENT, b, len,
                         left < 3.0 ? left : 3.0, &ans) < 0)
            continue;
        if (ans->type == FRAME_DOCUMENT_RESPONSE) {
            struct pki_verify_opts o = {
                .authorities = (const uint8_t(*)[PKI_KEY_LEN])keys,
                .n_authorities = n->conf.n_auth,
                .threshold = n->conf.threshold,
                .now = node_wall_s(),
            };
            const struct frame_buf *sd = &ans->u.doc_resp.signed_document;
            enum pki_err e = pki_verify(sd->ptr, sd->len, &o, &doc);
            if (e != PKI_OK) {
                printf("mixnode: the document of authority %zu does not verify: %s\n", i + 1,
                       pki_strerror(e));
                rc = 1;
            } else {
                node_dir_disagreement(&n->conf, pki_doc_params(doc), why, sizeof(why));
                printf("mixnode: network: epoch %llu, %zu nodes, %u layers (authority %zu)\n",
                       (unsigned long long)pki_doc_epoch(doc), pki_doc_node_count(doc),
                       pki_doc_params(doc)->layers, i + 1);
                if (why[0]) {
                    printf("mixnode: this node disagrees with the network: %s\n", why);
                    rc = 1;
                }
            }
            done = true;
        }
        pki_doc_free(doc);
        frame_free(ans);
    }
    free(b);
    if (!done)
        printf("mixnode: no authority answered: not checked against the network\n");
    return rc;
}

/* -n: the configuration parsed; the keys must be readable too, and the
 * configuration agree with the network when an authority answers. */
static int check_only(struct node *n)
{
    char err[512];
    if (node_load_identity(n, err, sizeof(err)) < 0) {
        fprintf(stderr, "mixnode: %s\n", err);
        node_keys_free(n);
        return 1;
    }
    node_keys_free(n);
    if (check_network(n) != 0)
        return 1;
    printf("mixnode: configuration OK\n");
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "check", no_argument, NULL, 'n' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    const char *cfg = NULL;
    bool check = false;
    char err[4096];
    int c;

    if (sodium_init() < 0) {
        fprintf(stderr, "mixnode: libsodium failed to initialise\n");
        return 1;
    }
    if (argc > 1 && strcmp(argv[1], "status") == 0) {
        if (argc == 4 && (strcmp(argv[2], "-c") == 0 || strcmp(argv[2], "--config") == 0))
            return node_status_main(argv[3]);
        fprintf(stderr, "usage: mixnode status -c FILE\n");
        return 2;
    }
    if (argc > 1 && (strcmp(argv[1], "keygen") == 0 || strcmp(argv[1], "pubkey") == 0 ||
                     strcmp(argv[1], "fingerprint") == 0))
        return cmd_keys(argc - 1, argv + 1);
    while ((c = getopt_long(argc, argv, "c:nhV", opts, NULL)) != -1) {
        switch (c) {
        case 'c': cfg = optarg; break;
        case 'n': check = true; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("mixnode %s\n", MIX_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!cfg || optind != argc) {
        usage(stderr);
        return 2;
    }
    struct node *n = calloc(1, sizeof(*n));
    if (!n)
        return 1;
    n->ops = &node_daemon_ops;
    if (node_conf_load(cfg, &n->conf, err, sizeof(err)) < 0) {
        /* One line per problem, each with FILE:LINE (sys/conf.h). */
        for (char *l = strtok(err, "\n"); l; l = strtok(NULL, "\n"))
            fprintf(stderr, "mixnode: %s\n", l);
        free(n);
        return 1;
    }
    if (check) {
        int rc = check_only(n);
        free(n);
        return rc;
    }
    n->conf_path = cfg;
    /* Before the log moves to a file: a refusal must reach the terminal. */
    if ((n->lock_fd = mix_dir_lock(n->conf.data_dir, "mixnode", err, sizeof(err))) < 0) {
        fprintf(stderr, "mixnode: %s\n", err);
        free(n);
        return 1;
    }
    if (n->conf.log_file[0] && mix_log_set_file(n->conf.log_file, err, sizeof(err)) < 0) {
        fprintf(stderr, "mixnode: %s\n", err);
        free(n);
        return 1;
    }
    mix_log_init("mixnode", (enum mix_log_level)n->conf.log_level, n->conf.use_syslog);
    signal(SIGPIPE, SIG_IGN);
    /* SIGHUP reloads (on_hup); until the loop runs it must not kill us. */
    signal(SIGHUP, SIG_IGN);
    int rc = 0;
    if (node_setup(n, err, sizeof(err)) < 0) {
        log_err("%s", err);
        rc = 1;
    } else {
        node_run(n);
    }
    node_shutdown(n);
    if (n->lock_fd >= 0)
        close(n->lock_fd);
    free(n);
    return rc;
}
