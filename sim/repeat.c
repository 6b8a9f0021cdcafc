/*
 * Independent replications (see sim_run_repeat in sim.h).  Each seed is a
 * separate run; what they share is only the parameters, so their means are
 * independent and the spread across them is an honest error bar, whatever
 * the correlation between targets inside one run and whatever the random
 * placement of corrupt mixes each seed draws.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

static void hist_merge(struct sim_hist *into, const struct sim_hist *h)
{
    if (h->count == 0)
        return;
    if (into->count == 0 || h->min < into->min)
        into->min = h->min;
    if (into->count == 0 || h->max > into->max)
        into->max = h->max;
    into->count += h->count;
    into->sum += h->sum;
    for (size_t b = 0; b < HIST_BINS; b++)
        into->bin[b] += h->bin[b];
}

static void counts_add(struct sim_counts *a, const struct sim_counts *b)
{
    a->real_written += b->real_written;
    a->real_sent += b->real_sent;
    a->real_delivered += b->real_delivered;
    a->payload_cover += b->payload_cover;
    a->loop_cover += b->loop_cover;
    a->drop_cover += b->drop_cover;
    a->mix_loop_cover += b->mix_loop_cover;
    a->hops_real += b->hops_real;
    a->hops_cover += b->hops_cover;
    a->mix_drops += b->mix_drops;
    a->client_drops += b->client_drops;
}

/* Fold one seed's results into out (sums, maxima); the summaries go to each[]. */
static void fold(struct sim_results *out, const struct sim_results *r, bool first)
{
    if (first) {
        *out = *r;
        return;
    }
    out->sim_s += r->sim_s;
    out->wall_s += r->wall_s;
    out->events += r->events;
    out->targets += r->targets;
    out->unfinished += r->unfinished;
    out->measured += r->measured;
    out->few_targets = out->few_targets || r->few_targets;
    out->max_mass_error =
        out->max_mass_error > r->max_mass_error ? out->max_mass_error : r->max_mass_error;
    out->max_pruned = out->max_pruned > r->max_pruned ? out->max_pruned : r->max_pruned;
    if (r->rcpt_bytes_peak > out->rcpt_bytes_peak)
        out->rcpt_bytes_peak = r->rcpt_bytes_peak;
    hist_merge(&out->latency, &r->latency);
    hist_merge(&out->e2e, &r->e2e);
    counts_add(&out->c, &r->c);
}

int sim_run_repeat(const struct sim_params *p, struct sim_results *out, sim_progress_fn progress,
                   void *arg, const char **why)
{
    uint32_t n = p->repeat ? p->repeat : 1;
    struct sim_summary *each = calloc(4 * (size_t)n, sizeof *each);
    int rc = 0;
    *why = NULL;
    if (each == NULL)
        return -1;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        struct sim_params q = *p;
        q.seed = p->seed + i;
        struct sim *s = sim_new(&q, why);
        if (s == NULL) {
            rc = *why != NULL && strcmp(*why, "out of memory") != 0 ? 2 : -1;
            break;
        }
        if (sim_run(s, progress, arg) < 0) {
            rc = -1;
        } else {
            const struct sim_results *r = sim_results(s);
            fold(out, r, i == 0);
            each[i] = r->h_msg;
            each[n + i] = r->hmin_msg;
            each[2 * n + i] = r->h_rcpt;
            each[3 * n + i] = r->hmin_rcpt;
        }
        sim_free(s);
    }
    if (rc == 0 && n > 1) {
        stats_across(each, n, &out->h_msg);
        stats_across(each + n, n, &out->hmin_msg);
        stats_across(each + 2 * n, n, &out->h_rcpt);
        stats_across(each + 3 * n, n, &out->hmin_rcpt);
        out->seeds = n;
        out->batches = 0;
        out->eff_set_msg = exp2(out->h_msg.mean);
        out->eff_set_rcpt = exp2(out->h_rcpt.mean);
        out->degree = p->clients > 2 ? out->h_rcpt.mean / log2((double)p->clients - 1) : 0;
        uint64_t cover =
            out->c.payload_cover + out->c.loop_cover + out->c.drop_cover + out->c.mix_loop_cover;
        out->overhead = out->c.real_sent ? (double)cover / (double)out->c.real_sent : 0;
        out->overhead_hops =
            out->c.hops_real ? (double)out->c.hops_cover / (double)out->c.hops_real : 0;
    }
    free(each);
    return rc;
}
