/*
 * benchnet: the setup bench/gateway and bench/node share around a
 * one-layer test network (tests/tools/mixtest_net): finding mixnode,
 * making the network, free ports, starting mixnode pinned to CPUs, its
 * /metrics text and CPU time, removing the network on a signal.
 */
#ifndef MIX_BENCH_BENCHNET_H
#define MIX_BENCH_BENCHNET_H

#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sphinx.h"
#include "../../tests/tools/mixtest_net.h"

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bnet_now_ns(void);
/* qsort() comparison of uint64_t. */
int bnet_cmp_u64(const void *a, const void *b);

/* argv[1] if given, else mixnode beside the bench's folder (BUILD/bench/x -> BUILD/mixnode). */
void bnet_find_mixnode(int argc, char **argv, char *out, size_t outlen);
/*
 * Ignore SIGPIPE; on SIGTERM or SIGINT remove (*netp)->dir (when *netp is
 * set) and exit 128 + the signal.
 */
void bnet_catch_signals(struct tnet *const *netp);

/*
 * A one-layer network in dir (no nodes yet) with the default parameters at
 * the current time and a fresh authority key; exits on no memory.
 */
struct tnet *bnet_new(const char *dir);
/* The network's Sphinx geometry and packet length. */
void bnet_geometry(const struct tnet *net, struct sphinx_geometry *g, size_t *plen);
/* A loopback port free a moment ago (0 on failure). */
uint16_t bnet_free_port(void);

/*
 * Write the network's files with extra_ini added (exit on failure) and run
 * mixnode -c on node idx's configuration, pinned to cpus; the child dies
 * with the bench (PR_SET_PDEATHSIG).
 */
pid_t bnet_start_mixnode(struct tnet *net, int idx, const char *mixnode, const char *extra_ini,
                         const cpu_set_t *cpus);
/* Stop a mixnode started above and wait for it. */
void bnet_stop(pid_t pid);
/* Remove the network's folder. */
void bnet_remove(const struct tnet *net);

/* GET /metrics from 127.0.0.1:port: the text (malloc()ed, NUL-terminated), or NULL. */
char *bnet_metrics(uint16_t port);
/* CPU seconds (user + system) process pid used so far, from the threads' schedstat (ns) when the
 * kernel keeps it, else clock ticks; user and sys apart (in ticks) when not NULL. */
double bnet_cpu_s(pid_t pid, double *user, double *sys);

#endif
