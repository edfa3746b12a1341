/* Opening a userfaultfd and registering ranges with it. */
#include "migrate/uffd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/trace.h"

static int uffd_create(bool *user_mode_only, tern_err *err)
{
    *user_mode_only = false;
#ifdef SYS_userfaultfd
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (fd >= 0)
        return fd;
    int first = errno;
    if (first == EPERM) {
        /* vm.unprivileged_userfaultfd=0: the device grants the same to
         * whoever may open it. */
        int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
        if (dev >= 0) {
            fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
            close(dev);
            if (fd >= 0)
                return fd;
        }
        /* Always allowed, but the kernel's own accesses (a system call
         * reading into the range) then fail instead of waiting. */
        fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
        *user_mode_only = fd >= 0;
        if (fd >= 0)
            return fd;
    }
    tn_trace(TERN_TRACE_MIGRATE, "userfaultfd: %s", strerror(first));
    /* Not allowed or not built into the kernel: unusable here. Running
     * out of descriptors or memory is another matter. */
    *err = first == EPERM || first == ENOSYS || first == EINVAL ? TERN_ENOTSUP
                                                                : tern_err_from_errno(first);
    return -1;
#else
    tn_trace(TERN_TRACE_MIGRATE, "userfaultfd: not built for this platform");
    *err = TERN_ENOTSUP;
    return -1;
#endif
}

int tn_uffd_open(uint64_t features, uint64_t *got_features, tern_err *err)
{
    /* UFFDIO_API succeeds once per descriptor and fails outright on a
     * feature the kernel lacks, so a first descriptor asks what exists. */
    bool user_mode_only;
    int probe = uffd_create(&user_mode_only, err);
    if (probe < 0)
        return -1;
    struct uffdio_api api = {.api = UFFD_API, .features = 0};
    int rc = ioctl(probe, UFFDIO_API, &api);
    int e = errno;
    close(probe);
    if (rc != 0) {
        tn_trace(TERN_TRACE_MIGRATE, "userfaultfd: UFFDIO_API: %s", strerror(e));
        *err = TERN_ENOTSUP;
        return -1;
    }
    uint64_t want = features & api.features;

    int fd = uffd_create(&user_mode_only, err);
    if (fd < 0)
        return -1;
    api = (struct uffdio_api){.api = UFFD_API, .features = want};
    if (ioctl(fd, UFFDIO_API, &api) != 0) {
        tn_trace(TERN_TRACE_MIGRATE, "userfaultfd: UFFDIO_API features %#llx: %s",
                 (unsigned long long)want, strerror(errno));
        close(fd);
        *err = TERN_ENOTSUP;
        return -1;
    }
    /* The kernel turns WP_UNPOPULATED on with WP_ASYNC, which needs it. */
    if (want & UFFD_FEATURE_WP_ASYNC)
        want |= UFFD_FEATURE_WP_UNPOPULATED & api.features;
    *got_features = want | (user_mode_only ? TN_UFFD_USER_MODE_ONLY : 0);
    return fd;
}

tern_err tn_uffd_register(int fd, void *base, size_t size, uint64_t mode, uint64_t *ioctls)
{
    struct uffdio_register reg = {
        .range = {.start = (uintptr_t)base, .len = size},
        .mode = mode,
    };
    if (ioctl(fd, UFFDIO_REGISTER, &reg) != 0) {
        int e = errno;
        tn_trace(TERN_TRACE_MIGRATE, "userfaultfd: register %p+%zu mode %#llx: %s", base, size,
                 (unsigned long long)mode, strerror(e));
        return e == EINVAL ? TERN_ENOTSUP : tern_err_from_errno(e);
    }
    if (ioctls)
        *ioctls = reg.ioctls;
    return TERN_OK;
}

tern_err tn_uffd_writeprotect(int fd, void *addr, size_t len, uint64_t mode)
{
    struct uffdio_writeprotect wp = {.range = {.start = (uintptr_t)addr, .len = len}, .mode = mode};
    while (ioctl(fd, UFFDIO_WRITEPROTECT, &wp) != 0) {
        /* EAGAIN: the address space was changing under us. */
        if (errno != EAGAIN && errno != EINTR) {
            int e = errno;
            tn_trace(TERN_TRACE_MIGRATE, "userfaultfd: write-protect %p+%zu mode %#llx: %s", addr,
                     len, (unsigned long long)mode, strerror(e));
            return tern_err_from_errno(e);
        }
    }
    return TERN_OK;
}

tern_err tn_uffd_unregister(int fd, void *base, size_t size)
{
    struct uffdio_range range = {.start = (uintptr_t)base, .len = size};
    if (ioctl(fd, UFFDIO_UNREGISTER, &range) != 0) {
        int e = errno;
        tn_trace(TERN_TRACE_MIGRATE, "userfaultfd: unregister %p+%zu: %s", base, size, strerror(e));
        return tern_err_from_errno(e);
    }
    return TERN_OK;
}
