/*
 * The one parser of "HOST:PORT" and "[V6]:PORT" addresses, shared by the
 * daemons' connection layer (net/conn.c), their configuration files and
 * the client (client/cconn.c).
 */
#ifndef MIX_HOSTPORT_H
#define MIX_HOSTPORT_H

#include "common.h"

/*
 * Split hp into host (NUL-terminated, at most cap - 1 bytes) and port.
 * An IPv6 literal must be bracketed ("[::1]:9"): an unbracketed one
 * ("::1:80") is refused, as its port would be ambiguous.  The port is
 * decimal 0..65535 with no sign or space; false on any other input
 * (host or port missing, host too long, NULL).  Port 0 is accepted here;
 * callers that need a real port check it.  No resolution is done.
 */
bool hostport_parse(const char *hp, char *host, size_t cap, uint16_t *port) MIX_WUR;

#endif
