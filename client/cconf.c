/*
 * Client configuration; see cconf.h for the keys.
 */
#include "cconf.h"

#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "keyfile.h"

static int copy_path(char *dst, const char *src, const char *what, char *err, size_t errlen)
{
    if (strlen(src) >= CCONF_PATH_MAX - 32) {
        snprintf(err, errlen, "%s is too long", what);
        return -1;
    }
    strcpy(dst, src);
    return 0;
}

static int load_client(struct conf *cf, struct cconf *o, char *err, size_t errlen)
{
    const char *s = conf_get_str(cf, "client", "data_dir", NULL);
    if (s == NULL || *s == '\0') {
        snprintf(err, errlen, "client.data_dir is required");
        return -1;
    }
    if (copy_path(o->data_dir, s, "client.data_dir", err, errlen) < 0)
        return -1;
    s = conf_get_str(cf, "client", "socket", "");
    if (*s) {
        if (copy_path(o->socket, s, "client.socket", err, errlen) < 0)
            return -1;
    } else {
        cconf_path(o, "mixclient.sock", o->socket);
    }
    s = conf_get_str(cf, "client", "gateway", "");
    if (*s) {
        if (!key_from_b64(s, o->gateway_id, PKI_KEY_LEN)) {
            snprintf(err, errlen, "client.gateway: expected a node id in base64");
            return -1;
        }
        o->have_gateway = true;
    }
    bool sl;
    int lvl = mix_log_parse_level(conf_get_str(cf, "client", "log_level", "info"));
    if (lvl < 0) {
        snprintf(err, errlen, "client.log_level: expected error, warn, info or debug");
        return -1;
    }
    o->log_level = (enum mix_log_level)lvl;
    if (conf_get_bool(cf, "client", "syslog", false, &sl, err, errlen) < 0 ||
        conf_get_duration_us(cf, "client", "fetch_interval", 1000000, &o->fetch_interval_us, err, errlen) < 0 ||
        conf_get_duration_us(cf, "client", "retransmit_slack", 2000000, &o->retransmit_slack_us, err, errlen) < 0 ||
        conf_get_duration_us(cf, "client", "connect_timeout", 10000000, &o->connect_timeout_us, err, errlen) < 0 ||
        conf_get_duration_us(cf, "client", "stats_interval", 60000000, &o->stats_interval_us, err, errlen) < 0 ||
        conf_get_u64(cf, "client", "fetch_max", 0, 0, 256, &o->fetch_max, err, errlen) < 0 ||
        conf_get_u64(cf, "client", "max_attempts", 5, 1, 255, &o->max_attempts, err, errlen) < 0)
        return -1;
    o->use_syslog = sl;
    if (o->fetch_interval_us < 10000)
        o->fetch_interval_us = 10000;
    if (o->connect_timeout_us < 100000)
        o->connect_timeout_us = 100000;
    return 0;
}

static int load_directory(struct conf *cf, struct cconf *o, char *err, size_t errlen)
{
    uint64_t v, ignored;
    size_t n;
    if (authority_read_list(cf, "directory", o->auth, CCONF_MAX_AUTH, &n, err, errlen) < 0)
        return -1;
    o->n_auth = n;
    if (conf_get_u64(cf, "directory", "threshold", n / 2 + 1, 1, n, &v, err, errlen) < 0)
        return -1;
    o->threshold = (size_t)v;
    /* Shared [directory] blocks may carry the node-side timing keys; the client
     * learns epochs from the signed document itself and refreshes once per
     * epoch (client/dir.c), so poll_interval is read only to be checked. */
    if (conf_get_duration_us(cf, "directory", "poll_interval", 30000000, &o->poll_us, err, errlen) < 0 ||
        conf_get_u64(cf, "directory", "genesis", 0, 0, UINT64_MAX, &ignored, err, errlen) < 0 ||
        conf_get_u64(cf, "directory", "epoch_length", 0, 0, UINT64_MAX, &ignored, err, errlen) < 0 ||
        conf_get_u64(cf, "directory", "grace", 0, 0, UINT64_MAX, &ignored, err, errlen) < 0)
        return -1;
    (void)conf_get_str(cf, "directory", "document_file", "");
    return 0;
}

int cconf_load(const char *path, struct cconf *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof(*o));
    struct conf *cf = conf_load(path, err, errlen);
    if (cf == NULL)
        return -1;
    int rc = -1;
    if (load_client(cf, o, err, errlen) < 0 || load_directory(cf, o, err, errlen) < 0)
        goto out;
    if (conf_check_unused(cf, err, errlen) < 0)
        goto out;
    rc = 0;
out:
    conf_free(cf);
    return rc;
}

void cconf_path(const struct cconf *c, const char *name, char out[CCONF_PATH_MAX])
{
    size_t dl = strlen(c->data_dir), nl = strlen(name);
    if (dl + 1 + nl >= CCONF_PATH_MAX) {
        out[0] = '\0';
        return;
    }
    memcpy(out, c->data_dir, dl);
    out[dl] = '/';
    memcpy(out + dl + 1, name, nl + 1);
}
