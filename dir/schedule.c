/*
 * mixdir: the tick: counters and metrics, expiry, keepalives, and the epoch
 * schedule (vote, sign, publish).  See mixdir.h.
 */
#include "mixdir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "log.h"

/* ------------------------------------------------------------ schedule */

/* What the abuse limits did (docs/abuse.md), logged when it changed. */
static void log_limits(struct mixdir *d, const struct conn_stats *cs)
{
    static uint64_t last;
    uint64_t sum = cs->refused_max_conns + cs->refused_per_addr + cs->refused_rate +
                   cs->evicted_half_open + cs->evicted_idle + cs->hs_timeouts + cs->idle_timeouts +
                   d->ctr.doc_busy + d->ctr.rejected_role;
    if (sum == last)
        return;
    last = sum;
    log_info("limits: refused_max_conns=%llu refused_per_addr=%llu refused_rate=%llu "
             "evicted_half_open=%llu evicted_idle=%llu handshake_timeouts=%llu "
             "idle_timeouts=%llu doc_busy=%llu rejected_role=%llu",
             (unsigned long long)cs->refused_max_conns, (unsigned long long)cs->refused_per_addr,
             (unsigned long long)cs->refused_rate, (unsigned long long)cs->evicted_half_open,
             (unsigned long long)cs->evicted_idle, (unsigned long long)cs->hs_timeouts,
             (unsigned long long)cs->idle_timeouts, (unsigned long long)d->ctr.doc_busy,
             (unsigned long long)d->ctr.rejected_role);
}

void log_counters(struct mixdir *d, bool force)
{
    const struct counters *c = &d->ctr;
    struct conn_stats cs;
    conn_mgr_get_stats(d->cm, &cs);
    log_limits(d, &cs);
    if (!force && memcmp(c, &d->logged, sizeof *c) == 0)
        return;
    d->logged = *c;
    log_info("counters: uploads_accepted=%llu uploads_unchanged=%llu "
             "rejected_bad_signature=%llu rejected_malformed=%llu rejected_not_registered=%llu "
             "rejected_stale=%llu rejected_future=%llu rejected_full=%llu bad_frames=%llu "
             "unexpected_frames=%llu send_drops=%llu doc_requests=%llu doc_not_found=%llu "
             "peer_descs_merged=%llu peer_descs_rejected=%llu peer_sets_late=%llu "
             "peer_descs_kept_late=%llu "
             "sigs_accepted=%llu sigs_bad=%llu sigs_mismatch=%llu sigs_unknown_signer=%llu "
             "docs_built=%llu docs_published=%llu docs_adopted=%llu conns_open=%llu "
             "conns_refused=%llu link_errors=%llu",
             (unsigned long long)c->uploads_accepted, (unsigned long long)c->uploads_unchanged,
             (unsigned long long)c->rejected_bad_signature,
             (unsigned long long)c->rejected_malformed,
             (unsigned long long)c->rejected_not_registered, (unsigned long long)c->rejected_stale,
             (unsigned long long)c->rejected_future, (unsigned long long)c->rejected_full,
             (unsigned long long)c->bad_frames, (unsigned long long)c->unexpected_frames,
             (unsigned long long)c->send_drops, (unsigned long long)c->doc_requests,
             (unsigned long long)c->doc_not_found, (unsigned long long)c->peer_descs_merged,
             (unsigned long long)c->peer_descs_rejected, (unsigned long long)c->peer_sets_late,
             (unsigned long long)c->peer_descs_kept_late, (unsigned long long)c->sigs_accepted,
             (unsigned long long)c->sigs_bad, (unsigned long long)c->sigs_mismatch,
             (unsigned long long)c->sigs_unknown_signer, (unsigned long long)c->docs_built,
             (unsigned long long)c->docs_published, (unsigned long long)c->docs_adopted,
             (unsigned long long)cs.open,
             (unsigned long long)(cs.refused_max_conns + cs.refused_per_addr),
             (unsigned long long)cs.link_errors);
}

/* The counters in Prometheus text, for dir_metrics (I/O thread only). */
static void update_metrics(struct mixdir *d)
{
    const struct counters *c = &d->ctr;
    struct conn_stats cs;
    char buf[8192];
    size_t o = 0;
    uint64_t cur = cur_epoch(d);
    struct published *p = pub_find(d, cur);
    if (d->metrics == NULL)
        return;
    conn_mgr_get_stats(d->cm, &cs);
#define C(name, help, v)                                                                           \
    if (o < sizeof buf)                                                                            \
        o += (size_t)snprintf(buf + o, sizeof buf - o,                                             \
                              "# HELP mixdir_" name " " help "\n# TYPE mixdir_" name               \
                              " counter\nmixdir_" name " %llu\n",                                  \
                              (unsigned long long)(v));
#define G(name, help, v)                                                                           \
    if (o < sizeof buf)                                                                            \
        o += (size_t)snprintf(buf + o, sizeof buf - o,                                             \
                              "# HELP mixdir_" name " " help "\n# TYPE mixdir_" name               \
                              " gauge\nmixdir_" name " %llu\n",                                    \
                              (unsigned long long)(v));
    C("uploads_accepted_total", "Descriptor uploads stored.", c->uploads_accepted)
    C("uploads_unchanged_total", "Descriptor uploads identical to the stored one.",
      c->uploads_unchanged)
    C("uploads_rejected_bad_signature_total", "Uploads refused: bad signature.",
      c->rejected_bad_signature)
    C("uploads_rejected_malformed_total", "Uploads refused: malformed.", c->rejected_malformed)
    C("uploads_rejected_not_registered_total", "Uploads refused: not in [registration].",
      c->rejected_not_registered)
    C("uploads_rejected_stale_total", "Uploads refused: keys too old.", c->rejected_stale)
    C("uploads_rejected_future_total", "Uploads refused: keys too far ahead.", c->rejected_future)
    C("uploads_rejected_full_total", "Uploads refused: store full.", c->rejected_full)
    C("bad_frames_total", "Frames that did not decode.", c->bad_frames)
    C("unexpected_frames_total", "Frames of a type not served here.", c->unexpected_frames)
    C("document_requests_total", "Document requests.", c->doc_requests)
    C("document_not_found_total", "Document requests for an epoch without a document.",
      c->doc_not_found)
    C("peer_descriptors_merged_total", "Descriptors merged from peer authorities.",
      c->peer_descs_merged)
    C("peer_descriptors_kept_late_total",
      "Descriptors from peer sets that came after our vote, kept for later epochs.",
      c->peer_descs_kept_late)
    C("signatures_accepted_total", "Peer signatures over our document.", c->sigs_accepted)
    C("signatures_mismatch_total", "Peer signatures over another document.", c->sigs_mismatch)
    C("documents_built_total", "Documents built and signed.", c->docs_built)
    C("documents_published_total", "Documents published with the threshold of signatures.",
      c->docs_published)
    C("documents_adopted_total", "Documents taken from a peer.", c->docs_adopted)
    G("connections", "Open connections.", cs.open)
    C("connections_refused_total", "Connections refused by the limits.",
      cs.refused_max_conns + cs.refused_per_addr)
    G("epoch", "Current epoch.", cur)
    G("document_published", "1 if the current epoch's document is published.", p != NULL)
    G("descriptors", "Descriptors held.", d->descs.n)
    G("start_time_seconds", "Unix time the process started.", d->start_time)
#undef C
#undef G
    if (o < sizeof buf)
        o += (size_t)snprintf(buf + o, sizeof buf - o,
                              "# HELP mixdir_build_info The running version.\n"
                              "# TYPE mixdir_build_info gauge\n"
                              "mixdir_build_info{version=\"%s\"} 1\n",
                              MIX_VERSION);
    if (o >= sizeof buf)
        o = sizeof buf - 1;
    dir_metrics_set(d->metrics, buf, o, p != NULL);
}

/* Forget documents and builds older than the previous epoch. */
static void expire_old(struct mixdir *d, uint64_t cur)
{
    for (size_t i = 0; i < MAX_BUILDS; i++)
        if (d->builds[i].phase != PH_FREE && d->builds[i].epoch + 1 < cur)
            build_clear(&d->builds[i]);
    for (size_t i = 0; i < MAX_PUBLISHED; i++)
        if (d->pub[i].epoch != 0 && d->pub[i].epoch + 1 < cur) {
            dir_store_remove_doc(d->cf->data_dir, d->pub[i].epoch);
            free(d->pub[i].bytes);
            memset(&d->pub[i], 0, sizeof d->pub[i]);
        }
    dir_set_expire(&d->descs, cur, expired_cb, d);
}

/*
 * Peer links are quiet between votes, and the peer's idle timeout would
 * close them: a SignatureRequest for epoch 0 (never answered) keeps them up.
 */
static void keepalive(struct mixdir *d, uint64_t now)
{
    uint64_t every = (uint64_t)(d->cf->idle_timeout / 3);
    if (d->cf->idle_timeout <= 0 || now < d->last_keepalive + (every ? every : 1))
        return;
    d->last_keepalive = now;
    struct mix_frame f;
    memset(&f, 0, sizeof f);
    f.type = FRAME_SIGNATURE_REQUEST;
    f.u.sig_req.epoch = 0;
    for (size_t i = 0; i < d->cf->n_auth; i++)
        if (d->peer_conn[i] != NULL && conn_get_state(d->peer_conn[i]) == CONN_STATE_ESTABLISHED)
            send_frame(d, d->peer_conn[i], &f);
}

void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct mixdir *d = w->data;
    (void)loop;
    (void)revents;
    uint64_t now = now_s(d), cur = cur_epoch(d);
    const struct dir_conf *cf = d->cf;
    uint64_t next = cur + 1;
    if (cur > 0)
        expire_old(d, cur);
    /* The current epoch, only when we start without its document. */
    if (cur > 0 && pub_find(d, cur) == NULL && build_find(d, cur) == NULL)
        (void)build_start(d, cur);
    if (now + cf->vote_lead_s >= pki_epoch_start(&cf->timing, next) && pub_find(d, next) == NULL &&
        build_find(d, next) == NULL)
        (void)build_start(d, next);
    for (size_t i = 0; i < MAX_BUILDS; i++) {
        struct build *b = &d->builds[i];
        if (b->phase == PH_EXCHANGE && now >= b->sign_at) {
            build_sign(d, b);
            b->last_push = now;
        } else if (b->phase == PH_SIGNED && now >= b->last_push + 2) {
            /* Not published yet: a peer may have missed our signature. */
            send_own_signature(d, NULL, b);
            b->last_push = now;
        }
    }
    keepalive(d, now);
    if (now != d->last_metrics) {
        d->last_metrics = now;
        update_metrics(d);
    }
    if (now >= d->last_stats + cf->stats_interval_s) {
        d->last_stats = now;
        log_counters(d, false);
    }
}
