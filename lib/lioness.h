/*
 * Lioness: a wide-block cipher (a strong pseudorandom permutation) over a
 * whole buffer, built from ChaCha20 and keyed BLAKE2b (libsodium only).
 *
 * Sphinx uses it for the payload: changing any bit of the ciphertext turns
 * the whole decrypted buffer into noise, so a block of zero bytes at the
 * front of the plaintext detects tampering at the exit.
 *
 * The buffer is split into L (the first 32 bytes) and R (the rest).  The
 * 32-byte key gives four round keys K1..K4 (keyed BLAKE2b of a label, see
 * docs/spec/sphinx.md).  Encryption is four rounds:
 *
 *   R ^= ChaCha20(key = BLAKE2b-256(key K1, L), nonce 0)
 *   L ^= BLAKE2b-256(key K2, R)
 *   R ^= ChaCha20(key = BLAKE2b-256(key K3, L), nonce 0)
 *   L ^= BLAKE2b-256(key K4, R)
 *
 * and decryption runs the rounds in reverse order.  Cost: two ChaCha20 and
 * two BLAKE2b passes over R, plus six short hashes.
 */
#ifndef MIX_LIONESS_H
#define MIX_LIONESS_H

#include "common.h"

#define LIONESS_KEY_LEN 32
/* Smallest buffer accepted: L (32 bytes) plus a right half of 32 bytes. */
#define LIONESS_MIN_LEN 64

/* Encrypt buf[0..len) in place.  Returns 0, or -1 if len < LIONESS_MIN_LEN. */
int lioness_encrypt(const uint8_t key[static LIONESS_KEY_LEN], uint8_t *buf, size_t len) MIX_WUR;
/* Decrypt buf[0..len) in place.  Returns 0, or -1 if len < LIONESS_MIN_LEN. */
int lioness_decrypt(const uint8_t key[static LIONESS_KEY_LEN], uint8_t *buf, size_t len) MIX_WUR;

#endif
