/* Scheduler hints (see sched_hint.h). */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sched_hint.h"

/* struct sched_attr of sched_setattr(2); glibc 2.36 does not declare it. */
struct mix_sched_attr {
    uint32_t size;
    uint32_t sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime, sched_deadline, sched_period;
    uint32_t sched_util_min, sched_util_max;
};

/* Set once sched_getattr/sched_setattr failed with EPERM or ENOSYS: a
 * seccomp filter (systemd's SystemCallFilter= with SystemCallErrorNumber=)
 * or an old kernel refuses them, and every later call would too. */
static atomic_int denied;

static int set_slice(unsigned slice_us)
{
#ifdef SYS_sched_setattr
    struct mix_sched_attr a;
    if (slice_us != 0 && (slice_us < 100 || slice_us > 100000)) {
        errno = EINVAL;
        return -1;
    }
    if (atomic_load(&denied)) {
        errno = EPERM;
        return -1;
    }
    memset(&a, 0, sizeof(a));
    /* Keep the thread's policy and nice value; change only the slice. */
    if (syscall(SYS_sched_getattr, 0, &a, sizeof(a), 0) != 0) {
        if (errno == EPERM || errno == ENOSYS)
            atomic_store(&denied, 1);
        return -1;
    }
    if (a.sched_policy != 0) { /* not SCHED_OTHER: leave it alone */
        errno = EPERM;
        return -1;
    }
    a.size = sizeof(a);
    a.sched_flags = 0;
    a.sched_runtime = (uint64_t)slice_us * 1000u;
    if (syscall(SYS_sched_setattr, 0, &a, 0) != 0) {
        if (errno == EPERM || errno == ENOSYS)
            atomic_store(&denied, 1);
        return -1;
    }
    return 0;
#else
    (void)slice_us;
    errno = ENOSYS;
    return -1;
#endif
}

int mix_sched_short_slice(unsigned slice_us)
{
    if (slice_us == 0) {
        errno = EINVAL;
        return -1;
    }
    return set_slice(slice_us);
}

int mix_sched_default_slice(void)
{
    /* sched_runtime 0: the kernel's default slice again. */
    return set_slice(0);
}
