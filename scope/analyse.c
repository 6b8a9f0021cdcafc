/*
 * Endpoint identities and the streaming accumulators behind every mixscope
 * report.  See analyse.h and docs/mixscope.md.
 */
#include "analyse.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "keyfile.h"
#include "pki.h"

#define PAIR_SLOTS (2 * SCOPE_MAX_PAIRS)

const char *const scope_kind_names[6] = {
    "client->gateway", "gateway->client", "gateway->mix", "mix->mix", "mix->gateway", "authority",
};

static uint64_t on_conn(void *ctx, uint64_t id, int64_t t, const struct cap_ep *init,
                        const struct cap_ep *resp, bool syn);
static void on_msg(void *ctx, const struct cap_msg *m);
static void align_msg(void *ctx, const struct cap_msg *m);
static bool is_listener(void *ctx, const struct cap_ep *ep);

struct scope *scope_new(void)
{
    struct scope *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->ents = calloc(SCOPE_MAX_ENTS, sizeof(*s->ents));
    s->peers = calloc(SCOPE_MAX_PEERS, sizeof(*s->peers));
    s->pairs = calloc(PAIR_SLOTS, sizeof(*s->pairs));
    struct cap_hooks h = {
        .on_msg = on_msg, .on_conn = on_conn, .is_listener = is_listener, .ctx = s
    };
    s->cap = cap_new(&h);
    if (s->ents == NULL || s->peers == NULL || s->pairs == NULL || s->cap == NULL) {
        scope_free(s);
        return NULL;
    }
    return s;
}

static void series_free(struct scope_series *x)
{
    if (x == NULL)
        return;
    rsv_free(&x->all);
    rsv_free(&x->w[0]);
    rsv_free(&x->w[1]);
    free(x);
}

void scope_free(struct scope *s)
{
    if (s == NULL)
        return;
    if (s->ents != NULL)
        for (size_t i = 0; i < s->n_ents; i++) {
            series_free(s->ents[i].gaps);
            series_free(s->ents[i].resp);
            free(s->ents[i].lag_hist);
            free(s->ents[i].ring);
        }
    cap_free(s->cap);
    cap_free(s->align_cap);
    free(s->votes);
    free(s->cands);
    entropy_free(s->entropy);
    truth_free(&s->truth);
    free(s->conns);
    free(s->ents);
    free(s->peers);
    free(s->pairs);
    free(s);
}

/* ------------------------------------------------------------ entities */

static struct scope_ent *ent_add(struct scope *s, const char *name, enum scope_kind kind,
                                 uint32_t layer)
{
    if (s->n_ents == SCOPE_MAX_ENTS) {
        s->ents_dropped++;
        return NULL;
    }
    struct scope_ent *e = &s->ents[s->n_ents++];
    memset(e, 0, sizeof(*e));
    snprintf(e->name, sizeof(e->name), "%s", name);
    e->kind = kind;
    e->layer = layer;
    e->mix_idx = kind == ENT_MIX ? s->n_mix++ : -1;
    e->gw_idx = kind == ENT_GATEWAY ? s->n_gw++ : -1;
    return e;
}

static struct scope_ent *ent_by_name(struct scope *s, const char *name)
{
    for (size_t i = 0; i < s->n_ents; i++)
        if (strcmp(s->ents[i].name, name) == 0)
            return &s->ents[i];
    return NULL;
}

static struct scope_ent *ent_listening(struct scope *s, const struct cap_ep *ep)
{
    for (size_t i = 0; i < s->n_ents; i++)
        if (s->ents[i].listens && cap_ep_equal(&s->ents[i].listen, ep))
            return &s->ents[i];
    return NULL;
}

static bool is_listener(void *ctx, const struct cap_ep *ep)
{
    return ent_listening(ctx, ep) != NULL;
}

const char *scope_ent_kind(const struct scope_ent *e)
{
    static const char *const n[] = { "client", "gateway", "mix", "authority", "unidentified" };
    return n[e->kind];
}

int scope_load_doc(struct scope *s, const char *path, char *err, size_t errlen)
{
    int rc = -1;
    uint8_t *buf = NULL;
    struct pki_sig *sigs = NULL;
    struct pki_doc *doc = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 2 * PKI_MAX_DOCUMENT_LEN;
    buf = malloc(cap);
    size_t n = buf ? fread(buf, 1, cap, f) : 0;
    fclose(f);
    const uint8_t *db;
    size_t dl, ns;
    enum pki_err pe;
    if (buf == NULL || n == 0 || n == cap) {
        snprintf(err, errlen, "%s: empty, unreadable or too large", path);
        goto out;
    }
    pe = pki_signed_doc_parse(buf, n, &db, &dl, &sigs, &ns);
    if (pe == PKI_OK)
        pe = pki_doc_decode(db, dl, &doc);
    if (pe != PKI_OK) {
        snprintf(err, errlen, "%s: not a signed directory document: %s", path, pki_strerror(pe));
        goto out;
    }
    const struct pki_params *p = pki_doc_params(doc);
    s->mean_delay_ms = (double)p->mean_delay_us / 1000.0;
    s->layers = p->layers;
    s->epoch = p->epoch;
    for (size_t i = 0; i < pki_doc_node_count(doc); i++) {
        const struct pki_descriptor *d = pki_doc_node(doc, i);
        char name[64];
        bool gw = (d->roles & (PKI_ROLE_GATEWAY | PKI_ROLE_PROVIDER)) != 0;
        if (gw)
            snprintf(name, sizeof(name), "gw-%02x%02x%02x%02x", d->id[0], d->id[1], d->id[2],
                     d->id[3]);
        else
            snprintf(name, sizeof(name), "mix%u-%02x%02x%02x%02x", d->layer, d->id[0], d->id[1],
                     d->id[2], d->id[3]);
        struct cap_ep ep;
        if (!cap_ep_parse(d->address, &ep)) {
            snprintf(err, errlen, "%s: node address %s is not a numeric IP:port", path, d->address);
            goto out;
        }
        struct scope_ent *e = ent_add(s, name, gw ? ENT_GATEWAY : ENT_MIX, gw ? 0 : d->layer);
        if (e == NULL)
            break;
        e->listens = true;
        e->listen = ep;
        char id[KEY_B64_MAX];
        key_to_b64(d->id, PKI_KEY_LEN, id);
        snprintf(e->id, sizeof(e->id), "%s", id);
    }
    rc = 0;
out:
    pki_doc_free(doc);
    free(sigs);
    free(buf);
    return rc;
}

static struct scope_ent *node_by_id(struct scope *s, const char *id)
{
    for (size_t i = 0; i < s->n_ents; i++) {
        struct scope_ent *e = &s->ents[i];
        if ((e->kind == ENT_MIX || e->kind == ENT_GATEWAY) &&
            ((e->id[0] != 0 && strcmp(e->id, id) == 0) || strcmp(e->name, id) == 0))
            return e;
    }
    return NULL;
}

int scope_set_corrupt(struct scope *s, const char *id)
{
    struct scope_ent *e = node_by_id(s, id);
    if (e == NULL || e->kind != ENT_MIX)
        return -1;
    e->corrupt = true;
    return 0;
}

int scope_set_node_delay(struct scope *s, const char *id, double mean_delay_ms)
{
    struct scope_ent *e = node_by_id(s, id);
    if (e == NULL || e->kind != ENT_MIX || !(mean_delay_ms > 0))
        return -1;
    e->own_delay_ms = mean_delay_ms;
    return 0;
}

int scope_load_truth(struct scope *s, const char *path, char *err, size_t errlen)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    char why[160];
    enum fileio_err fe = fileio_read_file(path, (size_t)1 << 30, &buf, &len);
    if (fe != FILEIO_OK) {
        snprintf(err, errlen, "%s: %s", path,
                 fe == FILEIO_ERR_OPEN ? strerror(errno) : "unreadable or too large");
        free(buf);
        return -1;
    }
    bool ok = truth_parse(&s->truth, (const char *)buf, len, why, sizeof(why));
    free(buf);
    if (!ok) {
        snprintf(err, errlen, "%s: %s", path, why);
        return -1;
    }
    if (s->conns == NULL && (s->conns = calloc(SCOPE_MAX_CONNS, sizeof(*s->conns))) == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    s->have_truth = true;
    return 0;
}

/* The frame counter of a client connection (NULL if the table is full or it is unknown). */
static struct scope_conn *conn_slot(struct scope *s, uint64_t conn_id, bool add)
{
    uint32_t h = (uint32_t)((conn_id * 0x9e3779b97f4a7c15ull) >> 40) % SCOPE_MAX_CONNS;
    for (uint32_t k = 0; k < SCOPE_MAX_CONNS; k++) {
        struct scope_conn *c = &s->conns[(h + k) % SCOPE_MAX_CONNS];
        if (c->id == conn_id + 1)
            return c;
        if (c->id == 0) {
            if (!add)
                return NULL;
            c->id = conn_id + 1;
            return c;
        }
    }
    if (add)
        s->conns_dropped++;
    return NULL;
}

int scope_add_node(struct scope *s, const char *name, enum scope_kind kind, uint32_t layer,
                   const char *hostport)
{
    struct cap_ep ep;
    if ((kind != ENT_GATEWAY && kind != ENT_MIX) || !cap_ep_parse(hostport, &ep) ||
        ent_listening(s, &ep) != NULL)
        return -1;
    struct scope_ent *e = ent_add(s, name, kind, kind == ENT_MIX ? layer : 0);
    if (e == NULL)
        return -1;
    e->listens = true;
    e->listen = ep;
    if (kind == ENT_MIX && layer > s->layers)
        s->layers = layer;
    return 0;
}

int scope_add_authority(struct scope *s, const char *hostport)
{
    struct cap_ep ep;
    if (!cap_ep_parse(hostport, &ep))
        return -1;
    if (ent_listening(s, &ep) != NULL)
        return 0;
    char name[64];
    size_t k = 0;
    for (size_t i = 0; i < s->n_ents; i++)
        k += s->ents[i].kind == ENT_AUTH;
    snprintf(name, sizeof(name), "auth%zu", k + 1);
    struct scope_ent *e = ent_add(s, name, ENT_AUTH, 0);
    if (e == NULL)
        return -1;
    e->listens = true;
    e->listen = ep;
    return 0;
}

int scope_load_authorities(struct scope *s, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[1024];
    int found = 0;
    while (fgets(line, sizeof(line), f)) {
        char key[32], val[300];
        if (sscanf(line, " %31[a-z_] = %299s", key, val) == 2 && strcmp(key, "authority") == 0 &&
            scope_add_authority(s, val) == 0)
            found++;
    }
    fclose(f);
    if (found == 0) {
        snprintf(err, errlen, "%s: no \"authority = HOST:PORT ...\" line", path);
        return -1;
    }
    return 0;
}

int scope_load_peers(struct scope *s, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[512];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        char a[300], name[64];
        if (line[0] == '#' || sscanf(line, "%299s %63s", a, name) != 2)
            continue;
        struct cap_ep ep;
        if (!cap_ep_parse(a, &ep)) {
            snprintf(err, errlen, "%s:%d: %s is not IP:PORT", path, lineno, a);
            rc = -1;
            break;
        }
        struct scope_ent *l = ent_listening(s, &ep);
        if (l != NULL) { /* a listener's own address: give it this name */
            snprintf(l->name, sizeof(l->name), "%s", name);
            continue;
        }
        struct scope_ent *e = ent_by_name(s, name);
        if (e == NULL)
            e = ent_add(s, name, ENT_CLIENT, 0);
        if (e == NULL || s->n_peers == SCOPE_MAX_PEERS)
            continue;
        s->peers[s->n_peers].ep = ep;
        s->peers[s->n_peers++].ent = (uint32_t)(e - s->ents);
    }
    fclose(f);
    return rc;
}

/* Who opened a connection: a named peer, the only listener on that IP, or a client by IP. */
static struct scope_ent *initiator(struct scope *s, const struct cap_ep *ep)
{
    for (size_t i = 0; i < s->n_peers; i++)
        if (cap_ep_equal(&s->peers[i].ep, ep) ||
            (s->peers[i].ep.port == 0 && cap_ip_equal(&s->peers[i].ep, ep)))
            return &s->ents[s->peers[i].ent];
    struct scope_ent *same = NULL;
    size_t n_same = 0;
    for (size_t i = 0; i < s->n_ents; i++)
        if (s->ents[i].listens && cap_ip_equal(&s->ents[i].listen, ep)) {
            same = &s->ents[i];
            n_same++;
        }
    char ip[80], name[96];
    cap_ep_format(ep, ip, sizeof(ip));
    *strrchr(ip, ':') = 0;
    if (n_same == 1)
        return same;
    snprintf(name, sizeof(name), n_same > 1 ? "unidentified@%s" : "%s", ip);
    struct scope_ent *e = ent_by_name(s, name);
    if (e == NULL)
        e = ent_add(s, name, n_same > 1 ? ENT_UNKNOWN : ENT_CLIENT, 0);
    return e;
}

static uint64_t on_conn(void *ctx, uint64_t id, int64_t t, const struct cap_ep *init,
                        const struct cap_ep *resp, bool syn)
{
    struct scope *s = ctx;
    (void)t;
    struct scope_ent *r = ent_listening(s, resp);
    struct scope_ent *i = initiator(s, init);
    if (r == NULL || i == NULL)
        return UINT64_MAX;
    if (s->have_truth && r->kind == ENT_GATEWAY && i->kind != ENT_MIX && i->kind != ENT_GATEWAY) {
        /* The first pass numbered connections as this one does: an aligned slot is kept. */
        struct scope_conn *c = conn_slot(s, id, true);
        if (c != NULL && !c->aligned)
            *c = (struct scope_conn){ .id = id + 1, .counting = syn };
        if (c != NULL && !s->aligning && !syn)
            s->conns_midstream++;
    }
    if (r->kind == ENT_AUTH && !s->aligning)
        i->auth_conns++;
    return (uint64_t)(i - s->ents) | (uint64_t)(r - s->ents) << 32;
}

/* ------------------------------------------------------------ accumulators */

static void sizes_add(struct scope_sizes *z, uint32_t size)
{
    for (int i = 0; i < SCOPE_MAX_SIZES; i++) {
        if (z->count[i] != 0 && z->size[i] == size) {
            z->count[i]++;
            return;
        }
        if (z->count[i] == 0) {
            z->size[i] = size;
            z->count[i] = 1;
            return;
        }
    }
    z->other++;
}

static int window_of(const struct scope *s, int64_t t, int w)
{
    int64_t rel = t - s->t_first;
    return s->win[w].t1 > s->win[w].t0 && rel >= s->win[w].t0 && rel < s->win[w].t1;
}

static struct scope_series *series_new(void)
{
    struct scope_series *x = calloc(1, sizeof(*x));
    if (x == NULL)
        return NULL;
    if (rsv_init(&x->all, SCOPE_RSV, 1) || rsv_init(&x->w[0], SCOPE_RSV, 2) ||
        rsv_init(&x->w[1], SCOPE_RSV, 3)) {
        series_free(x);
        return NULL;
    }
    return x;
}

static void series_add(const struct scope *s, struct scope_series *x, int64_t t, double v)
{
    if (x == NULL)
        return;
    rsv_add(&x->all, v);
    for (int w = 0; w < 2; w++)
        if (window_of(s, t, w))
            rsv_add(&x->w[w], v);
}

static int kind_index(const struct scope_ent *a, const struct scope_ent *b)
{
    if (a->kind == ENT_AUTH || b->kind == ENT_AUTH)
        return KIND_AUTH;
    if (a->kind == ENT_CLIENT && b->kind == ENT_GATEWAY)
        return KIND_CLIENT_GW;
    if (a->kind == ENT_GATEWAY && b->kind == ENT_CLIENT)
        return KIND_GW_CLIENT;
    if (a->kind == ENT_GATEWAY && b->kind == ENT_MIX)
        return KIND_GW_MIX;
    if (a->kind == ENT_MIX && b->kind == ENT_MIX)
        return KIND_MIX_MIX;
    if (a->kind == ENT_MIX && b->kind == ENT_GATEWAY)
        return KIND_MIX_GW;
    return -1;
}

static void class_add(struct scope *s, const struct scope_ent *a, const struct scope_ent *b,
                      bool reverse)
{
    if (a->kind == ENT_AUTH || b->kind == ENT_AUTH)
        return;
    for (size_t i = 0; i < s->n_classes; i++) {
        struct scope_class *c = &s->classes[i];
        if (c->sk == a->kind && c->dk == b->kind && c->sl == a->layer && c->dl == b->layer &&
            c->reverse == reverse) {
            c->msgs++;
            return;
        }
    }
    if (s->n_classes == SCOPE_MAX_CLASSES)
        return;
    s->classes[s->n_classes++] =
        (struct scope_class){ a->kind, b->kind, a->layer, b->layer, reverse, 1 };
}

static void pair_add(struct scope *s, uint32_t a, uint32_t b, bool reverse, int64_t t)
{
    uint32_t h = (a * 2654435761u ^ b * 40503u ^ (uint32_t)reverse) % PAIR_SLOTS;
    for (uint32_t k = 0; k < PAIR_SLOTS; k++) {
        struct scope_pair *p = &s->pairs[(h + k) % PAIR_SLOTS];
        if (p->msgs == 0) {
            if (s->n_pairs == SCOPE_MAX_PAIRS) {
                s->pairs_dropped++;
                return;
            }
            s->n_pairs++;
            *p = (struct scope_pair){ .src = a, .dst = b, .reverse = reverse };
        } else if (p->src != a || p->dst != b || p->reverse != reverse) {
            continue;
        }
        p->msgs++;
        for (int w = 0; w < 2; w++)
            p->w[w] += (uint64_t)window_of(s, t, w);
        return;
    }
}

static int64_t lag_window(const struct scope *s)
{
    int64_t w = s->mean_delay_ms > 0 ? (int64_t)(s->mean_delay_ms * 1e7) : 1000000000LL;
    return w > 2000000000LL ? 2000000000LL : w;
}

static void mix_input(struct scope_ent *e, int64_t t)
{
    e->in++;
    if (e->ring == NULL && (e->ring = calloc(SCOPE_RING, sizeof(int64_t))) == NULL)
        return;
    e->ring[e->ring_pos] = t;
    e->ring_pos = (e->ring_pos + 1) % SCOPE_RING;
    if (e->ring_n < SCOPE_RING)
        e->ring_n++;
}

static void mix_output(struct scope *s, struct scope_ent *e, int64_t t)
{
    e->out++;
    if (e->ring == NULL)
        return;
    if (e->lag_hist == NULL && (e->lag_hist = calloc(SCOPE_LAG_BINS, sizeof(uint64_t))) == NULL)
        return;
    int64_t w = lag_window(s);
    for (uint32_t k = 0; k < e->ring_n; k++) {
        int64_t in = e->ring[(e->ring_pos + SCOPE_RING - 1 - k) % SCOPE_RING];
        int64_t lag = t - in;
        if (lag >= w)
            break;
        if (lag >= 0)
            e->lag_hist[lag * SCOPE_LAG_BINS / w]++;
    }
}

double scope_mix_delay(const struct scope *s, const struct scope_ent *e, double *p50)
{
    *p50 = NAN;
    double T = (double)(s->t_last - s->t_first);
    if (e->in == 0 || e->lag_hist == NULL || T <= 0)
        return NAN;
    double w = (double)lag_window(s), bin = w / SCOPE_LAG_BINS;
    double chance = (double)e->in * ((double)e->out / T) * bin; /* pairs per bin if independent */
    double F = 0, mean = 0;
    for (int b = 0; b < SCOPE_LAG_BINS; b++) {
        F += ((double)e->lag_hist[b] - chance) / (double)e->in;
        double Fc = F < 0 ? 0 : F > 1 ? 1 : F;
        if (isnan(*p50) && Fc >= 0.5)
            *p50 = (b + 1) * bin / 1e6;
        mean += (1 - Fc) * bin;
    }
    return mean / 1e6;
}

static void client_msg(struct scope *s, struct scope_ent *c, bool up, const struct cap_msg *m)
{
    int64_t t = m->t_ns;
    if (up) {
        c->up++;
        for (int w = 0; w < 2; w++)
            c->w_up[w] += (uint64_t)window_of(s, t, w);
        sizes_add(&c->up_sizes, m->size);
        if (c->gaps == NULL) {
            c->gaps = series_new();
            c->resp = series_new();
        }
        if (c->last_up != 0 && t >= c->last_up)
            series_add(s, c->gaps, t, (double)(t - c->last_up) / 1e6);
        if (c->down_since_up && t >= c->last_down)
            series_add(s, c->resp, t, (double)(t - c->last_down) / 1e6);
        c->down_since_up = false;
        c->last_up = t;
    } else {
        c->down++;
        sizes_add(&c->down_sizes, m->size);
        c->last_down = t;
        c->down_since_up = true;
    }
}

static void gateway_msg(struct scope *s, struct scope_ent *src, struct scope_ent *dst, int64_t t)
{
    if (src->kind == ENT_MIX && dst->kind == ENT_GATEWAY && src->layer == s->layers) {
        dst->last_from_exit = t;
        dst->gw_in_exit[0]++;
        for (int w = 0; w < 2; w++)
            dst->gw_in_exit[1 + w] += (uint64_t)window_of(s, t, w);
    }
    if (src->kind == ENT_GATEWAY && dst->kind == ENT_MIX && dst->layer == 1) {
        bool close = src->last_from_exit != 0 && t - src->last_from_exit < SCOPE_CLOSE_NS &&
                     t >= src->last_from_exit;
        for (int w = -1; w < 2; w++) {
            if (w >= 0 && !window_of(s, t, w))
                continue;
            src->gw_out_l1[1 + w]++;
            src->gw_close[1 + w] += close;
        }
    }
}

/* The entropy tracker, made at the first message, when every node is known. */
static struct entropy *tracker(struct scope *s)
{
    if (s->entropy != NULL || s->entropy_failed)
        return s->entropy;
    s->entropy = entropy_new((uint32_t)s->n_mix, (uint32_t)s->n_gw, 1000000000LL,
                             (int64_t)(s->mean_delay_ms * 1e6));
    if (s->entropy == NULL) {
        s->entropy_failed = true;
        return NULL;
    }
    for (size_t i = 0; i < s->n_ents; i++) {
        const struct scope_ent *e = &s->ents[i];
        if (e->mix_idx < 0)
            continue;
        if (e->corrupt)
            entropy_set_corrupt(s->entropy, (uint32_t)e->mix_idx);
        if (e->own_delay_ms > 0)
            entropy_set_node_delay(s->entropy, (uint32_t)e->mix_idx,
                                   (int64_t)(e->own_delay_ms * 1e6));
    }
    entropy_set_truth(s->entropy, s->have_truth);
    return s->entropy;
}

static void entropy_event(struct scope *s, const struct cap_msg *m, int k,
                          const struct scope_ent *src, const struct scope_ent *dst)
{
    struct entropy *e = tracker(s);
    if (e == NULL)
        return;
    entropy_set_mean_delay(e, (int64_t)(s->mean_delay_ms * 1e6));
    unsigned win = (unsigned)window_of(s, m->t_ns, 0) | (unsigned)window_of(s, m->t_ns, 1) << 1;
    if (k == KIND_CLIENT_GW && s->have_truth && m->from_initiator) {
        /* A client's transport frame: a target if the ground truth names it. */
        struct scope_conn *c = conn_slot(s, m->conn_id, false);
        if (c == NULL || !c->counting) {
            s->truth_uncounted++;
            return;
        }
        uint32_t frame = c->frames++;
        struct truth_ent *te = truth_find(&s->truth, m->init, frame);
        if (te != NULL && !te->matched) {
            te->matched = true;
            s->truth_matched++;
            entropy_client_real(e, (uint32_t)dst->gw_idx, m->t_ns, win);
        }
        return;
    }
    if (k == KIND_CLIENT_GW || k == KIND_GW_CLIENT)
        return;
    /* Targets start on a gateway's message to layer 1; a mix's message to a gateway is out. */
    entropy_msg(e, src->mix_idx, dst->kind == ENT_MIX && dst->layer == 1 ? src->gw_idx : -1,
                dst->mix_idx, src->kind == ENT_MIX ? dst->gw_idx : -1, m->t_ns, win);
}

static void on_msg(void *ctx, const struct cap_msg *m)
{
    struct scope *s = ctx;
    if (m->cookie == UINT64_MAX)
        return;
    uint32_t ii = (uint32_t)m->cookie, ri = (uint32_t)(m->cookie >> 32);
    uint32_t si = m->from_initiator ? ii : ri, di = m->from_initiator ? ri : ii;
    struct scope_ent *src = &s->ents[si], *dst = &s->ents[di];
    int k = kind_index(src, dst);
    if (m->handshake) {
        s->handshake_msgs++;
        if (k >= 0)
            s->kinds[k].handshakes++;
        return;
    }
    s->transport_msgs++;
    if (k >= 0) {
        s->kinds[k].msgs++;
        s->kinds[k].bytes += m->size;
        sizes_add(&s->kinds[k].sizes, m->size);
        for (int w = 0; w < 2; w++)
            if (window_of(s, m->t_ns, w)) {
                s->kinds[k].w_msgs[w]++;
                sizes_add(&s->kinds[k].w_sizes[w], m->size);
            }
    }
    class_add(s, src, dst, !m->from_initiator);
    pair_add(s, si, di, !m->from_initiator, m->t_ns);
    if (k == KIND_CLIENT_GW)
        client_msg(s, src, true, m);
    else if (k == KIND_GW_CLIENT)
        client_msg(s, dst, false, m);
    if (k == KIND_AUTH || k < 0)
        return;
    entropy_event(s, m, k, src, dst);
    if (dst->kind == ENT_MIX)
        mix_input(dst, m->t_ns);
    if (src->kind == ENT_MIX)
        mix_output(s, src, m->t_ns);
    gateway_msg(s, src, dst, m->t_ns);
}

/* ------------------------------------------------------------ truth alignment */

static void vote(struct scope_votes *v, uint32_t k, uint32_t size)
{
    for (int i = 0; i < SCOPE_ALIGN_CANDS; i++) {
        if (v->n[i] != 0 && v->k[i] == k && v->size[i] == size) {
            v->n[i]++;
            return;
        }
        if (v->n[i] == 0) {
            v->k[i] = k;
            v->size[i] = size;
            v->n[i] = 1;
            return;
        }
    }
    v->other++;
}

/* First pass: a client's message on a connection seen mid-stream becomes the candidate of the
   truth entries of its endpoint whose time it is nearest (see scope_align_finish). */
static void align_msg(void *ctx, const struct cap_msg *m)
{
    struct scope *s = ctx;
    if (m->cookie == UINT64_MAX || m->handshake || !m->from_initiator)
        return;
    const struct scope_ent *src = &s->ents[(uint32_t)m->cookie];
    const struct scope_ent *dst = &s->ents[(uint32_t)(m->cookie >> 32)];
    if (kind_index(src, dst) != KIND_CLIENT_GW)
        return;
    sizes_add(&s->align_sizes, m->size);
    struct scope_conn *c = conn_slot(s, m->conn_id, false);
    if (c == NULL || c->counting || c->frames == UINT32_MAX)
        return;
    uint32_t j = c->frames++;
    struct truth_ent *v;
    size_t n = truth_ep_entries(&s->truth, m->init, &v);
    /* Entries are in frame order, which is the order the client sent them: the first whose time
       is late enough (the message at most AFTER_NS after it), then on while it is early enough
       (at most BEFORE_NS before it). */
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].t_ns < m->t_ns - SCOPE_ALIGN_AFTER_NS)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < n && v[i].t_ns <= m->t_ns + SCOPE_ALIGN_BEFORE_NS; i++) {
        if (v[i].t_ns < m->t_ns - SCOPE_ALIGN_AFTER_NS || v[i].frame < j)
            continue; /* out of time order, or an offset below 0: not this connection's */
        struct scope_align_cand *k = &s->cands[&v[i] - s->truth.v];
        uint8_t state = m->t_ns <= v[i].t_ns ? 1 : 2;
        if (k->state == 0 || (state == 1 && (k->state == 2 || m->t_ns > k->t_ns))) {
            /* The first candidate, or a later one before the entry's time: it replaces them. */
            k->state = state;
            k->t_ns = m->t_ns;
            k->conn = (uint32_t)(c - s->conns);
            k->n = 0;
        } else if (k->state != state || m->t_ns != k->t_ns || k->conn != (uint32_t)(c - s->conns) ||
                   k->n == SCOPE_ALIGN_TIES) {
            continue; /* after the first candidate after it, or elsewhere */
        }
        k->j[k->n] = j;
        k->size[k->n] = m->size;
        k->n++;
    }
}

void scope_align_frame(struct scope *s, int dlt, int64_t t_ns, const uint8_t *data, size_t caplen,
                       size_t wirelen)
{
    if (!s->have_truth)
        return;
    if (s->align_cap == NULL) {
        if (s->votes == NULL && (s->votes = calloc(SCOPE_MAX_CONNS, sizeof(*s->votes))) == NULL)
            return;
        if (s->cands == NULL && s->truth.n > 0 &&
            (s->cands = calloc(s->truth.n, sizeof(*s->cands))) == NULL)
            return;
        struct cap_hooks h = {
            .on_msg = align_msg, .on_conn = on_conn, .is_listener = is_listener, .ctx = s
        };
        if ((s->align_cap = cap_new(&h)) == NULL)
            return;
    }
    s->aligning = true;
    cap_frame(s->align_cap, dlt, t_ns, data, caplen, wirelen);
    s->aligning = false;
}

void scope_align_finish(struct scope *s)
{
    if (s->votes == NULL)
        return;
    /* Each entry votes for the offsets of its candidates. */
    for (size_t i = 0; s->cands != NULL && i < s->truth.n; i++) {
        const struct scope_align_cand *k = &s->cands[i];
        for (uint8_t q = 0; q < k->n; q++) {
            vote(&s->votes[k->conn], s->truth.v[i].frame - k->j[q], k->size[q]);
            s->align_votes++;
        }
    }
    free(s->cands);
    s->cands = NULL;
    /* Real packets have the packet size: the most common client message size. */
    uint32_t size = 0;
    uint64_t most = 0;
    for (int i = 0; i < SCOPE_MAX_SIZES; i++)
        if (s->align_sizes.count[i] > most) {
            most = s->align_sizes.count[i];
            size = s->align_sizes.size[i];
        }
    for (size_t i = 0; i < SCOPE_MAX_CONNS; i++) {
        struct scope_conn *c = &s->conns[i];
        const struct scope_votes *v = &s->votes[i];
        if (c->id == 0 || c->counting)
            continue;
        uint32_t best = 0, second = v->other, k = 0, any = v->other;
        for (int j = 0; j < SCOPE_ALIGN_CANDS; j++) {
            any += v->n[j];
            if (v->n[j] == 0 || v->size[j] != size)
                continue;
            if (v->n[j] > best) {
                second = second > best ? second : best;
                best = v->n[j];
                k = v->k[j];
            } else if (v->n[j] > second) {
                second = v->n[j];
            }
        }
        c->frames = 0;
        if (best >= SCOPE_ALIGN_MIN && best >= (uint64_t)SCOPE_ALIGN_RIVAL * second) {
            c->aligned = true;
            c->counting = true;
            c->frames = k;
            s->conns_aligned++;
        } else if (best >= SCOPE_ALIGN_MIN) {
            s->conns_ambiguous++;
        } else if (any > 0) {
            s->conns_unconfirmed++;
        }
    }
    free(s->votes);
    s->votes = NULL;
    cap_free(s->align_cap);
    s->align_cap = NULL;
    s->conns_dropped = 0; /* the second pass counts them again */
}

void scope_frame(struct scope *s, int dlt, int64_t t_ns, const uint8_t *data, size_t caplen,
                 size_t wirelen)
{
    if (!s->have_t) {
        s->have_t = true;
        s->t_first = t_ns;
    }
    if (t_ns > s->t_last)
        s->t_last = t_ns;
    cap_frame(s->cap, dlt, t_ns, data, caplen, wirelen);
}

void scope_finish(struct scope *s)
{
    if (s->entropy != NULL)
        entropy_finish(s->entropy); /* the other figures are computed when reported */
}

void scope_class_name(const struct scope_class *c, char *buf, size_t len)
{
    char a[32], b[32];
    const struct {
        enum scope_kind k;
        uint32_t l;
        char *out;
    } side[2] = { { c->sk, c->sl, a }, { c->dk, c->dl, b } };
    for (int i = 0; i < 2; i++) {
        if (side[i].k == ENT_MIX)
            snprintf(side[i].out, 32, "layer%u", side[i].l);
        else if (side[i].k == ENT_GATEWAY)
            snprintf(side[i].out, 32, "gateway");
        else if (side[i].k == ENT_CLIENT)
            snprintf(side[i].out, 32, "client");
        else if (side[i].k == ENT_AUTH)
            snprintf(side[i].out, 32, "authority");
        else
            snprintf(side[i].out, 32, "unidentified");
    }
    /* Fetch responses flow against the connection (gateway to the client that opened it);
       any other reverse traffic is marked. */
    bool natural = c->sk == ENT_GATEWAY && c->dk == ENT_CLIENT;
    snprintf(buf, len, "%s->%s%s", a, b, c->reverse && !natural ? " (reverse)" : "");
}

bool scope_class_real(const struct scope *s, const struct scope_class *c)
{
    if (c->sk == ENT_UNKNOWN || c->dk == ENT_UNKNOWN)
        return true; /* cannot tell: not flagged */
    if (c->sk == ENT_CLIENT && c->dk == ENT_GATEWAY)
        return !c->reverse;
    if (c->sk == ENT_GATEWAY && c->dk == ENT_CLIENT)
        return c->reverse;
    if (c->reverse)
        return false;
    if (c->sk == ENT_GATEWAY && c->dk == ENT_MIX)
        return c->dl == 1;
    if (c->sk == ENT_MIX && c->dk == ENT_MIX)
        return c->dl == c->sl + 1;
    if (c->sk == ENT_MIX && c->dk == ENT_GATEWAY)
        return s->layers == 0 || c->sl == s->layers;
    return false;
}

double scope_duration_s(const struct scope *s)
{
    return (double)(s->t_last - s->t_first) / 1e9;
}

double scope_window_s(const struct scope *s, int w)
{
    int64_t t0 = s->win[w].t0, t1 = s->win[w].t1, end = s->t_last - s->t_first;
    if (t1 > end)
        t1 = end;
    return t1 > t0 ? (double)(t1 - t0) / 1e9 : 0;
}
