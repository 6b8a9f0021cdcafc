/* The ground-truth target file; see truth.h. */
#include "truth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void truth_free(struct truth *t)
{
    free(t->v);
    memset(t, 0, sizeof(*t));
}

static int ent_cmp(const void *a, const void *b)
{
    const struct truth_ent *x = a, *y = b;
    int c = memcmp(x->ep.ip, y->ep.ip, sizeof(x->ep.ip));
    if (c != 0)
        return c;
    if (x->ep.port != y->ep.port)
        return x->ep.port < y->ep.port ? -1 : 1;
    return x->frame < y->frame ? -1 : x->frame > y->frame;
}

/* One "<ns> <ip:port> <frame>" line (NUL-terminated, no line break). */
static bool parse_line(const char *l, struct truth_ent *out)
{
    char hp[80], *end;
    const char *p = l;
    if (*p < '0' || *p > '9')
        return false;
    unsigned long long ns = strtoull(p, &end, 10);
    if (*end != ' ' || ns > (unsigned long long)INT64_MAX)
        return false;
    p = end + 1;
    size_t k = strcspn(p, " ");
    if (k == 0 || k >= sizeof(hp) || p[k] != ' ')
        return false;
    memcpy(hp, p, k);
    hp[k] = 0;
    if (!cap_ep_parse(hp, &out->ep))
        return false;
    p += k + 1;
    if (*p < '0' || *p > '9')
        return false;
    unsigned long fr = strtoul(p, &end, 10);
    while (*end == ' ' || *end == '\t' || *end == '\r')
        end++;
    if (*end != 0 || fr > UINT32_MAX)
        return false;
    out->t_ns = (int64_t)ns;
    out->frame = (uint32_t)fr;
    out->matched = false;
    return true;
}

bool truth_parse(struct truth *t, const char *buf, size_t len, char *err, size_t errlen)
{
    char line[256];
    size_t lineno = 0;
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t k = nl ? (size_t)(nl - (buf + pos)) : len - pos;
        lineno++;
        if (k >= sizeof(line)) {
            snprintf(err, errlen, "line %zu: too long", lineno);
            return false;
        }
        memcpy(line, buf + pos, k);
        line[k] = 0;
        pos += k + 1;
        if (k > 0 && line[k - 1] == '\r')
            line[--k] = 0;
        if (memchr(line, 0, k) != NULL) {
            snprintf(err, errlen, "line %zu: a NUL byte", lineno);
            return false;
        }
        if (lineno == 1) {
            if (strcmp(line, TRUTH_HEADER) != 0) {
                snprintf(err, errlen, "line 1: not \"%s\"", TRUTH_HEADER);
                return false;
            }
            continue;
        }
        /* Several writers appending to one file repeat the header; blank lines are allowed. */
        if (k == 0 || strcmp(line, TRUTH_HEADER) == 0)
            continue;
        struct truth_ent e;
        if (!parse_line(line, &e)) {
            snprintf(err, errlen, "line %zu: want \"REALTIME_NS IP:PORT FRAME_INDEX\"", lineno);
            return false;
        }
        if (t->n == TRUTH_MAX_ENTRIES) {
            snprintf(err, errlen, "line %zu: more than %u entries", lineno, TRUTH_MAX_ENTRIES);
            return false;
        }
        if (t->n == t->cap) {
            size_t nc = t->cap ? t->cap * 2 : 256;
            struct truth_ent *v = realloc(t->v, nc * sizeof(*v));
            if (v == NULL) {
                snprintf(err, errlen, "line %zu: out of memory", lineno);
                return false;
            }
            t->v = v;
            t->cap = nc;
        }
        t->v[t->n++] = e;
        t->sorted = false;
    }
    if (lineno == 0) {
        snprintf(err, errlen, "empty (want the \"%s\" header)", TRUTH_HEADER);
        return false;
    }
    return true;
}

static void truth_sort(struct truth *t)
{
    if (!t->sorted) {
        qsort(t->v, t->n, sizeof(*t->v), ent_cmp);
        t->sorted = true;
    }
}

struct truth_ent *truth_find(struct truth *t, const struct cap_ep *ep, uint32_t frame)
{
    if (t->n == 0)
        return NULL;
    truth_sort(t);
    struct truth_ent key = { .ep = *ep, .frame = frame };
    return bsearch(&key, t->v, t->n, sizeof(*t->v), ent_cmp);
}

/* The first entry of the sorted array not before ep (after it, if past). */
static size_t ep_bound(const struct truth *t, const struct cap_ep *ep, bool past)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct cap_ep *x = &t->v[mid].ep;
        int c = memcmp(x->ip, ep->ip, sizeof(x->ip));
        if (c == 0)
            c = x->port < ep->port ? -1 : x->port > ep->port;
        if (c < 0 || (past && c == 0))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

size_t truth_ep_entries(struct truth *t, const struct cap_ep *ep, struct truth_ent **first)
{
    *first = NULL;
    if (t->n == 0)
        return 0;
    truth_sort(t);
    size_t a = ep_bound(t, ep, false), b = ep_bound(t, ep, true);
    if (b > a)
        *first = &t->v[a];
    return b - a;
}
