/*
 * The shared helpers written once in lib/: file I/O (atomic, durable
 * replace; bounded whole-file read; write_all/read_all), the HOST:PORT
 * parser, the `authority =` list reader and the node-id search.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

#include "authority.h"
#include "conf.h"
#include "fileio.h"
#include "hostport.h"
#include "keyfile.h"
#include "pki.h"
#include "tap.h"

static char dir[] = "/tmp/test_fileio_XXXXXX";

static void test_atomic_write_and_read(void)
{
    char path[300], tmp[310];
    uint8_t *b = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/f", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(fileio_write_atomic(path, "hello", 5, 0600) == 0);
    CHECK(access(tmp, F_OK) != 0);
    CHECK(fileio_read_file(path, 5, &b, &len) == FILEIO_OK && len == 5 &&
          memcmp(b, "hello", 5) == 0);
    free(b);
    b = NULL;
    CHECK(fileio_read_file(path, 4, &b, &len) == FILEIO_ERR_TOO_BIG && b == NULL);
    CHECK(fileio_write_atomic(path, "bye", 3, 0600) == 0); /* replaces */
    CHECK(fileio_read_file(path, 100, &b, &len) == FILEIO_OK && len == 3 &&
          memcmp(b, "bye", 3) == 0);
    free(b);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    /* An empty file reads as an empty, freeable buffer. */
    CHECK(fileio_write_atomic(path, "", 0, 0600) == 0);
    b = NULL;
    CHECK(fileio_read_file(path, 100, &b, &len) == FILEIO_OK && len == 0 && b != NULL);
    free(b);
    CHECK(fileio_read_file(dir, 100, &b, &len) == FILEIO_ERR_IO); /* not a regular file */
    snprintf(path, sizeof path, "%s/missing", dir);
    CHECK(fileio_read_file(path, 100, &b, &len) == FILEIO_ERR_OPEN);
}

static void test_atomic_write_failure_removes_tmp(void)
{
    char path[300], inner[320], tmp[310];
    /* A non-empty directory in the way: the rename fails after path.tmp was written. */
    snprintf(path, sizeof path, "%s/d", dir);
    snprintf(inner, sizeof inner, "%s/x", path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(mkdir(path, 0700) == 0);
    CHECK(fileio_write_atomic(inner, "x", 1, 0600) == 0);
    errno = 0;
    CHECK(fileio_write_atomic(path, "data", 4, 0600) == -1 && errno != 0);
    CHECK(access(tmp, F_OK) != 0);
    CHECK(unlink(inner) == 0 && rmdir(path) == 0);
    snprintf(path, sizeof path, "%s/no/such/dir/f", dir);
    CHECK(fileio_write_atomic(path, "x", 1, 0600) == -1 && errno == ENOENT);
}

static void test_write_read_all(void)
{
    int p[2];
    uint8_t out[3];
    CHECK(pipe(p) == 0);
    CHECK(fileio_write_all(p[1], "abc", 3) == 0);
    close(p[1]);
    CHECK(fileio_read_all(p[0], out, 3) == 0 && memcmp(out, "abc", 3) == 0);
    CHECK(fileio_read_all(p[0], out, 1) == -1); /* EOF before the byte */
    close(p[0]);
}

static void test_hostport(void)
{
    char h[64];
    uint16_t p;
    CHECK(hostport_parse("127.0.0.1:7000", h, sizeof h, &p) && p == 7000 &&
          !strcmp(h, "127.0.0.1"));
    CHECK(hostport_parse("[::1]:9", h, sizeof h, &p) && p == 9 && !strcmp(h, "::1"));
    CHECK(hostport_parse("localhost:0", h, sizeof h, &p) && p == 0);
    CHECK(!hostport_parse("::1:80", h, sizeof h, &p)); /* unbracketed IPv6 */
    CHECK(!hostport_parse("[::1]80", h, sizeof h, &p));
    CHECK(!hostport_parse("h:+80", h, sizeof h, &p));
    CHECK(!hostport_parse("h:80x", h, sizeof h, &p));
    CHECK(!hostport_parse("h:65536", h, sizeof h, &p));
    CHECK(!hostport_parse("a-very-long-host-name:80", h, 8, &p));
}

static void test_authority_list(void)
{
    char text[1024], err[512], k1[KEY_B64_MAX], k2[KEY_B64_MAX];
    uint8_t a[32], b[32];
    struct authority au[4];
    size_t n = 0;
    randombytes_buf(a, 32);
    randombytes_buf(b, 32);
    key_to_b64(a, 32, k1);
    key_to_b64(b, 32, k2);
    snprintf(text, sizeof text,
             "[directory]\nauthority = 127.0.0.1:7000 %s %s\n"
             "authority = [::1]:7001 %s %s\n",
             k1, k2, k2, k1);
    struct conf *cf = conf_parse_string(text, err, sizeof err);
    CHECK(cf != NULL && authority_read_list(cf, "directory", au, 4, &n, err, sizeof err) == 0);
    CHECK(n == 2 && strcmp(au[1].addr, "[::1]:7001") == 0 && memcmp(au[0].sign_pk, a, 32) == 0);
    CHECK(authority_read_list(cf, "directory", au, 1, &n, err, sizeof err) < 0 &&
          strstr(err, "1 to 1"));
    CHECK(authority_read_list(cf, "network", au, 4, &n, err, sizeof err) < 0 &&
          strstr(err, "[network]"));
    conf_free(cf);
    /* The same key twice is refused (it would count twice towards a threshold). */
    snprintf(text, sizeof text, "[directory]\nauthority = h:1 %s %s\nauthority = h:2 %s %s\n", k1,
             k2, k1, k1);
    cf = conf_parse_string(text, err, sizeof err);
    CHECK(cf != NULL && authority_read_list(cf, "directory", au, 4, &n, err, sizeof err) < 0 &&
          strstr(err, "repeats a key"));
    conf_free(cf);
    snprintf(text, sizeof text, "[directory]\nauthority = ::1:7000 %s %s\n", k1, k2);
    cf = conf_parse_string(text, err, sizeof err);
    CHECK(cf != NULL && authority_read_list(cf, "directory", au, 4, &n, err, sizeof err) < 0 &&
          strstr(err, "address"));
    conf_free(cf);
}

struct rec {
    int pad;
    uint8_t id[PKI_KEY_LEN];
};

static void test_id_search(void)
{
    struct rec v[5];
    bool found;
    memset(v, 0, sizeof v);
    for (int i = 0; i < 5; i++)
        v[i].id[0] = (uint8_t)(10 * (i + 1));
    uint8_t id[PKI_KEY_LEN] = { 30 };
    CHECK(pki_id_search(v, 5, sizeof v[0], offsetof(struct rec, id), id, &found) == 2 && found);
    id[0] = 35;
    CHECK(pki_id_search(v, 5, sizeof v[0], offsetof(struct rec, id), id, &found) == 3 && !found);
    id[0] = 1;
    CHECK(pki_id_search(v, 5, sizeof v[0], offsetof(struct rec, id), id, &found) == 0 && !found);
    CHECK(pki_id_search(v, 0, sizeof v[0], offsetof(struct rec, id), id, &found) == 0 && !found);
}

int main(void)
{
    if (sodium_init() < 0 || mkdtemp(dir) == NULL)
        return 1;
    RUN(test_atomic_write_and_read);
    RUN(test_atomic_write_failure_removes_tmp);
    RUN(test_write_read_all);
    RUN(test_hostport);
    RUN(test_authority_list);
    RUN(test_id_search);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return tap_done();
}
