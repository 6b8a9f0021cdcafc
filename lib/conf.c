#include "conf.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ini.h>

struct conf_entry {
    char *section, *key, *value;
    bool used;
};

struct conf {
    struct conf_entry *v;
    size_t n, cap;
    bool oom;
};

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
        snprintf(err, errlen, "%s: syntax error on line %d", what, rc);
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
    return conf_finish(c, ini_parse(path, conf_handler, c), path, err, errlen);
}

struct conf *conf_parse_string(const char *text, char *err, size_t errlen)
{
    struct conf *c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return conf_finish(c, ini_parse_string(text, conf_handler, c), "config text", err, errlen);
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
    free(c);
}

static struct conf_entry *conf_find(struct conf *c, const char *section, const char *key, size_t nth)
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

int conf_get_u64(struct conf *c, const char *section, const char *key, uint64_t def,
                 uint64_t min, uint64_t max, uint64_t *out, char *err, size_t errlen)
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
        snprintf(err, errlen, "[%s] %s = \"%s\": expected a whole number from %llu to %llu",
                 section, key, s, (unsigned long long)min, (unsigned long long)max);
        return -1;
    }
    *out = v;
    return 0;
}

int conf_get_double(struct conf *c, const char *section, const char *key, double def,
                    double min, double max, double *out, char *err, size_t errlen)
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
        snprintf(err, errlen, "[%s] %s = \"%s\": expected a number from %g to %g",
                 section, key, s, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

int conf_get_bool(struct conf *c, const char *section, const char *key, bool def,
                  bool *out, char *err, size_t errlen)
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
    snprintf(err, errlen, "[%s] %s = \"%s\": expected yes or no", section, key, s);
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
    static const struct { const char *suffix; double us; } units[] = {
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
    snprintf(err, errlen, "[%s] %s = \"%s\": expected a duration such as 500ms, 2s, 20m or 1h",
             section, key, s);
    return -1;
}

int conf_check_unused(struct conf *c, char *err, size_t errlen)
{
    for (size_t i = 0; i < c->n; i++)
        if (!c->v[i].used) {
            snprintf(err, errlen, "unknown setting [%s] %s", c->v[i].section, c->v[i].key);
            return -1;
        }
    return 0;
}
