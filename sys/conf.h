/*
 * INI configuration files, parsed with libinih.
 *
 * conf_load() reads every (section, key, value) entry; typed getters look
 * values up and mark them used, so conf_check_unused() can name any key the
 * program did not expect: a typo in a config is an error, not a silent
 * default.  A key may repeat (e.g. several `authority =` lines); use
 * conf_count()/conf_get_nth() for those.
 */
#ifndef MIX_CONF_H
#define MIX_CONF_H

#include "common.h"

struct conf;

/* NULL on error with `err` set (missing file, syntax error with its line). */
struct conf *conf_load(const char *path, char *err, size_t errlen) MIX_WUR;
/* Parse INI text held in memory (tests, embedded defaults). */
struct conf *conf_parse_string(const char *text, char *err, size_t errlen) MIX_WUR;
void conf_free(struct conf *c);

/* The last value of section.key, or `def` if absent. */
const char *conf_get_str(struct conf *c, const char *section, const char *key, const char *def);
size_t conf_count(struct conf *c, const char *section, const char *key);
const char *conf_get_nth(struct conf *c, const char *section, const char *key, size_t n);

/* Typed getters: 0 on success (absent -> def), -1 with `err` naming the key. */
int conf_get_u64(struct conf *c, const char *section, const char *key, uint64_t def, uint64_t min,
                 uint64_t max, uint64_t *out, char *err, size_t errlen) MIX_WUR;
int conf_get_double(struct conf *c, const char *section, const char *key, double def, double min,
                    double max, double *out, char *err, size_t errlen) MIX_WUR;
int conf_get_bool(struct conf *c, const char *section, const char *key, bool def, bool *out,
                  char *err, size_t errlen) MIX_WUR;
/* Durations such as "500ms", "2s", "20m", "1h", or a plain number of seconds, in microseconds. */
int conf_get_duration_us(struct conf *c, const char *section, const char *key, uint64_t def,
                         uint64_t *out, char *err, size_t errlen) MIX_WUR;

/* -1 with `err` naming every entry no getter asked for ("FILE:LINE: unknown
 * setting [section] key", one per line); 0 if all were used. */
int conf_check_unused(struct conf *c, char *err, size_t errlen) MIX_WUR;

/*
 * Keys a program reads in `section` (space-separated).  A parser that stops
 * at an error has not read the keys after it; these are then not taken for
 * unknown ones.  Optional: without it only keys read count as known.
 */
void conf_known(struct conf *c, const char *section, const char *keys);

/*
 * The whole verdict after parsing: every unknown key first, then the kept
 * errors (conf_error and the getters') in the order of their lines, then
 * the parser's errors errs[0..n) not kept already (NULL or "" skipped), each prefixed with
 * "FILE:LINE: " (found from the "[section] key" or "section.key" it names)
 * unless it starts with the file name already; one per line in err.
 * 0 if there is nothing to report, else -1.  Typed getters' messages carry
 * FILE:LINE already.
 */
/*
 * Every error is kept as well as returned: the typed getters' and those given
 * to conf_error() (its line found as conf_report does), up to
 * CONF_MAX_ERRORS, each once.  A parser can thus go on after an error and
 * report them all at once through conf_report().
 */
#define CONF_MAX_ERRORS 64
void conf_error(struct conf *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
size_t conf_error_count(const struct conf *c);

int conf_report(struct conf *c, const char *const *errs, size_t n_errs, char *err,
                size_t errlen) MIX_WUR;

#endif
