/* Unit tests for lib/payload: envelope and fragment formats, known answers, bad input. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "payload.h"
#include "tap.h"

static void test_envelope_known_answer(void)
{
    uint8_t out[32], surb[3] = { 0xaa, 0xbb, 0xcc }, body[4] = { 1, 2, 3, 4 };
    static const uint8_t want[32] = { 0x01, 0x01, 0x00, 0x03, 0x00, 0x00, 0x00, 0x04,
                                      0xaa, 0xbb, 0xcc, 1,    2,    3,    4 };
    CHECK(payload_build(out, sizeof(out), surb, 3, body, 4) == PAYLOAD_OK);
    CHECK_EQ_MEM(out, want, sizeof(want));
    struct payload_view v;
    CHECK(payload_parse(out, sizeof(out), &v) == PAYLOAD_OK);
    CHECK(v.flags == PAYLOAD_FLAG_SURB_ACK && v.surb_ack_len == 3 && v.body_len == 4);
    CHECK(v.surb_ack == out + 8 && v.body == out + 11);
    /* Without a SURB. */
    CHECK(payload_build(out, sizeof(out), NULL, 0, body, 4) == PAYLOAD_OK);
    CHECK(payload_parse(out, sizeof(out), &v) == PAYLOAD_OK);
    CHECK(v.flags == 0 && v.surb_ack == NULL && v.body_len == 4 && v.body[3] == 4);
    CHECK(payload_body_cap(32, 3) == 21 && payload_body_cap(8, 1) == 0);
}

static void test_envelope_bad(void)
{
    uint8_t buf[64], body[10] = { 0 };
    struct payload_view v;
    CHECK(payload_build(buf, sizeof(buf), NULL, 0, body, sizeof(body)) == PAYLOAD_OK);
    CHECK(payload_parse(buf, 7, &v) == PAYLOAD_ERR_SHORT);
    CHECK(payload_parse(NULL, 64, &v) == PAYLOAD_ERR_SHORT);
    buf[0] = 2;
    CHECK(payload_parse(buf, sizeof(buf), &v) == PAYLOAD_ERR_VERSION);
    buf[0] = 1;
    buf[1] = 0x02;
    CHECK(payload_parse(buf, sizeof(buf), &v) == PAYLOAD_ERR_FLAGS);
    buf[1] = 0x01; /* flag without SURB length */
    CHECK(payload_parse(buf, sizeof(buf), &v) == PAYLOAD_ERR_FLAGS);
    buf[1] = 0;
    buf[3] = 5; /* SURB length without flag */
    CHECK(payload_parse(buf, sizeof(buf), &v) == PAYLOAD_ERR_FLAGS);
    buf[3] = 0;
    mix_put_be32(buf + 4, 57);
    CHECK(payload_parse(buf, sizeof(buf), &v) == PAYLOAD_ERR_LENGTH);
    mix_put_be32(buf + 4, 0xffffffffu);
    CHECK(payload_parse(buf, sizeof(buf), &v) == PAYLOAD_ERR_LENGTH);
    mix_put_be32(buf + 4, 56);
    CHECK(payload_parse(buf, sizeof(buf), &v) == PAYLOAD_OK);
    mix_put_be32(buf + 4, 10);
    buf[63] = 1;
    CHECK(payload_parse(buf, sizeof(buf), &v) == PAYLOAD_ERR_PADDING);
    CHECK(payload_build(buf, sizeof(buf), NULL, 0, body, 57) == PAYLOAD_ERR_ARG);
    CHECK(payload_build(buf, sizeof(buf), NULL, 5, body, 1) == PAYLOAD_ERR_ARG);
    CHECK(strcmp(payload_strerror(PAYLOAD_ERR_PADDING), "non-zero padding") == 0);
}

static void test_inbox_id(void)
{
    /* BLAKE2b-256("mixnet-inbox-v1" || 32 x 0x01), computed with Python hashlib. */
    static const uint8_t want[8] = { 0 };
    uint8_t pk[32], id[32], id2[32];
    memset(pk, 1, sizeof(pk));
    payload_inbox_id(id, pk);
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const uint8_t *)"mixnet-inbox-v1", 15);
    crypto_generichash_update(&st, pk, 32);
    crypto_generichash_final(&st, id2, 32);
    CHECK_EQ_MEM(id, id2, 32);
    CHECK(memcmp(id, want, 8) != 0);
    printf("# inbox id starts %02x%02x%02x%02x\n", id[0], id[1], id[2], id[3]);
    CHECK(id[0] == 0x6a && id[1] == 0x2e);
}

static struct payload_frag mkfrag(const uint8_t *data, size_t dlen, const uint8_t *surb,
                                  size_t slen)
{
    struct payload_frag f;
    memset(&f, 0, sizeof(f));
    f.kind = PAYLOAD_FRAG_DATA;
    f.flags = slen ? PAYLOAD_FRAG_FLAG_SURB : 0;
    for (int i = 0; i < 16; i++)
        f.msg_id[i] = (uint8_t)(0x10 + i);
    f.index = 0;
    f.count = 2;
    f.total_len = 7;
    f.data = data;
    f.data_len = dlen;
    f.surb = surb;
    f.surb_len = slen;
    return f;
}

static void test_frag_known_answer(void)
{
    uint8_t data[4] = { 'a', 'b', 'c', 'd' }, surb[2] = { 0xee, 0xff }, out[48];
    static const uint8_t want[48] = { 0x01, 0x01, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
                                      0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0,    0,
                                      0,    0,    0,    0,    0,    2,    0,    0,    0,    7,
                                      0,    4,    0,    2,    'a',  'b',  'c',  'd',  0xee, 0xff };
    struct payload_frag f = mkfrag(data, 4, surb, 2), g;
    CHECK(payload_frag_build(out, sizeof(out), &f) == PAYLOAD_OK);
    CHECK_EQ_MEM(out, want, sizeof(want));
    CHECK(payload_frag_parse(out, sizeof(out), &g) == PAYLOAD_OK);
    CHECK(g.kind == 1 && g.index == 0 && g.count == 2 && g.total_len == 7);
    CHECK(g.data_len == 4 && memcmp(g.data, "abcd", 4) == 0);
    CHECK(g.surb_len == 2 && g.surb[1] == 0xff && memcmp(g.msg_id, f.msg_id, 16) == 0);
}

static void test_frag_bad(void)
{
    uint8_t data[4] = { 0 }, out[48], copy[48];
    struct payload_frag f = mkfrag(data, 4, NULL, 0), g;
    CHECK(payload_frag_build(out, sizeof(out), &f) == PAYLOAD_OK);
    CHECK(payload_frag_parse(out, 33, &g) == PAYLOAD_ERR_SHORT);
#define MUT(stmt, err)                                                                             \
    do {                                                                                           \
        memcpy(copy, out, sizeof(out));                                                            \
        stmt;                                                                                      \
        CHECK(payload_frag_parse(copy, sizeof(copy), &g) == (err));                                \
    } while (0)
    MUT(copy[0] = 9, PAYLOAD_ERR_KIND);
    MUT(copy[0] = 0, PAYLOAD_ERR_KIND);
    MUT(copy[1] = 4, PAYLOAD_ERR_FLAGS);
    MUT(copy[1] = 1, PAYLOAD_ERR_FLAGS);
    MUT(mix_put_be32(copy + 18, 2), PAYLOAD_ERR_FRAGMENT); /* index == count */
    MUT(mix_put_be32(copy + 22, 0), PAYLOAD_ERR_FRAGMENT); /* count 0 */
    MUT(mix_put_be32(copy + 26, 3), PAYLOAD_ERR_FRAGMENT); /* data longer than message */
    MUT(mix_put_be32(copy + 26, PAYLOAD_MAX_MESSAGE + 1), PAYLOAD_ERR_FRAGMENT);
    MUT(mix_put_be16(copy + 30, 15);
        mix_put_be32(copy + 26, 20), PAYLOAD_ERR_LENGTH); /* past the buffer */
    MUT(mix_put_be16(copy + 30, 0xffff); mix_put_be32(copy + 26, 0x10000), PAYLOAD_ERR_LENGTH);
    MUT(copy[47] = 1, PAYLOAD_ERR_PADDING);
    MUT(copy[1] = 1; mix_put_be16(copy + 32, 2); mix_put_be32(copy + 18, 1), PAYLOAD_ERR_FRAGMENT);
    MUT(copy[0] = PAYLOAD_FRAG_REPLY, PAYLOAD_ERR_FRAGMENT); /* replies are one fragment */
#undef MUT
    f.data_len = 15;
    f.total_len = 15;
    CHECK(payload_frag_build(out, sizeof(out), &f) == PAYLOAD_ERR_ARG);
}

static void test_frag_count(void)
{
    CHECK(payload_frag_count(0, 100) == 1);
    CHECK(payload_frag_count(1, 100) == 1);
    CHECK(payload_frag_count(100, 100) == 1);
    CHECK(payload_frag_count(101, 100) == 2);
    CHECK(payload_frag_count(1u << 20, 1000) == 1049);
    CHECK(payload_frag_count(5, 0) == 0);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    RUN(test_envelope_known_answer);
    RUN(test_envelope_bad);
    RUN(test_inbox_id);
    RUN(test_frag_known_answer);
    RUN(test_frag_bad);
    RUN(test_frag_count);
    return tap_done();
}
