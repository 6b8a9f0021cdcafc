/*
 * Client addresses; see address.h for the format.
 */
#include "address.h"

#include <string.h>
#include <strings.h>
#include <sodium.h>

static const char b32_alpha[] = "abcdefghijklmnopqrstuvwxyz234567";

const char *address_strerror(enum address_err e)
{
    switch (e) {
    case ADDRESS_OK: return "ok";
    case ADDRESS_ERR_PREFIX: return "not an address (it must start with \"" ADDRESS_PREFIX "\")";
    case ADDRESS_ERR_LENGTH: return "wrong length (truncated or extra characters)";
    case ADDRESS_ERR_CHAR: return "invalid character";
    case ADDRESS_ERR_CHECKSUM: return "checksum mismatch (mistyped address)";
    }
    return "unknown error";
}

static void checksum(const struct mix_address *a, uint8_t out[ADDRESS_CHECK_LEN])
{
    static const char label[] = "mixnet-address-v1";
    uint8_t h[32];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof(h));
    crypto_generichash_update(&st, (const uint8_t *)label, sizeof(label) - 1);
    crypto_generichash_update(&st, a->gateway_id, MIX_NODE_ID_LEN);
    crypto_generichash_update(&st, a->public_key, ADDRESS_KEY_LEN);
    crypto_generichash_final(&st, h, sizeof(h));
    memcpy(out, h, ADDRESS_CHECK_LEN);
}

static void to_raw(const struct mix_address *a, uint8_t raw[ADDRESS_RAW_LEN])
{
    memcpy(raw, a->gateway_id, MIX_NODE_ID_LEN);
    memcpy(raw + MIX_NODE_ID_LEN, a->public_key, ADDRESS_KEY_LEN);
    checksum(a, raw + MIX_NODE_ID_LEN + ADDRESS_KEY_LEN);
}

void address_encode(const struct mix_address *a, char out[static ADDRESS_STR_SIZE])
{
    uint8_t raw[ADDRESS_RAW_LEN];
    to_raw(a, raw);
    memcpy(out, ADDRESS_PREFIX, 4);
    size_t o = 4;
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < sizeof(raw); i++) {
        acc = (acc << 8) | raw[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out[o++] = b32_alpha[(acc >> bits) & 31];
        }
    }
    if (bits > 0)
        out[o++] = b32_alpha[(acc << (5 - bits)) & 31];
    out[o] = '\0';
}

static int b32_value(char c)
{
    if (c >= 'a' && c <= 'z')
        return c - 'a';
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= '2' && c <= '7')
        return c - '2' + 26;
    return -1;
}

/* Decode exactly ADDRESS_RAW_LEN bytes from the base32 part. */
static enum address_err b32_decode(const char *s, uint8_t raw[ADDRESS_RAW_LEN])
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < ADDRESS_STR_LEN - 4; i++) {
        int v = b32_value(s[i]);
        if (v < 0)
            return ADDRESS_ERR_CHAR;
        acc = (acc << 5) | (uint32_t)v;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            raw[o++] = (uint8_t)(acc >> bits);
        }
    }
    /* Left-over bits must be zero so that each address has one spelling. */
    if (o != ADDRESS_RAW_LEN || (acc & ((1u << bits) - 1)) != 0)
        return ADDRESS_ERR_CHAR;
    return ADDRESS_OK;
}

enum address_err address_decode(const char *s, struct mix_address *a)
{
    uint8_t raw[ADDRESS_RAW_LEN], want[ADDRESS_CHECK_LEN];
    memset(a, 0, sizeof(*a));
    if (s == NULL || strncasecmp(s, ADDRESS_PREFIX, 4) != 0)
        return ADDRESS_ERR_PREFIX;
    if (strlen(s) != ADDRESS_STR_LEN)
        return ADDRESS_ERR_LENGTH;
    enum address_err e = b32_decode(s + 4, raw);
    if (e != ADDRESS_OK)
        return e;
    memcpy(a->gateway_id, raw, MIX_NODE_ID_LEN);
    memcpy(a->public_key, raw + MIX_NODE_ID_LEN, ADDRESS_KEY_LEN);
    checksum(a, want);
    if (sodium_memcmp(want, raw + MIX_NODE_ID_LEN + ADDRESS_KEY_LEN, ADDRESS_CHECK_LEN) != 0) {
        memset(a, 0, sizeof(*a));
        return ADDRESS_ERR_CHECKSUM;
    }
    return ADDRESS_OK;
}

bool address_equal(const struct mix_address *a, const struct mix_address *b)
{
    return memcmp(a, b, sizeof(*a)) == 0;
}
