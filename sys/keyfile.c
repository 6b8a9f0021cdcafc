#include "keyfile.h"
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

#define KEYFILE_MAGIC "mixnet-key-v1"

static const struct {
    const char *name;
    size_t len;
    bool secret;
} key_types[] = {
    [KEYFILE_ED25519_SECRET] = { "ed25519-secret", crypto_sign_SECRETKEYBYTES, true },
    [KEYFILE_ED25519_PUBLIC] = { "ed25519-public", crypto_sign_PUBLICKEYBYTES, false },
    [KEYFILE_X25519_SECRET] = { "x25519-secret", crypto_scalarmult_SCALARBYTES, true },
    [KEYFILE_X25519_PUBLIC] = { "x25519-public", crypto_scalarmult_BYTES, false },
};

size_t keyfile_key_len(enum keyfile_type type)
{
    return key_types[type].len;
}

const char *keyfile_type_name(enum keyfile_type type)
{
    return key_types[type].name;
}

int keyfile_mkdirs(const char *dir, char *err, size_t errlen)
{
    char p[1024];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof(p)) {
        snprintf(err, errlen, "bad directory name");
        return -1;
    }
    memcpy(p, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char c = p[i];
        p[i] = '\0';
        if (mkdir(p, 0700) < 0 && errno != EEXIST) {
            snprintf(err, errlen, "cannot create %.900s: %s", p, strerror(errno));
            return -1;
        }
        p[i] = c;
    }
    return 0;
}

void key_to_b64(const uint8_t *key, size_t len, char out[static KEY_B64_MAX])
{
    sodium_bin2base64(out, KEY_B64_MAX, key, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

bool key_from_b64(const char *text, uint8_t *key, size_t len)
{
    size_t got = 0;
    const char *end = NULL;
    if (sodium_base642bin(key, len, text, strlen(text), NULL, &got, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        return false;
    return got == len && end != NULL && *end == '\0';
}

int keyfile_write(const char *path, enum keyfile_type type, const uint8_t *key, bool overwrite,
                  char *err, size_t errlen)
{
    /* The text buffer holds key material; it is wiped before returning. */
    char text[sizeof KEYFILE_MAGIC + 32 + KEY_B64_MAX + 4];
    char b64[KEY_B64_MAX];
    int rc = -1, fd = -1;
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (overwrite ? O_TRUNC : O_EXCL);
    mode_t mode = key_types[type].secret ? 0600 : 0644;

    key_to_b64(key, key_types[type].len, b64);
    int n = snprintf(text, sizeof text, "%s %s\n%s\n", KEYFILE_MAGIC, key_types[type].name, b64);
    fd = open(path, flags, mode);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create key file %s: %s", path, strerror(errno));
        goto out;
    }
    if (key_types[type].secret && fchmod(fd, 0600) != 0) {
        snprintf(err, errlen, "cannot set mode 0600 on %s: %s", path, strerror(errno));
        goto out;
    }
    if (fileio_write_all(fd, text, (size_t)n) != 0 || fsync(fd) != 0) {
        snprintf(err, errlen, "cannot write key file %s: %s", path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0 && close(fd) != 0 && rc == 0) {
        snprintf(err, errlen, "cannot close key file %s: %s", path, strerror(errno));
        rc = -1;
    }
    sodium_memzero(text, sizeof text);
    sodium_memzero(b64, sizeof b64);
    return rc;
}

int keyfile_read(const char *path, enum keyfile_type type, uint8_t *key, char *err, size_t errlen)
{
    char text[256];
    int rc = -1;
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open key file %s: %s%s", path, strerror(errno),
                 errno == ENOENT ? " (create keys with the program's keygen command)" : "");
        return -1;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "key file %s is not a regular file", path);
        goto out;
    }
    if (key_types[type].secret && (st.st_mode & 077) != 0) {
        snprintf(err, errlen,
                 "secret key file %s is readable by others (mode %03o); "
                 "run chmod 600 on it",
                 path, (unsigned)(st.st_mode & 0777));
        goto out;
    }
    ssize_t got = read(fd, text, sizeof text - 1);
    if (got <= 0) {
        snprintf(err, errlen, "cannot read key file %s: %s", path,
                 got < 0 ? strerror(errno) : "empty file");
        goto out;
    }
    text[got] = '\0';
    char *nl = strchr(text, '\n');
    char header[96];
    snprintf(header, sizeof header, "%s %s", KEYFILE_MAGIC, key_types[type].name);
    if (nl == NULL || (size_t)(nl - text) != strlen(header) ||
        memcmp(text, header, strlen(header)) != 0) {
        snprintf(err, errlen, "key file %s is not a %s key (expected first line \"%s\")", path,
                 key_types[type].name, header);
        goto out;
    }
    char *b64 = nl + 1;
    b64[strcspn(b64, "\r\n")] = '\0';
    if (!key_from_b64(b64, key, key_types[type].len)) {
        snprintf(err, errlen, "key file %s: malformed key text", path);
        goto out;
    }
    rc = 0;
out:
    close(fd);
    sodium_memzero(text, sizeof text);
    return rc;
}
