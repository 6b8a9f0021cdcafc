/*
 * client_status_api: the C API's message status on a live network
 * (tests/integration/client_status_api.sh).  Two clients on one loop, made
 * with mixclient_new() from two initialised configurations: a sends to b,
 * then mixclient_message_status() must give the sent and the received
 * message's state, fragments, direction, time, size and peer, and
 * mixclient_status() the same state and counts.  Uses only mixclient.h.
 *
 *     client_status_api CONF_A CONF_B TIMEOUT_S
 *
 * Exit 0 and "PASS", or 1 with the failed check on stdout.
 */
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mixclient.h"

#define BODY "status over the api"

struct run {
    struct mixclient *a, *b;
    char addr_b[MIXCLIENT_ADDRESS_SIZE];
    uint8_t id[MIXCLIENT_ID_LEN];
    bool sent, received;
    uint64_t t_send;
    double deadline;
    int rc;
};

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("FAIL: %s (line %d)\n", #cond, __LINE__);                                       \
            r->rc = 1;                                                                             \
        }                                                                                          \
    } while (0)

static void on_receive(void *ctx, const struct mixclient_message *m)
{
    struct run *r = ctx;
    if (r->sent && memcmp(m->id, r->id, MIXCLIENT_ID_LEN) == 0)
        r->received = true;
}

/* The status of the sent message (on a) and of the received one (on b). */
static void check_status(struct run *r)
{
    struct mixclient_status s;
    uint64_t now = (uint64_t)time(NULL);
    CHECK(mixclient_message_status(r->a, r->id, &s, sizeof(s)) == 0);
    printf("out: state %d %u/%u incoming %d time %llu size %llu peer %.12s...\n", (int)s.state,
           s.acked, s.fragments, (int)s.incoming, (unsigned long long)s.time,
           (unsigned long long)s.size, s.peer);
    CHECK(s.state == MIXCLIENT_ACKNOWLEDGED && s.fragments == 1 && s.acked == 1);
    CHECK(!s.incoming && s.size == strlen(BODY));
    CHECK(s.time + 1 >= r->t_send && s.time <= now);
    CHECK(strcmp(s.peer, r->addr_b) == 0);
    enum mixclient_state st;
    unsigned frags = 0, acked = 0;
    CHECK(mixclient_status(r->a, r->id, &st, &frags, &acked) == 0);
    CHECK(st == MIXCLIENT_ACKNOWLEDGED && frags == 1 && acked == 1);

    CHECK(mixclient_message_status(r->b, r->id, &s, sizeof(s)) == 0);
    printf("in: state %d %u/%u incoming %d time %llu size %llu peer \"%s\"\n", (int)s.state,
           s.acked, s.fragments, (int)s.incoming, (unsigned long long)s.time,
           (unsigned long long)s.size, s.peer);
    CHECK(s.state == MIXCLIENT_RECEIVED && s.incoming && s.size == strlen(BODY));
    CHECK(s.time + 1 >= r->t_send && s.time <= now && s.peer[0] == '\0');
    CHECK(mixclient_status(r->b, r->id, &st, &frags, &acked) == 0 && st == MIXCLIENT_RECEIVED);

    /* Only out_size bytes are written; a too small struct and an unknown id are refused. */
    struct {
        struct mixclient_status s;
        unsigned char tail[16];
    } big;
    memset(&big, 0xa5, sizeof(big));
    CHECK(mixclient_message_status(r->a, r->id, &big.s, sizeof(big.s)) == 0);
    for (size_t i = 0; i < sizeof(big.tail); i++)
        CHECK(big.tail[i] == 0xa5);
    CHECK(mixclient_message_status(r->a, r->id, &s, 8) == MIXCLIENT_E_INTERNAL);
    uint8_t unknown[MIXCLIENT_ID_LEN] = { 1, 2, 3 };
    CHECK(mixclient_message_status(r->a, unknown, &s, sizeof(s)) == MIXCLIENT_E_UNKNOWN_ID);
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct run *r = w->data;
    (void)revents;
    if (ev_now(loop) > r->deadline) {
        printf("FAIL: timed out (%s)\n", !r->sent ? "clients not connected" : "not delivered");
        r->rc = 1;
        ev_break(loop, EVBREAK_ALL);
        return;
    }
    if (!r->sent) {
        if (!mixclient_connected(r->a) || !mixclient_connected(r->b) || mixclient_epoch(r->a) == 0)
            return;
        mixclient_address(r->b, r->addr_b);
        r->t_send = (uint64_t)time(NULL);
        int e = mixclient_send(r->a, r->addr_b, BODY, strlen(BODY), 0, r->id);
        if (e != 0) {
            printf("send: %s\n", mixclient_errmsg(r->a));
            return;
        }
        r->sent = true;
        return;
    }
    struct mixclient_status s;
    if (!r->received || mixclient_message_status(r->a, r->id, &s, sizeof(s)) != 0 ||
        s.state != MIXCLIENT_ACKNOWLEDGED)
        return;
    check_status(r);
    ev_break(loop, EVBREAK_ALL);
}

int main(int argc, char **argv)
{
    char err[512];
    struct run run = { .rc = 0 };
    struct run *r = &run;
    struct ev_loop *loop = ev_default_loop(0);
    if (argc != 4) {
        fprintf(stderr, "usage: client_status_api CONF_A CONF_B TIMEOUT_S\n");
        return 2;
    }
    r->a = mixclient_new(argv[1], loop, err, sizeof(err));
    r->b = r->a ? mixclient_new(argv[2], loop, err, sizeof(err)) : NULL;
    if (r->b == NULL) {
        printf("FAIL: mixclient_new: %s\n", err);
        return 1;
    }
    mixclient_on_receive(r->b, on_receive, r);
    r->deadline = ev_now(loop) + atof(argv[3]);
    ev_timer t;
    ev_timer_init(&t, on_tick, 0.1, 0.1);
    t.data = r;
    ev_timer_start(loop, &t);
    ev_run(loop, 0);
    ev_timer_stop(loop, &t);
    mixclient_free(r->a);
    mixclient_free(r->b);
    if (r->rc == 0)
        printf("PASS\n");
    return r->rc;
}
