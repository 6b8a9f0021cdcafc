/*
 * The directory: node descriptors, epoch documents, their deterministic CBOR
 * encoding, Ed25519 signatures and k-of-n verification, epoch arithmetic and
 * look-ups over a verified document.  docs/spec/directory.md is the exact
 * byte-level specification; this header is the C view of it.
 *
 * Everything here is pure: times are Unix seconds supplied by the caller, the
 * RNG is the caller's, and no function does I/O.
 *
 * Typical use
 *   node:       fill a struct pki_descriptor, pki_descriptor_sign() it, upload
 *               the bytes (frame DescriptorUpload).
 *   authority:  pki_descriptor_verify() each upload, pki_doc_new(params),
 *               pki_doc_add() the accepted descriptors, pki_doc_encode() (the
 *               same bytes at every authority holding the same descriptors),
 *               pki_doc_sign() them, exchange signatures with the peers, and
 *               pki_signed_doc_encode() the document with all signatures.
 *   everyone:   pki_verify() a signed document against the configured
 *               authority keys and threshold, then look nodes up in the result.
 */
#ifndef MIX_PKI_H
#define MIX_PKI_H

#include "common.h"
#include "rng.h"

#define PKI_KEY_LEN 32        /* Ed25519 public key, X25519 key, Sphinx key */
#define PKI_SECRET_KEY_LEN 64 /* Ed25519 secret key as libsodium stores it */
#define PKI_SIG_LEN 64
#define PKI_HASH_LEN 32       /* BLAKE2b-256 of document bytes */
#define PKI_ADDR_MAX 255      /* "host:port", printable ASCII, bytes */
#define PKI_MAX_SPHINX_KEYS 8 /* per descriptor: current and coming epochs */
#define PKI_MAX_LAYERS 16
#define PKI_MAX_NODES 4096
#define PKI_MAX_SIGNATURES 32 /* in one signed document */
#define PKI_MAX_DESCRIPTOR_LEN 8192
#define PKI_MAX_DOCUMENT_LEN (1u << 20)
#define PKI_DOC_VERSION 1

/* Role bits of a node.  A mix has only PKI_ROLE_MIX; gateway and provider may be combined. */
#define PKI_ROLE_GATEWAY 1u
#define PKI_ROLE_MIX 2u
#define PKI_ROLE_PROVIDER 4u

/* Why a parse or verification failed.  pki_strerror() gives the text. */
enum pki_err {
    PKI_OK = 0,
    PKI_ERR_MALFORMED,          /* not CBOR, truncated, trailing bytes, wrong type or shape */
    PKI_ERR_NONCANONICAL,       /* valid CBOR but not the deterministic encoding */
    PKI_ERR_UNKNOWN_FIELD,      /* a map key this version does not define */
    PKI_ERR_MISSING_FIELD,      /* a required map key is absent */
    PKI_ERR_BAD_VALUE,          /* a value out of range or inconsistent (roles, layer, sizes...) */
    PKI_ERR_DUPLICATE,          /* two descriptors with one id, two signatures by one key */
    PKI_ERR_TOO_LARGE,          /* input or count over the PKI_MAX_* limits */
    PKI_ERR_BAD_SIGNATURE,      /* a signature by a configured key (or a self-signature) fails */
    PKI_ERR_TOO_FEW_SIGNATURES, /* fewer than k valid signatures by configured authorities */
    PKI_ERR_UNKNOWN_SIGNER,     /* too few, and some signatures were by keys not configured */
    PKI_ERR_STALE_EPOCH,        /* the document's epoch (plus grace) has ended */
    PKI_ERR_FUTURE_EPOCH,       /* the document's epoch starts too far ahead */
    PKI_ERR_WRONG_EPOCH,        /* not the epoch the caller asked for */
    PKI_ERR_INVALID_ARG,        /* a caller's mistake (NULL, bad threshold...) */
    PKI_ERR_NOMEM,
};
const char *pki_strerror(enum pki_err e);

/* ------------------------------------------------------------------ epochs
 *
 * Epoch e (e >= 1) covers [genesis + (e-1)*len, genesis + e*len).  Before
 * genesis there is no epoch (0).  Grace rule: during the first `grace`
 * seconds of epoch e a node still accepts packets for its Sphinx key of
 * epoch e-1 (packets built just before the boundary are in flight); after
 * that it drops the e-1 key and its replay cache.  grace < len.
 */
struct pki_timing {
    uint64_t genesis;   /* Unix seconds when epoch 1 starts */
    uint64_t epoch_len; /* seconds, > 0 */
    uint64_t grace;     /* seconds, < epoch_len */
};

uint64_t pki_epoch_of(const struct pki_timing *t, uint64_t now);
uint64_t pki_epoch_start(const struct pki_timing *t, uint64_t epoch); /* epoch >= 1 */
uint64_t pki_epoch_end(const struct pki_timing *t, uint64_t epoch);   /* = start of epoch+1 */
/* True while `now` is in the first t->grace seconds of its epoch (and the epoch is > 1). */
bool pki_in_grace(const struct pki_timing *t, uint64_t now);
/*
 * The epochs whose Sphinx keys a node accepts at `now`: out[0] = current,
 * out[1] = previous while in grace.  Returns how many (0 before genesis).
 */
size_t pki_accepted_epochs(const struct pki_timing *t, uint64_t now, uint64_t out[2]);

/* ------------------------------------------------------------------ descriptors */

struct pki_sphinx_key {
    uint64_t epoch;
    uint8_t key[PKI_KEY_LEN]; /* X25519 public key for Sphinx in that epoch */
};

/* A node's self-description.  Plain data: copy freely. */
struct pki_descriptor {
    uint8_t id[PKI_KEY_LEN];           /* BLAKE2b-256(identity_key) */
    uint8_t identity_key[PKI_KEY_LEN]; /* Ed25519 public key; signs the descriptor */
    uint8_t link_key[PKI_KEY_LEN];     /* X25519 Noise static public key */
    uint32_t roles;                    /* PKI_ROLE_* bits */
    uint32_t layer;                    /* 1..layers for a mix, 0 otherwise */
    char address[PKI_ADDR_MAX + 1];    /* "host:port", NUL-terminated */
    size_t n_sphinx_keys;              /* 1..PKI_MAX_SPHINX_KEYS, epochs strictly increasing */
    struct pki_sphinx_key sphinx_keys[PKI_MAX_SPHINX_KEYS];
};

/* id = BLAKE2b-256(identity public key). */
void pki_node_id(const uint8_t identity_pk[static PKI_KEY_LEN], uint8_t id[static PKI_KEY_LEN]);

/* Check a descriptor's fields (id matches key, roles/layer, address, keys); no signature. */
enum pki_err pki_descriptor_check(const struct pki_descriptor *d) MIX_WUR;

/*
 * Encode and sign: *out is a malloc()ed signed descriptor (the caller frees
 * it) of *out_len bytes.  sk is the Ed25519 secret key (libsodium's 64-byte
 * form) whose public half must equal d->identity_key.
 */
enum pki_err pki_descriptor_sign(const struct pki_descriptor *d,
                                 const uint8_t sk[static PKI_SECRET_KEY_LEN], uint8_t **out,
                                 size_t *out_len) MIX_WUR;

/* Parse a signed descriptor, check canonical form, fields and self-signature. */
enum pki_err pki_descriptor_verify(const uint8_t *buf, size_t len,
                                   struct pki_descriptor *out) MIX_WUR;

/* The descriptor's Sphinx key for `epoch`, or NULL if it has none. */
const uint8_t *pki_descriptor_sphinx_key(const struct pki_descriptor *d, uint64_t epoch);

/* ------------------------------------------------------------------ documents */

enum pki_strategy {
    PKI_STRATEGY_POISSON = 0,
    PKI_STRATEGY_TIMED_POOL = 1,
    PKI_STRATEGY_THRESHOLD = 2,
};

/*
 * Everything in a document except the descriptors.  Integers with fixed
 * units (no floats in the CBOR): rates are in millihertz (packets per 1000
 * seconds), delays in microseconds.
 */
struct pki_params {
    uint64_t epoch;            /* >= 1 */
    struct pki_timing timing;  /* valid_from/until follow from these and epoch */
    uint32_t max_hops;         /* Sphinx geometry */
    uint32_t payload_len;      /* Sphinx geometry, bytes */
    uint32_t layers;           /* mix layers, 1..PKI_MAX_LAYERS */
    uint64_t mean_delay_us;    /* 1/mu: mean per-hop Poisson delay, > 0 */
    uint64_t max_delay_us;     /* cap on any per-hop delay, >= mean_delay_us */
    uint64_t lambda_p_mhz;     /* client payload stream (lambda_P) */
    uint64_t lambda_l_mhz;     /* client loop cover (lambda_L) */
    uint64_t lambda_d_mhz;     /* client drop cover (lambda_D) */
    uint64_t lambda_m_mhz;     /* mix loop cover (lambda_M) */
    uint32_t strategy;         /* enum pki_strategy */
    uint64_t pool_interval_us; /* timed pool: T (> 0 for that strategy) */
    uint32_t pool_keep;        /* timed pool: f packets kept back */
    uint32_t threshold_n;      /* threshold: n (> 0 for that strategy) */
    uint32_t sphinx_format;    /* enum sphinx_format: 0 classic, 1 KEM (X25519) */
};

/* Check params for sanity (ranges above).  pki_doc_new() and decode use it. */
enum pki_err pki_params_check(const struct pki_params *p) MIX_WUR;

struct pki_doc;

/* An empty document for `p` (copied); NULL if p is invalid or on no memory. */
struct pki_doc *pki_doc_new(const struct pki_params *p) MIX_WUR;
void pki_doc_free(struct pki_doc *doc);

/*
 * Add a (verified) descriptor.  Order of adding does not matter: the
 * document keeps descriptors sorted by id.  Fails with PKI_ERR_DUPLICATE for
 * an id already present, PKI_ERR_BAD_VALUE for a mix layer above
 * params.layers or a descriptor without a Sphinx key for params.epoch.
 */
enum pki_err pki_doc_add(struct pki_doc *doc, const struct pki_descriptor *d) MIX_WUR;

/* The canonical CBOR bytes of the document (malloc()ed; the caller frees). */
enum pki_err pki_doc_encode(const struct pki_doc *doc, uint8_t **out, size_t *out_len) MIX_WUR;

/*
 * Decode unsigned document bytes: strict deterministic CBOR, no unknown
 * keys, every value checked.  No signature or time check (see pki_verify).
 */
enum pki_err pki_doc_decode(const uint8_t *buf, size_t len, struct pki_doc **out) MIX_WUR;

/* BLAKE2b-256 of a document's bytes: what SignatureExchange.document_hash carries. */
void pki_doc_hash(const uint8_t *doc_bytes, size_t len, uint8_t out[static PKI_HASH_LEN]);

/* Look-ups.  Pointers stay valid until the document is freed. */
const struct pki_params *pki_doc_params(const struct pki_doc *doc);
uint64_t pki_doc_epoch(const struct pki_doc *doc);
uint64_t pki_doc_valid_from(const struct pki_doc *doc);
uint64_t pki_doc_valid_until(const struct pki_doc *doc);
size_t pki_doc_node_count(const struct pki_doc *doc);
const struct pki_descriptor *pki_doc_node(const struct pki_doc *doc, size_t i); /* sorted by id */
/*
 * The one binary search by node id: base holds n elements of stride bytes,
 * sorted by the PKI_KEY_LEN-byte id at byte offset id_off of each (memcmp
 * order).  The index of id, or where it would be inserted; *found says which.
 */
size_t pki_id_search(const void *base, size_t n, size_t stride, size_t id_off,
                     const uint8_t id[static PKI_KEY_LEN], bool *found);

const struct pki_descriptor *pki_doc_find(const struct pki_doc *doc,
                                          const uint8_t id[static PKI_KEY_LEN]);
/* Find by Noise link key (for authorising an incoming node link). */
const struct pki_descriptor *pki_doc_find_link_key(const struct pki_doc *doc,
                                                   const uint8_t link_key[static PKI_KEY_LEN]);
size_t pki_doc_layer_count(const struct pki_doc *doc, uint32_t layer); /* layer 1..layers */
const struct pki_descriptor *pki_doc_layer_node(const struct pki_doc *doc, uint32_t layer,
                                                size_t i);
size_t pki_doc_gateway_count(const struct pki_doc *doc);
const struct pki_descriptor *pki_doc_gateway(const struct pki_doc *doc, size_t i);
size_t pki_doc_provider_count(const struct pki_doc *doc);
const struct pki_descriptor *pki_doc_provider(const struct pki_doc *doc, size_t i);
/* A node's Sphinx key for `epoch`, or NULL (unknown node or no key for that epoch). */
const uint8_t *pki_doc_sphinx_key(const struct pki_doc *doc, const uint8_t id[static PKI_KEY_LEN],
                                  uint64_t epoch);

/*
 * A random route: out[0] is the entry gateway (entry_id, or a random
 * gateway if NULL), out[1..layers] one uniformly chosen mix per layer, and
 * out[layers+1] the destination provider (dest_id, or a random provider if
 * NULL).  Returns the number of hops written (layers + 2), or -1 if cap is
 * too small, a layer is empty, or entry/destination is missing or lacks
 * the role.
 */
int pki_random_path(const struct pki_doc *doc, const struct mix_rng *rng, const uint8_t *entry_id,
                    const uint8_t *dest_id, const struct pki_descriptor **out, size_t cap) MIX_WUR;

/* ------------------------------------------------------------------ signatures */

/* One authority's signature over a document's bytes. */
struct pki_sig {
    uint8_t key[PKI_KEY_LEN]; /* the authority's Ed25519 public key */
    uint8_t sig[PKI_SIG_LEN];
};

/* Sign document bytes with an authority's Ed25519 secret key (fills s->key and s->sig). */
enum pki_err pki_doc_sign(const uint8_t *doc_bytes, size_t len,
                          const uint8_t sk[static PKI_SECRET_KEY_LEN], struct pki_sig *s) MIX_WUR;

/* True if s is a valid signature by s->key over doc_bytes. */
bool pki_sig_valid(const uint8_t *doc_bytes, size_t len, const struct pki_sig *s) MIX_WUR;

/*
 * Wrap document bytes and signatures into a signed document (malloc()ed).
 * The signatures are written sorted by key, whatever their order here; two
 * by the same key give PKI_ERR_DUPLICATE.  The signatures are not checked.
 */
enum pki_err pki_signed_doc_encode(const uint8_t *doc_bytes, size_t doc_len,
                                   const struct pki_sig *sigs, size_t n_sigs, uint8_t **out,
                                   size_t *out_len) MIX_WUR;

/*
 * Split a signed document into its document bytes (pointing into buf) and
 * a malloc()ed array of signatures (the caller frees *sigs).  Checks the
 * outer structure only: canonical CBOR, sizes, keys sorted and distinct.
 */
enum pki_err pki_signed_doc_parse(const uint8_t *buf, size_t len, const uint8_t **doc_bytes,
                                  size_t *doc_len, struct pki_sig **sigs, size_t *n_sigs) MIX_WUR;

/* What a verifier trusts and when it is. */
struct pki_verify_opts {
    const uint8_t (*authorities)[PKI_KEY_LEN]; /* the n configured authority keys */
    size_t n_authorities;
    size_t threshold;    /* k: 1 <= k <= n */
    uint64_t now;        /* Unix seconds; 0 skips the time checks */
    uint64_t max_ahead;  /* accept an epoch starting up to this many seconds after now;
                                  0 means one epoch length (the next document) */
    uint64_t want_epoch; /* if non-zero, the document must be for this epoch */
};

/*
 * Verify a signed document: outer structure, then at least k valid
 * signatures by distinct configured authorities, then the document itself
 * (strict canonical decode), then its epoch against opts->now:
 *   stale  if now >= valid_until + grace,
 *   future if valid_from > now + max_ahead.
 * A signature by a configured key that does not verify rejects the whole
 * document (PKI_ERR_BAD_SIGNATURE); signatures by other keys are ignored,
 * but if they are why k is not reached the reason is PKI_ERR_UNKNOWN_SIGNER.
 * On success *out (if out != NULL) is the decoded document.
 */
enum pki_err pki_verify(const uint8_t *buf, size_t len, const struct pki_verify_opts *opts,
                        struct pki_doc **out) MIX_WUR;

#endif
