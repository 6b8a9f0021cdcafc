#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static struct {
    const char *ident;
    enum mix_log_level level;
    bool syslog;
    bool journal;    /* stderr is the journal: "<N>" prefixes, no time */
    char path[1024]; /* log file, "" = stderr as inherited */
    mix_log_sink_fn sink;
    void *sink_ctx;
} log_state = { "mix", MIX_LOG_INFO, false, false, "", NULL, NULL };

/* systemd sets JOURNAL_STREAM=DEV:INODE of the stream it connected. */
static bool stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) != 0)
        return false;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void mix_log_init(const char *ident, enum mix_log_level level, bool use_syslog)
{
    log_state.ident = ident;
    log_state.level = level;
    log_state.syslog = use_syslog;
    log_state.journal = stderr_is_journal();
    if (use_syslog)
        openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

int mix_log_set_file(const char *path, char *err, size_t errlen)
{
    if (strlen(path) >= sizeof(log_state.path)) {
        snprintf(err, errlen, "log file name too long");
        return -1;
    }
    if (!freopen(path, "a", stderr)) {
        snprintf(err, errlen, "cannot open the log file %.900s: %s", path, strerror(errno));
        return -1;
    }
    setvbuf(stderr, NULL, _IOLBF, 0);
    snprintf(log_state.path, sizeof(log_state.path), "%s", path);
    log_state.journal = false;
    return 0;
}

int mix_log_reopen(char *err, size_t errlen)
{
    if (log_state.syslog) {
        closelog();
        openlog(log_state.ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
    }
    if (!log_state.path[0])
        return 0;
    /* Open first: if that fails, the old file stays in use. */
    FILE *f = fopen(log_state.path, "a");
    if (!f) {
        snprintf(err, errlen, "cannot reopen the log file %.900s: %s", log_state.path,
                 strerror(errno));
        return -1;
    }
    fclose(f);
    if (!freopen(log_state.path, "a", stderr)) {
        snprintf(err, errlen, "cannot reopen the log file %.900s: %s", log_state.path,
                 strerror(errno));
        return -1;
    }
    setvbuf(stderr, NULL, _IOLBF, 0);
    return 0;
}

void mix_log_set_level(enum mix_log_level level)
{
    log_state.level = level;
}

enum mix_log_level mix_log_get_level(void)
{
    return log_state.level;
}

int mix_log_parse_level(const char *s)
{
    for (size_t i = 0; i < MIX_ARRAY_LEN(level_names); i++)
        if (strcmp(s, level_names[i]) == 0)
            return (int)i;
    if (strcmp(s, "warning") == 0)
        return MIX_LOG_WARN;
    if (strcmp(s, "err") == 0)
        return MIX_LOG_ERR;
    return -1;
}

void mix_log(enum mix_log_level level, const char *fmt, ...)
{
    if (level > log_state.level)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (log_state.sink != NULL) {
        log_state.sink(log_state.sink_ctx, level, msg);
        return;
    }
    mix_log_write(level, msg);
}

void mix_log_set_sink(mix_log_sink_fn fn, void *ctx)
{
    log_state.sink = fn;
    log_state.sink_ctx = ctx;
}

void mix_log_write(enum mix_log_level level, const char *msg)
{
    static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
    if (log_state.syslog) {
        syslog(prio[level], "%s", msg);
        return;
    }
    if (log_state.journal) {
        fprintf(stderr, "<%d>%s[%s] %s\n", prio[level], log_state.ident, level_names[level], msg);
        return;
    }
    struct timespec ts;
    struct tm tm;
    char when[32];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(stderr, "%s %s[%s] %s\n", when, log_state.ident, level_names[level], msg);
}
