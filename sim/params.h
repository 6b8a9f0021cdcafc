/*
 * Simulator parameters: one struct, one table.  The table gives every
 * parameter a name (used alike in sim.ini, as a --flag, as a CSV column and
 * as a JSON key), a type, a default and a one-line help, so that the INI
 * reader, the flag parser, `mixsim sweep --jobs` (which must print a
 * self-contained command) and the reports can never disagree.
 */
#ifndef SIM_PARAMS_H
#define SIM_PARAMS_H

#include <stdio.h>

#include "common.h"
#include "mixq.h"

#define SIM_MAX_WIDTH 4096
#define SIM_MAX_LAYERS 64
#define SIM_LIST_LEN 1024 /* text of a list parameter (weights, corrupt ids) */

enum sim_topology { SIM_TOPO_STRATIFIED = 0, SIM_TOPO_CASCADE = 1, SIM_TOPO_SINGLE = 2 };
enum sim_routing { SIM_ROUTE_UNIFORM = 0, SIM_ROUTE_WEIGHTED = 1 };
enum sim_arrivals { SIM_ARRIVALS_POISSON = 0, SIM_ARRIVALS_REGULAR = 1 };

struct sim_params {
    uint64_t seed;
    /* network */
    int topology; /* enum sim_topology */
    uint32_t layers, width;
    double link_delay;          /* s; fixed, or the low end when uniform */
    double link_delay_max;      /* s; > link_delay: uniform [link_delay, max] */
    int routing;                /* enum sim_routing */
    char weights[SIM_LIST_LEN]; /* "w1,w2,...": per-position mix weights */
    /* mixing */
    int strategy;       /* enum mixq_strategy */
    double mean_delay;  /* s; Poisson per-hop mean (1/mu) */
    double e2e;         /* s; > 0: mean_delay = (e2e - (L+1) link) / L */
    double max_delay;   /* s; Poisson cap, 0 = none */
    double period;      /* s; timed pool T */
    uint32_t pool_keep; /* timed pool f */
    uint32_t threshold; /* threshold n */
    uint32_t capacity;  /* per-mix queue bound, 0 = unbounded */
    /* clients and cover */
    uint32_t clients;
    double rate_real;      /* real messages generated per client per s */
    double rate_payload;   /* lambda_P; 0 = send real messages at once, no cover */
    double rate_loop;      /* lambda_L per client */
    double rate_drop;      /* lambda_D per client */
    double rate_mix_loop;  /* lambda_M per mix */
    int arrivals;          /* enum sim_arrivals, for the real-message process */
    uint32_t client_queue; /* real messages a client may have waiting */
    /* adversary */
    uint32_t corrupt;                /* that many mixes, drawn at random, are corrupt */
    char corrupt_ids[SIM_LIST_LEN];  /* or an explicit list "0,5,7" */
    char layer_delays[SIM_LIST_LEN]; /* "d1,d2,...": per-layer Poisson means, s (mixscope) */
    /* run */
    double duration;        /* s of simulated time */
    double warmup;          /* s before the first target; < 0 = auto */
    double drain;           /* s at the end without new targets; < 0 = auto */
    double target_interval; /* s between targets; <= 0 = auto */
    uint32_t max_targets;   /* 0 = as many as fit */
    double prune;           /* drop probabilities below this */
    int early_stop;         /* stop once every target is measured */
    uint32_t repeat;        /* independent replications (seeds) aggregated */
    uint32_t point;         /* grid point number (sweeps) */
    uint32_t points;        /* points in the whole grid (sweeps; 0: a lone run) */
};

enum sim_ptype { SP_U32, SP_U64, SP_DOUBLE, SP_ENUM, SP_LIST };

struct sim_param_desc {
    const char *name;
    enum sim_ptype type;
    size_t offset;
    const char *def;          /* default, as text */
    const char *const *enums; /* SP_ENUM: NULL-terminated names */
    const char *help;
};

extern const struct sim_param_desc sim_param_table[];
extern const size_t sim_param_count;

/*
 * The defaults: the shipped network's [network] values (sys/netconf.c:
 * 3 layers, 50 ms mean delay capped at 2 s, lambda_P 2, lambda_L, lambda_D
 * and lambda_M 0.5 per s, Poisson mixing) with 1000 clients writing 1 real
 * message per s each; test_sim_params checks they match netconf_defaults.
 */
void sim_params_default(struct sim_params *p);
/* No payload stream, no cover, no delay cap: the bare models of docs/sim.md. */
void sim_params_no_cover(struct sim_params *p);
/*
 * The defaults plus the stratified Poisson configuration of MiXiM (Ben Guirat,
 * Gosain, Diaz, PETS 2022) that docs/sim.md compares against: 50 clients x
 * 100 messages/s, 3 layers x 10 mixes, 1 s end-to-end latency, 0.05 s links.
 * Callers set duration and target sampling.
 */
void sim_params_mixim(struct sim_params *p);
const struct sim_param_desc *sim_param_find(const char *name);

/*
 * Set one parameter from text.  Returns true, or false with *why pointing
 * to a static reason (unknown name, bad number, out of range).
 */
bool sim_param_set(struct sim_params *p, const char *name, const char *value,
                   const char **why) MIX_WUR;

/* The value of parameter d in p as text (shortest exact form). */
void sim_param_format(const struct sim_params *p, const struct sim_param_desc *d, char *buf,
                      size_t len);

/*
 * Read an INI file.  [network] is read as the authorities read it
 * (sys/netconf.c: lambda_p, "50ms", ...; the authority list, signature
 * threshold and schedule are skipped), so a mixdir configuration works as
 * is; its [mixdir], [registration] and [limits] sections are skipped.  In
 * [network] and in any other section, a mixsim parameter name sets that
 * parameter.  Returns true, or false after printing the file, line and
 * reason to err.
 */
bool sim_params_load_ini(struct sim_params *p, const char *path, FILE *err) MIX_WUR;

/* Cross-field checks; false with *why. */
bool sim_params_check(const struct sim_params *p, const char **why) MIX_WUR;

/* Parse "a,b,c" doubles into out[0..max); returns the count or -1 if bad. */
int sim_parse_list(const char *s, double *out, int max);

#endif
