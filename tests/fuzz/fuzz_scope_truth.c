/*
 * Fuzz mixscope's ground-truth target file parser (scope/truth.c): any bytes
 * give a parse or a clear error, never a crash; whatever was parsed can be
 * looked up, by entry and by endpoint (in frame order).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../scope/truth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct truth t;
    char err[160];
    memset(&t, 0, sizeof(t));
    bool ok = truth_parse(&t, (const char *)data, size, err, sizeof(err));
    if (!ok && err[0] == 0)
        abort();
    for (size_t i = 0; i < t.n && i < 64; i++) {
        struct truth_ent e = t.v[i];
        struct truth_ent *first;
        size_t n = truth_ep_entries(&t, &e.ep, &first);
        if (truth_find(&t, &e.ep, e.frame) == NULL || n == 0 || first == NULL)
            abort();
        for (size_t j = 0; j < n; j++)
            if (!cap_ep_equal(&first[j].ep, &e.ep) ||
                (j > 0 && first[j].frame < first[j - 1].frame))
                abort();
    }
    truth_free(&t);
    return 0;
}
