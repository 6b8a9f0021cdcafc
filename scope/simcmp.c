/* mixsim's figure beside mixscope's; see simcmp.h. */
#include "simcmp.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "plot.h"

const char *const simcmp_names[SIMCMP_FIELDS] = {
    "measured",    "h_msg_mean",  "h_msg_se",       "h_msg_median",
    "h_msg_p5",    "h_msg_p25",   "hmin_msg_mean",  "hmin_msg_median",
    "hmin_msg_p5", "h_rcpt_mean", "h_rcpt_se",      "h_rcpt_median",
    "h_rcpt_p5",   "h_rcpt_p25",  "hmin_rcpt_mean", "mean_delay_eff",
};

#define SIMCMP_MAX_OUT (1 << 20)

/* The n-th comma-separated field of line (no quoting: mixsim's names and numbers need none). */
static bool field(const char *line, const char *end, size_t n, const char **f, size_t *flen)
{
    const char *p = line;
    for (size_t i = 0; i < n; i++) {
        p = memchr(p, ',', (size_t)(end - p));
        if (p == NULL)
            return false;
        p++;
    }
    const char *q = memchr(p, ',', (size_t)(end - p));
    *f = p;
    *flen = (size_t)((q ? q : end) - p);
    return true;
}

bool simcmp_parse(const char *csv, size_t len, struct simcmp *out)
{
    for (size_t i = 0; i < SIMCMP_FIELDS; i++)
        out->v[i] = NAN;
    const char *end = csv + len, *nl = memchr(csv, '\n', len);
    if (nl == NULL)
        return false;
    const char *row = nl + 1, *rend = memchr(row, '\n', (size_t)(end - row));
    if (rend == NULL)
        rend = end;
    if (rend == row)
        return false;
    size_t found = 0;
    for (size_t col = 0;; col++) {
        const char *h, *v;
        size_t hl, vl;
        if (!field(csv, nl, col, &h, &hl))
            break;
        if (!field(row, rend, col, &v, &vl))
            return false;
        for (size_t i = 0; i < SIMCMP_FIELDS; i++) {
            if (strlen(simcmp_names[i]) != hl || memcmp(simcmp_names[i], h, hl) != 0)
                continue;
            char num[64];
            if (vl == 0 || vl >= sizeof(num))
                break;
            memcpy(num, v, vl);
            num[vl] = 0;
            char *e;
            double x = strtod(num, &e);
            if (*e == 0) {
                out->v[i] = x;
                found++;
            }
        }
    }
    return found > 0;
}

int simcmp_run(const struct scope *s, const char *path, struct simcmp *out, char *err,
               size_t errlen)
{
    char args[2048];
    char *argv[64];
    size_t argc = 0;
    if (scope_mixsim_args(s, args, sizeof(args)) != 0) {
        snprintf(err, errlen, "the capture shows no mix or no client: no configuration to run");
        return -1;
    }
    argv[argc++] = (char *)path;
    for (char *sv = NULL, *t = strtok_r(args, "\n", &sv); t && argc < 60;
         t = strtok_r(NULL, "\n", &sv))
        argv[argc++] = t;
    argv[argc++] = (char *)"--csv";
    argv[argc++] = (char *)"--no-progress";
    argv[argc] = NULL;
    int fd[2];
    if (pipe(fd) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        close(fd[0]);
        close(fd[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(fd[1], STDOUT_FILENO);
        close(fd[0]);
        close(fd[1]);
        execv(path, argv);
        _exit(127);
    }
    close(fd[1]);
    char *buf = malloc(SIMCMP_MAX_OUT);
    size_t n = 0;
    ssize_t r = 0;
    while (buf != NULL && n < SIMCMP_MAX_OUT &&
           ((r = read(fd[0], buf + n, SIMCMP_MAX_OUT - n)) > 0 || (r < 0 && errno == EINTR)))
        if (r > 0)
            n += (size_t)r;
    close(fd[0]);
    int st = 0;
    if (buf == NULL || n == SIMCMP_MAX_OUT)
        kill(pid, SIGTERM);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    int rc = 0;
    if (buf == NULL) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
    } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        snprintf(err, errlen, "%s exited %s %d", path, WIFEXITED(st) ? "with" : "by signal",
                 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        rc = -1;
    } else if (!simcmp_parse(buf, n, out)) {
        snprintf(err, errlen, "%s printed no CSV row", path);
        rc = -1;
    }
    free(buf);
    return rc;
}
