/* CSV traces of send events; see trace.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace.h"

void trace_free(struct trace *t)
{
    if (t == NULL)
        return;
    free(t->ev);
    *t = (struct trace){ 0 };
}

/* A field of the line [p, end) up to the next ',' or the end. */
static const char *field(const char *p, const char *end, const char **fend)
{
    const char *c = memchr(p, ',', (size_t)(end - p));
    *fend = c ? c : end;
    return p;
}

static bool parse_double(const char *p, const char *e, double *out)
{
    char tmp[64];
    size_t n = (size_t)(e - p);
    if (n == 0 || n >= sizeof tmp)
        return false;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    /* Decimal only: no hex floats, inf or nan, no leading space or sign. */
    for (size_t i = 0; i < n; i++)
        if (!((tmp[i] >= '0' && tmp[i] <= '9') || tmp[i] == '.' || tmp[i] == 'e' || tmp[i] == 'E' ||
              ((tmp[i] == '-' || tmp[i] == '+') && i > 0)))
            return false;
    char *end = NULL;
    errno = 0;
    double x = strtod(tmp, &end);
    if (errno != 0 || end != tmp + n || !isfinite(x) || x < 0 || x > TRACE_MAX_TIME)
        return false;
    *out = x;
    return true;
}

static bool parse_id(const char *p, const char *e, uint32_t *out)
{
    if (p == e || e - p > 8)
        return false;
    uint32_t v = 0;
    for (; p < e; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (uint32_t)(*p - '0');
    }
    if (v >= TRACE_MAX_USERS)
        return false;
    *out = v;
    return true;
}

/* Parse one line [p, end); returns NULL or the reason. */
static const char *parse_line(const char *p, const char *end, struct trace_event *ev)
{
    const char *e1, *e2, *e3;
    field(p, end, &e1);
    if (e1 == end)
        return "want time,sender,recipient";
    field(e1 + 1, end, &e2);
    if (e2 == end)
        return "want time,sender,recipient";
    field(e2 + 1, end, &e3);
    if (e3 != end)
        return "more than three fields";
    if (!parse_double(p, e1, &ev->t))
        return "time is not a number in [0, 1e9]";
    if (!parse_id(e1 + 1, e2, &ev->from))
        return "sender is not an id below 10000000";
    if (!parse_id(e2 + 1, e3, &ev->to))
        return "recipient is not an id below 10000000";
    return NULL;
}

static int cmp_time(const void *a, const void *b)
{
    const struct trace_event *x = a, *y = b;
    return (x->t > y->t) - (x->t < y->t);
}

bool trace_parse(const char *buf, size_t len, struct trace *out, char *why, size_t whylen)
{
    *out = (struct trace){ 0 };
    size_t cap = 0, line = 0;
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *next = nl ? nl + 1 : end;
        line++;
        if (le > p && le[-1] == '\r')
            le--;
        if (le == p || *p == '#' || (line == 1 && (*p < '0' || *p > '9'))) {
            p = next;
            continue;
        }
        if (memchr(p, '\0', (size_t)(le - p)) != NULL) {
            snprintf(why, whylen, "line %zu: a NUL byte", line);
            goto fail;
        }
        if (out->n == cap) {
            if (cap >= TRACE_MAX_EVENTS) {
                snprintf(why, whylen, "line %zu: more than %u events", line, TRACE_MAX_EVENTS);
                goto fail;
            }
            size_t c = cap ? cap * 2 : 1024;
            struct trace_event *ev = realloc(out->ev, c * sizeof *ev);
            if (ev == NULL) {
                snprintf(why, whylen, "line %zu: out of memory", line);
                goto fail;
            }
            out->ev = ev;
            cap = c;
        }
        const char *r = parse_line(p, le, &out->ev[out->n]);
        if (r != NULL) {
            snprintf(why, whylen, "line %zu: %s", line, r);
            goto fail;
        }
        struct trace_event *ev = &out->ev[out->n++];
        uint32_t top = ev->from > ev->to ? ev->from : ev->to;
        if (top + 1 > out->users)
            out->users = top + 1;
        p = next;
    }
    if (out->n == 0) {
        snprintf(why, whylen, "no events");
        goto fail;
    }
    /* Sort by time if needed, stably (a bottom-up merge sort). */
    bool sorted = true;
    for (size_t i = 1; i < out->n && sorted; i++)
        sorted = out->ev[i - 1].t <= out->ev[i].t;
    if (!sorted) {
        struct trace_event *tmp = malloc(out->n * sizeof *tmp);
        if (tmp == NULL) {
            snprintf(why, whylen, "out of memory");
            goto fail;
        }
        for (size_t w = 1; w < out->n; w *= 2) {
            for (size_t lo = 0; lo < out->n; lo += 2 * w) {
                size_t mid = lo + w < out->n ? lo + w : out->n;
                size_t hi = lo + 2 * w < out->n ? lo + 2 * w : out->n;
                size_t a = lo, b = mid, k = lo;
                while (a < mid && b < hi)
                    tmp[k++] = cmp_time(&out->ev[b], &out->ev[a]) < 0 ? out->ev[b++] : out->ev[a++];
                while (a < mid)
                    tmp[k++] = out->ev[a++];
                while (b < hi)
                    tmp[k++] = out->ev[b++];
            }
            memcpy(out->ev, tmp, out->n * sizeof *tmp);
        }
        free(tmp);
    }
    return true;
fail:
    trace_free(out);
    return false;
}

bool trace_load(const char *path, struct trace *out, char *why, size_t whylen)
{
    *out = (struct trace){ 0 };
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(why, whylen, "%s: %s", path, strerror(errno));
        return false;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    bool ok = false;
    for (;;) {
        if (len == cap) {
            if (cap >= ((size_t)4 << 30)) {
                snprintf(why, whylen, "%s: larger than 4 GiB", path);
                goto out;
            }
            size_t c = cap ? cap * 2 : 65536;
            char *b = realloc(buf, c);
            if (b == NULL) {
                snprintf(why, whylen, "%s: out of memory", path);
                goto out;
            }
            buf = b;
            cap = c;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        snprintf(why, whylen, "%s: read error", path);
        goto out;
    }
    char inner[200];
    ok = trace_parse(buf, len, out, inner, sizeof inner);
    if (!ok)
        snprintf(why, whylen, "%s: %s", path, inner);
out:
    free(buf);
    fclose(f);
    return ok;
}
