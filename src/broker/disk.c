/* The real file system behind tn_disk, and helpers over any tn_disk. */
#include "broker/disk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static int os_open(void *ctx, const char *path, int flags, mode_t mode)
{
    (void)ctx;
    return open(path, flags, mode);
}

static ssize_t os_pwrite(void *ctx, int fd, const void *buf, size_t n, off_t off)
{
    (void)ctx;
    return pwrite(fd, buf, n, off);
}

static ssize_t os_pread(void *ctx, int fd, void *buf, size_t n, off_t off)
{
    (void)ctx;
    return pread(fd, buf, n, off);
}

static int os_fdatasync(void *ctx, int fd)
{
    (void)ctx;
    return fdatasync(fd);
}

static int os_ftruncate(void *ctx, int fd, off_t len)
{
    (void)ctx;
    return ftruncate(fd, len);
}

static int os_unlink(void *ctx, const char *path)
{
    (void)ctx;
    return unlink(path);
}

static int os_rename(void *ctx, const char *from, const char *to)
{
    (void)ctx;
    return rename(from, to);
}

static int os_mkdir(void *ctx, const char *path, mode_t mode)
{
    (void)ctx;
    return mkdir(path, mode);
}

static int os_rmdir(void *ctx, const char *path)
{
    (void)ctx;
    return rmdir(path);
}

static const tn_disk os_disk = {
    .open = os_open,
    .pwrite = os_pwrite,
    .pread = os_pread,
    .fdatasync = os_fdatasync,
    .ftruncate = os_ftruncate,
    .unlink = os_unlink,
    .rename = os_rename,
    .mkdir = os_mkdir,
    .rmdir = os_rmdir,
    .ctx = NULL,
};

const tn_disk *tn_disk_os(void)
{
    return &os_disk;
}

int tn_disk_pwrite_all(const tn_disk *d, int fd, const void *buf, size_t n, off_t off)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = d->pwrite(d->ctx, fd, p, n, off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (w == 0) {
            errno = ENOSPC; /* no progress on a regular file: the device is full */
            return -1;
        }
        p += w;
        n -= (size_t)w;
        off += (off_t)w;
    }
    return 0;
}

int tn_disk_sync_dir(const tn_disk *d, const char *dir)
{
    int fd = d->open(d->ctx, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int rc = d->fdatasync(d->ctx, fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}
