/*
 * Fuzz target: frame_decode() on arbitrary bytes.
 *
 * Properties checked beyond "no crash, no leak": a frame that decodes
 * passes frame_check(); it encodes again (frame_encode_alloc) to bytes that
 * decode to the same type with the same encoded length (protobuf-c drops
 * unknown fields, so the bytes themselves may differ).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mix_frame *f = NULL, *g = NULL;
    const char *why = NULL;
    /* A small maximum keeps the fuzzer on structure, not on size. */
    if (!frame_decode(data, size, 1 << 16, &f, &why)) {
        if (why == NULL || f != NULL)
            abort();
        return 0;
    }
    if (!frame_check(f, &why))
        abort();
    size_t len = 0;
    uint8_t *again = frame_encode_alloc(f, &len, &why);
    if (again == NULL || len != frame_encoded_len(f))
        abort();
    if (!frame_decode(again, len, len, &g, &why) || g->type != f->type)
        abort();
    size_t len2 = 0;
    uint8_t *third = frame_encode_alloc(g, &len2, &why);
    /* Encoding is a function of the decoded value: the second trip is exact. */
    if (third == NULL || len2 != len || memcmp(third, again, len) != 0)
        abort();
    free(third);
    free(again);
    frame_free(g);
    frame_free(f);
    return 0;
}
