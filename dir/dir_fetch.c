/*
 * `mixdir fetch`.  See dir_fetch.h.
 */
#include "dir_fetch.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ev.h>
#include <sodium.h>

#include "authority.h"
#include "conf.h"
#include "conn.h"
#include "dir_conf.h"
#include "dir_exchange.h"
#include "keyfile.h"
#include "link.h"
#include "log.h"
#include "pki.h"
#include "sphinx.h"

static void fetch_usage(FILE *f)
{
    fprintf(f, "usage: mixdir fetch -c FILE [-A HOST:PORT] [-e EPOCH] [-o FILE] [-v]\n"
               "  Fetch the document of EPOCH (default: the current one) from the first\n"
               "  authority of FILE that answers (or only the one at HOST:PORT, which\n"
               "  must be among them), verify it against every authority key\n"
               "  and the threshold of FILE, and print\n"
               "  \"epoch E nodes N signatures S from HOST:PORT\"; -v also prints the geometry\n"
               "  and format and lists the nodes,\n"
               "  -o writes the signed document.  Exit 0 verified, 1 not, 2 usage or no answer.\n"
               "  FILE may be a mixdir configuration ([network]) or a mixnode or mixclient\n"
               "  one ([directory]: its authority lines and threshold).\n");
}

static void print_nodes(const struct pki_doc *d)
{
    for (size_t i = 0; i < pki_doc_node_count(d); i++) {
        const struct pki_descriptor *n = pki_doc_node(d, i);
        char id[KEY_B64_MAX];
        key_to_b64(n->id, PKI_KEY_LEN, id);
        printf("node %s roles%s%s%s layer %u address %s\n", id,
               (n->roles & PKI_ROLE_GATEWAY) ? " gateway" : "",
               (n->roles & PKI_ROLE_MIX) ? " mix" : "",
               (n->roles & PKI_ROLE_PROVIDER) ? " provider" : "", (unsigned)n->layer, n->address);
    }
}

/* Verify one signed document; 0 verified (printed), 1 not. */
static int verify_doc(const struct dir_conf *dc, const uint8_t *doc, size_t len, uint64_t epoch,
                      const char *from, bool verbose)
{
    uint8_t(*keys)[PKI_KEY_LEN] = calloc(dc->n_auth, PKI_KEY_LEN);
    if (keys == NULL)
        return 1;
    for (size_t i = 0; i < dc->n_auth; i++)
        memcpy(keys[i], dc->auth[i].sign_pk, PKI_KEY_LEN);
    struct pki_verify_opts vo = {
        .authorities = (const uint8_t(*)[PKI_KEY_LEN])keys,
        .n_authorities = dc->n_auth,
        .threshold = dc->threshold,
        .now = (uint64_t)time(NULL),
        .want_epoch = epoch,
    };
    struct pki_doc *d = NULL;
    enum pki_err e = pki_verify(doc, len, &vo, &d);
    free(keys);
    if (e != PKI_OK) {
        printf("invalid document from %s: %s\n", from, pki_strerror(e));
        return 1;
    }
    const uint8_t *body;
    size_t body_len, n_sigs = 0;
    struct pki_sig *sigs = NULL;
    if (pki_signed_doc_parse(doc, len, &body, &body_len, &sigs, &n_sigs) != PKI_OK)
        n_sigs = 0;
    free(sigs);
    printf("epoch %llu nodes %zu signatures %zu from %s\n", (unsigned long long)pki_doc_epoch(d),
           pki_doc_node_count(d), n_sigs, from);
    if (verbose) {
        const struct pki_params *p = pki_doc_params(d);
        const char *fmt = sphinx_format_name((enum sphinx_format)p->sphinx_format);
        printf("geometry max_hops %u payload_len %u sphinx_format %s\n", (unsigned)p->max_hops,
               (unsigned)p->payload_len, fmt != NULL ? fmt : "?");
        print_nodes(d);
    }
    pki_doc_free(d);
    return 0;
}

/* Ask each authority in turn; the first answer decides. */
static int fetch_from_any(const struct dir_conf *dc, const char *only, uint64_t epoch,
                          const char *out, bool verbose)
{
    struct mix_frame req = { .type = FRAME_DOCUMENT_REQUEST };
    req.u.doc_req.epoch = epoch;
    size_t len;
    uint8_t *b = frame_encode_alloc(&req, &len, NULL);
    if (b == NULL)
        return 2;
    int rc = 2;
    for (size_t i = 0; i < dc->n_auth && rc == 2; i++) {
        struct mix_frame *ans = NULL;
        const char *addr = dc->auth[i].addr;
        if (only != NULL && strcmp(only, addr) != 0)
            continue;
        if (dir_exchange(addr, dc->auth[i].link_pk, LINK_ROLE_CLIENT, b, len, 10.0, &ans) < 0) {
            fprintf(stderr, "mixdir: no answer from %s\n", addr);
        } else if (ans->type == FRAME_ERROR) {
            printf("%s: error %u: %s\n", addr, ans->u.error.code, ans->u.error.reason);
            rc = 1;
        } else if (ans->type != FRAME_DOCUMENT_RESPONSE) {
            fprintf(stderr, "mixdir: %s answered with a %s frame\n", addr,
                    frame_type_name(ans->type));
        } else {
            const struct frame_buf *sd = &ans->u.doc_resp.signed_document;
            rc = verify_doc(dc, sd->ptr, sd->len, epoch ? epoch : ans->u.doc_resp.epoch, addr,
                            verbose);
            FILE *f = rc == 0 && out ? fopen(out, "wb") : NULL;
            if (rc == 0 && out && (f == NULL || fwrite(sd->ptr, 1, sd->len, f) != sd->len)) {
                perror(out);
                rc = 2;
            }
            if (f != NULL && fclose(f) != 0)
                rc = 2;
        }
        frame_free(ans);
    }
    free(b);
    return rc;
}

/*
 * The authorities and threshold of any of the project's configuration files:
 * mixdir's [network] (the whole file is checked), or the [directory]
 * section of a mixnode or mixclient one (only those keys are read).
 */
static struct dir_conf *load_authorities(const char *path, char *err, size_t errlen)
{
    struct conf *cf = conf_load(path, err, errlen);
    if (cf == NULL)
        return NULL;
    if (conf_count(cf, "network", "authority") > 0) {
        conf_free(cf);
        return dir_conf_load(path, err, errlen);
    }
    struct dir_conf *c = calloc(1, sizeof *c);
    size_t n = 0;
    uint64_t k = 0;
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (authority_read_list(cf, "directory", c->auth, DIR_MAX_AUTHORITIES, &n, err, errlen) < 0)
        goto fail;
    c->n_auth = n;
    if (conf_get_u64(cf, "directory", "threshold", n / 2 + 1, 1, n, &k, err, errlen) < 0)
        goto fail;
    c->threshold = (size_t)k;
    conf_free(cf);
    return c;
fail:
    free(c);
    conf_free(cf);
    return NULL;
}

int dir_fetch_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "epoch", required_argument, NULL, 'e' },
        { "output", required_argument, NULL, 'o' },
        { "verbose", no_argument, NULL, 'v' },
        { "authority", required_argument, NULL, 'A' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *config = NULL, *out = NULL, *only = NULL;
    uint64_t epoch = 0;
    bool verbose = false;
    int ch;
    char *end;
    while ((ch = getopt_long(argc, argv, "c:A:e:o:vh", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': config = optarg; break;
        case 'A': only = optarg; break;
        case 'o': out = optarg; break;
        case 'v': verbose = true; break;
        case 'e':
            epoch = strtoull(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0') {
                fprintf(stderr, "mixdir: -e wants an epoch number\n");
                return 2;
            }
            break;
        case 'h': fetch_usage(stdout); return 0;
        default: fetch_usage(stderr); return 2;
        }
    }
    if (config == NULL || optind != argc) {
        fetch_usage(stderr);
        return 2;
    }
    char err[4096];
    struct dir_conf *dc = load_authorities(config, err, sizeof err);
    if (dc == NULL) {
        fprintf(stderr, "mixdir: %s\n", err);
        return 2;
    }
    int rc = 2;
    bool known = only == NULL;
    for (size_t i = 0; i < dc->n_auth && !known; i++)
        known = strcmp(only, dc->auth[i].addr) == 0;
    if (!known)
        fprintf(stderr, "mixdir: %s is not an authority of %s\n", only, config);
    else
        rc = fetch_from_any(dc, only, epoch, out, verbose);
    dir_conf_free(dc);
    return rc;
}
