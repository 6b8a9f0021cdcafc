/*
 * Unit tests for node/inbox (the provider's LMDB store): put, fetch, ack,
 * limits, expiry, persistence across reopen, bad arguments.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "inbox.h"
#include "tap.h"

static char dir[256];

static struct inbox_store *open_store(uint32_t max_inboxes, uint32_t per_inbox, uint64_t age)
{
    struct inbox_limits l;
    char err[256];
    inbox_limits_default(&l);
    l.max_inboxes = max_inboxes;
    l.max_per_inbox = per_inbox;
    l.max_age_s = age;
    l.map_size = 8u << 20;
    struct inbox_store *s = inbox_open(dir, &l, err, sizeof(err));
    if (!s)
        printf("# open: %s\n", err);
    return s;
}

static void fresh_dir(void)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        printf("# rm failed\n");
}

static void test_put_fetch_ack(void)
{
    uint8_t a[32], b[32], sid[16];
    struct inbox_msg *m = NULL;
    size_t n = 0, del = 0;
    uint32_t rem = 0;
    uint64_t seq = 0;

    fresh_dir();
    struct inbox_store *s = open_store(10, 10, 3600);
    CHECK(s != NULL);
    memset(a, 1, 32);
    memset(b, 2, 32);
    memset(sid, 7, 16);
    CHECK(inbox_put(s, a, (const uint8_t *)"x", 1, NULL, false, 100, NULL) == INBOX_NO_INBOX);
    CHECK(inbox_create(s, a, 100) == INBOX_OK);
    CHECK(inbox_create(s, a, 100) == INBOX_OK);
    CHECK(inbox_create(s, b, 100) == INBOX_OK);
    CHECK(inbox_put(s, a, (const uint8_t *)"first", 5, NULL, false, 100, &seq) == INBOX_OK);
    CHECK(seq == 1);
    CHECK(inbox_put(s, a, (const uint8_t *)"second", 6, sid, true, 101, &seq) == INBOX_OK);
    CHECK(seq == 2);
    CHECK(inbox_put(s, b, (const uint8_t *)"other", 5, NULL, false, 101, NULL) == INBOX_OK);
    CHECK(inbox_count(s, a) == 2);
    CHECK(inbox_fetch(s, a, 1, &m, &n, &rem) == INBOX_OK);
    CHECK(n == 1 && rem == 1);
    CHECK(n == 1 && m[0].seq == 1 && m[0].payload_len == 5 &&
          memcmp(m[0].payload, "first", 5) == 0);
    inbox_msgs_free(m, n);
    CHECK(inbox_fetch(s, a, 10, &m, &n, &rem) == INBOX_OK);
    CHECK(n == 2 && rem == 0);
    CHECK(n == 2 && m[1].is_reply && memcmp(m[1].surb_id, sid, 16) == 0 && !m[0].is_reply);
    inbox_msgs_free(m, n);
    uint64_t seqs[3] = { 1, 99, 2 };
    CHECK(inbox_ack(s, a, seqs, 3, &del) == INBOX_OK);
    CHECK(del == 2);
    CHECK(inbox_count(s, a) == 0);
    CHECK(inbox_count(s, b) == 1);
    CHECK(inbox_fetch(s, a, 10, &m, &n, &rem) == INBOX_OK && n == 0 && m == NULL);
    /* Sequence numbers keep growing after deletes (no reuse of acked seqs). */
    CHECK(inbox_put(s, a, (const uint8_t *)"third", 5, NULL, false, 102, &seq) == INBOX_OK);
    CHECK(seq == 3);
    inbox_close(s);
}

static void test_limits(void)
{
    uint8_t a[32], c[32], big[70000];
    fresh_dir();
    struct inbox_store *s = open_store(2, 3, 3600);
    memset(a, 1, 32);
    CHECK(inbox_create(s, a, 1) == INBOX_OK);
    memset(c, 3, 32);
    CHECK(inbox_create(s, c, 1) == INBOX_OK);
    c[0] = 4;
    CHECK(inbox_create(s, c, 1) == INBOX_TOO_MANY);
    for (int i = 0; i < 3; i++)
        CHECK(inbox_put(s, a, (const uint8_t *)"m", 1, NULL, false, 1, NULL) == INBOX_OK);
    CHECK(inbox_put(s, a, (const uint8_t *)"m", 1, NULL, false, 1, NULL) == INBOX_FULL);
    memset(big, 0, sizeof(big));
    CHECK(inbox_put(s, a, big, sizeof(big), NULL, false, 1, NULL) == INBOX_ERR_ARG);
    CHECK(inbox_put(s, a, big, 0, NULL, false, 1, NULL) == INBOX_ERR_ARG);
    CHECK(inbox_put(NULL, a, big, 1, NULL, false, 1, NULL) == INBOX_ERR_ARG);
    CHECK(strcmp(inbox_strerror(INBOX_FULL), "inbox full") == 0);
    inbox_close(s);
    inbox_close(NULL);
}

/* Empty inboxes unused for unused_s go; used or non-empty ones stay. */
static void test_unused_expiry(void)
{
    uint8_t a[32], b[32], c[32];
    size_t del = 0;
    uint64_t boxes, msgs;
    fresh_dir();
    struct inbox_store *s = open_store(10, 100, 1000000);
    CHECK(s != NULL);
    memset(a, 1, 32);
    memset(b, 2, 32);
    memset(c, 3, 32);
    /* default unused_s: 30 days */
    CHECK(inbox_create(s, a, 1000) == INBOX_OK);
    CHECK(inbox_create(s, b, 1000) == INBOX_OK);
    CHECK(inbox_create(s, c, 1000) == INBOX_OK);
    CHECK(inbox_put(s, c, (const uint8_t *)"kept", 4, NULL, false, 1000, NULL) == INBOX_OK);
    /* b is used again 20 days later: its "last used" moves on. */
    CHECK(inbox_create(s, b, 1000 + 20 * 86400) == INBOX_OK);
    CHECK(inbox_expire_unused(s, 1000 + 30 * 86400 - 1, &del) == INBOX_OK && del == 0);
    CHECK(inbox_expire_unused(s, 1000 + 31 * 86400, &del) == INBOX_OK && del == 1);
    CHECK(!inbox_exists(s, a) && inbox_exists(s, b) && inbox_exists(s, c));
    inbox_totals(s, &boxes, &msgs);
    CHECK(boxes == 2 && msgs == 1);
    /* Room again for a new inbox. */
    CHECK(inbox_create(s, a, 1000 + 31 * 86400) == INBOX_OK);
    inbox_close(s);
}

static void test_expiry_and_reopen(void)
{
    uint8_t a[32];
    size_t del = 0;
    uint64_t boxes, msgs;
    fresh_dir();
    struct inbox_store *s = open_store(10, 100, 60);
    memset(a, 9, 32);
    CHECK(inbox_create(s, a, 1000) == INBOX_OK);
    CHECK(inbox_put(s, a, (const uint8_t *)"old1", 4, NULL, false, 1000, NULL) == INBOX_OK);
    CHECK(inbox_put(s, a, (const uint8_t *)"old2", 4, NULL, false, 1010, NULL) == INBOX_OK);
    CHECK(inbox_put(s, a, (const uint8_t *)"new", 3, NULL, false, 1100, NULL) == INBOX_OK);
    inbox_close(s);
    /* Durable: a new process (here: a reopen) sees what was committed. */
    s = open_store(10, 100, 60);
    CHECK(inbox_count(s, a) == 3);
    CHECK(inbox_expire(s, 1075, &del) == INBOX_OK);
    CHECK(del == 2);
    CHECK(inbox_count(s, a) == 1);
    CHECK(inbox_expire(s, 1075, &del) == INBOX_OK && del == 0);
    inbox_totals(s, &boxes, &msgs);
    CHECK(boxes == 1 && msgs == 1);
    struct inbox_msg *m;
    size_t n;
    CHECK(inbox_fetch(s, a, 10, &m, &n, NULL) == INBOX_OK);
    CHECK(n == 1 && memcmp(m[0].payload, "new", 3) == 0);
    inbox_msgs_free(m, n);
    inbox_close(s);
    fresh_dir();
}

/*
 * Group commit: one transaction for several messages; a message refused on
 * its own (inbox full, no inbox, bad length) keeps its error and the others
 * are stored, in order, and survive a reopen.
 */
static void test_put_many(void)
{
    uint8_t a[32], b[32], none[32], big[70000];
    struct inbox_put_req r[6];
    struct inbox_msg *m = NULL;
    size_t n = 0;

    fresh_dir();
    struct inbox_store *s = open_store(10, 2, 3600);
    CHECK(s != NULL);
    memset(a, 1, 32);
    memset(b, 2, 32);
    memset(none, 3, 32);
    memset(big, 0, sizeof(big));
    CHECK(inbox_create(s, a, 100) == INBOX_OK);
    CHECK(inbox_create(s, b, 100) == INBOX_OK);
    uint64_t c0 = inbox_commits(s);
    const uint8_t *ids[6] = { a, none, a, b, a, b };
    const char *txt[6] = { "a1", "x", "a2", "b1", "a3", "b2" };
    memset(r, 0, sizeof(r));
    for (int i = 0; i < 6; i++) {
        r[i].id = ids[i];
        r[i].payload = (const uint8_t *)txt[i];
        r[i].len = 2;
        r[i].now = 100;
    }
    r[5].payload = big;
    r[5].len = sizeof(big);
    CHECK(inbox_put_many(s, r, 6) == INBOX_OK);
    CHECK(r[0].rc == INBOX_OK && r[0].seq == 1);
    CHECK(r[1].rc == INBOX_NO_INBOX);
    CHECK(r[2].rc == INBOX_OK && r[2].seq == 2);
    CHECK(r[3].rc == INBOX_OK && r[3].seq == 1);
    CHECK(r[4].rc == INBOX_FULL);
    CHECK(r[5].rc == INBOX_ERR_ARG);
    CHECK(inbox_commits(s) == c0 + 1);
    /* Nothing to store: no transaction committed. */
    CHECK(inbox_put_many(s, &r[4], 1) == INBOX_OK && r[4].rc == INBOX_FULL);
    CHECK(inbox_commits(s) == c0 + 1);
    inbox_close(s);
    s = open_store(10, 2, 3600);
    CHECK(s != NULL);
    CHECK(inbox_fetch(s, a, 10, &m, &n, NULL) == INBOX_OK);
    CHECK(n == 2 && m[0].payload_len == 2 && memcmp(m[0].payload, "a1", 2) == 0 &&
          memcmp(m[1].payload, "a2", 2) == 0);
    inbox_msgs_free(m, n);
    CHECK(inbox_count(s, b) == 1);
    inbox_close(s);
}

/* Acknowledgements of several inboxes in one commit; an unknown inbox is its own error. */
static void test_ack_many(void)
{
    uint8_t a[32], b[32], none[32];
    uint64_t sa[2] = { 1, 3 }, sb[1] = { 2 }, sn[1] = { 1 };
    struct inbox_ack_req r[3];

    fresh_dir();
    struct inbox_store *s = open_store(10, 10, 3600);
    CHECK(s != NULL);
    memset(a, 1, 32);
    memset(b, 2, 32);
    memset(none, 3, 32);
    CHECK(inbox_create(s, a, 100) == INBOX_OK);
    CHECK(inbox_create(s, b, 100) == INBOX_OK);
    for (int i = 0; i < 3; i++) {
        CHECK(inbox_put(s, a, (const uint8_t *)"m", 1, NULL, false, 100, NULL) == INBOX_OK);
        CHECK(inbox_put(s, b, (const uint8_t *)"m", 1, NULL, false, 100, NULL) == INBOX_OK);
    }
    uint64_t c0 = inbox_commits(s);
    memset(r, 0, sizeof(r));
    r[0] = (struct inbox_ack_req){ .id = a, .seqs = sa, .n = 2 };
    r[1] = (struct inbox_ack_req){ .id = none, .seqs = sn, .n = 1 };
    r[2] = (struct inbox_ack_req){ .id = b, .seqs = sb, .n = 1 };
    CHECK(inbox_ack_many(s, r, 3) == INBOX_OK);
    CHECK(r[0].rc == INBOX_OK && r[0].deleted == 2);
    CHECK(r[1].rc == INBOX_NO_INBOX && r[1].deleted == 0);
    CHECK(r[2].rc == INBOX_OK && r[2].deleted == 1);
    CHECK(inbox_commits(s) == c0 + 1);
    /* A group without acks makes no transaction; the marker commit does one, and keeps no
       message of any inbox from being fetched. */
    r[0] = (struct inbox_ack_req){ .id = a, .seqs = NULL, .n = 0 };
    CHECK(inbox_ack_many(s, r, 1) == INBOX_OK && r[0].rc == INBOX_OK);
    CHECK(inbox_commits(s) == c0 + 1);
    CHECK(inbox_commit_marker(s) == INBOX_OK && inbox_commit_marker(s) == INBOX_OK);
    CHECK(inbox_commits(s) == c0 + 3);
    inbox_close(s);
    s = open_store(10, 10, 3600);
    CHECK(s != NULL);
    CHECK(inbox_count(s, a) == 1 && inbox_count(s, b) == 2);
    CHECK(inbox_commit_marker(s) == INBOX_OK);
    struct inbox_msg *got = NULL;
    size_t n_got = 0;
    CHECK(inbox_fetch(s, b, 10, &got, &n_got, NULL) == INBOX_OK && n_got == 2);
    inbox_msgs_free(got, n_got);
    inbox_close(s);
}

static void test_open_error(void)
{
    char err[256] = "";
    struct inbox_store *s = inbox_open("/proc/definitely/not/here", NULL, err, sizeof(err));
    CHECK(s == NULL);
    CHECK(strlen(err) > 0);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    snprintf(dir, sizeof(dir), "/tmp/test_node_inbox.%d", (int)getpid());
    RUN(test_put_fetch_ack);
    RUN(test_limits);
    RUN(test_expiry_and_reopen);
    RUN(test_unused_expiry);
    RUN(test_put_many);
    RUN(test_ack_many);
    RUN(test_open_error);
    return tap_done();
}
