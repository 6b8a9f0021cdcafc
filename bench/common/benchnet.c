/*
 * The shared setup of bench/gateway and bench/node; see benchnet.h.
 */
#include "benchnet.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define METRICS_MAX (1 << 20)

uint64_t bnet_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int bnet_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void bnet_find_mixnode(int argc, char **argv, char *out, size_t outlen)
{
    if (argc > 1) {
        snprintf(out, outlen, "%s", argv[1]);
        return;
    }
    char self[500];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        exit(1);
    self[n] = 0;
    for (int i = 0; i < 2; i++) {
        char *s = strrchr(self, '/');
        if (s)
            *s = 0;
    }
    snprintf(out, outlen, "%s/mixnode", self);
}

static struct tnet *const *g_netp;

static void on_signal(int sig)
{
    char cmd[600];
    /* A mixnode child gets SIGTERM by PR_SET_PDEATHSIG; remove the network. */
    if (g_netp != NULL && *g_netp != NULL) {
        snprintf(cmd, sizeof(cmd), "rm -rf %s", (*g_netp)->dir);
        if (system(cmd) != 0)
            _exit(128 + sig);
    }
    _exit(128 + sig);
}

void bnet_catch_signals(struct tnet *const *netp)
{
    g_netp = netp;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
}

struct tnet *bnet_new(const char *dir)
{
    struct tnet *net = calloc(1, sizeof(*net));
    if (net == NULL)
        exit(1);
    snprintf(net->dir, sizeof(net->dir), "%s", dir);
    tnet_params_default(&net->params, (uint64_t)time(NULL));
    net->params.layers = 1;
    crypto_sign_keypair(net->auth_pk, net->auth_sk);
    return net;
}

void bnet_geometry(const struct tnet *net, struct sphinx_geometry *g, size_t *plen)
{
    *g = (struct sphinx_geometry){ net->params.max_hops, net->params.payload_len,
                                   (enum sphinx_format)net->params.sphinx_format };
    *plen = sphinx_packet_len(g);
}

uint16_t bnet_free_port(void)
{
    uint16_t port = 0;
    int fd = tcp_listen_local(0, &port);
    if (fd < 0)
        return 0;
    close(fd);
    return port;
}

pid_t bnet_start_mixnode(struct tnet *net, int idx, const char *mixnode, const char *extra_ini,
                         const cpu_set_t *cpus)
{
    char err[256], ini[600];
    if (tnet_write(net, extra_ini, err, sizeof(err)) < 0) {
        fprintf(stderr, "bench: %s\n", err);
        exit(1);
    }
    snprintf(ini, sizeof(ini), "%s/node%d/node.ini", net->dir, idx);
    pid_t pid = fork();
    if (pid == 0) {
        /* The node dies with the bench, whatever ends the bench. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (sched_setaffinity(0, sizeof(*cpus), cpus) < 0)
            perror("sched_setaffinity");
        execl(mixnode, "mixnode", "-c", ini, (char *)NULL);
        _exit(127);
    }
    return pid;
}

void bnet_stop(pid_t pid)
{
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

void bnet_remove(const struct tnet *net)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", net->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench: cleanup failed\n");
}

char *bnet_metrics(uint16_t port)
{
    char req[] = "GET /metrics HTTP/1.0\r\n\r\n", *buf = malloc(METRICS_MAX);
    size_t len = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (buf == NULL || fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        write(fd, req, sizeof(req) - 1) < 0) {
        if (fd >= 0)
            close(fd);
        free(buf);
        return NULL;
    }
    for (ssize_t r; (r = read(fd, buf + len, METRICS_MAX - 1 - len)) > 0;)
        len += (size_t)r;
    close(fd);
    buf[len] = 0;
    return buf;
}

/* The sum of the process's threads' run times from /proc/PID/task/TID/schedstat (ns), or -1. */
static double schedstat_s(pid_t pid)
{
    char p[64], path[400];
    snprintf(p, sizeof(p), "/proc/%d/task", (int)pid);
    DIR *d = opendir(p);
    if (d == NULL)
        return -1;
    unsigned long long sum = 0, ns;
    int k = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s/schedstat", p, e->d_name);
        FILE *f = fopen(path, "r");
        if (f != NULL && fscanf(f, "%llu", &ns) == 1) {
            sum += ns;
            k++;
        }
        if (f != NULL)
            fclose(f);
    }
    closedir(d);
    return k > 0 ? (double)sum / 1e9 : -1;
}

double bnet_cpu_s(pid_t pid, double *user, double *sys)
{
    char p[64], buf[1024];
    unsigned long ut = 0, st = 0;
    double tck = (double)sysconf(_SC_CLK_TCK);
    snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(p, "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = 0;
    char *c = strrchr(buf, ')');
    /* Fields after the command: state(3) ... utime(14) stime(15). */
    if (!c || sscanf(c + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        ut = st = 0;
    if (user != NULL)
        *user = (double)ut / tck;
    if (sys != NULL)
        *sys = (double)st / tck;
    /* The total from the scheduler's nanosecond counters when the kernel
     * keeps them (clock ticks are 10 ms steps, too coarse for a run of a
     * second); the user/system split only exists in ticks. */
    double ss = schedstat_s(pid);
    return ss >= 0 ? ss : (double)(ut + st) / tck;
}
