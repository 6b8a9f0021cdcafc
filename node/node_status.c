/*
 * `mixnode status -c FILE`: a node's state at a glance, in the spirit of
 * `wg show`.  It reads the running node's /metrics (metrics_listen of the
 * configuration; it never talks to the node otherwise) and its public keys
 * from data_dir, and prints one short block.  Exit 0 when the node answered,
 * 1 when it did not, 2 on a usage or configuration error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "hostport.h"
#include "keyfile.h"
#include "node.h"

/* GET /metrics from a numeric IPv4 host:port; the body (malloc()ed) or NULL. */
static char *fetch_metrics(const char *hostport, char *err, size_t errlen)
{
    char host[NODE_ADDR_MAX], req[300];
    uint16_t port;
    struct sockaddr_in sa;
    struct timeval tv = { 5, 0 };
    size_t cap = 1 << 16, len = 0;
    char *buf = NULL;
    int fd = -1;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    if (!hostport_parse(hostport, host, sizeof(host), &port) ||
        inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        snprintf(err, errlen, "metrics_listen \"%s\" is not a numeric IPv4 HOST:PORT", hostport);
        return NULL;
    }
    sa.sin_port = htons(port);
    if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ||
        connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        snprintf(err, errlen, "cannot reach the node's metrics at %s: %s (is it running?)",
                 hostport, strerror(errno));
        goto fail;
    }
    int n = snprintf(req, sizeof(req), "GET /metrics HTTP/1.0\r\nHost: %s\r\n\r\n", hostport);
    if (write(fd, req, (size_t)n) != n || !(buf = malloc(cap))) {
        snprintf(err, errlen, "cannot ask %s: %s", hostport, strerror(errno));
        goto fail;
    }
    for (;;) {
        if (len + 1 >= cap) {
            char *nb = cap < (16u << 20) ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                snprintf(err, errlen, "metrics answer too large");
                goto fail;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + len, cap - len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "reading from %s: %s", hostport, strerror(errno));
            goto fail;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    buf[len] = 0;
    close(fd);
    char *body = strstr(buf, "\r\n\r\n");
    if (strncmp(buf, "HTTP/1.", 7) != 0 || !body || strncmp(buf + 9, "200", 3) != 0) {
        snprintf(err, errlen, "%s did not answer /metrics", hostport);
        free(buf);
        return NULL;
    }
    memmove(buf, body + 4, strlen(body + 4) + 1);
    return buf;
fail:
    if (fd >= 0)
        close(fd);
    free(buf);
    return NULL;
}

/* The value of the sample `name` (with its labels, exactly), or -1. */
static double sample(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, name, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    return -1;
}

/* Sum of the samples of a labelled family; prints "label value" items when
 * `out` is given (non-zero ones only). */
static double family(const char *text, const char *name, const char *label, char *out,
                     size_t outlen)
{
    char pre[160];
    double sum = 0;
    size_t o = 0;
    snprintf(pre, sizeof(pre), "%s{%s=\"", name, label);
    size_t n = strlen(pre);
    if (out && outlen)
        out[0] = 0;
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, pre, n) != 0)
            continue;
        const char *q = strchr(p + n, '"');
        const char *v = q ? strchr(q, ' ') : NULL;
        if (!v)
            continue;
        double x = strtod(v + 1, NULL);
        sum += x;
        if (out && x > 0 && o < outlen)
            o += (size_t)snprintf(out + o, outlen - o, "%s%.*s %.0f", o ? ", " : "",
                                  (int)(q - (p + n)), p + n, x);
    }
    return sum;
}

static void uptime(double start, char *out, size_t len)
{
    long s = start > 0 ? (long)(time(NULL) - (time_t)start) : -1;
    if (s < 0)
        snprintf(out, len, "?");
    else if (s >= 86400)
        snprintf(out, len, "%ldd %ldh", s / 86400, s % 86400 / 3600);
    else if (s >= 3600)
        snprintf(out, len, "%ldh %ldm", s / 3600, s % 3600 / 60);
    else
        snprintf(out, len, "%ldm %lds", s / 60, s % 60);
}

static const char *roles_text(uint32_t r, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s%s", (r & PKI_ROLE_GATEWAY) ? "gateway " : "",
             (r & PKI_ROLE_MIX) ? "mix " : "", (r & PKI_ROLE_PROVIDER) ? "provider " : "");
    if (buf[0])
        buf[strlen(buf) - 1] = 0;
    return buf;
}

int node_status_main(const char *cfg)
{
    struct node_conf *c = malloc(sizeof(*c));
    char err[4096], id[KEY_B64_MAX] = "?", up[32], roles[64], drops[1024], in[256];
    uint8_t *sk = sodium_malloc(crypto_sign_SECRETKEYBYTES), nid[32];
    int rc = 2;
    if (!c || !sk)
        goto out;
    if (node_conf_load(cfg, c, err, sizeof(err)) < 0) {
        fprintf(stderr, "mixnode status: %s\n", err);
        goto out;
    }
    if (!c->metrics_listen[0]) {
        fprintf(stderr,
                "mixnode status: %s has no metrics_listen: status reads the node's "
                "/metrics\n",
                cfg);
        goto out;
    }
    snprintf(err, sizeof(err), "%s/identity.key", c->data_dir);
    if (keyfile_read(err, KEYFILE_ED25519_SECRET, sk, err, sizeof(err)) == 0) {
        pki_node_id(sk + 32, nid);
        key_to_b64(nid, 32, id);
    }
    char *m = fetch_metrics(c->metrics_listen, err, sizeof(err));
    printf("node: %s\n", id);
    printf("  roles: %s", roles_text(c->roles, roles, sizeof(roles)));
    if (c->roles & PKI_ROLE_MIX)
        printf(" (layer %u)", c->layer);
    printf("\n  address: %s\n", c->address);
    if (!m) {
        printf("  state: not answering (%s)\n", err);
        rc = 1;
        goto out;
    }
    uptime(sample(m, "mixnode_start_time_seconds"), up, sizeof(up));
    const char *v = strstr(m, "mixnode_build_info{version=\"");
    printf("  running: mixnode %.*s, up %s\n", v ? (int)strcspn(v + 28, "\"") : 1, v ? v + 28 : "?",
           up);
    printf("  epoch: %.0f   document: %s   listed: %s\n", sample(m, "mixnode_epoch"),
           sample(m, "mixnode_document") > 0 ? "yes" : "NO",
           sample(m, "mixnode_listed") > 0 ? "yes" : "NO");
    printf("  links: clients %.0f, nodes in %.0f, nodes out %.0f\n",
           sample(m, "mixnode_links{kind=\"client\"}"),
           sample(m, "mixnode_links{kind=\"node_in\"}"),
           sample(m, "mixnode_links{kind=\"node_out\"}"));
    double pin = family(m, "mixnode_packets_in_total", "source", in, sizeof(in));
    printf("  packets: in %.0f%s%s%s, out %.0f\n", pin, in[0] ? " (" : "", in, in[0] ? ")" : "",
           sample(m, "mixnode_packets_out_total"));
    double nd = family(m, "mixnode_packets_dropped_total", "reason", drops, sizeof(drops));
    printf("  drops: %.0f%s%s%s\n", nd, drops[0] ? " (" : "", drops, drops[0] ? ")" : "");
    printf("  queues: mixing %.0f, crypto work %.0f\n", sample(m, "mixnode_queue_depth"),
           sample(m, "mixnode_work_queue_depth"));
    if (c->roles & PKI_ROLE_PROVIDER)
        printf("  inboxes: %.0f (messages %.0f)\n", sample(m, "mixnode_inboxes"),
               sample(m, "mixnode_inbox_messages"));
    printf("  loops: sent %.0f, returned %.0f\n", sample(m, "mixnode_loops_sent_total"),
           sample(m, "mixnode_loops_returned_total"));
    free(m);
    rc = 0;
out:
    sodium_free(sk);
    free(c);
    return rc;
}
