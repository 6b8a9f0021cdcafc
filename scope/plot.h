/*
 * The data behind mixscope's charts (scope/plots.sh draws them with gnuplot):
 *   targets_live.csv  the entropies of every finished target (the live CDF);
 *   delays.csv        per mix, the delay density estimated from its inputs and
 *                     outputs against the configured exponential;
 *   mixsim.args       mixsim's parameters for the same configuration and the
 *                     load the capture shows, for the simulated CDF beside it.
 */
#ifndef SCOPE_PLOT_H
#define SCOPE_PLOT_H

#include <stddef.h>

#include "analyse.h"

/* Write the files into dir (created if missing); 0, or -1 with a message in err. */
int scope_plot(const struct scope *s, const char *dir, char *err, size_t errlen);
/*
 * mixsim's arguments (one per line) for the capture's configuration and measured load: layers,
 * width, clients, the real rate per client that gives the layer-1 mixes' measured input rate,
 * the mean delay (per layer with --node-delay), corrupt mixes as mixsim ids.  0, or -1 if the
 * capture shows no mix.
 */
int scope_mixsim_args(const struct scope *s, char *buf, size_t len);

#endif
