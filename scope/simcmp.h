/*
 * mixsim's figure beside the live one: run mixsim (a separate program,
 * given by path) with scope_mixsim_args for the capture's configuration and
 * measured load, and read its one CSV row.
 */
#ifndef SCOPE_SIMCMP_H
#define SCOPE_SIMCMP_H

#include <stddef.h>

#include "analyse.h"

/* mixsim's CSV columns that mixscope reports beside its own (same order as the names). */
#define SIMCMP_FIELDS 16
extern const char *const simcmp_names[SIMCMP_FIELDS];

struct simcmp {
    double v[SIMCMP_FIELDS]; /* NAN where mixsim's row had none */
};

/* Run mixsim at path; 0, or -1 with a message in err (the run failed or printed no row). */
int simcmp_run(const struct scope *s, const char *path, struct simcmp *out, char *err,
               size_t errlen);
/* Parse mixsim's CSV output (a header line, a row line) into out; false if it is not one. */
bool simcmp_parse(const char *csv, size_t len, struct simcmp *out);

#endif
