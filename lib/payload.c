/*
 * The payload envelope and the end-to-end fragment format; see payload.h
 * and docs/spec/client.md for the byte layout.
 */
#include "payload.h"

#include <string.h>
#include <sodium.h>

const char *payload_strerror(enum payload_err e)
{
    switch (e) {
    case PAYLOAD_OK: return "ok";
    case PAYLOAD_ERR_SHORT: return "too short";
    case PAYLOAD_ERR_VERSION: return "unknown version";
    case PAYLOAD_ERR_FLAGS: return "bad flags";
    case PAYLOAD_ERR_LENGTH: return "lengths do not fit";
    case PAYLOAD_ERR_PADDING: return "non-zero padding";
    case PAYLOAD_ERR_KIND: return "unknown fragment kind";
    case PAYLOAD_ERR_FRAGMENT: return "inconsistent fragment numbers";
    case PAYLOAD_ERR_ARG: return "content does not fit";
    }
    return "unknown error";
}

/* True if p[0..n) is all zero; runs over every byte (n is public). */
static bool all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

enum payload_err payload_parse(const uint8_t *buf, size_t len, struct payload_view *out)
{
    memset(out, 0, sizeof(*out));
    if (buf == NULL || len < PAYLOAD_HDR_LEN)
        return PAYLOAD_ERR_SHORT;
    if (buf[0] != PAYLOAD_VERSION)
        return PAYLOAD_ERR_VERSION;
    uint8_t flags = buf[1];
    size_t surb_len = mix_get_be16(buf + 2);
    size_t body_len = mix_get_be32(buf + 4);
    if ((flags & ~PAYLOAD_FLAG_SURB_ACK) != 0)
        return PAYLOAD_ERR_FLAGS;
    if (((flags & PAYLOAD_FLAG_SURB_ACK) != 0) != (surb_len != 0))
        return PAYLOAD_ERR_FLAGS;
    size_t room = len - PAYLOAD_HDR_LEN;
    if (surb_len > room || body_len > room - surb_len)
        return PAYLOAD_ERR_LENGTH;
    size_t used = PAYLOAD_HDR_LEN + surb_len + body_len;
    if (!all_zero(buf + used, len - used))
        return PAYLOAD_ERR_PADDING;
    out->flags = flags;
    out->surb_ack = surb_len ? buf + PAYLOAD_HDR_LEN : NULL;
    out->surb_ack_len = surb_len;
    out->body = buf + PAYLOAD_HDR_LEN + surb_len;
    out->body_len = body_len;
    return PAYLOAD_OK;
}

size_t payload_body_cap(size_t plain_len, size_t surb_len)
{
    if (surb_len > 0xffff || plain_len < PAYLOAD_HDR_LEN + surb_len)
        return 0;
    return plain_len - PAYLOAD_HDR_LEN - surb_len;
}

enum payload_err payload_build(uint8_t *out, size_t out_len, const uint8_t *surb, size_t surb_len,
                               const uint8_t *body, size_t body_len)
{
    if (out == NULL || (surb_len && surb == NULL) || (body_len && body == NULL))
        return PAYLOAD_ERR_ARG;
    if (body_len > UINT32_MAX || body_len > payload_body_cap(out_len, surb_len))
        return PAYLOAD_ERR_ARG;
    memset(out, 0, out_len);
    out[0] = PAYLOAD_VERSION;
    out[1] = surb_len ? PAYLOAD_FLAG_SURB_ACK : 0;
    mix_put_be16(out + 2, (uint16_t)surb_len);
    mix_put_be32(out + 4, (uint32_t)body_len);
    if (surb_len)
        memcpy(out + PAYLOAD_HDR_LEN, surb, surb_len);
    if (body_len)
        memcpy(out + PAYLOAD_HDR_LEN + surb_len, body, body_len);
    return PAYLOAD_OK;
}

void payload_inbox_id(uint8_t out[static PAYLOAD_INBOX_ID_LEN],
                      const uint8_t client_pk[static PAYLOAD_KEY_LEN])
{
    static const char label[] = "mixnet-inbox-v1";
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, PAYLOAD_INBOX_ID_LEN);
    crypto_generichash_update(&st, (const uint8_t *)label, sizeof(label) - 1);
    crypto_generichash_update(&st, client_pk, PAYLOAD_KEY_LEN);
    crypto_generichash_final(&st, out, PAYLOAD_INBOX_ID_LEN);
}

/* ------------------------------------------------------------ fragments */

uint32_t payload_frag_count(size_t msg_len, size_t frag_cap)
{
    if (frag_cap == 0)
        return 0;
    if (msg_len == 0)
        return 1;
    size_t n = (msg_len + frag_cap - 1) / frag_cap;
    return n > UINT32_MAX ? 0 : (uint32_t)n;
}

static bool kind_known(uint8_t k)
{
    return k == PAYLOAD_FRAG_DATA || k == PAYLOAD_FRAG_LOOP || k == PAYLOAD_FRAG_REPLY;
}

/* The checks shared by the parser and the builder. */
static enum payload_err frag_check(const struct payload_frag *f)
{
    if (!kind_known(f->kind))
        return PAYLOAD_ERR_KIND;
    if ((f->flags & ~PAYLOAD_FRAG_FLAG_SURB) != 0)
        return PAYLOAD_ERR_FLAGS;
    if (((f->flags & PAYLOAD_FRAG_FLAG_SURB) != 0) != (f->surb_len != 0))
        return PAYLOAD_ERR_FLAGS;
    if (f->count == 0 || f->index >= f->count || f->total_len > PAYLOAD_MAX_MESSAGE)
        return PAYLOAD_ERR_FRAGMENT;
    if (f->data_len > f->total_len || f->count > f->total_len + 1u)
        return PAYLOAD_ERR_FRAGMENT;
    /* A reply SURB rides only in fragment 0, and replies are one fragment. */
    if (f->surb_len != 0 && f->index != 0)
        return PAYLOAD_ERR_FRAGMENT;
    if (f->kind == PAYLOAD_FRAG_REPLY && f->count != 1)
        return PAYLOAD_ERR_FRAGMENT;
    return PAYLOAD_OK;
}

enum payload_err payload_frag_parse(const uint8_t *buf, size_t len, struct payload_frag *out)
{
    memset(out, 0, sizeof(*out));
    if (buf == NULL || len < PAYLOAD_FRAG_HDR_LEN)
        return PAYLOAD_ERR_SHORT;
    out->kind = buf[0];
    out->flags = buf[1];
    memcpy(out->msg_id, buf + 2, PAYLOAD_MSG_ID_LEN);
    out->index = mix_get_be32(buf + 18);
    out->count = mix_get_be32(buf + 22);
    out->total_len = mix_get_be32(buf + 26);
    out->data_len = mix_get_be16(buf + 30);
    out->surb_len = mix_get_be16(buf + 32);
    enum payload_err e = frag_check(out);
    if (e != PAYLOAD_OK)
        return e;
    size_t room = len - PAYLOAD_FRAG_HDR_LEN;
    if (out->data_len > room || out->surb_len > room - out->data_len)
        return PAYLOAD_ERR_LENGTH;
    size_t used = PAYLOAD_FRAG_HDR_LEN + out->data_len + out->surb_len;
    if (!all_zero(buf + used, len - used))
        return PAYLOAD_ERR_PADDING;
    out->data = buf + PAYLOAD_FRAG_HDR_LEN;
    out->surb = out->surb_len ? buf + PAYLOAD_FRAG_HDR_LEN + out->data_len : NULL;
    return PAYLOAD_OK;
}

enum payload_err payload_frag_build(uint8_t *out, size_t out_len, const struct payload_frag *f)
{
    if (out == NULL || f == NULL || (f->data_len && f->data == NULL) ||
        (f->surb_len && f->surb == NULL) || f->data_len > 0xffff || f->surb_len > 0xffff)
        return PAYLOAD_ERR_ARG;
    enum payload_err e = frag_check(f);
    if (e != PAYLOAD_OK)
        return e;
    if (out_len < PAYLOAD_FRAG_HDR_LEN ||
        f->data_len + f->surb_len > out_len - PAYLOAD_FRAG_HDR_LEN)
        return PAYLOAD_ERR_ARG;
    memset(out, 0, out_len);
    out[0] = f->kind;
    out[1] = f->flags;
    memcpy(out + 2, f->msg_id, PAYLOAD_MSG_ID_LEN);
    mix_put_be32(out + 18, f->index);
    mix_put_be32(out + 22, f->count);
    mix_put_be32(out + 26, f->total_len);
    mix_put_be16(out + 30, (uint16_t)f->data_len);
    mix_put_be16(out + 32, (uint16_t)f->surb_len);
    if (f->data_len)
        memcpy(out + PAYLOAD_FRAG_HDR_LEN, f->data, f->data_len);
    if (f->surb_len)
        memcpy(out + PAYLOAD_FRAG_HDR_LEN + f->data_len, f->surb, f->surb_len);
    return PAYLOAD_OK;
}
