/* What the dirty-page tracking backends share: the tracker's common part,
 * and their constructors. */
#ifndef TN_MIGRATE_TRACK_BACKEND_H
#define TN_MIGRATE_TRACK_BACKEND_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "migrate/bitmap.h"
#include "migrate/track.h"
#include "migrate/uffd.h"

/* Every backend's state starts with this. */
struct tn_tracker {
    tern_migrate_tracker kind;
    char *base;
    size_t size;
    size_t page;   /* page size */
    size_t npages; /* size / page */
    tern_err (*collect)(tn_tracker *tracker, uint64_t *dirty, size_t *count);
    void (*close)(tn_tracker *tracker);
};

/* Each takes a checked, page-aligned, non-empty range and fails with
 * TERN_ENOTSUP when the backend cannot run here (the reason is traced). */
tern_err tn_track_scan_open(tn_tracker **tracker, char *base, size_t size, uint64_t *present);
tern_err tn_track_uffd_open(tn_tracker **tracker, char *base, size_t size);
tern_err tn_track_mprotect_open(tn_tracker **tracker, char *base, size_t size);

void tn_track_init(tn_tracker *tracker, tern_migrate_tracker kind, char *base, size_t size);

/* Runs PAGEMAP_SCAN on /proc/self/pagemap (fd pagemap) for
 * [arg->start, arg->end) with arg's flags and masks, calling again where
 * a full vector made it stop, and hands fn each region found. TERN_ENOTSUP
 * if the kernel lacks it or refuses the flags. */
typedef void tn_track_region_fn(void *ctx, const struct page_region *region);
tern_err tn_track_scan_run(int pagemap, struct pm_scan_arg *arg, struct page_region *vec,
                           size_t vec_len, tn_track_region_fn *fn, void *ctx);

/* tn_pages_present on an open pagemap; with arm, the same walk also
 * write-protects every page that holds anything (userfaultfd async mode
 * must be registered on the range). present may be NULL when arming. */
tern_err tn_pages_scan(int pagemap, char *base, size_t size, uint64_t *present, int arm);

/* The page (or block) bitmaps that fault handlers fill. Handlers set bits
 * with atomic OR and collect takes a word at a time with atomic exchange,
 * so neither ever waits for the other; the word must be lock-free for a
 * signal handler to touch it. */
typedef _Atomic uint64_t tn_track_word;
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_LONG_LOCK_FREE == 2 &&
                   ATOMIC_INT_LOCK_FREE == 2,
               "the atomics handlers use must be lock-free");

/* Takes the lowest run of set bits out of *bits (not 0): returns the index
 * of its first bit and its length in *len. */
static inline unsigned tn_track_take_run(uint64_t *bits, unsigned *len)
{
    unsigned first = (unsigned)__builtin_ctzll(*bits);
    uint64_t rest = *bits >> first;
    *len = rest == ~(uint64_t)0 ? 64 : (unsigned)__builtin_ctzll(~rest);
    *bits &= *len == 64 ? 0 : ~((((uint64_t)1 << *len) - 1) << first);
    return first;
}

static inline void tn_track_mark(tn_track_word *bm, size_t i)
{
    atomic_fetch_or_explicit(&bm[i / 64], (uint64_t)1 << (i % 64), memory_order_release);
}

#endif
