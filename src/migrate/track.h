/* Dirty-page tracking for precopy rounds: which pages of a range were
 * written since the last look. Three backends, picked at run time:
 * userfaultfd async write-protect read with PAGEMAP_SCAN, userfaultfd
 * write-protect faults handled by a thread, and mprotect + SIGSEGV in
 * 64 KiB blocks (so the VMAs it splits stay under vm.max_map_count). */
#ifndef TN_MIGRATE_TRACK_H
#define TN_MIGRATE_TRACK_H

#include <stddef.h>
#include <stdint.h>

#include "tern/migrate.h"

typedef struct tn_tracker tn_tracker;

/* Starts tracking [base, base+size) (page aligned): every write from now on
 * is reported by a later collect. want = TERN_TRACK_AUTO tries the backends
 * in the order above; a named one fails with TERN_ENOTSUP when this kernel
 * or process cannot use it. present, if not NULL, gets what
 * tn_pages_present would say as tracking begins: the PAGEMAP_SCAN backend
 * learns it in the walk that arms it (one walk of the page tables instead
 * of three; the markers arming leaves make a later look slow). */
tern_err tn_tracker_open(tn_tracker **tracker, void *base, size_t size, tern_migrate_tracker want,
                         uint64_t *present);
tern_migrate_tracker tn_tracker_kind(const tn_tracker *tracker);

/* ORs into dirty (one bit per page, bit i of word i/64 = page i) every page
 * written since the previous collect (or open), re-arming those pages
 * before it returns: a write that lands after the collect returns is
 * reported by the next one. *count gets the number of pages reported (a
 * block backend reports whole blocks). */
tern_err tn_tracker_collect(tn_tracker *tracker, uint64_t *dirty, size_t *count);

/* Stops tracking and leaves the range writable. */
void tn_tracker_close(tn_tracker *tracker);

/* Sets in present (one bit per page) the pages of the range that have ever
 * been touched (mapped): a page that is not is zero and need not be read.
 * Uses PAGEMAP_SCAN where the kernel has it, /proc/self/pagemap otherwise. */
tern_err tn_pages_present(void *base, size_t size, uint64_t *present);

#endif
