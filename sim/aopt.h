/*
 * Flags of mixsim's attack subcommands (sda, unlink, active): each command
 * describes its parameters in a small table of name, type, offset and help,
 * and this module parses `--name value` / `--name=value` against it and
 * prints the table for --help.  It is separate from params.c on purpose: the
 * attack models have their own few parameters and do not share the event
 * core's table.
 */
#ifndef SIM_AOPT_H
#define SIM_AOPT_H

#include <stddef.h>
#include <stdio.h>

#include "common.h"

enum aopt_type { AOPT_U32, AOPT_U64, AOPT_DOUBLE, AOPT_STRATEGY, AOPT_FLAG };

struct aopt {
    const char *name; /* flag without the dashes, words joined by '-' */
    enum aopt_type type;
    size_t offset; /* of the field in the command's struct */
    const char *help;
};

/*
 * Apply argv[*i] if it is one of the table's flags: returns 1 (advancing *i
 * past a separate value), 0 if it is not a flag of the table, -1 after
 * printing a reason to stderr (bad number, missing value).
 */
int aopt_parse(const struct aopt *t, size_t n, void *base, int argc, char **argv, int *i) MIX_WUR;

/* One line per flag with its current value (the default, before parsing). */
void aopt_print(FILE *f, const struct aopt *t, size_t n, const void *base);

/*
 * The argument loop every attack subcommand shares: the table's flags,
 * --csv, --no-header, an optional string option (extra, e.g. "--trace",
 * its value in *extra_val; NULL for none) and --help/-h, which prints usage
 * then the flags with their defaults.  Returns 1 to go on, 0 after --help
 * (exit 0), -1 after naming the problem on stderr (exit 2).
 */
struct aopt_out {
    int csv, header;
};
int aopt_cli(const char *cmd, const char *usage, const struct aopt *t, size_t n, void *base,
             const char *extra, const char **extra_val, int argc, char **argv,
             struct aopt_out *o) MIX_WUR;

/* "poisson", "timed_pool" or "threshold" as written in CSV and reports. */
const char *aopt_strategy_name(int s);

#endif
