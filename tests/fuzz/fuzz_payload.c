/*
 * Fuzz the client-visible parsers: the payload envelope, the e2e fragment and
 * the printable address.  Whatever parses must re-encode to the same bytes
 * (every format has exactly one encoding).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "address.h"
#include "payload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_envelope(const uint8_t *data, size_t size)
{
    struct payload_view v;
    if (payload_parse(data, size, &v) != PAYLOAD_OK)
        return;
    uint8_t *out = malloc(size);
    if (out == NULL)
        return;
    if (payload_build(out, size, v.surb_ack, v.surb_ack_len, v.body, v.body_len) != PAYLOAD_OK ||
        memcmp(out, data, size) != 0)
        abort();
    free(out);
}

static void fuzz_frag(const uint8_t *data, size_t size)
{
    struct payload_frag f;
    if (payload_frag_parse(data, size, &f) != PAYLOAD_OK)
        return;
    uint8_t *out = malloc(size);
    if (out == NULL)
        return;
    if (payload_frag_build(out, size, &f) != PAYLOAD_OK || memcmp(out, data, size) != 0)
        abort();
    free(out);
}

static void fuzz_address(const uint8_t *data, size_t size)
{
    char buf[256];
    struct mix_address a;
    if (size >= sizeof(buf))
        size = sizeof(buf) - 1;
    memcpy(buf, data, size);
    buf[size] = '\0';
    if (address_decode(buf, &a) != ADDRESS_OK)
        return;
    char s[ADDRESS_STR_SIZE];
    address_encode(&a, s);
    if (strcasecmp(s, buf) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The first byte picks the parser so one corpus covers all three. */
    if (size < 1)
        return 0;
    switch (data[0] % 3) {
    case 0: fuzz_envelope(data + 1, size - 1); break;
    case 1: fuzz_frag(data + 1, size - 1); break;
    default: fuzz_address(data + 1, size - 1); break;
    }
    return 0;
}
