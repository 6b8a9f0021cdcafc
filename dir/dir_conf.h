/*
 * mixdir configuration: docs/man/mixdir.conf.5 describes every key.
 *
 * dir_conf_load() reads the INI file, checks every value and rejects unknown
 * keys, so `mixdir -n` and the daemon see exactly the same configuration.
 * It does not read key files (dir_conf_load_keys() does).
 */
#ifndef MIX_DIR_CONF_H
#define MIX_DIR_CONF_H

#include "common.h"
#include "authority.h"
#include "pki.h"

#define DIR_MAX_AUTHORITIES PKI_MAX_SIGNATURES
#define DIR_MAX_ALLOWED 4096

struct dir_conf {
    /* [mixdir] */
    char listen[PKI_ADDR_MAX + 1];
    char data_dir[1024];
    char identity_key_path[1100]; /* default DATA/identity.key */
    char link_key_path[1100];     /* default DATA/link.key */
    int log_level;                /* enum mix_log_level */
    bool use_syslog;
    char log_file[1024];                   /* "" = stderr; reopened on SIGHUP */
    char metrics_listen[PKI_ADDR_MAX + 1]; /* "" = no /metrics endpoint */
    uint64_t stats_interval_s;             /* counters logged at most this often */

    /* [network]: the authorities (ourself included) and the schedule */
    struct authority auth[DIR_MAX_AUTHORITIES];
    size_t n_auth;
    size_t threshold;
    struct pki_timing timing;
    uint64_t vote_lead_s;       /* build the next document this long before the boundary */
    uint64_t exchange_window_s; /* descriptor exchange before signing */
    uint64_t key_ahead_epochs;  /* a descriptor may carry keys this far ahead */
    struct pki_params params;   /* epoch and timing filled per document */

    /* [registration] */
    bool open_registration;
    uint8_t (*allowed)[PKI_KEY_LEN]; /* Ed25519 identity keys (malloc) */
    struct dir_binding {             /* per allowed key: role and layer, if given */
        uint32_t roles, layer;       /* roles 0 = not bound in the config */
    } * binding;
    size_t n_allowed;

    /* [limits] */
    uint64_t max_connections, max_per_address, max_frame, max_descriptors;
    double handshake_timeout, idle_timeout;
    double anon_idle_timeout; /* links from anyone but an authority */
    double evict_idle;        /* at max_connections: an anonymous link idle this long goes */
    uint64_t accept_rate, accept_burst; /* new connections per second per address */
};

/* Load and check a config file.  NULL with err set (a clear one-line reason). */
struct dir_conf *dir_conf_load(const char *path, char *err, size_t errlen) MIX_WUR;
/* Same from text (tests). */
struct dir_conf *dir_conf_parse(const char *text, char *err, size_t errlen) MIX_WUR;
void dir_conf_free(struct dir_conf *c);

/* True if the Ed25519 identity key may register (open or listed). */
bool dir_conf_node_allowed(const struct dir_conf *c, const uint8_t identity_pk[static PKI_KEY_LEN]);
/* The role and layer a `node = KEY ROLES [LAYER]` line binds the key to; false if none. */
bool dir_conf_node_binding(const struct dir_conf *c, const uint8_t identity_pk[static PKI_KEY_LEN],
                           uint32_t *roles, uint32_t *layer);

#endif
