/* Dirty-page tracking: picking a backend and the calls that dispatch to it. */
#include "migrate/track.h"

#include <unistd.h>

#include "base/trace.h"
#include "migrate/track_backend.h"

void tn_track_init(tn_tracker *tracker, tern_migrate_tracker kind, char *base, size_t size)
{
    tracker->kind = kind;
    tracker->base = base;
    tracker->size = size;
    tracker->page = (size_t)sysconf(_SC_PAGESIZE);
    tracker->npages = size / tracker->page;
}

static tern_err open_kind(tn_tracker **tracker, char *base, size_t size, tern_migrate_tracker kind,
                          uint64_t *present)
{
    tern_err err = TERN_EINVAL;
    switch (kind) {
    case TERN_TRACK_PAGEMAP_SCAN:
        return tn_track_scan_open(tracker, base, size, present);
    case TERN_TRACK_UFFD_WP:
        err = tn_track_uffd_open(tracker, base, size);
        break;
    case TERN_TRACK_MPROTECT:
        err = tn_track_mprotect_open(tracker, base, size);
        break;
    case TERN_TRACK_AUTO:
        break;
    }
    /* After arming, so a page first written in between is not missed. */
    if (err == TERN_OK && present && (err = tn_pages_present(base, size, present)) != TERN_OK) {
        tn_tracker_close(*tracker);
        *tracker = NULL;
    }
    return err;
}

tern_err tn_tracker_open(tn_tracker **tracker, void *base, size_t size, tern_migrate_tracker want,
                         uint64_t *present)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (!tracker || !base || size == 0 || (uintptr_t)base % page != 0 || size % page != 0)
        return TERN_EINVAL;
    if (want != TERN_TRACK_AUTO)
        return open_kind(tracker, base, size, want, present);

    static const tern_migrate_tracker order[] = {TERN_TRACK_PAGEMAP_SCAN, TERN_TRACK_UFFD_WP,
                                                 TERN_TRACK_MPROTECT};
    tern_err err = TERN_ENOTSUP;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        err = open_kind(tracker, base, size, order[i], present);
        /* Anything but "not here" (out of memory, say) would fail the
         * next backend too. */
        if (err != TERN_ENOTSUP)
            break;
        tn_trace(TERN_TRACE_MIGRATE, "track: %s unavailable, trying the next",
                 tern_migrate_tracker_name(order[i]));
    }
    if (err == TERN_OK)
        tn_trace(TERN_TRACE_MIGRATE, "track: %p+%zu with %s", base, size,
                 tern_migrate_tracker_name((*tracker)->kind));
    return err;
}

tern_migrate_tracker tn_tracker_kind(const tn_tracker *tracker)
{
    return tracker->kind;
}

tern_err tn_tracker_collect(tn_tracker *tracker, uint64_t *dirty, size_t *count)
{
    if (!tracker || !dirty || !count)
        return TERN_EINVAL;
    *count = 0;
    return tracker->collect(tracker, dirty, count);
}

void tn_tracker_close(tn_tracker *tracker)
{
    if (tracker)
        tracker->close(tracker);
}
