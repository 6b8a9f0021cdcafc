/*
 * Fuzz mixsim's trace parser (sim/trace.c): any input is accepted or
 * refused with a reason, never a crash; an accepted trace has events in
 * time order with ids below its user count.
 */
#include <stdlib.h>

#include "trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    struct trace t;
    char why[200] = "";
    if (!trace_parse((const char *)data, size, &t, why, sizeof why)) {
        if (why[0] == '\0' || t.ev != NULL || t.n != 0)
            abort(); /* a refusal says why and leaves nothing */
        return 0;
    }
    if (t.n == 0 || t.users == 0)
        abort();
    for (size_t i = 0; i < t.n; i++) {
        if (t.ev[i].from >= t.users || t.ev[i].to >= t.users)
            abort();
        if (i > 0 && t.ev[i - 1].t > t.ev[i].t)
            abort();
    }
    trace_free(&t);
    return 0;
}
