/*
 * Fuzz target: frame_decode() on arbitrary bytes.
 *
 * Properties checked beyond "no crash, no leak": a frame that decodes
 * passes frame_check(); it encodes again (frame_encode_alloc) to bytes that
 * decode to the same type with the same encoded length (protobuf-c drops
 * unknown fields, so the bytes themselves may differ).  Bytes that
 * frame_sphinx_view() takes decode to the same packet, and
 * frame_sphinx_encode() gives them back exactly.
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
    struct frame_buf view;
    bool fast = frame_sphinx_view(data, size, 1 << 16, &view);
    /* A small maximum keeps the fuzzer on structure, not on size. */
    if (!frame_decode(data, size, 1 << 16, &f, &why)) {
        if (fast)
            abort();
        if (why == NULL || f != NULL)
            abort();
        return 0;
    }
    if (!frame_check(f, &why))
        abort();
    if (fast) {
        uint8_t *enc = malloc(size);
        size_t elen = 0;
        if (f->type != FRAME_SPHINX_PACKET || f->u.sphinx.packet.len != view.len ||
            memcmp(f->u.sphinx.packet.ptr, view.ptr, view.len) != 0 || enc == NULL ||
            !frame_sphinx_encode(view.ptr, view.len, enc, size, &elen) || elen != size ||
            memcmp(enc, data, size) != 0)
            abort();
        free(enc);
    }
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
