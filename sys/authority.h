/*
 * The one parser of `authority = HOST:PORT ED25519_PUB X25519_PUB` lines,
 * which name the directory authorities in mixdir's [network] section and
 * in the [directory] sections of mixnode and mixclient configurations
 * (docs/man/mixdir.conf.5, mixnode.conf.5, mixclient.conf.5).
 */
#ifndef MIX_AUTHORITY_H
#define MIX_AUTHORITY_H

#include "common.h"
#include "conf.h"
#include "pki.h"

/* One directory authority as configured. */
struct authority {
    char addr[PKI_ADDR_MAX + 1];  /* "host:port" or "[v6]:port", NUL-terminated */
    uint8_t sign_pk[PKI_KEY_LEN]; /* Ed25519: signs documents */
    uint8_t link_pk[PKI_KEY_LEN]; /* X25519: its Noise static key */
};

/*
 * Parse one line: exactly three tokens, an address (lib/hostport.h, port
 * 1..65535, at most PKI_ADDR_MAX bytes) and two base64 32-byte keys.
 * false with err naming the bad part ("address", "Ed25519 key",
 * "X25519 key" or the expected form); *out is zeroed first.
 */
bool authority_parse_line(const char *line, struct authority *out, char *err,
                          size_t errlen) MIX_WUR;

/*
 * Read every `authority` line of [section] in cf into out[0..*n): 1 to max
 * lines, each parsed by authority_parse_line, and no Ed25519 or X25519 key
 * given twice (a repeated authority would count twice towards a signature
 * threshold).  Every problem is kept with conf_error() (for conf_report())
 * and the last one is in err, prefixed by "[section] "; 0, or -1.  *n is the
 * number of lines when it is within 1..max (so that a caller can go on
 * checking, e.g. the threshold), else 0.
 */
int authority_read_list(struct conf *cf, const char *section, struct authority *out, size_t max,
                        size_t *n, char *err, size_t errlen) MIX_WUR;

#endif
