/*
 * The client's configuration (INI, see mixclient(1)):
 *
 *   [client]
 *   data_dir = /var/lib/mixclient      (required; keys, store, socket)
 *   socket = PATH                      (default DATA_DIR/mixclient.sock)
 *   gateway = NODE_ID_B64              (optional; else the one `init` chose)
 *   fetch_interval = 1s                (steady inbox fetch cadence)
 *   fetch_max = 0                      (messages per fetch, 0 = automatic from the rates)
 *   max_attempts = 5                   (sends per fragment before failing)
 *   retransmit_slack = 2s              (added to each retransmit timeout)
 *   connect_timeout = 10s
 *   stats_interval = 60s               (log counters at info level; 0 = never)
 *   log_level = info                   (error, warn, info, debug)
 *   syslog = false
 *   [directory]
 *   authority = HOST:PORT ED25519_PUB_B64 X25519_LINK_PUB_B64   (1..16 lines)
 *   threshold = k                      (default n/2 + 1)
 *   poll_interval, genesis, epoch_length, grace   (accepted for configs shared with
 *                                       nodes; unused: the client refreshes once per
 *                                       epoch, see client/dir.c)
 */
#ifndef MIX_CLIENT_CCONF_H
#define MIX_CLIENT_CCONF_H

#include "authority.h"
#include "common.h"
#include "log.h"
#include "pki.h"

#define CCONF_MAX_AUTH 16
#define CCONF_PATH_MAX 1024

struct cconf {
    char data_dir[CCONF_PATH_MAX];
    char socket[CCONF_PATH_MAX];
    bool have_gateway;
    uint8_t gateway_id[PKI_KEY_LEN];
    uint64_t fetch_interval_us, retransmit_slack_us, connect_timeout_us, poll_us, stats_interval_us;
    uint64_t fetch_max, max_attempts;
    enum mix_log_level log_level;
    bool use_syslog;
    struct authority auth[CCONF_MAX_AUTH];
    size_t n_auth, threshold;
};

/* Load and check a config file; 0 or -1 with err. */
int cconf_load(const char *path, struct cconf *out, char *err, size_t errlen) MIX_WUR;

/* Paths inside the data directory. */
void cconf_path(const struct cconf *c, const char *name, char out[CCONF_PATH_MAX]);

#endif
