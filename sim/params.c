/*
 * Parameter table, INI loading and text conversion (see params.h).
 */
#include "params.h"

#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "netconf.h"

static const char *const topo_names[] = { "stratified", "cascade", "single", NULL };
static const char *const route_names[] = { "uniform", "weighted", NULL };
static const char *const strat_names[] = { "poisson", "timed_pool", "threshold", NULL };
static const char *const arrival_names[] = { "poisson", "regular", NULL };

#define OFF(f) offsetof(struct sim_params, f)

const struct sim_param_desc sim_param_table[] = {
    { "seed", SP_U64, OFF(seed), "1", NULL, "random seed; same seed, same results" },
    { "topology", SP_ENUM, OFF(topology), "stratified", topo_names,
      "stratified (L x W), cascade (W chains of L), single (one mix)" },
    { "layers", SP_U32, OFF(layers), "3", NULL, "L, mix layers (cascade length)" },
    { "width", SP_U32, OFF(width), "10", NULL, "W, mixes per layer (number of cascades)" },
    { "link_delay", SP_DOUBLE, OFF(link_delay), "0.05", NULL,
      "s, link delay (low end if uniform)" },
    { "link_delay_max", SP_DOUBLE, OFF(link_delay_max), "0", NULL,
      "s, > link_delay: link delay uniform in [link_delay, link_delay_max]" },
    { "routing", SP_ENUM, OFF(routing), "uniform", route_names, "uniform or weighted mix choice" },
    { "weights", SP_LIST, OFF(weights), "", NULL,
      "weighted routing: w1,...,wW, the weight of each position in every layer" },
    { "strategy", SP_ENUM, OFF(strategy), "poisson", strat_names,
      "mixing: poisson, timed_pool, threshold (lib/mixq)" },
    { "mean_delay", SP_DOUBLE, OFF(mean_delay), "0.05", NULL,
      "s, Poisson mean per-hop delay 1/mu" },
    { "e2e", SP_DOUBLE, OFF(e2e), "0", NULL,
      "s, > 0: set mean_delay = (e2e - (L+1) link_delay) / L as MiXiM does" },
    { "max_delay", SP_DOUBLE, OFF(max_delay), "2", NULL, "s, cap on a Poisson delay, 0 = none" },
    { "period", SP_DOUBLE, OFF(period), "1", NULL, "s, timed pool round period T" },
    { "pool_keep", SP_U32, OFF(pool_keep), "0", NULL, "timed pool: f messages kept each round" },
    { "threshold", SP_U32, OFF(threshold), "10", NULL, "threshold mix batch size n" },
    { "capacity", SP_U32, OFF(capacity), "0", NULL, "per-mix queue bound, 0 = unbounded" },
    { "clients", SP_U32, OFF(clients), "1000", NULL, "N, number of clients" },
    { "rate_real", SP_DOUBLE, OFF(rate_real), "1", NULL, "real messages per client per s" },
    { "rate_payload", SP_DOUBLE, OFF(rate_payload), "2", NULL,
      "lambda_P per client; a tick sends a queued real message or a drop cover. 0 = no payload "
      "stream: real messages leave as soon as they are written" },
    { "rate_loop", SP_DOUBLE, OFF(rate_loop), "0.5", NULL,
      "lambda_L, loop cover per client per s" },
    { "rate_drop", SP_DOUBLE, OFF(rate_drop), "0.5", NULL,
      "lambda_D, drop cover per client per s" },
    { "rate_mix_loop", SP_DOUBLE, OFF(rate_mix_loop), "0.5", NULL,
      "lambda_M, loop cover per mix per s" },
    { "arrivals", SP_ENUM, OFF(arrivals), "poisson", arrival_names,
      "real messages are written as a Poisson process or at regular intervals" },
    { "client_queue", SP_U32, OFF(client_queue), "100000", NULL,
      "real messages a client may have waiting for a payload tick" },
    { "corrupt", SP_U32, OFF(corrupt), "0", NULL, "number of corrupt mixes, drawn at random" },
    { "corrupt_ids", SP_LIST, OFF(corrupt_ids), "", NULL,
      "explicit corrupt mixes: ids layer*W+position, comma separated" },
    { "layer_delays", SP_LIST, OFF(layer_delays), "", NULL,
      "s, per-layer Poisson means from layer 1, comma separated, replacing mean_delay" },
    { "duration", SP_DOUBLE, OFF(duration), "60", NULL, "s of simulated time" },
    { "warmup", SP_DOUBLE, OFF(warmup), "-1", NULL, "s before the first target, -1 = auto" },
    { "drain", SP_DOUBLE, OFF(drain), "-1", NULL, "s at the end without new targets, -1 = auto" },
    { "target_interval", SP_DOUBLE, OFF(target_interval), "0", NULL,
      "s between tagged targets, 0 = auto (one per expected latency)" },
    { "max_targets", SP_U32, OFF(max_targets), "0", NULL,
      "stop tagging after this many, 0 = no limit" },
    { "prune", SP_DOUBLE, OFF(prune), "1e-12", NULL,
      "probabilities below this are dropped (their mass is reported as pruned)" },
    { "early_stop", SP_U32, OFF(early_stop), "1", NULL,
      "1: stop as soon as every target is measured; 0: run the whole duration" },
    { "repeat", SP_U32, OFF(repeat), "1", NULL,
      "independent runs with seeds seed, seed+1, ...: mean and interval across them" },
    { "point", SP_U32, OFF(point), "0", NULL, "grid point number (set by sweeps)" },
    { "points", SP_U32, OFF(points), "0", NULL,
      "points in the whole grid (set by sweeps, checked by merge; 0 = a lone run)" },
};
const size_t sim_param_count = MIX_ARRAY_LEN(sim_param_table);

const struct sim_param_desc *sim_param_find(const char *name)
{
    for (size_t i = 0; i < sim_param_count; i++)
        if (strcmp(sim_param_table[i].name, name) == 0)
            return &sim_param_table[i];
    return NULL;
}

static bool parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (*s == '-' || *s == '\0')
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (*end != '\0' || errno != 0)
        return false;
    *out = v;
    return true;
}

bool sim_param_set(struct sim_params *p, const char *name, const char *value, const char **why)
{
    const struct sim_param_desc *d = sim_param_find(name);
    const char *w = NULL;
    char *field = (char *)p + (d ? d->offset : 0);
    uint64_t u;
    double v;
    if (d == NULL) {
        w = "unknown parameter";
    } else if (d->type == SP_U32 || d->type == SP_U64) {
        /* early_stop is stored as int but parsed as a number like the rest. */
        if (!parse_u64(value, &u) || (d->type == SP_U32 && u > UINT32_MAX))
            w = "not a non-negative integer in range";
        else if (strcmp(d->name, "early_stop") == 0)
            *(int *)(void *)field = u != 0;
        else if (d->type == SP_U32)
            *(uint32_t *)(void *)field = (uint32_t)u;
        else
            *(uint64_t *)(void *)field = u;
    } else if (d->type == SP_DOUBLE) {
        if (!parse_double(value, &v))
            w = "not a number";
        else
            *(double *)(void *)field = v;
    } else if (d->type == SP_ENUM) {
        int k;
        enum mixq_strategy st;
        for (k = 0; d->enums[k] != NULL; k++)
            if (strcmp(d->enums[k], value) == 0)
                break;
        /* Strategies also accept lib/mixq's aliases ("pool", "timed"). */
        if (d->enums[k] == NULL && d->enums == strat_names && mixq_strategy_parse(value, &st))
            k = (int)st;
        if (d->enums[k] == NULL)
            w = "not one of the allowed names";
        else
            *(int *)(void *)field = k;
    } else {
        /* Clear the whole field so equal settings give equal structs. */
        if (strlen(value) >= SIM_LIST_LEN) {
            w = "list too long";
        } else if (value[strspn(value, "0123456789.,eE+-")] != '\0') {
            /* Only numbers and commas: the text goes verbatim into CSV/JSON. */
            w = "a list holds only numbers and commas";
        } else {
            memset(field, 0, SIM_LIST_LEN);
            memcpy(field, value, strlen(value));
        }
    }
    if (why != NULL)
        *why = w;
    return w == NULL;
}

void sim_param_format(const struct sim_params *p, const struct sim_param_desc *d, char *buf,
                      size_t len)
{
    const char *field = (const char *)p + d->offset;
    switch (d->type) {
    case SP_U32:
        if (strcmp(d->name, "early_stop") == 0)
            snprintf(buf, len, "%d", *(const int *)(const void *)field);
        else
            snprintf(buf, len, "%u", *(const uint32_t *)(const void *)field);
        break;
    case SP_U64:
        snprintf(buf, len, "%llu", (unsigned long long)*(const uint64_t *)(const void *)field);
        break;
    case SP_DOUBLE: {
        double v = *(const double *)(const void *)field;
        /* Shortest of %.15g / %.17g that reads back exactly. */
        snprintf(buf, len, "%.15g", v);
        if (strtod(buf, NULL) != v)
            snprintf(buf, len, "%.17g", v);
        break;
    }
    case SP_ENUM: snprintf(buf, len, "%s", d->enums[*(const int *)(const void *)field]); break;
    case SP_LIST: snprintf(buf, len, "%s", field); break;
    }
}

void sim_params_default(struct sim_params *p)
{
    memset(p, 0, sizeof *p);
    for (size_t i = 0; i < sim_param_count; i++) {
        bool ok = sim_param_set(p, sim_param_table[i].name, sim_param_table[i].def, NULL);
        (void)ok; /* the table's own defaults always parse (test_sim_params checks) */
    }
}

void sim_params_no_cover(struct sim_params *p)
{
    p->rate_payload = 0;
    p->rate_loop = 0;
    p->rate_drop = 0;
    p->rate_mix_loop = 0;
    p->max_delay = 0;
}

void sim_params_mixim(struct sim_params *p)
{
    sim_params_default(p);
    sim_params_no_cover(p);
    p->layers = 3;
    p->width = 10;
    p->clients = 50;
    p->rate_real = 100;
    p->e2e = 1;
    p->link_delay = 0.05;
}

/*
 * The [network] section has the authorities' names and units (lambda_p,
 * "50ms", ...): sys/netconf.c reads it, the same parser mixdir uses, and
 * the keys present in the file are copied into p.  Other [network] keys
 * are mixsim parameters (width, link_delay, topology, ...) or the
 * authorities' own (authority lines, signature threshold, epoch schedule),
 * which a simulation does not need.
 */
/* layer_delays: one value >= 0 per layer (tmp: scratch of SIM_MAX_WIDTH). */
static bool layer_delays_ok(const char *list, uint32_t layers, double *tmp)
{
    int n = sim_parse_list(list, tmp, SIM_MAX_WIDTH);
    if (n < 0 || (uint32_t)n != layers || layers > SIM_MAX_LAYERS)
        return false;
    for (int i = 0; i < n; i++)
        if (!(tmp[i] >= 0))
            return false;
    return true;
}

static bool load_network(struct sim_params *p, const char *path, FILE *err)
{
    char e[256];
    struct conf *cf = conf_load(path, e, sizeof e);
    if (cf == NULL) {
        fprintf(err, "mixsim: %s\n", e);
        return false;
    }
    struct pki_params np;
    bool ok = netconf_read(cf, NULL, &np, e, sizeof e) == 0;
    if (!ok) {
        fprintf(err, "mixsim: %s: %s\n", path, e);
        conf_free(cf);
        return false;
    }
#define HAS(key) (conf_get_str(cf, NETCONF_SECTION, key, NULL) != NULL)
    if (HAS("layers"))
        p->layers = np.layers;
    if (HAS("mean_delay"))
        p->mean_delay = (double)np.mean_delay_us / 1e6;
    if (HAS("max_delay"))
        p->max_delay = (double)np.max_delay_us / 1e6;
    if (HAS("lambda_p"))
        p->rate_payload = (double)np.lambda_p_mhz / 1000.0;
    if (HAS("lambda_l"))
        p->rate_loop = (double)np.lambda_l_mhz / 1000.0;
    if (HAS("lambda_d"))
        p->rate_drop = (double)np.lambda_d_mhz / 1000.0;
    if (HAS("lambda_m"))
        p->rate_mix_loop = (double)np.lambda_m_mhz / 1000.0;
    if (HAS("strategy"))
        p->strategy = np.strategy == PKI_STRATEGY_TIMED_POOL  ? MIXQ_TIMED_POOL
                      : np.strategy == PKI_STRATEGY_THRESHOLD ? MIXQ_THRESHOLD
                                                              : MIXQ_POISSON;
    if (HAS("pool_interval"))
        p->period = (double)np.pool_interval_us / 1e6;
    if (HAS("pool_keep"))
        p->pool_keep = np.pool_keep;
    if (HAS("threshold_n"))
        p->threshold = np.threshold_n;
#undef HAS
    conf_free(cf);
    return true;
}

/* Sections of an authority's configuration that say nothing about mixing. */
static bool authority_section(const char *section)
{
    return strcmp(section, "mixdir") == 0 || strcmp(section, "registration") == 0 ||
           strcmp(section, "limits") == 0;
}

struct ini_ctx {
    struct sim_params *p;
    FILE *err;
    const char *path;
    bool ok;
};

static int ini_cb(void *user, const char *section, const char *name, const char *value)
{
    struct ini_ctx *c = user;
    const char *why;
    if (authority_section(section))
        return 1;
    if (strcmp(section, NETCONF_SECTION) == 0 &&
        (netconf_is_param_key(name) || netconf_is_authority_key(name)))
        return 1; /* read by load_network, or the authorities' own */
    if (!sim_param_set(c->p, name, value, &why)) {
        fprintf(c->err, "mixsim: %s: [%s] %s = %s: %s\n", c->path, section, name, value, why);
        c->ok = false;
    }
    return 1;
}

bool sim_params_load_ini(struct sim_params *p, const char *path, FILE *err)
{
    struct ini_ctx c = { p, err, path, true };
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(err, "mixsim: cannot open %s: %s\n", path, strerror(errno));
        return false;
    }
    int rc = ini_parse_file(f, ini_cb, &c);
    fclose(f);
    if (rc > 0) {
        fprintf(err, "mixsim: %s:%d: syntax error\n", path, rc);
        return false;
    }
    return c.ok && load_network(p, path, err);
}

int sim_parse_list(const char *s, double *out, int max)
{
    int n = 0;
    char buf[64];
    while (*s != '\0') {
        size_t k = strcspn(s, ",");
        if (k == 0 || k >= sizeof buf || n >= max)
            return -1;
        memcpy(buf, s, k);
        buf[k] = '\0';
        if (!parse_double(buf, &out[n]))
            return -1;
        n++;
        s += k;
        if (*s == ',')
            s++;
    }
    return n;
}

bool sim_params_check(const struct sim_params *p, const char **why)
{
    static double tmp[SIM_MAX_WIDTH];
    const char *w = NULL;
    uint32_t mixes = p->layers * p->width;
    if (p->topology != SIM_TOPO_SINGLE && (p->layers == 0 || p->layers > SIM_MAX_LAYERS))
        w = "layers must be 1..64";
    else if (p->topology != SIM_TOPO_SINGLE && (p->width == 0 || p->width > SIM_MAX_WIDTH))
        w = "width must be 1..4096";
    else if (p->clients < 1)
        w = "need at least one client";
    else if (p->link_delay < 0 || p->link_delay_max < 0 || p->mean_delay < 0 || p->max_delay < 0)
        w = "delays must be >= 0";
    else if (p->rate_real < 0 || p->rate_payload < 0 || p->rate_loop < 0 || p->rate_drop < 0 ||
             p->rate_mix_loop < 0)
        w = "rates must be >= 0";
    else if (p->rate_real + p->rate_payload <= 0)
        w = "clients send nothing: set rate_real or rate_payload";
    else if (p->strategy == MIXQ_TIMED_POOL && p->period <= 0)
        w = "timed_pool needs period > 0";
    else if (p->strategy == MIXQ_THRESHOLD && p->threshold < 1)
        w = "threshold must be >= 1";
    else if (p->strategy == MIXQ_POISSON && p->e2e > 0 && p->e2e <= (p->layers + 1) * p->link_delay)
        w = "e2e must exceed (layers + 1) * link_delay";
    else if (p->duration <= 0 || p->duration > 1e7)
        w = "duration must be in (0, 1e7] s";
    else if (p->repeat < 1 || p->repeat > 10000)
        w = "repeat must be 1..10000";
    else if (!(p->prune >= 0 && p->prune < 1e-3))
        w = "prune must be in [0, 1e-3)";
    else if (p->topology != SIM_TOPO_SINGLE && p->corrupt > mixes)
        w = "more corrupt mixes than mixes";
    else if (p->routing == SIM_ROUTE_WEIGHTED &&
             sim_parse_list(p->weights, tmp, SIM_MAX_WIDTH) != (int)p->width)
        w = "weighted routing needs exactly width comma-separated weights";
    else if (p->corrupt_ids[0] != '\0' && sim_parse_list(p->corrupt_ids, tmp, SIM_MAX_WIDTH) < 0)
        w = "corrupt_ids must be a comma-separated list of mix ids";
    else if (p->layer_delays[0] != '\0' && !layer_delays_ok(p->layer_delays, p->layers, tmp))
        w = "layer_delays must be one delay >= 0 per layer, comma separated";
    if (why != NULL)
        *why = w;
    return w == NULL;
}
