/*
 * The mixing and geometry part of a network's [network] section: the one
 * parser of it, shared by the authorities (mixdir puts the result into
 * every directory document) and by mixsim (which simulates that network).
 * docs/man/mixdir.conf.5 describes the keys; deploy/examples/dir.ini shows
 * them.  The authority list and the epoch schedule in the same section are
 * the authorities' own business (dir/dir_conf.c).
 */
#ifndef MIX_NETCONF_H
#define MIX_NETCONF_H

#include "common.h"
#include "conf.h"
#include "pki.h"

#define NETCONF_SECTION "network"

/*
 * The shipped network's values, the defaults of every key below (timing
 * and epoch left zero).
 */
void netconf_defaults(struct pki_params *p);

/*
 * Read max_hops, payload_len, layers, mean_delay, max_delay, lambda_p,
 * lambda_l, lambda_d, lambda_m, strategy, pool_interval, pool_keep and
 * threshold_n from [network] of cf (absent keys take netconf_defaults),
 * set epoch 1 and `timing` (a 20-minute schedule if NULL), and check the
 * whole with pki_params_check.  0, or -1 with err naming the key or the
 * rejected combination.  The keys read are marked used in cf.
 */
int netconf_read(struct conf *cf, const struct pki_timing *timing, struct pki_params *p, char *err,
                 size_t errlen) MIX_WUR;

/* True if key is one of the keys netconf_read reads. */
bool netconf_is_param_key(const char *key);

/*
 * True if key belongs to [network] but only the authorities use it (the
 * authority list, the signature threshold and the epoch schedule): a
 * reader of the mixing parameters may skip it.
 */
bool netconf_is_authority_key(const char *key);

#endif
