/*
 * The client's stored record codecs (client/records.h): each header packs
 * to the documented bytes at the documented offsets (so stores written
 * before the codecs stay readable) and unpacks back to the same struct;
 * a record shorter than its header is refused.
 */
#include <stdlib.h>
#include <string.h>

#include "records.h"
#include "tap.h"

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed + 7 * i);
}

static void test_out(void)
{
    struct rec_out a = { .version = 1,
                         .reply = true,
                         .created = 0x0102030405060708ULL,
                         .total = 0x11223344,
                         .count = 5,
                         .cap0 = 1000,
                         .cap = 1200 },
                   b;
    uint8_t buf[REC_OUT_HDR + 3];
    fill(a.gateway_id, sizeof a.gateway_id, 1);
    fill(a.public_key, sizeof a.public_key, 2);
    memset(buf, 0xee, sizeof buf);
    rec_out_pack(&a, buf);
    CHECK(buf[0] == 1 && buf[1] == 1 && buf[2] == 0 && buf[3] == 0);
    CHECK(memcmp(buf + 4, a.gateway_id, 32) == 0 && memcmp(buf + 36, a.public_key, 32) == 0);
    CHECK(mix_get_be64(buf + 68) == a.created && mix_get_be32(buf + 76) == a.total);
    CHECK(mix_get_be32(buf + 80) == 5 && mix_get_be32(buf + 84) == 1000 &&
          mix_get_be32(buf + 88) == 1200);
    CHECK(buf[REC_OUT_HDR] == 0xee); /* nothing written past the header */
    memset(&b, 0, sizeof b);
    CHECK(rec_out_unpack(buf, REC_OUT_HDR, &b));
    CHECK(b.version == 1 && b.reply && b.created == a.created && b.total == a.total);
    CHECK(b.count == a.count && b.cap0 == a.cap0 && b.cap == a.cap);
    CHECK(memcmp(b.gateway_id, a.gateway_id, 32) == 0 &&
          memcmp(b.public_key, a.public_key, 32) == 0);
    CHECK(!rec_out_unpack(buf, REC_OUT_HDR - 1, &b));
}

static void test_surb(void)
{
    struct rec_surb a = { .kind = 3, .index = 0xa1b2c3d4, .created = 1700000000 }, b;
    uint8_t buf[REC_SURB_HDR];
    fill(a.msg_id, sizeof a.msg_id, 9);
    rec_surb_pack(&a, buf);
    CHECK(buf[0] == 3 && buf[1] == 0 && buf[2] == 0 && buf[3] == 0);
    CHECK(memcmp(buf + 4, a.msg_id, 16) == 0 && mix_get_be32(buf + 20) == a.index);
    CHECK(mix_get_be64(buf + 24) == a.created);
    memset(&b, 0, sizeof b);
    CHECK(rec_surb_unpack(buf, sizeof buf, &b));
    CHECK(b.kind == 3 && b.index == a.index && b.created == a.created);
    CHECK(memcmp(b.msg_id, a.msg_id, 16) == 0);
    CHECK(!rec_surb_unpack(buf, REC_SURB_HDR - 1, &b));
}

static void test_pmeta(void)
{
    struct rec_pmeta a = { .count = 7,
                           .total = 70000,
                           .got = 3,
                           .surb_len = 0x1234,
                           .first_seen = 0xfedcba9876543210ULL },
                     b;
    uint8_t buf[REC_PMETA_HDR];
    rec_pmeta_pack(&a, buf);
    CHECK(mix_get_be32(buf) == 7 && mix_get_be32(buf + 4) == 70000 && mix_get_be32(buf + 8) == 3);
    CHECK(mix_get_be16(buf + 12) == 0x1234 && mix_get_be64(buf + 14) == a.first_seen);
    memset(&b, 0, sizeof b);
    CHECK(rec_pmeta_unpack(buf, sizeof buf, &b));
    CHECK(b.count == 7 && b.total == 70000 && b.got == 3 && b.surb_len == 0x1234);
    CHECK(b.first_seen == a.first_seen);
    CHECK(!rec_pmeta_unpack(buf, REC_PMETA_HDR - 1, &b));
}

static void test_in(void)
{
    struct rec_in a = { .flags = REC_IN_CAN_REPLY | REC_IN_DELIVERED,
                        .surb_len = 500,
                        .received_at = 1234567890123ULL,
                        .body_len = 99999 },
                  b;
    uint8_t buf[REC_IN_HDR];
    memset(buf, 0xee, sizeof buf);
    rec_in_pack(&a, buf);
    CHECK(buf[0] == 3 && buf[1] == 0 && mix_get_be16(buf + 2) == 500);
    CHECK(mix_get_be64(buf + 4) == a.received_at && mix_get_be32(buf + 12) == 99999);
    memset(&b, 0, sizeof b);
    CHECK(rec_in_unpack(buf, sizeof buf, &b));
    CHECK(b.flags == a.flags && b.surb_len == 500 && b.received_at == a.received_at);
    CHECK(b.body_len == 99999);
    CHECK(!rec_in_unpack(buf, REC_IN_HDR - 1, &b));
}

int main(void)
{
    RUN(test_out);
    RUN(test_surb);
    RUN(test_pmeta);
    RUN(test_in);
    return tap_done();
}
