/*
 * Every report is a list of sections, each a list of items (one subject with
 * named values).  The three formats are three ways of writing that list:
 *   text  "== section ==" then "subject  key=value ..." per item;
 *   json  {"section": [{"subject": ..., "key": value, ...}, ...], ...};
 *   csv   section,subject,key,value per value.
 */
#include "report.h"

#include "plot.h"
#include "simcmp.h"

#include <math.h>
#include <string.h>

struct out {
    enum scope_format fmt;
    FILE *f;
    int nsec, nitem, nval;
    size_t col; /* text: the current line's width, to wrap long items */
    const char *sec;
    char subj[260];
};

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* A CSV field, quoted (RFC 4180) if it holds a comma, a quote or a line break. */
static void csv_field(FILE *f, const char *s)
{
    if (strpbrk(s, ",\"\r\n") == NULL) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void sec_begin(struct out *o, const char *name, const char *title)
{
    o->sec = name;
    o->nitem = 0;
    if (o->fmt == FMT_JSON) {
        fprintf(o->f, "%s\n ", o->nsec ? "," : "{");
        json_str(o->f, name);
        fprintf(o->f, ": [");
    } else if (o->fmt == FMT_TEXT) {
        fprintf(o->f, "%s== %s ==\n", o->nsec ? "\n" : "", title);
    }
    o->nsec++;
}

static void sec_end(struct out *o)
{
    if (o->fmt == FMT_JSON)
        fprintf(o->f, "%s]", o->nitem ? "\n " : "");
}

static void item_begin(struct out *o, const char *subject)
{
    snprintf(o->subj, sizeof(o->subj), "%s", subject);
    o->nval = 0;
    if (o->fmt == FMT_JSON) {
        fprintf(o->f, "%s\n  {\"subject\": ", o->nitem ? "," : "");
        json_str(o->f, subject);
    } else if (o->fmt == FMT_TEXT) {
        int n = fprintf(o->f, "%-20s", subject);
        o->col = n > 0 ? (size_t)n : 0;
    }
    o->nitem++;
}

static void item_end(struct out *o)
{
    if (o->fmt == FMT_JSON)
        fputc('}', o->f);
    else if (o->fmt == FMT_TEXT)
        fputc('\n', o->f);
}

/* Text items wrap at 100 columns, continuation lines indented. */
static void text_val(struct out *o, const char *key, const char *v)
{
    size_t w = strlen(key) + strlen(v) + 2;
    if (o->col + w > 100 && o->col > 24) {
        fprintf(o->f, "\n%24s", "");
        o->col = 24;
    }
    fprintf(o->f, " %s=%s", key, v);
    o->col += w;
}

static void val_str(struct out *o, const char *key, const char *v)
{
    if (o->fmt == FMT_JSON) {
        fprintf(o->f, ", ");
        json_str(o->f, key);
        fprintf(o->f, ": ");
        json_str(o->f, v);
    } else if (o->fmt == FMT_CSV) {
        fprintf(o->f, "%s,", o->sec);
        csv_field(o->f, o->subj);
        fprintf(o->f, ",%s,", key);
        csv_field(o->f, v);
        fputc('\n', o->f);
    } else {
        char q[300];
        snprintf(q, sizeof(q), strchr(v, ' ') ? "\"%s\"" : "%s", v);
        text_val(o, key, q);
    }
    o->nval++;
}

static void val_num(struct out *o, const char *key, double v)
{
    char buf[64];
    if (!isfinite(v))
        snprintf(buf, sizeof(buf), "null");
    else if (v == floor(v) && fabs(v) < 1e15)
        snprintf(buf, sizeof(buf), "%.0f", v);
    else if (fabs(v) >= 1e6)
        snprintf(buf, sizeof(buf), "%.3f", v);
    else
        snprintf(buf, sizeof(buf), "%.6g", v);
    if (o->fmt == FMT_JSON) {
        fprintf(o->f, ", ");
        json_str(o->f, key);
        fprintf(o->f, ": %s", buf);
    } else if (o->fmt == FMT_CSV) {
        fprintf(o->f, "%s,", o->sec);
        csv_field(o->f, o->subj);
        fprintf(o->f, ",%s,%s\n", key, buf);
    } else {
        text_val(o, key, buf);
    }
    o->nval++;
}

static void val_sizes(struct out *o, const char *key, const struct scope_sizes *z)
{
    char buf[256] = "";
    size_t n = 0;
    for (int i = 0; i < SCOPE_MAX_SIZES && z->count[i]; i++)
        n += (size_t)snprintf(buf + n, n < sizeof(buf) ? sizeof(buf) - n : 0, "%s%u:%llu",
                              i ? " " : "", z->size[i], (unsigned long long)z->count[i]);
    if (z->other && n < sizeof(buf))
        snprintf(buf + n, sizeof(buf) - n, "%sother:%llu", n ? " " : "",
                 (unsigned long long)z->other);
    val_str(o, key, buf);
}

static void val_series(struct out *o, const char *key, struct rsv *r)
{
    char k[96];
    snprintf(k, sizeof(k), "%s_n", key);
    val_num(o, k, (double)r->seen);
    snprintf(k, sizeof(k), "%s_mean_ms", key);
    val_num(o, k, r->seen ? r->sum / (double)r->seen : 0);
    static const struct {
        const char *n;
        double q;
    } qs[] = { { "p5", 0.05 }, { "median", 0.5 }, { "p95", 0.95 } };
    for (size_t i = 0; i < 3; i++) {
        snprintf(k, sizeof(k), "%s_%s_ms", key, qs[i].n);
        val_num(o, k, rsv_quantile(r, qs[i].q));
    }
}

static bool windows_set(const struct scope *s)
{
    return s->win[0].t1 > s->win[0].t0 && s->win[1].t1 > s->win[1].t0;
}

static void report_capture(struct scope *s, struct out *o)
{
    const struct cap_stats *c = cap_stats(s->cap);
    sec_begin(o, "capture", "capture");
    item_begin(o, "capture");
    val_num(o, "duration_s", scope_duration_s(s));
    val_num(o, "start_unix_s", (double)s->t_first / 1e9);
    const struct {
        const char *k;
        uint64_t v;
    } f[] = {
        { "frames", c->frames },
        { "truncated", c->truncated },
        { "not_ip", c->not_ip },
        { "not_tcp", c->not_tcp },
        { "unrelated", c->unrelated },
        { "segments", c->segments },
        { "payload_bytes", c->payload_bytes },
        { "retransmitted", c->retransmitted },
        { "out_of_order", c->out_of_order },
        { "gaps", c->gaps },
        { "gap_bytes", c->gap_bytes },
        { "resyncs", c->resyncs },
        { "unsynced_bytes", c->unsynced_bytes },
        { "bad_length", c->bad_length },
        { "table_full", c->table_full },
        { "connections", c->conns },
        { "connections_from_syn", c->conns_syn },
        { "messages", c->messages },
        { "handshake_messages", s->handshake_msgs },
        { "transport_messages", s->transport_msgs },
        { "entities_dropped", s->ents_dropped },
        { "links_dropped", s->pairs_dropped },
    };
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
        val_num(o, f[i].k, (double)f[i].v);
    if (s->layers) {
        val_num(o, "layers", s->layers);
        val_num(o, "epoch", (double)s->epoch);
        val_num(o, "configured_mean_delay_ms", s->mean_delay_ms);
    }
    for (int w = 0; w < 2; w++)
        if (s->win[w].t1 > s->win[w].t0) {
            val_num(o, w ? "window_b_start_s" : "window_a_start_s", (double)s->win[w].t0 / 1e9);
            val_num(o, w ? "window_b_s" : "window_a_s", scope_window_s(s, w));
        }
    item_end(o);
    sec_end(o);
}

static void report_kinds(struct scope *s, struct out *o)
{
    double T = scope_duration_s(s);
    sec_begin(o, "link_kinds", "link kinds (transport messages; sizes in bytes:count)");
    for (int k = 0; k < 6; k++) {
        struct scope_kindstat *x = &s->kinds[k];
        if (x->msgs == 0 && x->handshakes == 0)
            continue;
        item_begin(o, scope_kind_names[k]);
        val_num(o, "messages", (double)x->msgs);
        val_num(o, "rate_per_s", T > 0 ? (double)x->msgs / T : 0);
        val_num(o, "handshakes", (double)x->handshakes);
        val_sizes(o, "sizes", &x->sizes);
        if (windows_set(s)) {
            val_num(o, "messages_a", (double)x->w_msgs[0]);
            val_sizes(o, "sizes_a", &x->w_sizes[0]);
            val_num(o, "messages_b", (double)x->w_msgs[1]);
            val_sizes(o, "sizes_b", &x->w_sizes[1]);
        }
        item_end(o);
    }
    sec_end(o);
    sec_begin(o, "link_classes", "link classes (real=no: traffic where real packets never travel)");
    for (size_t i = 0; i < s->n_classes; i++) {
        char name[128];
        scope_class_name(&s->classes[i], name, sizeof(name));
        item_begin(o, name);
        val_num(o, "messages", (double)s->classes[i].msgs);
        val_num(o, "rate_per_s", T > 0 ? (double)s->classes[i].msgs / T : 0);
        val_str(o, "real", scope_class_real(s, &s->classes[i]) ? "yes" : "no");
        item_end(o);
    }
    sec_end(o);
}

static void report_clients(struct scope *s, struct out *o)
{
    double T = scope_duration_s(s);
    sec_begin(o, "clients", "client links (gaps and response-to-next-frame delays in ms)");
    for (size_t i = 0; i < s->n_ents; i++) {
        struct scope_ent *e = &s->ents[i];
        if (e->kind != ENT_CLIENT || (e->up == 0 && e->down == 0))
            continue;
        item_begin(o, e->name);
        val_num(o, "up_messages", (double)e->up);
        val_num(o, "up_rate_per_s", T > 0 ? (double)e->up / T : 0);
        val_sizes(o, "up_sizes", &e->up_sizes);
        val_num(o, "down_messages", (double)e->down);
        val_num(o, "down_rate_per_s", T > 0 ? (double)e->down / T : 0);
        val_sizes(o, "down_sizes", &e->down_sizes);
        if (e->gaps != NULL) {
            val_series(o, "gap", &e->gaps->all);
            val_series(o, "resp", &e->resp->all);
        }
        if (windows_set(s) && e->gaps != NULL) {
            double d, p;
            for (int w = 0; w < 2; w++) {
                val_num(o, w ? "up_rate_b" : "up_rate_a",
                        scope_window_s(s, w) > 0 ? (double)e->w_up[w] / scope_window_s(s, w) : 0);
            }
            val_num(
                o, "up_rate_p",
                poisson_rate_p(e->w_up[0], scope_window_s(s, 0), e->w_up[1], scope_window_s(s, 1)));
            val_series(o, "gap_a", &e->gaps->w[0]);
            val_series(o, "gap_b", &e->gaps->w[1]);
            ks_2samp(&e->gaps->w[0], &e->gaps->w[1], &d, &p);
            val_num(o, "gap_ks_d", d);
            val_num(o, "gap_ks_p", p);
            val_series(o, "resp_a", &e->resp->w[0]);
            val_series(o, "resp_b", &e->resp->w[1]);
            ks_2samp(&e->resp->w[0], &e->resp->w[1], &d, &p);
            val_num(o, "resp_ks_d", d);
            val_num(o, "resp_ks_p", p);
        }
        item_end(o);
    }
    sec_end(o);
}

static void report_links(struct scope *s, struct out *o)
{
    double T = scope_duration_s(s), ta = scope_window_s(s, 0), tb = scope_window_s(s, 1);
    sec_begin(o, "links", "links between two parties (rates per second)");
    for (size_t i = 0; i < 2 * SCOPE_MAX_PAIRS; i++) {
        struct scope_pair *p = &s->pairs[i];
        if (p->msgs == 0)
            continue;
        const struct scope_ent *a = &s->ents[p->src], *b = &s->ents[p->dst];
        char subj[260], cls[128];
        snprintf(subj, sizeof(subj), "%s->%s", a->name, b->name);
        struct scope_class c = { a->kind, b->kind, a->layer, b->layer, p->reverse, 0 };
        scope_class_name(&c, cls, sizeof(cls));
        item_begin(o, subj);
        val_str(o, "class", cls);
        val_str(o, "src_kind", scope_ent_kind(a));
        val_str(o, "dst_kind", scope_ent_kind(b));
        val_num(o, "messages", (double)p->msgs);
        val_num(o, "rate_per_s", T > 0 ? (double)p->msgs / T : 0);
        if (windows_set(s)) {
            val_num(o, "messages_a", (double)p->w[0]);
            val_num(o, "messages_b", (double)p->w[1]);
            val_num(o, "rate_a", ta > 0 ? (double)p->w[0] / ta : 0);
            val_num(o, "rate_b", tb > 0 ? (double)p->w[1] / tb : 0);
            val_num(o, "rate_p", poisson_rate_p(p->w[0], ta, p->w[1], tb));
        }
        item_end(o);
    }
    sec_end(o);
}

static void report_nodes(struct scope *s, struct out *o)
{
    double T = (double)(s->t_last - s->t_first);
    sec_begin(o, "mixes", "mixes (delay estimated from input-to-output lags against chance)");
    for (size_t i = 0; i < s->n_ents; i++) {
        struct scope_ent *e = &s->ents[i];
        if (e->kind != ENT_MIX)
            continue;
        double p50, mean = scope_mix_delay(s, e, &p50);
        item_begin(o, e->name);
        val_num(o, "layer", e->layer);
        val_num(o, "inputs", (double)e->in);
        val_num(o, "outputs", (double)e->out);
        val_num(o, "in_rate_per_s", T > 0 ? (double)e->in / T * 1e9 : 0);
        val_num(o, "out_rate_per_s", T > 0 ? (double)e->out / T * 1e9 : 0);
        val_num(o, "est_mean_delay_ms", mean);
        val_num(o, "est_median_delay_ms", p50);
        val_num(o, "configured_mean_delay_ms", s->mean_delay_ms);
        item_end(o);
    }
    sec_end(o);
    sec_begin(o, "gateways",
              "gateways: outputs to layer 1 within 1 ms of an input from the last layer");
    static const char *const wn[3] = { "", "_a", "_b" };
    for (size_t i = 0; i < s->n_ents; i++) {
        struct scope_ent *e = &s->ents[i];
        if (e->kind != ENT_GATEWAY)
            continue;
        item_begin(o, e->name);
        for (int w = 0; w < 3; w++) {
            if (w > 0 && !windows_set(s))
                break;
            double dur = w == 0 ? T / 1e9 : scope_window_s(s, w - 1);
            double rin = dur > 0 ? (double)e->gw_in_exit[w] / dur : 0;
            double pc = 1 - exp(-rin * SCOPE_CLOSE_NS / 1e9);
            char k[64];
#define V(name, val) (snprintf(k, sizeof(k), "%s%s", name, wn[w]), val_num(o, k, val))
            V("inputs_from_last_layer", (double)e->gw_in_exit[w]);
            V("outputs_to_layer1", (double)e->gw_out_l1[w]);
            V("close", (double)e->gw_close[w]);
            V("close_expected", pc * (double)e->gw_out_l1[w]);
            V("close_p", binom_upper(e->gw_close[w], e->gw_out_l1[w], pc));
            if (s->mean_delay_ms > 0) {
                /* The most a delay drawn like any hop's allows, even if every output answered
                   an input: chance, or its own input less than 1 ms before. */
                double pd = pc + (1 - pc) * (1 - exp(-(SCOPE_CLOSE_NS / 1e6) / s->mean_delay_ms));
                V("close_delayed_expected", pd * (double)e->gw_out_l1[w]);
                V("close_delayed_p", binom_upper(e->gw_close[w], e->gw_out_l1[w], pd));
            }
#undef V
        }
        item_end(o);
    }
    sec_end(o);
}

static void summary_vals(struct out *o, const char *m, const struct sim_summary *x)
{
    char key[48];
    static const char *const k[] = { "n",           "mean_bits", "se_bits",
                                     "median_bits", "p5_bits",   "p25_bits" };
    const double v[] = { (double)x->n, x->mean, x->dof ? x->se : NAN, x->median, x->p5, x->p25 };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        snprintf(key, sizeof(key), "%s_%s", m, k[i]);
        val_num(o, key, x->n == 0 && i > 0 ? NAN : v[i]);
    }
}

static void report_entropy(struct scope *s, struct out *o)
{
    struct entropy_result r;
    memset(&r, 0, sizeof(r));
    if (s->entropy != NULL && entropy_summarise(s->entropy, &r) < 0)
        fprintf(stderr, "mixscope: out of memory for the entropy statistics\n");
    sec_begin(o, "entropy", "anonymity of target packets (entropy in bits, mixsim's engine)");
    item_begin(o, s->have_truth ? "targets (ground truth)" : "targets");
    val_num(o, "started", (double)r.started);
    val_num(o, "finished", (double)r.all.measured);
    val_num(o, "unfinished", (double)r.all.unfinished);
    val_num(o, "dropped", (double)r.dropped);
    val_num(o, "mean_pruned_mass", r.mean_pruned);
    if (s->have_truth) {
        val_num(o, "truth_entries", (double)s->truth.n);
        val_num(o, "truth_matched", (double)s->truth_matched);
        val_num(o, "truth_unmatched", (double)(s->truth.n - s->truth_matched));
        val_num(o, "frames_uncounted", (double)s->truth_uncounted);
        val_num(o, "conns_untracked", (double)s->conns_dropped);
        val_num(o, "conns_midstream", (double)s->conns_midstream);
        val_num(o, "conns_aligned", (double)s->conns_aligned);
        val_num(o, "conns_ambiguous", (double)s->conns_ambiguous);
        val_num(o, "conns_unconfirmed", (double)s->conns_unconfirmed);
    }
    size_t corrupt = 0;
    for (size_t i = 0; i < s->n_ents; i++)
        corrupt += s->ents[i].corrupt;
    val_num(o, "corrupt_mixes", (double)corrupt);
    /* h: message-level Shannon entropy, kept under its first name for older readers. */
    summary_vals(o, "h", &r.all.h_msg);
    static const char *const m[4] = { "h_msg", "hmin_msg", "h_rcpt", "hmin_rcpt" };
    const struct sim_summary *all[4] = { &r.all.h_msg, &r.all.hmin_msg, &r.all.h_rcpt,
                                         &r.all.hmin_rcpt };
    for (int i = 0; i < 4; i++)
        summary_vals(o, m[i], all[i]);
    for (int w = 0; w < 2 && windows_set(s); w++) {
        char name[32];
        snprintf(name, sizeof(name), "h_%c", 'a' + w);
        summary_vals(o, name, &r.win[w][0]);
        for (int i = 0; i < 4; i++) {
            snprintf(name, sizeof(name), "%s_%c", m[i], 'a' + w);
            summary_vals(o, name, &r.win[w][i]);
        }
    }
    /* mixsim's command for the same configuration and measured load, to run beside it. */
    char args[2048];
    if (scope_mixsim_args(s, args, sizeof(args)) == 0) {
        for (char *p = args; *p; p++)
            if (*p == '\n')
                *p = p[1] ? ' ' : 0;
        val_str(o, "mixsim_args", args);
    }
    item_end(o);
    if (s->mixsim != NULL) {
        /* mixsim's figure for the same configuration and load, beside the live one. */
        struct simcmp sc;
        char err[256];
        item_begin(o, "mixsim");
        if (simcmp_run(s, s->mixsim, &sc, err, sizeof(err)) == 0) {
            for (size_t i = 0; i < SIMCMP_FIELDS; i++) {
                char key[64];
                const char *n = simcmp_names[i];
                size_t l = strlen(n);
                bool bits = l > 5 && strncmp(n, "mean_", 5) != 0 && strcmp(n, "measured") != 0;
                snprintf(key, sizeof(key), "%s%s", n, bits ? "_bits" : "");
                val_num(o, key, sc.v[i]);
            }
        } else {
            val_str(o, "error", err);
        }
        item_end(o);
    }
    sec_end(o);
}

static void report_authorities(struct scope *s, struct out *o)
{
    double T = scope_duration_s(s);
    sec_begin(o, "authority_connections", "connections opened to authorities");
    for (size_t i = 0; i < s->n_ents; i++) {
        struct scope_ent *e = &s->ents[i];
        if (e->auth_conns == 0)
            continue;
        item_begin(o, e->name);
        val_str(o, "kind", scope_ent_kind(e));
        val_num(o, "connections", (double)e->auth_conns);
        val_num(o, "per_minute", T > 0 ? (double)e->auth_conns / T * 60 : 0);
        item_end(o);
    }
    sec_end(o);
}

void scope_report(struct scope *s, enum scope_format fmt, FILE *f)
{
    struct out o = { .fmt = fmt, .f = f };
    report_capture(s, &o);
    report_kinds(s, &o);
    report_clients(s, &o);
    report_links(s, &o);
    report_nodes(s, &o);
    report_entropy(s, &o);
    report_authorities(s, &o);
    if (fmt == FMT_JSON)
        fprintf(f, "\n}\n");
}
