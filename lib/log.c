#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

static struct {
    const char *ident;
    enum mix_log_level level;
    bool syslog;
    mix_log_sink_fn sink;
    void *sink_ctx;
} log_state = { "mix", MIX_LOG_INFO, false, NULL, NULL };

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void mix_log_init(const char *ident, enum mix_log_level level, bool use_syslog)
{
    log_state.ident = ident;
    log_state.level = level;
    log_state.syslog = use_syslog;
    if (use_syslog)
        openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
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
    if (log_state.syslog) {
        static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
        syslog(prio[level], "%s", msg);
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
