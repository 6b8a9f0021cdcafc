#include "conf.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ini.h>

struct conf_entry {
    char *section, *key, *value;
    int line;
    bool used;
};

struct conf {
    struct conf_entry *v;
    size_t n, cap;
    bool oom;
    char file[256];   /* for messages: the path, or "config text" */
    int line;         /* the line the reader is at */
    FILE *in;         /* conf_load's stream */
    const char *text; /* conf_parse_string's text, and how far it got */
    char **known;     /* conf_known(): "section key" strings */
    size_t n_known;
    struct conf_err { /* every error found by a getter or conf_error() */
        char *msg;    /* without FILE:LINE */
        int line;     /* 0: none */
    } errs[CONF_MAX_ERRORS];
    size_t n_errs;
};

static int line_of_message(const struct conf *c, const char *msg);

/* Keep an error for conf_report (the first CONF_MAX_ERRORS; the same one once). */
static void keep_error(struct conf *c, int line, const char *msg)
{
    for (size_t i = 0; i < c->n_errs; i++)
        if (strcmp(c->errs[i].msg, msg) == 0)
            return;
    if (c->n_errs == CONF_MAX_ERRORS)
        return;
    char *m = strdup(msg);
    if (m == NULL)
        return;
    c->errs[c->n_errs].msg = m;
    c->errs[c->n_errs++].line = line;
}

void conf_error(struct conf *c, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    keep_error(c, line_of_message(c, msg), msg);
}

size_t conf_error_count(const struct conf *c)
{
    return c->n_errs;
}

/* inih readers that count lines, so that each entry knows where it was. */
static char *file_reader(char *str, int num, void *stream)
{
    struct conf *c = stream;
    char *r = fgets(str, num, c->in);
    if (r && strchr(r, '\n'))
        c->line++;
    return r;
}

static char *text_reader(char *str, int num, void *stream)
{
    struct conf *c = stream;
    const char *t = c->text;
    int i = 0;
    if (!t || !*t || num < 2)
        return NULL;
    while (i < num - 1 && t[i]) {
        str[i] = t[i];
        if (t[i++] == '\n') {
            c->line++;
            break;
        }
    }
    str[i] = 0;
    c->text = t + i;
    return str;
}

static int conf_handler(void *user, const char *section, const char *name, const char *value)
{
    struct conf *c = user;
    if (name == NULL) /* a section header with no keys yet */
        return 1;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 32;
        struct conf_entry *v = realloc(c->v, cap * sizeof *v);
        if (v == NULL) {
            c->oom = true;
            return 0;
        }
        c->v = v;
        c->cap = cap;
    }
    struct conf_entry *e = &c->v[c->n];
    e->section = strdup(section);
    e->key = strdup(name);
    e->value = strdup(value);
    e->used = false;
    /* The handler runs for the line just read (counted by the reader). */
    e->line = c->line;
    if (!e->section || !e->key || !e->value) {
        free(e->section);
        free(e->key);
        free(e->value);
        c->oom = true;
        return 0;
    }
    c->n++;
    return 1;
}

static struct conf *conf_finish(struct conf *c, int rc, const char *what, char *err, size_t errlen)
{
    if (rc == 0 && !c->oom)
        return c;
    if (c->oom)
        snprintf(err, errlen, "%s: out of memory", what);
    else if (rc < 0)
        snprintf(err, errlen, "cannot open %s: %s", what, strerror(errno));
    else
        snprintf(err, errlen, "%s:%d: syntax error on line %d", what, rc, rc);
    conf_free(c);
    return NULL;
}

struct conf *conf_load(const char *path, char *err, size_t errlen)
{
    struct conf *c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(c->file, sizeof c->file, "%s", path);
    c->in = fopen(path, "r");
    if (c->in == NULL)
        return conf_finish(c, -1, path, err, errlen);
    int rc = ini_parse_stream(file_reader, c, conf_handler, c);
    fclose(c->in);
    c->in = NULL;
    return conf_finish(c, rc, path, err, errlen);
}

struct conf *conf_parse_string(const char *text, char *err, size_t errlen)
{
    struct conf *c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(c->file, sizeof c->file, "config text");
    c->text = text;
    int rc = ini_parse_stream(text_reader, c, conf_handler, c);
    c->text = NULL;
    return conf_finish(c, rc, "config text", err, errlen);
}

void conf_free(struct conf *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].section);
        free(c->v[i].key);
        free(c->v[i].value);
    }
    free(c->v);
    for (size_t i = 0; i < c->n_known; i++)
        free(c->known[i]);
    free(c->known);
    for (size_t i = 0; i < c->n_errs; i++)
        free(c->errs[i].msg);
    free(c);
}

/* An error about section.key, prefixed with where its last value was set. */
__attribute__((format(printf, 6, 7))) static void bad(struct conf *c, const char *section,
                                                      const char *key, char *err, size_t errlen,
                                                      const char *fmt, ...)
{
    char where[300];
    va_list ap;
    int line = 0;
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i].section, section) == 0 && strcmp(c->v[i].key, key) == 0)
            line = c->v[i].line;
    snprintf(where, sizeof where, "%s:%d: ", c->file, line);
    size_t o = strlen(where) < errlen ? strlen(where) : 0;
    if (o)
        memcpy(err, where, o + 1);
    va_start(ap, fmt);
    vsnprintf(err + o, errlen - o, fmt, ap);
    va_end(ap);
    char msg[512];
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    keep_error(c, line, msg);
}

static struct conf_entry *conf_find(struct conf *c, const char *section, const char *key,
                                    size_t nth)
{
    struct conf_entry *last = NULL;
    size_t seen = 0;
    for (size_t i = 0; i < c->n; i++) {
        struct conf_entry *e = &c->v[i];
        if (strcmp(e->section, section) != 0 || strcmp(e->key, key) != 0)
            continue;
        e->used = true;
        if (nth != SIZE_MAX && seen++ == nth)
            return e;
        last = e;
    }
    return nth == SIZE_MAX ? last : NULL;
}

const char *conf_get_str(struct conf *c, const char *section, const char *key, const char *def)
{
    struct conf_entry *e = conf_find(c, section, key, SIZE_MAX);
    return e ? e->value : def;
}

size_t conf_count(struct conf *c, const char *section, const char *key)
{
    size_t n = 0;
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i].section, section) == 0 && strcmp(c->v[i].key, key) == 0) {
            c->v[i].used = true;
            n++;
        }
    return n;
}

const char *conf_get_nth(struct conf *c, const char *section, const char *key, size_t n)
{
    struct conf_entry *e = conf_find(c, section, key, n);
    return e ? e->value : NULL;
}

int conf_get_u64(struct conf *c, const char *section, const char *key, uint64_t def, uint64_t min,
                 uint64_t max, uint64_t *out, char *err, size_t errlen)
{
    const char *s = conf_get_str(c, section, key, NULL);
    if (s == NULL) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (s[0] == '-' || s[0] == '\0' || *end != '\0' || errno != 0 || v < min || v > max) {
        bad(c, section, key, err, errlen,
            "[%s] %s = \"%s\": expected a whole number from %llu to %llu", section, key, s,
            (unsigned long long)min, (unsigned long long)max);
        *out = def;
        return -1;
    }
    *out = v;
    return 0;
}

int conf_get_double(struct conf *c, const char *section, const char *key, double def, double min,
                    double max, double *out, char *err, size_t errlen)
{
    const char *s = conf_get_str(c, section, key, NULL);
    if (s == NULL) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (s[0] == '\0' || *end != '\0' || errno != 0 || !isfinite(v) || v < min || v > max) {
        bad(c, section, key, err, errlen, "[%s] %s = \"%s\": expected a number from %g to %g",
            section, key, s, min, max);
        *out = def;
        return -1;
    }
    *out = v;
    return 0;
}

int conf_get_bool(struct conf *c, const char *section, const char *key, bool def, bool *out,
                  char *err, size_t errlen)
{
    const char *s = conf_get_str(c, section, key, NULL);
    if (s == NULL) {
        *out = def;
        return 0;
    }
    static const char *const yes[] = { "yes", "true", "on", "1" };
    static const char *const no[] = { "no", "false", "off", "0" };
    for (size_t i = 0; i < MIX_ARRAY_LEN(yes); i++) {
        if (strcmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    bad(c, section, key, err, errlen, "[%s] %s = \"%s\": expected yes or no", section, key, s);
    *out = def;
    return -1;
}

int conf_get_duration_us(struct conf *c, const char *section, const char *key, uint64_t def,
                         uint64_t *out, char *err, size_t errlen)
{
    const char *s = conf_get_str(c, section, key, NULL);
    if (s == NULL) {
        *out = def;
        return 0;
    }
    static const struct {
        const char *suffix;
        double us;
    } units[] = {
        { "us", 1 }, { "ms", 1e3 }, { "s", 1e6 }, { "m", 60e6 }, { "h", 3600e6 }, { "", 1e6 },
    };
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    for (size_t i = 0; i < MIX_ARRAY_LEN(units); i++) {
        if (strcmp(end, units[i].suffix) != 0)
            continue;
        double us = v * units[i].us;
        if (s[0] == '\0' || errno != 0 || !isfinite(us) || us < 0 || us > 1e18)
            break;
        *out = (uint64_t)llround(us);
        return 0;
    }
    bad(c, section, key, err, errlen,
        "[%s] %s = \"%s\": expected a duration such as 500ms, 2s, 20m or 1h", section, key, s);
    *out = def;
    return -1;
}

void conf_known(struct conf *c, const char *section, const char *keys)
{
    const char *p = keys;
    while (*p) {
        size_t n = strcspn(p, " ");
        if (n) {
            char **k = realloc(c->known, (c->n_known + 1) * sizeof *k);
            char *s = malloc(strlen(section) + n + 2);
            if (!k || !s) {
                free(s);
                if (k)
                    c->known = k;
                return; /* then fewer keys count as known: messages only */
            }
            c->known = k;
            sprintf(s, "%s %.*s", section, (int)n, p);
            c->known[c->n_known++] = s;
        }
        p += n;
        p += strspn(p, " ");
    }
}

static bool is_known(const struct conf *c, const struct conf_entry *e)
{
    size_t ls = strlen(e->section);
    for (size_t i = 0; i < c->n_known; i++)
        if (strncmp(c->known[i], e->section, ls) == 0 && c->known[i][ls] == ' ' &&
            strcmp(c->known[i] + ls + 1, e->key) == 0)
            return true;
    return false;
}

/* Append one line to err (lines separated by newlines). */
static void add_line(char *err, size_t errlen, size_t *o, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void add_line(char *err, size_t errlen, size_t *o, const char *fmt, ...)
{
    va_list ap;
    if (*o + 1 >= errlen)
        return;
    if (*o)
        err[(*o)++] = '\n';
    va_start(ap, fmt);
    int n = vsnprintf(err + *o, errlen - *o, fmt, ap);
    va_end(ap);
    *o = n < 0 ? *o : (*o + (size_t)n < errlen ? *o + (size_t)n : errlen - 1);
}

/* Where a message about "[section] key" or "section.key" was set, if the
 * message names an entry of this file; 0 if it names none. */
static int line_of_message(const struct conf *c, const char *msg)
{
    int line = 0;
    for (size_t i = 0; i < c->n; i++) {
        char a[300], b[300];
        snprintf(a, sizeof a, "[%s] %s", c->v[i].section, c->v[i].key);
        snprintf(b, sizeof b, "%s.%s", c->v[i].section, c->v[i].key);
        if (strstr(msg, a) || strstr(msg, b))
            line = c->v[i].line;
    }
    return line;
}

static int report(struct conf *c, const char *const *errs, size_t n_errs, bool kept, char *err,
                  size_t errlen)
{
    size_t o = 0;
    int n = 0;
    bool stopped = kept && c->n_errs > 0; /* a parser stopped: later keys were not read */
    for (size_t i = 0; i < n_errs; i++)
        stopped = stopped || (errs[i] && errs[i][0]);
    if (errlen)
        err[0] = 0;
    for (size_t i = 0; i < c->n; i++)
        if (!c->v[i].used && !(stopped && is_known(c, &c->v[i]))) {
            add_line(err, errlen, &o, "%s:%d: unknown setting [%s] %s", c->file, c->v[i].line,
                     c->v[i].section, c->v[i].key);
            n++;
        }
    /* Then every kept error, in the order of their lines (those without a
     * line last), each once. */
    for (int pass = 0; pass < 2 && kept; pass++)
        for (int line = 1, next = 0; line > 0; line = next) {
            next = 0;
            for (size_t i = 0; i < c->n_errs; i++) {
                const struct conf_err *e = &c->errs[i];
                if (pass == 0 && e->line == line) {
                    add_line(err, errlen, &o, "%s:%d: %s", c->file, e->line, e->msg);
                    n++;
                } else if (pass == 0 && e->line > line && (next == 0 || e->line < next)) {
                    next = e->line;
                } else if (pass == 1 && e->line == 0 && line == 1) {
                    add_line(err, errlen, &o, "%s: %s", c->file, e->msg);
                    n++;
                }
            }
            if (pass == 1)
                break;
        }
    for (size_t i = 0; i < n_errs; i++) {
        if (!errs[i] || !errs[i][0])
            continue;
        bool dup = false;
        for (size_t k = 0; k < c->n_errs && kept && !dup; k++) {
            const char *m = strstr(errs[i], c->errs[k].msg);
            dup = m != NULL && strcmp(m, c->errs[k].msg) == 0;
        }
        if (dup)
            continue;
        int line = line_of_message(c, errs[i]);
        if (strncmp(errs[i], c->file, strlen(c->file)) == 0)
            add_line(err, errlen, &o, "%s", errs[i]);
        else if (line)
            add_line(err, errlen, &o, "%s:%d: %s", c->file, line, errs[i]);
        else
            add_line(err, errlen, &o, "%s: %s", c->file, errs[i]);
        n++;
    }
    return n ? -1 : 0;
}

int conf_report(struct conf *c, const char *const *errs, size_t n_errs, char *err, size_t errlen)
{
    return report(c, errs, n_errs, true, err, errlen);
}

int conf_check_unused(struct conf *c, char *err, size_t errlen)
{
    return report(c, NULL, 0, false, err, errlen);
}
