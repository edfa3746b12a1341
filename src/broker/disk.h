/* The broker's window on the file system: every call that writes, syncs,
 * truncates or removes goes through a table, so tests can fail a chosen
 * write or fsync (disk full, EIO) and check the log stays valid. Calls
 * return what the system call would (-1 with errno set). */
#ifndef TN_BROKER_DISK_H
#define TN_BROKER_DISK_H

#include <sys/types.h>

typedef struct tn_disk {
    int (*open)(void *ctx, const char *path, int flags, mode_t mode);
    ssize_t (*pwrite)(void *ctx, int fd, const void *buf, size_t n, off_t off);
    ssize_t (*pread)(void *ctx, int fd, void *buf, size_t n, off_t off);
    int (*fdatasync)(void *ctx, int fd);
    int (*ftruncate)(void *ctx, int fd, off_t len);
    int (*unlink)(void *ctx, const char *path);
    int (*rename)(void *ctx, const char *from, const char *to);
    int (*mkdir)(void *ctx, const char *path, mode_t mode);
    int (*rmdir)(void *ctx, const char *path);
    void *ctx;
} tn_disk;

/* The real file system. */
const tn_disk *tn_disk_os(void);
/* Writes all n bytes (retrying short writes); -1 with errno on failure. */
int tn_disk_pwrite_all(const tn_disk *d, int fd, const void *buf, size_t n, off_t off);
/* fsyncs a directory so a created, renamed or removed entry survives a crash. */
int tn_disk_sync_dir(const tn_disk *d, const char *dir);

#endif
