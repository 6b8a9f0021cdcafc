/*
 * mixdir descriptor sets and data directory (see dir_store.h).
 */
#include "dir_store.h"
#include "fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIR_PATH_MAX 1400

void dir_set_init(struct dir_set *s)
{
    memset(s, 0, sizeof *s);
}

void dir_set_clear(struct dir_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].bytes);
    free(s->v);
    memset(s, 0, sizeof *s);
}

uint64_t dir_desc_last_epoch(const struct pki_descriptor *d)
{
    uint64_t e = 0;
    for (size_t i = 0; i < d->n_sphinx_keys; i++)
        if (d->sphinx_keys[i].epoch > e)
            e = d->sphinx_keys[i].epoch;
    return e;
}

bool dir_desc_better(const uint8_t *a_bytes, size_t a_len, const struct pki_descriptor *a,
                     const uint8_t *b_bytes, size_t b_len, const struct pki_descriptor *b)
{
    uint64_t ea = dir_desc_last_epoch(a), eb = dir_desc_last_epoch(b);
    if (ea != eb)
        return ea > eb;
    size_t n = a_len < b_len ? a_len : b_len;
    int c = memcmp(a_bytes, b_bytes, n);
    if (c != 0)
        return c < 0;
    return a_len < b_len;
}

/* Index of id, or where it would go (sets *found). */
static size_t find_pos(const struct dir_set *s, const uint8_t *id, bool *found)
{
    return pki_id_search(s->v, s->n, sizeof s->v[0], offsetof(struct dir_desc, d.id), id, found);
}

const struct dir_desc *dir_set_find(const struct dir_set *s, const uint8_t id[static PKI_KEY_LEN])
{
    bool found;
    size_t i = find_pos(s, id, &found);
    return found ? &s->v[i] : NULL;
}

int dir_set_put(struct dir_set *s, const uint8_t *bytes, size_t len, const struct pki_descriptor *d,
                size_t max)
{
    bool found;
    size_t i = find_pos(s, d->id, &found);
    if (found && !dir_desc_better(bytes, len, d, s->v[i].bytes, s->v[i].len, &s->v[i].d))
        return 0;
    uint8_t *copy = malloc(len ? len : 1);
    if (copy == NULL)
        return -1;
    memcpy(copy, bytes, len);
    if (found) {
        free(s->v[i].bytes);
    } else {
        if (s->n >= max) {
            free(copy);
            return -1;
        }
        if (s->n == s->cap) {
            size_t cap = s->cap ? s->cap * 2 : 16;
            struct dir_desc *v = realloc(s->v, cap * sizeof *v);
            if (v == NULL) {
                free(copy);
                return -1;
            }
            s->v = v;
            s->cap = cap;
        }
        memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof *s->v);
        s->n++;
    }
    s->v[i].bytes = copy;
    s->v[i].len = len;
    s->v[i].d = *d;
    return 1;
}

int dir_set_copy_for_epoch(struct dir_set *dst, const struct dir_set *src, uint64_t epoch)
{
    dir_set_clear(dst);
    for (size_t i = 0; i < src->n; i++) {
        const struct dir_desc *e = &src->v[i];
        if (pki_descriptor_sphinx_key(&e->d, epoch) == NULL)
            continue;
        if (dir_set_put(dst, e->bytes, e->len, &e->d, SIZE_MAX) < 0)
            return -1;
    }
    return 0;
}

void dir_set_expire(struct dir_set *s, uint64_t epoch,
                    void (*cb)(const uint8_t id[PKI_KEY_LEN], void *arg), void *arg)
{
    size_t w = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (dir_desc_last_epoch(&s->v[i].d) >= epoch) {
            s->v[w++] = s->v[i];
            continue;
        }
        if (cb != NULL)
            cb(s->v[i].d.id, arg);
        free(s->v[i].bytes);
    }
    s->n = w;
}

/* ------------------------------------------------------------ files */

static int mkdir_p(const char *path)
{
    if (mkdir(path, 0700) == 0 || errno == EEXIST)
        return 0;
    return -1;
}

int dir_store_init(const char *dir, char *err, size_t errlen)
{
    char p[DIR_PATH_MAX];
    if (mkdir_p(dir) < 0) {
        snprintf(err, errlen, "cannot create data_dir %s: %s", dir, strerror(errno));
        return -1;
    }
    snprintf(p, sizeof p, "%s/descriptors", dir);
    if (mkdir_p(p) < 0) {
        snprintf(err, errlen, "cannot create %s: %s", p, strerror(errno));
        return -1;
    }
    snprintf(p, sizeof p, "%s/documents", dir);
    if (mkdir_p(p) < 0) {
        snprintf(err, errlen, "cannot create %s: %s", p, strerror(errno));
        return -1;
    }
    return 0;
}

/*
 * fsync'd file, rename, fsync'd directory (sys/fileio.h): a document or a
 * descriptor reported stored survives a power cut, not only a crash.
 */
static int write_atomic(const char *path, const uint8_t *b, size_t len)
{
    return fileio_write_atomic(path, b, len, 0600);
}

/* A non-empty file of at most max bytes. */
static int read_file(const char *path, size_t max, uint8_t **out, size_t *len)
{
    if (fileio_read_file(path, max, out, len) != FILEIO_OK)
        return -1;
    if (*len == 0) {
        free(*out);
        return -1;
    }
    return 0;
}

static void desc_path(char *p, size_t cap, const char *dir, const uint8_t id[PKI_KEY_LEN])
{
    char hex[2 * PKI_KEY_LEN + 1];
    for (size_t i = 0; i < PKI_KEY_LEN; i++)
        snprintf(hex + 2 * i, 3, "%02x", id[i]);
    snprintf(p, cap, "%s/descriptors/%s", dir, hex);
}

int dir_store_save_desc(const char *dir, const struct dir_desc *e)
{
    char p[DIR_PATH_MAX];
    desc_path(p, sizeof p, dir, e->d.id);
    return write_atomic(p, e->bytes, e->len);
}

void dir_store_remove_desc(const char *dir, const uint8_t id[static PKI_KEY_LEN])
{
    char p[DIR_PATH_MAX];
    desc_path(p, sizeof p, dir, id);
    (void)unlink(p);
}

size_t dir_store_load_descs(const char *dir,
                            void (*cb)(const uint8_t *bytes, size_t len, void *arg), void *arg)
{
    char p[DIR_PATH_MAX];
    size_t count = 0;
    snprintf(p, sizeof p, "%s/descriptors", dir);
    DIR *d = opendir(p);
    if (d == NULL)
        return 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strlen(de->d_name) != 2 * PKI_KEY_LEN)
            continue; /* ".", "..", leftover *.tmp */
        char f[DIR_PATH_MAX + 80];
        uint8_t *b;
        size_t len;
        snprintf(f, sizeof f, "%s/%s", p, de->d_name);
        if (read_file(f, PKI_MAX_DESCRIPTOR_LEN, &b, &len) < 0)
            continue;
        cb(b, len, arg);
        free(b);
        count++;
    }
    closedir(d);
    return count;
}

int dir_store_save_doc(const char *dir, uint64_t epoch, const uint8_t *b, size_t len)
{
    char p[DIR_PATH_MAX];
    snprintf(p, sizeof p, "%s/documents/%llu", dir, (unsigned long long)epoch);
    return write_atomic(p, b, len);
}

int dir_store_load_doc(const char *dir, uint64_t epoch, uint8_t **out, size_t *len)
{
    char p[DIR_PATH_MAX];
    snprintf(p, sizeof p, "%s/documents/%llu", dir, (unsigned long long)epoch);
    return read_file(p, PKI_MAX_DOCUMENT_LEN, out, len);
}

void dir_store_remove_doc(const char *dir, uint64_t epoch)
{
    char p[DIR_PATH_MAX];
    snprintf(p, sizeof p, "%s/documents/%llu", dir, (unsigned long long)epoch);
    (void)unlink(p);
}
