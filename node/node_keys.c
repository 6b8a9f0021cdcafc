/*
 * node_keys: the node's long-term keys (identity, link) and its per-epoch
 * Sphinx keys with their replay caches.
 *
 * Files in the data directory (all secret files mode 0600, sys/keyfile):
 *   identity.key        Ed25519 secret key (written by `mixnode keygen`)
 *   link.key            X25519 Noise static key (written by `mixnode keygen`)
 *   sphinx-<E>.key      X25519 Sphinx key of epoch E, generated ahead
 *   replay-<E>.cache    replay tags seen under that key (lib/replay)
 * A missing identity or link key is an error at start; Sphinx keys are
 * created for the current and the next epoch as time goes on, and a key
 * (with its replay cache) is deleted once its epoch and grace are over, so
 * old packets can never be unwrapped again.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keyfile.h"
#include "log.h"
#include "node.h"
#include "replay_file.h"

static void key_path(char *out, size_t cap, const char *dir, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

void node_print_public(const uint8_t id_pk[static 32], const uint8_t link_pk[static 32])
{
    char b1[KEY_B64_MAX], b2[KEY_B64_MAX], b3[KEY_B64_MAX];
    uint8_t id[32];
    pki_node_id(id_pk, id);
    key_to_b64(id_pk, 32, b1);
    key_to_b64(link_pk, 32, b2);
    key_to_b64(id, 32, b3);
    printf("identity_key = %s\nlink_key = %s\nnode_id = %s\n"
           "# the line for [registration] in every authority's configuration:\nnode = %s\n",
           b1, b2, b3, b1);
}

int node_pubkey(const char *dir, char *err, size_t errlen)
{
    char path[NODE_PATH_MAX + 32];
    uint8_t *sk = sodium_malloc(crypto_sign_SECRETKEYBYTES + 32);
    uint8_t lpk[32];
    int rc = -1;
    if (!sk) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    key_path(path, sizeof(path), dir, "identity.key");
    if (keyfile_read(path, KEYFILE_ED25519_SECRET, sk, err, errlen) < 0)
        goto out;
    key_path(path, sizeof(path), dir, "link.key");
    if (keyfile_read(path, KEYFILE_X25519_SECRET, sk + crypto_sign_SECRETKEYBYTES, err, errlen) < 0)
        goto out;
    crypto_scalarmult_base(lpk, sk + crypto_sign_SECRETKEYBYTES);
    node_print_public(sk + 32, lpk);
    rc = 0;
out:
    sodium_free(sk);
    return rc;
}

int node_keygen(const char *dir, char *err, size_t errlen)
{
    uint8_t *sk = sodium_malloc(crypto_sign_SECRETKEYBYTES + 32);
    uint8_t pk[crypto_sign_PUBLICKEYBYTES], lpk[32];
    char path[NODE_PATH_MAX + 32];
    int rc = -1;

    if (!sk) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    uint8_t *lsk = sk + crypto_sign_SECRETKEYBYTES;
    if (keyfile_mkdirs(dir, err, errlen) < 0)
        goto out;
    /* Refuse before writing anything, so a half-written key pair never happens. */
    const char *names[2] = { "identity.key", "link.key" };
    for (int i = 0; i < 2; i++) {
        key_path(path, sizeof(path), dir, names[i]);
        if (access(path, F_OK) == 0) {
            snprintf(err, errlen, "%s exists: refusing to overwrite a key", path);
            goto out;
        }
    }
    crypto_sign_keypair(pk, sk);
    randombytes_buf(lsk, 32);
    crypto_scalarmult_base(lpk, lsk);
    key_path(path, sizeof(path), dir, "identity.key");
    if (keyfile_write(path, KEYFILE_ED25519_SECRET, sk, false, err, errlen) < 0)
        goto out;
    key_path(path, sizeof(path), dir, "link.key");
    if (keyfile_write(path, KEYFILE_X25519_SECRET, lsk, false, err, errlen) < 0)
        goto out;
    node_print_public(pk, lpk);
    rc = 0;
out:
    sodium_free(sk);
    return rc;
}

int node_load_identity(struct node *n, char *err, size_t errlen)
{
    char path[NODE_PATH_MAX + 32];

    n->id_sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    n->link_sk = sodium_malloc(32);
    if (!n->id_sk || !n->link_sk) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    key_path(path, sizeof(path), n->conf.data_dir, "identity.key");
    if (keyfile_read(path, KEYFILE_ED25519_SECRET, n->id_sk, err, errlen) < 0)
        return -1;
    key_path(path, sizeof(path), n->conf.data_dir, "link.key");
    if (keyfile_read(path, KEYFILE_X25519_SECRET, n->link_sk, err, errlen) < 0)
        return -1;
    crypto_sign_ed25519_sk_to_pk(n->id_pk, n->id_sk);
    crypto_scalarmult_base(n->link_pk, n->link_sk);
    pki_node_id(n->id_pk, n->node_id);
    return 0;
}

void node_keys_init(struct node_keys *k)
{
    pthread_rwlockattr_t a;
    memset(k, 0, sizeof(*k));
    /* Workers hold the read lock almost all the time under load: prefer the
     * (rare) writer, or a rotation could wait forever. */
    pthread_rwlockattr_init(&a);
    pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&k->lock, &a);
    pthread_rwlockattr_destroy(&a);
}

static void epoch_paths(struct node *n, uint64_t e, char *kp, char *rp, size_t cap)
{
    snprintf(kp, cap, "%s/sphinx-%llu.key", n->conf.data_dir, (unsigned long long)e);
    snprintf(rp, cap, "%s/replay-%llu.cache", n->conf.data_dir, (unsigned long long)e);
}

static void slot_clear(struct node_key_slot *s)
{
    if (s->sk)
        sodium_free(s->sk);
    replay_cache_free(s->replay);
    memset(s, 0, sizeof(*s));
}

/* Load (or, with create, generate) the key of epoch e into s. */
static int slot_load(struct node *n, struct node_key_slot *s, uint64_t e, bool create)
{
    char kp[NODE_PATH_MAX + 64], rp[NODE_PATH_MAX + 64], err[256];
    uint8_t kid[REPLAY_KEY_ID_LEN];

    epoch_paths(n, e, kp, rp, sizeof(kp));
    s->sk = sodium_malloc(SPHINX_KEY_LEN);
    if (!s->sk)
        return -1;
    if (access(kp, F_OK) == 0) {
        if (keyfile_read(kp, KEYFILE_X25519_SECRET, s->sk, err, sizeof(err)) < 0) {
            log_err("sphinx key of epoch %llu: %s", (unsigned long long)e, err);
            goto fail;
        }
    } else if (create) {
        struct mix_rng sys = mix_rng_system();
        sphinx_keygen(&sys, s->sk, s->pk);
        if (keyfile_write(kp, KEYFILE_X25519_SECRET, s->sk, false, err, sizeof(err)) < 0) {
            log_err("sphinx key of epoch %llu: %s", (unsigned long long)e, err);
            goto fail;
        }
        log_info("generated the Sphinx key for epoch %llu", (unsigned long long)e);
    } else {
        goto fail;
    }
    sphinx_public_key(s->sk, s->pk);
    sphinx_key_id(s->pk, kid);
    if (access(rp, F_OK) == 0) {
        enum replay_io io = replay_cache_load(rp, kid, n->conf.replay_capacity, &s->replay);
        if (io != REPLAY_IO_OK)
            log_err("replay cache %s: %s; starting an empty one", rp, replay_io_strerror(io));
        else
            log_info("loaded %zu replay tags for epoch %llu", replay_cache_size(s->replay),
                     (unsigned long long)e);
    }
    if (!s->replay)
        s->replay = replay_cache_new(n->conf.replay_capacity, kid);
    if (!s->replay)
        goto fail;
    s->epoch = e;
    if (n->journal) {
        /* Tags journaled since the last snapshot (a crash before the next save). */
        size_t added = node_journal_load(n, e, s->replay);
        if (added)
            log_info("replay journal: %zu more tags for epoch %llu", added, (unsigned long long)e);
        s->jref.j = n->journal;
        s->jref.epoch = e;
        replay_cache_set_journal(s->replay, node_journal_append, &s->jref);
    }
    return 0;
fail:
    slot_clear(s);
    return -1;
}

static void wait_saver(struct node *n);

/* Forget epoch e's key for good: the key file and its replay cache go. */
static void slot_expire(struct node *n, struct node_key_slot *s)
{
    char kp[NODE_PATH_MAX + 64], rp[NODE_PATH_MAX + 64];
    epoch_paths(n, s->epoch, kp, rp, sizeof(kp));
    log_info("Sphinx key of epoch %llu expired; dropping it and its replay cache",
             (unsigned long long)s->epoch);
    wait_saver(n); /* a save in flight must not bring the file back */
    unlink(kp);
    unlink(rp);
    slot_clear(s);
}

static struct node_key_slot *slot_find(struct node_keys *k, uint64_t e)
{
    for (int i = 0; i < NODE_KEY_SLOTS; i++)
        if (e && k->slot[i].epoch == e)
            return &k->slot[i];
    return NULL;
}

static struct node_key_slot *slot_empty(struct node_keys *k)
{
    for (int i = 0; i < NODE_KEY_SLOTS; i++)
        if (k->slot[i].epoch == 0)
            return &k->slot[i];
    return NULL;
}

int node_keys_rotate(struct node *n, uint64_t now_s)
{
    struct node_keys *k = &n->keys;
    uint64_t cur = pki_epoch_of(&n->timing, now_s);
    uint64_t grace = pki_in_grace(&n->timing, now_s) && cur > 1 ? cur - 1 : 0;
    int rc = 0;

    if (cur == 0)
        return 0;
    /* Only the I/O thread writes the key set, so it may look without the
     * lock; the write lock is taken only when something changes. */
    bool change = k->cur_epoch != cur || k->grace_epoch != grace || !slot_find(k, cur) ||
                  !slot_find(k, cur + 1);
    for (int i = 0; i < NODE_KEY_SLOTS && !change; i++) {
        uint64_t e = k->slot[i].epoch;
        change = e && e != cur && e != cur + 1 && e != grace;
    }
    if (!change)
        return 0;
    pthread_rwlock_wrlock(&k->lock);
    for (int i = 0; i < NODE_KEY_SLOTS; i++) {
        uint64_t e = k->slot[i].epoch;
        if (e && e != cur && e != cur + 1 && e != grace)
            slot_expire(n, &k->slot[i]);
    }
    uint64_t want[3] = { cur, cur + 1, grace };
    for (int i = 0; i < 3; i++) {
        if (!want[i] || slot_find(k, want[i]))
            continue;
        struct node_key_slot *s = slot_empty(k);
        /* The grace key is only ever loaded (after a restart), never created. */
        if (!s || slot_load(n, s, want[i], i < 2) < 0) {
            if (i < 2)
                rc = -1;
        }
    }
    if (k->cur_epoch != cur && k->cur_epoch != 0)
        metric_inc(&n->metrics.key_rotations);
    k->cur_epoch = cur;
    k->grace_epoch = grace;
    pthread_rwlock_unlock(&k->lock);
    return rc;
}

/* Snapshots waiting to be written (one helper thread at a time writes them). */
struct replay_save {
    struct replay_save *next;
    uint8_t *buf;
    size_t len;
    char path[NODE_PATH_MAX + 64];
};

struct replay_saver {
    struct node *n;
    struct replay_save *list;
    uint64_t journal_gen; /* journal files up to it are covered once all are written */
};

/* true if every snapshot was written. */
static bool write_saves(struct replay_save *list)
{
    bool ok = true;
    while (list) {
        struct replay_save *next = list->next;
        enum replay_io io = replay_snapshot_write(list->buf, list->len, list->path);
        if (io != REPLAY_IO_OK) {
            log_warn("saving replay cache %s: %s", list->path, replay_io_strerror(io));
            ok = false;
        }
        free(list->buf);
        free(list);
        list = next;
    }
    return ok;
}

static void *saver_main(void *arg)
{
    struct replay_saver *sv = arg;
    if (write_saves(sv->list))
        node_journal_retire(sv->n, sv->journal_gen);
    atomic_store(&sv->n->replay_saving, false);
    free(sv);
    return NULL;
}

/* Until no helper thread is writing (it never takes long: one file per key). */
static void wait_saver(struct node *n)
{
    while (atomic_load(&n->replay_saving))
        usleep(1000);
}

void node_keys_save_replay(struct node *n, bool wait)
{
    char kp[NODE_PATH_MAX + 64];
    uint64_t size = 0;
    struct replay_save *list = NULL;

    /* The last save still writing (a slow disk): this round is skipped. */
    if (!wait && atomic_load(&n->replay_saving))
        return;
    if (wait)
        wait_saver(n);
    /* First a new journal file: every tag not in the snapshots below is in it. */
    uint64_t gen = node_journal_rotate(n);
    bool all = true;
    pthread_rwlock_rdlock(&n->keys.lock);
    for (int i = 0; i < NODE_KEY_SLOTS; i++) {
        struct node_key_slot *s = &n->keys.slot[i];
        if (!s->epoch)
            continue;
        struct replay_stats st;
        replay_cache_stats(s->replay, &st);
        size += st.size;
        /* An unchanged cache is not written again (it can be megabytes). */
        if (st.inserts == s->saved_inserts && s->saved_inserts != 0)
            continue;
        struct replay_save *sv = calloc(1, sizeof(*sv));
        if (!sv || replay_cache_snapshot(s->replay, &sv->buf, &sv->len) != REPLAY_IO_OK) {
            log_warn("no memory to save the replay cache of epoch %llu",
                     (unsigned long long)s->epoch);
            free(sv);
            all = false;
            continue;
        }
        epoch_paths(n, s->epoch, kp, sv->path, sizeof(kp));
        s->saved_inserts = st.inserts;
        sv->next = list;
        list = sv;
    }
    pthread_rwlock_unlock(&n->keys.lock);
    metric_set(&n->metrics.replay_size, size);
    if (!all)
        gen = 0;
    if (!list) {
        node_journal_retire(n, gen);
        return;
    }
    wait_saver(n);
    struct replay_saver *sv = wait ? NULL : malloc(sizeof(*sv));
    pthread_t t;
    pthread_attr_t attr;
    if (sv) {
        sv->n = n;
        sv->list = list;
        sv->journal_gen = gen;
        atomic_store(&n->replay_saving, true);
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&t, &attr, saver_main, sv);
        pthread_attr_destroy(&attr);
        if (rc == 0)
            return;
        atomic_store(&n->replay_saving, false);
        free(sv);
    }
    if (write_saves(list))
        node_journal_retire(n, gen);
}

bool node_keys_public(struct node *n, uint64_t epoch, uint8_t pk[static SPHINX_KEY_LEN])
{
    bool ok = false;
    pthread_rwlock_rdlock(&n->keys.lock);
    struct node_key_slot *s = slot_find(&n->keys, epoch);
    if (s) {
        memcpy(pk, s->pk, SPHINX_KEY_LEN);
        ok = true;
    }
    pthread_rwlock_unlock(&n->keys.lock);
    return ok;
}

void node_keys_free(struct node *n)
{
    for (int i = 0; i < NODE_KEY_SLOTS; i++)
        slot_clear(&n->keys.slot[i]);
    pthread_rwlock_destroy(&n->keys.lock);
    if (n->id_sk)
        sodium_free(n->id_sk);
    if (n->link_sk)
        sodium_free(n->link_sk);
    n->id_sk = n->link_sk = NULL;
}
