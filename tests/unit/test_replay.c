/*
 * Replay cache: insert and lookup, FIFO eviction at capacity, save and load,
 * corrupt and foreign files, and concurrent use.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

#include "replay.h"
#include "replay_file.h"
#include "tap.h"

static char dir[] = "/tmp/test_replay_XXXXXX";

static void tag_of(uint8_t tag[REPLAY_TAG_LEN], uint32_t i)
{
    /* Distinct, uniformly spread tags, like real ones. */
    uint8_t in[4];
    mix_put_be32(in, i);
    crypto_generichash(tag, REPLAY_TAG_LEN, in, sizeof in, NULL, 0);
}

static void path_of(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", dir, name);
}

static void test_basic(void)
{
    uint8_t kid[32] = { 1 }, t1[16], t2[16], got[32];
    tag_of(t1, 1);
    tag_of(t2, 2);
    CHECK(replay_cache_new(0, kid) == NULL);
    CHECK(replay_cache_new(REPLAY_MAX_CAPACITY + 1, kid) == NULL);
    replay_cache_free(NULL);
    struct replay_cache *c = replay_cache_new(10, kid);
    CHECK(c != NULL);
    CHECK(!replay_cache_contains(c, t1));
    CHECK(replay_cache_insert(c, t1) == REPLAY_FRESH);
    CHECK(replay_cache_contains(c, t1));
    CHECK(!replay_cache_contains(c, t2));
    CHECK(replay_cache_insert(c, t1) == REPLAY_SEEN);
    CHECK(replay_cache_insert(c, t2) == REPLAY_FRESH);
    struct replay_stats s;
    replay_cache_stats(c, &s);
    CHECK(s.size == 2 && s.capacity == 10 && s.inserts == 2 && s.hits == 1 && s.evictions == 0);
    replay_cache_key_id(c, got);
    CHECK_EQ_MEM(got, kid, 32);
    replay_cache_free(c);
    c = replay_cache_new(1, NULL);
    replay_cache_key_id(c, got);
    CHECK(sodium_is_zero(got, 32));
    replay_cache_free(c);
}

/* When full, the oldest tag goes first; evictions are counted. */
/* The journal hook sees every fresh tag once, and no replay. */
static uint64_t hook_calls;
static uint8_t hook_last[REPLAY_TAG_LEN];
static uint64_t hook(void *arg, const uint8_t tag[static REPLAY_TAG_LEN])
{
    CHECK(arg == &hook_calls);
    memcpy(hook_last, tag, REPLAY_TAG_LEN);
    return ++hook_calls;
}

static void test_journal_hook(void)
{
    uint8_t kid[32] = { 2 }, t1[16], t2[16];
    tag_of(t1, 11);
    tag_of(t2, 12);
    struct replay_cache *c = replay_cache_new(10, kid);
    CHECK(c != NULL);
    CHECK(replay_cache_insert(c, t1) == REPLAY_FRESH);
    replay_cache_set_journal(c, hook, &hook_calls);
    CHECK(replay_cache_insert(c, t1) == REPLAY_SEEN);
    CHECK(hook_calls == 0);
    CHECK(replay_cache_insert(c, t2) == REPLAY_FRESH);
    CHECK(hook_calls == 1 && memcmp(hook_last, t2, 16) == 0);
    CHECK(replay_cache_insert(c, t2) == REPLAY_SEEN);
    CHECK(hook_calls == 1);
    replay_cache_set_journal(c, NULL, NULL);
    tag_of(t1, 13);
    CHECK(replay_cache_insert(c, t1) == REPLAY_FRESH);
    CHECK(hook_calls == 1);
    replay_cache_free(c);
}

static void test_eviction(void)
{
    uint8_t t[6][16];
    for (uint32_t i = 0; i < 6; i++)
        tag_of(t[i], i);
    struct replay_cache *c = replay_cache_new(3, NULL);
    CHECK(replay_cache_insert(c, t[0]) == REPLAY_FRESH);
    CHECK(replay_cache_insert(c, t[1]) == REPLAY_FRESH);
    CHECK(replay_cache_insert(c, t[2]) == REPLAY_FRESH);
    CHECK(replay_cache_insert(c, t[3]) == REPLAY_FRESH_EVICTED);
    CHECK(!replay_cache_contains(c, t[0]));
    CHECK(replay_cache_contains(c, t[1]) && replay_cache_contains(c, t[3]));
    CHECK(replay_cache_insert(c, t[1]) == REPLAY_SEEN); /* a hit does not refresh */
    CHECK(replay_cache_insert(c, t[0]) == REPLAY_FRESH_EVICTED);
    CHECK(!replay_cache_contains(c, t[1]));
    CHECK(replay_cache_size(c) == 3);
    CHECK(replay_cache_evictions(c) == 2);
    CHECK(replay_cache_hits(c) == 1);
    replay_cache_free(c);

    /* Many tags: exactly the newest `capacity` remain. */
    c = replay_cache_new(10000, NULL);
    uint8_t tag[16];
    size_t wrong = 0;
    for (uint32_t i = 0; i < 25000; i++) {
        tag_of(tag, 100 + i);
        if (replay_cache_insert(c, tag) != (i < 10000 ? REPLAY_FRESH : REPLAY_FRESH_EVICTED))
            wrong++;
    }
    CHECK(wrong == 0);
    for (uint32_t i = 0; i < 25000; i++) {
        tag_of(tag, 100 + i);
        if (replay_cache_contains(c, tag) != (i >= 15000))
            wrong++;
    }
    CHECKF(wrong == 0, "%zu tags misplaced", wrong);
    CHECK(replay_cache_size(c) == 10000 && replay_cache_evictions(c) == 15000);
    replay_cache_free(c);
}

static void test_save_load(void)
{
    uint8_t kid[32] = { 2 }, other[32] = { 3 }, tag[16];
    char path[128], tmp[140];
    path_of(path, sizeof path, "cache");
    struct replay_cache *c = replay_cache_new(100, kid);
    for (uint32_t i = 0; i < 150; i++) { /* 50 evicted */
        tag_of(tag, i);
        CHECK(replay_cache_insert(c, tag) != REPLAY_SEEN);
    }
    CHECK(replay_cache_insert(c, tag) == REPLAY_SEEN);
    CHECK(replay_cache_save(c, path) == REPLAY_IO_OK);
    replay_cache_free(c);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(access(tmp, F_OK) != 0); /* renamed into place */
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK(st.st_size == 80 + 100 * 16 + 32);

    struct replay_cache *l = NULL;
    CHECK(replay_cache_load(path, kid, 100, &l) == REPLAY_IO_OK);
    CHECK(l != NULL);
    if (l == NULL)
        return;
    struct replay_stats s;
    replay_cache_stats(l, &s);
    CHECK(s.size == 100 && s.inserts == 150 && s.hits == 1 && s.evictions == 50);
    size_t wrong = 0;
    for (uint32_t i = 0; i < 150; i++) {
        tag_of(tag, i);
        if (replay_cache_contains(l, tag) != (i >= 50))
            wrong++;
    }
    CHECK(wrong == 0);
    /* FIFO order survives: the next insert evicts tag 50, the oldest kept. */
    tag_of(tag, 1000);
    CHECK(replay_cache_insert(l, tag) == REPLAY_FRESH_EVICTED);
    tag_of(tag, 50);
    CHECK(!replay_cache_contains(l, tag));
    tag_of(tag, 51);
    CHECK(replay_cache_contains(l, tag));
    replay_cache_free(l);

    /* A smaller capacity keeps the newest and counts the rest. */
    CHECK(replay_cache_load(path, kid, 30, &l) == REPLAY_IO_OK);
    if (l != NULL) {
        CHECK(replay_cache_size(l) == 30 && replay_cache_evictions(l) == 50 + 70);
        tag_of(tag, 149);
        CHECK(replay_cache_contains(l, tag));
        tag_of(tag, 119);
        CHECK(!replay_cache_contains(l, tag));
    }
    replay_cache_free(l);

    /* Another key's file is refused. */
    l = (struct replay_cache *)1;
    CHECK(replay_cache_load(path, other, 100, &l) == REPLAY_IO_ERR_KEY);
    CHECK(l == NULL);
    CHECK(replay_cache_load(path, kid, 0, &l) == REPLAY_IO_ERR_ARG);
    path_of(tmp, sizeof tmp, "missing");
    CHECK(replay_cache_load(tmp, kid, 100, &l) == REPLAY_IO_ERR_OPEN);

    /* An empty cache saves and loads too. */
    c = replay_cache_new(5, kid);
    CHECK(replay_cache_save(c, path) == REPLAY_IO_OK);
    replay_cache_free(c);
    CHECK(replay_cache_load(path, kid, 5, &l) == REPLAY_IO_OK);
    CHECK(l != NULL && replay_cache_size(l) == 0);
    replay_cache_free(l);
    unlink(path);
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    uint8_t *buf = malloc(1 << 16);
    *len = fread(buf, 1, 1 << 16, f);
    fclose(f);
    return buf;
}

static void spit(const char *path, const uint8_t *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return;
    CHECK(fwrite(buf, 1, len, f) == len);
    fclose(f);
}

/* Every corruption is a clear error, never a crash or a silent load. */
static void test_corrupt(void)
{
    uint8_t kid[32] = { 4 }, tag[16];
    char path[128], bad[128];
    path_of(path, sizeof path, "good");
    path_of(bad, sizeof bad, "bad");
    struct replay_cache *c = replay_cache_new(50, kid), *l = NULL;
    for (uint32_t i = 0; i < 20; i++) {
        tag_of(tag, i);
        CHECK(replay_cache_insert(c, tag) == REPLAY_FRESH);
    }
    CHECK(replay_cache_save(c, path) == REPLAY_IO_OK);
    replay_cache_free(c);
    size_t len = 0;
    uint8_t *img = slurp(path, &len), *mod = malloc(len);
    CHECK(img != NULL && len == 80 + 20 * 16 + 32);
    if (img == NULL)
        return;
    /* Flip one bit anywhere: magic/version give FORMAT, the rest CHECKSUM. */
    size_t unexpected = 0;
    for (size_t i = 0; i < len; i++) {
        memcpy(mod, img, len);
        mod[i] ^= 0x10;
        spit(bad, mod, len);
        enum replay_io want = i < 12 ? REPLAY_IO_ERR_FORMAT : REPLAY_IO_ERR_CHECKSUM;
        enum replay_io got = replay_cache_load(bad, kid, 50, &l);
        if (got != want || l != NULL)
            unexpected++;
    }
    CHECKF(unexpected == 0, "%zu corruptions not reported", unexpected);
    /* Truncations: too short is FORMAT, else the checksum no longer matches. */
    for (size_t cut = 0; cut < len; cut += 7) {
        spit(bad, img, cut);
        enum replay_io got = replay_cache_load(bad, kid, 50, &l);
        CHECK(got == REPLAY_IO_ERR_FORMAT || got == REPLAY_IO_ERR_CHECKSUM);
        CHECK(l == NULL);
    }
    /* A count that disagrees with the length, checksum made valid. */
    memcpy(mod, img, len);
    mix_put_be64(mod + 48, 21);
    crypto_generichash(mod + len - 32, 32, mod, len - 32, NULL, 0);
    spit(bad, mod, len);
    CHECK(replay_cache_load(bad, kid, 50, &l) == REPLAY_IO_ERR_FORMAT);
    /* Another version number. */
    memcpy(mod, img, len);
    mix_put_be32(mod + 8, 2);
    crypto_generichash(mod + len - 32, 32, mod, len - 32, NULL, 0);
    spit(bad, mod, len);
    CHECK(replay_cache_load(bad, kid, 50, &l) == REPLAY_IO_ERR_FORMAT);
    CHECK(strstr(replay_io_strerror(REPLAY_IO_ERR_CHECKSUM), "corrupt") != NULL);
    CHECK(replay_io_strerror((enum replay_io)99) != NULL);
    /* Saving into a missing directory fails cleanly. */
    c = replay_cache_new(5, kid);
    CHECK(replay_cache_save(c, "/nonexistent-dir/x/cache") == REPLAY_IO_ERR_OPEN);
    replay_cache_free(c);
    free(img);
    free(mod);
    unlink(path);
    unlink(bad);
}

struct worker {
    struct replay_cache *c;
    unsigned fresh, seen;
};

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    uint8_t tag[16];
    for (uint32_t i = 0; i < 5000; i++) {
        tag_of(tag, i);
        if (replay_cache_insert(w->c, tag) == REPLAY_SEEN)
            w->seen++;
        else
            w->fresh++;
    }
    return NULL;
}

/* Four threads insert the same tags: each is fresh exactly once. */
static void test_threads(void)
{
    struct replay_cache *c = replay_cache_new(10000, NULL);
    struct worker w[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){ c, 0, 0 };
        CHECK(pthread_create(&th[i], NULL, worker_run, &w[i]) == 0);
    }
    unsigned fresh = 0, seen = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        fresh += w[i].fresh;
        seen += w[i].seen;
    }
    CHECK(fresh == 5000 && seen == 15000);
    CHECK(replay_cache_size(c) == 5000 && replay_cache_hits(c) == 15000);
    replay_cache_free(c);
}

int main(void)
{
    if (sodium_init() < 0 || mkdtemp(dir) == NULL)
        return 1;
    RUN(test_basic);
    RUN(test_eviction);
    RUN(test_journal_hook);
    RUN(test_save_load);
    RUN(test_corrupt);
    RUN(test_threads);
    rmdir(dir);
    return tap_done();
}
