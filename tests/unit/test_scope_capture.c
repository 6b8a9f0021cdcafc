/*
 * mixscope's capture side on synthesized frames: Noise message framing over
 * TCP reassembly (split and merged messages, retransmission, out-of-order
 * segments, holes that are skipped and counted, connections seen
 * mid-stream), bad frames, bounded memory; and the statistics it reports.
 */
#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tap.h"
#include "../../scope/analyse.h"
#include "../../scope/capture.h"
#include "../../scope/entropy.h"
#include "../../scope/stats.h"
#include "../../scope/simcmp.h"
#include "../../scope/truth.h"

#define MAXM 4096
static struct cap_msg got[MAXM];
static size_t ngot;
static struct cap_ep listener;

static void on_msg(void *ctx, const struct cap_msg *m)
{
    (void)ctx;
    if (ngot < MAXM)
        got[ngot++] = *m;
}

static bool is_listener(void *ctx, const struct cap_ep *ep)
{
    (void)ctx;
    return cap_ep_equal(ep, &listener);
}

static struct cap *fresh(void)
{
    ngot = 0;
    cap_ep_parse("10.0.0.1:7100", &listener);
    struct cap_hooks h = { .on_msg = on_msg, .is_listener = is_listener };
    return cap_new(&h);
}

/* An IPv4/TCP frame (link type RAW) from 10.0.0.2:port to the listener, or back. */
static size_t frame(uint8_t *buf, bool to_listener, uint16_t port, uint32_t seq, uint8_t flags,
                    const uint8_t *pay, size_t n)
{
    uint8_t a[4] = { 10, 0, 0, 2 }, b[4] = { 10, 0, 0, 1 };
    size_t tot = 20 + 20 + n;
    memset(buf, 0, 40);
    buf[0] = 0x45;
    buf[2] = (uint8_t)(tot >> 8);
    buf[3] = (uint8_t)tot;
    buf[8] = 64;
    buf[9] = 6;
    memcpy(buf + 12, to_listener ? a : b, 4);
    memcpy(buf + 16, to_listener ? b : a, 4);
    uint8_t *t = buf + 20;
    uint16_t sp = to_listener ? port : 7100, dp = to_listener ? 7100 : port;
    t[0] = (uint8_t)(sp >> 8), t[1] = (uint8_t)sp, t[2] = (uint8_t)(dp >> 8), t[3] = (uint8_t)dp;
    t[4] = (uint8_t)(seq >> 24), t[5] = (uint8_t)(seq >> 16), t[6] = (uint8_t)(seq >> 8);
    t[7] = (uint8_t)seq;
    t[12] = 5 << 4;
    t[13] = flags;
    if (n > 0)
        memcpy(buf + 40, pay, n);
    return tot;
}

static uint8_t fbuf[70000];

static void send_seg(struct cap *c, int64_t t, bool to_l, uint16_t port, uint32_t seq,
                     uint8_t flags, const uint8_t *pay, size_t n)
{
    size_t len = frame(fbuf, to_l, port, seq, flags, pay, n);
    cap_frame(c, CAP_DLT_RAW, t, fbuf, len, len);
}

/* A stream of messages of the given sizes, each length-prefixed. */
static size_t stream(uint8_t *out, const uint32_t *sizes, size_t n)
{
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        out[pos] = (uint8_t)(sizes[i] >> 8);
        out[pos + 1] = (uint8_t)sizes[i];
        memset(out + pos + 2, 0xab, sizes[i]);
        pos += 2 + sizes[i];
    }
    return pos;
}

static uint8_t sbuf[1 << 20];

static void test_in_order_split_and_merged(void)
{
    struct cap *c = fresh();
    send_seg(c, 1, true, 40000, 999, 0x02, NULL, 0);   /* SYN */
    send_seg(c, 2, false, 40000, 4999, 0x12, NULL, 0); /* SYN+ACK */
    uint32_t sizes[] = { 98, 2467, 24, 81 };
    size_t n = stream(sbuf, sizes, 4);
    send_seg(c, 3, true, 40000, 1000, 0x18, sbuf, 100);             /* the handshake */
    send_seg(c, 4, true, 40000, 1100, 0x18, sbuf + 100, 1000);      /* half of 2467 */
    send_seg(c, 5, true, 40000, 2100, 0x18, sbuf + 1100, n - 1100); /* rest and two more */
    CHECKF(ngot == 4, "%zu messages", ngot);
    for (size_t i = 0; i < ngot && i < 4; i++)
        CHECKF(got[i].size == sizes[i], "msg %zu size %u", i, got[i].size);
    CHECK(got[0].handshake && !got[1].handshake);
    CHECK(got[1].t_ns == 4 && got[2].t_ns == 5);
    CHECK(got[0].from_initiator);
    CHECK(cap_stats(c)->conns_syn == 1);
    cap_free(c);
}

static void test_retransmit_and_reorder(void)
{
    struct cap *c = fresh();
    send_seg(c, 1, true, 40001, 0, 0x02, NULL, 0);
    uint32_t sizes[] = { 98, 100, 200, 300 };
    size_t n = stream(sbuf, sizes, 4);
    (void)n;
    send_seg(c, 2, true, 40001, 1, 0x18, sbuf, 100);
    send_seg(c, 3, true, 40001, 1, 0x18, sbuf, 100);             /* retransmitted */
    send_seg(c, 4, true, 40001, 1 + 202, 0x18, sbuf + 202, 202); /* ahead of a hole */
    CHECK(ngot == 1);
    send_seg(c, 5, true, 40001, 1 + 100, 0x18, sbuf + 100, 102); /* fills it */
    send_seg(c, 6, true, 40001, 1 + 300, 0x18, sbuf + 300, 406); /* overlaps what was seen */
    CHECKF(ngot == 4, "%zu", ngot);
    CHECK(ngot == 4 && got[1].size == 100 && got[2].size == 200 && got[3].size == 300);
    CHECK(cap_stats(c)->retransmitted == 2);
    CHECK(cap_stats(c)->out_of_order == 1);
    CHECK(cap_stats(c)->gaps == 0);
    CHECK(cap_held_bytes(c) == 0);
    cap_free(c);
}

static void test_gap_skipped_and_resync(void)
{
    struct cap *c = fresh();
    send_seg(c, 1, true, 40002, 0, 0x02, NULL, 0);
    uint32_t sizes[40];
    for (int i = 0; i < 40; i++)
        sizes[i] = 50;
    stream(sbuf, sizes, 40);
    /* Message 0 is lost for good; messages 1..39 arrive one per segment. */
    for (int i = 1; i < 40; i++)
        send_seg(c, 2 + i, true, 40002, 1 + 52u * (uint32_t)i, 0x18, sbuf + 52 * i, 52);
    CHECKF(cap_stats(c)->gaps == 1, "gaps %llu", (unsigned long long)cap_stats(c)->gaps);
    CHECK(cap_stats(c)->gap_bytes == 52);
    CHECK(cap_stats(c)->resyncs == 1);
    CHECKF(ngot == 39, "%zu", ngot);
    CHECK(cap_held_bytes(c) == 0);
    cap_free(c);
}

static void test_mid_stream(void)
{
    struct cap *c = fresh();
    uint32_t sizes[] = { 2467, 2467, 2467 };
    stream(sbuf, sizes, 3);
    /* The capture starts in the middle of a message: those bytes are skipped. */
    send_seg(c, 1, true, 40003, 5000, 0x18, sbuf + 10, 2459);
    send_seg(c, 2, true, 40003, 5000 + 2459, 0x18, sbuf + 2469, 2 * 2469);
    CHECKF(ngot == 2, "%zu", ngot);
    CHECK(cap_stats(c)->unsynced_bytes == 2459);
    CHECK(cap_stats(c)->resyncs == 1);
    CHECK(ngot > 0 && got[0].from_initiator && !got[0].handshake);
    /* The reverse direction of a connection known only mid-stream. */
    send_seg(c, 3, false, 40003, 9000, 0x18, sbuf, 2469);
    CHECK(ngot == 3 && !got[2].from_initiator);
    cap_free(c);
}

static void test_bad_frames(void)
{
    struct cap *c = fresh();
    uint8_t junk[64] = { 0x45 };
    cap_frame(c, CAP_DLT_RAW, 1, junk, 10, 10);  /* short IPv4 header */
    cap_frame(c, CAP_DLT_EN10MB, 1, junk, 5, 5); /* short Ethernet header */
    cap_frame(c, 9999, 1, junk, 64, 64);         /* unknown link type */
    size_t len = frame(fbuf, true, 40004, 1, 0x18, junk, 30);
    cap_frame(c, CAP_DLT_RAW, 1, fbuf, len - 5, len); /* snapped */
    fbuf[9] = 17;
    cap_frame(c, CAP_DLT_RAW, 1, fbuf, len, len); /* UDP */
    len = frame(fbuf, true, 40004, 1, 0x18, junk, 30);
    memcpy(fbuf + 16, "\x0a\x00\x00\x09", 4); /* to an unknown host */
    cap_frame(c, CAP_DLT_RAW, 1, fbuf, len, len);
    const struct cap_stats *st = cap_stats(c);
    CHECK(st->truncated == 3);
    CHECK(st->not_ip == 1);
    CHECK(st->not_tcp == 1);
    CHECK(st->unrelated == 1);
    CHECK(ngot == 0);
    /* Lengths below the Noise minimum lose the framing (counted). */
    send_seg(c, 1, true, 40005, 0, 0x02, NULL, 0);
    uint8_t small[4] = { 0, 3, 1, 2 };
    send_seg(c, 2, true, 40005, 1, 0x18, small, 4);
    CHECK(st->bad_length == 1 && ngot == 0);
    cap_free(c);
}

static void test_bounded_memory(void)
{
    struct cap *c = fresh();
    uint8_t pay[60000];
    memset(pay, 1, sizeof(pay));
    /* Thousands of connections each with a hole and segments piling up behind it. */
    for (uint32_t k = 0; k < 3000; k++) {
        send_seg(c, k * 100, true, (uint16_t)(20000 + k), 1000, 0x18, pay, 10);
        for (uint32_t i = 1; i < 30; i++)
            send_seg(c, k * 100 + i, true, (uint16_t)(20000 + k), 1100 + i * 60000, 0x18, pay,
                     sizeof(pay));
    }
    CHECKF(cap_held_bytes(c) <= (64u << 20), "held %zu", cap_held_bytes(c));
    CHECK(cap_stats(c)->gaps > 0);
    cap_free(c);

    /* The connection table: full of recent connections, new ones are counted and skipped;
       once the old ones have been idle long enough, they are recycled. */
    c = fresh();
    uint8_t one[22] = { 0, 20 };
    for (uint32_t k = 0; k < CAP_MAX_CONNS + 100; k++) {
        size_t len = frame(fbuf, true, (uint16_t)(1024 + k % 60000), 1, 0x18, one, 22);
        memcpy(fbuf + 12, (uint8_t[]){ 10, 1, (uint8_t)(k >> 8), (uint8_t)k }, 4);
        cap_frame(c, CAP_DLT_RAW, 1 + k, fbuf, len, len);
    }
    CHECKF(cap_stats(c)->conns == CAP_MAX_CONNS, "%llu", (unsigned long long)cap_stats(c)->conns);
    CHECK(cap_stats(c)->table_full == 100);
    send_seg(c, CAP_IDLE_NS + 1000000, true, 7, 1, 0x18, one, 22);
    CHECK(cap_stats(c)->conns == CAP_MAX_CONNS + 1 && cap_stats(c)->table_full == 100);
    CHECK(cap_stats(c)->messages == CAP_MAX_CONNS + 1);
    cap_free(c);
}

static void test_stats(void)
{
    struct rsv a, b;
    CHECK(rsv_init(&a, 1000, 1) == 0 && rsv_init(&b, 1000, 2) == 0);
    for (int i = 0; i < 1000; i++) {
        rsv_add(&a, i);
        rsv_add(&b, i + 0.5);
    }
    double d, p;
    ks_2samp(&a, &b, &d, &p);
    CHECKF(d < 0.01 && p > 0.99, "d %g p %g", d, p);
    rsv_free(&b);
    CHECK(rsv_init(&b, 1000, 2) == 0);
    for (int i = 0; i < 1000; i++)
        rsv_add(&b, i + 200);
    ks_2samp(&a, &b, &d, &p);
    CHECKF(fabs(d - 0.2) < 0.002 && p < 1e-15, "d %g p %g", d, p);
    CHECK(fabs(rsv_quantile(&a, 0.5) - 499.5) < 1e-9);
    rsv_free(&a);
    rsv_free(&b);
    /* Reservoirs stay bounded. */
    CHECK(rsv_init(&a, 100, 3) == 0);
    for (int i = 0; i < 100000; i++)
        rsv_add(&a, i);
    CHECK(a.n == 100 && a.seen == 100000 && fabs(a.sum / a.seen - 49999.5) < 1e-6);
    rsv_free(&a);
    CHECK(poisson_rate_p(100, 10, 100, 10) > 0.99);
    CHECK(poisson_rate_p(100, 10, 200, 10) < 1e-6);
    CHECK(fabs(poisson_rate_p(0, 1, 3, 1) - 0.25) < 1e-9); /* P(all 3 in b or all in a) */
    CHECK(fabs(binom_upper(1, 1, 0.3) - 0.3) < 1e-12);
    CHECK(binom_upper(20, 1000, 0.001) < 1e-10);
    CHECK(fabs(ks_q(1.36) - 0.049) < 0.002);
}

static void test_scope_end_to_end(void)
{
    /* A gateway, a layer-1 mix and one client sending every 100 ms. */
    struct scope *s = scope_new();
    CHECK(s != NULL);
    CHECK(scope_add_node(s, "gw", ENT_GATEWAY, 0, "10.0.0.1:7100") == 0);
    CHECK(scope_add_node(s, "m", ENT_MIX, 1, "10.0.0.3:7100") == 0);
    s->mean_delay_ms = 10;
    uint32_t one = 2467;
    stream(sbuf, &one, 1);
    int64_t ms = 1000000;
    for (int i = 0; i < 200; i++) {
        /* 10.0.0.2 (a client, by elimination) -> gw. */
        size_t len = frame(fbuf, true, 40010, 1 + 2469u * (uint32_t)i, 0x18, sbuf, 2469);
        scope_frame(s, CAP_DLT_RAW, (int64_t)(i + 10) * 100 * ms, fbuf, len, len);
    }
    scope_finish(s);
    CHECK(s->kinds[KIND_CLIENT_GW].msgs == 200);
    const struct scope_ent *cl = NULL;
    for (size_t i = 0; i < s->n_ents; i++)
        if (s->ents[i].kind == ENT_CLIENT)
            cl = &s->ents[i];
    CHECK(cl != NULL && cl->up == 200 && strcmp(cl->name, "10.0.0.2") == 0);
    CHECK(cl != NULL && cl->gaps != NULL && fabs(cl->gaps->all.sum / 199 - 100) < 1e-6);
    scope_free(s);
}

static const struct sim_target *tg(const struct entropy *e, size_t j)
{
    const struct sim_target *t = entropy_target(e, j);
    static const struct sim_target none;
    return t ? t : &none;
}

static void test_entropy_pool_average(void)
{
    const int64_t S = 1000000000LL;
    struct entropy *e = entropy_new(4, 2, 1, 0);
    CHECK(e != NULL);
    /* One mix holding one other message when the target arrives: two departures, 1 bit, and
       they reach the two gateways: 1 bit over recipients too. */
    entropy_msg(e, -1, -1, 0, -1, 1 * S, 0);
    entropy_msg(e, -1, 0, 0, -1, 2 * S, 1);
    entropy_msg(e, 0, -1, -1, 0, 3 * S, 1);
    entropy_msg(e, 0, -1, -1, 1, 4 * S, 1);
    /* Alone through two mixes: nothing to hide behind, 0 bits. */
    entropy_msg(e, -1, 0, 1, -1, 10 * S, 0);
    entropy_msg(e, 1, -1, 2, -1, 11 * S, 0);
    entropy_msg(e, 2, -1, -1, 0, 12 * S, 0);
    /* Four messages in a mix, all leave to the exits: 2 bits, 1 bit over the two gateways. */
    for (int i = 0; i < 3; i++)
        entropy_msg(e, -1, -1, 3, -1, 20 * S + i, 0);
    entropy_msg(e, -1, 1, 3, -1, 21 * S, 0);
    for (int i = 0; i < 4; i++)
        entropy_msg(e, 3, -1, -1, i % 2, 22 * S + i, 0);
    entropy_finish(e);
    CHECK(entropy_targets(e) == 3);
    CHECKF(tg(e, 0)->finished && fabs(tg(e, 0)->h_msg - 1) < 1e-9 &&
               fabs(tg(e, 0)->h_rcpt - 1) < 1e-9 && fabs(tg(e, 0)->hmin_msg - 1) < 1e-9,
           "h %g rcpt %g", tg(e, 0)->h_msg, tg(e, 0)->h_rcpt);
    CHECK(tg(e, 1)->finished && tg(e, 1)->h_msg == 0 && tg(e, 1)->h_rcpt == 0);
    CHECKF(tg(e, 2)->finished && fabs(tg(e, 2)->h_msg - 2) < 1e-9 &&
               fabs(tg(e, 2)->h_rcpt - 1) < 1e-9,
           "h %g", tg(e, 2)->h_msg);
    struct entropy_result r;
    CHECK(entropy_summarise(e, &r) == 0);
    CHECKF(r.started == 3 && r.all.measured == 3 && fabs(r.all.h_msg.mean - 1) < 1e-9 &&
               r.win[0][0].n == 1 && fabs(r.win[0][0].mean - 1) < 1e-9 && r.win[1][0].n == 0,
           "mean %g", r.all.h_msg.mean);
    entropy_free(e);

    /* With the configured delay, the pool estimate follows Little's law: 10 inputs/s and a
       1 s mean delay mean about 10 messages inside, whatever was there before the capture. */
    e = entropy_new(1, 1, S, S);
    int64_t t = S;
    for (int i = 0; i < 100; i++, t += S / 10) {
        entropy_msg(e, -1, -1, 0, -1, t, 0);
        entropy_msg(e, 0, -1, -1, 0, t + 1, 0); /* outputs follow inputs: n_c stays 0 */
    }
    entropy_msg(e, -1, 0, 0, -1, t, 0);
    entropy_msg(e, 0, -1, -1, 0, t + 1, 0);
    entropy_finish(e);
    /* The departure carries about 1/11 of the target; the rest is still inside at the end. */
    CHECKF(entropy_targets(e) == 1 && !tg(e, 0)->finished && tg(e, 0)->delivered < 0.15 &&
               tg(e, 0)->delivered > 0.05,
           "delivered %g", tg(e, 0)->delivered);
    entropy_free(e);
}

/* A corrupt mix is a pass-through in arrival order: its pool hides nothing. */
static void test_entropy_corrupt(void)
{
    const int64_t S = 1000000000LL;
    for (int corrupt = 0; corrupt < 2; corrupt++) {
        struct entropy *e = entropy_new(2, 2, S, 0);
        CHECK(e != NULL);
        if (corrupt)
            entropy_set_corrupt(e, 0);
        entropy_msg(e, -1, 0, 0, -1, 1 * S, 0); /* the target, first in */
        for (int i = 0; i < 3; i++)
            entropy_msg(e, -1, -1, 0, -1, 1 * S + 1 + i, 0);
        for (int i = 0; i < 4; i++) /* first out to gateway 1, the others to 0 */
            entropy_msg(e, 0, -1, -1, i == 0, 2 * S + i, 0);
        entropy_finish(e);
        double want = corrupt ? 0 : 2;
        CHECKF(tg(e, 0)->finished && fabs(tg(e, 0)->h_msg - want) < 1e-9, "corrupt %d h %g",
               corrupt, tg(e, 0)->h_msg);
        if (corrupt)
            CHECK(tg(e, 0)->h_rcpt == 0);
        entropy_free(e);
    }
}

/* With the ground truth, targets are the named client packets, carried by the gateway's next
   message to layer 1; no target is chosen otherwise. */
static void test_entropy_truth(void)
{
    const int64_t S = 1000000000LL;
    struct entropy *e = entropy_new(1, 2, 1, 0);
    CHECK(e != NULL);
    entropy_set_truth(e, true);
    entropy_client_real(e, 1, 1 * S, 0);
    entropy_msg(e, -1, 0, 0, -1, 2 * S, 0); /* gateway 0: not the target */
    entropy_msg(e, -1, 1, 0, -1, 3 * S, 0); /* gateway 1 sends it on */
    entropy_msg(e, 0, -1, -1, 0, 4 * S, 0);
    entropy_msg(e, 0, -1, -1, 1, 5 * S, 0);
    entropy_finish(e);
    CHECK(entropy_targets(e) == 1 && tg(e, 0)->t_tag_us == 1000000);
    CHECKF(tg(e, 0)->finished && fabs(tg(e, 0)->h_msg - 1) < 1e-9, "h %g", tg(e, 0)->h_msg);
    entropy_free(e);
}

static void test_truth_parse(void)
{
    struct truth t = { 0 };
    char err[160];
    const char ok[] = "# mixscope-truth 1\n"
                      "1700000000000000001 10.0.0.2:40020 3\n"
                      "\n# mixscope-truth 1\n"
                      "1700000000000000002 [::1]:5000 0\r\n"
                      "1700000000000000003 10.0.0.2:40020 1";
    CHECKF(truth_parse(&t, ok, sizeof(ok) - 1, err, sizeof(err)), "%s", err);
    CHECK(t.n == 3);
    struct cap_ep ep;
    CHECK(cap_ep_parse("10.0.0.2:40020", &ep));
    struct truth_ent *x = truth_find(&t, &ep, 1);
    CHECK(x != NULL && x->t_ns == 1700000000000000003LL);
    CHECK(truth_find(&t, &ep, 2) == NULL);
    struct truth_ent *first;
    size_t n_ep = truth_ep_entries(&t, &ep, &first);
    CHECK(n_ep == 2 && first != NULL && cap_ep_equal(&first[0].ep, &ep) && first[0].frame == 1);
    for (size_t i = 1; i < n_ep; i++)
        CHECK(cap_ep_equal(&first[i].ep, &ep) && first[i].frame > first[i - 1].frame);
    struct cap_ep none;
    CHECK(cap_ep_parse("10.0.0.3:1", &none) && truth_ep_entries(&t, &none, &first) == 0 &&
          first == NULL);
    CHECK(cap_ep_parse("[::1]:5000", &ep) && truth_find(&t, &ep, 0) != NULL);
    static const char *const bad[] = {
        "",
        "# mixscope-truth 2\n",
        "# mixscope-truth 1\n1 10.0.0.2:1\n",
        "# mixscope-truth 1\nx 10.0.0.2:1 0\n",
        "# mixscope-truth 1\n1 host:1 0\n",
        "# mixscope-truth 1\n1 10.0.0.2:1 -1\n",
        "# mixscope-truth 1\n1 10.0.0.2:1 0 7\n",
        "# mixscope-truth 1\n1 10.0.0.2:1 99999999999\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct truth b = { 0 };
        err[0] = 0;
        CHECKF(!truth_parse(&b, bad[i], strlen(bad[i]), err, sizeof(err)) && err[0] != 0,
               "bad %zu accepted", i);
        truth_free(&b);
    }
    truth_free(&t);
}

static void test_simcmp_parse(void)
{
    struct simcmp sc;
    const char csv[] = "seed,measured,h_msg_mean,x,hmin_msg_mean,h_rcpt_p25\n1,30,2.5,,1.25,\n";
    CHECK(simcmp_parse(csv, sizeof(csv) - 1, &sc));
    CHECK(sc.v[0] == 30 && sc.v[1] == 2.5 && sc.v[6] == 1.25 && isnan(sc.v[13]) && isnan(sc.v[2]));
    CHECK(!simcmp_parse("seed,h_msg_mean\n", 16, &sc));
    CHECK(!simcmp_parse("usage: mixsim", 13, &sc));
}

/* An IPv4/TCP frame between 10.0.0.a:ap and 10.0.0.b:bp. */
static size_t frame2(uint8_t *buf, uint8_t a, uint16_t ap, uint8_t b, uint16_t bp, uint32_t seq,
                     uint8_t flags, const uint8_t *pay, size_t n)
{
    size_t len = frame(buf, true, ap, seq, flags, pay, n);
    buf[15] = a;
    buf[19] = b;
    buf[22] = (uint8_t)(bp >> 8);
    buf[23] = (uint8_t)bp;
    return len;
}

/* A connection a -> b from its SYN, its handshake, then messages one by one. */
struct flow {
    uint8_t a, b;
    uint16_t ap, bp;
    uint32_t seq;
};

static void flow_send(struct scope *s, struct flow *f, int64_t t, uint32_t size, uint8_t flags)
{
    size_t n = 0, len;
    if (flags != 0x02)
        n = stream(sbuf, &size, 1);
    len = frame2(fbuf, f->a, f->ap, f->b, f->bp, f->seq, flags, sbuf, n);
    scope_frame(s, CAP_DLT_RAW, t, fbuf, len, len);
    f->seq += flags == 0x02 ? 1 : (uint32_t)n;
}

/* The ground truth on a synthesized capture: client frames 1 and 3 are targets. */
static void test_scope_truth(void)
{
    const int64_t ms = 1000000;
    struct scope *s = scope_new();
    CHECK(s != NULL);
    CHECK(scope_add_node(s, "gw", ENT_GATEWAY, 0, "10.0.0.1:7100") == 0);
    CHECK(scope_add_node(s, "gw2", ENT_GATEWAY, 0, "10.0.0.4:7100") == 0);
    CHECK(scope_add_node(s, "m", ENT_MIX, 1, "10.0.0.3:7100") == 0);
    CHECK(scope_set_corrupt(s, "m") == 0 && scope_set_corrupt(s, "gw") == -1);
    s->ents[2].corrupt = false;
    char path[] = "/tmp/mixscope-truth-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "# mixscope-truth 1\n5 10.0.0.2:40020 1\n6 10.0.0.2:40020 3\n"
               "7 10.0.0.2:40020 9\n8 10.0.0.9:1 0\n");
    fclose(f);
    char err[256];
    CHECKF(scope_load_truth(s, path, err, sizeof(err)) == 0, "%s", err);
    unlink(path);
    struct flow cl = { 2, 1, 40020, 7100, 100 }, gm = { 1, 3, 50000, 7100, 200 };
    struct flow out[2] = { { 3, 1, 50001, 7100, 300 }, { 3, 4, 50002, 7100, 400 } };
    int64_t t = 1000 * ms;
    flow_send(s, &cl, t, 0, 0x02);
    flow_send(s, &cl, t + 1, 98, 0x18); /* the handshake */
    flow_send(s, &gm, t + 2, 0, 0x02);
    flow_send(s, &gm, t + 3, 98, 0x18);
    for (int i = 0; i < 2; i++) {
        flow_send(s, &out[i], t + 4, 0, 0x02);
        flow_send(s, &out[i], t + 5, 98, 0x18);
    }
    /* Five client frames, each sent on to the mix; the mix holds two at a time. */
    for (int i = 0; i < 5; i++) {
        t += 100 * ms;
        flow_send(s, &cl, t, 2467, 0x18);
        flow_send(s, &gm, t + ms, 2467, 0x18);
        if (i > 0)
            flow_send(s, &out[i % 2], t + 2 * ms, 2467, 0x18);
    }
    flow_send(s, &out[1], t + 3 * ms, 2467, 0x18);
    scope_finish(s);
    CHECKF(s->truth_matched == 2 && s->truth.n == 4, "matched %llu of %zu",
           (unsigned long long)s->truth_matched, s->truth.n);
    CHECK(s->entropy != NULL && entropy_targets(s->entropy) == 2);
    for (size_t j = 0; s->entropy != NULL && j < 2; j++)
        CHECKF(tg(s->entropy, j)->finished && tg(s->entropy, j)->h_msg > 0.5, "target %zu h %g", j,
               tg(s->entropy, j)->h_msg);
    scope_free(s);
}

/* A capture that starts mid-stream on every link: the client 10.0.0.2:40020 sends frames 16
   (its tail only) to 31 at irregular times; each goes on to the mix, which holds two. */
static const int64_t mid_gap_ms[16] = { 37, 121, 64, 158, 45,  93, 140, 71,
                                        52, 167, 88, 33,  119, 76, 149, 58 };

static void mid_capture(struct scope *s, bool first_pass)
{
    const int64_t ms = 1000000;
    struct flow cl = { 2, 1, 40020, 7100, 100 }, gm = { 1, 3, 50000, 7100, 200 };
    struct flow out[2] = { { 3, 1, 50001, 7100, 300 }, { 3, 4, 50002, 7100, 400 } };
    int64_t t = 1000 * ms;
    for (int i = 0; i < 16; i++) {
        uint32_t size = 2467;
        size_t n = stream(sbuf, &size, 1), skip = i == 0 ? 1000 : 0;
        size_t len = frame2(fbuf, cl.a, cl.ap, cl.b, cl.bp, cl.seq + (uint32_t)skip, 0x18,
                            sbuf + skip, n - skip);
        if (first_pass)
            scope_align_frame(s, CAP_DLT_RAW, t, fbuf, len, len);
        else
            scope_frame(s, CAP_DLT_RAW, t, fbuf, len, len);
        cl.seq += (uint32_t)n;
        if (!first_pass && i > 0) {
            flow_send(s, &gm, t + ms, 2467, 0x18);
            if (i > 1)
                flow_send(s, &out[i % 2], t + 2 * ms, 2467, 0x18);
        }
        t += mid_gap_ms[i] * ms;
    }
    if (!first_pass)
        flow_send(s, &out[0], t, 2467, 0x18);
}

/* Truth entries for frames 18, 20, 23, 25 and 27 (captured at 0.3 ms after the truth time, plus
   skew), frame 5 (before the capture), and one for a connection that was not captured. */
static struct scope *mid_scope(int64_t skew_ns)
{
    const int64_t ms = 1000000;
    struct scope *s = scope_new();
    CHECK(s != NULL);
    CHECK(scope_add_node(s, "gw", ENT_GATEWAY, 0, "10.0.0.1:7100") == 0);
    CHECK(scope_add_node(s, "gw2", ENT_GATEWAY, 0, "10.0.0.4:7100") == 0);
    CHECK(scope_add_node(s, "m", ENT_MIX, 1, "10.0.0.3:7100") == 0);
    char path[] = "/tmp/mixscope-truth-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "# mixscope-truth 1\n");
    int64_t t = 1000 * ms;
    for (int i = 0; i < 16; i++) {
        int frame = 16 + i;
        if (frame == 18 || frame == 20 || frame == 23 || frame == 25 || frame == 27)
            fprintf(f, "%lld 10.0.0.2:40020 %d\n", (long long)(t + 300000 + skew_ns), frame);
        t += mid_gap_ms[i] * ms;
    }
    fprintf(f, "%lld 10.0.0.2:40020 5\n1 10.0.0.9:1 0\n", (long long)(900 * ms + skew_ns));
    fclose(f);
    char err[256];
    CHECKF(scope_load_truth(s, path, err, sizeof(err)) == 0, "%s", err);
    unlink(path);
    mid_capture(s, true);
    scope_align_finish(s);
    mid_capture(s, false);
    scope_finish(s);
    return s;
}

/* A connection captured mid-stream: the truth's frame indexes are aligned by time. */
static void test_scope_truth_mid_stream(void)
{
    struct scope *s = mid_scope(0);
    CHECKF(s->conns_midstream == 1 && s->conns_aligned == 1 && s->conns_ambiguous == 0,
           "mid-stream %llu aligned %llu ambiguous %llu", (unsigned long long)s->conns_midstream,
           (unsigned long long)s->conns_aligned, (unsigned long long)s->conns_ambiguous);
    CHECKF(s->truth_matched == 5 && s->truth_uncounted == 0, "matched %llu uncounted %llu",
           (unsigned long long)s->truth_matched, (unsigned long long)s->truth_uncounted);
    CHECK(s->entropy != NULL && entropy_targets(s->entropy) == 5);
    for (size_t j = 0; s->entropy != NULL && j < 5; j++)
        CHECKF(tg(s->entropy, j)->finished, "target %zu unfinished", j);
    scope_free(s);

    /* Frames the kernel held for 8 ms (captured 7.7 ms after their truth lines) are found after
       them; a clock 40 ms, 0.7 s or 1.3 s off is not: no match. */
    s = mid_scope(-8000000);
    CHECKF(s->conns_aligned == 1 && s->truth_matched == 5, "aligned %llu matched %llu",
           (unsigned long long)s->conns_aligned, (unsigned long long)s->truth_matched);
    scope_free(s);
    const int64_t skews[] = { 40000000, -40000000, 1300000000, -700000000 };
    for (size_t i = 0; i < sizeof(skews) / sizeof(skews[0]); i++) {
        s = mid_scope(skews[i]);
        CHECKF(s->conns_aligned == 0 && s->truth_matched == 0 && s->truth_uncounted == 15 &&
                   s->conns_midstream == 1,
               "skew %lld: aligned %llu matched %llu uncounted %llu", (long long)skews[i],
               (unsigned long long)s->conns_aligned, (unsigned long long)s->truth_matched,
               (unsigned long long)s->truth_uncounted);
        CHECK(s->entropy == NULL || entropy_targets(s->entropy) == 0);
        scope_free(s);
    }
}

/* Fewer agreeing entries than SCOPE_ALIGN_MIN, or a rival offset, leave the connection out. */
static void test_scope_align_votes(void)
{
    struct scope *s = scope_new();
    CHECK(s != NULL);
    CHECK(scope_add_node(s, "gw", ENT_GATEWAY, 0, "10.0.0.1:7100") == 0);
    char path[] = "/tmp/mixscope-truth-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    FILE *f = fdopen(fd, "w");
    /* Client port 40030: two entries agree.  Port 40031: three say offset 10, three offset 11
       (two entries per captured message). */
    fprintf(f, "# mixscope-truth 1\n1000000000 10.0.0.2:40030 10\n"
               "1200000000 10.0.0.2:40030 12\n");
    for (int i = 0; i < 3; i++)
        fprintf(f, "%d 10.0.0.2:40031 %d\n%d 10.0.0.2:40031 %d\n", 1000000000 + i * 100000000,
                10 + i, 1000000000 + i * 100000000, 11 + i);
    fclose(f);
    char err[256];
    CHECKF(scope_load_truth(s, path, err, sizeof(err)) == 0, "%s", err);
    unlink(path);
    for (int pass = 0; pass < 2; pass++) {
        struct flow a = { 2, 1, 40030, 7100, 100 }, b = { 2, 1, 40031, 7100, 100 };
        for (int i = 0; i < 3; i++) {
            uint32_t size = 2467;
            size_t n = stream(sbuf, &size, 1);
            int64_t t = 1000000000 + i * 100000000 + 200000;
            struct flow *fl[2] = { &a, &b };
            for (int j = 0; j < 2; j++) {
                size_t len = frame2(fbuf, fl[j]->a, fl[j]->ap, fl[j]->b, fl[j]->bp, fl[j]->seq,
                                    0x18, sbuf, n);
                if (pass == 0)
                    scope_align_frame(s, CAP_DLT_RAW, t, fbuf, len, len);
                else
                    scope_frame(s, CAP_DLT_RAW, t, fbuf, len, len);
                fl[j]->seq += (uint32_t)n;
            }
        }
        if (pass == 0)
            scope_align_finish(s);
    }
    CHECKF(s->conns_midstream == 2 && s->conns_aligned == 0 && s->conns_unconfirmed == 1 &&
               s->conns_ambiguous == 1 && s->truth_matched == 0,
           "mid-stream %llu aligned %llu unconfirmed %llu ambiguous %llu",
           (unsigned long long)s->conns_midstream, (unsigned long long)s->conns_aligned,
           (unsigned long long)s->conns_unconfirmed, (unsigned long long)s->conns_ambiguous);
    scope_free(s);
}

/* The client sends another frame 4 ms after each real one (as a loaded client does), and once
   two frames in one segment: each truth line (written 0.2 ms after its frame's capture) still
   points to its own frame, not to the next one, and the connection is aligned. */
static void test_scope_align_burst(void)
{
    const int64_t ms = 1000000;
    struct scope *s = scope_new();
    CHECK(s != NULL);
    CHECK(scope_add_node(s, "gw", ENT_GATEWAY, 0, "10.0.0.1:7100") == 0);
    char path[] = "/tmp/mixscope-truth-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "# mixscope-truth 1\n");
    /* Segment i (i = 0..9) at 1 s + i * 50 ms (+4 ms for odd i); segment 9 holds frames 9 and
       10.  The first captured message is frame 100: real frames are 100, 102, ..., 108 and 109. */
    int64_t ts[10];
    for (int i = 0; i < 10; i++) {
        ts[i] = 1000 * ms + (i / 2) * 100 * ms + (i % 2) * 4 * ms;
        if (i % 2 == 0 || i == 9)
            fprintf(f, "%lld 10.0.0.2:40032 %d\n", (long long)(ts[i] + ms / 5), 100 + i);
    }
    fclose(f);
    char err[256];
    CHECKF(scope_load_truth(s, path, err, sizeof(err)) == 0, "%s", err);
    unlink(path);
    for (int pass = 0; pass < 2; pass++) {
        struct flow a = { 2, 1, 40032, 7100, 100 };
        for (int i = 0; i < 10; i++) {
            uint32_t sizes[2] = { 2467, 2467 };
            size_t n = stream(sbuf, sizes, i == 9 ? 2 : 1);
            size_t len = frame2(fbuf, a.a, a.ap, a.b, a.bp, a.seq, 0x18, sbuf, n);
            if (pass == 0)
                scope_align_frame(s, CAP_DLT_RAW, ts[i], fbuf, len, len);
            else
                scope_frame(s, CAP_DLT_RAW, ts[i], fbuf, len, len);
            a.seq += (uint32_t)n;
        }
        if (pass == 0)
            scope_align_finish(s);
    }
    CHECKF(s->conns_midstream == 1 && s->conns_aligned == 1 && s->conns_ambiguous == 0 &&
               s->truth_matched == 6,
           "mid-stream %llu aligned %llu ambiguous %llu matched %llu",
           (unsigned long long)s->conns_midstream, (unsigned long long)s->conns_aligned,
           (unsigned long long)s->conns_ambiguous, (unsigned long long)s->truth_matched);
    scope_free(s);
}

int main(void)
{
    RUN(test_in_order_split_and_merged);
    RUN(test_retransmit_and_reorder);
    RUN(test_gap_skipped_and_resync);
    RUN(test_mid_stream);
    RUN(test_bad_frames);
    RUN(test_bounded_memory);
    RUN(test_stats);
    RUN(test_scope_end_to_end);
    RUN(test_entropy_pool_average);
    RUN(test_entropy_corrupt);
    RUN(test_entropy_truth);
    RUN(test_truth_parse);
    RUN(test_scope_truth);
    RUN(test_scope_truth_mid_stream);
    RUN(test_scope_align_burst);
    RUN(test_scope_align_votes);
    RUN(test_simcmp_parse);
    return tap_done();
}
