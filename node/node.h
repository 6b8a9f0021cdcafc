/*
 * node: the internals of the mixnode daemon, shared by node/node_*.c.
 *
 * Threads.  One I/O thread runs the libev loop: connections (net/conn),
 * frame handling, the mixing queue (lib/mixq), timers and the directory.
 * N crypto workers (one per CPU by default) take received packets from a
 * bounded job queue, run sphinx_unwrap() and, at the exit, the inbox commit
 * and SURB-ack construction, then hand the job back to the I/O thread
 * through a done list and an ev_async.  Workers never touch libev, the
 * document or connections: they only use the key set (under a rwlock), the
 * replay caches and their journal (internally locked), the inbox store
 * (LMDB, thread safe) and atomic metrics.
 *
 * Files: node_keys.c (identity, link and Sphinx keys, replay caches,
 * rotation), replay_journal.c (replay tags durable before a packet leaves),
 * receive.c (connection callbacks, frames), unwrap.c (workers, unwrap),
 * deliver.c (exit hop, inbox store), mix.c (mixing queue), send.c (next-hop
 * links), cover.c (loop cover), fetch.c (the provider's fetch), node_dir.c (descriptor
 * upload, documents),
 * mixnode.c (command line, setup, signals), node_harness.c (in-process node
 * for tests and fuzzing).
 */
#ifndef MIX_NODE_NODE_H
#define MIX_NODE_NODE_H

#include <pthread.h>
#include <ev.h>

#include "common.h"
#include "conn.h"
#include "frame.h"
#include "inbox.h"
#include "mixq.h"
#include "node_conf.h"
#include "node_metrics.h"
#include "pki.h"
#include "replay.h"
#include "rng.h"
#include "sphinx.h"

/* ------------------------------------------------------------ keys */

#define NODE_KEY_SLOTS 3 /* previous (grace), current, next */

struct node_journal;
/* What the replay journal hook of one slot's cache gets (replay_journal.c). */
struct node_jref {
    struct node_journal *j;
    uint64_t epoch;
};

struct node_key_slot {
    uint64_t epoch;        /* 0 = empty */
    struct node_jref jref; /* the journal hook's argument */
    uint8_t *sk;           /* sodium_malloc()ed SPHINX_KEY_LEN */
    uint8_t pk[SPHINX_KEY_LEN];
    struct replay_cache *replay;
    uint64_t saved_inserts; /* inserts count at the last save */
};

struct node_keys {
    pthread_rwlock_t lock; /* workers read; rotation writes */
    struct node_key_slot slot[NODE_KEY_SLOTS];
    uint64_t cur_epoch;          /* epoch whose key is tried first */
    uint64_t grace_epoch;        /* previous epoch still accepted, or 0 */
    struct sphinx_geometry geom; /* of the current document */
    bool have_geom;
};

/* ------------------------------------------------------------ jobs */

enum job_kind {
    JOB_DROP = 0,      /* dropped (reason counted) or finished: free */
    JOB_FORWARD,       /* send buf to hop after delay_us */
    JOB_LOOP_RETURNED, /* one of our loops came back via hop */
};

struct job {
    struct job *next;
    uint64_t arrival_us; /* monotonic, when the frame was read */
    uint64_t delay_us;   /* hold time chosen by the sender (capped) */
    uint64_t jseq;       /* replay journal record that must be durable first */
    enum metric_src src;
    enum job_kind kind;
    uint8_t build_hops;           /* > 0: a loop to build (mix.c), not a packet */
    bool direct;                  /* send at once, past the mixing queue (own loops) */
    uint8_t hop[MIX_NODE_ID_LEN]; /* next hop (FORWARD) or loop first hop */
    uint8_t *buf;                 /* packet to send (points into data) */
    size_t pkt_len;
    /* Worker only: a payload waiting for the group commit (node_store_jobs()). */
    bool store;                               /* to store; kind is JOB_DROP until it is done */
    bool store_reply;                         /* a SURB reply (stored with its SURB id) */
    size_t store_len;                         /* plaintext bytes at data + pkt_len */
    uint8_t store_surb_id[INBOX_SURB_ID_LEN]; /* the inbox id is in hop */
    uint8_t data[];                           /* 2 * pkt_len: input packet, unwrap output */
};

/* ------------------------------------------------------------ links */

enum peer_kind { PEER_CLIENT = 1, PEER_NODE_IN, PEER_NODE_OUT, PEER_AUTHORITY };

/* What we know about one connection (conn_get_user()). */
struct peer {
    enum peer_kind kind;
    struct conn *c;                 /* NULL in the fuzz harness */
    uint8_t inbox_id[INBOX_ID_LEN]; /* PEER_CLIENT: the inbox it may fetch */
    double tokens;                  /* PEER_CLIENT: packet rate bucket */
    uint64_t tokens_at_us;
    double fetch_tokens; /* PEER_CLIENT: FetchRequest rate bucket */
    uint64_t fetch_at_us;
    struct peer *cl_prev, *cl_next;   /* PEER_CLIENT: on n->clients (eviction at max_clients) */
    bool inbox_ok;                    /* PEER_CLIENT: its inbox exists (created on first use) */
    uint32_t prefix;                  /* PEER_CLIENT: conn_peer_prefix_hash() */
    uint8_t node_id[MIX_NODE_ID_LEN]; /* PEER_NODE_OUT: which node */
    size_t auth_idx;                  /* PEER_AUTHORITY */
    unsigned pending;                 /* PEER_AUTHORITY: responses still expected */
    uint64_t dialled_us;              /* PEER_AUTHORITY: when we dialled */
    bool established;
    bool fetch_waiting; /* PEER_CLIENT: a fetch on n->fetch_q (fetch.c) */
};

/* A FetchRequest with acknowledgements waiting for their group commit (fetch.c). */
struct fetch_wait {
    struct peer *p; /* I/O thread; NULL once its link closed */
    uint32_t want;
    uint8_t inbox_id[INBOX_ID_LEN]; /* copied: the store thread reads it */
    uint64_t *acks;
    size_t n_acks;
    int rc; /* the store thread's outcome */
    size_t deleted;
};

/* ------------------------------------------------------------ the node */

struct job;
struct node;

/*
 * What the node does to the world outside its own state, as a table of
 * operations.  The daemon's (node_daemon_ops, unwrap.c) use the wall
 * clock, the links, the worker threads, the event loop's timers and the
 * data directory; the harness's (node_harness.c) a fixed clock, frames kept
 * instead of sent, jobs run at once, no timers and nothing saved.  The
 * packet path calls these and never asks which table it has.
 */
struct node_ops {
    /* Wall-clock Unix seconds (a document's validity); 0 skips age checks. */
    uint64_t (*wall_s)(void);
    /* The link to next-hop node hop (dialled on first use), or NULL if unknown. */
    struct peer *(*next_hop)(struct node *n, const uint8_t hop[static MIX_NODE_ID_LEN]);
    /* Send an encoded frame on p's link; false if it was dropped. */
    bool (*send)(struct node *n, struct peer *p, const uint8_t *frame, size_t len);
    /* Hand a job to the crypto workers (or run it at once). */
    void (*queue)(struct node *n, struct job *j);
    /* Arm the mixing queue's timer for its earliest deadline. */
    void (*arm_mixq)(struct node *n);
    /* (Re)arm the timer of the next mix loop cover packet. */
    void (*schedule_loop)(struct node *n);
    /* The epoch may have changed: rotate keys, fetch and upload (node_dir_tick). */
    void (*dir_tick)(struct node *n);
    /* Keep a copy of the current document in the data directory. */
    void (*save_doc)(struct node *n, const uint8_t *doc, size_t len);
};
extern const struct node_ops node_daemon_ops;

struct node {
    struct node_conf conf;
    struct ev_loop *loop;
    struct conn_mgr *cm;
    struct mix_rng rng;
    const struct node_ops *ops; /* the outside world: node_daemon_ops or the harness's */

    uint8_t *id_sk; /* Ed25519, sodium_malloc()ed */
    uint8_t id_pk[PKI_KEY_LEN];
    uint8_t node_id[MIX_NODE_ID_LEN];
    uint8_t *link_sk; /* X25519, sodium_malloc()ed */
    uint8_t link_pk[PKI_KEY_LEN];

    struct node_keys keys;
    atomic_bool replay_saving; /* a helper thread is writing replay caches */
    struct pki_timing timing;  /* the network's, from a signed document */
    bool have_timing;          /* false until a document was verified */

    /* documents: by epoch (I/O thread only) */
    struct pki_doc *doc_prev, *doc_cur, *doc_next;
    uint64_t epoch; /* current epoch by the clock */

    /* mixing */
    struct mixq *mq;
    struct mixq_params mqp;
    ev_io mq_io; /* timerfd of the mixing queue (mix.c) */
    int mq_tfd;  /* -1 = not open yet */
    bool mq_armed;
    uint64_t mq_timer_at; /* deadline the timerfd is armed for */
    ev_timer loop_timer;
    ev_timer tick_timer;
    ev_timer poll_timer;
    ev_timer save_timer;
    ev_timer expire_timer;
    ev_signal sig_term, sig_int, sig_hup;
    const char *conf_path; /* re-read on SIGHUP */
    int lock_fd;           /* flock on data_dir (sys/dirlock.h), -1 = none */
    ev_async async;

    /* workers */
    pthread_t *threads;
    unsigned n_threads;
    pthread_mutex_t work_mu;
    pthread_cond_t work_cv;
    struct job *work_head, *work_tail;
    size_t work_len;
    bool reads_paused; /* work_mu: some kind of link not read (paused_src) */
    /* Fetches with acknowledgements (fetch.c): fetch_q waits for the next
     * commit (I/O thread), fetch_run is being committed by the store thread
     * (fetch_busy); fetch_mu guards fetch_go, fetch_done, fetch_stop. */
    struct fetch_wait *fetch_q, *fetch_run;
    size_t fetch_q_len, fetch_q_cap, fetch_run_len, fetch_run_cap;
    bool fetch_thread_on, fetch_busy;
    bool fetch_go, fetch_done, fetch_stop;
    pthread_t fetch_thread;
    pthread_mutex_t fetch_mu;
    pthread_cond_t fetch_cv;
    ev_async fetch_async;
    /* I/O thread, backpressure by source (SRC_CLIENT, SRC_NODE; unwrap.c): */
    size_t queued_src[SRC__COUNT]; /* packets queued to or held by the workers */
    bool paused_src[SRC__COUNT];   /* that source's links not read */
    bool stopping;
    pthread_mutex_t done_mu;
    struct job *done_head, *done_tail;
    bool done_woken; /* done_mu: the I/O thread is woken to drain the list */

    /* outbound node links, by node id */
    struct peer **out;
    size_t n_out, cap_out;
    size_t n_clients;
    struct peer *clients; /* client links, newest first */
    struct node_bucket {
        double tokens;
        uint64_t at_us;
    } create_all, create_prefix[1024];
    /* Per-inbox admission (deliver.c, any worker): buckets by hashed inbox id. */
    atomic_flag admit_lock;
    atomic_uint_fast64_t admit_auto; /* per second, from the document (inbox.admit_rate 0) */
    struct node_bucket admit[4096];

    /* replay tags durable before a packet leaves (replay_journal.c) */
    struct node_journal *journal;
    ev_async journal_async;            /* the syncer made more tags durable */
    struct job *held_head, *held_tail; /* due packets waiting for their tag */

    struct job *job_pool; /* I/O thread free list of jobs */
    size_t job_pool_len;
    uint8_t *scratch; /* I/O thread frame encoding buffer */
    size_t scratch_len;

    struct inbox_store *inbox;
    struct node_metrics metrics;
    struct metrics_http *http;
    /* directory */
    uint8_t auth_keys[NODE_MAX_AUTH][PKI_KEY_LEN];
    struct peer *auth_peer[NODE_MAX_AUTH]; /* open link to each authority, or NULL */
    uint64_t auth_uploaded[NODE_MAX_AUTH]; /* epoch of our last accepted upload */
    uint8_t doc_cur_hash[PKI_HASH_LEN], doc_next_hash[PKI_HASH_LEN];
    bool in_doc_logged;
};

/* Monotonic microseconds and wall-clock seconds. */
uint64_t node_now_us(void);
uint64_t node_wall_s(void);

/* node_keys.c */
int node_keygen(const char *dir, char *err, size_t errlen) MIX_WUR;
/* node_status.c: `mixnode status -c FILE`; the exit status. */
int node_status_main(const char *cfg);
/* Print the public keys of DIR's key files, as keygen printed them. 0 or -1. */
int node_pubkey(const char *dir, char *err, size_t errlen) MIX_WUR;
void node_print_public(const uint8_t id_pk[static 32], const uint8_t link_pk[static 32]);
int node_load_identity(struct node *n, char *err, size_t errlen) MIX_WUR;
void node_keys_init(struct node_keys *k);
/* Make sure keys for the clock's epoch and the next exist; drop expired ones. */
int node_keys_rotate(struct node *n, uint64_t now_s) MIX_WUR;
/* Save the replay caches that changed: the I/O thread takes the snapshots, a
 * helper thread writes them (skipped while the last one still writes); with
 * `wait`, written before it returns (shutdown). */
void node_keys_save_replay(struct node *n, bool wait);
void node_keys_free(struct node *n);
/* The public Sphinx key this node holds for epoch (false if none). */
bool node_keys_public(struct node *n, uint64_t epoch, uint8_t pk[static SPHINX_KEY_LEN]);

/* replay_journal.c */
int node_journal_start(struct node *n, char *err, size_t errlen) MIX_WUR;
void node_journal_stop(struct node *n);
/* The lib/replay hook (arg: a struct node_jref). */
uint64_t node_journal_append(void *arg, const uint8_t tag[static REPLAY_TAG_LEN]);
/* The sequence number of this thread's last appended record (then 0). */
uint64_t node_journal_last_seq(void);
bool node_journal_durable(struct node *n, uint64_t seq);
/* Block until record seq is durable (workers, before an inbox store). */
void node_journal_wait(struct node *n, uint64_t seq);
/* Start a new journal file; returns the old generation (0: not rotated). */
uint64_t node_journal_rotate(struct node *n);
/* Delete journal files up to generation gen (their tags are saved). */
void node_journal_retire(struct node *n, uint64_t gen);
/* Insert the journaled tags of epoch into c; returns how many were new. */
size_t node_journal_load(struct node *n, uint64_t epoch, struct replay_cache *c);

/* unwrap.c */
int node_workers_start(struct node *n, char *err, size_t errlen) MIX_WUR;
void node_workers_stop(struct node *n);
/* Queue a packet (pkt_len bytes) for unwrapping; counts the drop if full.
 * arrival_us: when it arrived (CLOCK_MONOTONIC; 0 = now), where a Poisson
 * hold starts. */
void node_submit_packet(struct node *n, const uint8_t *pkt, size_t len, enum metric_src src,
                        uint64_t arrival_us);
/* Unwrap one job; a payload to store is left marked (store) for node_store_jobs(). */
void node_process_job(struct node *n, struct job *j);
/* Run a job now on this thread and finish it (no workers: the harness, n_threads 0). */
void node_run_job_now(struct node *n, struct job *j);
/* I/O thread: finish the jobs the workers handed back. */
/* Queue a job for the crypto workers (or run it inline without workers). */
void node_queue_job(struct node *n, struct job *j);
void node_drain_done(struct node *n);
struct job *node_job_alloc(struct node *n, size_t plen);
/* Back to the I/O thread's free list (or free()). */
void node_job_free(struct node *n, struct job *j);
void node_job_pool_free(struct node *n);
/* The key slot of epoch e (0: none), or NULL; under k->lock. */
struct node_key_slot *find_slot(struct node_keys *k, uint64_t e);
/* Count drop d and mark the job dropped. */
void job_drop(struct node *n, struct job *j, enum metric_drop d);

/* deliver.c */
/* The exit hop of a packet unwrapped for this node (res, plaintext plain):
 * drop cover, our own loop back home, or a payload marked for the store. */
void exit_hop(struct node *n, struct job *j, const struct sphinx_geometry *g,
              const struct sphinx_result *res, const uint8_t *plain);
/* Group commit: store the payloads of the marked jobs of the list at head
 * (linked by next) in one transaction, then finish each (SURB-ack or drop). */
void node_store_jobs(struct node *n, struct job *head);

/* mix.c */
int node_mixq_setup(struct node *n, const struct pki_params *p) MIX_WUR;
void node_job_done(struct node *n, struct job *j);
void node_mixq_run(struct node *n);
void node_mixq_arm(struct node *n);
void node_fwd_stop(struct node *n);
/* The journal made more tags durable: send the held packets whose tag is. */
void node_fwd_release(struct node *n);

/* send.c */
/* The daemon's operations (node_daemon_ops): see struct node_ops. */
struct peer *node_out_peer(struct node *n, const uint8_t id[static MIX_NODE_ID_LEN]);
/* Send j to its next hop (held until its replay tag is durable); frees j. */
void send_job(struct node *n, struct job *j);
void node_out_closed(struct node *n, struct peer *p);
/* Close links to nodes no longer in any held document. */
void node_out_prune(struct node *n);

/* cover.c */
void node_loop_schedule(struct node *n);
void node_loop_arm(struct node *n);
/* Worker side of a loop cover packet: build it from the hops in j->data. */
void node_build_loop(struct node *n, struct job *j);
/*
 * The hops of a loop cover packet from node self_id (the packet leaves self
 * for out[0]; the last hop is self): a layer-i mix gets layers i+1..L, a
 * random provider, layers 1..i-1, itself; a gateway gets layers 1..L, itself.
 * Returns the number of hops, or -1 (self not listed, an empty layer, cap).
 */
int node_loop_path(const struct pki_doc *doc, const struct mix_rng *rng,
                   const uint8_t self_id[static MIX_NODE_ID_LEN], const struct pki_descriptor **out,
                   size_t cap);

/* receive.c */
extern const struct conn_callbacks node_conn_callbacks;
/* Handle one received frame from peer p.  false: malformed, close the link. */
bool node_handle_frame(struct node *n, struct peer *p, const uint8_t *frame, size_t len);
bool node_authorize(struct node *n, struct peer *p, const uint8_t key[static LINK_KEY_LEN],
                    enum link_role role);
/* A client peer is gone: off the client list and count. */
void node_client_closed(struct node *n, struct peer *p);
/* An Error frame with code and reason to p. */
void send_error(struct node *n, struct peer *p, uint32_t code, const char *reason);
/* Send a frame on p's link (no-op without a conn); false if dropped. */
bool node_send_frame(struct node *n, struct peer *p, const struct mix_frame *f);
/* The daemon's send operation: the frame onto p's conn (true without one). */
bool node_link_send(struct node *n, struct peer *p, const uint8_t *frame, size_t len);

/* fetch.c */
/* The largest FetchResponse this gateway sends (padded to fetch_max messages). */
size_t fetch_response_max(struct node *n);
/* Touch the inboxes of the client links that are up (expiry of unused inboxes). */
void node_clients_touch(struct node *n);
/* Answer the fetches still waiting (shutdown) and free their queue. */
void node_fetch_queue_free(struct node *n);
/* A FetchRequest or a FetchAck on client link p.  false: close the link. */
bool node_fetch_request(struct node *n, struct peer *p, const struct mix_frame *f);
bool node_fetch_ack(struct node *n, struct peer *p, const struct mix_frame *f);

/* node_dir.c */
void node_dir_poll(struct node *n);
/* Learn the network's timing from the copy of the last document saved in
 * data_dir (if any), so that a restart does not wait for an authority. */
void node_dir_load_saved(struct node *n);
/* What a configuration says against the network's parameters (timing it
 * states, a mix layer the network lacks), in one line; "" when they agree. */
void node_dir_disagreement(const struct node_conf *c, const struct pki_params *p, char *out,
                           size_t len);
void node_dir_tick(struct node *n, uint64_t now_s);
/* The daemon's save_doc operation: data_dir/network.doc, replaced atomically. */
void node_dir_save_document(struct node *n, const uint8_t *buf, size_t len);
/* Install a signed document (from an authority or the document file). */
int node_dir_install(struct node *n, const uint8_t *buf, size_t len, uint64_t want_epoch);
void node_dir_on_frame(struct node *n, struct peer *p, const struct mix_frame *f);
void node_dir_on_established(struct node *n, struct peer *p);
void node_dir_on_close(struct node *n, struct peer *p);
/* A document in which node links may be checked (current, next, or previous in grace). */
bool node_dir_knows_link_key(struct node *n, const uint8_t key[static PKI_KEY_LEN]);
const struct pki_descriptor *node_dir_find(struct node *n, const uint8_t id[static PKI_KEY_LEN]);
void node_dir_free(struct node *n);

#endif
