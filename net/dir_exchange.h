/*
 * One request, one answer, over a Noise link to an authority: how mixnode
 * fetches its document, `mixdir fetch` and the test tools talk to the
 * directory.
 */
#ifndef MIX_NET_DIR_EXCHANGE_H
#define MIX_NET_DIR_EXCHANGE_H

#include "common.h"
#include "frame.h"

/*
 * Dial `addr` expecting the Noise static key `auth_link`, as `role`, under a
 * fresh throwaway link key; send `frame` (len bytes of an encoded Frame) and
 * wait up to `timeout_s` for one answer frame, decoded into *out (free with
 * frame_free).  Returns 0, or -1 when the link closed or timed out first.
 */
int dir_exchange(const char *addr, const uint8_t auth_link[static 32], int role,
                 const uint8_t *frame, size_t len, double timeout_s,
                 struct mix_frame **out) MIX_WUR;
/*
 * The same under our own link key own_sk (an authority talking to a peer), sending n frames in
 * order before waiting for the first answer.
 */
int dir_exchange_as(const char *addr, const uint8_t auth_link[static 32], int role,
                    const uint8_t own_sk[static 32], const uint8_t *const *frames,
                    const size_t *lens, size_t n, double timeout_s, struct mix_frame **out) MIX_WUR;

#endif
