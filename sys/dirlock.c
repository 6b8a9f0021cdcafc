/* Data directory locks (see dirlock.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "dirlock.h"

int mix_dir_lock(const char *dir, const char *prog, char *err, size_t errlen)
{
    char path[1100], buf[32];
    snprintf(path, sizeof(path), "%s/lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %.900s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        ssize_t n = e == EWOULDBLOCK ? pread(fd, buf, sizeof(buf) - 1, 0) : -1;
        long pid = 0;
        if (n > 0) {
            buf[n] = 0;
            pid = strtol(buf, NULL, 10);
        }
        close(fd);
        if (e != EWOULDBLOCK)
            snprintf(err, errlen, "cannot lock %.900s: %s", path, strerror(e));
        else if (pid > 0)
            snprintf(err, errlen,
                     "%.900s is in use by another %s (pid %ld): one process per "
                     "data directory",
                     dir, prog, pid);
        else
            snprintf(err, errlen,
                     "%.900s is in use by another %s: one process per data "
                     "directory",
                     dir, prog);
        return -1;
    }
    int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
        /* The lock holds without the pid; the message just lacks it. */
    }
    return fd;
}
