/*
 * Codecs of the client's stored records; the layouts are in records.h.
 */
#include "records.h"

#include <string.h>

void rec_out_pack(const struct rec_out *r, uint8_t out[static REC_OUT_HDR])
{
    memset(out, 0, REC_OUT_HDR);
    out[0] = r->version;
    out[1] = r->reply ? 1 : 0;
    memcpy(out + 4, r->gateway_id, MIX_NODE_ID_LEN);
    memcpy(out + 36, r->public_key, ADDRESS_KEY_LEN);
    mix_put_be64(out + 68, r->created);
    mix_put_be32(out + 76, r->total);
    mix_put_be32(out + 80, r->count);
    mix_put_be32(out + 84, r->cap0);
    mix_put_be32(out + 88, r->cap);
}

bool rec_out_unpack(const uint8_t *b, size_t len, struct rec_out *r)
{
    if (len < REC_OUT_HDR)
        return false;
    r->version = b[0];
    r->reply = b[1] != 0;
    memcpy(r->gateway_id, b + 4, MIX_NODE_ID_LEN);
    memcpy(r->public_key, b + 36, ADDRESS_KEY_LEN);
    r->created = mix_get_be64(b + 68);
    r->total = mix_get_be32(b + 76);
    r->count = mix_get_be32(b + 80);
    r->cap0 = mix_get_be32(b + 84);
    r->cap = mix_get_be32(b + 88);
    return true;
}

void rec_surb_pack(const struct rec_surb *r, uint8_t out[static REC_SURB_HDR])
{
    memset(out, 0, REC_SURB_HDR);
    out[0] = r->kind;
    memcpy(out + 4, r->msg_id, REC_ID_LEN);
    mix_put_be32(out + 20, r->index);
    mix_put_be64(out + 24, r->created);
}

bool rec_surb_unpack(const uint8_t *b, size_t len, struct rec_surb *r)
{
    if (len < REC_SURB_HDR)
        return false;
    r->kind = b[0];
    memcpy(r->msg_id, b + 4, REC_ID_LEN);
    r->index = mix_get_be32(b + 20);
    r->created = mix_get_be64(b + 24);
    return true;
}

void rec_pmeta_pack(const struct rec_pmeta *r, uint8_t out[static REC_PMETA_HDR])
{
    mix_put_be32(out, r->count);
    mix_put_be32(out + 4, r->total);
    mix_put_be32(out + 8, r->got);
    mix_put_be16(out + 12, r->surb_len);
    mix_put_be64(out + 14, r->first_seen);
}

bool rec_pmeta_unpack(const uint8_t *b, size_t len, struct rec_pmeta *r)
{
    if (len < REC_PMETA_HDR)
        return false;
    r->count = mix_get_be32(b);
    r->total = mix_get_be32(b + 4);
    r->got = mix_get_be32(b + 8);
    r->surb_len = mix_get_be16(b + 12);
    r->first_seen = mix_get_be64(b + 14);
    return true;
}

void rec_in_pack(const struct rec_in *r, uint8_t out[static REC_IN_HDR])
{
    out[0] = r->flags;
    out[1] = 0;
    mix_put_be16(out + 2, r->surb_len);
    mix_put_be64(out + 4, r->received_at);
    mix_put_be32(out + 12, r->body_len);
}

bool rec_in_unpack(const uint8_t *b, size_t len, struct rec_in *r)
{
    if (len < REC_IN_HDR)
        return false;
    r->flags = b[0];
    r->surb_len = mix_get_be16(b + 2);
    r->received_at = mix_get_be64(b + 4);
    r->body_len = mix_get_be32(b + 12);
    return true;
}
