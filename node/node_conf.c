/*
 * node_conf: mixnode.conf parsing and checking.  Every key is documented in
 * docs/man/mixnode.conf.5.
 */
#include <arpa/inet.h>
#include "node_conf.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "hostport.h"
#include "keyfile.h"
#include "log.h"
#include "replay.h"

bool node_parse_roles(const char *s, uint32_t *roles)
{
    char buf[128];
    uint32_t r = 0;

    if (strlen(s) >= sizeof(buf))
        return false;
    strcpy(buf, s);
    for (char *save = NULL, *t = strtok_r(buf, ", \t", &save); t;
         t = strtok_r(NULL, ", \t", &save)) {
        if (strcmp(t, "gateway") == 0)
            r |= PKI_ROLE_GATEWAY;
        else if (strcmp(t, "mix") == 0)
            r |= PKI_ROLE_MIX;
        else if (strcmp(t, "provider") == 0)
            r |= PKI_ROLE_PROVIDER;
        else
            return false;
    }
    if (r == 0 || ((r & PKI_ROLE_MIX) && r != PKI_ROLE_MIX))
        return false;
    *roles = r;
    return true;
}

/* Copy a string setting; a value too long is an error (kept in c). */
static int copy_str(struct conf *c, char *dst, size_t cap, const char *src, const char *key)
{
    if (strlen(src) >= cap) {
        conf_error(c, "%s: value too long", key);
        return -1;
    }
    strcpy(dst, src);
    return 0;
}

/*
 * The loaders below go on after an error, so that one run reports every
 * error of every section (each kept in c by conf_error or the getters, whose
 * value is then the default); they return -1 if there was any.
 */
static int load_node(struct conf *c, struct node_conf *o, char *err, size_t errlen)
{
    const char *s;
    uint64_t v;
    int bad = 0;

    s = conf_get_str(c, "node", "data_dir", NULL);
    if (!s || !*s) {
        conf_error(c, "node.data_dir is required");
        bad = 1;
    } else {
        bad |= copy_str(c, o->data_dir, sizeof(o->data_dir), s, "node.data_dir") < 0;
    }
    s = conf_get_str(c, "node", "listen", NULL);
    char host[NODE_ADDR_MAX];
    uint16_t port;
    if (!s || !hostport_parse(s, host, sizeof(host), &port)) {
        conf_error(c, "node.listen: required, as HOST:PORT");
        bad = 1;
    } else {
        bad |= copy_str(c, o->listen, sizeof(o->listen), s, "node.listen") < 0;
    }
    s = conf_get_str(c, "node", "address", o->listen);
    if (!hostport_parse(s, host, sizeof(host), &port) || port == 0) {
        if (conf_count(c, "node", "address") || o->listen[0]) {
            conf_error(c, "node.address: HOST:PORT with a non-zero port is required");
            bad = 1;
        }
    } else {
        bad |= copy_str(c, o->address, sizeof(o->address), s, "node.address") < 0;
    }
    s = conf_get_str(c, "node", "roles", NULL);
    if (!s || !node_parse_roles(s, &o->roles)) {
        conf_error(c, "node.roles: 'mix', or any of 'gateway,provider'");
        bad = 1;
    }
    if (conf_get_u64(c, "node", "layer", 0, 0, PKI_MAX_LAYERS, &v, err, errlen) < 0) {
        bad = 1;
    } else if (o->roles != 0) {
        o->layer = (uint32_t)v;
        if ((o->roles & PKI_ROLE_MIX) && o->layer == 0) {
            conf_error(c, "node.layer: a mix needs a layer >= 1");
            bad = 1;
        }
        if (!(o->roles & PKI_ROLE_MIX) && o->layer != 0) {
            conf_error(c, "node.layer: only mixes have a layer");
            bad = 1;
        }
    }
    bad |= conf_get_u64(c, "node", "workers", 0, 0, 256, &v, err, errlen) < 0;
    o->workers = (unsigned)v;
    if (conf_get_duration_us(c, "node", "io_slice", 100, &v, err, errlen) < 0) {
        bad = 1;
    } else if (v != 0 && (v < 100 || v > 100000)) {
        conf_error(c, "node.io_slice: 0 (off) or 100us .. 100ms");
        bad = 1;
    }
    o->io_slice_us = (unsigned)v;
    s = conf_get_str(c, "node", "log_level", "info");
    if ((o->log_level = mix_log_parse_level(s)) < 0) {
        conf_error(c, "node.log_level: error, warn, info or debug");
        bad = 1;
    }
    bad |= conf_get_bool(c, "node", "syslog", false, &o->use_syslog, err, errlen) < 0;
    bad |= conf_get_bool(c, "node", "mix_loops", true, &o->mix_loops, err, errlen) < 0;
    bad |= copy_str(c, o->log_file, sizeof(o->log_file), conf_get_str(c, "node", "log_file", ""),
                    "node.log_file") < 0;
    s = conf_get_str(c, "node", "metrics_listen", "");
    struct in_addr ip4;
    if (*s &&
        (!hostport_parse(s, host, sizeof(host), &port) || inet_pton(AF_INET, host, &ip4) != 1)) {
        /* What the metrics endpoint can bind: checked here so -n sees it. */
        conf_error(c,
                   "node.metrics_listen: \"%s\": a numeric IPv4 HOST:PORT such as "
                   "127.0.0.1:9100",
                   s);
        bad = 1;
    } else {
        bad |=
            copy_str(c, o->metrics_listen, sizeof(o->metrics_listen), s, "node.metrics_listen") < 0;
    }
    return bad ? -1 : 0;
}

static int load_directory(struct conf *c, struct node_conf *o, char *err, size_t errlen)
{
    uint64_t v;
    size_t n;
    int bad = authority_read_list(c, "directory", o->auth, NODE_MAX_AUTH, &n, err, errlen) < 0;

    if (n > 0) {
        o->n_auth = n;
        bad |= conf_get_u64(c, "directory", "threshold", (n / 2) + 1, 1, n, &v, err, errlen) < 0;
        o->threshold = (uint32_t)v;
    }
    /* The epoch timing comes from the signed document; these optional keys
     * only state what the operator expects, and a difference is logged. */
    o->expect = 0;
    if (conf_count(c, "directory", "genesis")) {
        bad |= conf_get_u64(c, "directory", "genesis", 0, 0, UINT64_MAX / 2, &o->timing.genesis,
                            err, errlen) < 0;
        o->expect |= NODE_EXPECT_GENESIS;
    }
    if (conf_count(c, "directory", "epoch_length")) {
        if (conf_get_duration_us(c, "directory", "epoch_length", 0, &v, err, errlen) < 0) {
            bad = 1;
        } else if (v < 1000000 || v % 1000000) {
            conf_error(c, "[directory] epoch_length: a whole number of seconds, >= 1 s");
            bad = 1;
        }
        o->timing.epoch_len = v / 1000000;
        o->expect |= NODE_EXPECT_EPOCH_LEN;
    }
    if (conf_count(c, "directory", "grace")) {
        if (conf_get_duration_us(c, "directory", "grace", 0, &v, err, errlen) < 0) {
            bad = 1;
        } else if (v % 1000000) {
            conf_error(c, "[directory] grace: a whole number of seconds");
            bad = 1;
        }
        o->timing.grace = v / 1000000;
        o->expect |= NODE_EXPECT_GRACE;
    }
    bad |= conf_get_duration_us(c, "directory", "poll_interval", 5000000, &o->poll_us, err,
                                errlen) < 0;
    if (o->poll_us < 100000)
        o->poll_us = 100000;
    bad |=
        copy_str(c, o->document_file, sizeof(o->document_file),
                 conf_get_str(c, "directory", "document_file", ""), "directory.document_file") < 0;
    return bad ? -1 : 0;
}

static int load_limits(struct conf *c, struct node_conf *o, char *err, size_t errlen)
{
    int bad = 0;
    bad |= conf_get_u64(c, "limits", "max_connections", 1024, 4, 1000000, &o->max_connections, err,
                        errlen) < 0;
    bad |= conf_get_u64(c, "limits", "max_connections_per_addr", 64, 1, 1000000, &o->max_per_addr,
                        err, errlen) < 0;
    bad |= conf_get_u64(c, "limits", "max_frame", 1 << 20, 4096, 16 << 20, &o->max_frame, err,
                        errlen) < 0;
    bad |= conf_get_u64(c, "limits", "peer_queue_bytes", 8 << 20, 65536, (uint64_t)1 << 32,
                        &o->peer_queue_bytes, err, errlen) < 0;
    bad |= conf_get_u64(c, "limits", "total_queue", 100000, 16, 10000000, &o->total_queue, err,
                        errlen) < 0;
    bad |= conf_get_u64(c, "limits", "work_queue", 20000, 16, 10000000, &o->work_queue, err,
                        errlen) < 0;
    bad |= conf_get_u64(c, "limits", "max_clients", 1000, 0, 1000000, &o->max_clients, err,
                        errlen) < 0;
    bad |=
        conf_get_u64(c, "limits", "client_rate", 200, 1, 1000000, &o->client_rate, err, errlen) < 0;
    bad |= conf_get_u64(c, "limits", "client_burst", 400, 1, 10000000, &o->client_burst, err,
                        errlen) < 0;
    bad |=
        conf_get_duration_us(c, "limits", "max_delay", 60000000, &o->max_delay_us, err, errlen) < 0;
    bad |= conf_get_u64(c, "limits", "fetch_max", 32, 1, 256, &o->fetch_max, err, errlen) < 0;
    /* Abuse limits (docs/abuse.md): what one client link or one address may hold. */
    bad |= conf_get_u64(c, "limits", "client_queue_bytes", 256 << 10, 16384, 64 << 20,
                        &o->client_queue_bytes, err, errlen) < 0;
    bad |= conf_get_duration_us(c, "limits", "client_idle_timeout", 10000000, &o->client_idle_us,
                                err, errlen) < 0;
    bad |= conf_get_duration_us(c, "limits", "client_evict_idle", 2000000, &o->client_evict_idle_us,
                                err, errlen) < 0;
    bad |= conf_get_u64(c, "limits", "fetch_rate", 10, 1, 1000000, &o->fetch_rate, err, errlen) < 0;
    bad |=
        conf_get_u64(c, "limits", "fetch_burst", 10, 1, 1000000, &o->fetch_burst, err, errlen) < 0;
    bad |= conf_get_duration_us(c, "limits", "handshake_timeout", 5000000, &o->handshake_timeout_us,
                                err, errlen) < 0;
    bad |= conf_get_u64(c, "limits", "handshake_rate", 50, 0, 1000000, &o->handshake_rate, err,
                        errlen) < 0;
    bad |= conf_get_u64(c, "limits", "handshake_burst", 100, 1, 1000000, &o->handshake_burst, err,
                        errlen) < 0;
    uint64_t mc, mp, mt;
    bad |= conf_get_u64(c, "limits", "metrics_connections", 256, 1, 100000, &mc, err, errlen) < 0;
    bad |= conf_get_u64(c, "limits", "metrics_connections_per_addr", 8, 1, 100000, &mp, err,
                        errlen) < 0;
    bad |= conf_get_duration_us(c, "limits", "metrics_timeout", 2000000, &mt, err, errlen) < 0;
    if (mt < 1000000 || mt > 3600000000u) {
        conf_error(c, "limits.metrics_timeout: 1s .. 1h (whole seconds)");
        bad = 1;
    }
    o->metrics_limits.max_conns = (unsigned)mc;
    o->metrics_limits.max_per_addr = (unsigned)mp;
    o->metrics_limits.timeout_s = (unsigned)(mt / 1000000);
    if (o->client_idle_us < 1000000 || o->handshake_timeout_us < 100000) {
        conf_error(c, "limits.client_idle_timeout must be >= 1s, "
                      "limits.handshake_timeout >= 100ms");
        bad = 1;
    }
    return bad ? -1 : 0;
}

static int load_store(struct conf *c, struct node_conf *o, char *err, size_t errlen)
{
    int bad = 0;
    uint64_t v;
    inbox_limits_default(&o->inbox);
    bad |= conf_get_u64(c, "inbox", "max_inboxes", o->inbox.max_inboxes, 1, 100000000, &v, err,
                        errlen) < 0;
    o->inbox.max_inboxes = (uint32_t)v;
    bad |= conf_get_u64(c, "inbox", "max_messages", o->inbox.max_per_inbox, 1, 10000000, &v, err,
                        errlen) < 0;
    o->inbox.max_per_inbox = (uint32_t)v;
    bad |= conf_get_duration_us(c, "inbox", "expiry", o->inbox.max_age_s * 1000000, &v, err,
                                errlen) < 0;
    o->inbox.max_age_s = v / 1000000 ? v / 1000000 : 1;
    bad |= conf_get_u64(c, "inbox", "map_size_mb", o->inbox.map_size >> 20, 1, 1 << 20, &v, err,
                        errlen) < 0;
    o->inbox.map_size = v << 20;
    bad |= conf_get_duration_us(c, "inbox", "unused_expiry", o->inbox.unused_s * 1000000, &v, err,
                                errlen) < 0;
    bad |= conf_get_u64(c, "inbox", "create_per_minute", 600, 1, 100000000, &o->create_per_min, err,
                        errlen) < 0;
    bad |= conf_get_u64(c, "inbox", "create_burst", 100, 1, 100000000, &o->create_burst, err,
                        errlen) < 0;
    bad |= conf_get_u64(c, "inbox", "create_per_minute_per_prefix", 6, 1, 100000000,
                        &o->create_per_min_prefix, err, errlen) < 0;
    bad |= conf_get_u64(c, "inbox", "create_burst_per_prefix", 20, 1, 100000000,
                        &o->create_burst_prefix, err, errlen) < 0;
    bad |= conf_get_u64(c, "inbox", "admit_rate", 0, 0, 100000000, &o->admit_rate, err, errlen) < 0;
    bad |= conf_get_u64(c, "inbox", "admit_burst", 100, 1, 100000000, &o->admit_burst, err,
                        errlen) < 0;
    o->inbox.unused_s = v / 1000000;
    bad |= conf_get_duration_us(c, "inbox", "reclaim_idle", o->inbox.reclaim_s * 1000000, &v, err,
                                errlen) < 0;
    o->inbox.reclaim_s = v / 1000000;
    bad |= conf_get_duration_us(c, "inbox", "expire_interval", 60000000, &o->expire_interval_us,
                                err, errlen) < 0;
    bad |= conf_get_u64(c, "replay", "capacity", 1 << 20, 1024, REPLAY_MAX_CAPACITY,
                        &o->replay_capacity, err, errlen) < 0;
    bad |= conf_get_duration_us(c, "replay", "save_interval", 30000000, &o->replay_save_us, err,
                                errlen) < 0;
    if (o->replay_save_us < 1000000)
        o->replay_save_us = 1000000;
    if (conf_get_duration_us(c, "replay", "journal_interval", 2000, &o->journal_interval_us, err,
                             errlen) < 0) {
        bad = 1;
    } else if (o->journal_interval_us > 100000) {
        conf_error(c, "replay.journal_interval: 0 (no journal) .. 100ms");
        bad = 1;
    }
    return bad ? -1 : 0;
}

/* Every key the sections read (conf_known): when a section stops at an
 * error, its later keys are not reported as unknown. */
static void known_keys(struct conf *c)
{
    conf_known(c, "node",
               "data_dir listen address roles layer workers io_slice log_level "
               "syslog log_file metrics_listen mix_loops");
    conf_known(c, "directory",
               "authority threshold genesis epoch_length grace poll_interval "
               "document_file");
    conf_known(c, "limits",
               "max_connections max_connections_per_addr max_frame "
               "peer_queue_bytes total_queue work_queue max_clients client_rate client_burst "
               "max_delay fetch_max");
    conf_known(c, "inbox", "max_inboxes max_messages expiry expire_interval map_size_mb");
    conf_known(c, "replay", "capacity save_interval");
}

/* Each section is read to its end even after an error, so that one run
 * reports the unknown keys and every error of every section at once. */
static int load_all(struct conf *c, struct node_conf *o, char *err, size_t errlen)
{
    char e[4][512];
    const char *errs[4] = { e[0], e[1], e[2], e[3] };
    int rc[4];
    memset(o, 0, sizeof(*o));
    memset(e, 0, sizeof(e));
    known_keys(c);
    rc[0] = load_node(c, o, e[0], sizeof(e[0]));
    rc[1] = load_directory(c, o, e[1], sizeof(e[1]));
    rc[2] = load_limits(c, o, e[2], sizeof(e[2]));
    rc[3] = load_store(c, o, e[3], sizeof(e[3]));
    for (int i = 0; i < 4; i++)
        if (rc[i] < 0 && !e[i][0] && conf_error_count(c) == 0)
            snprintf(e[i], sizeof(e[i]), "invalid configuration");
    return conf_report(c, errs, 4, err, errlen);
}

int node_conf_load(const char *path, struct node_conf *out, char *err, size_t errlen)
{
    struct conf *c = conf_load(path, err, errlen);
    if (!c)
        return -1;
    int rc = load_all(c, out, err, errlen);
    conf_free(c);
    return rc;
}

int node_conf_parse_string(const char *text, struct node_conf *out, char *err, size_t errlen)
{
    struct conf *c = conf_parse_string(text, err, errlen);
    if (!c)
        return -1;
    int rc = load_all(c, out, err, errlen);
    conf_free(c);
    return rc;
}
