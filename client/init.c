/*
 * `mixclient init`: create the client key, choose a gateway from the
 * verified directory, connect and fetch once (the first fetch creates the
 * inbox at the gateway), and
 * record the gateway in data_dir/gateway (one line, the node id in base64).
 */
#include "client_int.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "keyfile.h"

int mc_read_gateway_file(const struct cconf *c, uint8_t id[32], char *err, size_t errlen)
{
    char path[CCONF_PATH_MAX], line[128];
    cconf_path(c, "gateway", path);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s (run `mixclient init` first, or set client.gateway)", path,
                 strerror(errno));
        return -1;
    }
    bool ok = fgets(line, sizeof(line), f) != NULL;
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    if (!ok || !key_from_b64(line, id, 32)) {
        snprintf(err, errlen, "%s: not a node id", path);
        return -1;
    }
    return 0;
}

static int write_gateway_file(const struct cconf *c, const uint8_t id[32], char *err, size_t errlen)
{
    char path[CCONF_PATH_MAX], text[KEY_B64_MAX + 1], b64[KEY_B64_MAX];
    cconf_path(c, "gateway", path);
    key_to_b64(id, 32, b64);
    int n = snprintf(text, sizeof(text), "%s\n", b64);
    /* fsync'd file, rename, fsync'd directory; the .tmp is removed on failure. */
    if (fileio_write_atomic(path, text, (size_t)n, 0644) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Create data_dir (0700) and client.key if missing; an existing key is kept. */
static int ensure_key(const struct cconf *c, char *err, size_t errlen)
{
    char path[CCONF_PATH_MAX];
    if (mkdir(c->data_dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: %s", c->data_dir, strerror(errno));
        return -1;
    }
    cconf_path(c, "client.key", path);
    if (access(path, F_OK) == 0)
        return 0;
    uint8_t *sk = sodium_malloc(32);
    if (sk == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    randombytes_buf(sk, 32);
    int rc = keyfile_write(path, KEYFILE_X25519_SECRET, sk, false, err, errlen);
    sodium_free(sk);
    return rc;
}

struct init_state {
    struct pki_doc *doc;
    bool up, fetched;
};

static void init_on_doc(struct mixclient *mc, struct pki_doc *doc)
{
    struct init_state *st = mc->hook_ctx;
    pki_doc_free(st->doc);
    st->doc = doc;
    ev_break(mc->loop, EVBREAK_ALL);
}

static void init_on_up(struct mixclient *mc)
{
    struct init_state *st = mc->hook_ctx;
    st->up = true;
}

/* The first fetch creates the inbox (or is refused: the gateway's limits). */
static void init_on_fetched(struct mixclient *mc, bool ok)
{
    struct init_state *st = mc->hook_ctx;
    st->fetched = ok;
    ev_break(mc->loop, EVBREAK_ALL);
}

static void on_init_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)w;
    (void)revents;
    ev_break(loop, EVBREAK_ALL);
}

/* Run the loop until a hook breaks it or the timeout passes. */
static void run_for(struct ev_loop *loop, unsigned timeout_s)
{
    ev_timer t;
    ev_timer_init(&t, on_init_timeout, timeout_s, 0.);
    ev_timer_start(loop, &t);
    ev_run(loop, 0);
    ev_timer_stop(loop, &t);
}

/* Pick a gateway that also holds inboxes (provider role). */
static int choose_gateway(struct mixclient *mc, const struct pki_doc *doc, uint8_t id[32])
{
    size_t n = pki_doc_gateway_count(doc), ok = 0;
    const struct pki_descriptor *cand[PKI_MAX_NODES];
    for (size_t i = 0; i < n && ok < PKI_MAX_NODES; i++) {
        const struct pki_descriptor *d = pki_doc_gateway(doc, i);
        if (d->roles & PKI_ROLE_PROVIDER)
            cand[ok++] = d;
    }
    if (ok == 0)
        return -1;
    memcpy(id, cand[mix_rng_below(&mc->rng, ok)]->id, 32);
    return 0;
}

/* A gateway set in the config must be one, with inboxes: say what it is otherwise. */
static int check_gateway(const struct pki_doc *doc, const uint8_t id[32], char *err, size_t errlen)
{
    const struct pki_descriptor *d = pki_doc_find(doc, id);
    if (d == NULL)
        snprintf(err, errlen, "the configured gateway is not in the directory (epoch %llu)",
                 (unsigned long long)pki_doc_epoch(doc));
    else if ((d->roles & PKI_ROLE_GATEWAY) == 0)
        snprintf(err, errlen,
                 "the configured gateway (%s) is not a gateway: the directory "
                 "lists it as a layer-%u mix",
                 d->address, (unsigned)d->layer);
    else if ((d->roles & PKI_ROLE_PROVIDER) == 0)
        snprintf(err, errlen, "the configured gateway (%s) holds no inboxes (not a provider)",
                 d->address);
    else
        return 0;
    return MIXCLIENT_E_CONFIG;
}

static int pick_gateway(const char *config_path, struct cconf *conf, unsigned timeout_s, char *err,
                        size_t errlen)
{
    uint8_t id[32];
    bool configured = conf->have_gateway;
    if (!configured && mc_read_gateway_file(conf, id, err, errlen) == 0)
        return 0;
    struct init_state st = { NULL, false, false };
    struct mixclient *mc = mc_new_common(config_path, NULL, false, err, errlen);
    if (mc == NULL)
        return MIXCLIENT_E_CONFIG;
    mc->on_doc = init_on_doc;
    mc->hook_ctx = &st;
    mc_dir_start(mc);
    run_for(mc->loop, timeout_s);
    int rc = MIXCLIENT_E_NETWORK;
    if (st.doc == NULL) {
        snprintf(err, errlen, "directory unreachable or refused (%s)",
                 mc->last_dir_error ? mc->last_dir_error : "no answer");
    } else if (configured) {
        rc = check_gateway(st.doc, conf->gateway_id, err, errlen);
    } else if (choose_gateway(mc, st.doc, id) != 0) {
        snprintf(err, errlen, "the directory lists no gateway with inboxes");
    } else if (write_gateway_file(conf, id, err, errlen) != 0) {
        rc = MIXCLIENT_E_CONFIG;
    } else {
        rc = 0;
    }
    pki_doc_free(st.doc);
    mixclient_free(mc);
    return rc;
}

int mixclient_init(const char *config_path, unsigned timeout_s,
                   char address_out[MIXCLIENT_ADDRESS_SIZE], char *err, size_t errlen)
{
    struct cconf conf;
    if (mc_lib_setup(err, errlen) < 0)
        return MIXCLIENT_E_INTERNAL;
    if (cconf_load(config_path, &conf, err, errlen) < 0)
        return MIXCLIENT_E_CONFIG;
    if (ensure_key(&conf, err, errlen) < 0)
        return MIXCLIENT_E_CONFIG;
    int rc = pick_gateway(config_path, &conf, timeout_s, err, errlen);
    if (rc != 0)
        return rc;
    /* Connect and fetch once: the gateway creates our inbox at the first fetch. */
    struct init_state st = { NULL, false, false };
    struct mixclient *mc = mixclient_new(config_path, NULL, err, errlen);
    if (mc == NULL)
        return MIXCLIENT_E_CONFIG;
    mc->on_gateway_up = init_on_up;
    mc->on_fetched = init_on_fetched;
    mc->hook_ctx = &st;
    run_for(mc->loop, timeout_s);
    if (!st.fetched) {
        snprintf(err, errlen, "%s",
                 core_doc(mc->core) == NULL ? "directory unreachable or refused"
                 : !st.up                   ? "gateway unreachable"
                                            : "the gateway did not create our inbox "
                                              "(its limits); try again later");
        rc = MIXCLIENT_E_NETWORK;
    } else {
        mixclient_address(mc, address_out);
    }
    mixclient_free(mc);
    return rc;
}
