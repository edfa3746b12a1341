/* userfaultfd and PAGEMAP_SCAN for the migrate layer: opening a
 * userfaultfd with the features a caller asks for, registering ranges, and
 * the kernel ABI that the build's (older) UAPI headers may lack. */
#ifndef TN_MIGRATE_UFFD_H
#define TN_MIGRATE_UFFD_H

#include <stddef.h>
#include <stdint.h>

#include <linux/fs.h>
#include <linux/ioctl.h>
#include <linux/types.h>
#include <linux/userfaultfd.h>

#include "tern/base.h"

/* ---- kernel ABI newer than the build headers ----------------------------- */

#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED /* Linux 6.4 */
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC /* Linux 6.7 */
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif

#ifndef PAGEMAP_SCAN /* Linux 6.7, ioctl on /proc/<pid>/pagemap */
#define PAGE_IS_WPALLOWED (1 << 0)
#define PAGE_IS_WRITTEN (1 << 1)
#define PAGE_IS_FILE (1 << 2)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_SWAPPED (1 << 4)
#define PAGE_IS_PFNZERO (1 << 5)
#define PAGE_IS_HUGE (1 << 6)
#define PAGE_IS_SOFT_DIRTY (1 << 7)

/* One run of pages [start, end) sharing the categories asked for. */
struct page_region {
    __u64 start;
    __u64 end;
    __u64 categories;
};

#define PM_SCAN_WP_MATCHING (1 << 0)   /* write-protect the pages reported */
#define PM_SCAN_CHECK_WPASYNC (1 << 1) /* fail unless every VMA is async-WP registered */

struct pm_scan_arg {
    __u64 size; /* sizeof(struct pm_scan_arg) */
    __u64 flags;
    __u64 start;
    __u64 end;
    __u64 walk_end; /* out: where the walk stopped (vec full or max_pages) */
    __u64 vec;      /* struct page_region[vec_len] */
    __u64 vec_len;
    __u64 max_pages; /* 0: no limit */
    __u64 category_inverted;
    __u64 category_mask;       /* all of these ... */
    __u64 category_anyof_mask; /* ... and one of these (0: no condition) */
    __u64 return_mask;         /* categories reported in page_region */
};

#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#endif

/* ---- helpers --------------------------------------------------------------- */

/* Set in *got_features (it is no kernel feature) when the descriptor only
 * handles faults from user mode: a system call that touches a page still
 * waiting on it fails with EFAULT instead of waiting. */
#define TN_UFFD_USER_MODE_ONLY ((uint64_t)1 << 63)

/* Opens a userfaultfd (O_CLOEXEC | O_NONBLOCK): the syscall, then
 * /dev/userfaultfd when the syscall is not permitted, then the syscall
 * again limited to user-mode faults. Enables the UFFD_FEATURE_* bits of
 * features that this kernel has and leaves out the others: *got_features
 * says which are on (the kernel may add some, as WP_UNPOPULATED with
 * WP_ASYNC), and the caller checks for those it cannot do without. Returns
 * the descriptor, or -1 with *err set (TERN_ENOTSUP when userfaultfd cannot
 * be used here; the reason is traced). */
int tn_uffd_open(uint64_t features, uint64_t *got_features, tern_err *err);

/* Registers [base, base+size) (page aligned) with mode
 * (UFFDIO_REGISTER_MODE_*). TERN_ENOTSUP if the kernel refuses the mode for
 * this memory. *ioctls (may be NULL) gets the range ioctls allowed there,
 * a (1 << _UFFDIO_*) mask. */
tern_err tn_uffd_register(int fd, void *base, size_t size, uint64_t mode, uint64_t *ioctls);

/* UFFDIO_WRITEPROTECT on [addr, addr+len): mode UFFDIO_WRITEPROTECT_MODE_WP
 * protects, 0 lifts the protection and wakes the threads waiting on it
 * (unless UFFDIO_WRITEPROTECT_MODE_DONTWAKE). */
tern_err tn_uffd_writeprotect(int fd, void *addr, size_t len, uint64_t mode);

/* Unregisters the range: its pending faults are woken and retried without
 * userfaultfd. */
tern_err tn_uffd_unregister(int fd, void *base, size_t size);

#endif
