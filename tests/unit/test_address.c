/* Unit tests for lib/address: round trip, a known answer, typos refused. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "tap.h"

static void fill(struct mix_address *a)
{
    for (int i = 0; i < MIX_NODE_ID_LEN; i++)
        a->gateway_id[i] = (uint8_t)i;
    for (int i = 0; i < ADDRESS_KEY_LEN; i++)
        a->public_key[i] = (uint8_t)(0xa0 + i);
}

static void test_roundtrip(void)
{
    struct mix_address a, b;
    char s[ADDRESS_STR_SIZE];
    for (int n = 0; n < 200; n++) {
        randombytes_buf(&a, sizeof(a));
        address_encode(&a, s);
        CHECK(strlen(s) == ADDRESS_STR_LEN);
        CHECK(strncmp(s, "mix1", 4) == 0);
        CHECK(address_decode(s, &b) == ADDRESS_OK);
        CHECK(address_equal(&a, &b));
    }
    CHECK(ADDRESS_STR_LEN == 113);
}

/* The known answer pins the format (docs/spec/client.md). */
static void test_known_answer(void)
{
    struct mix_address a, b;
    char s[ADDRESS_STR_SIZE];
    fill(&a);
    address_encode(&a, s);
    printf("# address %s\n", s);
    /* Computed independently with Python hashlib.blake2b + base64.b32encode. */
    CHECK(strcmp(s,
                 "mix1aaaqeayeaudaocajbifqydiob4ibceqtcqkrmfyydenbwha5dyp2bincuoskljvhvcu2vk5mvwxk7"
                 "mfrwkz3jnnww64ltov3xs635p6yp2lyk") == 0);
    CHECK(address_decode(s, &b) == ADDRESS_OK && address_equal(&a, &b));
    /* Upper case is the same address. */
    for (char *p = s; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 32);
    CHECK(address_decode(s, &b) == ADDRESS_OK && address_equal(&a, &b));
}

static void test_typos(void)
{
    struct mix_address a, b;
    char s[ADDRESS_STR_SIZE], t[ADDRESS_STR_SIZE + 2];
    fill(&a);
    address_encode(&a, s);
    int refused = 0, total = 0;
    /* Every single-character substitution is refused. */
    for (size_t i = 4; i < ADDRESS_STR_LEN; i++) {
        for (const char *c = "abcdefghijklmnopqrstuvwxyz234567"; *c; c++) {
            if (*c == s[i])
                continue;
            memcpy(t, s, sizeof(s));
            t[i] = *c;
            total++;
            refused += address_decode(t, &b) != ADDRESS_OK;
        }
    }
    CHECKF(refused == total, "%d of %d refused", refused, total);
    /* Swapping two neighbours is refused. */
    memcpy(t, s, sizeof(s));
    char x = t[20];
    t[20] = t[21];
    t[21] = x;
    CHECK(t[20] == t[21] || address_decode(t, &b) == ADDRESS_ERR_CHECKSUM);
    /* Truncated, extended, wrong prefix, bad characters. */
    memcpy(t, s, sizeof(s));
    t[ADDRESS_STR_LEN - 1] = '\0';
    CHECK(address_decode(t, &b) == ADDRESS_ERR_LENGTH);
    memcpy(t, s, sizeof(s));
    strcat(t, "a");
    CHECK(address_decode(t, &b) == ADDRESS_ERR_LENGTH);
    memcpy(t, s, sizeof(s));
    t[0] = 'n';
    CHECK(address_decode(t, &b) == ADDRESS_ERR_PREFIX);
    memcpy(t, s, sizeof(s));
    t[10] = '1';
    CHECK(address_decode(t, &b) == ADDRESS_ERR_CHAR);
    memcpy(t, s, sizeof(s));
    t[10] = ' ';
    CHECK(address_decode(t, &b) == ADDRESS_ERR_CHAR);
    CHECK(address_decode("", &b) == ADDRESS_ERR_PREFIX);
    CHECK(address_decode(NULL, &b) == ADDRESS_ERR_PREFIX);
    CHECK(address_decode("mix1", &b) == ADDRESS_ERR_LENGTH);
    /* Non-zero unused bits in the last character: a second spelling, refused. */
    memcpy(t, s, sizeof(s));
    int v = (int)(strchr("abcdefghijklmnopqrstuvwxyz234567", t[ADDRESS_STR_LEN - 1]) -
                  "abcdefghijklmnopqrstuvwxyz234567");
    t[ADDRESS_STR_LEN - 1] = "abcdefghijklmnopqrstuvwxyz234567"[v | 1];
    CHECK(address_decode(t, &b) == ADDRESS_ERR_CHAR);
    CHECK(strlen(address_strerror(ADDRESS_ERR_CHECKSUM)) > 0);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    RUN(test_roundtrip);
    RUN(test_known_answer);
    RUN(test_typos);
    return tap_done();
}
