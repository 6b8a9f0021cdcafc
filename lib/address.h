/*
 * Client addresses (docs/spec/client.md, "Address").
 *
 * An address names a recipient: its home gateway's node id (32 bytes) and
 * its X25519 public key (32 bytes).  The printable form is
 *
 *     "mix1" || base32(gateway_id || public_key || checksum)
 *
 * with checksum = the first 4 bytes of
 * BLAKE2b-256("mixnet-address-v1" || gateway_id || public_key), and base32
 * the RFC 4648 alphabet in lower case without padding (68 bytes -> 109
 * characters; ADDRESS_STR_LEN = 113 characters in all).  Parsing accepts
 * upper or lower case, nothing else: no spaces, no padding, the exact length;
 * the unused low bits of the last character must be zero, so every address
 * has exactly one spelling besides case.  A mistyped address fails the
 * checksum (a random error passes with probability 2^-32).
 */
#ifndef MIX_ADDRESS_H
#define MIX_ADDRESS_H

#include "common.h"

#define ADDRESS_PREFIX "mix1"
#define ADDRESS_KEY_LEN 32
#define ADDRESS_CHECK_LEN 4
#define ADDRESS_RAW_LEN (MIX_NODE_ID_LEN + ADDRESS_KEY_LEN + ADDRESS_CHECK_LEN)
#define ADDRESS_STR_LEN (4 + (ADDRESS_RAW_LEN * 8 + 4) / 5)
/* Buffer size for the printable form including the NUL. */
#define ADDRESS_STR_SIZE (ADDRESS_STR_LEN + 1)

struct mix_address {
    uint8_t gateway_id[MIX_NODE_ID_LEN];
    uint8_t public_key[ADDRESS_KEY_LEN];
};

enum address_err {
    ADDRESS_OK = 0,
    ADDRESS_ERR_PREFIX,   /* does not start with "mix1" */
    ADDRESS_ERR_LENGTH,   /* wrong number of characters */
    ADDRESS_ERR_CHAR,     /* a character outside the base32 alphabet */
    ADDRESS_ERR_CHECKSUM, /* a typo: the checksum does not match */
};

const char *address_strerror(enum address_err e);

/* Print a into out (ADDRESS_STR_SIZE bytes, NUL-terminated). */
void address_encode(const struct mix_address *a, char out[static ADDRESS_STR_SIZE]);

/* Parse a NUL-terminated string.  On error *a is zeroed. */
enum address_err address_decode(const char *s, struct mix_address *a) MIX_WUR;

/* Compare two addresses (true if equal). */
bool address_equal(const struct mix_address *a, const struct mix_address *b);

#endif
