/*
 * Fetching the directory: ask the configured authorities in turn (Frame
 * DocumentRequest over a Noise link pinned to the authority's link key),
 * accept a document only if pki_verify() finds k of n valid signatures and a
 * current epoch, then refresh once per epoch, at a random moment of the next
 * epoch's first `grace` seconds (mc_dir_next_refresh_s).
 *
 * An authority must never see our long-term key next to our IP address: the
 * key names our inbox and is in our address.  Every authority link is made
 * with a fresh random Noise static key, wiped once the link is set up, so two
 * fetches of the same client look like two strangers (docs/spec/client.md
 * "Directory").
 */
#include "client_int.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

double mc_dir_next_refresh_s(const struct pki_timing *t, uint64_t epoch, double now_s,
                             const struct mix_rng *rng)
{
    /*
     * The document of epoch+1 is published before epoch+1 starts (vote_lead)
     * and the one we hold stays usable through the first `grace` seconds of
     * epoch+1: fetch at a uniform moment of that window, so that clients do
     * not all ask at once and a fetch's time says nothing but "one per epoch".
     */
    double end = (double)pki_epoch_end(t, epoch);
    double window = t->grace > 0 ? (double)t->grace : 1.;
    double at = end + mix_rng_unit(rng) * window;
    return at > now_s ? at - now_s : mix_rng_unit(rng) * window;
}

/* Delay before asking again after a failure: 1 to 3 s, randomised. */
static double retry_s(struct mixclient *mc)
{
    return 1. + 2. * mix_rng_unit(&mc->rng);
}

static void dir_schedule(struct mixclient *mc, double after_s)
{
    ev_timer_stop(mc->loop, &mc->t_dir);
    ev_timer_set(&mc->t_dir, after_s, 0.);
    ev_timer_start(mc->loop, &mc->t_dir);
}

/* Free a finished authority connection outside its callbacks. */
static void on_reap(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct mixclient *mc = w->data;
    (void)loop;
    (void)revents;
    cconn_free(mc->auth);
    mc->auth = NULL;
}

static void reap_soon(struct mixclient *mc)
{
    ev_timer_stop(mc->loop, &mc->t_reap);
    ev_timer_set(&mc->t_reap, 0., 0.);
    ev_timer_start(mc->loop, &mc->t_reap);
}

static void install(struct mixclient *mc, struct pki_doc *doc)
{
    double next = mc_dir_next_refresh_s(&pki_doc_params(doc)->timing, pki_doc_epoch(doc), ev_time(),
                                        &mc->rng);
    mc->dir_timing = pki_doc_params(doc)->timing;
    mc->dir_have_timing = true;
    const struct pki_doc *old = mc->core ? core_doc(mc->core) : NULL;
    if (old == NULL || pki_doc_epoch(old) != pki_doc_epoch(doc))
        log_info("client: directory epoch %llu verified (%zu nodes)",
                 (unsigned long long)pki_doc_epoch(doc), pki_doc_node_count(doc));
    else
        log_debug("client: directory epoch %llu refreshed", (unsigned long long)pki_doc_epoch(doc));
    if (mc->on_doc) {
        mc->on_doc(mc, doc);
    } else {
        core_set_doc(mc->core, doc);
        mc_dial_gateway(mc);
    }
    dir_schedule(mc, next);
}

static void auth_up(void *ctx, struct cconn *c)
{
    struct mixclient *mc = ctx;
    struct mix_frame f = { .type = FRAME_DOCUMENT_REQUEST };
    uint8_t buf[64];
    size_t len;
    const char *why;
    /*
     * Once we know the epoch timing, ask for the epoch of now by our clock
     * (what every client asks at that time); before that, for the current one.
     */
    f.u.doc_req.epoch = mc->dir_have_timing ? pki_epoch_of(&mc->dir_timing, mc_unix_now()) : 0;
    if (!frame_encode(&f, buf, sizeof(buf), &len, &why) || cconn_send(c, buf, len) != 0)
        log_err("client: cannot request the directory");
}

static void auth_frame(void *ctx, struct cconn *c, const uint8_t *buf, size_t len)
{
    struct mixclient *mc = ctx;
    struct mix_frame *f;
    const char *why;
    (void)c;
    if (!frame_decode(buf, len, PKI_MAX_DOCUMENT_LEN + 4096, &f, &why)) {
        log_warn("client: bad frame from an authority: %s", why);
        return;
    }
    if (f->type == FRAME_DOCUMENT_RESPONSE) {
        uint8_t keys[CCONF_MAX_AUTH][PKI_KEY_LEN];
        for (size_t i = 0; i < mc->conf.n_auth; i++)
            memcpy(keys[i], mc->conf.auth[i].sign_pk, PKI_KEY_LEN);
        struct pki_verify_opts o = { .authorities = (const uint8_t(*)[PKI_KEY_LEN])keys,
                                     .n_authorities = mc->conf.n_auth,
                                     .threshold = mc->conf.threshold,
                                     .now = mc_unix_now() };
        struct pki_doc *doc = NULL;
        enum pki_err e = pki_verify(f->u.doc_resp.signed_document.ptr,
                                    f->u.doc_resp.signed_document.len, &o, &doc);
        if (e == PKI_OK) {
            install(mc, doc);
        } else {
            mc->last_dir_error = pki_strerror(e);
            log_warn("client: directory refused: %s", pki_strerror(e));
            mc->auth_idx++;
            dir_schedule(mc, retry_s(mc));
        }
    } else {
        mc->last_dir_error = "the authority has no document";
        log_warn("client: authority answered %s", frame_type_name(f->type));
        mc->auth_idx++;
        dir_schedule(mc, retry_s(mc));
    }
    mc->auth_answered = true;
    frame_free(f);
    reap_soon(mc);
}

static void auth_down(void *ctx, struct cconn *c, const char *why)
{
    struct mixclient *mc = ctx;
    (void)c;
    if (!mc->auth_answered) {
        /* Not answered: try the next authority soon. */
        /* A refusal by another authority says more: keep it. */
        if (mc->last_dir_error == NULL)
            mc->last_dir_error = "authority unreachable";
        log_warn("client: authority %s: %s", mc->conf.auth[mc->auth_idx % mc->conf.n_auth].addr,
                 why);
        mc->auth_idx++;
        dir_schedule(mc, mc->auth_idx % mc->conf.n_auth == 0 ? retry_s(mc) : 0.2);
    }
    reap_soon(mc);
}

static void on_dir_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct mixclient *mc = w->data;
    char err[256];
    (void)loop;
    (void)revents;
    cconn_free(mc->auth);
    mc->auth = NULL;
    const struct authority *a = &mc->conf.auth[mc->auth_idx % mc->conf.n_auth];
    struct cconn_cbs cbs = { auth_up, auth_frame, auth_down, mc };
    /* Ask again later in any case (no answer at all); a reply re-arms this. */
    dir_schedule(mc, (double)mc->conf.connect_timeout_us / 1e6 + retry_s(mc));
    mc->auth_answered = false;
    /* A fresh static key for this link only (see the top of this file). */
    uint8_t *eph = sodium_malloc(64);
    if (eph == NULL) {
        mc->last_dir_error = "out of memory";
        return;
    }
    randombytes_buf(eph, 32);
    crypto_scalarmult_base(eph + 32, eph);
    mc->auth = cconn_dial(
        mc->loop, a->addr, eph, eph + 32, a->link_pk, LINK_ROLE_CLIENT, PKI_MAX_DOCUMENT_LEN + 4096,
        (uint32_t)(mc->conf.connect_timeout_us / 1000), &mc->rng, &cbs, err, sizeof(err));
    sodium_free(eph);
    if (mc->auth == NULL) {
        mc->last_dir_error = "authority address unusable";
        log_err("client: authority %s: %s", a->addr, err);
        mc->auth_idx++;
        dir_schedule(mc, 1.);
    }
}

void mc_dir_start(struct mixclient *mc)
{
    ev_timer_init(&mc->t_dir, on_dir_timer, 0., 0.);
    ev_timer_init(&mc->t_reap, on_reap, 0., 0.);
    mc->t_dir.data = mc->t_reap.data = mc;
    mc->dir_running = true;
    ev_timer_start(mc->loop, &mc->t_dir);
}

void mc_dir_stop(struct mixclient *mc)
{
    if (!mc->dir_running)
        return;
    ev_timer_stop(mc->loop, &mc->t_dir);
    ev_timer_stop(mc->loop, &mc->t_reap);
    cconn_free(mc->auth);
    mc->auth = NULL;
    mc->dir_running = false;
}
