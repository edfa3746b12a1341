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

typedef struct present_ctx {
    int fd;
    char *base;
    size_t page, npages;
    uint64_t *present;
    uint64_t *buf; /* pagemap entries of pages [win, win + win_n) */
    size_t win, win_n;
    tern_err err;
} present_ctx;

/* Marks the pages of [first, first + n) that pagemap shows mapped or
 * swapped. Entries are read PM_CHUNK at a time and kept: the regions a scan
 * hands over come in address order, often a page or two apart, and one
 * read per region would cost a system call per page. */
static tern_err pagemap_mark(present_ctx *c, size_t first, size_t n)
{
    for (size_t i = first; i < first + n; i++) {
        if (i < c->win || i >= c->win + c->win_n) {
            size_t k = c->npages - i < PM_CHUNK ? c->npages - i : PM_CHUNK;
            off_t off = (off_t)(((uintptr_t)c->base / c->page + i) * sizeof(uint64_t));
            ssize_t got;
            do
                got = pread(c->fd, c->buf, k * sizeof(uint64_t), off);
            while (got < 0 && errno == EINTR);
            if (got <= 0 || (size_t)got % sizeof(uint64_t) != 0) {
                tn_trace(TERN_TRACE_MIGRATE, "track: pagemap read: %s",
                         got < 0 ? strerror(errno) : "short");
                return got < 0 ? tern_err_from_errno(errno) : TERN_ESYSTEM;
            }
            c->win = i;
            c->win_n = (size_t)got / sizeof(uint64_t);
        }
        uint64_t e = c->buf[i - c->win];
        bool marker = (e & PM_SWAP) && (e & PM_SWAP_TYPE) == SWP_PTE_MARKER;
        if ((e & PM_PRESENT) || ((e & PM_SWAP) && !marker))
            tn_bit_set(c->present, i);
    }
    return TERN_OK;
}

static void present_region(void *arg, const struct page_region *r)
{
    present_ctx *c = arg;
    size_t first = (size_t)(r->start - (uintptr_t)c->base) / c->page;
    size_t n = (size_t)(r->end - r->start) / c->page;
    if (!c->present)
        return;
    if ((r->categories & (PAGE_IS_PRESENT | PAGE_IS_PFNZERO)) == PAGE_IS_PRESENT)
        tn_bits_set(c->present, first, n);
    else if ((r->categories & PAGE_IS_SWAPPED) && c->err == TERN_OK) /* or markers */
        c->err = pagemap_mark(c, first, n);
}

tern_err tn_pages_scan(int pagemap, char *base, size_t size, uint64_t *present, int arm)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t npages = size / page;
    if (present)
        memset(present, 0, (npages + 63) / 64 * sizeof(uint64_t));
    if (npages == 0)
        return TERN_OK;
    /* The pagemap window, needed only to answer which pages are present. */
    uint64_t *buf = present ? malloc(PM_CHUNK * sizeof(uint64_t)) : NULL;
    if (present && !buf)
        return TERN_ENOMEM;
    /* Zero-page mappings (read, never written) are present but zero. A
     * plain look asks only for pages that hold something; arming must
     * walk every page, as the untouched ones get write-protect markers
     * (without one, an untouched page reads as written). */
    struct pm_scan_arg arg = {
        .start = (uintptr_t)base,
        .end = (uintptr_t)base + size,
        .return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED | PAGE_IS_PFNZERO,
    };
    if (arm) {
        arg.flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC;
    } else {
        arg.category_inverted = PAGE_IS_PFNZERO;
        arg.category_mask = PAGE_IS_PFNZERO;
        arg.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED;
    }
    struct page_region vec[128];
    present_ctx c = {pagemap, base, page, npages, present, buf, 0, 0, TERN_OK};
    tern_err err = tn_track_scan_run(pagemap, &arg, vec, 128, present_region, &c);
    if (err == TERN_ENOTSUP && !arm && present) /* before Linux 6.7: every entry from the file */
        err = pagemap_mark(&c, 0, npages);
    else if (err == TERN_OK)
        err = c.err;
    free(buf);
    return err;
}

tern_err tn_pages_present(void *base, size_t size, uint64_t *present)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (!base || !present || (uintptr_t)base % page != 0 || size % page != 0)
        return TERN_EINVAL;
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        tn_trace(TERN_TRACE_MIGRATE, "track: /proc/self/pagemap: %s", strerror(errno));
        return TERN_ENOTSUP;
    }
    tern_err err = tn_pages_scan(fd, base, size, present, 0);
    close(fd);
    return err;
}
