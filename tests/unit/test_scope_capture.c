/*
 * mixscope's capture side on synthesized frames: Noise message framing over
 * TCP reassembly (split and merged messages, retransmission, out-of-order
 * segments, holes that are skipped and counted, connections seen
 * mid-stream), bad frames, bounded memory; and the statistics it reports.
 */
#include <arpa/inet.h>
#include <math.h>
#include <stdlib.h>

#include "tap.h"
#include "../../scope/analyse.h"
#include "../../scope/capture.h"
#include "../../scope/entropy.h"
#include "../../scope/stats.h"

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
    struct cap_hooks h = {.on_msg = on_msg, .is_listener = is_listener};
    return cap_new(&h);
}

/* An IPv4/TCP frame (link type RAW) from 10.0.0.2:port to the listener, or back. */
static size_t frame(uint8_t *buf, bool to_listener, uint16_t port, uint32_t seq, uint8_t flags,
                    const uint8_t *pay, size_t n)
{
    uint8_t a[4] = {10, 0, 0, 2}, b[4] = {10, 0, 0, 1};
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
    send_seg(c, 1, true, 40000, 999, 0x02, NULL, 0);       /* SYN */
    send_seg(c, 2, false, 40000, 4999, 0x12, NULL, 0);     /* SYN+ACK */
    uint32_t sizes[] = {98, 2467, 24, 81};
    size_t n = stream(sbuf, sizes, 4);
    send_seg(c, 3, true, 40000, 1000, 0x18, sbuf, 100);            /* the handshake */
    send_seg(c, 4, true, 40000, 1100, 0x18, sbuf + 100, 1000);     /* half of 2467 */
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
    uint32_t sizes[] = {98, 100, 200, 300};
    size_t n = stream(sbuf, sizes, 4);
    (void)n;
    send_seg(c, 2, true, 40001, 1, 0x18, sbuf, 100);
    send_seg(c, 3, true, 40001, 1, 0x18, sbuf, 100);          /* retransmitted */
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
    uint32_t sizes[] = {2467, 2467, 2467};
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
    uint8_t junk[64] = {0x45};
    cap_frame(c, CAP_DLT_RAW, 1, junk, 10, 10);          /* short IPv4 header */
    cap_frame(c, CAP_DLT_EN10MB, 1, junk, 5, 5);          /* short Ethernet header */
    cap_frame(c, 9999, 1, junk, 64, 64);                  /* unknown link type */
    size_t len = frame(fbuf, true, 40004, 1, 0x18, junk, 30);
    cap_frame(c, CAP_DLT_RAW, 1, fbuf, len - 5, len);     /* snapped */
    fbuf[9] = 17;
    cap_frame(c, CAP_DLT_RAW, 1, fbuf, len, len);         /* UDP */
    len = frame(fbuf, true, 40004, 1, 0x18, junk, 30);
    memcpy(fbuf + 16, "\x0a\x00\x00\x09", 4);             /* to an unknown host */
    cap_frame(c, CAP_DLT_RAW, 1, fbuf, len, len);
    const struct cap_stats *st = cap_stats(c);
    CHECK(st->truncated == 3);
    CHECK(st->not_ip == 1);
    CHECK(st->not_tcp == 1);
    CHECK(st->unrelated == 1);
    CHECK(ngot == 0);
    /* Lengths below the Noise minimum lose the framing (counted). */
    send_seg(c, 1, true, 40005, 0, 0x02, NULL, 0);
    uint8_t small[4] = {0, 3, 1, 2};
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

static void test_entropy_pool_average(void)
{
    const int64_t S = 1000000000LL;
    struct entropy *e = entropy_new(1, 0);
    CHECK(e != NULL);
    /* One mix holding one other message when the target arrives: two departures, 1 bit. */
    entropy_msg(e, -1, 0, false, false, 1 * S, 0);
    entropy_msg(e, -1, 0, false, true, 2 * S, 1);
    entropy_msg(e, 0, -1, true, false, 3 * S, 1);
    CHECK(entropy_result(e)->finished == 0);
    entropy_msg(e, 0, -1, true, false, 4 * S, 1);
    struct entropy_result *r = entropy_result(e);
    CHECKF(r->finished == 1 && fabs(r->h[0].sum - 1) < 1e-9, "finished %llu h %g",
           (unsigned long long)r->finished, r->h[0].sum);
    CHECK(r->h[1].seen == 1 && r->h[2].seen == 0);
    /* Alone through two mixes: nothing to hide behind, 0 bits. */
    entropy_msg(e, -1, 1, false, true, 10 * S, 0);
    entropy_msg(e, 1, 2, false, false, 11 * S, 0);
    entropy_msg(e, 2, -1, true, false, 12 * S, 0);
    CHECK(r->finished == 2 && fabs(r->h[0].sum - 1) < 1e-9);
    /* Four messages in a mix, all leave to the exits: 2 bits. */
    for (int i = 0; i < 3; i++)
        entropy_msg(e, -1, 3, false, false, 20 * S + i, 0);
    entropy_msg(e, -1, 3, false, true, 21 * S, 0);
    for (int i = 0; i < 4; i++)
        entropy_msg(e, 3, -1, true, false, 22 * S + i, 0);
    CHECKF(r->finished == 3 && fabs(r->h[0].sum - 3) < 1e-9, "h sum %g", r->h[0].sum);
    entropy_finish(e);
    CHECK(r->dropped == 0 && r->lost_mass < 1e-9);
    entropy_free(e);

    /* With the configured delay, the pool estimate follows Little's law: 10 inputs/s and a
       1 s mean delay mean about 10 messages inside, whatever was there before the capture. */
    e = entropy_new(S, S);
    int64_t t = S;
    for (int i = 0; i < 100; i++, t += S / 10) {
        entropy_msg(e, -1, 0, false, false, t, 0);
        entropy_msg(e, 0, -1, true, false, t + 1, 0); /* outputs follow inputs: n_c stays 0 */
    }
    entropy_msg(e, -1, 0, false, true, t, 0);
    entropy_msg(e, 0, -1, true, false, t + 1, 0);
    entropy_finish(e);
    r = entropy_result(e);
    /* The departure carries about 1/11 of the target; the rest is still inside at the end. */
    CHECKF(r->started == 1 && r->lost_mass > 0.85, "lost %g", r->lost_mass);
    entropy_free(e);
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
    return tap_done();
}
