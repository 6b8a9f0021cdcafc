/* mixdir's metrics endpoint (see dir_metrics.h). */
#include "dir_metrics.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostport.h"

struct dir_metrics {
    struct MHD_Daemon *d;
    pthread_mutex_t mu;
    char *text;
    size_t len;
    bool healthy;
};

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *data_len, void **state)
{
    struct dir_metrics *m = cls;
    struct MHD_Response *r;
    enum MHD_Result ret;
    unsigned code = MHD_HTTP_OK;
    (void)version;
    (void)data;
    (void)data_len;
    (void)state;
    pthread_mutex_lock(&m->mu);
    if (strcmp(method, "GET") == 0 && strcmp(url, "/metrics") == 0 && m->text) {
        r = MHD_create_response_from_buffer(m->len, m->text, MHD_RESPMEM_MUST_COPY);
        if (r)
            MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    } else if (strcmp(method, "GET") == 0 && strcmp(url, "/health") == 0) {
        const char *t = m->healthy ? "ok\n" : "no published document for the current epoch\n";
        code = m->healthy ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
        r = MHD_create_response_from_buffer(strlen(t), (void *)t, MHD_RESPMEM_PERSISTENT);
    } else {
        static const char nf[] = "not found\n";
        code = MHD_HTTP_NOT_FOUND;
        r = MHD_create_response_from_buffer(sizeof(nf) - 1, (void *)nf, MHD_RESPMEM_PERSISTENT);
    }
    pthread_mutex_unlock(&m->mu);
    if (!r)
        return MHD_NO;
    ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

struct dir_metrics *dir_metrics_start(const char *hostport, char *err, size_t errlen)
{
    char host[256];
    uint16_t port;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    if (!hostport_parse(hostport, host, sizeof(host), &port) ||
        inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        snprintf(err, errlen, "metrics_listen \"%s\": a numeric IPv4 HOST:PORT", hostport);
        return NULL;
    }
    sa.sin_port = htons(port);
    struct dir_metrics *m = calloc(1, sizeof(*m));
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&m->mu, NULL);
    m->d =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, port, NULL, NULL, on_request, m,
                         MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT,
                         (unsigned)16, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
    if (!m->d) {
        snprintf(err, errlen, "metrics: cannot listen on %s", hostport);
        pthread_mutex_destroy(&m->mu);
        free(m);
        return NULL;
    }
    return m;
}

void dir_metrics_set(struct dir_metrics *m, const char *text, size_t len, bool healthy)
{
    char *copy = malloc(len + 1);
    if (!copy)
        return;
    memcpy(copy, text, len);
    copy[len] = 0;
    pthread_mutex_lock(&m->mu);
    free(m->text);
    m->text = copy;
    m->len = len;
    m->healthy = healthy;
    pthread_mutex_unlock(&m->mu);
}

void dir_metrics_stop(struct dir_metrics *m)
{
    if (!m)
        return;
    MHD_stop_daemon(m->d);
    pthread_mutex_destroy(&m->mu);
    free(m->text);
    free(m);
}
