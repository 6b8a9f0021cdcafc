#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

#include "conf.h"
#include "keyfile.h"
#include "tap.h"

static void test_conf_values(void)
{
    char err[256];
    struct conf *c = conf_parse_string("[node]\nport = 4000\nrate = 2.5\ndebug = yes\nepoch = 20m\n"
                                       "authority = a\nauthority = b\n[other]\nport = 9\n",
                                       err, sizeof err);
    CHECK(c != NULL);
    if (c == NULL)
        return;
    uint64_t u = 0, d = 0;
    double r = 0;
    bool b = false;
    CHECK(conf_get_u64(c, "node", "port", 1, 1, 65535, &u, err, sizeof err) == 0 && u == 4000);
    CHECK(conf_get_u64(c, "node", "missing", 7, 1, 65535, &u, err, sizeof err) == 0 && u == 7);
    CHECK(conf_get_double(c, "node", "rate", 0, 0, 10, &r, err, sizeof err) == 0 && r == 2.5);
    CHECK(conf_get_bool(c, "node", "debug", false, &b, err, sizeof err) == 0 && b);
    CHECK(conf_get_duration_us(c, "node", "epoch", 0, &d, err, sizeof err) == 0 &&
          d == 20ULL * 60 * 1000000);
    CHECK(conf_count(c, "node", "authority") == 2);
    CHECK(strcmp(conf_get_nth(c, "node", "authority", 1), "b") == 0);
    CHECK(conf_get_nth(c, "node", "authority", 2) == NULL);
    /* [other] port was never read: the check must name it. */
    CHECK(conf_check_unused(c, err, sizeof err) == -1 && strstr(err, "[other] port") != NULL);
    CHECK(conf_get_u64(c, "other", "port", 1, 10, 20, &u, err, sizeof err) == -1);
    CHECK(conf_check_unused(c, err, sizeof err) == 0);
    conf_free(c);
    conf_free(NULL);
}

/* Every unknown key first, with its line; then the parser's errors, placed
 * at the line of the key they name; keys a stopped parser did not reach are
 * not unknown when conf_known() lists them. */
static void test_conf_report(void)
{
    char err[1024];
    struct conf *c = conf_parse_string("[a]\nx = 1\ncolour = blue\n\n[b]\ny = 2\nz = 3\n"
                                       "shade = dark\n",
                                       err, sizeof err);
    uint64_t u;
    CHECK(c != NULL);
    if (c == NULL)
        return;
    conf_known(c, "b", "y z");
    CHECK(conf_get_u64(c, "a", "x", 0, 0, 10, &u, err, sizeof err) == 0);
    CHECK(conf_get_u64(c, "b", "y", 0, 0, 1, &u, err, sizeof err) == -1); /* parser stops */
    CHECK(strncmp(err, "config text:6: [b] y = \"2\"", 26) == 0);
    const char *errs[2] = { "", "[b] z must be below y" };
    CHECK(conf_report(c, errs, 2, err, sizeof err) == -1);
    /* The getter's error was kept: reported at its line, once. */
    CHECKF(strcmp(err, "config text:3: unknown setting [a] colour\n"
                       "config text:8: unknown setting [b] shade\n"
                       "config text:6: [b] y = \"2\": expected a whole number from 0 to 1\n"
                       "config text:7: [b] z must be below y") == 0,
           "%s", err);
    conf_free(c);
    /* Nothing wrong: 0 and an empty message. */
    c = conf_parse_string("[a]\nx = 1\n", err, sizeof err);
    CHECK(c != NULL);
    if (c == NULL)
        return;
    errs[1] = NULL;
    CHECK(conf_get_u64(c, "a", "x", 0, 0, 10, &u, err, sizeof err) == 0 && u == 1);
    CHECK(conf_report(c, errs, 2, err, sizeof err) == 0 && err[0] == 0);
    conf_free(c);
}

/* All errors at once: a parser that goes on after an error gets every one
 * reported, unknown keys first, then in the order of their lines whatever
 * order they were found in, those naming no key last, each once; a failed
 * getter leaves its default; conf_check_unused names unknown keys only. */
static void test_conf_all_errors(void)
{
    char err[2048];
    struct conf *c = conf_parse_string("[a]\nx = big\ncolour = red\n[b]\ny = 1\nz = soon\n"
                                       "w = maybe\n",
                                       err, sizeof err);
    CHECK(c != NULL);
    if (c == NULL)
        return;
    uint64_t u = 99, d = 99;
    bool b = true;
    CHECK(conf_get_bool(c, "b", "w", false, &b, err, sizeof err) == -1 && !b);
    CHECK(conf_get_duration_us(c, "b", "z", 5, &d, err, sizeof err) == -1 && d == 5);
    CHECK(conf_get_u64(c, "a", "x", 7, 0, 10, &u, err, sizeof err) == -1 && u == 7);
    CHECK(conf_get_u64(c, "a", "x", 7, 0, 10, &u, err, sizeof err) == -1); /* the same twice */
    CHECK(conf_get_u64(c, "b", "y", 0, 0, 10, &u, err, sizeof err) == 0);
    conf_error(c, "[b] y must be above %d", 3);
    conf_error(c, "a node needs an address");
    CHECK(conf_error_count(c) == 5);
    CHECK(conf_check_unused(c, err, sizeof err) == -1);
    CHECKF(strcmp(err, "config text:3: unknown setting [a] colour") == 0, "%s", err);
    CHECK(conf_report(c, NULL, 0, err, sizeof err) == -1);
    CHECKF(strcmp(err, "config text:3: unknown setting [a] colour\n"
                       "config text:2: [a] x = \"big\": expected a whole number from 0 to 10\n"
                       "config text:5: [b] y must be above 3\n"
                       "config text:6: [b] z = \"soon\": expected a duration such as 500ms, 2s, "
                       "20m or 1h\n"
                       "config text:7: [b] w = \"maybe\": expected yes or no\n"
                       "config text: a node needs an address") == 0,
           "%s", err);
    /* Bounded: at most CONF_MAX_ERRORS are kept. */
    for (int i = 0; i < 2 * CONF_MAX_ERRORS; i++)
        conf_error(c, "error %d", i);
    CHECK(conf_error_count(c) == CONF_MAX_ERRORS);
    conf_free(c);
}

static void test_conf_errors(void)
{
    char err[256];
    struct conf *c =
        conf_parse_string("[a]\nx = 12abc\ny = -3\nz = maybe\nt = 5 parsecs\n", err, sizeof err);
    CHECK(c != NULL);
    if (c == NULL)
        return;
    uint64_t u;
    bool b;
    CHECK(conf_get_u64(c, "a", "x", 0, 0, 100, &u, err, sizeof err) == -1);
    CHECK(strstr(err, "[a] x") != NULL);
    CHECK(conf_get_u64(c, "a", "y", 0, 0, 100, &u, err, sizeof err) == -1);
    CHECK(conf_get_bool(c, "a", "z", false, &b, err, sizeof err) == -1);
    CHECK(conf_get_duration_us(c, "a", "t", 0, &u, err, sizeof err) == -1);
    conf_free(c);
    CHECK(conf_parse_string("[broken\nx=1\n", err, sizeof err) == NULL);
    CHECK(strstr(err, "line 1") != NULL);
    CHECK(conf_load("/nonexistent/x.ini", err, sizeof err) == NULL);
}

static void test_keyfile_roundtrip(void)
{
    char dir[] = "/tmp/mixkeyXXXXXX", path[300], err[256];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/id.key", dir);
    uint8_t pk[32], sk[64], back[64];
    crypto_sign_keypair(pk, sk);
    CHECK(keyfile_write(path, KEYFILE_ED25519_SECRET, sk, false, err, sizeof err) == 0);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK(keyfile_read(path, KEYFILE_ED25519_SECRET, back, err, sizeof err) == 0);
    CHECK_EQ_MEM(sk, back, 64);
    /* Never overwritten by accident. */
    CHECK(keyfile_write(path, KEYFILE_ED25519_SECRET, sk, false, err, sizeof err) == -1);
    /* The wrong type is refused. */
    CHECK(keyfile_read(path, KEYFILE_X25519_SECRET, back, err, sizeof err) == -1);
    /* A secret readable by others is refused. */
    CHECK(chmod(path, 0644) == 0);
    CHECK(keyfile_read(path, KEYFILE_ED25519_SECRET, back, err, sizeof err) == -1);
    CHECK(strstr(err, "chmod 600") != NULL);
    unlink(path);
    /* Missing file: a clear error. */
    CHECK(keyfile_read(path, KEYFILE_ED25519_SECRET, back, err, sizeof err) == -1);
    CHECK(strstr(err, "No such file") != NULL);
    /* Corrupt text. */
    FILE *f = fopen(path, "w");
    fputs("mixnet-key-v1 ed25519-secret\n!!!!\n", f);
    fclose(f);
    chmod(path, 0600);
    CHECK(keyfile_read(path, KEYFILE_ED25519_SECRET, back, err, sizeof err) == -1);
    unlink(path);
    rmdir(dir);
}

static void test_b64(void)
{
    uint8_t k[32], b[32];
    char t[KEY_B64_MAX];
    randombytes_buf(k, sizeof k);
    key_to_b64(k, 32, t);
    CHECK(strlen(t) == 43);
    CHECK(key_from_b64(t, b, 32));
    CHECK_EQ_MEM(k, b, 32);
    CHECK(!key_from_b64(t, b, 31));
    t[10] = '*';
    CHECK(!key_from_b64(t, b, 32));
    CHECK(!key_from_b64("", b, 32));
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    RUN(test_conf_values);
    RUN(test_conf_errors);
    RUN(test_conf_report);
    RUN(test_conf_all_errors);
    RUN(test_keyfile_roundtrip);
    RUN(test_b64);
    return tap_done();
}
