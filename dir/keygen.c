/*
 * mixdir: `mixdir keygen` and `mixdir pubkey`: key files and the `authority =`
 * line.  See mixdir.h.
 */
#include "mixdir.h"

#include <getopt.h>
#include <stdio.h>
#include <unistd.h>

#include <sodium.h>

#include "hostport.h"
#include "keyfile.h"

/* ------------------------------------------------------------ keygen and pubkey */

static int keygen(const char *dir, const char *addr)
{
    char path[1200], err[256], ed[KEY_B64_MAX], x[KEY_B64_MAX];
    uint8_t *sk = sodium_malloc(crypto_sign_SECRETKEYBYTES), pk[crypto_sign_PUBLICKEYBYTES];
    uint8_t *xsk = sodium_malloc(32), xpk[32];
    int rc = 1;
    if (sk == NULL || xsk == NULL)
        goto out;
    if (keyfile_mkdirs(dir, err, sizeof err) < 0) {
        fprintf(stderr, "mixdir: %s\n", err);
        goto out;
    }
    crypto_sign_keypair(pk, sk);
    crypto_box_keypair(xpk, xsk);
    snprintf(path, sizeof path, "%s/identity.key", dir);
    if (keyfile_write(path, KEYFILE_ED25519_SECRET, sk, false, err, sizeof err) < 0) {
        fprintf(stderr, "mixdir: %s\n", err);
        goto out;
    }
    snprintf(path, sizeof path, "%s/link.key", dir);
    if (keyfile_write(path, KEYFILE_X25519_SECRET, xsk, false, err, sizeof err) < 0) {
        fprintf(stderr, "mixdir: %s\n", err);
        goto out;
    }
    key_to_b64(pk, sizeof pk, ed);
    key_to_b64(xpk, sizeof xpk, x);
    printf("authority = %s %s %s\n", addr ? addr : "HOST:PORT", ed, x);
    rc = 0;
out:
    sodium_free(sk);
    sodium_free(xsk);
    return rc;
}

/* The authority line of the keys in dir (identity.key, link.key). */
static int pubkey_dir(const char *dir, const char *addr)
{
    char path[1200], err[1300], ed[KEY_B64_MAX], x[KEY_B64_MAX];
    uint8_t *sk = sodium_malloc(crypto_sign_SECRETKEYBYTES + 32), xpk[32];
    int rc = 1;
    if (sk == NULL)
        return 1;
    snprintf(path, sizeof path, "%s/identity.key", dir);
    if (keyfile_read(path, KEYFILE_ED25519_SECRET, sk, err, sizeof err) < 0)
        goto out;
    snprintf(path, sizeof path, "%s/link.key", dir);
    if (keyfile_read(path, KEYFILE_X25519_SECRET, sk + crypto_sign_SECRETKEYBYTES, err,
                     sizeof err) < 0)
        goto out;
    crypto_scalarmult_base(xpk, sk + crypto_sign_SECRETKEYBYTES);
    key_to_b64(sk + 32, PKI_KEY_LEN, ed);
    key_to_b64(xpk, sizeof xpk, x);
    printf("authority = %s %s %s\n", addr ? addr : "HOST:PORT", ed, x);
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "mixdir: %s\n", err);
    sodium_free(sk);
    return rc;
}

/* pubkey (fingerprint) -d DIR [-a HOST:PORT] | -c FILE: with a configuration,
 * its own `authority =` line, exactly as the others must list it. */
int pubkey_main(int argc, char **argv)
{
    const char *dir = NULL, *addr = NULL, *config = NULL;
    int ch;
    optind = 1;
    while ((ch = getopt(argc, argv, "d:a:c:h")) != -1) {
        switch (ch) {
        case 'd': dir = optarg; break;
        case 'a': addr = optarg; break;
        case 'c': config = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if ((dir == NULL) == (config == NULL) || optind != argc) {
        usage(stderr);
        return 2;
    }
    if (dir != NULL)
        return pubkey_dir(dir, addr);
    char err[4096], ed[KEY_B64_MAX], x[KEY_B64_MAX];
    struct mixdir *d = mixdir_new(config, err, sizeof err);
    if (d == NULL) {
        fprintf(stderr, "mixdir: %s\n", err);
        return 1;
    }
    const struct authority *a = &d->cf->auth[d->self];
    key_to_b64(a->sign_pk, PKI_KEY_LEN, ed);
    key_to_b64(a->link_pk, PKI_KEY_LEN, x);
    printf("authority = %s %s %s\n", a->addr, ed, x);
    mixdir_free(d);
    return 0;
}

int keygen_main(int argc, char **argv)
{
    const char *dir = NULL, *addr = NULL;
    int ch;
    optind = 1;
    while ((ch = getopt(argc, argv, "d:a:h")) != -1) {
        switch (ch) {
        case 'd': dir = optarg; break;
        case 'a': addr = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (dir == NULL || optind != argc) {
        usage(stderr);
        return 2;
    }
    char host[PKI_ADDR_MAX + 1];
    uint16_t port;
    if (addr != NULL && !hostport_parse(addr, host, sizeof host, &port)) {
        fprintf(stderr, "mixdir: bad address \"%s\" (want HOST:PORT)\n", addr);
        return 2;
    }
    return keygen(dir, addr);
}
