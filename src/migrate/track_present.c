/* Which pages of a range hold anything: mapped or swapped out. A page never
 * touched reads as zero and need not be read at all.
 *
 * A userfaultfd write-protect marker (left on untouched pages by the
 * trackers) looks like a swap entry to both PAGEMAP_SCAN and
 * /proc/self/pagemap. To a reader with CAP_SYS_ADMIN pagemap shows the
 * entry's swap type, and markers have the last one, which no swap file or
 * other entry gets; without that privilege such pages count as present,
 * which costs a read but never loses a page. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/trace.h"
#include "migrate/track_backend.h"
#include "migrate/uffd.h"

#define PM_PRESENT ((uint64_t)1 << 63)
#define PM_SWAP ((uint64_t)1 << 62)
#define PM_SWAP_TYPE 0x1fu /* low 5 bits of a swap entry, when shown */
#define SWP_PTE_MARKER 31u /* the last type: 1 << MAX_SWAPFILES_SHIFT (5), minus one */
#define PM_CHUNK 8192      /* entries per read: 64 KiB */

/* The entries of pages [first, first + n) of base from pagemap. */
static tern_err pagemap_read(int fd, char *base, size_t page, size_t first, size_t n,
                             uint64_t *present, uint64_t *buf)
{
    while (n > 0) {
        size_t k = n < PM_CHUNK ? n : PM_CHUNK;
        off_t off = (off_t)(((uintptr_t)base / page + first) * sizeof(uint64_t));
        ssize_t got = pread(fd, buf, k * sizeof(uint64_t), off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0 || (size_t)got % sizeof(uint64_t) != 0) {
            tn_trace(TERN_TRACE_MIGRATE, "track: pagemap read: %s",
                     got < 0 ? strerror(errno) : "short");
            return got < 0 ? tern_err_from_errno(errno) : TERN_ESYSTEM;
        }
        k = (size_t)got / sizeof(uint64_t);
        for (size_t i = 0; i < k; i++) {
            uint64_t e = buf[i];
            bool marker = (e & PM_SWAP) && (e & PM_SWAP_TYPE) == SWP_PTE_MARKER;
            if ((e & PM_PRESENT) || ((e & PM_SWAP) && !marker))
                tn_bit_set(present, first + i);
        }
        first += k;
        n -= k;
    }
    return TERN_OK;
}

typedef struct present_ctx {
    int fd;
    char *base;
    size_t page;
    uint64_t *present;
    uint64_t *buf;
    tern_err err;
} present_ctx;

static void present_region(void *arg, const struct page_region *r)
{
    present_ctx *c = arg;
    size_t first = (size_t)(r->start - (uintptr_t)c->base) / c->page;
    size_t n = (size_t)(r->end - r->start) / c->page;
    if (r->categories & PAGE_IS_PRESENT)
        tn_bits_set(c->present, first, n);
    else if (c->err == TERN_OK) /* swapped, or markers: pagemap tells */
        c->err = pagemap_read(c->fd, c->base, c->page, first, n, c->present, c->buf);
}

tern_err tn_pages_present(void *base, size_t size, uint64_t *present)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (!base || !present || (uintptr_t)base % page != 0 || size % page != 0)
        return TERN_EINVAL;
    size_t npages = size / page;
    memset(present, 0, (npages + 63) / 64 * sizeof(uint64_t));
    if (npages == 0)
        return TERN_OK;
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        tn_trace(TERN_TRACE_MIGRATE, "track: /proc/self/pagemap: %s", strerror(errno));
        return TERN_ENOTSUP;
    }
    uint64_t *buf = malloc(PM_CHUNK * sizeof(uint64_t));
    if (!buf) {
        close(fd);
        return TERN_ENOMEM;
    }

    /* Zero-page mappings (read, never written) are present but zero. */
    struct pm_scan_arg arg = {
        .start = (uintptr_t)base,
        .end = (uintptr_t)base + size,
        .category_inverted = PAGE_IS_PFNZERO,
        .category_mask = PAGE_IS_PFNZERO,
        .category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
        .return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
    };
    struct page_region vec[128];
    present_ctx c = {fd, base, page, present, buf, TERN_OK};
    tern_err err = tn_track_scan_run(fd, &arg, vec, 128, present_region, &c);
    if (err == TERN_ENOTSUP) /* before Linux 6.7: every entry from the file */
        err = pagemap_read(fd, base, page, 0, npages, present, buf);
    else if (err == TERN_OK)
        err = c.err;
    free(buf);
    close(fd);
    return err;
}
