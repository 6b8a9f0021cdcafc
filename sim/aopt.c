/* Flag tables of the attack subcommands; see aopt.h. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aopt.h"
#include "mixq.h"

const char *aopt_strategy_name(int s)
{
    return mixq_strategy_name((enum mixq_strategy)s);
}

static bool set_value(const struct aopt *o, void *base, const char *v)
{
    char *end = NULL;
    void *field = (char *)base + o->offset;
    errno = 0;
    switch (o->type) {
    case AOPT_U32:
    case AOPT_U64: {
        if (v[0] == '-' || v[0] == '\0')
            return false;
        unsigned long long x = strtoull(v, &end, 10);
        if (errno != 0 || *end != '\0')
            return false;
        if (o->type == AOPT_U32) {
            if (x > UINT32_MAX)
                return false;
            *(uint32_t *)field = (uint32_t)x;
        } else {
            *(uint64_t *)field = x;
        }
        return true;
    }
    case AOPT_DOUBLE: {
        double x = strtod(v, &end);
        if (errno != 0 || end == v || *end != '\0' || !isfinite(x) || x < 0)
            return false;
        *(double *)field = x;
        return true;
    }
    case AOPT_STRATEGY: {
        enum mixq_strategy s;
        if (!mixq_strategy_parse(v, &s))
            return false;
        *(int *)field = (int)s;
        return true;
    }
    case AOPT_FLAG: break;
    }
    return false;
}

int aopt_parse(const struct aopt *t, size_t n, void *base, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    if (strncmp(a, "--", 2) != 0)
        return 0;
    a += 2;
    const char *eq = strchr(a, '=');
    size_t len = eq ? (size_t)(eq - a) : strlen(a);
    for (size_t k = 0; k < n; k++) {
        if (strlen(t[k].name) != len || strncmp(t[k].name, a, len) != 0)
            continue;
        if (t[k].type == AOPT_FLAG) {
            if (eq != NULL) {
                fprintf(stderr, "mixsim: --%s takes no value\n", t[k].name);
                return -1;
            }
            *(int *)((char *)base + t[k].offset) = 1;
            return 1;
        }
        const char *v = eq ? eq + 1 : NULL;
        if (v == NULL) {
            if (*i + 1 >= argc) {
                fprintf(stderr, "mixsim: --%s needs a value\n", t[k].name);
                return -1;
            }
            v = argv[++*i];
        }
        if (!set_value(&t[k], base, v)) {
            fprintf(stderr, "mixsim: bad value '%s' for --%s\n", v, t[k].name);
            return -1;
        }
        return 1;
    }
    return 0;
}

int aopt_cli(const char *cmd, const char *usage, const struct aopt *t, size_t n, void *base,
             const char *extra, const char **extra_val, int argc, char **argv, struct aopt_out *o)
{
    o->csv = 0;
    o->header = 1;
    for (int i = 0; i < argc; i++) {
        int k = aopt_parse(t, n, base, argc, argv, &i);
        if (k < 0)
            return -1;
        if (k > 0)
            continue;
        if (extra != NULL && strcmp(argv[i], extra) == 0 && i + 1 < argc) {
            *extra_val = argv[++i];
        } else if (strcmp(argv[i], "--csv") == 0) {
            o->csv = 1;
        } else if (strcmp(argv[i], "--no-header") == 0) {
            o->header = 0;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            aopt_print(stdout, t, n, base);
            return 0;
        } else {
            fprintf(stderr, "mixsim %s: unknown argument '%s' (try --help)\n", cmd, argv[i]);
            return -1;
        }
    }
    return 1;
}

void aopt_print(FILE *f, const struct aopt *t, size_t n, const void *base)
{
    for (size_t k = 0; k < n; k++) {
        const void *field = (const char *)base + t[k].offset;
        char v[64];
        switch (t[k].type) {
        case AOPT_U32: snprintf(v, sizeof v, "%u", *(const uint32_t *)field); break;
        case AOPT_U64:
            snprintf(v, sizeof v, "%llu", (unsigned long long)*(const uint64_t *)field);
            break;
        case AOPT_DOUBLE: snprintf(v, sizeof v, "%g", *(const double *)field); break;
        case AOPT_STRATEGY:
            snprintf(v, sizeof v, "%s", aopt_strategy_name(*(const int *)field));
            break;
        case AOPT_FLAG: snprintf(v, sizeof v, "%s", *(const int *)field ? "on" : "off"); break;
        }
        fprintf(f, "  --%-16s %-10s %s\n", t[k].name, v, t[k].help);
    }
}
