/* Dirty tracking with userfaultfd asynchronous write-protect (Linux 6.7):
 * the kernel itself clears a page's write-protect bit on the first write,
 * without a fault reaching us, and PAGEMAP_SCAN reports the pages whose bit
 * is clear and sets it again in the same page-table walk. Collecting costs
 * one walk of the range; writes cost nothing between two collects. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/trace.h"
#include "migrate/track_backend.h"
#include "migrate/uffd.h"

/* Regions per PAGEMAP_SCAN call; a longer list takes more calls. */
#define SCAN_VEC 256

typedef struct scan_tracker {
    tn_tracker t;
    int uffd;
    int pagemap;
    struct page_region vec[SCAN_VEC];
} scan_tracker;

tern_err tn_track_scan_run(int pagemap, struct pm_scan_arg *arg, struct page_region *vec,
                           size_t vec_len, tn_track_region_fn *fn, void *ctx)
{
    uint64_t end = arg->end;
    arg->size = sizeof *arg;
    arg->vec = (uintptr_t)vec;
    arg->vec_len = vec_len;
    while (arg->start < end) {
        int n = ioctl(pagemap, PAGEMAP_SCAN, arg);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            tn_trace(TERN_TRACE_MIGRATE, "track: PAGEMAP_SCAN: %s", strerror(e));
            return e == ENOTTY || e == EINVAL || e == EPERM ? TERN_ENOTSUP : tern_err_from_errno(e);
        }
        for (int i = 0; i < n; i++)
            fn(ctx, &vec[i]);
        /* The walk stops early when the vector is full; it never goes
         * back, so walk_end > start unless the kernel misbehaves. */
        if (arg->walk_end <= arg->start || arg->walk_end > end)
            return TERN_ESYSTEM;
        arg->start = arg->walk_end;
        arg->end = end;
    }
    return TERN_OK;
}

typedef struct collect_ctx {
    const tn_tracker *t;
    uint64_t *dirty;
    size_t count;
} collect_ctx;

static void collect_region(void *arg, const struct page_region *r)
{
    collect_ctx *c = arg;
    size_t first = (size_t)(r->start - (uintptr_t)c->t->base) / c->t->page;
    size_t n = (size_t)(r->end - r->start) / c->t->page;
    tn_bits_set(c->dirty, first, n);
    c->count += n;
}

/* Reports the written pages of [start, end) and write-protects them again. */
static tern_err scan_written(scan_tracker *s, char *start, char *end, uint64_t *dirty,
                             size_t *count)
{
    struct pm_scan_arg arg = {
        .flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
        .start = (uintptr_t)start,
        .end = (uintptr_t)end,
        .category_mask = PAGE_IS_WRITTEN,
        .return_mask = PAGE_IS_WRITTEN,
    };
    collect_ctx c = {&s->t, dirty, 0};
    tern_err err = tn_track_scan_run(s->pagemap, &arg, s->vec, SCAN_VEC, collect_region, &c);
    *count = c.count;
    return err;
}

static tern_err scan_collect(tn_tracker *t, uint64_t *dirty, size_t *count)
{
    scan_tracker *s = (scan_tracker *)t;
    tern_err err = scan_written(s, t->base, t->base + t->size, dirty, count);
    if (err != TERN_OK)
        tn_trace(TERN_TRACE_MIGRATE, "track: pagemap_scan collect failed: %s", tern_errname(err));
    return err;
}

static void scan_close(tn_tracker *t)
{
    scan_tracker *s = (scan_tracker *)t;
    /* Drops the write-protect bits and the markers on untouched pages; the
     * unregister would too on recent kernels, but not on every one. */
    tn_uffd_writeprotect(s->uffd, t->base, t->size, 0);
    tn_uffd_unregister(s->uffd, t->base, t->size);
    close(s->uffd);
    close(s->pagemap);
    free(s);
}

tern_err tn_track_scan_open(tn_tracker **tracker, char *base, size_t size, uint64_t *present)
{
    scan_tracker *s = calloc(1, sizeof *s);
    if (!s)
        return TERN_ENOMEM;
    tn_track_init(&s->t, TERN_TRACK_PAGEMAP_SCAN, base, size);
    s->t.collect = scan_collect;
    s->t.close = scan_close;
    s->pagemap = -1;

    /* The kernel enables WP_UNPOPULATED with WP_ASYNC (which relies on
     * it): an untouched page gets a write-protected marker, and its first
     * write shows as written like any other. */
    tern_err err = TERN_OK;
    uint64_t got = 0;
    s->uffd = tn_uffd_open(UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED, &got, &err);
    if (s->uffd < 0) {
        free(s);
        return err;
    }
    if (!(got & UFFD_FEATURE_WP_ASYNC)) {
        tn_trace(TERN_TRACE_MIGRATE, "track: no asynchronous write-protect (Linux < 6.7)");
        err = TERN_ENOTSUP;
        goto fail_fd;
    }
    uint64_t ioctls = 0;
    err = tn_uffd_register(s->uffd, base, size, UFFDIO_REGISTER_MODE_WP, &ioctls);
    if (err != TERN_OK)
        goto fail_fd;
    if (!(ioctls & ((uint64_t)1 << _UFFDIO_WRITEPROTECT))) {
        err = TERN_ENOTSUP;
        goto fail_reg;
    }
    s->pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (s->pagemap < 0) {
        tn_trace(TERN_TRACE_MIGRATE, "track: /proc/self/pagemap: %s", strerror(errno));
        err = TERN_ENOTSUP;
        goto fail_reg;
    }
    err = tn_pages_scan(s->pagemap, base, size, present, 1);
    if (err != TERN_OK)
        goto fail_pagemap;
    *tracker = &s->t;
    return TERN_OK;

fail_pagemap:
    tn_uffd_writeprotect(s->uffd, base, size, 0); /* whatever a failed walk protected */
    close(s->pagemap);
fail_reg:
    tn_uffd_unregister(s->uffd, base, size);
fail_fd:
    close(s->uffd);
    free(s);
    return err;
}
