/*
 * Output formats (see report.h).  The result columns come from one table so
 * the CSV, the JSON and the docs list the same names.
 */
#include "report.h"

#include <math.h>
#include <string.h>

struct rcol {
    const char *name;
    double (*get)(const struct sim_results *r);
    bool integer;
};

#define RC(nm, expr)                                                                               \
    static double rc_##nm(const struct sim_results *r)                                             \
    {                                                                                              \
        return (double)(expr);                                                                     \
    }
RC(targets, r->targets)
RC(unfinished, r->unfinished)
RC(measured, r->measured)
RC(few_targets, r->few_targets)
RC(h_msg_mean, r->h_msg.mean)
RC(h_msg_se, r->h_msg.se)
RC(h_msg_ci95, r->h_msg.ci95)
RC(h_msg_median, r->h_msg.median)
RC(h_msg_p5, r->h_msg.p5)
RC(h_msg_p25, r->h_msg.p25)
RC(h_msg_min, r->h_msg.min)
RC(hmin_msg_mean, r->hmin_msg.mean)
RC(hmin_msg_median, r->hmin_msg.median)
RC(hmin_msg_p5, r->hmin_msg.p5)
RC(h_rcpt_mean, r->h_rcpt.mean)
RC(h_rcpt_se, r->h_rcpt.se)
RC(h_rcpt_ci95, r->h_rcpt.ci95)
RC(ci_dof, r->h_msg.dof)
RC(batches, r->batches)
RC(seeds, r->seeds)
RC(h_rcpt_median, r->h_rcpt.median)
RC(h_rcpt_p5, r->h_rcpt.p5)
RC(h_rcpt_p25, r->h_rcpt.p25)
RC(hmin_rcpt_mean, r->hmin_rcpt.mean)
RC(hmin_rcpt_median, r->hmin_rcpt.median)
RC(eff_set_msg, r->eff_set_msg)
RC(eff_set_rcpt, r->eff_set_rcpt)
RC(degree, r->degree)
RC(lat_mean, hist_mean(&r->latency))
RC(lat_p5, hist_quantile(&r->latency, 0.05))
RC(lat_p25, hist_quantile(&r->latency, 0.25))
RC(lat_median, hist_quantile(&r->latency, 0.5))
RC(lat_p95, hist_quantile(&r->latency, 0.95))
RC(lat_p99, hist_quantile(&r->latency, 0.99))
RC(e2e_mean, hist_mean(&r->e2e))
RC(e2e_median, hist_quantile(&r->e2e, 0.5))
RC(e2e_p95, hist_quantile(&r->e2e, 0.95))
RC(overhead, r->overhead)
RC(overhead_hops, r->overhead_hops)
RC(real_sent, r->c.real_sent)
RC(real_delivered, r->c.real_delivered)
RC(cover_sent, r->c.payload_cover + r->c.loop_cover + r->c.drop_cover + r->c.mix_loop_cover)
RC(mix_drops, r->c.mix_drops)
RC(client_drops, r->c.client_drops)
RC(max_mass_error, r->max_mass_error)
RC(max_pruned, r->max_pruned)
RC(mean_delay_eff, r->mean_delay)
RC(warmup_eff, r->warmup)
RC(drain_eff, r->drain)
RC(target_interval_eff, r->target_interval)
RC(tag_prob, r->tag_prob)
RC(mixes, r->mixes)
RC(rcpt_mb_peak, r->rcpt_bytes_peak / 1e6)
RC(corrupt_mixes, r->corrupt_mixes)
RC(sim_s, r->sim_s)
RC(wall_s, r->wall_s)
RC(events, r->events)

#define C(nm, i)                                                                                   \
    {                                                                                              \
#nm, rc_##nm, i                                                                            \
    }
static const struct rcol cols[] = {
    C(targets, true),
    C(unfinished, true),
    C(measured, true),
    C(few_targets, true),
    C(h_msg_mean, false),
    C(h_msg_se, false),
    C(h_msg_ci95, false),
    C(h_msg_median, false),
    C(h_msg_p5, false),
    C(h_msg_p25, false),
    C(h_msg_min, false),
    C(hmin_msg_mean, false),
    C(hmin_msg_median, false),
    C(hmin_msg_p5, false),
    C(h_rcpt_mean, false),
    C(h_rcpt_se, false),
    C(h_rcpt_ci95, false),
    C(ci_dof, true),
    C(batches, true),
    C(seeds, true),
    C(h_rcpt_median, false),
    C(h_rcpt_p5, false),
    C(h_rcpt_p25, false),
    C(hmin_rcpt_mean, false),
    C(hmin_rcpt_median, false),
    C(eff_set_msg, false),
    C(eff_set_rcpt, false),
    C(degree, false),
    C(lat_mean, false),
    C(lat_p5, false),
    C(lat_p25, false),
    C(lat_median, false),
    C(lat_p95, false),
    C(lat_p99, false),
    C(e2e_mean, false),
    C(e2e_median, false),
    C(e2e_p95, false),
    C(overhead, false),
    C(overhead_hops, false),
    C(real_sent, true),
    C(real_delivered, true),
    C(cover_sent, true),
    C(mix_drops, true),
    C(client_drops, true),
    C(max_mass_error, false),
    C(max_pruned, false),
    C(mean_delay_eff, false),
    C(warmup_eff, false),
    C(drain_eff, false),
    C(target_interval_eff, false),
    C(tag_prob, false),
    C(mixes, true),
    C(corrupt_mixes, true),
    C(rcpt_mb_peak, false),
    C(sim_s, false),
    C(wall_s, false),
    C(events, true),
};

static void put_num(FILE *f, double v, bool integer)
{
    if (integer)
        fprintf(f, "%.0f", v);
    else if (!isfinite(v))
        fputs("0", f);
    else
        fprintf(f, "%.10g", v);
}

/* CSV/JSON text of a list parameter: commas would break CSV, so use ';'. */
static void put_param(FILE *f, const struct sim_params *p, const struct sim_param_desc *d, bool csv)
{
    char buf[SIM_LIST_LEN + 32];
    sim_param_format(p, d, buf, sizeof buf);
    if (csv) {
        for (char *c = buf; *c; c++)
            if (*c == ',')
                *c = ';';
        fputs(buf, f);
    } else if (d->type == SP_ENUM || d->type == SP_LIST) {
        fprintf(f, "\"%s\"", buf);
    } else {
        fputs(buf, f);
    }
}

void report_csv_header(FILE *f)
{
    for (size_t i = 0; i < sim_param_count; i++)
        fprintf(f, "%s,", sim_param_table[i].name);
    for (size_t i = 0; i < MIX_ARRAY_LEN(cols); i++)
        fprintf(f, "%s%s", cols[i].name, i + 1 < MIX_ARRAY_LEN(cols) ? "," : "\n");
}

void report_csv_row(FILE *f, const struct sim_params *p, const struct sim_results *r)
{
    for (size_t i = 0; i < sim_param_count; i++) {
        put_param(f, p, &sim_param_table[i], true);
        fputc(',', f);
    }
    for (size_t i = 0; i < MIX_ARRAY_LEN(cols); i++) {
        put_num(f, cols[i].get(r), cols[i].integer);
        fputs(i + 1 < MIX_ARRAY_LEN(cols) ? "," : "\n", f);
    }
}

void report_json(FILE *f, const struct sim_params *p, const struct sim_results *r)
{
    fputs("{\"params\": {", f);
    for (size_t i = 0; i < sim_param_count; i++) {
        fprintf(f, "%s\"%s\": ", i ? ", " : "", sim_param_table[i].name);
        put_param(f, p, &sim_param_table[i], false);
    }
    fputs("}, \"results\": {", f);
    for (size_t i = 0; i < MIX_ARRAY_LEN(cols); i++) {
        fprintf(f, "%s\"%s\": ", i ? ", " : "", cols[i].name);
        put_num(f, cols[i].get(r), cols[i].integer);
    }
    char why[512];
    if (sim_few_targets_why(p, r, why, sizeof why))
        fprintf(f, ", \"warning\": \"%s\"", why); /* no quotes or backslashes in it */
    fputs("}}\n", f);
}

static void line(FILE *f, const char *what, const struct sim_summary *s)
{
    fprintf(f, "  %-26s mean %7.3f +- %.3f  median %7.3f  p5 %7.3f  p25 %7.3f\n", what, s->mean,
            s->ci95, s->median, s->p5, s->p25);
}

void report_human(FILE *f, const struct sim_params *p, const struct sim_results *r)
{
    static const char *const topo[] = { "stratified", "cascade", "single mix" };
    fprintf(f, "mixsim: %s %u x %u, %s mixing, %u clients, seed %llu\n", topo[p->topology],
            p->layers, p->width, mixq_strategy_name((enum mixq_strategy)p->strategy), p->clients,
            (unsigned long long)p->seed);
    if (p->strategy == MIXQ_POISSON)
        fprintf(f, "  per-hop mean delay %.4g s", r->mean_delay);
    else if (p->strategy == MIXQ_TIMED_POOL)
        fprintf(f, "  period %.4g s, pool keeps %u", p->period, p->pool_keep);
    else
        fprintf(f, "  threshold %u", p->threshold);
    fprintf(f, ", link %.4g s, corrupt mixes %u%s%s\n", p->link_delay, p->corrupt,
            p->corrupt_ids[0] ? " + " : "", p->corrupt_ids);
    fprintf(f, "  simulated %.2f s in %.2f s wall (%.3g events/s); warm-up %.3g s\n", r->sim_s,
            r->wall_s, r->wall_s > 0 ? (double)r->events / r->wall_s : 0, r->warmup);
    fprintf(f, "targets: %u measured, %u unfinished (every %.3g s)\n", r->measured, r->unfinished,
            r->target_interval);
    char why[512];
    if (sim_few_targets_why(p, r, why, sizeof why))
        fprintf(f, "WARNING: too few targets, the figures below are not reliable: %s\n", why);
    if (r->seeds > 1)
        fprintf(f, "  +- : 95 %% confidence interval across %u seeds (t, %u dof)%s\n", r->seeds,
                r->h_msg.dof, p->corrupt ? ", random corrupt placement included" : "");
    else if (r->batches)
        fprintf(f, "  +- : 95 %% confidence interval by batch means (%u batches)%s\n", r->batches,
                p->corrupt ? "; one random corrupt placement: its variance is NOT included "
                             "(use --repeat)"
                           : "");
    else if (r->measured)
        fputs("  +- : no interval (fewer than 20 targets)\n", f);
    if (r->measured == 0) {
        fputs("  no entropy figures: no target was measured\n", f);
    } else {
        line(f, "entropy, messages (bits)", &r->h_msg);
        line(f, "min-entropy, messages", &r->hmin_msg);
        line(f, "entropy, recipients", &r->h_rcpt);
        line(f, "min-entropy, recipients", &r->hmin_rcpt);
        fprintf(f, "  2^H messages %.1f, 2^H recipients %.2f, degree H/log2 (N-1) %.3f\n",
                r->eff_set_msg, r->eff_set_rcpt, r->degree);
    }
    fprintf(f, "latency (s): mean %.4f  p5 %.4f  p25 %.4f  median %.4f  p95 %.4f  p99 %.4f\n",
            hist_mean(&r->latency), hist_quantile(&r->latency, 0.05),
            hist_quantile(&r->latency, 0.25), hist_quantile(&r->latency, 0.5),
            hist_quantile(&r->latency, 0.95), hist_quantile(&r->latency, 0.99));
    fprintf(f, "  incl. client queue: mean %.4f  median %.4f  p95 %.4f\n", hist_mean(&r->e2e),
            hist_quantile(&r->e2e, 0.5), hist_quantile(&r->e2e, 0.95));
    fprintf(f, "traffic: %llu real sent, %llu delivered; cover per real %.3f (per hop %.3f)\n",
            (unsigned long long)r->c.real_sent, (unsigned long long)r->c.real_delivered,
            r->overhead, r->overhead_hops);
    if (r->c.mix_drops || r->c.client_drops)
        fprintf(f, "  dropped: %llu at full mixes, %llu at full client queues\n",
                (unsigned long long)r->c.mix_drops, (unsigned long long)r->c.client_drops);
    fprintf(f, "checks: max |1 - sum p| %.2g, max pruned mass %.2g\n", r->max_mass_error,
            r->max_pruned);
}

void report_targets_csv(FILE *f, const struct sim *s)
{
    fputs("target,t_tag,finished,h_msg,hmin_msg,h_rcpt,hmin_rcpt,delivered,pruned,ruled_out,"
          "latency\n",
          f);
    for (size_t i = 0; i < sim_target_count(s); i++) {
        const struct sim_target *t = sim_target_get(s, i);
        fprintf(f, "%zu,%.6f,%d,%.10g,%.10g,%.10g,%.10g,%.12g,%.3g,%.3g,%.6f\n", i,
                (double)t->t_tag_us / 1e6, t->finished, t->h_msg, t->hmin_msg, t->h_rcpt,
                t->hmin_rcpt, t->delivered, t->pruned, t->ruled_out, t->latency);
    }
}

void report_latency_csv(FILE *f, const struct sim_results *r)
{
    fputs("bin_start_s,latency_count,e2e_count\n", f);
    for (size_t b = 0; b < HIST_BINS; b++) {
        if (r->latency.bin[b] == 0 && r->e2e.bin[b] == 0)
            continue;
        fprintf(f, "%.6g,%llu,%llu\n", pow(10.0, (double)b / HIST_PER_DECADE - 6.0),
                (unsigned long long)r->latency.bin[b], (unsigned long long)r->e2e.bin[b]);
    }
}
