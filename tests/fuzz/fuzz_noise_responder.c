/*
 * Fuzz target: arbitrary bytes sent to a link responder, through the
 * handshake and on into the transport.  The responder's key and RNG are
 * fixed (tests/fuzz/noise_fuzz_keys.h), so a recorded initiator transcript
 * (tests/tools/noise_peer fuzz-seeds) drives it past the handshake and the
 * fuzzer explores the frame stream as well.
 *
 * Input: byte 0 chooses how the rest is cut before feeding (0: at once,
 * n: pieces of n bytes), the rest is the TCP byte stream.  Every received
 * frame is echoed back to exercise the sending side too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <sodium.h>

#include "link.h"
#include "noise_fuzz_keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    if (!init) {
        if (sodium_init() < 0)
            abort();
        init = true;
    }
    if (size < 1)
        return 0;
    uint8_t sk[32], pk[32], seed[32];
    noise_fuzz_keys(sk, pk, seed);
    struct mix_rng_det det;
    mix_rng_det_init(&det, seed);
    struct mix_rng rng = mix_rng_det(&det);
    struct link *l = link_new_responder(sk, pk, NOISE_FUZZ_MAX_FRAME, &rng);
    if (l == NULL)
        abort();
    size_t piece = data[0] ? data[0] : size;
    data++;
    size--;
    while (size > 0) {
        size_t n = size < piece ? size : piece;
        if (link_feed(l, data, n) != LINK_OK)
            break;
        data += n;
        size -= n;
        const uint8_t *f, *o;
        size_t flen, olen;
        while (link_next_frame(l, &f, &flen) == 1)
            if (link_send_frame(l, f, flen) == LINK_ERR_FULL)
                break;
        link_output(l, &o, &olen);
        link_consume_output(l, olen);
    }
    link_free(l);
    return 0;
}
