/*
 * Fuzz mixdir's configuration parser: any bytes as INI text must give a
 * config or a clear error, never a crash.  The first byte chooses between
 * the whole-file parser and the `authority =` line parser.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dir_conf.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    char err[256];
    if (!init) {
        mix_log_init("fuzz", MIX_LOG_ERR, false);
        init = true;
    }
    if (size == 0 || size > 65536)
        return 0;
    char *text = malloc(size);
    if (text == NULL)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    if (data[0] & 1) {
        struct authority a;
        if (authority_parse_line(text, &a, err, sizeof err))
            err[0] = '\0';
    } else {
        struct dir_conf *c = dir_conf_parse(text, err, sizeof err);
        if (c != NULL && c->n_auth == 0)
            abort(); /* a config always has at least one authority */
        dir_conf_free(c);
    }
    free(text);
    return 0;
}
