/*
 * HOST:PORT parsing; see hostport.h.
 */
#include "hostport.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

bool hostport_parse(const char *hp, char *host, size_t cap, uint16_t *port)
{
    const char *colon, *hs = hp;
    size_t hl;
    if (hp == NULL || cap == 0)
        return false;
    if (hp[0] == '[') {
        const char *close = strchr(hp, ']');
        if (close == NULL || close[1] != ':')
            return false;
        hs = hp + 1;
        hl = (size_t)(close - hs);
        colon = close + 1;
    } else {
        /* A second colon means an unbracketed IPv6 literal: refused. */
        colon = strrchr(hp, ':');
        if (colon == NULL || memchr(hp, ':', (size_t)(colon - hp)) != NULL)
            return false;
        hl = (size_t)(colon - hp);
    }
    if (hl == 0 || hl >= cap)
        return false;
    char *end;
    errno = 0;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || errno != 0 || p > 65535 || colon[1] == '-' ||
        colon[1] == '+' || colon[1] == ' ')
        return false;
    memcpy(host, hs, hl);
    host[hl] = '\0';
    *port = (uint16_t)p;
    return true;
}
