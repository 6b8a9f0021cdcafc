/*
 * mixdir: node descriptors: checked, stored, and uploaded by nodes.  See mixdir.h.
 */
#include "mixdir.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "keyfile.h"
#include "log.h"

/* ------------------------------------------------------------ descriptors */

/*
 * The checks for a descriptor we store, shared by uploads and peer sets.
 * Returns NULL if accepted, else the reason (and counts it when count).
 */
const char *check_descriptor(struct mixdir *d, const uint8_t *b, size_t len,
                             struct pki_descriptor *out, bool count)
{
    struct counters *c = &d->ctr;
    enum pki_err e = pki_descriptor_verify(b, len, out);
    uint64_t cur = cur_epoch(d);
    if (e == PKI_ERR_BAD_SIGNATURE) {
        if (count)
            c->rejected_bad_signature++;
        return "bad signature";
    }
    if (e != PKI_OK) {
        if (count)
            c->rejected_malformed++;
        return pki_strerror(e);
    }
    if (!dir_conf_node_allowed(d->cf, out->identity_key)) {
        if (count)
            c->rejected_not_registered++;
        return "node not registered";
    }
    /*
     * A key is bound to one role and layer: the one its `node =` line
     * names, else the one of the descriptor this authority holds for it
     * (the first accepted, until it expires).  A registered mix cannot
     * turn itself into a gateway or move to another layer.
     */
    uint32_t roles, layer;
    const struct dir_desc *held = dir_set_find(&d->descs, out->id);
    bool bound = dir_conf_node_binding(d->cf, out->identity_key, &roles, &layer);
    if (!bound && held != NULL) {
        roles = held->d.roles;
        layer = held->d.layer;
        bound = true;
    }
    if (bound && (out->roles != roles || out->layer != layer)) {
        if (count) {
            c->rejected_role++;
            char id[17];
            hex8(out->id, id);
            log_warn("node %s: descriptor claims roles %u layer %u, bound to roles %u layer %u: "
                     "refused",
                     id, (unsigned)out->roles, (unsigned)out->layer, (unsigned)roles,
                     (unsigned)layer);
        }
        return "role or layer differs from the registered one";
    }
    if (dir_desc_last_epoch(out) < (cur > 0 ? cur : 1)) {
        if (count)
            c->rejected_stale++;
        return "stale: no Sphinx key for the current or a later epoch";
    }
    if (out->sphinx_keys[0].epoch > cur + d->cf->key_ahead_epochs) {
        if (count)
            c->rejected_future++;
        return "Sphinx keys too far in the future";
    }
    return NULL;
}

/* Store into the main set (and on disk).  Returns what dir_set_put said. */
int store_descriptor(struct mixdir *d, const uint8_t *b, size_t len,
                     const struct pki_descriptor *pd)
{
    int r = dir_set_put(&d->descs, b, len, pd, d->cf->max_descriptors);
    if (r == 1) {
        const struct dir_desc *e = dir_set_find(&d->descs, pd->id);
        if (e != NULL && dir_store_save_desc(d->cf->data_dir, e) < 0)
            log_warn("cannot save a descriptor: %s", strerror(errno));
    }
    return r;
}

/* Why a descriptor we accept would still be left out of every document
 * (pki_doc_add's rules against our [network]), or NULL. */
const char *unlistable(const struct mixdir *d, const struct pki_descriptor *pd, char *buf,
                       size_t len)
{
    uint32_t layers = d->cf->params.layers;
    if ((pd->roles & PKI_ROLE_MIX) && (pd->layer == 0 || pd->layer > layers)) {
        snprintf(buf, len, "its layer %u is outside [network] layers = %u", pd->layer, layers);
        return buf;
    }
    return NULL;
}

void handle_upload(struct mixdir *d, struct conn *c, const struct mix_frame *f)
{
    struct pki_descriptor pd;
    const struct frame_buf *b = &f->u.desc_upload.signed_descriptor;
    const char *why = check_descriptor(d, b->ptr, b->len, &pd, true);
    int r = 0;
    if (why == NULL) {
        r = store_descriptor(d, b->ptr, b->len, &pd);
        if (r < 0) {
            d->ctr.rejected_full++;
            why = "descriptor store full";
        }
    }
    struct mix_frame reply;
    memset(&reply, 0, sizeof reply);
    reply.type = FRAME_DESCRIPTOR_UPLOAD_REPLY;
    reply.u.desc_reply.accepted = why == NULL;
    reply.u.desc_reply.reason = why != NULL ? why : (r == 1 ? "stored" : "unchanged");
    if (why == NULL) {
        char id[KEY_B64_MAX];
        key_to_b64(pd.id, PKI_KEY_LEN, id);
        char why_not[128];
        if (r == 1)
            d->ctr.uploads_accepted++;
        else
            d->ctr.uploads_unchanged++;
        if (r == 1 && unlistable(d, &pd, why_not, sizeof why_not) != NULL)
            log_warn("node %s: descriptor accepted but it cannot be listed: %s", id, why_not);
        log_debug("descriptor of node %s %s (keys to epoch %llu)", id,
                  r == 1 ? "stored" : "unchanged", (unsigned long long)dir_desc_last_epoch(&pd));
    } else {
        log_debug("descriptor upload refused: %s", why);
    }
    send_frame(d, c, &reply);
}

void load_descriptor_cb(const uint8_t *b, size_t len, void *arg)
{
    struct mixdir *d = arg;
    struct pki_descriptor pd;
    if (check_descriptor(d, b, len, &pd, false) == NULL)
        (void)store_descriptor(d, b, len, &pd);
}

void expired_cb(const uint8_t id[PKI_KEY_LEN], void *arg)
{
    struct mixdir *d = arg;
    dir_store_remove_desc(d->cf->data_dir, id);
}
