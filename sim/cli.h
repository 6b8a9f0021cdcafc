/*
 * Command-line pieces shared by mixsim's subcommands: parameter flags and
 * the sweep/merge commands.
 */
#ifndef SIM_CLI_H
#define SIM_CLI_H

#include <stdio.h>

#include "params.h"

/*
 * Apply `-c FILE` and `--name value` / `--name=value` parameter flags from
 * argv[*i]; returns 1 if it consumed one (advancing *i), 0 if argv[*i] is
 * not a parameter flag, -1 on error (printed).
 */
int cli_param_flag(struct sim_params *p, int argc, char **argv, int *i);

/* Print every parameter as a flag, so the line reruns the exact point. */
void cli_print_flags(FILE *f, const struct sim_params *p);

extern const char *cli_argv0; /* how to call mixsim in --jobs lines */
void usage(FILE *f);
int cmd_sweep(int argc, char **argv);
int cmd_merge(int argc, char **argv);

#endif
