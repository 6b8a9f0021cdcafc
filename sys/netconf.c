/*
 * The [network] mixing parameters (see netconf.h).
 */
#include "netconf.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sphinx.h"

#define US 1000000ULL

static const char *const param_keys[] = {
    "max_hops",      "payload_len", "layers",      "mean_delay",    "max_delay",
    "lambda_p",      "lambda_l",    "lambda_d",    "lambda_m",      "strategy",
    "pool_interval", "pool_keep",   "threshold_n", "sphinx_format",
};

static const char *const authority_keys[] = {
    "authority", "threshold", "epoch_length",    "genesis",
    "grace",     "vote_lead", "exchange_window", "key_ahead_epochs",
};

static bool in(const char *key, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(key, list[i]) == 0)
            return true;
    return false;
}

bool netconf_is_param_key(const char *key)
{
    return in(key, param_keys, MIX_ARRAY_LEN(param_keys));
}

bool netconf_is_authority_key(const char *key)
{
    return in(key, authority_keys, MIX_ARRAY_LEN(authority_keys));
}

void netconf_defaults(struct pki_params *p)
{
    memset(p, 0, sizeof *p);
    p->max_hops = 5;
    p->payload_len = 2048;
    p->layers = 3;
    p->mean_delay_us = 50000;
    p->max_delay_us = 2 * US;
    p->lambda_p_mhz = 2000;
    p->lambda_l_mhz = 500;
    p->lambda_d_mhz = 500;
    p->lambda_m_mhz = 500;
    p->strategy = PKI_STRATEGY_POISSON;
    p->pool_interval_us = US;
    p->pool_keep = 0;
    p->threshold_n = 10;
}

/* A rate in messages per second, kept in millihertz as the documents carry it. */
static int get_rate(struct conf *cf, const char *key, uint64_t def_mhz, uint64_t *mhz, char *err,
                    size_t errlen)
{
    double hz;
    if (conf_get_double(cf, NETCONF_SECTION, key, (double)def_mhz / 1000.0, 0, 1e6, &hz, err,
                        errlen) < 0)
        return -1;
    *mhz = (uint64_t)llround(hz * 1000.0);
    return 0;
}

static int get_u32(struct conf *cf, const char *key, uint32_t def, uint64_t min, uint64_t max,
                   uint32_t *out, char *err, size_t errlen)
{
    uint64_t v;
    if (conf_get_u64(cf, NETCONF_SECTION, key, def, min, max, &v, err, errlen) < 0)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

int netconf_read(struct conf *cf, const struct pki_timing *timing, struct pki_params *p, char *err,
                 size_t errlen)
{
    struct pki_params d;
    netconf_defaults(&d);
    *p = d;
    /* Every key is read even after an error: each is kept in cf (conf_error),
     * so a caller's conf_report names them all; err holds one of them. */
    int bad = 0;
    bad |= get_u32(cf, "max_hops", d.max_hops, 3, SPHINX_MAX_HOPS_LIMIT, &p->max_hops, err,
                   errlen) < 0;
    bad |= get_u32(cf, "payload_len", d.payload_len, 64, 65536, &p->payload_len, err, errlen) < 0;
    bad |= get_u32(cf, "layers", d.layers, 1, PKI_MAX_LAYERS, &p->layers, err, errlen) < 0;
    bad |= conf_get_duration_us(cf, NETCONF_SECTION, "mean_delay", d.mean_delay_us,
                                &p->mean_delay_us, err, errlen) < 0;
    bad |= conf_get_duration_us(cf, NETCONF_SECTION, "max_delay", d.max_delay_us, &p->max_delay_us,
                                err, errlen) < 0;
    bad |= get_rate(cf, "lambda_p", d.lambda_p_mhz, &p->lambda_p_mhz, err, errlen) < 0;
    bad |= get_rate(cf, "lambda_l", d.lambda_l_mhz, &p->lambda_l_mhz, err, errlen) < 0;
    bad |= get_rate(cf, "lambda_d", d.lambda_d_mhz, &p->lambda_d_mhz, err, errlen) < 0;
    bad |= get_rate(cf, "lambda_m", d.lambda_m_mhz, &p->lambda_m_mhz, err, errlen) < 0;
    bad |= conf_get_duration_us(cf, NETCONF_SECTION, "pool_interval", d.pool_interval_us,
                                &p->pool_interval_us, err, errlen) < 0;
    const char *s = conf_get_str(cf, NETCONF_SECTION, "strategy", "poisson");
    if (strcmp(s, "poisson") == 0)
        p->strategy = PKI_STRATEGY_POISSON;
    else if (strcmp(s, "timed_pool") == 0)
        p->strategy = PKI_STRATEGY_TIMED_POOL;
    else if (strcmp(s, "threshold") == 0)
        p->strategy = PKI_STRATEGY_THRESHOLD;
    else {
        snprintf(err, errlen, "[network] strategy: \"%s\" is not poisson, timed_pool or threshold",
                 s);
        conf_error(cf, "%s", err);
        bad = 1;
    }
    bad |= get_u32(cf, "pool_keep", d.pool_keep, 0, 1000000, &p->pool_keep, err, errlen) < 0;
    bad |= get_u32(cf, "threshold_n", d.threshold_n, 1, 1000000, &p->threshold_n, err, errlen) < 0;
    enum sphinx_format f;
    const char *fs = conf_get_str(cf, NETCONF_SECTION, "sphinx_format", "classic");
    if (!sphinx_format_parse(fs, &f)) {
        snprintf(err, errlen, "[network] sphinx_format: \"%s\" is not classic or kem-x25519", fs);
        conf_error(cf, "%s", err);
        bad = 1;
    }
    if (bad)
        return -1;
    p->sphinx_format = (uint32_t)f;
    /* Name the usual mistakes; pki_params_check below has the last word. */
    if (p->max_hops < p->layers + 2) {
        snprintf(err, errlen,
                 "[network] max_hops (%u) must be at least layers + 2 (%u): the "
                 "gateways take two hops",
                 p->max_hops, p->layers + 2);
        return -1;
    }
    if (p->mean_delay_us == 0 || p->max_delay_us < p->mean_delay_us) {
        snprintf(err, errlen, "[network] mean_delay must be > 0 and at most max_delay");
        return -1;
    }
    p->epoch = 1;
    if (timing != NULL) {
        p->timing = *timing;
    } else {
        p->timing.epoch_len = 1200;
        p->timing.grace = 120;
    }
    enum pki_err e = pki_params_check(p);
    if (e != PKI_OK) {
        snprintf(err, errlen, "[network] parameters rejected: %s", pki_strerror(e));
        return -1;
    }
    return 0;
}
