/*
 * Client configuration; see cconf.h for the keys.
 */
#include "cconf.h"

#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "keyfile.h"

static int copy_path(struct conf *cf, char *dst, const char *src, const char *what)
{
    if (strlen(src) >= CCONF_PATH_MAX - 32) {
        conf_error(cf, "%s is too long", what);
        return -1;
    }
    strcpy(dst, src);
    return 0;
}

/*
 * The loaders go on after an error, so that one run reports every error (each
 * kept in cf by conf_error or the getters, whose value is then the default);
 * they return -1 if there was any.
 */
static int load_client(struct conf *cf, struct cconf *o, char *err, size_t errlen)
{
    int bad = 0;
    const char *s = conf_get_str(cf, "client", "data_dir", NULL);
    if (s == NULL || *s == '\0') {
        conf_error(cf, "client.data_dir is required");
        bad = 1;
    } else {
        bad |= copy_path(cf, o->data_dir, s, "client.data_dir") < 0;
    }
    s = conf_get_str(cf, "client", "socket", "");
    if (*s)
        bad |= copy_path(cf, o->socket, s, "client.socket") < 0;
    else
        cconf_path(o, "mixclient.sock", o->socket);
    s = conf_get_str(cf, "client", "gateway", "");
    if (*s) {
        if (!key_from_b64(s, o->gateway_id, PKI_KEY_LEN)) {
            conf_error(cf, "client.gateway: expected a node id in base64");
            bad = 1;
        } else {
            o->have_gateway = true;
        }
    }
    bool sl;
    int lvl = mix_log_parse_level(conf_get_str(cf, "client", "log_level", "info"));
    if (lvl < 0) {
        conf_error(cf, "client.log_level: expected error, warn, info or debug");
        bad = 1;
    } else {
        o->log_level = (enum mix_log_level)lvl;
    }
    bad |= conf_get_bool(cf, "client", "syslog", false, &sl, err, errlen) < 0;
    bad |= conf_get_duration_us(cf, "client", "fetch_interval", 1000000, &o->fetch_interval_us, err,
                                errlen) < 0;
    bad |= conf_get_duration_us(cf, "client", "retransmit_slack", 2000000, &o->retransmit_slack_us,
                                err, errlen) < 0;
    bad |= conf_get_duration_us(cf, "client", "connect_timeout", 10000000, &o->connect_timeout_us,
                                err, errlen) < 0;
    bad |= conf_get_duration_us(cf, "client", "stats_interval", 60000000, &o->stats_interval_us,
                                err, errlen) < 0;
    bad |= conf_get_u64(cf, "client", "fetch_max", 0, 0, 256, &o->fetch_max, err, errlen) < 0;
    bad |= conf_get_u64(cf, "client", "max_attempts", 5, 1, 255, &o->max_attempts, err, errlen) < 0;
    o->use_syslog = sl;
    if (o->fetch_interval_us < 10000)
        o->fetch_interval_us = 10000;
    if (o->connect_timeout_us < 100000)
        o->connect_timeout_us = 100000;
    return bad ? -1 : 0;
}

static int load_directory(struct conf *cf, struct cconf *o, char *err, size_t errlen)
{
    uint64_t v, ignored;
    size_t n;
    int bad = authority_read_list(cf, "directory", o->auth, CCONF_MAX_AUTH, &n, err, errlen) < 0;
    if (n > 0) {
        o->n_auth = n;
        bad |= conf_get_u64(cf, "directory", "threshold", n / 2 + 1, 1, n, &v, err, errlen) < 0;
        o->threshold = (size_t)v;
    }
    /* Shared [directory] blocks may carry the node-side timing keys; the client
     * learns epochs from the signed document itself and refreshes once per
     * epoch (client/dir.c), so poll_interval is read only to be checked. */
    bad |= conf_get_duration_us(cf, "directory", "poll_interval", 30000000, &o->poll_us, err,
                                errlen) < 0;
    bad |= conf_get_u64(cf, "directory", "genesis", 0, 0, UINT64_MAX, &ignored, err, errlen) < 0;
    bad |=
        conf_get_u64(cf, "directory", "epoch_length", 0, 0, UINT64_MAX, &ignored, err, errlen) < 0;
    bad |= conf_get_u64(cf, "directory", "grace", 0, 0, UINT64_MAX, &ignored, err, errlen) < 0;
    (void)conf_get_str(cf, "directory", "document_file", "");
    return bad ? -1 : 0;
}

int cconf_load(const char *path, struct cconf *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof(*o));
    struct conf *cf = conf_load(path, err, errlen);
    if (cf == NULL)
        return -1;
    /* Both sections are read to their end: one run reports the unknown keys
     * first, then every error, each with FILE:LINE (conf_report). */
    int a = load_client(cf, o, err, errlen);
    int b = load_directory(cf, o, err, errlen);
    int rc = conf_report(cf, NULL, 0, err, errlen);
    if (rc == 0 && (a < 0 || b < 0)) {
        snprintf(err, errlen, "%s: invalid configuration", path);
        rc = -1;
    }
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
