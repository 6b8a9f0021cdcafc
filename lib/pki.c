/*
 * The directory: descriptors, epoch documents, deterministic CBOR, Ed25519
 * signatures and k-of-n verification.  docs/spec/directory.md is the
 * byte-level specification of everything encoded here.
 *
 * CBOR.  Encoding uses libcbor's header encoders (which always pick the
 * shortest form) into a growing buffer, so the canonical rules of RFC 8949
 * section 4.2.1 hold by construction: definite lengths only, shortest
 * integer and length forms, and map keys written in increasing order (all
 * our keys are small unsigned integers, whose encodings sort bytewise like
 * the numbers).  Decoding uses libcbor's streaming decoder as a tokenizer
 * and a hand-written parser for our fixed schema: it never builds a generic
 * tree and never recurses on input depth.  Every token is checked for the
 * shortest form, every map for increasing keys; unknown keys are rejected;
 * finally the parsed value is re-encoded and compared with the input bytes,
 * so anything that is not exactly the canonical encoding is refused.
 */
#include "pki.h"
#include "sphinx.h"

#include <cbor.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* Signature inputs are these ASCII strings, a zero byte, then the encoded bytes. */
static const char DESC_CONTEXT[] = "mixnet-descriptor-v1";
static const char DOC_CONTEXT[] = "mixnet-document-v1";

/* Upper bound on a signed document: the document plus its signature list. */
#define SIGNED_DOC_MAX (PKI_MAX_DOCUMENT_LEN + 16 + PKI_MAX_SIGNATURES * 104)

/* Descriptor map keys. */
enum {
    DK_ID = 1,
    DK_IDENTITY_KEY,
    DK_LINK_KEY,
    DK_ROLES,
    DK_LAYER,
    DK_ADDRESS,
    DK_SPHINX_KEYS,
    DK_LAST = DK_SPHINX_KEYS
};

/* Document map keys. */
enum {
    K_VERSION = 1,
    K_EPOCH,
    K_GENESIS,
    K_EPOCH_LEN,
    K_GRACE,
    K_VALID_FROM,
    K_VALID_UNTIL,
    K_MAX_HOPS,
    K_PAYLOAD_LEN,
    K_LAYERS,
    K_MEAN_DELAY,
    K_MAX_DELAY,
    K_LAMBDA_P,
    K_LAMBDA_L,
    K_LAMBDA_D,
    K_LAMBDA_M,
    K_STRATEGY,
    K_POOL_INTERVAL,
    K_POOL_KEEP,
    K_THRESHOLD_N,
    K_NODES,
    K_GATEWAYS,
    K_PROVIDERS,
    /* Optional: present only when not 0 (classic), so classic documents keep their bytes. */
    K_SPHINX_FORMAT,
    K_LAST = K_SPHINX_FORMAT
};

struct pki_doc {
    struct pki_params params;
    struct pki_descriptor *nodes; /* sorted by id, strictly */
    size_t n_nodes, cap_nodes;
    /* Index into nodes[], rebuilt whenever nodes change: gateways, providers,
     * then mixes grouped by layer (layer l at layer_off[l] .. layer_off[l+1]). */
    size_t *index;
    size_t n_gw, n_prov;
    size_t layer_off[PKI_MAX_LAYERS + 2];
};

const char *pki_strerror(enum pki_err e)
{
    switch (e) {
    case PKI_OK: return "ok";
    case PKI_ERR_MALFORMED: return "malformed";
    case PKI_ERR_NONCANONICAL: return "non-canonical encoding";
    case PKI_ERR_UNKNOWN_FIELD: return "unknown field";
    case PKI_ERR_MISSING_FIELD: return "missing field";
    case PKI_ERR_BAD_VALUE: return "bad value";
    case PKI_ERR_DUPLICATE: return "duplicate entry";
    case PKI_ERR_TOO_LARGE: return "too large";
    case PKI_ERR_BAD_SIGNATURE: return "bad signature";
    case PKI_ERR_TOO_FEW_SIGNATURES: return "too few signatures";
    case PKI_ERR_UNKNOWN_SIGNER: return "unknown signer";
    case PKI_ERR_STALE_EPOCH: return "stale epoch";
    case PKI_ERR_FUTURE_EPOCH: return "future epoch";
    case PKI_ERR_WRONG_EPOCH: return "wrong epoch";
    case PKI_ERR_INVALID_ARG: return "invalid argument";
    case PKI_ERR_NOMEM: return "out of memory";
    }
    return "unknown error";
}

/* ================================================================== epochs */

uint64_t pki_epoch_of(const struct pki_timing *t, uint64_t now)
{
    if (t->epoch_len == 0 || now < t->genesis)
        return 0;
    return (now - t->genesis) / t->epoch_len + 1;
}

uint64_t pki_epoch_start(const struct pki_timing *t, uint64_t epoch)
{
    return epoch == 0 ? t->genesis : t->genesis + (epoch - 1) * t->epoch_len;
}

uint64_t pki_epoch_end(const struct pki_timing *t, uint64_t epoch)
{
    return pki_epoch_start(t, epoch) + t->epoch_len;
}

bool pki_in_grace(const struct pki_timing *t, uint64_t now)
{
    uint64_t e = pki_epoch_of(t, now);
    return e > 1 && now - pki_epoch_start(t, e) < t->grace;
}

size_t pki_accepted_epochs(const struct pki_timing *t, uint64_t now, uint64_t out[2])
{
    uint64_t e = pki_epoch_of(t, now);
    if (e == 0)
        return 0;
    out[0] = e;
    if (pki_in_grace(t, now)) {
        out[1] = e - 1;
        return 2;
    }
    return 1;
}

/* ================================================================== CBOR writer */

struct cwriter {
    uint8_t *p;
    size_t len, cap;
    bool nomem;
};

static bool cw_reserve(struct cwriter *w, size_t n)
{
    if (w->nomem)
        return false;
    if (w->cap - w->len >= n)
        return true;
    size_t cap = w->cap ? w->cap : 256;
    while (cap - w->len < n) {
        if (cap > SIZE_MAX / 2) {
            w->nomem = true;
            return false;
        }
        cap *= 2;
    }
    uint8_t *p = realloc(w->p, cap);
    if (p == NULL) {
        w->nomem = true;
        return false;
    }
    w->p = p;
    w->cap = cap;
    return true;
}

/* libcbor's encoders write the shortest header for the value. */
static void cw_uint(struct cwriter *w, uint64_t v)
{
    if (cw_reserve(w, 9))
        w->len += cbor_encode_uint(v, w->p + w->len, 9);
}

static void cw_array(struct cwriter *w, size_t n)
{
    if (cw_reserve(w, 9))
        w->len += cbor_encode_array_start(n, w->p + w->len, 9);
}

static void cw_map(struct cwriter *w, size_t n)
{
    if (cw_reserve(w, 9))
        w->len += cbor_encode_map_start(n, w->p + w->len, 9);
}

static void cw_bytes(struct cwriter *w, const uint8_t *b, size_t n)
{
    if (!cw_reserve(w, 9 + n))
        return;
    w->len += cbor_encode_bytestring_start(n, w->p + w->len, 9);
    if (n)
        memcpy(w->p + w->len, b, n);
    w->len += n;
}

static void cw_text(struct cwriter *w, const char *s, size_t n)
{
    if (!cw_reserve(w, 9 + n))
        return;
    w->len += cbor_encode_string_start(n, w->p + w->len, 9);
    if (n)
        memcpy(w->p + w->len, s, n);
    w->len += n;
}

/* Hand the buffer to the caller, or free it on failure. */
static enum pki_err cw_finish(struct cwriter *w, uint8_t **out, size_t *out_len)
{
    if (w->nomem) {
        free(w->p);
        *out = NULL;
        return PKI_ERR_NOMEM;
    }
    *out = w->p;
    *out_len = w->len;
    return PKI_OK;
}

/* ================================================================== CBOR reader */

enum tok_kind { T_OTHER, T_UINT, T_NEGINT, T_BYTES, T_TEXT, T_ARRAY, T_MAP, T_INDEF, T_TAG };

struct tok {
    enum tok_kind kind;
    uint64_t val;        /* integer value, or element count of an array / map */
    const uint8_t *data; /* bytes / text */
    size_t len;
};

struct creader {
    const uint8_t *p;
    size_t len, off;
};

static void on_u8(void *c, uint8_t v)
{
    ((struct tok *)c)->kind = T_UINT;
    ((struct tok *)c)->val = v;
}
static void on_u16(void *c, uint16_t v)
{
    ((struct tok *)c)->kind = T_UINT;
    ((struct tok *)c)->val = v;
}
static void on_u32(void *c, uint32_t v)
{
    ((struct tok *)c)->kind = T_UINT;
    ((struct tok *)c)->val = v;
}
static void on_u64(void *c, uint64_t v)
{
    ((struct tok *)c)->kind = T_UINT;
    ((struct tok *)c)->val = v;
}
static void on_n8(void *c, uint8_t v)
{
    ((struct tok *)c)->kind = T_NEGINT;
    ((struct tok *)c)->val = v;
}
static void on_n16(void *c, uint16_t v)
{
    ((struct tok *)c)->kind = T_NEGINT;
    ((struct tok *)c)->val = v;
}
static void on_n32(void *c, uint32_t v)
{
    ((struct tok *)c)->kind = T_NEGINT;
    ((struct tok *)c)->val = v;
}
static void on_n64(void *c, uint64_t v)
{
    ((struct tok *)c)->kind = T_NEGINT;
    ((struct tok *)c)->val = v;
}

static void on_bytes(void *c, cbor_data d, size_t n)
{
    struct tok *t = c;
    t->kind = T_BYTES;
    t->data = d;
    t->len = n;
}

static void on_text(void *c, cbor_data d, size_t n)
{
    struct tok *t = c;
    t->kind = T_TEXT;
    t->data = d;
    t->len = n;
}

static void on_array(void *c, size_t n)
{
    ((struct tok *)c)->kind = T_ARRAY;
    ((struct tok *)c)->val = n;
}
static void on_map(void *c, size_t n)
{
    ((struct tok *)c)->kind = T_MAP;
    ((struct tok *)c)->val = n;
}
static void on_indef(void *c)
{
    ((struct tok *)c)->kind = T_INDEF;
}
static void on_tag(void *c, uint64_t v)
{
    ((struct tok *)c)->kind = T_TAG;
    ((struct tok *)c)->val = v;
}
static void on_other(void *c)
{
    ((struct tok *)c)->kind = T_OTHER;
}
static void on_float(void *c, float v)
{
    (void)v;
    on_other(c);
}
static void on_double(void *c, double v)
{
    (void)v;
    on_other(c);
}
static void on_bool(void *c, bool v)
{
    (void)v;
    on_other(c);
}

static const struct cbor_callbacks tok_callbacks = {
    .uint8 = on_u8,
    .uint16 = on_u16,
    .uint32 = on_u32,
    .uint64 = on_u64,
    .negint8 = on_n8,
    .negint16 = on_n16,
    .negint32 = on_n32,
    .negint64 = on_n64,
    .byte_string = on_bytes,
    .byte_string_start = on_indef,
    .string = on_text,
    .string_start = on_indef,
    .array_start = on_array,
    .indef_array_start = on_indef,
    .map_start = on_map,
    .indef_map_start = on_indef,
    .tag = on_tag,
    .float2 = on_float,
    .float4 = on_float,
    .float8 = on_double,
    .undefined = on_other,
    .null = on_other,
    .boolean = on_bool,
    .indef_break = on_other,
};

/* Size of the shortest CBOR head carrying argument v. */
static size_t head_len(uint64_t v)
{
    return v < 24 ? 1 : v <= 0xff ? 2 : v <= 0xffff ? 3 : v <= 0xffffffffu ? 5 : 9;
}

/*
 * Read one token.  Truncated or invalid CBOR is MALFORMED; an indefinite
 * length or a longer-than-needed head is NONCANONICAL.
 */
static enum pki_err rd_tok(struct creader *r, struct tok *t)
{
    memset(t, 0, sizeof *t);
    if (r->off >= r->len)
        return PKI_ERR_MALFORMED;
    struct cbor_decoder_result res =
        cbor_stream_decode(r->p + r->off, r->len - r->off, &tok_callbacks, t);
    if (res.status != CBOR_DECODER_FINISHED || res.read == 0)
        return PKI_ERR_MALFORMED;
    r->off += res.read;
    switch (t->kind) {
    case T_INDEF: return PKI_ERR_NONCANONICAL;
    case T_UINT:
    case T_NEGINT:
    case T_ARRAY:
    case T_MAP:
    case T_TAG: return res.read == head_len(t->val) ? PKI_OK : PKI_ERR_NONCANONICAL;
    case T_BYTES:
    case T_TEXT: return res.read - t->len == head_len(t->len) ? PKI_OK : PKI_ERR_NONCANONICAL;
    case T_OTHER: break;
    }
    return PKI_OK;
}

/* Read a token that must be of kind k (anything else is MALFORMED). */
static enum pki_err rd_kind(struct creader *r, enum tok_kind k, struct tok *t)
{
    enum pki_err e = rd_tok(r, t);
    if (e != PKI_OK)
        return e;
    return t->kind == k ? PKI_OK : PKI_ERR_MALFORMED;
}

static enum pki_err rd_uint(struct creader *r, uint64_t *v)
{
    struct tok t;
    enum pki_err e = rd_kind(r, T_UINT, &t);
    if (e == PKI_OK)
        *v = t.val;
    return e;
}

static enum pki_err rd_u32(struct creader *r, uint32_t *v)
{
    uint64_t x;
    enum pki_err e = rd_uint(r, &x);
    if (e == PKI_OK && x > UINT32_MAX)
        return PKI_ERR_BAD_VALUE;
    if (e == PKI_OK)
        *v = (uint32_t)x;
    return e;
}

static enum pki_err rd_fixed_bytes(struct creader *r, uint8_t *out, size_t want)
{
    struct tok t;
    enum pki_err e = rd_kind(r, T_BYTES, &t);
    if (e != PKI_OK)
        return e;
    if (t.len != want)
        return PKI_ERR_BAD_VALUE;
    memcpy(out, t.data, want);
    return PKI_OK;
}

/*
 * Read an array or map head and bound its count by the bytes left (every
 * element takes at least one byte), so a huge claimed count never reaches
 * an allocation.
 */
static enum pki_err rd_container(struct creader *r, enum tok_kind k, uint64_t *n)
{
    struct tok t;
    enum pki_err e = rd_kind(r, k, &t);
    if (e != PKI_OK)
        return e;
    uint64_t per = k == T_MAP ? 2 : 1;
    if (t.val > (r->len - r->off) / per)
        return PKI_ERR_MALFORMED;
    *n = t.val;
    return PKI_OK;
}

/*
 * Read the next key of a map with known keys 1..last.  Keys must be
 * unsigned integers in strictly increasing order; *prev carries the last one.
 */
static enum pki_err rd_key(struct creader *r, uint64_t last, uint64_t *prev, uint64_t *key)
{
    enum pki_err e = rd_uint(r, key);
    if (e != PKI_OK)
        return e;
    if (*key == 0 || *key > last)
        return PKI_ERR_UNKNOWN_FIELD;
    if (*key <= *prev)
        return PKI_ERR_NONCANONICAL;
    *prev = *key;
    return PKI_OK;
}

/* ================================================================== descriptors */

void pki_node_id(const uint8_t identity_pk[static PKI_KEY_LEN], uint8_t id[static PKI_KEY_LEN])
{
    crypto_generichash(id, PKI_KEY_LEN, identity_pk, PKI_KEY_LEN, NULL, 0);
}

static bool address_ok(const char *a)
{
    size_t n = strnlen(a, PKI_ADDR_MAX + 1);
    if (n == 0 || n > PKI_ADDR_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (a[i] < 0x21 || a[i] > 0x7e)
            return false;
    return strrchr(a, ':') != NULL;
}

enum pki_err pki_descriptor_check(const struct pki_descriptor *d)
{
    uint8_t id[PKI_KEY_LEN];
    if (d == NULL)
        return PKI_ERR_INVALID_ARG;
    pki_node_id(d->identity_key, id);
    if (sodium_memcmp(id, d->id, PKI_KEY_LEN) != 0)
        return PKI_ERR_BAD_VALUE;
    /* A mix is only a mix (layer 1..); gateway and provider may share a node (layer 0). */
    if (d->roles == PKI_ROLE_MIX) {
        if (d->layer < 1 || d->layer > PKI_MAX_LAYERS)
            return PKI_ERR_BAD_VALUE;
    } else if (d->roles == 0 || (d->roles & ~(PKI_ROLE_GATEWAY | PKI_ROLE_PROVIDER)) != 0 ||
               d->layer != 0) {
        return PKI_ERR_BAD_VALUE;
    }
    if (!address_ok(d->address))
        return PKI_ERR_BAD_VALUE;
    if (d->n_sphinx_keys < 1 || d->n_sphinx_keys > PKI_MAX_SPHINX_KEYS)
        return PKI_ERR_BAD_VALUE;
    for (size_t i = 0; i < d->n_sphinx_keys; i++) {
        if (d->sphinx_keys[i].epoch == 0)
            return PKI_ERR_BAD_VALUE;
        if (i > 0 && d->sphinx_keys[i].epoch <= d->sphinx_keys[i - 1].epoch)
            return PKI_ERR_BAD_VALUE;
    }
    return PKI_OK;
}

const uint8_t *pki_descriptor_sphinx_key(const struct pki_descriptor *d, uint64_t epoch)
{
    for (size_t i = 0; i < d->n_sphinx_keys && i < PKI_MAX_SPHINX_KEYS; i++)
        if (d->sphinx_keys[i].epoch == epoch)
            return d->sphinx_keys[i].key;
    return NULL;
}

static void cw_descriptor(struct cwriter *w, const struct pki_descriptor *d)
{
    cw_map(w, DK_LAST);
    cw_uint(w, DK_ID);
    cw_bytes(w, d->id, PKI_KEY_LEN);
    cw_uint(w, DK_IDENTITY_KEY);
    cw_bytes(w, d->identity_key, PKI_KEY_LEN);
    cw_uint(w, DK_LINK_KEY);
    cw_bytes(w, d->link_key, PKI_KEY_LEN);
    cw_uint(w, DK_ROLES);
    cw_uint(w, d->roles);
    cw_uint(w, DK_LAYER);
    cw_uint(w, d->layer);
    cw_uint(w, DK_ADDRESS);
    cw_text(w, d->address, strnlen(d->address, PKI_ADDR_MAX));
    cw_uint(w, DK_SPHINX_KEYS);
    cw_array(w, d->n_sphinx_keys);
    for (size_t i = 0; i < d->n_sphinx_keys; i++) {
        cw_array(w, 2);
        cw_uint(w, d->sphinx_keys[i].epoch);
        cw_bytes(w, d->sphinx_keys[i].key, PKI_KEY_LEN);
    }
}

static enum pki_err rd_sphinx_keys(struct creader *r, struct pki_descriptor *d)
{
    uint64_t n, pair;
    enum pki_err e = rd_container(r, T_ARRAY, &n);
    if (e != PKI_OK)
        return e;
    if (n > PKI_MAX_SPHINX_KEYS)
        return PKI_ERR_TOO_LARGE;
    d->n_sphinx_keys = (size_t)n;
    for (size_t i = 0; i < n; i++) {
        if ((e = rd_container(r, T_ARRAY, &pair)) != PKI_OK)
            return e;
        if (pair != 2)
            return PKI_ERR_MALFORMED;
        if ((e = rd_uint(r, &d->sphinx_keys[i].epoch)) != PKI_OK ||
            (e = rd_fixed_bytes(r, d->sphinx_keys[i].key, PKI_KEY_LEN)) != PKI_OK)
            return e;
    }
    return PKI_OK;
}

static enum pki_err rd_address(struct creader *r, struct pki_descriptor *d)
{
    struct tok t;
    enum pki_err e = rd_kind(r, T_TEXT, &t);
    if (e != PKI_OK)
        return e;
    if (t.len == 0 || t.len > PKI_ADDR_MAX || memchr(t.data, 0, t.len) != NULL)
        return PKI_ERR_BAD_VALUE;
    memcpy(d->address, t.data, t.len);
    d->address[t.len] = '\0';
    return PKI_OK;
}

static enum pki_err rd_descriptor_field(struct creader *r, uint64_t key, struct pki_descriptor *d)
{
    switch (key) {
    case DK_ID: return rd_fixed_bytes(r, d->id, PKI_KEY_LEN);
    case DK_IDENTITY_KEY: return rd_fixed_bytes(r, d->identity_key, PKI_KEY_LEN);
    case DK_LINK_KEY: return rd_fixed_bytes(r, d->link_key, PKI_KEY_LEN);
    case DK_ROLES: return rd_u32(r, &d->roles);
    case DK_LAYER: return rd_u32(r, &d->layer);
    case DK_ADDRESS: return rd_address(r, d);
    case DK_SPHINX_KEYS: return rd_sphinx_keys(r, d);
    default: return PKI_ERR_UNKNOWN_FIELD;
    }
}

/* Parse one descriptor map (structure only; pki_descriptor_check() judges values). */
static enum pki_err rd_descriptor(struct creader *r, struct pki_descriptor *d)
{
    uint64_t n, prev = 0, key;
    enum pki_err e = rd_container(r, T_MAP, &n);
    if (e != PKI_OK)
        return e;
    memset(d, 0, sizeof *d);
    for (uint64_t i = 0; i < n; i++) {
        if ((e = rd_key(r, DK_LAST, &prev, &key)) != PKI_OK)
            return e;
        if ((e = rd_descriptor_field(r, key, d)) != PKI_OK)
            return e;
    }
    return n == DK_LAST ? PKI_OK : PKI_ERR_MISSING_FIELD;
}

/* Build context || 0x00 || bytes: the exact input of every signature. */
static uint8_t *sig_input(const char *context, const uint8_t *b, size_t n, size_t *out_len)
{
    size_t cl = strlen(context) + 1;
    if (n > SIZE_MAX - cl)
        return NULL;
    uint8_t *m = malloc(cl + n);
    if (m == NULL)
        return NULL;
    memcpy(m, context, cl); /* includes the terminating zero byte */
    if (n)
        memcpy(m + cl, b, n);
    *out_len = cl + n;
    return m;
}

static enum pki_err sign_bytes(const char *context, const uint8_t *b, size_t n,
                               const uint8_t sk[static PKI_SECRET_KEY_LEN],
                               uint8_t sig[static PKI_SIG_LEN])
{
    size_t mlen;
    uint8_t *m = sig_input(context, b, n, &mlen);
    if (m == NULL)
        return PKI_ERR_NOMEM;
    int rc = crypto_sign_ed25519_detached(sig, NULL, m, mlen, sk);
    free(m);
    return rc == 0 ? PKI_OK : PKI_ERR_INVALID_ARG;
}

static bool verify_bytes(const uint8_t *m, size_t mlen, const uint8_t pk[static PKI_KEY_LEN],
                         const uint8_t sig[static PKI_SIG_LEN])
{
    return crypto_sign_ed25519_verify_detached(sig, m, mlen, pk) == 0;
}

enum pki_err pki_descriptor_sign(const struct pki_descriptor *d,
                                 const uint8_t sk[static PKI_SECRET_KEY_LEN], uint8_t **out,
                                 size_t *out_len)
{
    uint8_t pk[PKI_KEY_LEN], sig[PKI_SIG_LEN];
    struct cwriter body = { 0 }, outer = { 0 };
    enum pki_err e = pki_descriptor_check(d);
    if (e != PKI_OK)
        return e;
    crypto_sign_ed25519_sk_to_pk(pk, sk);
    if (sodium_memcmp(pk, d->identity_key, PKI_KEY_LEN) != 0)
        return PKI_ERR_INVALID_ARG;
    cw_descriptor(&body, d);
    if (body.nomem) {
        free(body.p);
        return PKI_ERR_NOMEM;
    }
    e = sign_bytes(DESC_CONTEXT, body.p, body.len, sk, sig);
    if (e == PKI_OK) {
        cw_array(&outer, 2);
        cw_bytes(&outer, body.p, body.len);
        cw_bytes(&outer, sig, PKI_SIG_LEN);
        e = cw_finish(&outer, out, out_len);
    }
    free(body.p);
    return e;
}

/* Parse [bstr body, bstr sig] exactly filling buf. */
static enum pki_err rd_signed_pair(const uint8_t *buf, size_t len, struct tok *body,
                                   uint8_t sig[static PKI_SIG_LEN])
{
    struct creader r = { buf, len, 0 };
    uint64_t n;
    enum pki_err e = rd_container(&r, T_ARRAY, &n);
    if (e != PKI_OK)
        return e;
    if (n != 2)
        return PKI_ERR_MALFORMED;
    if ((e = rd_kind(&r, T_BYTES, body)) != PKI_OK ||
        (e = rd_fixed_bytes(&r, sig, PKI_SIG_LEN)) != PKI_OK)
        return e;
    return r.off == r.len ? PKI_OK : PKI_ERR_MALFORMED;
}

/* Compare a parsed descriptor's canonical encoding with the bytes it came from. */
static enum pki_err descriptor_reencode_matches(const struct pki_descriptor *d, const uint8_t *b,
                                                size_t n)
{
    struct cwriter w = { 0 };
    cw_descriptor(&w, d);
    enum pki_err e = w.nomem                                  ? PKI_ERR_NOMEM
                     : (w.len == n && memcmp(w.p, b, n) == 0) ? PKI_OK
                                                              : PKI_ERR_NONCANONICAL;
    free(w.p);
    return e;
}

enum pki_err pki_descriptor_verify(const uint8_t *buf, size_t len, struct pki_descriptor *out)
{
    struct tok body;
    uint8_t sig[PKI_SIG_LEN];
    struct pki_descriptor d;
    enum pki_err e;
    if (buf == NULL || out == NULL)
        return PKI_ERR_INVALID_ARG;
    if (len > PKI_MAX_DESCRIPTOR_LEN)
        return PKI_ERR_TOO_LARGE;
    if ((e = rd_signed_pair(buf, len, &body, sig)) != PKI_OK)
        return e;
    struct creader r = { body.data, body.len, 0 };
    if ((e = rd_descriptor(&r, &d)) != PKI_OK)
        return e;
    if (r.off != r.len)
        return PKI_ERR_MALFORMED;
    if ((e = descriptor_reencode_matches(&d, body.data, body.len)) != PKI_OK)
        return e;
    if ((e = pki_descriptor_check(&d)) != PKI_OK)
        return e;
    size_t mlen;
    uint8_t *m = sig_input(DESC_CONTEXT, body.data, body.len, &mlen);
    if (m == NULL)
        return PKI_ERR_NOMEM;
    bool ok = verify_bytes(m, mlen, d.identity_key, sig);
    free(m);
    if (!ok)
        return PKI_ERR_BAD_SIGNATURE;
    *out = d;
    return PKI_OK;
}

/* ================================================================== documents */

enum pki_err pki_params_check(const struct pki_params *p)
{
    if (p == NULL)
        return PKI_ERR_INVALID_ARG;
    const struct pki_timing *t = &p->timing;
    if (p->epoch == 0 || t->epoch_len == 0 || t->grace >= t->epoch_len)
        return PKI_ERR_BAD_VALUE;
    /* The end of the epoch, and of its grace, must fit in 64 bits. */
    if (t->genesis > UINT64_MAX - t->grace ||
        p->epoch > (UINT64_MAX - t->genesis - t->grace) / t->epoch_len)
        return PKI_ERR_BAD_VALUE;
    if (p->layers < 1 || p->layers > PKI_MAX_LAYERS || p->max_hops < p->layers + 2)
        return PKI_ERR_BAD_VALUE;
    /* The geometry must be one every node can build and unwrap (sphinx.md). */
    if (p->sphinx_format > SPHINX_FORMAT_LAST)
        return PKI_ERR_BAD_VALUE;
    const struct sphinx_geometry g = { .max_hops = p->max_hops,
                                       .payload_len = p->payload_len,
                                       .format = (enum sphinx_format)p->sphinx_format };
    const char *why;
    if (!sphinx_geometry_valid(&g, &why) || p->payload_len > PKI_MAX_DOCUMENT_LEN)
        return PKI_ERR_BAD_VALUE;
    if (p->mean_delay_us == 0 || p->max_delay_us < p->mean_delay_us)
        return PKI_ERR_BAD_VALUE;
    switch (p->strategy) {
    case PKI_STRATEGY_POISSON: break;
    case PKI_STRATEGY_TIMED_POOL:
        if (p->pool_interval_us == 0)
            return PKI_ERR_BAD_VALUE;
        break;
    case PKI_STRATEGY_THRESHOLD:
        if (p->threshold_n == 0)
            return PKI_ERR_BAD_VALUE;
        break;
    default: return PKI_ERR_BAD_VALUE;
    }
    return PKI_OK;
}

struct pki_doc *pki_doc_new(const struct pki_params *p)
{
    if (pki_params_check(p) != PKI_OK)
        return NULL;
    struct pki_doc *doc = calloc(1, sizeof *doc);
    if (doc == NULL)
        return NULL;
    doc->params = *p;
    return doc;
}

void pki_doc_free(struct pki_doc *doc)
{
    if (doc == NULL)
        return;
    free(doc->nodes);
    free(doc->index);
    free(doc);
}

/* Rebuild the role and layer index after nodes[] changed. */
static enum pki_err doc_reindex(struct pki_doc *doc)
{
    size_t n = doc->n_nodes, pos = 0;
    size_t *idx = NULL;
    if (n > 0 && (idx = calloc(3 * n, sizeof *idx)) == NULL)
        return PKI_ERR_NOMEM;
    doc->n_gw = doc->n_prov = 0;
    for (size_t i = 0; i < n; i++)
        if (doc->nodes[i].roles & PKI_ROLE_GATEWAY)
            idx[pos++] = i, doc->n_gw++;
    for (size_t i = 0; i < n; i++)
        if (doc->nodes[i].roles & PKI_ROLE_PROVIDER)
            idx[pos++] = i, doc->n_prov++;
    for (uint32_t l = 1; l <= PKI_MAX_LAYERS + 1; l++) {
        doc->layer_off[l] = pos;
        for (size_t i = 0; i < n && l <= PKI_MAX_LAYERS; i++)
            if ((doc->nodes[i].roles & PKI_ROLE_MIX) && doc->nodes[i].layer == l)
                idx[pos++] = i;
    }
    free(doc->index);
    doc->index = idx;
    return PKI_OK;
}

/* Whether d may appear in doc (values and epoch), beyond pki_descriptor_check(). */
static enum pki_err doc_accepts(const struct pki_doc *doc, const struct pki_descriptor *d)
{
    enum pki_err e = pki_descriptor_check(d);
    if (e != PKI_OK)
        return e;
    if (d->layer > doc->params.layers)
        return PKI_ERR_BAD_VALUE;
    if (pki_descriptor_sphinx_key(d, doc->params.epoch) == NULL)
        return PKI_ERR_BAD_VALUE;
    return PKI_OK;
}

size_t pki_id_search(const void *base, size_t n, size_t stride, size_t id_off,
                     const uint8_t id[static PKI_KEY_LEN], bool *found)
{
    const uint8_t *v = base;
    size_t lo = 0, hi = n;
    *found = false;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(v + mid * stride + id_off, id, PKI_KEY_LEN);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Position of id in the sorted nodes[] (or where it would go); *found says which. */
static size_t doc_search(const struct pki_doc *doc, const uint8_t *id, bool *found)
{
    return pki_id_search(doc->nodes, doc->n_nodes, sizeof doc->nodes[0],
                         offsetof(struct pki_descriptor, id), id, found);
}

static bool doc_grow(struct pki_doc *doc)
{
    if (doc->n_nodes < doc->cap_nodes)
        return true;
    size_t cap = doc->cap_nodes ? doc->cap_nodes * 2 : 16;
    struct pki_descriptor *n = realloc(doc->nodes, cap * sizeof *n);
    if (n == NULL)
        return false;
    doc->nodes = n;
    doc->cap_nodes = cap;
    return true;
}

enum pki_err pki_doc_add(struct pki_doc *doc, const struct pki_descriptor *d)
{
    bool found;
    if (doc == NULL || d == NULL)
        return PKI_ERR_INVALID_ARG;
    enum pki_err e = doc_accepts(doc, d);
    if (e != PKI_OK)
        return e;
    size_t pos = doc_search(doc, d->id, &found);
    if (found)
        return PKI_ERR_DUPLICATE;
    if (doc->n_nodes >= PKI_MAX_NODES)
        return PKI_ERR_TOO_LARGE;
    if (!doc_grow(doc))
        return PKI_ERR_NOMEM;
    memmove(&doc->nodes[pos + 1], &doc->nodes[pos], (doc->n_nodes - pos) * sizeof *d);
    doc->nodes[pos] = *d;
    doc->n_nodes++;
    e = doc_reindex(doc);
    if (e != PKI_OK) {
        /* Undo, so the document stays consistent with its old index. */
        memmove(&doc->nodes[pos], &doc->nodes[pos + 1], (doc->n_nodes - pos - 1) * sizeof *d);
        doc->n_nodes--;
    }
    return e;
}

static void cw_id_list(struct cwriter *w, const struct pki_doc *doc, size_t first, size_t n)
{
    cw_array(w, n);
    for (size_t i = 0; i < n; i++)
        cw_bytes(w, doc->nodes[doc->index[first + i]].id, PKI_KEY_LEN);
}

static void cw_doc(struct cwriter *w, const struct pki_doc *doc)
{
    const struct pki_params *p = &doc->params;
    const uint64_t vals[K_NODES] = {
        [K_VERSION] = PKI_DOC_VERSION,
        [K_EPOCH] = p->epoch,
        [K_GENESIS] = p->timing.genesis,
        [K_EPOCH_LEN] = p->timing.epoch_len,
        [K_GRACE] = p->timing.grace,
        [K_VALID_FROM] = pki_doc_valid_from(doc),
        [K_VALID_UNTIL] = pki_doc_valid_until(doc),
        [K_MAX_HOPS] = p->max_hops,
        [K_PAYLOAD_LEN] = p->payload_len,
        [K_LAYERS] = p->layers,
        [K_MEAN_DELAY] = p->mean_delay_us,
        [K_MAX_DELAY] = p->max_delay_us,
        [K_LAMBDA_P] = p->lambda_p_mhz,
        [K_LAMBDA_L] = p->lambda_l_mhz,
        [K_LAMBDA_D] = p->lambda_d_mhz,
        [K_LAMBDA_M] = p->lambda_m_mhz,
        [K_STRATEGY] = p->strategy,
        [K_POOL_INTERVAL] = p->pool_interval_us,
        [K_POOL_KEEP] = p->pool_keep,
        [K_THRESHOLD_N] = p->threshold_n,
    };
    cw_map(w, p->sphinx_format != SPHINX_FORMAT_CLASSIC ? K_SPHINX_FORMAT : K_PROVIDERS);
    for (uint64_t k = K_VERSION; k < K_NODES; k++) {
        cw_uint(w, k);
        cw_uint(w, vals[k]);
    }
    cw_uint(w, K_NODES);
    cw_array(w, doc->n_nodes);
    for (size_t i = 0; i < doc->n_nodes; i++)
        cw_descriptor(w, &doc->nodes[i]);
    cw_uint(w, K_GATEWAYS);
    cw_id_list(w, doc, 0, doc->n_gw);
    cw_uint(w, K_PROVIDERS);
    cw_id_list(w, doc, doc->n_gw, doc->n_prov);
    if (p->sphinx_format != SPHINX_FORMAT_CLASSIC) {
        cw_uint(w, K_SPHINX_FORMAT);
        cw_uint(w, p->sphinx_format);
    }
}

enum pki_err pki_doc_encode(const struct pki_doc *doc, uint8_t **out, size_t *out_len)
{
    struct cwriter w = { 0 };
    if (doc == NULL || out == NULL || out_len == NULL)
        return PKI_ERR_INVALID_ARG;
    cw_doc(&w, doc);
    if (!w.nomem && w.len > PKI_MAX_DOCUMENT_LEN) {
        free(w.p);
        return PKI_ERR_TOO_LARGE;
    }
    return cw_finish(&w, out, out_len);
}

static enum pki_err rd_nodes(struct creader *r, struct pki_doc *doc)
{
    uint64_t n;
    enum pki_err e = rd_container(r, T_ARRAY, &n);
    if (e != PKI_OK)
        return e;
    if (n > PKI_MAX_NODES)
        return PKI_ERR_TOO_LARGE;
    if (n > 0 && (doc->nodes = calloc((size_t)n, sizeof *doc->nodes)) == NULL)
        return PKI_ERR_NOMEM;
    doc->cap_nodes = (size_t)n;
    for (size_t i = 0; i < n; i++) {
        struct pki_descriptor *d = &doc->nodes[i];
        if ((e = rd_descriptor(r, d)) != PKI_OK)
            return e;
        if (i > 0) {
            int c = memcmp(doc->nodes[i - 1].id, d->id, PKI_KEY_LEN);
            if (c == 0)
                return PKI_ERR_DUPLICATE;
            if (c > 0)
                return PKI_ERR_NONCANONICAL;
        }
        doc->n_nodes = i + 1;
    }
    return PKI_OK;
}

/* The derived gateway / provider lists are read and compared after the nodes. */
static enum pki_err rd_id_list(struct creader *r, uint8_t **ids, size_t *n_ids)
{
    uint64_t n;
    enum pki_err e = rd_container(r, T_ARRAY, &n);
    if (e != PKI_OK)
        return e;
    if (n > PKI_MAX_NODES)
        return PKI_ERR_TOO_LARGE;
    free(*ids);
    *ids = n ? malloc((size_t)n * PKI_KEY_LEN) : NULL;
    if (n && *ids == NULL)
        return PKI_ERR_NOMEM;
    *n_ids = (size_t)n;
    for (size_t i = 0; i < n; i++)
        if ((e = rd_fixed_bytes(r, *ids + i * PKI_KEY_LEN, PKI_KEY_LEN)) != PKI_OK)
            return e;
    return PKI_OK;
}

struct doc_lists {
    uint8_t *gw, *prov;
    size_t n_gw, n_prov;
};

static enum pki_err rd_doc_field(struct creader *r, uint64_t key, struct pki_doc *doc,
                                 struct doc_lists *lists, uint64_t vals[K_LAST + 1])
{
    switch (key) {
    case K_NODES: return rd_nodes(r, doc);
    case K_GATEWAYS: return rd_id_list(r, &lists->gw, &lists->n_gw);
    case K_PROVIDERS: return rd_id_list(r, &lists->prov, &lists->n_prov);
    default: return rd_uint(r, &vals[key]);
    }
}

/* Move the scalar fields into params, rejecting values that do not fit. */
static enum pki_err doc_set_params(struct pki_doc *doc, const uint64_t v[K_LAST + 1])
{
    struct pki_params *p = &doc->params;
    if (v[K_VERSION] != PKI_DOC_VERSION)
        return PKI_ERR_BAD_VALUE;
    if (v[K_MAX_HOPS] > UINT32_MAX || v[K_PAYLOAD_LEN] > UINT32_MAX || v[K_LAYERS] > UINT32_MAX ||
        v[K_STRATEGY] > UINT32_MAX || v[K_POOL_KEEP] > UINT32_MAX ||
        v[K_THRESHOLD_N] > UINT32_MAX || v[K_SPHINX_FORMAT] > UINT32_MAX)
        return PKI_ERR_BAD_VALUE;
    p->epoch = v[K_EPOCH];
    p->timing.genesis = v[K_GENESIS];
    p->timing.epoch_len = v[K_EPOCH_LEN];
    p->timing.grace = v[K_GRACE];
    p->max_hops = (uint32_t)v[K_MAX_HOPS];
    p->payload_len = (uint32_t)v[K_PAYLOAD_LEN];
    p->layers = (uint32_t)v[K_LAYERS];
    p->mean_delay_us = v[K_MEAN_DELAY];
    p->max_delay_us = v[K_MAX_DELAY];
    p->lambda_p_mhz = v[K_LAMBDA_P];
    p->lambda_l_mhz = v[K_LAMBDA_L];
    p->lambda_d_mhz = v[K_LAMBDA_D];
    p->lambda_m_mhz = v[K_LAMBDA_M];
    p->strategy = (uint32_t)v[K_STRATEGY];
    p->pool_interval_us = v[K_POOL_INTERVAL];
    p->pool_keep = (uint32_t)v[K_POOL_KEEP];
    p->threshold_n = (uint32_t)v[K_THRESHOLD_N];
    p->sphinx_format = (uint32_t)v[K_SPHINX_FORMAT];
    enum pki_err e = pki_params_check(p);
    if (e != PKI_OK)
        return e;
    if (v[K_VALID_FROM] != pki_doc_valid_from(doc) || v[K_VALID_UNTIL] != pki_doc_valid_until(doc))
        return PKI_ERR_BAD_VALUE;
    return PKI_OK;
}

static bool id_list_matches(const struct pki_doc *doc, size_t first, size_t n, const uint8_t *ids,
                            size_t n_ids)
{
    if (n != n_ids)
        return false;
    for (size_t i = 0; i < n; i++)
        if (memcmp(doc->nodes[doc->index[first + i]].id, ids + i * PKI_KEY_LEN, PKI_KEY_LEN) != 0)
            return false;
    return true;
}

/* Values and cross-field consistency of a parsed document. */
static enum pki_err doc_validate(struct pki_doc *doc, const struct doc_lists *lists)
{
    enum pki_err e;
    for (size_t i = 0; i < doc->n_nodes; i++)
        if ((e = doc_accepts(doc, &doc->nodes[i])) != PKI_OK)
            return e;
    if ((e = doc_reindex(doc)) != PKI_OK)
        return e;
    if (!id_list_matches(doc, 0, doc->n_gw, lists->gw, lists->n_gw) ||
        !id_list_matches(doc, doc->n_gw, doc->n_prov, lists->prov, lists->n_prov))
        return PKI_ERR_BAD_VALUE;
    return PKI_OK;
}

static enum pki_err doc_parse(const uint8_t *buf, size_t len, struct pki_doc *doc)
{
    struct creader r = { buf, len, 0 };
    struct doc_lists lists = { 0 };
    uint64_t vals[K_LAST + 1] = { 0 };
    uint64_t n, prev = 0, key;
    enum pki_err e = rd_container(&r, T_MAP, &n);
    for (uint64_t i = 0; e == PKI_OK && i < n; i++) {
        e = rd_key(&r, K_LAST, &prev, &key);
        if (e == PKI_OK)
            e = rd_doc_field(&r, key, doc, &lists, vals);
    }
    /*
     * Keys 1..K_PROVIDERS are required; K_SPHINX_FORMAT only when not 0, so
     * that a document has one encoding.
     */
    if (e == PKI_OK && n == K_LAST && vals[K_SPHINX_FORMAT] == SPHINX_FORMAT_CLASSIC)
        e = PKI_ERR_NONCANONICAL;
    if (e == PKI_OK && n != K_LAST && (n != K_PROVIDERS || prev != K_PROVIDERS))
        e = PKI_ERR_MISSING_FIELD;
    if (e == PKI_OK && r.off != r.len)
        e = PKI_ERR_MALFORMED;
    if (e == PKI_OK)
        e = doc_set_params(doc, vals);
    if (e == PKI_OK)
        e = doc_validate(doc, &lists);
    free(lists.gw);
    free(lists.prov);
    return e;
}

enum pki_err pki_doc_decode(const uint8_t *buf, size_t len, struct pki_doc **out)
{
    uint8_t *again = NULL;
    size_t again_len = 0;
    if (buf == NULL || out == NULL)
        return PKI_ERR_INVALID_ARG;
    *out = NULL;
    if (len > PKI_MAX_DOCUMENT_LEN)
        return PKI_ERR_TOO_LARGE;
    struct pki_doc *doc = calloc(1, sizeof *doc);
    if (doc == NULL)
        return PKI_ERR_NOMEM;
    enum pki_err e = doc_parse(buf, len, doc);
    /* The token checks catch most non-canonical forms; re-encoding catches the rest. */
    if (e == PKI_OK)
        e = pki_doc_encode(doc, &again, &again_len);
    if (e == PKI_OK && (again_len != len || memcmp(again, buf, len) != 0))
        e = PKI_ERR_NONCANONICAL;
    free(again);
    if (e != PKI_OK) {
        pki_doc_free(doc);
        return e;
    }
    *out = doc;
    return PKI_OK;
}

void pki_doc_hash(const uint8_t *doc_bytes, size_t len, uint8_t out[static PKI_HASH_LEN])
{
    crypto_generichash(out, PKI_HASH_LEN, doc_bytes, len, NULL, 0);
}

/* ------------------------------------------------------------------ look-ups */

const struct pki_params *pki_doc_params(const struct pki_doc *doc)
{
    return &doc->params;
}
uint64_t pki_doc_epoch(const struct pki_doc *doc)
{
    return doc->params.epoch;
}

uint64_t pki_doc_valid_from(const struct pki_doc *doc)
{
    return pki_epoch_start(&doc->params.timing, doc->params.epoch);
}

uint64_t pki_doc_valid_until(const struct pki_doc *doc)
{
    return pki_epoch_end(&doc->params.timing, doc->params.epoch);
}

size_t pki_doc_node_count(const struct pki_doc *doc)
{
    return doc->n_nodes;
}

const struct pki_descriptor *pki_doc_node(const struct pki_doc *doc, size_t i)
{
    return i < doc->n_nodes ? &doc->nodes[i] : NULL;
}

const struct pki_descriptor *pki_doc_find(const struct pki_doc *doc,
                                          const uint8_t id[static PKI_KEY_LEN])
{
    bool found;
    size_t pos = doc_search(doc, id, &found);
    return found ? &doc->nodes[pos] : NULL;
}

const struct pki_descriptor *pki_doc_find_link_key(const struct pki_doc *doc,
                                                   const uint8_t link_key[static PKI_KEY_LEN])
{
    for (size_t i = 0; i < doc->n_nodes; i++)
        if (memcmp(doc->nodes[i].link_key, link_key, PKI_KEY_LEN) == 0)
            return &doc->nodes[i];
    return NULL;
}

size_t pki_doc_layer_count(const struct pki_doc *doc, uint32_t layer)
{
    if (layer < 1 || layer > PKI_MAX_LAYERS || doc->index == NULL)
        return 0;
    return doc->layer_off[layer + 1] - doc->layer_off[layer];
}

const struct pki_descriptor *pki_doc_layer_node(const struct pki_doc *doc, uint32_t layer, size_t i)
{
    if (i >= pki_doc_layer_count(doc, layer))
        return NULL;
    return &doc->nodes[doc->index[doc->layer_off[layer] + i]];
}

size_t pki_doc_gateway_count(const struct pki_doc *doc)
{
    return doc->n_gw;
}

const struct pki_descriptor *pki_doc_gateway(const struct pki_doc *doc, size_t i)
{
    return i < doc->n_gw ? &doc->nodes[doc->index[i]] : NULL;
}

size_t pki_doc_provider_count(const struct pki_doc *doc)
{
    return doc->n_prov;
}

const struct pki_descriptor *pki_doc_provider(const struct pki_doc *doc, size_t i)
{
    return i < doc->n_prov ? &doc->nodes[doc->index[doc->n_gw + i]] : NULL;
}

const uint8_t *pki_doc_sphinx_key(const struct pki_doc *doc, const uint8_t id[static PKI_KEY_LEN],
                                  uint64_t epoch)
{
    const struct pki_descriptor *d = pki_doc_find(doc, id);
    return d ? pki_descriptor_sphinx_key(d, epoch) : NULL;
}

int pki_random_path(const struct pki_doc *doc, const struct mix_rng *rng, const uint8_t *entry_id,
                    const uint8_t *dest_id, const struct pki_descriptor **out, size_t cap)
{
    uint32_t layers = doc->params.layers;
    if (cap < (size_t)layers + 2)
        return -1;
    const struct pki_descriptor *entry, *dest;
    if (entry_id != NULL)
        entry = pki_doc_find(doc, entry_id);
    else
        entry = doc->n_gw ? pki_doc_gateway(doc, mix_rng_below(rng, doc->n_gw)) : NULL;
    if (dest_id != NULL)
        dest = pki_doc_find(doc, dest_id);
    else
        dest = doc->n_prov ? pki_doc_provider(doc, mix_rng_below(rng, doc->n_prov)) : NULL;
    if (entry == NULL || !(entry->roles & PKI_ROLE_GATEWAY) || dest == NULL ||
        !(dest->roles & PKI_ROLE_PROVIDER))
        return -1;
    out[0] = entry;
    for (uint32_t l = 1; l <= layers; l++) {
        size_t n = pki_doc_layer_count(doc, l);
        if (n == 0)
            return -1;
        out[l] = pki_doc_layer_node(doc, l, mix_rng_below(rng, n));
    }
    out[layers + 1] = dest;
    return (int)layers + 2;
}

/* ================================================================== signatures */

enum pki_err pki_doc_sign(const uint8_t *doc_bytes, size_t len,
                          const uint8_t sk[static PKI_SECRET_KEY_LEN], struct pki_sig *s)
{
    if (doc_bytes == NULL || s == NULL)
        return PKI_ERR_INVALID_ARG;
    crypto_sign_ed25519_sk_to_pk(s->key, sk);
    return sign_bytes(DOC_CONTEXT, doc_bytes, len, sk, s->sig);
}

bool pki_sig_valid(const uint8_t *doc_bytes, size_t len, const struct pki_sig *s)
{
    size_t mlen;
    uint8_t *m = sig_input(DOC_CONTEXT, doc_bytes, len, &mlen);
    if (m == NULL)
        return false;
    bool ok = verify_bytes(m, mlen, s->key, s->sig);
    free(m);
    return ok;
}

static int sig_cmp(const void *a, const void *b)
{
    return memcmp(((const struct pki_sig *)a)->key, ((const struct pki_sig *)b)->key, PKI_KEY_LEN);
}

enum pki_err pki_signed_doc_encode(const uint8_t *doc_bytes, size_t doc_len,
                                   const struct pki_sig *sigs, size_t n_sigs, uint8_t **out,
                                   size_t *out_len)
{
    struct cwriter w = { 0 };
    struct pki_sig *sorted = NULL;
    if (doc_bytes == NULL || (sigs == NULL && n_sigs > 0) || out == NULL || out_len == NULL)
        return PKI_ERR_INVALID_ARG;
    if (n_sigs > PKI_MAX_SIGNATURES || doc_len > PKI_MAX_DOCUMENT_LEN)
        return PKI_ERR_TOO_LARGE;
    if (n_sigs > 0) {
        if ((sorted = malloc(n_sigs * sizeof *sorted)) == NULL)
            return PKI_ERR_NOMEM;
        memcpy(sorted, sigs, n_sigs * sizeof *sorted);
        qsort(sorted, n_sigs, sizeof *sorted, sig_cmp);
    }
    for (size_t i = 1; i < n_sigs; i++) {
        if (sig_cmp(&sorted[i - 1], &sorted[i]) == 0) {
            free(sorted);
            return PKI_ERR_DUPLICATE;
        }
    }
    cw_array(&w, 2);
    cw_bytes(&w, doc_bytes, doc_len);
    cw_array(&w, n_sigs);
    for (size_t i = 0; i < n_sigs; i++) {
        cw_array(&w, 2);
        cw_bytes(&w, sorted[i].key, PKI_KEY_LEN);
        cw_bytes(&w, sorted[i].sig, PKI_SIG_LEN);
    }
    free(sorted);
    return cw_finish(&w, out, out_len);
}

static enum pki_err rd_sig_list(struct creader *r, struct pki_sig **sigs, size_t *n_sigs)
{
    uint64_t n, pair;
    enum pki_err e = rd_container(r, T_ARRAY, &n);
    if (e != PKI_OK)
        return e;
    if (n > PKI_MAX_SIGNATURES)
        return PKI_ERR_TOO_LARGE;
    struct pki_sig *s = n ? calloc((size_t)n, sizeof *s) : NULL;
    if (n && s == NULL)
        return PKI_ERR_NOMEM;
    for (size_t i = 0; e == PKI_OK && i < n; i++) {
        e = rd_container(r, T_ARRAY, &pair);
        if (e == PKI_OK && pair != 2)
            e = PKI_ERR_MALFORMED;
        if (e == PKI_OK)
            e = rd_fixed_bytes(r, s[i].key, PKI_KEY_LEN);
        if (e == PKI_OK)
            e = rd_fixed_bytes(r, s[i].sig, PKI_SIG_LEN);
        if (e == PKI_OK && i > 0) {
            int c = sig_cmp(&s[i - 1], &s[i]);
            e = c == 0 ? PKI_ERR_DUPLICATE : c > 0 ? PKI_ERR_NONCANONICAL : PKI_OK;
        }
    }
    if (e != PKI_OK) {
        free(s);
        return e;
    }
    *sigs = s;
    *n_sigs = (size_t)n;
    return PKI_OK;
}

enum pki_err pki_signed_doc_parse(const uint8_t *buf, size_t len, const uint8_t **doc_bytes,
                                  size_t *doc_len, struct pki_sig **sigs, size_t *n_sigs)
{
    struct creader r = { buf, len, 0 };
    struct tok body;
    uint64_t n;
    if (buf == NULL || doc_bytes == NULL || doc_len == NULL || sigs == NULL || n_sigs == NULL)
        return PKI_ERR_INVALID_ARG;
    *sigs = NULL;
    *n_sigs = 0;
    if (len > SIGNED_DOC_MAX)
        return PKI_ERR_TOO_LARGE;
    enum pki_err e = rd_container(&r, T_ARRAY, &n);
    if (e != PKI_OK)
        return e;
    if (n != 2)
        return PKI_ERR_MALFORMED;
    if ((e = rd_kind(&r, T_BYTES, &body)) != PKI_OK)
        return e;
    if (body.len > PKI_MAX_DOCUMENT_LEN)
        return PKI_ERR_TOO_LARGE;
    if ((e = rd_sig_list(&r, sigs, n_sigs)) != PKI_OK)
        return e;
    if (r.off != r.len) {
        free(*sigs);
        *sigs = NULL;
        *n_sigs = 0;
        return PKI_ERR_MALFORMED;
    }
    *doc_bytes = body.data;
    *doc_len = body.len;
    return PKI_OK;
}

static bool is_authority(const struct pki_verify_opts *o, const uint8_t key[static PKI_KEY_LEN])
{
    for (size_t i = 0; i < o->n_authorities; i++)
        if (memcmp(o->authorities[i], key, PKI_KEY_LEN) == 0)
            return true;
    return false;
}

/* Count valid signatures by configured authorities; see pki_verify() for the policy. */
static enum pki_err check_sigs(const uint8_t *doc, size_t doc_len, const struct pki_sig *sigs,
                               size_t n_sigs, const struct pki_verify_opts *o)
{
    size_t valid = 0, unknown = 0, mlen;
    uint8_t *m = sig_input(DOC_CONTEXT, doc, doc_len, &mlen);
    enum pki_err e = PKI_OK;
    if (m == NULL)
        return PKI_ERR_NOMEM;
    for (size_t i = 0; i < n_sigs; i++) {
        if (!is_authority(o, sigs[i].key)) {
            unknown++;
            continue;
        }
        if (!verify_bytes(m, mlen, sigs[i].key, sigs[i].sig)) {
            e = PKI_ERR_BAD_SIGNATURE;
            break;
        }
        /* Keys in the list are distinct (parse checked), so each counts once. */
        valid++;
    }
    free(m);
    if (e == PKI_OK && valid < o->threshold)
        e = unknown > 0 ? PKI_ERR_UNKNOWN_SIGNER : PKI_ERR_TOO_FEW_SIGNATURES;
    return e;
}

static enum pki_err check_time(const struct pki_doc *doc, const struct pki_verify_opts *o)
{
    const struct pki_params *p = &doc->params;
    if (o->want_epoch != 0 && p->epoch != o->want_epoch)
        return PKI_ERR_WRONG_EPOCH;
    if (o->now == 0)
        return PKI_OK;
    uint64_t ahead = o->max_ahead ? o->max_ahead : p->timing.epoch_len;
    if (o->now >= pki_doc_valid_until(doc) + p->timing.grace)
        return PKI_ERR_STALE_EPOCH;
    if (pki_doc_valid_from(doc) > o->now && pki_doc_valid_from(doc) - o->now > ahead)
        return PKI_ERR_FUTURE_EPOCH;
    return PKI_OK;
}

enum pki_err pki_verify(const uint8_t *buf, size_t len, const struct pki_verify_opts *opts,
                        struct pki_doc **out)
{
    const uint8_t *doc_bytes;
    size_t doc_len, n_sigs;
    struct pki_sig *sigs = NULL;
    struct pki_doc *doc = NULL;
    if (out != NULL)
        *out = NULL;
    if (buf == NULL || opts == NULL || opts->authorities == NULL || opts->threshold == 0 ||
        opts->threshold > opts->n_authorities)
        return PKI_ERR_INVALID_ARG;
    enum pki_err e = pki_signed_doc_parse(buf, len, &doc_bytes, &doc_len, &sigs, &n_sigs);
    if (e != PKI_OK)
        return e;
    /* Signatures first: unauthenticated document bytes are parsed as little as possible. */
    e = check_sigs(doc_bytes, doc_len, sigs, n_sigs, opts);
    free(sigs);
    if (e == PKI_OK)
        e = pki_doc_decode(doc_bytes, doc_len, &doc);
    if (e == PKI_OK)
        e = check_time(doc, opts);
    if (e != PKI_OK || out == NULL)
        pki_doc_free(doc);
    else
        *out = doc;
    return e;
}
