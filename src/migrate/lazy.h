/* Post-copy at the destination: the arena runs before all its pages are
 * here. userfaultfd (MISSING mode) stops a thread that touches a missing
 * page; a fault thread asks for it through fetch(), and the page arrives
 * through tn_lazy_place() (from the urgent connection or the background
 * stream, whichever is first), which wakes the thread. */
#ifndef TN_MIGRATE_LAZY_H
#define TN_MIGRATE_LAZY_H

#include <stddef.h>
#include <stdint.h>

#include "tern/base.h"

typedef struct tn_lazy tn_lazy;

/* Asks the source for pages [first, first+count). Called on the fault
 * thread; sends the request and returns without waiting for the pages. */
typedef tern_err tn_lazy_fetch_fn(void *arg, uint64_t first, uint32_t count);

/* Takes over [base, base+size) (page aligned, mapped anonymous private).
 * needed has one bit per page: the pages that must come from the source;
 * they are dropped here (MADV_DONTNEED: they may hold stale precopy
 * images) and fault until placed. A fault on any other page that is not
 * mapped gets a zero page on the spot. TERN_ENOTSUP if userfaultfd cannot
 * be used (the error text is traced). */
tern_err tn_lazy_open(tn_lazy **lazy, void *base, size_t size, const uint64_t *needed,
                      tn_lazy_fetch_fn *fetch, void *arg);

/* Installs count pages from first (data NULL: zero pages) and wakes threads
 * waiting on them. Pages already placed are skipped, so the background
 * stream and a fetch reply may both deliver a page. Thread-safe. */
tern_err tn_lazy_place(tn_lazy *lazy, uint64_t first, uint32_t count, const void *data);

/* Needed pages not yet placed. */
uint64_t tn_lazy_remaining(const tn_lazy *lazy);

/* Pages fetched on demand and the latency from fault to wake-up. */
typedef struct tn_lazy_stats {
    uint64_t faults;
    uint64_t p50_ns, p99_ns, max_ns;
} tn_lazy_stats;
void tn_lazy_stats_get(const tn_lazy *lazy, tn_lazy_stats *stats);

/* Stops the fault thread and unregisters the range; pages never placed read
 * as zero afterwards. Call once remaining is 0 (or the migration failed). */
void tn_lazy_close(tn_lazy *lazy);

#endif
