/*
 * mixdir: a directory authority.  This header is internal to dir/: the
 * daemon's state and the functions its files share (dir/README.md lists
 * the files).
 *
 * It accepts signed node descriptors over Noise links, and for each epoch
 * builds, signs and (with its peer authorities) publishes the directory
 * document.  The protocol with the peers, per epoch N (dir/README.md has
 * the timeline):
 *
 *   vote time = start(N) - vote_lead.  Each authority snapshots the
 *   descriptors it holds that carry a Sphinx key for N, sends that set to
 *   every peer (DescriptorSet) and asks for theirs (DescriptorSetRequest).
 *   Sets received until vote time + exchange_window are merged (union of
 *   validly signed descriptors, one per node by dir_desc_better()).
 *
 *   sign time = vote time + exchange_window.  Each builds the canonical
 *   document (lib/pki), signs it and sends the signature (SignatureExchange)
 *   to every peer.  A signature is kept only if it is by a configured
 *   authority and over the very bytes we built.  With k of them the signed
 *   document is published: saved, and served to anyone who asks
 *   (DocumentRequest).  Later signatures are added as they come.
 *
 * An authority that starts in the middle of an epoch with no document for
 * it asks its peers for theirs (adopting one that verifies with k
 * signatures) and otherwise builds one for the current epoch at once.
 */
#ifndef MIX_DIR_MIXDIR_H
#define MIX_DIR_MIXDIR_H

#include <stdio.h>

#include <ev.h>

#include "common.h"
#include "conn.h"
#include "dir_conf.h"
#include "dir_metrics.h"
#include "dir_store.h"
#include "frame.h"
#include "pki.h"

#define MAX_PUBLISHED 4
#define MAX_BUILDS 3
#define TICK_SECONDS 0.25

enum build_phase { PH_FREE = 0, PH_EXCHANGE, PH_SIGNED, PH_DONE };

struct build {
    uint64_t epoch;
    enum build_phase phase;
    uint64_t sign_at;   /* Unix seconds */
    uint64_t last_push; /* our signature last sent */
    struct dir_set set;
    uint8_t *doc;
    size_t doc_len;
    uint8_t hash[PKI_HASH_LEN];
    size_t n_nodes;
    struct pki_sig sig[DIR_MAX_AUTHORITIES]; /* valid signatures over doc */
    bool have[DIR_MAX_AUTHORITIES];
    struct pki_sig early[DIR_MAX_AUTHORITIES]; /* arrived before we signed */
    uint8_t early_hash[DIR_MAX_AUTHORITIES][PKI_HASH_LEN];
    bool have_early[DIR_MAX_AUTHORITIES];
    bool mismatch[DIR_MAX_AUTHORITIES];  /* counted and logged once */
    bool explained[DIR_MAX_AUTHORITIES]; /* its document compared (explain_mismatch) */
};

struct published {
    uint64_t epoch; /* 0 = empty slot */
    uint8_t *bytes;
    size_t len;
    size_t n_sigs;
};

/* Everything counted; logged at info when changed (every stats_interval). */
struct counters {
    uint64_t uploads_accepted, uploads_unchanged;
    uint64_t rejected_bad_signature, rejected_malformed, rejected_not_registered;
    uint64_t rejected_stale, rejected_future, rejected_full, rejected_role;
    uint64_t bad_frames, unexpected_frames, send_drops;
    uint64_t doc_requests, doc_not_found, doc_busy;
    uint64_t peer_descs_merged, peer_descs_rejected, peer_sets_late, peer_descs_kept_late;
    uint64_t sigs_accepted, sigs_bad, sigs_mismatch, sigs_unknown_signer;
    uint64_t docs_built, docs_published, docs_adopted;
};

struct peer {
    struct mixdir *d;
    size_t idx;
};

struct mixdir {
    struct dir_conf *cf;
    struct ev_loop *loop;
    uint8_t *sign_sk; /* sodium_malloc, 64 bytes */
    uint8_t sign_pk[PKI_KEY_LEN];
    uint8_t *link_sk; /* sodium_malloc, 32 bytes */
    uint8_t link_pk[PKI_KEY_LEN];
    size_t self;
    struct conn_mgr *cm;
    struct conn *peer_conn[DIR_MAX_AUTHORITIES];
    struct peer peer_tag[DIR_MAX_AUTHORITIES];
    struct dir_set descs;
    struct build builds[MAX_BUILDS];
    struct published pub[MAX_PUBLISHED];
    struct counters ctr, logged;
    uint64_t last_stats, last_keepalive;
    ev_timer tick;
    ev_signal sig_int, sig_term, sig_hup;
    const char *config;          /* re-read on SIGHUP */
    struct dir_metrics *metrics; /* [mixdir] metrics_listen, or NULL */
    uint64_t start_time, last_metrics;
    int lock_fd; /* flock on data_dir, -1 = none */
};

/*
 * The functions one file of dir/ calls in another, by file.  Their contracts
 * are written at their definitions.  All run on the loop's thread.
 */

/* peers.c */
uint64_t now_s(const struct mixdir *d);
uint64_t cur_epoch(const struct mixdir *d);
void hex8(const uint8_t *b, char out[17]);
void send_frame(struct mixdir *d, struct conn *c, const struct mix_frame *f);
void broadcast(struct mixdir *d, const struct mix_frame *f);
int auth_index_by_sign_key(const struct mixdir *d, const uint8_t *key);
void on_frame(struct conn *c, const uint8_t *bytes, size_t len, void *arg);
void on_established(struct conn *c, void *arg);
void on_close(struct conn *c, enum conn_close_reason why, void *arg);
bool on_authorize(struct conn *c, const uint8_t remote_pk[static LINK_KEY_LEN], enum link_role role,
                  void *arg);

/* publish.c */
struct published *pub_find(struct mixdir *d, uint64_t epoch);
void pub_set(struct mixdir *d, uint64_t epoch, uint8_t *bytes, size_t len, size_t n_sigs);
enum pki_err verify_doc(struct mixdir *d, const uint8_t *b, size_t len, uint64_t epoch,
                        uint64_t now, size_t *n_nodes);
void explain_mismatch(struct mixdir *d, size_t idx, uint64_t epoch, const uint8_t *b, size_t len);
void adopt_document(struct mixdir *d, uint64_t epoch, const uint8_t *b, size_t len);

/* descriptors.c */
const char *check_descriptor(struct mixdir *d, const uint8_t *b, size_t len,
                             struct pki_descriptor *out, bool count);
int store_descriptor(struct mixdir *d, const uint8_t *b, size_t len,
                     const struct pki_descriptor *pd);
const char *unlistable(const struct mixdir *d, const struct pki_descriptor *pd, char *buf,
                       size_t len);
void handle_upload(struct mixdir *d, struct conn *c, const struct mix_frame *f);
void load_descriptor_cb(const uint8_t *b, size_t len, void *arg);
void expired_cb(const uint8_t id[PKI_KEY_LEN], void *arg);

/* vote.c */
struct build *build_find(struct mixdir *d, uint64_t epoch);
void build_clear(struct build *b);
void send_desc_set(struct mixdir *d, struct conn *c, const struct build *b);
struct build *build_start(struct mixdir *d, uint64_t epoch);
void send_own_signature(struct mixdir *d, struct conn *c, const struct build *b);
void build_sign(struct mixdir *d, struct build *b);
void handle_peer_frame(struct mixdir *d, struct conn *c, const struct mix_frame *f);

/* schedule.c */
void log_counters(struct mixdir *d, bool force);
void tick_cb(struct ev_loop *loop, ev_timer *w, int revents);

/* main.c */
void mixdir_free(struct mixdir *d);
struct mixdir *mixdir_new(const char *path, char *err, size_t errlen);
void usage(FILE *f);

/* keygen.c */
int pubkey_main(int argc, char **argv);
int keygen_main(int argc, char **argv);

#endif
