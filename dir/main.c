/*
 * mixdir: command line, configuration reload (SIGHUP), start and stop.  See mixdir.h.
 */
#include "mixdir.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <sodium.h>

#include "dir_fetch.h"
#include "dirlock.h"
#include "keyfile.h"
#include "log.h"

/* ------------------------------------------------------------ signals and reload */

static void signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)revents;
    log_info("signal %d: shutting down", w->signum);
    ev_break(loop, EVBREAK_ALL);
}

static const char *const level_names[] = { "error", "warn", "info", "debug" };

static void limits_of(const struct dir_conf *cf, struct conn_limits *lim)
{
    memset(lim, 0, sizeof *lim);
    lim->max_conns = cf->max_connections;
    lim->max_per_addr = cf->max_per_address;
    lim->max_frame = cf->max_frame;
    lim->handshake_timeout = cf->handshake_timeout;
    lim->idle_timeout = cf->idle_timeout;
    lim->evict_idle = cf->evict_idle;
    lim->accept_rate = (double)cf->accept_rate;
    lim->accept_burst = (double)cf->accept_burst;
    lim->backoff_min = 0.25;
    lim->backoff_max = 5.0;
}

/* What a reload cannot change: the network every authority must agree on,
 * the address and the keys.  NULL if unchanged, else the first section. */
static const char *fixed_change(const struct dir_conf *a, const struct dir_conf *b)
{
    if (strcmp(a->listen, b->listen) != 0 || strcmp(a->data_dir, b->data_dir) != 0 ||
        strcmp(a->identity_key_path, b->identity_key_path) != 0 ||
        strcmp(a->link_key_path, b->link_key_path) != 0 || strcmp(a->log_file, b->log_file) != 0 ||
        a->use_syslog != b->use_syslog)
        return "[mixdir] listen, data_dir, keys or log sink";
    if (a->n_auth != b->n_auth || a->threshold != b->threshold ||
        memcmp(a->auth, b->auth, a->n_auth * sizeof a->auth[0]) != 0 ||
        memcmp(&a->timing, &b->timing, sizeof a->timing) != 0 || a->vote_lead_s != b->vote_lead_s ||
        a->exchange_window_s != b->exchange_window_s ||
        a->key_ahead_epochs != b->key_ahead_epochs ||
        memcmp(&a->params, &b->params, sizeof a->params) != 0)
        return "[network]";
    return NULL;
}

/*
 * SIGHUP: read the configuration again.  The registration list, the limits,
 * the log level and stats interval apply at once (a node taken off the list
 * is left out of the next documents), the log is reopened; a change to
 * [network] or to the address and keys is reported and waits for a
 * restart.  A configuration that no longer loads changes nothing.
 */
static void hup_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    struct mixdir *d = w->data;
    char err[4096];
    (void)loop;
    (void)revents;
    if (mix_log_reopen(err, sizeof err) < 0)
        log_err("SIGHUP: %s", err);
    struct dir_conf *nc = dir_conf_load(d->config, err, sizeof err);
    if (nc == NULL) {
        log_err("SIGHUP: %s; the running configuration stays", err);
        return;
    }
    struct dir_conf *cf = d->cf;
    const char *fixed = fixed_change(cf, nc);
    if (fixed != NULL)
        log_warn("SIGHUP: %s changed in %s: that takes a restart (and the same change at every "
                 "authority); applying the rest",
                 fixed, d->config);
    /* The list and its bindings change together (the old pair is freed with nc). */
    uint8_t(*old)[PKI_KEY_LEN] = cf->allowed;
    struct dir_binding *old_binding = cf->binding;
    cf->allowed = nc->allowed;
    cf->binding = nc->binding;
    cf->n_allowed = nc->n_allowed;
    cf->open_registration = nc->open_registration;
    nc->allowed = old;
    nc->binding = old_binding;
    cf->max_connections = nc->max_connections;
    cf->max_per_address = nc->max_per_address;
    cf->max_frame = nc->max_frame;
    cf->max_descriptors = nc->max_descriptors;
    cf->handshake_timeout = nc->handshake_timeout;
    cf->idle_timeout = nc->idle_timeout;
    cf->anon_idle_timeout = nc->anon_idle_timeout;
    cf->evict_idle = nc->evict_idle;
    cf->accept_rate = nc->accept_rate;
    cf->accept_burst = nc->accept_burst;
    cf->log_level = nc->log_level;
    cf->stats_interval_s = nc->stats_interval_s;
    dir_conf_free(nc);
    struct conn_limits lim;
    limits_of(cf, &lim);
    conn_mgr_set_limits(d->cm, &lim);
    /* The line is written at info whatever the new level is. */
    mix_log_set_level(MIX_LOG_INFO > cf->log_level ? MIX_LOG_INFO : cf->log_level);
    log_info("SIGHUP: %s reloaded: registration %s (%zu nodes listed), limits "
             "max_connections=%llu max_per_address=%llu max_descriptors=%llu, log level %s",
             d->config, cf->open_registration ? "open" : "by list", cf->n_allowed,
             (unsigned long long)cf->max_connections, (unsigned long long)cf->max_per_address,
             (unsigned long long)cf->max_descriptors, level_names[cf->log_level]);
    mix_log_set_level((enum mix_log_level)cf->log_level);
}

/* ------------------------------------------------------------ start and stop */

static int load_keys(struct mixdir *d, char *err, size_t errlen)
{
    d->sign_sk = sodium_malloc(PKI_SECRET_KEY_LEN);
    d->link_sk = sodium_malloc(PKI_KEY_LEN);
    if (d->sign_sk == NULL || d->link_sk == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (keyfile_read(d->cf->identity_key_path, KEYFILE_ED25519_SECRET, d->sign_sk, err, errlen) <
            0 ||
        keyfile_read(d->cf->link_key_path, KEYFILE_X25519_SECRET, d->link_sk, err, errlen) < 0)
        return -1;
    memcpy(d->sign_pk, d->sign_sk + 32, PKI_KEY_LEN);
    if (crypto_scalarmult_base(d->link_pk, d->link_sk) != 0) {
        snprintf(err, errlen, "%.300s: invalid X25519 key", d->cf->link_key_path);
        return -1;
    }
    int idx = auth_index_by_sign_key(d, d->sign_pk);
    if (idx < 0) {
        snprintf(err, errlen,
                 "this authority's signing key (%.300s) is not in the "
                 "[network] authority lines",
                 d->cf->identity_key_path);
        return -1;
    }
    if (memcmp(d->cf->auth[idx].link_pk, d->link_pk, PKI_KEY_LEN) != 0) {
        snprintf(err, errlen,
                 "the authority line of this authority names another link key "
                 "than %.300s",
                 d->cf->link_key_path);
        return -1;
    }
    d->self = (size_t)idx;
    return 0;
}

void mixdir_free(struct mixdir *d)
{
    if (d == NULL)
        return;
    dir_metrics_stop(d->metrics);
    conn_mgr_free(d->cm);
    if (d->lock_fd >= 0)
        close(d->lock_fd);
    for (size_t i = 0; i < MAX_BUILDS; i++)
        build_clear(&d->builds[i]);
    for (size_t i = 0; i < MAX_PUBLISHED; i++)
        free(d->pub[i].bytes);
    dir_set_clear(&d->descs);
    sodium_free(d->sign_sk);
    sodium_free(d->link_sk);
    dir_conf_free(d->cf);
    free(d);
}

/* Load config and keys; with check_only stop there.  NULL with err. */
struct mixdir *mixdir_new(const char *path, char *err, size_t errlen)
{
    struct mixdir *d = calloc(1, sizeof *d);
    if (d == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->lock_fd = -1;
    dir_set_init(&d->descs);
    d->cf = dir_conf_load(path, err, errlen);
    if (d->cf == NULL || load_keys(d, err, errlen) < 0) {
        mixdir_free(d);
        return NULL;
    }
    return d;
}

static void load_state(struct mixdir *d)
{
    uint64_t cur = cur_epoch(d);
    size_t n = dir_store_load_descs(d->cf->data_dir, load_descriptor_cb, d);
    log_info("loaded %zu of %zu stored descriptors", d->descs.n, n);
    for (uint64_t e = cur; e <= cur + 1 && cur > 0; e++) {
        uint8_t *b;
        size_t len, nodes = 0;
        if (dir_store_load_doc(d->cf->data_dir, e, &b, &len) < 0)
            continue;
        if (verify_doc(d, b, len, e, now_s(d), &nodes) == PKI_OK) {
            pub_set(d, e, b, len, 0);
            log_info("epoch %llu: loaded the stored document (%zu nodes)", (unsigned long long)e,
                     nodes);
        } else {
            free(b);
        }
    }
}

static int mixdir_start(struct mixdir *d, char *err, size_t errlen)
{
    const struct dir_conf *cf = d->cf;
    struct conn_limits lim;
    limits_of(cf, &lim);
    struct conn_callbacks cb = { on_authorize, on_established, on_frame, on_close };
    d->cm = conn_mgr_new(d->loop, d->link_sk, d->link_pk, &lim, &cb, d);
    if (d->cm == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (conn_listen(d->cm, cf->listen, NULL, err, errlen) < 0)
        return -1;
    d->start_time = now_s(d);
    if (cf->metrics_listen[0] && !(d->metrics = dir_metrics_start(cf->metrics_listen, err, errlen)))
        return -1;
    load_state(d);
    for (size_t i = 0; i < cf->n_auth; i++) {
        if (i == d->self)
            continue;
        d->peer_tag[i] = (struct peer){ d, i };
        d->peer_conn[i] = conn_dial(d->cm, cf->auth[i].addr, cf->auth[i].link_pk,
                                    LINK_ROLE_AUTHORITY, true, &d->peer_tag[i]);
        if (d->peer_conn[i] == NULL) {
            snprintf(err, errlen, "cannot dial authority %zu at %s", i + 1, cf->auth[i].addr);
            return -1;
        }
    }
    ev_timer_init(&d->tick, tick_cb, TICK_SECONDS, TICK_SECONDS);
    d->tick.data = d;
    ev_timer_start(d->loop, &d->tick);
    ev_signal_init(&d->sig_int, signal_cb, SIGINT);
    ev_signal_init(&d->sig_term, signal_cb, SIGTERM);
    ev_signal_start(d->loop, &d->sig_int);
    ev_signal_start(d->loop, &d->sig_term);
    ev_signal_init(&d->sig_hup, hup_cb, SIGHUP);
    d->sig_hup.data = d;
    ev_signal_start(d->loop, &d->sig_hup);
    return 0;
}

void usage(FILE *f)
{
    fprintf(f,
            "usage: mixdir -c FILE          run the directory authority\n"
            "       mixdir -n -c FILE       check the configuration and keys, then exit\n"
            "       mixdir keygen -d DIR [-a HOST:PORT]\n"
            "                               create identity.key and link.key in DIR and print\n"
            "                               the `authority =` line for the configs\n"
            "       mixdir pubkey -d DIR [-a HOST:PORT] | -c FILE\n"
            "                               print the `authority =` line again from the key\n"
            "                               files (fingerprint is the same command)\n"
            "       mixdir fetch -c FILE [-A HOST:PORT] [-e EPOCH] [-o FILE] [-v]\n"
            "                               fetch and verify the document the authorities serve\n"
            "                               (FILE: a mixdir, mixnode or mixclient configuration)\n"
            "options: -c, --config FILE   -n, --check   -h, --help   -V, --version\n"
            "See mixdir(8) and mixdir.conf(5).\n");
}

/*
 * A digest of everything every authority must agree on: the authority lines,
 * the threshold, and the parameters as the canonical document encodes them
 * (epoch 1, no nodes).  Equal digests mean the authorities will sign the
 * same documents; `mixdir -n` prints it to compare before starting.
 */
static void network_digest(const struct dir_conf *cf, char out[33])
{
    crypto_generichash_state st;
    uint8_t h[16], thr[8];
    struct pki_params p = cf->params;
    uint8_t *doc = NULL;
    size_t len = 0;
    p.epoch = 1;
    p.timing = cf->timing;
    crypto_generichash_init(&st, NULL, 0, sizeof h);
    struct pki_doc *d = pki_doc_new(&p);
    if (d != NULL && pki_doc_encode(d, &doc, &len) == PKI_OK)
        crypto_generichash_update(&st, doc, len);
    free(doc);
    pki_doc_free(d);
    for (size_t i = 0; i < cf->n_auth; i++) {
        crypto_generichash_update(&st, (const uint8_t *)cf->auth[i].addr,
                                  strlen(cf->auth[i].addr) + 1);
        crypto_generichash_update(&st, cf->auth[i].sign_pk, PKI_KEY_LEN);
        crypto_generichash_update(&st, cf->auth[i].link_pk, PKI_KEY_LEN);
    }
    for (int i = 0; i < 8; i++)
        thr[i] = (uint8_t)((uint64_t)cf->threshold >> (8 * i));
    crypto_generichash_update(&st, thr, sizeof thr);
    crypto_generichash_final(&st, h, sizeof h);
    sodium_bin2hex(out, 33, h, sizeof h);
}

static int run(const char *config, bool check_only)
{
    char err[4096];
    struct mixdir *d = mixdir_new(config, err, sizeof err);
    if (d == NULL) {
        /* One line per problem, each with FILE:LINE (sys/conf.h). */
        for (char *l = strtok(err, "\n"); l; l = strtok(NULL, "\n"))
            fprintf(stderr, "mixdir: %s\n", l);
        return 1;
    }
    char digest[33];
    network_digest(d->cf, digest);
    if (check_only) {
        const struct pki_params *p = &d->cf->params;
        static const char *const strat[] = { "poisson", "timed_pool", "threshold" };
        printf("mixdir: %s: configuration OK (authority %zu of %zu, threshold %zu, "
               "epoch %llus)\n",
               config, d->self + 1, d->cf->n_auth, d->cf->threshold,
               (unsigned long long)d->cf->timing.epoch_len);
        printf("network digest %s (must be the same at every authority)\n", digest);
        printf("  authorities %zu threshold %zu genesis %llu epoch_length %llus grace %llus\n"
               "  layers %u max_hops %u payload_len %u mean_delay %lluus max_delay %lluus\n"
               "  lambda_p %.3f lambda_l %.3f lambda_d %.3f lambda_m %.3f strategy %s\n",
               d->cf->n_auth, d->cf->threshold, (unsigned long long)d->cf->timing.genesis,
               (unsigned long long)d->cf->timing.epoch_len, (unsigned long long)d->cf->timing.grace,
               p->layers, p->max_hops, p->payload_len, (unsigned long long)p->mean_delay_us,
               (unsigned long long)p->max_delay_us, p->lambda_p_mhz / 1000.0,
               p->lambda_l_mhz / 1000.0, p->lambda_d_mhz / 1000.0, p->lambda_m_mhz / 1000.0,
               p->strategy < 3 ? strat[p->strategy] : "?");
        mixdir_free(d);
        return 0;
    }
    d->config = config;
    /* Before the log moves to a file: a refusal must reach the terminal. */
    if (dir_store_init(d->cf->data_dir, err, sizeof err) < 0 ||
        (d->lock_fd = mix_dir_lock(d->cf->data_dir, "mixdir", err, sizeof err)) < 0) {
        fprintf(stderr, "mixdir: %s\n", err);
        mixdir_free(d);
        return 1;
    }
    if (d->cf->log_file[0] && mix_log_set_file(d->cf->log_file, err, sizeof err) < 0) {
        fprintf(stderr, "mixdir: %s\n", err);
        mixdir_free(d);
        return 1;
    }
    mix_log_init("mixdir", (enum mix_log_level)d->cf->log_level, d->cf->use_syslog);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN); /* until the loop handles it (hup_cb) */
    d->loop = ev_default_loop(EVFLAG_AUTO);
    if (mixdir_start(d, err, sizeof err) < 0) {
        log_err("%s", err);
        mixdir_free(d);
        return 1;
    }
    log_info("authority %zu of %zu listening on %s (epoch %llu, threshold %zu, network digest "
             "%s)",
             d->self + 1, d->cf->n_auth, d->cf->listen, (unsigned long long)cur_epoch(d),
             d->cf->threshold, digest);
    ev_run(d->loop, 0);
    log_counters(d, true);
    mixdir_free(d); /* descriptors and documents are saved as they change */
    log_info("stopped");
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
    const char *config = NULL;
    bool check = false;
    int ch;
    if (sodium_init() < 0) {
        fprintf(stderr, "mixdir: libsodium failed to initialise\n");
        return 1;
    }
    mix_log_init("mixdir", MIX_LOG_INFO, false);
    if (argc > 1 && strcmp(argv[1], "keygen") == 0)
        return keygen_main(argc - 1, argv + 1);
    if (argc > 1 && (strcmp(argv[1], "pubkey") == 0 || strcmp(argv[1], "fingerprint") == 0))
        return pubkey_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "fetch") == 0)
        return dir_fetch_main(argc - 1, argv + 1);
    while ((ch = getopt_long(argc, argv, "c:nhV", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': config = optarg; break;
        case 'n': check = true; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("mixdir %s\n", MIX_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (config == NULL || optind != argc) {
        usage(stderr);
        return 2;
    }
    return run(config, check);
}
