/* The data files of mixscope's charts; see plot.h. */
#include "plot.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static FILE *open_in(const char *dir, const char *name, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return f;
}

static int close_out(FILE *f, const char *dir, const char *name, char *err, size_t errlen)
{
    if (ferror(f) | (fclose(f) != 0)) {
        snprintf(err, errlen, "%s/%s: write failed", dir, name);
        return -1;
    }
    return 0;
}

int scope_mixsim_args(const struct scope *s, char *buf, size_t len)
{
    uint32_t layers = s->layers, per_layer[64] = { 0 }, clients = 0;
    double l1_in = 0, T = (double)(s->t_last - s->t_first) / 1e9, layer_delay[64] = { 0 };
    char corrupt[512] = "", delays[512] = "";
    if (layers == 0 || layers > 64 || T <= 0)
        return -1;
    for (size_t i = 0; i < s->n_ents; i++) {
        const struct scope_ent *e = &s->ents[i];
        if (e->kind == ENT_CLIENT && e->up > 0)
            clients++;
        if (e->kind != ENT_MIX || e->layer == 0 || e->layer > layers)
            continue;
        uint32_t pos = per_layer[e->layer - 1]++;
        if (e->layer == 1)
            l1_in += (double)e->in / T;
        if (e->own_delay_ms > 0)
            layer_delay[e->layer - 1] = e->own_delay_ms;
        if (e->corrupt) {
            /* mixsim numbers mixes layer * width + position, layers from 0; the mixes of a
               layer are alike there, so the position only has to be distinct. */
            size_t n = strlen(corrupt);
            snprintf(corrupt + n, sizeof(corrupt) - n, "%s%u:%u", n ? "," : "", e->layer, pos);
        }
    }
    uint32_t width = per_layer[0];
    if (width == 0 || clients == 0)
        return -1;
    bool own = false;
    for (uint32_t l = 0; l < layers; l++) {
        size_t n = strlen(delays);
        own |= layer_delay[l] > 0;
        snprintf(delays + n, sizeof(delays) - n, "%s%g", l ? "," : "",
                 (layer_delay[l] > 0 ? layer_delay[l] : s->mean_delay_ms) / 1000);
    }
    /* Turn "layer:pos" into mixsim ids now that the width is known. */
    char ids[512] = "";
    for (char *sv = NULL, *tok = strtok_r(corrupt, ",", &sv); tok; tok = strtok_r(NULL, ",", &sv)) {
        unsigned l, p;
        if (sscanf(tok, "%u:%u", &l, &p) != 2)
            continue;
        size_t n = strlen(ids);
        snprintf(ids + n, sizeof(ids) - n, "%s%u", n ? "," : "", (l - 1) * width + p % width);
    }
    int k = snprintf(buf, len,
                     "--layers\n%u\n--width\n%u\n--clients\n%u\n--rate_real\n%.4f\n"
                     "--mean_delay\n%g\n--link_delay\n0.0001\n--max_delay\n2\n"
                     "--rate_payload\n0\n--rate_loop\n0\n--rate_drop\n0\n--rate_mix_loop\n0\n"
                     "--duration\n60\n--seed\n1\n",
                     layers, width, clients, l1_in / clients, s->mean_delay_ms / 1000);
    if (k < 0 || (size_t)k >= len)
        return -1;
    if (own)
        k += snprintf(buf + k, len - (size_t)k, "--layer_delays\n%s\n", delays);
    if (ids[0] != 0 && (size_t)k < len)
        k += snprintf(buf + k, len - (size_t)k, "--corrupt_ids\n%s\n", ids);
    return (size_t)k < len ? 0 : -1;
}

int scope_plot(const struct scope *s, const char *dir, char *err, size_t errlen)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    FILE *f = open_in(dir, "targets_live.csv", err, errlen);
    if (f == NULL)
        return -1;
    fputs("target,t_tag,finished,h_msg,hmin_msg,h_rcpt,hmin_rcpt,delivered\n", f);
    for (size_t j = 0; s->entropy != NULL && j < entropy_targets(s->entropy); j++) {
        const struct sim_target *t = entropy_target(s->entropy, j);
        fprintf(f, "%zu,%.6f,%d,%.10g,%.10g,%.10g,%.10g,%.10g\n", j, (double)t->t_tag_us / 1e6,
                t->finished, t->h_msg, t->hmin_msg, t->h_rcpt, t->hmin_rcpt, t->delivered);
    }
    if (close_out(f, dir, "targets_live.csv", err, errlen))
        return -1;

    /* Per mix and lag bin: the share of inputs whose output left in the bin, beyond chance,
       per ms (the delay density), beside the configured exponential's. */
    if ((f = open_in(dir, "delays.csv", err, errlen)) == NULL)
        return -1;
    fputs("mix,layer,lag_ms,density_per_ms,model_per_ms\n", f);
    double T = (double)(s->t_last - s->t_first);
    int64_t w = s->mean_delay_ms > 0 ? (int64_t)(s->mean_delay_ms * 1e7) : 1000000000LL;
    if (w > 2000000000LL)
        w = 2000000000LL;
    double bin_ms = (double)w / SCOPE_LAG_BINS / 1e6;
    for (size_t i = 0; i < s->n_ents && T > 0; i++) {
        const struct scope_ent *e = &s->ents[i];
        if (e->kind != ENT_MIX || e->lag_hist == NULL || e->in == 0)
            continue;
        double mean = e->own_delay_ms > 0 ? e->own_delay_ms : s->mean_delay_ms;
        double chance = (double)e->in * ((double)e->out / T) * bin_ms * 1e6;
        for (int b = 0; b < SCOPE_LAG_BINS; b++) {
            double mid = (b + 0.5) * bin_ms;
            double dens = ((double)e->lag_hist[b] - chance) / (double)e->in / bin_ms;
            double model = mean > 0 ? exp(-mid / mean) / mean : NAN;
            fprintf(f, "%s,%u,%.4f,%.6g,%.6g\n", e->name, e->layer, mid, dens, model);
        }
    }
    if (close_out(f, dir, "delays.csv", err, errlen))
        return -1;

    char args[2048];
    if (scope_mixsim_args(s, args, sizeof(args)) == 0) {
        if ((f = open_in(dir, "mixsim.args", err, errlen)) == NULL)
            return -1;
        fputs(args, f);
        if (close_out(f, dir, "mixsim.args", err, errlen))
            return -1;
    }
    return 0;
}
