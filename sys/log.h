/*
 * Logging with levels, to stderr or syslog.
 *
 * The sink and level are process-wide: this is the one piece of global state
 * in libmix, because a process has one stderr and one syslog connection.  A
 * program sets them once at start; libmix modules themselves log only at
 * debug level and never with addresses.
 *
 * Privacy rule (docs/design.md): no log line at any level may name a client's
 * network address together with anything about its traffic.  Use
 * mix_log_addr() only in lines that say nothing about packets or messages.
 */
#ifndef MIX_LOG_H
#define MIX_LOG_H

#include "common.h"

enum mix_log_level { MIX_LOG_ERR = 0, MIX_LOG_WARN, MIX_LOG_INFO, MIX_LOG_DEBUG };

/*
 * On stderr, a line is "TIME IDENT[LEVEL] MESSAGE".  When stderr is the
 * systemd journal (JOURNAL_STREAM names it), the line is "<N>IDENT[LEVEL]
 * MESSAGE" instead: N is the syslog priority the journal records, and the
 * journal stamps the time itself.
 */
void mix_log_init(const char *ident, enum mix_log_level level, bool use_syslog);
/* Log to the file at `path` (appended) instead of stderr: stderr is reopened
 * on it.  0, or -1 with err. */
int mix_log_set_file(const char *path, char *err, size_t errlen) MIX_WUR;
/* SIGHUP: reopen the log file (after rotation) or the syslog connection.
 * 0, or -1 with err (the old file stays in use). */
int mix_log_reopen(char *err, size_t errlen) MIX_WUR;
void mix_log_set_level(enum mix_log_level level);
enum mix_log_level mix_log_get_level(void);
/* Parse "error", "warn", "info", "debug"; returns -1 if unknown. */
int mix_log_parse_level(const char *s) MIX_WUR;

void mix_log(enum mix_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * An embedding application's sink (libmixclient's log option): when set,
 * every line that passes the level goes to fn instead of stderr or syslog.
 * NULL restores the default.  mix_log_write() is the default output itself
 * (stderr or syslog, no level check), for a sink that wants it.
 */
typedef void (*mix_log_sink_fn)(void *ctx, enum mix_log_level level, const char *line);
void mix_log_set_sink(mix_log_sink_fn fn, void *ctx);
void mix_log_write(enum mix_log_level level, const char *line);

#define log_err(...) mix_log(MIX_LOG_ERR, __VA_ARGS__)
#define log_warn(...) mix_log(MIX_LOG_WARN, __VA_ARGS__)
#define log_info(...) mix_log(MIX_LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (mix_log_get_level() >= MIX_LOG_DEBUG)                                                  \
            mix_log(MIX_LOG_DEBUG, __VA_ARGS__);                                                   \
    } while (0)

#endif
