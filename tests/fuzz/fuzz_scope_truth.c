/*
 * Fuzz mixscope's ground-truth target file parser (scope/truth.c): any bytes
 * give a parse or a clear error, never a crash; whatever was parsed can be
 * looked up.
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
        if (truth_find(&t, &e.ep, e.frame) == NULL)
            abort();
    }
    truth_free(&t);
    return 0;
}
