/*
 * What mixscope learns from the messages of a capture: who each endpoint is
 * (from the directory document, the authorities' addresses and an optional
 * peers file), and streaming accumulators for every report.  Memory is
 * bounded by the SCOPE_MAX_* limits and the reservoir sizes, not by the
 * capture's length.
 */
#ifndef SCOPE_ANALYSE_H
#define SCOPE_ANALYSE_H

#include "capture.h"
#include "entropy.h"
#include "stats.h"
#include "truth.h"

#define SCOPE_MAX_ENTS 4096
#define SCOPE_MAX_PEERS 8192
#define SCOPE_MAX_PAIRS 8192
#define SCOPE_MAX_CLASSES 256
#define SCOPE_MAX_SIZES 8      /* distinct message sizes kept per table, the rest is "other" */
#define SCOPE_RSV 8192         /* samples kept per series */
#define SCOPE_CLOSE_NS 1000000 /* "close" gateway lag: 1 ms */
#define SCOPE_RING 512         /* recent inputs kept per mix */
#define SCOPE_LAG_BINS 200
#define SCOPE_MAX_CONNS 4096 /* client connections whose transport frames are counted */
/* Aligning the ground truth to a client connection captured mid-stream (scope_align_*). */
#define SCOPE_ALIGN_MIN 3   /* truth entries that must agree on the offset */
#define SCOPE_ALIGN_RIVAL 2 /* ... at least this many times more than any other offset */
/* A truth line is written just after the write that handed its frame to the kernel: the frame
   is normally captured before it (by the write and any preemption of the client after it), and
   after it only when the kernel held the bytes back. */
#define SCOPE_ALIGN_BEFORE_NS 20000000 /* a message captured at most 20 ms before its truth time */
#define SCOPE_ALIGN_AFTER_NS 20000000  /* ... or, if none was, at most 20 ms after it */
#define SCOPE_ALIGN_CANDS 8            /* offsets voted for, per connection */
#define SCOPE_ALIGN_TIES 4             /* messages of one segment a truth entry may point to */

enum scope_kind { ENT_CLIENT, ENT_GATEWAY, ENT_MIX, ENT_AUTH, ENT_UNKNOWN };

struct scope_sizes {
    uint32_t size[SCOPE_MAX_SIZES];
    uint64_t count[SCOPE_MAX_SIZES];
    uint64_t other;
};

/* Times of a window, relative to the first frame; a window is set if t1 > t0. */
struct scope_window {
    int64_t t0, t1;
};

/* One series (gaps, or response-to-next-frame delays) split by window. */
struct scope_series {
    struct rsv all, w[2];
};

struct scope_ent {
    char name[128];
    enum scope_kind kind;
    uint32_t layer;
    int mix_idx;         /* mixes: 0.., for the entropy tracker; -1 otherwise */
    int gw_idx;          /* gateways: 0.., the recipients of the entropy tracker */
    char id[96];         /* node id, base64url as the document prints it ("" if none) */
    bool corrupt;        /* --corrupt: shows the adversary its mapping */
    double own_delay_ms; /* --node-delay: this mix's mean delay, if not the document's */
    bool listens;
    struct cap_ep listen;
    /* Client link (kind ENT_CLIENT): uplink and downlink on client -> gateway connections. */
    uint64_t up, down, w_up[2];
    struct scope_sizes up_sizes, down_sizes;
    int64_t last_up, last_down;
    bool down_since_up;
    struct scope_series *gaps, *resp; /* allocated for clients that use a gateway */
    /* Mixes: every (input, later output) pair closer than the window, by lag; the excess over
       chance gives the delay distribution (see scope_mix_delay). */
    uint64_t in, out;
    uint32_t ring_n, ring_pos;
    int64_t *ring;      /* SCOPE_RING entries, allocated at the first input */
    uint64_t *lag_hist; /* SCOPE_LAG_BINS bins over the lag window */
    /* Gateways: outputs to layer 1 against the latest input from the last layer. */
    int64_t last_from_exit;
    uint64_t gw_in_exit[3], gw_out_l1[3], gw_close[3]; /* [0] all, [1] window a, [2] window b */
    /* Connections this entity opened to an authority. */
    uint64_t auth_conns;
};

struct scope_kindstat {
    uint64_t msgs, bytes, handshakes, w_msgs[2];
    struct scope_sizes sizes, w_sizes[2];
};

/* A class of directed link: source and destination kind and layer. */
struct scope_class {
    enum scope_kind sk, dk;
    uint32_t sl, dl;
    bool reverse; /* responder -> initiator */
    uint64_t msgs;
};

struct scope_pair {
    uint32_t src, dst; /* entity indexes */
    bool reverse;
    uint64_t msgs, w[2];
};

/* A client connection's transport frames, counted to match the ground truth. */
struct scope_conn {
    uint64_t id; /* conn_id + 1, 0: free slot */
    uint32_t frames;
    bool counting; /* seen from its SYN, or aligned: the index is known */
    bool aligned;  /* mid-stream, its first captured message is frame `frames` */
};

/* The captured messages nearest a truth entry in the first pass: the last captured at or before
   its time (all of them if one segment held several), else the first after it. */
struct scope_align_cand {
    int64_t t_ns;
    uint32_t conn; /* index in conns */
    uint8_t state; /* 0: none, 1: before, 2: after */
    uint8_t n;
    uint32_t j[SCOPE_ALIGN_TIES], size[SCOPE_ALIGN_TIES];
};

/* Offsets (truth frame index - captured message number) a mid-stream connection voted for. */
struct scope_votes {
    uint32_t k[SCOPE_ALIGN_CANDS], size[SCOPE_ALIGN_CANDS], n[SCOPE_ALIGN_CANDS];
    uint32_t other; /* votes that found no free candidate */
};

struct scope {
    struct cap *cap;
    struct entropy *entropy; /* target packets' entropy (made at the first message) */
    bool entropy_failed;
    int n_mix, n_gw;
    /* --truth: targets are the client packets named there. */
    struct truth truth;
    bool have_truth;
    struct scope_conn *conns; /* SCOPE_MAX_CONNS slots, with --truth */
    uint64_t truth_matched, truth_uncounted, conns_dropped;
    /* The first pass over a capture file that aligns mid-stream client connections. */
    struct cap *align_cap;
    struct scope_votes *votes;      /* SCOPE_MAX_CONNS, parallel to conns, during that pass */
    struct scope_align_cand *cands; /* one per truth entry, during that pass */
    struct scope_sizes align_sizes; /* client -> gateway message sizes seen by it */
    bool aligning;
    uint64_t conns_midstream, conns_aligned, conns_ambiguous, conns_unconfirmed, align_votes;
    const char *mixsim; /* --mixsim: run it for its figure beside the live one */
    int dlt;            /* link type of the capture (set by the reader) */
    int64_t t_first, t_last;
    bool have_t;
    struct scope_window win[2];
    /* Configuration from the document (zero without one). */
    double mean_delay_ms;
    int64_t lag_window_ns; /* input-to-output lags considered: 10 mean delays, at most 2 s */
    uint32_t layers;
    uint64_t epoch;
    size_t n_ents;
    struct scope_ent *ents;
    size_t n_peers;
    struct {
        struct cap_ep ep;
        uint32_t ent;
    } * peers;
    struct scope_kindstat kinds[6];
    size_t n_classes;
    struct scope_class classes[SCOPE_MAX_CLASSES];
    size_t n_pairs;
    struct scope_pair *pairs;
    uint64_t pairs_dropped, ents_dropped;
    uint64_t transport_msgs, handshake_msgs;
};

enum { KIND_CLIENT_GW, KIND_GW_CLIENT, KIND_GW_MIX, KIND_MIX_MIX, KIND_MIX_GW, KIND_AUTH };
extern const char *const scope_kind_names[6];

struct scope *scope_new(void);
void scope_free(struct scope *s);
/* Read a signed directory document (no signature check: the caller trusts the file). */
int scope_load_doc(struct scope *s, const char *path, char *err, size_t errlen);
/* A node by hand (tests, the bench, the fuzz target): kind ENT_GATEWAY or ENT_MIX. */
int scope_add_node(struct scope *s, const char *name, enum scope_kind kind, uint32_t layer,
                   const char *hostport);
/* An authority's address. */
int scope_add_authority(struct scope *s, const char *hostport);
/* Every "authority = HOST:PORT ..." line of a mixnode/mixclient/mixdir configuration file. */
int scope_load_authorities(struct scope *s, const char *path, char *err, size_t errlen);
/* "IP:PORT NAME" lines: the endpoint belongs to NAME (a listener's name, or else a client's
   name; port 0 means any port of that IP); a listener's own address renames it NAME.  For
   captures where hosts share addresses (loopback), and for readable names. */
int scope_load_peers(struct scope *s, const char *path, char *err, size_t errlen);
/* Mark the node whose id (base64url, as the document prints it) or name is `id` corrupt. */
int scope_set_corrupt(struct scope *s, const char *id);
/* The mean delay of the node named by id or name, if not the document's (a test-only setup). */
int scope_set_node_delay(struct scope *s, const char *id, double mean_delay_ms);
/* Add a ground-truth target file (see truth.h); several may be given. */
int scope_load_truth(struct scope *s, const char *path, char *err, size_t errlen);
/*
 * With --truth on a capture that can be read twice: a first pass that feeds every frame to
 * scope_align_frame, then scope_align_finish, before the frames go to scope_frame.  A client
 * connection seen mid-stream gets the offset k (truth frame index - captured message number)
 * that its truth entries point to: each entry points to the last client message captured at
 * most SCOPE_ALIGN_BEFORE_NS before its time (every message of that segment), or, if there is
 * none, to the first captured at most SCOPE_ALIGN_AFTER_NS after it.  Only messages of the
 * packet size count.  The connection is aligned if at least SCOPE_ALIGN_MIN entries agree and
 * SCOPE_ALIGN_RIVAL times more than on any other offset; otherwise it stays uncounted:
 * conns_ambiguous if another offset came too close, conns_unconfirmed if fewer entries agreed.
 */
void scope_align_frame(struct scope *s, int dlt, int64_t t_ns, const uint8_t *data, size_t caplen,
                       size_t wirelen);
void scope_align_finish(struct scope *s);
/* Feed one captured frame (the capture module and everything after it). */
void scope_frame(struct scope *s, int dlt, int64_t t_ns, const uint8_t *data, size_t caplen,
                 size_t wirelen);
/* Close the time integrals at the end of the capture. */
void scope_finish(struct scope *s);
const char *scope_ent_kind(const struct scope_ent *e);
void scope_class_name(const struct scope_class *c, char *buf, size_t len);
/* True if real packets travel on links of this class. */
bool scope_class_real(const struct scope *s, const struct scope_class *c);
double scope_duration_s(const struct scope *s);
/*
 * A mix's mean delay from its inputs and outputs alone: F(tau), the share of inputs whose
 * output left within tau, is the excess of (input, output) pairs at lag <= tau over what
 * independent streams give, per input; the mean is the integral of 1 - F over the window.
 * Returns NAN without inputs.  *p50 gets the median lag (NAN if F never reaches 1/2).
 */
double scope_mix_delay(const struct scope *s, const struct scope_ent *e, double *p50);
double scope_window_s(const struct scope *s, int w);

#endif
