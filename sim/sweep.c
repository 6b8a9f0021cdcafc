/*
 * Parameter flags, `mixsim sweep` (a grid run in parallel processes, or
 * printed as one self-contained command per point with --jobs) and
 * `mixsim merge` (join CSV outputs from many runs or hosts).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "report.h"
#include "sim.h"

#define MAX_VARY 8
#define MAX_VALUES 1024

const char *cli_argv0 = "mixsim";

int cli_param_flag(struct sim_params *p, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
        if (*i + 1 >= argc) {
            fprintf(stderr, "mixsim: %s needs a file\n", a);
            return -1;
        }
        (*i)++;
        return sim_params_load_ini(p, argv[*i], stderr) ? 1 : -1;
    }
    if (strncmp(a, "--", 2) != 0)
        return 0;
    char name[64];
    const char *eq = strchr(a + 2, '=');
    size_t n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
    if (n == 0 || n >= sizeof name)
        return 0;
    memcpy(name, a + 2, n);
    name[n] = '\0';
    /* Flags may use dashes for underscores: --mean-delay. */
    for (char *c = name; *c; c++)
        if (*c == '-')
            *c = '_';
    if (sim_param_find(name) == NULL)
        return 0;
    const char *val;
    if (eq != NULL) {
        val = eq + 1;
    } else if (*i + 1 < argc) {
        val = argv[++*i];
    } else {
        fprintf(stderr, "mixsim: --%s needs a value\n", name);
        return -1;
    }
    const char *why;
    if (!sim_param_set(p, name, val, &why)) {
        fprintf(stderr, "mixsim: --%s %s: %s\n", name, val, why);
        return -1;
    }
    return 1;
}

void cli_print_flags(FILE *f, const struct sim_params *p)
{
    char buf[SIM_LIST_LEN + 32];
    for (size_t i = 0; i < sim_param_count; i++) {
        const struct sim_param_desc *d = &sim_param_table[i];
        sim_param_format(p, d, buf, sizeof buf);
        /* Values are numbers, names or comma lists: no quoting needed
         * except for an empty list. */
        fprintf(f, " --%s=%s", d->name, buf[0] ? buf : "''");
    }
}

struct vary {
    const char *name;
    char *vals[MAX_VALUES];
    int n;
};

/* Expand "a,b,c" or "from:to[:step]" into v->vals. */
static bool expand(struct vary *v, const char *list)
{
    double a, b, step = 1;
    char tail;
    int k = sscanf(list, "%lf:%lf:%lf%c", &a, &b, &step, &tail);
    if (strchr(list, ':') != NULL) {
        if (k < 2 || k > 3 || step <= 0 || b < a)
            return false;
        for (double x = a; x <= b + step * 1e-9 && v->n < MAX_VALUES; x += step) {
            char buf[64];
            snprintf(buf, sizeof buf, "%.10g", x);
            if ((v->vals[v->n++] = strdup(buf)) == NULL)
                return false;
        }
        return v->n > 0;
    }
    const char *s = list;
    while (*s && v->n < MAX_VALUES) {
        size_t len = strcspn(s, ",");
        if (len == 0 || (v->vals[v->n] = strndup(s, len)) == NULL)
            return false;
        v->n++;
        s += len;
        if (*s == ',')
            s++;
    }
    return v->n > 0 && *s == '\0';
}

struct sweep {
    struct sim_params base;
    struct vary vary[MAX_VARY];
    int nvary, jobs;
    bool print_jobs;
    const char *out;
};

/* Parameters of grid point idx (first --vary varies slowest). */
static bool point_params(const struct sweep *sw, size_t idx, struct sim_params *p)
{
    *p = sw->base;
    size_t rest = idx;
    for (int k = sw->nvary - 1; k >= 0; k--) {
        const struct vary *v = &sw->vary[k];
        const char *why;
        if (!sim_param_set(p, v->name, v->vals[rest % (size_t)v->n], &why)) {
            fprintf(stderr, "mixsim: sweep %s=%s: %s\n", v->name, v->vals[rest % (size_t)v->n],
                    why);
            return false;
        }
        rest /= (size_t)v->n;
    }
    p->point = (uint32_t)idx;
    p->points = 1;
    for (int k = 0; k < sw->nvary; k++)
        p->points *= (uint32_t)sw->vary[k].n;
    const char *why;
    if (!sim_params_check(p, &why)) {
        fprintf(stderr, "mixsim: sweep point %zu: %s\n", idx, why);
        return false;
    }
    return true;
}

/* Child: run one point (all its seeds) and write its CSV row to fd. */
static int run_point(const struct sim_params *p, int fd)
{
    static struct sim_results r;
    const char *why;
    int rc = sim_run_repeat(p, &r, NULL, NULL, &why);
    if (rc != 0)
        return rc == 2 ? 2 : 1;
    FILE *f = fdopen(fd, "w");
    if (f == NULL)
        return 1;
    report_csv_row(f, p, &r);
    return fclose(f) == 0 ? 0 : 1;
}

struct child {
    pid_t pid;
    int fd;
    size_t idx;
};

static char *read_all(int fd)
{
    size_t len = 0, cap = 4096;
    char *b = malloc(cap);
    while (b != NULL) {
        if (len + 1 == cap) {
            char *nb = realloc(b, cap *= 2);
            if (nb == NULL) {
                free(b);
                return NULL;
            }
            b = nb;
        }
        ssize_t n = read(fd, b + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    if (b != NULL)
        b[len] = '\0';
    close(fd);
    return b;
}

static int start_child(const struct sim_params *p, struct child *c, size_t idx)
{
    int fds[2];
    if (pipe(fds) < 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        _exit(run_point(p, fds[1]));
    }
    close(fds[1]);
    c->pid = pid;
    c->fd = fds[0];
    c->idx = idx;
    return 0;
}

/* Run every point, at most sw->jobs at a time; rows[] gets each CSV row. */
static int run_grid(const struct sweep *sw, size_t npoints, char **rows)
{
    struct child run[64];
    size_t next = 0, done = 0;
    int nrun = 0, failed = 0;
    bool tty = isatty(2);
    while (done < npoints) {
        while (nrun < sw->jobs && next < npoints) {
            struct sim_params p;
            if (!point_params(sw, next, &p) || start_child(&p, &run[nrun], next) < 0)
                return -1;
            nrun++;
            next++;
        }
        /* Read whichever child finishes; its row fits in the pipe buffer. */
        int st;
        pid_t pid = wait(&st);
        if (pid < 0)
            return -1;
        for (int k = 0; k < nrun; k++) {
            if (run[k].pid != pid)
                continue;
            rows[run[k].idx] = read_all(run[k].fd);
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || rows[run[k].idx] == NULL ||
                rows[run[k].idx][0] == '\0') {
                fprintf(stderr, "mixsim: sweep point %zu failed\n", run[k].idx);
                failed++;
            }
            run[k] = run[--nrun];
            done++;
            if (tty)
                fprintf(stderr, "\rmixsim sweep: %zu/%zu points", done, npoints);
            break;
        }
    }
    if (tty)
        fputc('\n', stderr);
    return failed ? -1 : 0;
}

static int parse_sweep(struct sweep *sw, int argc, char **argv)
{
    sim_params_default(&sw->base);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    sw->jobs = ncpu > 0 ? (int)ncpu : 1;
    for (int i = 0; i < argc; i++) {
        int r = cli_param_flag(&sw->base, argc, argv, &i);
        if (r < 0)
            return -1;
        if (r > 0)
            continue;
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(a, "--jobs") == 0) {
            sw->print_jobs = true;
        } else if (val != NULL && strcmp(a, "--vary") == 0) {
            const char *eq = strchr(val, '=');
            if (eq == NULL || sw->nvary == MAX_VARY) {
                fprintf(stderr, "mixsim: --vary PARAM=LIST (at most %d)\n", MAX_VARY);
                return -1;
            }
            struct vary *v = &sw->vary[sw->nvary++];
            v->name = strndup(val, (size_t)(eq - val));
            if (v->name == NULL || sim_param_find(v->name) == NULL || !expand(v, eq + 1)) {
                fprintf(stderr, "mixsim: bad --vary %s\n", val);
                return -1;
            }
            i++;
        } else if (val != NULL && strcmp(a, "-j") == 0) {
            sw->jobs = atoi(val);
            i++;
        } else if (val != NULL && strcmp(a, "-o") == 0) {
            sw->out = val;
            i++;
        } else {
            fprintf(stderr, "mixsim sweep: unknown argument '%s'\n", a);
            return -1;
        }
    }
    if (sw->jobs < 1 || sw->jobs > 64) {
        fprintf(stderr, "mixsim sweep: -j in 1..64\n");
        return -1;
    }
    return 0;
}

int cmd_sweep(int argc, char **argv)
{
    static struct sweep sw;
    if (parse_sweep(&sw, argc, argv) < 0)
        return 2;
    size_t npoints = 1;
    for (int k = 0; k < sw.nvary; k++)
        npoints *= (size_t)sw.vary[k].n;
    if (npoints > 1000000) {
        fprintf(stderr, "mixsim sweep: grid too large (%zu points)\n", npoints);
        return 2;
    }
    /* Check every point before starting any process. */
    for (size_t i = 0; i < npoints; i++) {
        struct sim_params p;
        if (!point_params(&sw, i, &p))
            return 2;
    }
    FILE *out = sw.out ? fopen(sw.out, "w") : stdout;
    if (out == NULL) {
        fprintf(stderr, "mixsim: cannot write %s: %s\n", sw.out, strerror(errno));
        return 1;
    }
    int rc = 0;
    if (sw.print_jobs) {
        for (size_t i = 0; i < npoints && rc == 0; i++) {
            struct sim_params p;
            if (!point_params(&sw, i, &p)) {
                rc = 2;
                break;
            }
            fprintf(out, "%s run --csv --no-progress", cli_argv0);
            cli_print_flags(out, &p);
            fputc('\n', out);
        }
    } else {
        char **rows = calloc(npoints, sizeof *rows);
        if (rows == NULL || run_grid(&sw, npoints, rows) < 0)
            rc = 1;
        if (rows != NULL && rc == 0) {
            report_csv_header(out);
            for (size_t i = 0; i < npoints; i++)
                fputs(rows[i], out);
        }
        for (size_t i = 0; rows != NULL && i < npoints; i++)
            free(rows[i]);
        free(rows);
    }
    if (out != stdout && fclose(out) != 0)
        rc = 1;
    return rc;
}

/* ------------------------------------------------------------ merge */

struct row {
    long point, points;
    size_t order;
    const char *file;
    char *text;
};

static int cmp_row(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    if (x->point != y->point)
        return x->point < y->point ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Index of column `name` in a CSV header line, or -1. */
static int column_of(const char *header, const char *name)
{
    int col = 0;
    size_t n = strlen(name);
    for (const char *s = header; *s;) {
        size_t len = strcspn(s, ",\n");
        if (len == n && strncmp(s, name, n) == 0)
            return col;
        col++;
        s += len;
        if (*s == ',')
            s++;
        else
            break;
    }
    return -1;
}

static long field_long(const char *line, int col)
{
    const char *s = line;
    for (int c = 0; c < col && s; c++) {
        s = strchr(s, ',');
        if (s)
            s++;
    }
    return s ? strtol(s, NULL, 10) : 0;
}

static int count_fields(const char *line)
{
    int n = 1;
    for (; *line && *line != '\n'; line++)
        n += *line == ',';
    return n;
}

struct merge {
    char *header;
    int pcol, ncol, nf;
    bool allow_dup, allow_missing;
    struct row *rows;
    size_t nrows, rcap;
};

/* Add one data line; false if it does not fit the header or memory ran out. */
static bool merge_add(struct merge *mg, const char *line, const char *file)
{
    if (count_fields(line) != mg->nf || !(line[0] >= '0' && line[0] <= '9'))
        return false;
    if (mg->nrows == mg->rcap) {
        size_t nc = mg->rcap ? mg->rcap * 2 : 256;
        struct row *nr = realloc(mg->rows, nc * sizeof *nr);
        if (nr == NULL)
            return false;
        mg->rows = nr;
        mg->rcap = nc;
    }
    char *text = strdup(line);
    if (text == NULL)
        return false;
    mg->rows[mg->nrows] =
        (struct row){ mg->pcol >= 0 ? field_long(line, mg->pcol) : 0,
                      mg->ncol >= 0 ? field_long(line, mg->ncol) : 0, mg->nrows, file, text };
    mg->nrows++;
    return true;
}

/* Read one CSV (or "-"): the first header seen is kept, repeats skipped. */
static int merge_file(struct merge *mg, const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "mixsim merge: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = 0;
    while (rc == 0 && (len = getline(&line, &cap, f)) > 0) {
        if (line[len - 1] != '\n') {
            fprintf(stderr, "mixsim merge: %s: truncated last line\n", path);
            rc = -1;
        } else if (line[0] == '\n' || (mg->header && strcmp(line, mg->header) == 0)) {
            continue; /* blank, or one header per job output */
        } else if (mg->header == NULL) {
            mg->header = strdup(line);
            mg->pcol = mg->header ? column_of(mg->header, "point") : -1;
            mg->ncol = mg->header ? column_of(mg->header, "points") : -1;
            mg->nf = mg->header ? count_fields(mg->header) : 0;
            rc = mg->header ? 0 : -1;
        } else if (!merge_add(mg, line, path)) {
            fprintf(stderr, "mixsim merge: %s: row does not match the header\n", path);
            rc = -1;
        }
    }
    free(line);
    if (f != stdin)
        fclose(f);
    return rc;
}

/*
 * The rows, sorted by point, must be the grid: each point 0..points-1 once
 * (points from the `points` column a sweep writes; without it, 0..the
 * largest point seen).  A duplicate is usually a job run twice or a file
 * given twice, a gap a job that failed: either would silently bias a
 * chart, so both are errors unless allowed.  Prints every problem.
 */
static bool merge_check(const struct merge *mg)
{
    long want = 0;
    int bad = 0;
    for (size_t i = 0; i < mg->nrows; i++) {
        long pts = mg->rows[i].points;
        if (pts > want)
            want = pts;
        if (pts != mg->rows[0].points) {
            fprintf(stderr, "mixsim merge: rows from grids of %ld and %ld points\n",
                    mg->rows[0].points, pts);
            return false;
        }
    }
    if (want == 0 && mg->nrows > 0)
        want = mg->rows[mg->nrows - 1].point + 1;
    long next = 0;
    for (size_t i = 0; i < mg->nrows; i++) {
        const struct row *r = &mg->rows[i];
        if (i > 0 && r->point == mg->rows[i - 1].point && !mg->allow_dup && bad++ < 20)
            fprintf(stderr, "mixsim merge: point %ld twice (%s and %s)\n", r->point,
                    mg->rows[i - 1].file, r->file);
        if (r->point < 0 || r->point >= want) {
            if (bad++ < 20)
                fprintf(stderr, "mixsim merge: point %ld outside the grid 0..%ld\n", r->point,
                        want - 1);
            continue;
        }
        for (; next < r->point; next++)
            if (!mg->allow_missing && bad++ < 20)
                fprintf(stderr, "mixsim merge: point %ld missing\n", next);
        next = r->point + 1;
    }
    for (; next < want; next++)
        if (!mg->allow_missing && bad++ < 20)
            fprintf(stderr, "mixsim merge: point %ld missing\n", next);
    if (bad > 0)
        fprintf(stderr,
                "mixsim merge: %d problem(s); --allow-duplicates and --allow-missing "
                "merge anyway\n",
                bad);
    return bad == 0;
}

int cmd_merge(int argc, char **argv)
{
    struct merge mg = { .pcol = -1, .ncol = -1 };
    const char *outname = NULL;
    int rc = 0;
    for (int i = 0; i < argc && rc == 0; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: mixsim merge [--allow-duplicates] [--allow-missing] FILE.csv ... "
                   "[-o OUT.csv]\n"
                   "  join the CSV outputs of sweep jobs (-o FILE, - for standard output)\n");
            return 0;
        }
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
            outname = argv[++i];
        else if (strcmp(argv[i], "--allow-duplicates") == 0)
            mg.allow_dup = true;
        else if (strcmp(argv[i], "--allow-missing") == 0)
            mg.allow_missing = true;
        else if (merge_file(&mg, argv[i]) < 0)
            rc = 1;
    }
    if (rc == 0 && mg.header == NULL) {
        fprintf(stderr, "mixsim merge: no input\n");
        rc = 1;
    }
    if (rc == 0) {
        qsort(mg.rows, mg.nrows, sizeof *mg.rows, cmp_row);
        if (!merge_check(&mg))
            rc = 1;
    }
    FILE *out = rc == 0 && outname ? fopen(outname, "w") : stdout;
    if (rc == 0 && out != NULL) {
        fputs(mg.header, out);
        for (size_t i = 0; i < mg.nrows; i++)
            fputs(mg.rows[i].text, out);
        if (out != stdout && fclose(out) != 0)
            rc = 1;
    } else if (rc == 0) {
        fprintf(stderr, "mixsim merge: cannot write %s: %s\n", outname, strerror(errno));
        rc = 1;
    }
    for (size_t i = 0; i < mg.nrows; i++)
        free(mg.rows[i].text);
    free(mg.rows);
    free(mg.header);
    return rc;
}
