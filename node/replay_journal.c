/*
 * replay_journal: replay tags made durable before their packet leaves.
 *
 * Every fresh replay tag (lib/replay calls node_journal_append through the
 * cache's journal hook, in the worker that unwrapped the packet) is appended
 * with its epoch to an in-memory buffer and gets a sequence number.  A
 * syncer thread writes the buffer to DATA_DIR/replay.journal.<gen> and
 * fdatasync()s it every node.journal_interval (2 ms by default), in one
 * group for every tag that came in meanwhile, then publishes the highest
 * durable sequence number.  A packet whose tag is not durable yet does not
 * leave: the I/O thread holds it (mix.c) until the syncer's ev_async,
 * and a worker waits before storing into an inbox.  The mixing delay is
 * usually longer than the group interval, so forwarding is not slowed.
 *
 * The journal is emptied by the periodic save of the replay caches: the
 * save first rotates to a new file, then snapshots the caches; once every
 * snapshot is written, the older files are deleted (their tags are in the
 * snapshots).  At start, a slot's cache is loaded from its snapshot and then
 * from every journal file's records of its epoch.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "node.h"
#include "sched_hint.h"

#define REC_LEN (8 + REPLAY_TAG_LEN)
#define PREFIX "replay.journal."

struct node_journal {
    struct node *n;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* durable moved on, or stop */
    int fd;            /* current file (mu) */
    uint64_t gen;      /* its generation (mu) */
    int retired[8];    /* fds left by rotations, closed by the syncer (mu) */
    size_t n_retired;
    uint8_t *buf; /* records not written yet (mu) */
    size_t len, cap;
    uint64_t appended;            /* sequence of the last record appended (mu) */
    atomic_uint_fast64_t durable; /* sequence of the last record synced */
    bool stop, failed;
    unsigned interval_us;
    pthread_t thr;
};

static _Thread_local uint64_t last_seq;

uint64_t node_journal_last_seq(void)
{
    uint64_t s = last_seq;
    last_seq = 0;
    return s;
}

static void journal_path(const struct node *n, uint64_t gen, char *p, size_t cap)
{
    snprintf(p, cap, "%s/" PREFIX "%llu", n->conf.data_dir, (unsigned long long)gen);
}

/* Generations of the journal files in the data directory, via cb. */
static void each_file(struct node *n, void (*cb)(struct node *, uint64_t gen, void *), void *arg)
{
    DIR *d = opendir(n->conf.data_dir);
    struct dirent *e;
    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        char *end;
        if (strncmp(e->d_name, PREFIX, strlen(PREFIX)) != 0)
            continue;
        unsigned long long g = strtoull(e->d_name + strlen(PREFIX), &end, 10);
        if (*end == 0)
            cb(n, g, arg);
    }
    closedir(d);
}

static void max_gen_cb(struct node *n, uint64_t gen, void *arg)
{
    (void)n;
    if (gen > *(uint64_t *)arg)
        *(uint64_t *)arg = gen;
}

uint64_t node_journal_append(void *arg, const uint8_t tag[static REPLAY_TAG_LEN])
{
    struct node_jref *r = arg;
    struct node_journal *j = r->j;
    uint64_t seq;
    pthread_mutex_lock(&j->mu);
    if (j->len + REC_LEN > j->cap) {
        size_t nc = j->cap ? j->cap * 2 : 64 * REC_LEN;
        uint8_t *nb = realloc(j->buf, nc);
        if (!nb) {
            /* No memory: the tag is in the cache, only not durable; say so. */
            pthread_mutex_unlock(&j->mu);
            log_warn("replay journal: out of memory; a tag is not journaled");
            return 0;
        }
        j->buf = nb;
        j->cap = nc;
    }
    mix_put_be64(j->buf + j->len, r->epoch);
    memcpy(j->buf + j->len + 8, tag, REPLAY_TAG_LEN);
    j->len += REC_LEN;
    seq = ++j->appended;
    pthread_mutex_unlock(&j->mu);
    last_seq = seq;
    return seq;
}

/* One group: write what was appended, fdatasync, publish.  false on I/O error. */
static bool sync_once(struct node_journal *j)
{
    pthread_mutex_lock(&j->mu);
    for (size_t i = 0; i < j->n_retired; i++)
        close(j->retired[i]);
    j->n_retired = 0;
    if (j->len == 0) {
        pthread_mutex_unlock(&j->mu);
        return true;
    }
    uint8_t *buf = j->buf;
    size_t len = j->len;
    uint64_t seq = j->appended;
    int fd = j->fd;
    j->buf = NULL;
    j->len = j->cap = 0;
    pthread_mutex_unlock(&j->mu);

    bool ok = true;
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, buf + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            ok = false;
            break;
        }
        off += (size_t)w;
    }
    if (ok && fdatasync(fd) != 0)
        ok = false;
    free(buf);
    if (!ok && !j->failed)
        log_err("replay journal: write failed (%s); packets leave without a durable tag",
                strerror(errno));
    j->failed = !ok;
    /* Published even on failure: holding traffic forever would be worse. */
    pthread_mutex_lock(&j->mu);
    atomic_store(&j->durable, seq);
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    ev_async_send(j->n->loop, &j->n->journal_async);
    return ok;
}

static void *syncer_main(void *arg)
{
    struct node_journal *j = arg;
    struct timespec ts = { 0, (long)j->interval_us * 1000 };
    /* Like the workers: the kernel's default slice, whatever the parent had. */
    (void)mix_sched_default_slice();
    for (;;) {
        pthread_mutex_lock(&j->mu);
        bool stop = j->stop;
        pthread_mutex_unlock(&j->mu);
        (void)sync_once(j);
        if (stop)
            break;
        nanosleep(&ts, NULL);
    }
    return NULL;
}

int node_journal_start(struct node *n, char *err, size_t errlen)
{
    struct node_journal *j = calloc(1, sizeof(*j));
    char p[NODE_PATH_MAX + 64];
    uint64_t gen = 0;
    if (!j) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    j->n = n;
    j->interval_us = n->conf.journal_interval_us ? (unsigned)n->conf.journal_interval_us : 2000;
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    each_file(n, max_gen_cb, &gen);
    j->gen = gen + 1;
    journal_path(n, j->gen, p, sizeof(p));
    j->fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (j->fd < 0) {
        snprintf(err, errlen, "replay journal %s: %s", p, strerror(errno));
        free(j);
        return -1;
    }
    if (pthread_create(&j->thr, NULL, syncer_main, j) != 0) {
        snprintf(err, errlen, "replay journal: cannot start its thread");
        close(j->fd);
        free(j);
        return -1;
    }
    n->journal = j;
    return 0;
}

void node_journal_stop(struct node *n)
{
    struct node_journal *j = n->journal;
    if (!j)
        return;
    pthread_mutex_lock(&j->mu);
    j->stop = true;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    pthread_join(j->thr, NULL);
    for (size_t i = 0; i < j->n_retired; i++)
        close(j->retired[i]);
    close(j->fd);
    free(j->buf);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j);
    n->journal = NULL;
}

bool node_journal_durable(struct node *n, uint64_t seq)
{
    return !n->journal || seq == 0 || atomic_load(&n->journal->durable) >= seq;
}

void node_journal_wait(struct node *n, uint64_t seq)
{
    struct node_journal *j = n->journal;
    if (node_journal_durable(n, seq))
        return;
    pthread_mutex_lock(&j->mu);
    while (atomic_load(&j->durable) < seq && !j->stop)
        pthread_cond_wait(&j->cv, &j->mu);
    pthread_mutex_unlock(&j->mu);
}

uint64_t node_journal_rotate(struct node *n)
{
    struct node_journal *j = n->journal;
    char p[NODE_PATH_MAX + 64];
    if (!j)
        return 0;
    pthread_mutex_lock(&j->mu);
    uint64_t old = j->gen;
    journal_path(n, old + 1, p, sizeof(p));
    int fd = j->n_retired < MIX_ARRAY_LEN(j->retired)
                 ? open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)
                 : -1;
    if (fd < 0) {
        /* Keep the current file: nothing is retired this round. */
        pthread_mutex_unlock(&j->mu);
        return 0;
    }
    j->retired[j->n_retired++] = j->fd;
    j->fd = fd;
    j->gen = old + 1;
    pthread_mutex_unlock(&j->mu);
    return old;
}

static void retire_cb(struct node *n, uint64_t gen, void *arg)
{
    char p[NODE_PATH_MAX + 64];
    if (gen > *(uint64_t *)arg)
        return;
    journal_path(n, gen, p, sizeof(p));
    (void)unlink(p);
}

void node_journal_retire(struct node *n, uint64_t upto_gen)
{
    if (upto_gen)
        each_file(n, retire_cb, &upto_gen);
}

struct replay_arg {
    uint64_t epoch;
    struct replay_cache *c;
    size_t added;
};

static void replay_cb(struct node *n, uint64_t gen, void *arg)
{
    struct replay_arg *a = arg;
    char p[NODE_PATH_MAX + 64];
    uint8_t rec[REC_LEN];
    journal_path(n, gen, p, sizeof(p));
    FILE *f = fopen(p, "rb");
    if (!f)
        return;
    /* A torn last record (a crash mid-write) is ignored: it was never durable. */
    while (fread(rec, 1, sizeof(rec), f) == sizeof(rec))
        if (mix_get_be64(rec) == a->epoch && replay_cache_insert(a->c, rec + 8) != REPLAY_SEEN)
            a->added++;
    fclose(f);
}

size_t node_journal_load(struct node *n, uint64_t epoch, struct replay_cache *c)
{
    struct replay_arg a = { epoch, c, 0 };
    each_file(n, replay_cb, &a);
    return a.added;
}
