/*
 * sys/log: stderr lines carry "<N>" syslog priorities when stderr is the
 * journal (JOURNAL_STREAM names it) and a time stamp otherwise; a log file
 * is reopened by mix_log_reopen() after it was renamed (log rotation).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "tap.h"

static char *slurp(const char *path)
{
    static char buf[4096];
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = 0;
    return buf;
}

static void test_journal_and_file(void)
{
    char dir[] = "/tmp/test_log.XXXXXX", path[128], rotated[140], js[64], err[256];
    struct stat st;
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/log", dir);
    snprintf(rotated, sizeof(rotated), "%s/log.1", dir);

    /* A file: time-stamped lines. */
    CHECKF(mix_log_set_file(path, err, sizeof(err)) == 0, "%s", err);
    mix_log_init("t", MIX_LOG_INFO, false);
    log_warn("first %d", 1);
    log_debug("not shown");
    CHECK(strstr(slurp(path), "t[warn] first 1\n") != NULL);
    CHECK(strncmp(slurp(path), "20", 2) == 0);
    CHECK(strstr(slurp(path), "not shown") == NULL);

    /* Rotation: rename, reopen, the next line lands in a new file. */
    CHECK(rename(path, rotated) == 0);
    CHECKF(mix_log_reopen(err, sizeof(err)) == 0, "%s", err);
    log_info("second");
    CHECK(strstr(slurp(path), "t[info] second\n") != NULL);
    CHECK(strstr(slurp(rotated), "second") == NULL);

    /* The journal: JOURNAL_STREAM is stderr's device and inode. */
    CHECK(fstat(2, &st) == 0);
    snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    setenv("JOURNAL_STREAM", js, 1);
    mix_log_init("t", MIX_LOG_INFO, false);
    log_err("third");
    log_info("fourth");
    CHECK(strstr(slurp(path), "<3>t[error] third\n") != NULL);
    CHECK(strstr(slurp(path), "<6>t[info] fourth\n") != NULL);
    setenv("JOURNAL_STREAM", "1:2", 1);
    mix_log_init("t", MIX_LOG_INFO, false);
    log_info("fifth");
    CHECK(strstr(slurp(path), "<6>t[info] fifth") == NULL && strstr(slurp(path), "fifth"));
    unlink(path);
    unlink(rotated);
    rmdir(dir);
}

int main(void)
{
    RUN(test_journal_and_file);
    return tap_done();
}
