/*
 * The daemon's local Unix socket server; see local.c and docs/spec/client.md.
 */
#ifndef MIX_CLIENT_LOCAL_H
#define MIX_CLIENT_LOCAL_H

#include "mixclient.h"

/* Largest local frame: a maximal message plus room for the other fields. */
#define LOCAL_MAX_FRAME ((4u << 20) + 65536)

struct local_srv;

/* Listen on path (mode 0600, a stale socket is replaced).  NULL with err set. */
struct local_srv *local_srv_new(struct mixclient *mc, const char *path, char *err, size_t errlen);
/* Close every connection and remove the socket.  NULL is a no-op. */
void local_srv_free(struct local_srv *s);

#endif
