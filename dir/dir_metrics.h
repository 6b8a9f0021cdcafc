/*
 * dir_metrics: mixdir's Prometheus endpoint ([mixdir] metrics_listen).
 *
 * The event loop renders the exposition text (it owns the counters) and
 * hands a copy here; libmicrohttpd's thread serves the latest copy under a
 * mutex, so no counter is read from two threads.  /health answers 200 when
 * the authority holds a published document of the current epoch.
 */
#ifndef MIX_DIR_METRICS_H
#define MIX_DIR_METRICS_H

#include "common.h"

struct dir_metrics;

/* Serve on a numeric IPv4 "host:port".  NULL with err. */
struct dir_metrics *dir_metrics_start(const char *hostport, char *err, size_t errlen) MIX_WUR;
/* Replace the served text (copied) and the health state. */
void dir_metrics_set(struct dir_metrics *m, const char *text, size_t len, bool healthy);
void dir_metrics_stop(struct dir_metrics *m);

#endif
