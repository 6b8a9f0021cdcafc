/*
 * Reports of one run: a human summary, a CSV header and row (every parameter
 * then every result, so rows from different runs and hosts can be merged),
 * and one JSON object.
 */
#ifndef SIM_REPORT_H
#define SIM_REPORT_H

#include <stdio.h>

#include "sim.h"

void report_human(FILE *f, const struct sim_params *p, const struct sim_results *r);
void report_csv_header(FILE *f);
void report_csv_row(FILE *f, const struct sim_params *p, const struct sim_results *r);
void report_json(FILE *f, const struct sim_params *p, const struct sim_results *r);

/* One row per target: its entropies, masses, latency and status. */
void report_targets_csv(FILE *f, const struct sim *s);
/* The latency histograms: bin start (s), network count, incl.-queue count. */
void report_latency_csv(FILE *f, const struct sim_results *r);

#endif
