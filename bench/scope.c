/*
 * mixscope benchmark: analysis speed against real time on a synthesized
 * capture of a 10-node testnet (2 gateways, 4 layers x 2 mixes), 10 clients
 * at the default rates (lambda_P 2/s, lambda_L = lambda_D 0.5/s, a fetch every
 * 500 ms answered by one 8412-byte response), 50 ms mean Poisson delay per
 * hop, mix loop cover 0.5/s, 120 s of traffic.  The capture is written to a
 * temporary pcap file with libpcap and read back the way mixscope reads one
 * (reading, reassembly, framing, analysis and the JSON report are timed).
 * Prints
 *   mixscope_capture_speedup  x   (capture seconds per analysis second; target >= 50)
 *   mixscope_capture_rss_mb   MB  (peak resident memory of this process)
 */
#include <math.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "../scope/analyse.h"
#include "../scope/report.h"

#define SECONDS 120
#define CLIENTS 10
#define LAYERS 4
#define WIDTH 2
#define GATEWAYS 2
#define NODES (GATEWAYS + LAYERS * WIDTH)

struct ev {
    double t;
    uint16_t src, dst; /* endpoint indexes: 0..NODES-1 nodes, NODES.. clients */
    uint16_t size;
    uint8_t reverse; /* responder -> initiator on the src->dst connection (downlink) */
};

static struct ev *evs;
static size_t nev, capev;
static uint64_t rng = 88172645463325252ull;

static double uni(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static double expo(double mean)
{
    return -mean * log(1 - uni());
}

static void add(double t, int src, int dst, int size, int reverse)
{
    if (t >= SECONDS)
        return;
    if (nev == capev) {
        capev = capev ? 2 * capev : 65536;
        evs = realloc(evs, capev * sizeof(*evs));
        if (evs == NULL)
            exit(1);
    }
    evs[nev++] = (struct ev){ t, (uint16_t)src, (uint16_t)dst, (uint16_t)size, (uint8_t)reverse };
}

static int mix(int layer)
{
    return GATEWAYS + (layer - 1) * WIDTH + (int)(uni() * WIDTH);
}

/* A packet entering the mix layers at t from node `from`, ending at a random gateway. */
static void path(double t, int from)
{
    int prev = from;
    for (int l = 1; l <= LAYERS; l++) {
        int m = mix(l);
        add(t, prev, m, 2467, 0);
        t += expo(0.05);
        prev = m;
    }
    add(t, prev, (int)(uni() * GATEWAYS), 2467, 0);
}

static int cmp_ev(const void *a, const void *b)
{
    double x = ((const struct ev *)a)->t, y = ((const struct ev *)b)->t;
    return (x > y) - (x < y);
}

static void synthesize(void)
{
    for (int c = 0; c < CLIENTS; c++) {
        int me = NODES + c, gw = c % GATEWAYS;
        for (double t = expo(1.0 / 3); t < SECONDS; t += expo(1.0 / 3)) {
            add(t, me, gw, 2467, 0);
            path(t + 0.001, gw);
        }
        for (double t = uni() * 0.5; t < SECONDS; t += 0.5) {
            add(t, me, gw, 24, 0);
            add(t + 0.0003, me, gw, 8412, 1);
            add(t + 0.0004, me, gw, 81, 0);
        }
    }
    for (int n = GATEWAYS; n < NODES; n++)
        for (double t = expo(2); t < SECONDS; t += expo(2))
            path(t, n);
    qsort(evs, nev, sizeof(*evs), cmp_ev);
}

static void ep_ip(int i, uint8_t ip[4])
{
    ip[0] = 10, ip[1] = 77, ip[2] = 0, ip[3] = (uint8_t)(10 + i);
}

/* Connection state: sequence numbers of each direction of src->dst. */
static uint32_t seqs[NODES + CLIENTS][NODES][2];

static size_t build(uint8_t *f, const struct ev *e)
{
    int init = e->src, resp = e->dst;
    int from = e->reverse ? resp : init, to = e->reverse ? init : resp;
    uint8_t a[4], b[4];
    ep_ip(from, a);
    ep_ip(to, b);
    uint16_t ip_port = 7100, eph = (uint16_t)(40000 + init);
    uint16_t sp = e->reverse ? ip_port : eph, dp = e->reverse ? eph : ip_port;
    if (init < NODES && !e->reverse)
        sp = (uint16_t)(40000 + init * 64 + resp); /* one outgoing port per node link */
    else if (init < NODES)
        dp = (uint16_t)(40000 + init * 64 + resp);
    uint32_t *sq = &seqs[init][resp][e->reverse];
    size_t pay = 2 + (size_t)e->size, tot = 20 + 20 + pay;
    memset(f, 0, 54);
    f[12] = 0x08;
    uint8_t *ip = f + 14;
    ip[0] = 0x45;
    ip[2] = (uint8_t)(tot >> 8), ip[3] = (uint8_t)tot;
    ip[8] = 64, ip[9] = 6;
    memcpy(ip + 12, a, 4);
    memcpy(ip + 16, b, 4);
    uint8_t *t = ip + 20;
    t[0] = (uint8_t)(sp >> 8), t[1] = (uint8_t)sp, t[2] = (uint8_t)(dp >> 8), t[3] = (uint8_t)dp;
    t[4] = (uint8_t)(*sq >> 24), t[5] = (uint8_t)(*sq >> 16), t[6] = (uint8_t)(*sq >> 8);
    t[7] = (uint8_t)*sq;
    t[12] = 5 << 4;
    t[13] = 0x18;
    t[20] = (uint8_t)(e->size >> 8), t[21] = (uint8_t)e->size;
    memset(t + 22, 0x5a, e->size);
    *sq += (uint32_t)pay;
    return 14 + tot;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
    synthesize();
    char path_tmpl[] = "/tmp/mixscope-bench-XXXXXX";
    int fd = mkstemp(path_tmpl);
    if (fd < 0) {
        perror("bench/scope: mkstemp");
        return 1;
    }
    close(fd);
    pcap_t *dead =
        pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 262144, PCAP_TSTAMP_PRECISION_NANO);
    pcap_dumper_t *d = dead ? pcap_dump_open(dead, path_tmpl) : NULL;
    if (d == NULL) {
        fprintf(stderr, "bench/scope: cannot write %s\n", path_tmpl);
        unlink(path_tmpl);
        return 1;
    }
    static uint8_t frame[20000];
    double t0 = 1.7e9;
    for (size_t i = 0; i < nev; i++) {
        size_t len = build(frame, &evs[i]);
        double t = t0 + evs[i].t;
        struct pcap_pkthdr h = { .caplen = (bpf_u_int32)len, .len = (bpf_u_int32)len };
        h.ts.tv_sec = (time_t)t;
        h.ts.tv_usec = (suseconds_t)((t - floor(t)) * 1e9);
        pcap_dump((u_char *)d, &h, frame);
    }
    pcap_dump_close(d);
    pcap_close(dead);
    free(evs);

    double start = now_s();
    struct scope *s = scope_new();
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline_with_tstamp_precision(path_tmpl, PCAP_TSTAMP_PRECISION_NANO, err);
    if (s == NULL || p == NULL) {
        fprintf(stderr, "bench/scope: %s\n", p ? "out of memory" : err);
        unlink(path_tmpl);
        return 1;
    }
    for (int i = 0; i < NODES; i++) {
        char name[32], addr[32];
        snprintf(name, sizeof(name), "node%d", i);
        snprintf(addr, sizeof(addr), "10.77.0.%d:7100", 10 + i);
        if (scope_add_node(s, name, i < GATEWAYS ? ENT_GATEWAY : ENT_MIX,
                           i < GATEWAYS ? 0 : (uint32_t)(1 + (i - GATEWAYS) / WIDTH), addr))
            return 1;
    }
    s->mean_delay_ms = 50;
    s->win[0] = (struct scope_window){ 0, 60000000000LL };
    s->win[1] = (struct scope_window){ 60000000000LL, 120000000000LL };
    struct pcap_pkthdr *h;
    const u_char *bytes;
    int dlt = pcap_datalink(p);
    while (pcap_next_ex(p, &h, &bytes) == 1)
        scope_frame(s, dlt, (int64_t)h->ts.tv_sec * 1000000000LL + h->ts.tv_usec, bytes, h->caplen,
                    h->len);
    pcap_close(p);
    scope_finish(s);
    FILE *null = fopen("/dev/null", "w");
    if (null != NULL) {
        scope_report(s, FMT_JSON, null);
        fclose(null);
    }
    double wall = now_s() - start;
    double span = scope_duration_s(s);
    uint64_t msgs = cap_stats(s->cap)->messages;
    scope_free(s);
    unlink(path_tmpl);
    fprintf(stderr,
            "bench/scope: %zu frames, %llu messages, %.0f s of traffic, analysed in %.3f s\n", nev,
            (unsigned long long)msgs, span, wall);
    if (msgs < nev / 2) {
        fprintf(stderr, "bench/scope: only %llu messages framed\n", (unsigned long long)msgs);
        return 1;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("mixscope_capture_speedup %.0f x\n", wall > 0 ? span / wall : 0);
    printf("mixscope_capture_rss_mb %.1f MB\n", (double)ru.ru_maxrss / 1024.0);
    return 0;
}
