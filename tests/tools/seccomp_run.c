/*
 * seccomp_run: run a program under a seccomp filter built from a list of
 * allowed system calls, the way systemd applies a unit's SystemCallFilter=
 * (tests/integration/systemd_seccomp.sh computes the list from the unit).
 *
 *   seccomp_run [-e ERRNO] ALLOW_FILE PROGRAM [ARG...]
 *
 * ALLOW_FILE holds system call names separated by white space; names this
 * architecture does not know are skipped.  Any other system call kills the
 * process with SIGSYS (systemd's default), or fails with ERRNO (a number)
 * under -e, as SystemCallErrorNumber= does.  Only the native architecture is
 * allowed (SystemCallArchitectures=native).  The filter is installed with
 * no_new_privs, then PROGRAM is executed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <seccomp.h>

static int add_list(scmp_filter_ctx ctx, const char *path)
{
    char name[128];
    FILE *f = fopen(path, "r");
    int n = 0;
    if (!f) {
        fprintf(stderr, "seccomp_run: %s: %s\n", path, strerror(errno));
        return -1;
    }
    while (fscanf(f, "%127s", name) == 1) {
        int nr = seccomp_syscall_resolve_name(name);
        if (nr == __NR_SCMP_ERROR)
            continue;
        if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) < 0) {
            /* A pseudo-number for another architecture: not an error. */
            continue;
        }
        n++;
    }
    fclose(f);
    if (n == 0) {
        fprintf(stderr, "seccomp_run: %s: no system call allowed\n", path);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    uint32_t deflt = SCMP_ACT_KILL_PROCESS;
    scmp_filter_ctx ctx;
    int i = 1;
    if (argc > 2 && strcmp(argv[1], "-e") == 0) {
        deflt = SCMP_ACT_ERRNO((uint16_t)atoi(argv[2]));
        i = 3;
    }
    if (argc - i < 2) {
        fprintf(stderr, "usage: seccomp_run [-e ERRNO] ALLOW_FILE PROGRAM [ARG...]\n");
        return 2;
    }
    ctx = seccomp_init(deflt);
    if (!ctx) {
        fprintf(stderr, "seccomp_run: seccomp_init failed\n");
        return 2;
    }
    if (add_list(ctx, argv[i]) < 0 || seccomp_load(ctx) < 0) {
        fprintf(stderr, "seccomp_run: cannot install the filter\n");
        seccomp_release(ctx);
        return 2;
    }
    seccomp_release(ctx);
    execv(argv[i + 1], argv + i + 1);
    fprintf(stderr, "seccomp_run: %s: %s\n", argv[i + 1], strerror(errno));
    return 127;
}
