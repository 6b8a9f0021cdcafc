/*
 * mixscope: what a passive observer of the links learns about a running
 * mixnet, from a capture (a pcap file or a live interface) and the signed
 * directory document.  See docs/man/mixscope.1 and docs/mixscope.md.
 */
#include <getopt.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "analyse.h"
#include "plot.h"
#include "report.h"

#define VERSION "0.1.0"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: mixscope (-r FILE | -i IFACE [-t SECONDS]) [-d DOCUMENT] [-A HOST:PORT]...\n"
        "                [-c CONFIG]... [-p PEERS] [--window-a T0:T1 --window-b T2:T3]\n"
        "                [--corrupt ID[,ID...]] [--truth FILE]... [--node-delay ID=MS]...\n"
        "                [--plot DIR] [--mixsim PATH] [--json | --csv]\n"
        "  -r FILE         read a pcap or pcapng capture (- for standard input)\n"
        "  -i IFACE        capture live on IFACE (needs the capture capability)\n"
        "  -t SECONDS      with -i: stop after this long (default: at SIGINT/SIGTERM)\n"
        "  -d DOCUMENT     signed directory document (mixdir fetch -o): nodes, layers, gateways\n"
        "  -A HOST:PORT    a directory authority's address (repeatable)\n"
        "  -c CONFIG       read the \"authority = HOST:PORT ...\" lines of a configuration\n"
        "  -p PEERS        \"IP:PORT NAME\" lines naming endpoints (for shared addresses)\n"
        "  --window-a T0:T1, --window-b T2:T3\n"
        "                  two windows, in seconds from the first frame, to compare\n"
        "  --corrupt ID[,ID...]\n"
        "                  mixes (node ids in base64url, or names) that show the adversary\n"
        "                  which input became which output (repeatable)\n"
        "  --truth FILE    ground-truth targets a test-mode client wrote (repeatable)\n"
        "  --node-delay ID=MS\n"
        "                  this mix's mean delay, if not the document's (test setups)\n"
        "  --plot DIR      write the data of the charts into DIR (scope/plots.sh draws them)\n"
        "  --mixsim PATH   run this mixsim for the same configuration and measured load and\n"
        "                  report its entropies beside the live ones\n"
        "  --json, --csv   machine-readable report instead of the summary\n"
        "  -h, --help      this text;  -V, --version  the version\n");
}

static int parse_window(const char *arg, struct scope_window *w)
{
    char *end;
    double a = strtod(arg, &end);
    if (*end != ':')
        return -1;
    double b = strtod(end + 1, &end);
    if (*end != 0 || a < 0 || b <= a)
        return -1;
    w->t0 = (int64_t)(a * 1e9);
    w->t1 = (int64_t)(b * 1e9);
    return 0;
}

static void handler(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
    struct scope *s = (struct scope *)(void *)user;
    /* Opened with nanosecond precision: tv_usec holds nanoseconds. */
    int64_t t = (int64_t)h->ts.tv_sec * 1000000000LL + (int64_t)h->ts.tv_usec;
    scope_frame(s, s->dlt, t, bytes, h->caplen, h->len);
}

static void align_handler(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
    struct scope *s = (struct scope *)(void *)user;
    int64_t t = (int64_t)h->ts.tv_sec * 1000000000LL + (int64_t)h->ts.tv_usec;
    scope_align_frame(s, s->dlt, t, bytes, h->caplen, h->len);
}

/* --truth on a capture file: a first pass aligns the client connections seen mid-stream. */
static int align(struct scope *s, const char *file)
{
    char err[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p = pcap_open_offline_with_tstamp_precision(file, PCAP_TSTAMP_PRECISION_NANO, err);
    if (p == NULL) {
        fprintf(stderr, "mixscope: %s\n", err);
        return -1;
    }
    s->dlt = pcap_datalink(p);
    pcap_loop(p, -1, align_handler, (u_char *)(void *)s); /* a damaged record: said by run() */
    pcap_close(p);
    scope_align_finish(s);
    return 0;
}

static pcap_t *open_live(const char *iface, char *err)
{
    pcap_t *p = pcap_create(iface, err);
    if (p == NULL)
        return NULL;
    pcap_set_snaplen(p, 262144);
    pcap_set_promisc(p, 0);
    pcap_set_timeout(p, 100);
    pcap_set_buffer_size(p, 32 << 20);
    pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO);
    int rc = pcap_activate(p);
    if (rc < 0) {
        snprintf(err, PCAP_ERRBUF_SIZE, "%s: %s", iface, pcap_geterr(p));
        pcap_close(p);
        return NULL;
    }
    struct bpf_program prog;
    if (pcap_compile(p, &prog, "tcp", 1, PCAP_NETMASK_UNKNOWN) == 0) {
        pcap_setfilter(p, &prog);
        pcap_freecode(&prog);
    }
    return p;
}

static int run(struct scope *s, const char *file, const char *iface, double seconds)
{
    char err[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p = file
                    ? pcap_open_offline_with_tstamp_precision(file, PCAP_TSTAMP_PRECISION_NANO, err)
                    : open_live(iface, err);
    if (p == NULL) {
        fprintf(stderr, "mixscope: %s\n", err);
        return -1;
    }
    s->dlt = pcap_datalink(p);
    if (file) {
        int rc = pcap_loop(p, -1, handler, (u_char *)(void *)s);
        if (rc == -1)
            fprintf(stderr, "mixscope: %s: stopped at a damaged record: %s\n", file,
                    pcap_geterr(p));
    } else {
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        struct timespec t0, now;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        while (!stop) {
            if (pcap_dispatch(p, -1, handler, (u_char *)(void *)s) < 0) {
                fprintf(stderr, "mixscope: %s: %s\n", iface, pcap_geterr(p));
                break;
            }
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (seconds > 0 &&
                (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9 >=
                    seconds)
                break;
        }
    }
    pcap_close(p);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "window-a", required_argument, NULL, 'a' },
        { "window-b", required_argument, NULL, 'b' },
        { "json", no_argument, NULL, 'J' },
        { "csv", no_argument, NULL, 'C' },
        { "corrupt", required_argument, NULL, 'X' },
        { "truth", required_argument, NULL, 'T' },
        { "node-delay", required_argument, NULL, 'D' },
        { "plot", required_argument, NULL, 'P' },
        { "mixsim", required_argument, NULL, 'M' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    const char *file = NULL, *iface = NULL, *doc = NULL, *peers = NULL;
    const char *confs[16], *auths[64], *corrupt[64], *truths[64], *delays[64], *plot = NULL,
                                                                               *mixsim = NULL;
    size_t nconf = 0, nauth = 0, ncorrupt = 0, ntruth = 0, ndelay = 0;
    double seconds = 0;
    enum scope_format fmt = FMT_TEXT;
    struct scope_window win[2] = { { 0, 0 }, { 0, 0 } };
    int c;
    while ((c = getopt_long(argc, argv, "r:i:t:d:A:c:p:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'r': file = optarg; break;
        case 'i': iface = optarg; break;
        case 't': seconds = atof(optarg); break;
        case 'd': doc = optarg; break;
        case 'p': peers = optarg; break;
        case 'A':
            if (nauth < 64)
                auths[nauth++] = optarg;
            break;
        case 'c':
            if (nconf < 16)
                confs[nconf++] = optarg;
            break;
        case 'a':
        case 'b':
            if (parse_window(optarg, &win[c == 'b'])) {
                fprintf(stderr, "mixscope: bad window %s (want T0:T1 seconds, T0 < T1)\n", optarg);
                return 2;
            }
            break;
        case 'X':
        case 'T':
        case 'D': {
            const char **list = c == 'X' ? corrupt : c == 'T' ? truths : delays;
            size_t *n = c == 'X' ? &ncorrupt : c == 'T' ? &ntruth : &ndelay;
            if (*n == 64) {
                fprintf(stderr, "mixscope: too many %s options\n",
                        c == 'X'   ? "--corrupt"
                        : c == 'T' ? "--truth"
                                   : "--node-delay");
                return 2;
            }
            list[(*n)++] = optarg;
            break;
        }
        case 'P': plot = optarg; break;
        case 'M': mixsim = optarg; break;
        case 'J': fmt = FMT_JSON; break;
        case 'C': fmt = FMT_CSV; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("mixscope " VERSION "\n"); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || (file == NULL) == (iface == NULL)) {
        usage(stderr);
        return 2;
    }
    struct scope *s = scope_new();
    if (s == NULL) {
        fprintf(stderr, "mixscope: out of memory\n");
        return 1;
    }
    int rc = 1;
    char err[512];
    s->mixsim = mixsim;
    s->win[0] = win[0];
    s->win[1] = win[1];
    if (doc && scope_load_doc(s, doc, err, sizeof(err))) {
        fprintf(stderr, "mixscope: %s\n", err);
        goto out;
    }
    for (size_t i = 0; i < nauth; i++)
        if (scope_add_authority(s, auths[i])) {
            fprintf(stderr, "mixscope: -A %s: not a numeric IP:PORT\n", auths[i]);
            goto out;
        }
    for (size_t i = 0; i < nconf; i++)
        if (scope_load_authorities(s, confs[i], err, sizeof(err))) {
            fprintf(stderr, "mixscope: %s\n", err);
            goto out;
        }
    if (peers && scope_load_peers(s, peers, err, sizeof(err))) {
        fprintf(stderr, "mixscope: %s\n", err);
        goto out;
    }
    for (size_t i = 0; i < ncorrupt; i++) {
        char ids[512];
        snprintf(ids, sizeof(ids), "%s", corrupt[i]);
        for (char *sv = NULL, *id = strtok_r(ids, ",", &sv); id; id = strtok_r(NULL, ",", &sv))
            if (scope_set_corrupt(s, id)) {
                fprintf(stderr, "mixscope: --corrupt %s: no mix with that id or name\n", id);
                goto out;
            }
    }
    for (size_t i = 0; i < ndelay; i++) {
        char id[256];
        const char *eq = strchr(delays[i], '=');
        double ms = eq ? strtod(eq + 1, NULL) : 0;
        snprintf(id, sizeof(id), "%.*s", eq ? (int)(eq - delays[i]) : 0, delays[i]);
        if (eq == NULL || scope_set_node_delay(s, id, ms)) {
            fprintf(stderr,
                    "mixscope: --node-delay %s: want ID=MS, a mix's id or name and a "
                    "delay above 0 ms\n",
                    delays[i]);
            goto out;
        }
    }
    for (size_t i = 0; i < ntruth; i++)
        if (scope_load_truth(s, truths[i], err, sizeof(err))) {
            fprintf(stderr, "mixscope: --truth %s\n", err);
            goto out;
        }
    if (s->n_ents == 0) {
        fprintf(stderr, "mixscope: no node or authority known: give -d, -A or -c\n");
        goto out;
    }
    struct stat st;
    if (s->have_truth && file != NULL && strcmp(file, "-") != 0 && stat(file, &st) == 0 &&
        S_ISREG(st.st_mode) && align(s, file))
        goto out;
    if (run(s, file, iface, seconds))
        goto out;
    scope_finish(s);
    scope_report(s, fmt, stdout);
    if (plot && scope_plot(s, plot, err, sizeof(err))) {
        fprintf(stderr, "mixscope: --plot %s\n", err);
        goto out;
    }
    rc = 0;
out:
    scope_free(s);
    return rc;
}
