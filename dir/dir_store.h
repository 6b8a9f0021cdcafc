/*
 * mixdir's descriptor sets and its data directory.
 *
 * A dir_set holds at most one signed descriptor per node id.  When two
 * validly signed descriptors of one node meet (a re-upload, or a peer's copy)
 * the winner is chosen by a total order that every authority computes alike
 * (dir_desc_better), so exchanging sets converges to the same union
 * whatever the order of arrival.
 *
 * Files in the data directory (all written to a temporary name and renamed,
 * so a crash never leaves half a file):
 *     descriptors/<hex node id>   signed descriptor bytes
 *     documents/<epoch>           a published signed document
 */
#ifndef MIX_DIR_STORE_H
#define MIX_DIR_STORE_H

#include "common.h"
#include "pki.h"

struct dir_desc {
    uint8_t *bytes; /* the signed descriptor as uploaded (malloc) */
    size_t len;
    struct pki_descriptor d; /* its verified content */
};

struct dir_set {
    struct dir_desc *v; /* sorted by d.id */
    size_t n, cap;
};

void dir_set_init(struct dir_set *s);
void dir_set_clear(struct dir_set *s);

/* The highest epoch the descriptor has a Sphinx key for. */
uint64_t dir_desc_last_epoch(const struct pki_descriptor *d);
/*
 * True if (a_bytes, a) should replace (b_bytes, b) for the same node: the
 * one with keys for a later epoch wins, then the lexicographically smaller
 * signed bytes (an arbitrary but deterministic tie-break).
 */
bool dir_desc_better(const uint8_t *a_bytes, size_t a_len, const struct pki_descriptor *a,
                     const uint8_t *b_bytes, size_t b_len, const struct pki_descriptor *b);

/*
 * Put a verified descriptor (bytes copied).  Returns 1 if the set changed,
 * 0 if the present descriptor was kept, -1 if the set is full (max entries)
 * or memory is short.
 */
int dir_set_put(struct dir_set *s, const uint8_t *bytes, size_t len, const struct pki_descriptor *d,
                size_t max) MIX_WUR;
const struct dir_desc *dir_set_find(const struct dir_set *s, const uint8_t id[static PKI_KEY_LEN]);
/* Copy into dst (cleared first) the entries having a Sphinx key for `epoch`. */
int dir_set_copy_for_epoch(struct dir_set *dst, const struct dir_set *src, uint64_t epoch) MIX_WUR;
/* Drop entries with no Sphinx key for `epoch` or later; their ids go to cb (may be NULL). */
void dir_set_expire(struct dir_set *s, uint64_t epoch,
                    void (*cb)(const uint8_t id[PKI_KEY_LEN], void *arg), void *arg);

/* Create DIR, DIR/descriptors and DIR/documents (mode 0700).  0 or -1 with err. */
int dir_store_init(const char *dir, char *err, size_t errlen) MIX_WUR;
int dir_store_save_desc(const char *dir, const struct dir_desc *e) MIX_WUR;
void dir_store_remove_desc(const char *dir, const uint8_t id[static PKI_KEY_LEN]);
/* Call cb for each stored descriptor file's bytes; returns how many were read. */
size_t dir_store_load_descs(const char *dir,
                            void (*cb)(const uint8_t *bytes, size_t len, void *arg), void *arg);
int dir_store_save_doc(const char *dir, uint64_t epoch, const uint8_t *b, size_t len) MIX_WUR;
/* Read documents/<epoch> (malloc'd into *out).  0 or -1 if absent/unreadable. */
int dir_store_load_doc(const char *dir, uint64_t epoch, uint8_t **out, size_t *len) MIX_WUR;
void dir_store_remove_doc(const char *dir, uint64_t epoch);

#endif
