/*
 * The client's stored records (client/store.h tables), one struct and one
 * pack/unpack pair each.  The bytes are what earlier versions wrote: a
 * store written before these codecs existed reads back unchanged.  All
 * integers are big-endian; "pad" bytes are written as zero and ignored.
 *
 *   OUT    key: message id (16) -> header (REC_OUT_HDR = 92), then the message
 *            0  version      1   (1)
 *            1  reply        1   (1: fragment 0 carries a reply SURB)
 *            2  pad          2
 *            4  gateway_id  32   the recipient's gateway
 *           36  public_key  32   the recipient's X25519 key
 *           68  created      8   Unix seconds
 *           76  total        4   message length
 *           80  count        4   fragments
 *           84  cap0         4   bytes in fragment 0
 *           88  cap          4   bytes in every later fragment
 *   FSTATE key: message id -> count state bytes (FS_*), then count attempt
 *          counters (saturating at 255); no header (core.c)
 *   SURB   key: SURB id -> header (REC_SURB_HDR = 32), then the SURB's keys
 *          (SPHINX_SURB_KEYS_LEN, secret)
 *            0  kind         1   SK_*
 *            1  pad          3
 *            4  msg_id      16   the message (or loop) the SURB answers for
 *           20  index        4   the fragment
 *           24  created      8   Unix seconds
 *   PMETA  key: message id -> header (REC_PMETA_HDR = 22), then the reply
 *          SURB that came with fragment 0 (surb_len bytes)
 *            0  count        4   fragments announced
 *            4  total        4   message length announced
 *            8  got          4   fragments stored so far
 *           12  surb_len     2
 *           14  first_seen   8   Unix seconds
 *   PART   key: message id || BE32 index -> the fragment's bytes (no header)
 *   IN     key: message id -> header (REC_IN_HDR = 16), then surb_len bytes
 *          (the reply SURB; for a reply, the 16-byte id it answers), then
 *          the body
 *            0  flags        1   REC_IN_*
 *            1  pad          1
 *            2  surb_len     2
 *            4  received_at  8   Unix seconds
 *           12  body_len     4
 *   RAW    key: BE64 sequence -> a ready reply packet (no header)
 */
#ifndef MIX_CLIENT_RECORDS_H
#define MIX_CLIENT_RECORDS_H

#include "common.h"
#include "payload.h"
#include "address.h"

#define REC_ID_LEN 16 /* = CORE_MSG_ID_LEN */

#define REC_OUT_HDR 92
struct rec_out {
    uint8_t version;
    bool reply;
    uint8_t gateway_id[MIX_NODE_ID_LEN];
    uint8_t public_key[ADDRESS_KEY_LEN];
    uint64_t created;
    uint32_t total, count, cap0, cap;
};

#define REC_SURB_HDR 32
struct rec_surb {
    uint8_t kind;
    uint8_t msg_id[REC_ID_LEN];
    uint32_t index;
    uint64_t created;
};

#define REC_PMETA_HDR 22
struct rec_pmeta {
    uint32_t count, total, got;
    uint16_t surb_len;
    uint64_t first_seen;
};

#define REC_IN_HDR 16
#define REC_IN_DELIVERED 1
#define REC_IN_CAN_REPLY 2
#define REC_IN_IS_REPLY 4
struct rec_in {
    uint8_t flags;
    uint16_t surb_len;
    uint64_t received_at;
    uint32_t body_len;
};

/*
 * pack writes exactly the header's bytes (pads zero); unpack reads them
 * from a record of len bytes and returns false if len is shorter than the
 * header (what follows the header is the caller's).
 */
void rec_out_pack(const struct rec_out *r, uint8_t out[static REC_OUT_HDR]);
bool rec_out_unpack(const uint8_t *b, size_t len, struct rec_out *r) MIX_WUR;
void rec_surb_pack(const struct rec_surb *r, uint8_t out[static REC_SURB_HDR]);
bool rec_surb_unpack(const uint8_t *b, size_t len, struct rec_surb *r) MIX_WUR;
void rec_pmeta_pack(const struct rec_pmeta *r, uint8_t out[static REC_PMETA_HDR]);
bool rec_pmeta_unpack(const uint8_t *b, size_t len, struct rec_pmeta *r) MIX_WUR;
void rec_in_pack(const struct rec_in *r, uint8_t out[static REC_IN_HDR]);
bool rec_in_unpack(const uint8_t *b, size_t len, struct rec_in *r) MIX_WUR;

#endif
