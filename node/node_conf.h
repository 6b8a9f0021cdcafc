/*
 * node_conf: mixnode's configuration (docs/man/mixnode.conf.5), read from an
 * INI file with sys/conf so that an unknown key is an error.
 */
#ifndef MIX_NODE_CONF_H
#define MIX_NODE_CONF_H

#include "authority.h"
#include "common.h"
#include "inbox.h"
#include "node_metrics.h"
#include "pki.h"

#define NODE_MAX_AUTH 16
#define NODE_PATH_MAX 512
#define NODE_ADDR_MAX 256

#define NODE_EXPECT_GENESIS 1u
#define NODE_EXPECT_EPOCH_LEN 2u
#define NODE_EXPECT_GRACE 4u

struct node_conf {
    /* [node] */
    char data_dir[NODE_PATH_MAX];
    char listen[NODE_ADDR_MAX];
    char address[NODE_ADDR_MAX]; /* published in the descriptor; default = listen */
    uint32_t roles;              /* PKI_ROLE_* */
    uint32_t layer;              /* mix layer, 0 for gateways */
    unsigned workers;            /* crypto threads; 0 = one per CPU */
    unsigned io_slice_us;        /* scheduler slice hint of the I/O thread; 0 = none */
    int log_level;               /* enum mix_log_level */
    bool use_syslog;
    char log_file[NODE_PATH_MAX];       /* "" = stderr; reopened on SIGHUP */
    char metrics_listen[NODE_ADDR_MAX]; /* "" = no metrics endpoint */
    bool mix_loops;                     /* send loop cover at lambda_M */
    /* [directory] */
    struct authority auth[NODE_MAX_AUTH];
    size_t n_auth;
    uint32_t threshold;
    /* Optional genesis/epoch_length/grace: what the operator expects.  The
     * network's timing is the signed document's; a difference is logged. */
    struct pki_timing timing;
    unsigned expect; /* NODE_EXPECT_* bits: which of timing was set */
    uint64_t poll_us;
    char document_file[NODE_PATH_MAX]; /* optional: a signed document read from disk */
    /* [limits] */
    uint64_t max_connections, max_per_addr, max_frame, peer_queue_bytes;
    uint64_t total_queue, work_queue, max_clients;
    uint64_t client_rate, client_burst; /* packets per second, bucket size */
    uint64_t max_delay_us;              /* local cap on a packet's hold time */
    uint64_t fetch_max;                 /* messages per FetchResponse */
    uint64_t client_queue_bytes;        /* output held for one client link */
    uint64_t client_idle_us;            /* client link closed after this long without a frame */
    uint64_t client_evict_idle_us;      /* at max_clients: a link this idle makes room */
    uint64_t fetch_rate, fetch_burst;   /* FetchRequests per second per client link */
    uint64_t handshake_timeout_us;      /* TCP accept to established link */
    uint64_t handshake_rate, handshake_burst;  /* new connections per second per address */
    struct metrics_http_limits metrics_limits; /* the /metrics endpoint */
    /* [inbox] */
    struct inbox_limits inbox;
    uint64_t create_per_min, create_burst;               /* inbox creation, overall */
    uint64_t create_per_min_prefix, create_burst_prefix; /* per source address prefix */
    uint64_t admit_rate, admit_burst; /* messages stored per inbox: per second, burst */
    uint64_t expire_interval_us;
    /* [replay] */
    uint64_t replay_capacity;
    uint64_t replay_save_us;
    uint64_t journal_interval_us; /* replay journal group interval; 0 = no journal */
};

/* Load and check; 0 or -1 with err set (naming the key or the unknown entry). */
int node_conf_load(const char *path, struct node_conf *out, char *err, size_t errlen) MIX_WUR;
int node_conf_parse_string(const char *text, struct node_conf *out, char *err,
                           size_t errlen) MIX_WUR;

/* "gateway,provider" -> bits; false on an unknown name. */
bool node_parse_roles(const char *s, uint32_t *roles) MIX_WUR;

#endif
