/*
 * Runs client/bench/e2e_latency.sh (a loopback network of real processes)
 * and passes its figures through: e2e_latency_p50_ms and e2e_latency_p99_ms.
 * `make bench` runs from the repository top; BUILD_ABS is this program's
 * build directory.
 */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    char self[PATH_MAX], build[PATH_MAX];
    (void)argc;
    if (realpath(argv[0], self) == NULL)
        return 1;
    /* self = BUILD_ABS/bench/client_e2e */
    snprintf(build, sizeof(build), "%s", dirname(dirname(self)));
    if (setenv("BUILD_ABS", build, 1) != 0)
        return 1;
    execl("/bin/sh", "sh", "client/bench/e2e_latency.sh", (char *)NULL);
    perror("client_e2e: exec");
    return 1;
}
