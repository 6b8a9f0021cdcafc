/*
 * mixdir configuration (see dir_conf.h and docs/man/mixdir.conf.5).
 */
#include "dir_conf.h"
#include "sphinx.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authority.h"
#include "conf.h"
#include "frame.h"
#include "hostport.h"
#include "keyfile.h"
#include "log.h"
#include "netconf.h"

#define US 1000000ULL

static int get_path(struct conf *cf, const char *key, const char *data_dir, const char *def,
                    char *out, size_t cap)
{
    const char *v = conf_get_str(cf, "mixdir", key, def);
    int n = v[0] == '/' ? snprintf(out, cap, "%s", v) : snprintf(out, cap, "%s/%s", data_dir, v);
    if (n < 0 || (size_t)n >= cap) {
        conf_error(cf, "[mixdir] %s: path too long", key);
        return -1;
    }
    return 0;
}

/*
 * The loaders go on after an error, so that one run reports every error of
 * every section: each is kept in cf (conf_error, or the getters, whose value
 * is then the default); they return -1 if there was any.
 */
static int load_main(struct conf *cf, struct dir_conf *c, char *err, size_t errlen)
{
    const char *listen = conf_get_str(cf, "mixdir", "listen", NULL);
    const char *dd = conf_get_str(cf, "mixdir", "data_dir", NULL);
    char host[PKI_ADDR_MAX + 1];
    uint16_t port;
    int bad = 0;
    if (listen == NULL) {
        conf_error(cf, "[mixdir] listen is required");
        bad = 1;
    } else if (strlen(listen) > PKI_ADDR_MAX || !hostport_parse(listen, host, sizeof host, &port)) {
        conf_error(cf, "[mixdir] listen: bad address \"%s\" (want HOST:PORT)", listen);
        bad = 1;
    } else {
        snprintf(c->listen, sizeof c->listen, "%s", listen);
    }
    if (dd == NULL) {
        conf_error(cf, "[mixdir] data_dir is required");
        bad = 1;
    } else if (strlen(dd) == 0 || strlen(dd) >= sizeof c->data_dir) {
        conf_error(cf, "[mixdir] data_dir: empty or too long");
        bad = 1;
    } else {
        snprintf(c->data_dir, sizeof c->data_dir, "%s", dd);
        bad |= get_path(cf, "identity_key", dd, "identity.key", c->identity_key_path,
                        sizeof c->identity_key_path) < 0;
        bad |=
            get_path(cf, "link_key", dd, "link.key", c->link_key_path, sizeof c->link_key_path) < 0;
    }
    const char *lvl = conf_get_str(cf, "mixdir", "log_level", "info");
    c->log_level = mix_log_parse_level(lvl);
    if (c->log_level < 0) {
        conf_error(cf, "[mixdir] log_level: \"%s\" is not error, warn, info or debug", lvl);
        bad = 1;
    }
    bad |= conf_get_bool(cf, "mixdir", "syslog", false, &c->use_syslog, err, errlen) < 0;
    bad |= conf_get_u64(cf, "mixdir", "stats_interval", 30, 1, 86400, &c->stats_interval_s, err,
                        errlen) < 0;
    const char *ml = conf_get_str(cf, "mixdir", "metrics_listen", "");
    struct in_addr ip4;
    if (*ml &&
        (strlen(ml) >= sizeof c->metrics_listen || !hostport_parse(ml, host, sizeof host, &port) ||
         inet_pton(AF_INET, host, &ip4) != 1)) {
        conf_error(cf,
                   "[mixdir] metrics_listen: \"%s\": a numeric IPv4 HOST:PORT such "
                   "as 127.0.0.1:9200",
                   ml);
        bad = 1;
    } else {
        snprintf(c->metrics_listen, sizeof c->metrics_listen, "%s", ml);
    }
    const char *lf = conf_get_str(cf, "mixdir", "log_file", "");
    if (strlen(lf) >= sizeof c->log_file) {
        conf_error(cf, "[mixdir] log_file: too long");
        bad = 1;
    } else {
        snprintf(c->log_file, sizeof c->log_file, "%s", lf);
    }
    return bad ? -1 : 0;
}

static int load_authorities(struct conf *cf, struct dir_conf *c, char *err, size_t errlen)
{
    size_t n;
    uint64_t k;
    int bad = authority_read_list(cf, "network", c->auth, DIR_MAX_AUTHORITIES, &n, err, errlen) < 0;
    if (n == 0)
        return -1;
    c->n_auth = n;
    bad |= conf_get_u64(cf, "network", "threshold", n / 2 + 1, 1, n, &k, err, errlen) < 0;
    c->threshold = (size_t)k;
    return bad ? -1 : 0;
}

static int load_timing(struct conf *cf, struct dir_conf *c, char *err, size_t errlen)
{
    uint64_t len_us, grace_us, lead_us, win_us;
    int bad = 0;
    bad |= conf_get_u64(cf, "network", "genesis", 0, 0, UINT64_C(1) << 40, &c->timing.genesis, err,
                        errlen) < 0;
    if (conf_get_duration_us(cf, "network", "epoch_length", 20 * 60 * US, &len_us, err, errlen) <
        0) {
        bad = 1;
    } else if (len_us < 4 * US || len_us % US != 0 || len_us > 7 * 24 * 3600 * US) {
        conf_error(cf, "[network] epoch_length: whole seconds from 4s to 7 days");
        bad = 1;
    }
    if (bad) { /* the checks below depend on the epoch length: read the keys only */
        (void)conf_count(cf, "network", "grace");
        (void)conf_count(cf, "network", "vote_lead");
        (void)conf_count(cf, "network", "exchange_window");
        (void)conf_count(cf, "network", "key_ahead_epochs");
        return -1;
    }
    uint64_t len = len_us / US;
    c->timing.epoch_len = len;
    bad |=
        conf_get_duration_us(cf, "network", "grace", (len / 10) * US, &grace_us, err, errlen) < 0;
    bad |= conf_get_duration_us(cf, "network", "vote_lead", (len / 4 > 0 ? len / 4 : 1) * US,
                                &lead_us, err, errlen) < 0;
    c->timing.grace = grace_us / US;
    c->vote_lead_s = lead_us / US;
    if (c->timing.grace >= len) {
        conf_error(cf, "[network] grace must be shorter than epoch_length");
        bad = 1;
    }
    if (c->vote_lead_s < 2 || c->vote_lead_s >= len) {
        conf_error(cf, "[network] vote_lead: from 2s to less than epoch_length");
        bad = 1;
    }
    uint64_t def_win = c->vote_lead_s / 3 > 0 ? c->vote_lead_s / 3 : 1;
    if (def_win > 30)
        def_win = 30;
    if (conf_get_duration_us(cf, "network", "exchange_window", def_win * US, &win_us, err, errlen) <
        0) {
        bad = 1;
    } else {
        c->exchange_window_s = win_us / US;
        if (c->exchange_window_s < 1 || c->exchange_window_s >= c->vote_lead_s) {
            conf_error(cf, "[network] exchange_window: from 1s to less than vote_lead");
            bad = 1;
        }
    }
    bad |= conf_get_u64(cf, "network", "key_ahead_epochs", 4, 1, PKI_MAX_SPHINX_KEYS,
                        &c->key_ahead_epochs, err, errlen) < 0;
    return bad ? -1 : 0;
}

/* The mixing and geometry keys: sys/netconf.c, the one parser mixsim uses too. */
static int load_params(struct conf *cf, struct dir_conf *c, char *err, size_t errlen)
{
    return netconf_read(cf, &c->timing, &c->params, err, errlen);
}

/*
 * `node = KEY [ROLES [LAYER]]`: with ROLES (mix, gateway, provider, comma
 * separated, as in mixnode.conf) the key may only register with exactly
 * that role and layer (docs/abuse.md).
 */
static int parse_node_line(const char *v, uint8_t key[static PKI_KEY_LEN], struct dir_binding *b)
{
    char k[128], roles[64], extra;
    unsigned layer = 0;
    int n = sscanf(v, "%127s %63s %u %c", k, roles, &layer, &extra);
    if (n < 1 || n > 3 || !key_from_b64(k, key, PKI_KEY_LEN))
        return -1;
    b->roles = b->layer = 0;
    if (n == 1)
        return 0;
    for (char *save = NULL, *t = strtok_r(roles, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (strcmp(t, "mix") == 0)
            b->roles |= PKI_ROLE_MIX;
        else if (strcmp(t, "gateway") == 0)
            b->roles |= PKI_ROLE_GATEWAY;
        else if (strcmp(t, "provider") == 0)
            b->roles |= PKI_ROLE_PROVIDER;
        else
            return -1;
    }
    b->layer = layer;
    if ((b->roles & PKI_ROLE_MIX)
            ? (b->roles != PKI_ROLE_MIX || layer == 0 || layer > PKI_MAX_LAYERS)
            : layer != 0)
        return -1;
    return 0;
}

static int load_registration(struct conf *cf, struct dir_conf *c, char *err, size_t errlen)
{
    int bad =
        conf_get_bool(cf, "registration", "open", false, &c->open_registration, err, errlen) < 0;
    size_t n = conf_count(cf, "registration", "node");
    if (n > DIR_MAX_ALLOWED) {
        snprintf(err, errlen, "[registration] too many node lines (max %d)", DIR_MAX_ALLOWED);
        return -1;
    }
    c->allowed = calloc(n ? n : 1, sizeof *c->allowed);
    c->binding = calloc(n ? n : 1, sizeof *c->binding);
    if (c->allowed == NULL || c->binding == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const char *v = conf_get_nth(cf, "registration", "node", i);
        if (parse_node_line(v, c->allowed[i], &c->binding[i]) < 0) {
            conf_error(cf,
                       "[registration] node: expected 'ED25519_KEY [ROLES [LAYER]]' "
                       "(roles mix or gateway,provider; a mix needs its layer): \"%s\"",
                       v);
            bad = 1;
        }
    }
    if (bad)
        return -1;
    c->n_allowed = n;
    if (n == 0 && !c->open_registration)
        log_warn("[registration] lists no node and open = false: every upload will be refused");
    return 0;
}

static int load_limits(struct conf *cf, struct dir_conf *c, char *err, size_t errlen)
{
    uint64_t hs, idle, anon, evict;
    int bad = 0;
    bad |= conf_get_u64(cf, "limits", "max_connections", 512, 4, 100000, &c->max_connections, err,
                        errlen) < 0;
    bad |= conf_get_u64(cf, "limits", "max_per_address", 32, 1, 100000, &c->max_per_address, err,
                        errlen) < 0;
    bad |= conf_get_u64(cf, "limits", "max_frame", FRAME_MAX_DEFAULT, 16384, 16u << 20,
                        &c->max_frame, err, errlen) < 0;
    bad |= conf_get_u64(cf, "limits", "max_descriptors", 1024, 1, PKI_MAX_NODES,
                        &c->max_descriptors, err, errlen) < 0;
    bad |= conf_get_duration_us(cf, "limits", "handshake_timeout", 5 * US, &hs, err, errlen) < 0;
    bad |= conf_get_duration_us(cf, "limits", "idle_timeout", 120 * US, &idle, err, errlen) < 0;
    bad |= conf_get_duration_us(cf, "limits", "anon_idle_timeout", 10 * US, &anon, err, errlen) < 0;
    bad |= conf_get_duration_us(cf, "limits", "evict_idle", 2 * US, &evict, err, errlen) < 0;
    bad |=
        conf_get_u64(cf, "limits", "accept_rate", 50, 0, 1000000, &c->accept_rate, err, errlen) < 0;
    bad |= conf_get_u64(cf, "limits", "accept_burst", 100, 1, 1000000, &c->accept_burst, err,
                        errlen) < 0;
    c->handshake_timeout = (double)hs / 1e6;
    c->idle_timeout = (double)idle / 1e6;
    c->anon_idle_timeout = (double)anon / 1e6;
    c->evict_idle = (double)evict / 1e6;
    if (c->anon_idle_timeout < 1 || c->evict_idle <= 0) {
        conf_error(cf, "[limits] anon_idle_timeout must be >= 1s, evict_idle > 0");
        bad = 1;
    }
    if (c->handshake_timeout <= 0) {
        conf_error(cf, "[limits] handshake_timeout must be > 0");
        bad = 1;
    }
    return bad ? -1 : 0;
}

static struct dir_conf *finish(struct conf *cf, char *err, size_t errlen)
{
    if (cf == NULL)
        return NULL;
    struct dir_conf *c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        conf_free(cf);
        return NULL;
    }
    /* Every section is read to its end even after an error: one run reports
     * the unknown keys and every error (conf_report). */
    conf_known(cf, "mixdir",
               "listen data_dir identity_key link_key log_level syslog log_file "
               "stats_interval metrics_listen");
    conf_known(cf, "network",
               "authority threshold epoch_length genesis grace vote_lead "
               "exchange_window key_ahead_epochs max_hops payload_len layers mean_delay "
               "max_delay lambda_p lambda_l lambda_d lambda_m strategy pool_interval pool_keep "
               "threshold_n");
    conf_known(cf, "registration", "open node");
    conf_known(cf, "limits",
               "max_connections max_per_address max_frame max_descriptors "
               "handshake_timeout idle_timeout");
    char e[6][512];
    const char *errs[6] = { e[0], e[1], e[2], e[3], e[4], e[5] };
    int rc[6];
    memset(e, 0, sizeof e);
    rc[0] = load_main(cf, c, e[0], sizeof e[0]);
    rc[1] = load_authorities(cf, c, e[1], sizeof e[1]);
    rc[2] = load_timing(cf, c, e[2], sizeof e[2]);
    rc[3] = load_params(cf, c, e[3], sizeof e[3]);
    rc[4] = load_registration(cf, c, e[4], sizeof e[4]);
    rc[5] = load_limits(cf, c, e[5], sizeof e[5]);
    for (int i = 0; i < 6; i++)
        if (rc[i] < 0 && !e[i][0] && conf_error_count(cf) == 0)
            snprintf(e[i], sizeof e[i], "invalid configuration");
    if (conf_report(cf, errs, 6, err, errlen) < 0) {
        dir_conf_free(c);
        conf_free(cf);
        return NULL;
    }
    conf_free(cf);
    return c;
}

struct dir_conf *dir_conf_load(const char *path, char *err, size_t errlen)
{
    return finish(conf_load(path, err, errlen), err, errlen);
}

struct dir_conf *dir_conf_parse(const char *text, char *err, size_t errlen)
{
    return finish(conf_parse_string(text, err, errlen), err, errlen);
}

void dir_conf_free(struct dir_conf *c)
{
    if (c == NULL)
        return;
    free(c->allowed);
    free(c->binding);
    free(c);
}

bool dir_conf_node_binding(const struct dir_conf *c, const uint8_t identity_pk[static PKI_KEY_LEN],
                           uint32_t *roles, uint32_t *layer)
{
    for (size_t i = 0; i < c->n_allowed; i++)
        if (memcmp(c->allowed[i], identity_pk, PKI_KEY_LEN) == 0 && c->binding[i].roles) {
            *roles = c->binding[i].roles;
            *layer = c->binding[i].layer;
            return true;
        }
    return false;
}

bool dir_conf_node_allowed(const struct dir_conf *c, const uint8_t identity_pk[static PKI_KEY_LEN])
{
    if (c->open_registration)
        return true;
    for (size_t i = 0; i < c->n_allowed; i++)
        if (memcmp(c->allowed[i], identity_pk, PKI_KEY_LEN) == 0)
            return true;
    return false;
}
