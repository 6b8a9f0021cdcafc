/*
 * Key files and key text encoding.
 *
 * A key file is two lines of text:
 *     mixnet-key-v1 <type>
 *     <key bytes in base64, URL-safe alphabet, no padding>
 * Secret key files are created with mode 0600 and refused when group or
 * others can read them.  A missing or unreadable key is an error with a clear
 * message: callers never generate a new key silently in its place.
 */
#ifndef MIX_KEYFILE_H
#define MIX_KEYFILE_H

#include "common.h"

enum keyfile_type {
    KEYFILE_ED25519_SECRET, /* 64 bytes: libsodium's crypto_sign secret key */
    KEYFILE_ED25519_PUBLIC, /* 32 bytes */
    KEYFILE_X25519_SECRET,  /* 32 bytes */
    KEYFILE_X25519_PUBLIC,  /* 32 bytes */
};

/* Longest encoded key (64 bytes) plus the terminating NUL. */
#define KEY_B64_MAX 90

size_t keyfile_key_len(enum keyfile_type type);
const char *keyfile_type_name(enum keyfile_type type);

/*
 * Write `key` to `path`.  With overwrite false an existing file is an error
 * (keys are never replaced by accident).  Returns 0 or -1 with `err` set.
 */
int keyfile_write(const char *path, enum keyfile_type type, const uint8_t *key, bool overwrite,
                  char *err, size_t errlen) MIX_WUR;

/* Read a key of `type` into `key` (keyfile_key_len bytes).  0 or -1 with `err`. */
int keyfile_read(const char *path, enum keyfile_type type, uint8_t *key, char *err,
                 size_t errlen) MIX_WUR;

/* Create `dir` and any missing parent (mode 0700, as key directories want).
 * 0, or -1 with err. */
int keyfile_mkdirs(const char *dir, char *err, size_t errlen) MIX_WUR;

/* Base64 (URL-safe, no padding) text of a key, for configs and documents. */
void key_to_b64(const uint8_t *key, size_t len, char out[static KEY_B64_MAX]);
/* Parse exactly `len` bytes of base64 key text; false if it is anything else. */
bool key_from_b64(const char *text, uint8_t *key, size_t len) MIX_WUR;

#endif
