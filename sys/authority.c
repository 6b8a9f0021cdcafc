/*
 * `authority =` lines; see authority.h.
 */
#include "authority.h"

#include <stdio.h>
#include <string.h>

#include "hostport.h"
#include "keyfile.h"

bool authority_parse_line(const char *line, struct authority *out, char *err, size_t errlen)
{
    char addr[PKI_ADDR_MAX + 2], ed[KEY_B64_MAX + 2], x[KEY_B64_MAX + 2], extra[2];
    char host[PKI_ADDR_MAX + 1];
    uint16_t port;
    memset(out, 0, sizeof *out);
    /* Widths keep sscanf inside the buffers; a longer token fails below, an extra one here. */
    if (line == NULL || sscanf(line, "%256s %90s %90s %1s", addr, ed, x, extra) != 3) {
        snprintf(err, errlen, "authority line \"%.300s\": want HOST:PORT ED25519_PUB X25519_PUB",
                 line ? line : "");
        return false;
    }
    if (strlen(addr) > PKI_ADDR_MAX || !hostport_parse(addr, host, sizeof host, &port) ||
        port == 0) {
        snprintf(err, errlen, "authority line: bad address \"%s\"", addr);
        return false;
    }
    if (!key_from_b64(ed, out->sign_pk, PKI_KEY_LEN)) {
        snprintf(err, errlen, "authority line: bad Ed25519 key \"%s\"", ed);
        return false;
    }
    if (!key_from_b64(x, out->link_pk, PKI_KEY_LEN)) {
        snprintf(err, errlen, "authority line: bad X25519 key \"%s\"", x);
        return false;
    }
    memcpy(out->addr, addr, strlen(addr) + 1);
    return true;
}

int authority_read_list(struct conf *cf, const char *section, struct authority *out, size_t max,
                        size_t *n, char *err, size_t errlen)
{
    char why[512];
    int bad = 0;
    size_t count = conf_count(cf, section, "authority");
    *n = 0;
    if (count == 0 || count > max) {
        snprintf(err, errlen, "[%s] authority: 1 to %zu lines are required (%zu given)", section,
                 max, count);
        conf_error(cf, "%s", err);
        return -1;
    }
    /* Every line is checked, each error kept for conf_report(). */
    for (size_t i = 0; i < count; i++) {
        if (!authority_parse_line(conf_get_nth(cf, section, "authority", i), &out[i], why,
                                  sizeof why)) {
            snprintf(err, errlen, "[%s] %s", section, why);
            conf_error(cf, "%s", err);
            bad = 1;
            continue;
        }
        for (size_t j = 0; j < i; j++)
            if (memcmp(out[j].sign_pk, out[i].sign_pk, PKI_KEY_LEN) == 0 ||
                memcmp(out[j].link_pk, out[i].link_pk, PKI_KEY_LEN) == 0) {
                snprintf(err, errlen, "[%s] authority %zu repeats a key of authority %zu", section,
                         i + 1, j + 1);
                conf_error(cf, "%s", err);
                bad = 1;
                break;
            }
    }
    *n = count;
    return bad ? -1 : 0;
}
