/*
 * node_metrics: Prometheus text rendering and the /metrics HTTP endpoint.
 */
#include "node_metrics.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostport.h"
#include "log.h"
#include "keyfile.h"

/*
 * Bucket upper bounds, in nanoseconds (10 us .. 100 ms, then +Inf).  Fine
 * around 1 ms, the hop-overhead target, so the node's own view can tell.
 */
static const uint64_t bucket_ns[METRIC_UNWRAP_BUCKETS - 1] = {
    10000,  25000,  50000,   75000,   100000,  150000,   250000,
    500000, 750000, 1000000, 2500000, 5000000, 10000000, 100000000,
};

static const char *const drop_names[DROP__COUNT] = {
    [DROP_BAD_FRAME] = "bad_frame",
    [DROP_LENGTH] = "bad_length",
    [DROP_MAC] = "bad_mac",
    [DROP_REPLAY] = "replay",
    [DROP_INTEGRITY] = "bad_integrity",
    [DROP_COMMAND] = "bad_command",
    [DROP_KEY] = "bad_key",
    [DROP_NO_KEY] = "no_key",
    [DROP_NO_DOCUMENT] = "no_document",
    [DROP_UNKNOWN_HOP] = "unknown_next_hop",
    [DROP_WORK_QUEUE] = "work_queue_full",
    [DROP_MIX_QUEUE] = "mix_queue_full",
    [DROP_PEER_QUEUE] = "peer_queue_full",
    [DROP_RATE_LIMIT] = "rate_limited",
    [DROP_NOT_PROVIDER] = "not_provider",
    [DROP_INBOX_FULL] = "inbox_full",
    [DROP_NO_INBOX] = "no_inbox",
    [DROP_STORE_ERROR] = "store_error",
    [DROP_BAD_PAYLOAD] = "bad_payload",
    [DROP_SHUTDOWN] = "shutdown",
    [DROP_CLIENT_HOP] = "client_next_hop",
    [DROP_INBOX_RATE] = "inbox_rate",
};

const char *metric_drop_name(enum metric_drop d)
{
    return (unsigned)d < DROP__COUNT ? drop_names[d] : "unknown";
}

void metrics_init(struct node_metrics *m)
{
    memset(m, 0, sizeof(*m));
}

static void observe(atomic_uint_fast64_t *buckets, atomic_uint_fast64_t *count,
                    atomic_uint_fast64_t *sum, uint64_t ns)
{
    size_t i = 0;
    while (i < METRIC_UNWRAP_BUCKETS - 1 && ns > bucket_ns[i])
        i++;
    metric_inc(&buckets[i]);
    metric_inc(count);
    atomic_fetch_add_explicit(sum, ns, memory_order_relaxed);
}

void metrics_observe_unwrap(struct node_metrics *m, uint64_t ns)
{
    observe(m->unwrap_bucket, &m->unwrap_count, &m->unwrap_sum_ns, ns);
}

void metrics_observe_overhead(struct node_metrics *m, uint64_t ns)
{
    observe(m->overhead_bucket, &m->overhead_count, &m->overhead_sum_ns, ns);
}

static struct metric_loop_peer *loop_peer(struct node_metrics *m, const uint8_t *id)
{
    char label[KEY_B64_MAX];
    key_to_b64(id, MIX_NODE_ID_LEN, label);
    label[sizeof(m->loop_peers[0].label) - 1] = 0; /* 43 characters for 32 bytes */
    uint32_t n = atomic_load(&m->n_loop_peers);
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(m->loop_peers[i].label, label) == 0)
            return &m->loop_peers[i];
    if (n >= METRIC_LOOP_PEERS)
        return NULL;
    /* Only the I/O thread adds entries; the label is written before the count is published. */
    memcpy(m->loop_peers[n].label, label, sizeof(m->loop_peers[n].label));
    atomic_store(&m->n_loop_peers, n + 1);
    return &m->loop_peers[n];
}

void metrics_loop_sent(struct node_metrics *m, const uint8_t id[static MIX_NODE_ID_LEN])
{
    struct metric_loop_peer *p = loop_peer(m, id);
    metric_inc(&m->loops_sent);
    if (p)
        metric_inc(&p->sent);
}

void metrics_loop_returned(struct node_metrics *m, const uint8_t id[static MIX_NODE_ID_LEN])
{
    struct metric_loop_peer *p = loop_peer(m, id);
    metric_inc(&m->loops_returned);
    if (p)
        metric_inc(&p->returned);
}

/* A growable text buffer. */
struct tbuf {
    char *p;
    size_t len, cap;
    bool oom;
};

__attribute__((format(printf, 2, 3))) static void tb_printf(struct tbuf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        if (b->oom)
            return;
        size_t room = b->cap - b->len;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? room : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = true;
            return;
        }
        if (b->p && (size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        size_t ncap = b->cap ? b->cap * 2 : 8192;
        while (ncap < b->len + (size_t)n + 1)
            ncap *= 2;
        char *np = realloc(b->p, ncap);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
}

static uint64_t ld(atomic_uint_fast64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static void counter(struct tbuf *b, const char *name, const char *help, atomic_uint_fast64_t *c)
{
    tb_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
              (unsigned long long)ld(c));
}

static void gauge(struct tbuf *b, const char *name, const char *help, atomic_uint_fast64_t *c)
{
    tb_printf(b, "# HELP %s %s\n# TYPE %s gauge\n%s %llu\n", name, help, name, name,
              (unsigned long long)ld(c));
}

static void histogram(struct tbuf *b, const char *name, const char *help,
                      atomic_uint_fast64_t *buckets, atomic_uint_fast64_t *count,
                      atomic_uint_fast64_t *sum_ns)
{
    uint64_t acc = 0;
    tb_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    for (size_t i = 0; i < METRIC_UNWRAP_BUCKETS - 1; i++) {
        acc += ld(&buckets[i]);
        tb_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name, (double)bucket_ns[i] / 1e9,
                  (unsigned long long)acc);
    }
    acc += ld(&buckets[METRIC_UNWRAP_BUCKETS - 1]);
    /* The count is read separately and may lag a concurrent observe: use the sum of buckets. */
    (void)count;
    tb_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)acc);
    tb_printf(b, "%s_sum %.9f\n%s_count %llu\n", name, (double)ld(sum_ns) / 1e9, name,
              (unsigned long long)acc);
}

static void render_loops(struct tbuf *b, struct node_metrics *m)
{
    uint32_t n = atomic_load(&m->n_loop_peers);
    counter(b, "mixnode_loops_sent_total", "Mix loop cover packets sent.", &m->loops_sent);
    counter(b, "mixnode_loops_returned_total", "Mix loop cover packets that came back.",
            &m->loops_returned);
    tb_printf(b, "# HELP mixnode_loops_sent_by_hop_total Loops sent, by first hop node id.\n"
                 "# TYPE mixnode_loops_sent_by_hop_total counter\n");
    for (uint32_t i = 0; i < n; i++)
        tb_printf(b, "mixnode_loops_sent_by_hop_total{next_hop=\"%s\"} %llu\n",
                  m->loop_peers[i].label, (unsigned long long)ld(&m->loop_peers[i].sent));
    tb_printf(b, "# HELP mixnode_loops_returned_by_hop_total Loops returned, by first hop.\n"
                 "# TYPE mixnode_loops_returned_by_hop_total counter\n");
    for (uint32_t i = 0; i < n; i++)
        tb_printf(b, "mixnode_loops_returned_by_hop_total{next_hop=\"%s\"} %llu\n",
                  m->loop_peers[i].label, (unsigned long long)ld(&m->loop_peers[i].returned));
}

static void render_packets(struct tbuf *b, struct node_metrics *m)
{
    static const char *const src[SRC__COUNT] = { "client", "node", "local" };
    tb_printf(b, "# HELP mixnode_packets_in_total Sphinx packets received, by source.\n"
                 "# TYPE mixnode_packets_in_total counter\n");
    for (int i = 0; i < SRC__COUNT; i++)
        tb_printf(b, "mixnode_packets_in_total{source=\"%s\"} %llu\n", src[i],
                  (unsigned long long)ld(&m->packets_in[i]));
    counter(b, "mixnode_packets_out_total", "Sphinx packets forwarded to the next hop.",
            &m->packets_out);
    tb_printf(b, "# HELP mixnode_packets_dropped_total Packets dropped, by reason.\n"
                 "# TYPE mixnode_packets_dropped_total counter\n");
    for (int i = 0; i < DROP__COUNT; i++)
        tb_printf(b, "mixnode_packets_dropped_total{reason=\"%s\"} %llu\n", drop_names[i],
                  (unsigned long long)ld(&m->dropped[i]));
}

char *metrics_render(struct node_metrics *m, size_t *len)
{
    struct tbuf b = { 0 };
    render_packets(&b, m);
    counter(&b, "mixnode_delivered_total", "Payloads stored in an inbox.", &m->delivered);
    counter(&b, "mixnode_replies_stored_total", "SURB replies stored in an inbox.",
            &m->replies_stored);
    counter(&b, "mixnode_store_commits_total",
            "Inbox store transactions of payloads (a group commit holds several).",
            &m->store_commits);
    counter(&b, "mixnode_ack_commits_total",
            "Inbox store transactions of fetch acknowledgements (one per loop round).",
            &m->ack_commits);
    counter(&b, "mixnode_fetch_marker_commits_total",
            "Inbox store transactions for a group of fetch requests without acknowledgements "
            "(so that its answers wait as long as with them).",
            &m->marker_commits);
    counter(&b, "mixnode_acks_sent_total", "SURB acknowledgements sent after a commit.",
            &m->acks_sent);
    counter(&b, "mixnode_drop_cover_total", "Drop cover packets received and discarded.",
            &m->drop_cover);
    counter(&b, "mixnode_cover_acks_sent_total",
            "SURB-acks of drop cover sent back (also counted in mixnode_acks_sent_total).",
            &m->cover_acks_sent);
    counter(&b, "mixnode_fetches_total", "Inbox fetch requests served.", &m->fetches);
    counter(&b, "mixnode_fetched_messages_total", "Messages handed out at fetch.",
            &m->fetched_msgs);
    counter(&b, "mixnode_acked_messages_total", "Messages deleted after a fetch ack.",
            &m->acked_msgs);
    counter(&b, "mixnode_expired_messages_total", "Messages deleted by expiry.", &m->expired_msgs);
    counter(&b, "mixnode_fetch_ack_frames_total",
            "Deprecated FetchAck frames received (clients acknowledge in FetchRequest).",
            &m->fetch_ack_frames);
    counter(&b, "mixnode_bad_frames_total", "Links closed for a malformed frame.", &m->bad_frames);
    counter(&b, "mixnode_links_refused_total", "Links refused (key not allowed, limits).",
            &m->links_refused);
    counter(&b, "mixnode_limit_hits_total", "Times a configured limit was reached.",
            &m->limit_hits);
    counter(&b, "mixnode_fetches_refused_total",
            "Client fetches refused: over limits.fetch_rate or the last answer unread.",
            &m->fetches_refused);
    counter(&b, "mixnode_clients_evicted_total",
            "Idle client links closed at max_clients to admit a new client.", &m->clients_evicted);
    counter(&b, "mixnode_links_rate_limited_total",
            "Connections refused: over limits.handshake_rate from one address.",
            &m->links_rate_limited);
    counter(&b, "mixnode_inboxes_created_total", "Inboxes created (a client's first use).",
            &m->inboxes_created);
    counter(&b, "mixnode_inbox_creates_refused_total",
            "Inbox creations refused: creation rate (overall, per prefix) or max_inboxes.",
            &m->inbox_creates_refused);
    counter(&b, "mixnode_inboxes_expired_total", "Empty inboxes deleted for being unused.",
            &m->inboxes_expired);
    counter(&b, "mixnode_inboxes_reclaimed_total",
            "Empty inboxes unused for inbox.reclaim_idle deleted to make room at max_inboxes.",
            &m->inboxes_reclaimed);
    counter(&b, "mixnode_half_open_evicted_total",
            "Half-open connections closed at max_connections for a new one.",
            &m->half_open_evicted);
    counter(&b, "mixnode_read_pauses_total",
            "Times the node stopped reading its links because the crypto workers were behind.",
            &m->read_pauses);
    counter(&b, "mixnode_node_read_pauses_total",
            "Of those, times node links were paused (too many of their packets queued).",
            &m->node_read_pauses);
    counter(&b, "mixnode_documents_accepted_total", "Directory documents verified.",
            &m->docs_accepted);
    counter(&b, "mixnode_documents_rejected_total", "Directory documents rejected.",
            &m->docs_rejected);
    counter(&b, "mixnode_uploads_ok_total", "Descriptor uploads accepted.", &m->uploads_ok);
    counter(&b, "mixnode_uploads_failed_total", "Descriptor uploads refused.", &m->uploads_failed);
    counter(&b, "mixnode_key_rotations_total", "Sphinx key rotations.", &m->key_rotations);
    counter(&b, "mixnode_replay_hits_total", "Replayed packets detected.", &m->replay_hits);
    gauge(&b, "mixnode_replay_cache_entries", "Tags in the replay caches.", &m->replay_size);
    gauge(&b, "mixnode_queue_depth", "Packets held by the mixing queue.", &m->queue_depth);
    gauge(&b, "mixnode_work_queue_depth", "Packets waiting for a crypto worker.",
          &m->work_queue_depth);
    tb_printf(&b,
              "# HELP mixnode_links Open links, by kind.\n# TYPE mixnode_links gauge\n"
              "mixnode_links{kind=\"client\"} %llu\nmixnode_links{kind=\"node_in\"} %llu\n"
              "mixnode_links{kind=\"node_out\"} %llu\n",
              (unsigned long long)ld(&m->links_client), (unsigned long long)ld(&m->links_node_in),
              (unsigned long long)ld(&m->links_out));
    gauge(&b, "mixnode_inboxes", "Inboxes in the store.", &m->inboxes);
    gauge(&b, "mixnode_inbox_messages", "Messages in the store.", &m->inbox_messages);
    gauge(&b, "mixnode_epoch", "Current directory epoch.", &m->epoch);
    gauge(&b, "mixnode_listed", "1 if the current document lists this node.", &m->listed);
    gauge(&b, "mixnode_document", "1 if a verified document of the current epoch is held.",
          &m->have_document);
    gauge(&b, "mixnode_start_time_seconds", "Unix time the process started.", &m->start_time);
    tb_printf(&b,
              "# HELP mixnode_build_info The running version.\n"
              "# TYPE mixnode_build_info gauge\nmixnode_build_info{version=\"%s\"} 1\n",
              MIX_VERSION);
    render_loops(&b, m);
    histogram(&b, "mixnode_unwrap_seconds", "Time of one Sphinx unwrap.", m->unwrap_bucket,
              &m->unwrap_count, &m->unwrap_sum_ns);
    histogram(&b, "mixnode_hop_overhead_seconds", "Time a packet spent beyond its chosen delay.",
              m->overhead_bucket, &m->overhead_count, &m->overhead_sum_ns);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}

struct metrics_http {
    struct MHD_Daemon *d;
    struct node_metrics *m;
};

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct metrics_http *h = cls;
    struct MHD_Response *r;
    enum MHD_Result ret;
    (void)version;
    (void)upload_data;
    (void)con_cls;

    if (*upload_data_size)
        return MHD_NO;
    if (strcmp(method, "GET") == 0 && strcmp(url, "/health") == 0) {
        /* 200 when the node can do its job: a current document that lists it. */
        static const char ok[] = "ok\n", nodoc[] = "no current document\n",
                          unlisted[] = "not listed in the current document\n";
        bool doc = ld(&h->m->have_document) != 0, listed = ld(&h->m->listed) != 0;
        const char *t = !doc ? nodoc : !listed ? unlisted : ok;
        r = MHD_create_response_from_buffer(strlen(t), (void *)t, MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
        ret = MHD_queue_response(c, doc && listed ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, r);
        MHD_destroy_response(r);
        return ret;
    }
    if (strcmp(method, "GET") != 0 || strcmp(url, "/metrics") != 0) {
        static const char nf[] = "not found\n";
        r = MHD_create_response_from_buffer(sizeof(nf) - 1, (void *)nf, MHD_RESPMEM_PERSISTENT);
        ret = MHD_queue_response(c, MHD_HTTP_NOT_FOUND, r);
        MHD_destroy_response(r);
        return ret;
    }
    size_t len = 0;
    char *text = metrics_render(h->m, &len);
    if (!text)
        return MHD_NO;
    r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

/* libmicrohttpd's messages (one per refused connection in a flood) at debug level. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[256];
    (void)cls;
    vsnprintf(line, sizeof(line), fmt, ap);
    line[strcspn(line, "\n")] = 0;
    log_debug("metrics: %s", line);
}

struct metrics_http *metrics_http_start(struct node_metrics *m, const char *hostport, char *err,
                                        size_t errlen)
{
    return metrics_http_start_limited(m, hostport, NULL, err, errlen);
}

struct metrics_http *metrics_http_start_limited(struct node_metrics *m, const char *hostport,
                                                const struct metrics_http_limits *lim, char *err,
                                                size_t errlen)
{
    unsigned conns = lim && lim->max_conns ? lim->max_conns : 256;
    unsigned per_addr = lim && lim->max_per_addr ? lim->max_per_addr : 8;
    unsigned timeout = lim && lim->timeout_s ? lim->timeout_s : 2;
    char host[256];
    uint16_t port;
    struct sockaddr_in sa;

    if (!hostport_parse(hostport, host, sizeof(host), &port)) {
        snprintf(err, errlen, "metrics: bad address '%s'", hostport);
        return NULL;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        snprintf(err, errlen, "metrics: address must be a numeric IPv4 address: '%s'", hostport);
        return NULL;
    }
    struct metrics_http *h = calloc(1, sizeof(*h));
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->m = m;
    /* poll/epoll (MHD_USE_AUTO): select() would cap the connections at FD_SETSIZE. */
    h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG,
                            port, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
                            NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                            MHD_OPTION_CONNECTION_LIMIT, conns, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                            per_addr, MHD_OPTION_CONNECTION_TIMEOUT, timeout, MHD_OPTION_END);
    if (!h->d) {
        snprintf(err, errlen, "metrics: cannot listen on %s", hostport);
        free(h);
        return NULL;
    }
    return h;
}

void metrics_http_stop(struct metrics_http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->d);
    free(h);
}
