/* tern migrate: live migration of process state, cooperatively.
 *
 * The application keeps the state it wants to move in an arena: one
 * anonymous mapping, mapped at the same virtual address in the source and
 * the destination process, so pointers inside it stay valid. It hands over
 * a small context blob as well (a program counter of sorts: which step it
 * was at). Threads that touch the arena join it and call
 * tern_arena_safepoint() often; that is where a migration stops them
 * (quiesce), lets them go on (resume), or tells them the computation now
 * runs elsewhere (TERN_EMOVED).
 *
 * Four strategies, as in the lecture notes:
 *
 *   PRECOPY        send every page while the threads run, resend the pages
 *                  they dirtied, in rounds, until what is left fits the
 *                  downtime budget at the measured bandwidth (or progress
 *                  stalls); then stop, send the rest and the context.
 *   STOP_AND_COPY  stop first, send everything, resume at the destination.
 *   POSTCOPY       stop, send the context, resume at the destination at
 *                  once; pages come over a background stream, and a page
 *                  the destination touches first is fetched on demand over
 *                  a separate urgent connection (userfaultfd).
 *   HYBRID         precopy rounds; if the budget is met, a brief stop and
 *                  copy; if it cannot be met, switch to post-copy for what
 *                  is left (or throttle the writers; see fallback).
 *
 * Zero pages are never sent. Each batch of pages carries the migration id,
 * an epoch, a sequence number and a CRC32C; the destination acknowledges
 * them in order, so a cut connection resumes where it stopped. A digest of
 * the whole arena is compared on both sides at the end. docs/migration.md
 * has the protocol and its states. */
#ifndef TERN_MIGRATE_H
#define TERN_MIGRATE_H

#include <stdbool.h>

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- arena ------------------------------------------------------------- */

typedef struct tern_arena tern_arena;

/* Maps size bytes (rounded up to the page size) of zeroed memory. addr NULL
 * lets the kernel pick; otherwise the arena is mapped exactly there, and
 * TERN_EADDRINUSE says something else already is. */
TERN_API tern_err tern_arena_create(tern_arena **arena, size_t size, void *addr);
TERN_API void *tern_arena_base(const tern_arena *arena);
TERN_API size_t tern_arena_size(const tern_arena *arena);
/* Unmaps the arena. No thread may still be joined. */
TERN_API void tern_arena_destroy(tern_arena *arena);

/* The context blob travels with the last pages (at most 1 MiB; copied). Set
 * it whenever it changes, or from opts.on_quiesce once every thread is
 * parked. */
TERN_API tern_err tern_arena_set_context(tern_arena *arena, const void *blob, size_t len);
/* The current context; *len gets its size. Valid until the next set. */
TERN_API const void *tern_arena_context(const tern_arena *arena, size_t *len);

/* Safepoints. A thread that touches the arena joins it, calls
 * tern_arena_safepoint() often (it is one atomic load when nothing is
 * asked) and leaves when done. The safepoint parks the thread while a
 * migration has the arena stopped. It returns TERN_OK to go on, or
 * TERN_EMOVED once the computation runs elsewhere: the thread must stop
 * touching the arena and leave. It also slows the thread down while a
 * migration throttles writers. */
TERN_API tern_err tern_arena_join(tern_arena *arena);
TERN_API void tern_arena_leave(tern_arena *arena);
TERN_API tern_err tern_arena_safepoint(tern_arena *arena);
/* Resumes threads a failed migration left parked: after the destination was
 * told to run, tern never resumes the source by itself (both could run);
 * the operator who knows the destination is gone may. */
TERN_API tern_err tern_arena_resume(tern_arena *arena);

/* ---- migrating ---------------------------------------------------------- */

typedef enum tern_migrate_strategy {
    TERN_MIGRATE_PRECOPY = 0,
    TERN_MIGRATE_STOP_AND_COPY = 1,
    TERN_MIGRATE_POSTCOPY = 2,
    TERN_MIGRATE_HYBRID = 3,
} tern_migrate_strategy;

/* How dirtied pages are found; AUTO takes the first that works here. */
typedef enum tern_migrate_tracker {
    TERN_TRACK_AUTO = 0,
    TERN_TRACK_PAGEMAP_SCAN = 1, /* userfaultfd async write-protect + PAGEMAP_SCAN (Linux 6.7) */
    TERN_TRACK_UFFD_WP = 2,      /* userfaultfd write-protect faults, one per page */
    TERN_TRACK_MPROTECT = 3,     /* mprotect + SIGSEGV in 64 KiB blocks */
} tern_migrate_tracker;

/* What HYBRID does when precopy rounds cannot meet the downtime budget. */
typedef enum tern_migrate_fallback {
    TERN_FALLBACK_POSTCOPY = 0, /* switch to post-copy for the rest */
    TERN_FALLBACK_THROTTLE = 1, /* slow the writers at their safepoints until it fits */
} tern_migrate_fallback;

typedef struct tern_migrate_round {
    uint64_t pages;       /* pages sent (zero pages included, as runs) */
    uint64_t bytes;       /* bytes on the wire */
    uint64_t zero_pages;  /* pages found zero and not sent */
    uint64_t duration_ns; /* time to send them */
    uint64_t dirty_pages; /* pages the threads dirtied while they were sent */
} tern_migrate_round;

#define TERN_MIGRATE_MAX_ROUNDS 64

typedef struct tern_migrate_stats {
    tern_migrate_strategy strategy;
    tern_migrate_tracker tracker; /* the backend actually used */
    bool switched;                /* the destination was told to run it: the source must not resume */
    bool switched_to_postcopy;    /* hybrid fell back to post-copy */
    bool throttled;               /* hybrid slowed the writers */
    uint64_t size;                /* arena bytes */
    uint64_t total_ns;            /* start to the destination running with every page */
    uint64_t verify_ns;           /* then: both digests of the whole arena computed and compared */
    uint64_t downtime_ns;         /* threads stopped to the destination running */
    uint64_t bytes;               /* bytes sent on both connections */
    uint64_t pages;               /* page images sent */
    uint64_t zero_pages;          /* zero pages skipped */
    double bandwidth;             /* measured bytes/s */
    double dirty_rate;            /* measured bytes/s dirtied, last round */
    uint32_t nrounds;
    tern_migrate_round round[TERN_MIGRATE_MAX_ROUNDS];
    uint64_t faults;        /* post-copy: pages fetched on demand */
    uint64_t fault_p50_ns;  /* ... and their latency */
    uint64_t fault_p99_ns;
    uint64_t fault_max_ns;
    uint32_t reconnects;    /* cut connections resumed */
    uint64_t digest;        /* of the whole arena, equal on both sides */
    char error[200];        /* why it failed, when it did */
} tern_migrate_stats;

/* Called from the migrating thread: after each round, at the phase changes
 * and about every 100 ms while pages stream. phase is "round", "stop",
 * "switch", "postcopy" or "done". */
typedef void tern_migrate_progress_fn(void *arg, const char *phase, const tern_migrate_stats *stats);

typedef struct tern_migrate_opts {
    uint32_t downtime_ms;  /* budget; default 10 */
    uint32_t max_rounds;   /* precopy rounds before giving up on convergence; default 30 */
    tern_migrate_tracker tracker;
    tern_migrate_fallback fallback;
    uint32_t reconnect_ms; /* how long both sides wait for a cut connection; default 10000 */
    uint32_t bandwidth;    /* cap in bytes/s; 0 = none */
    /* Called once every joined thread is parked, before the context is
     * read: the place to tern_arena_set_context(). */
    void (*on_quiesce)(void *arg, tern_arena *arena);
    void *on_quiesce_arg;
    tern_migrate_progress_fn *progress;
    void *progress_arg;
} tern_migrate_opts;

/* Fills opts with the defaults. */
TERN_API void tern_migrate_opts_init(tern_migrate_opts *opts);

/* Migrates the arena to a destination listening at endpoint
 * ("tcp://host:port"). Returns TERN_OK once the destination runs the
 * computation and holds every page; the source's threads then get
 * TERN_EMOVED. If it fails before the destination was told to run, the
 * source's threads run on and the error says why (stats->error). If it
 * fails after, they stay parked (see tern_arena_resume). opts and stats may
 * be NULL. */
TERN_API tern_err tern_migrate_send(tern_arena *arena, const char *endpoint,
                                    tern_migrate_strategy strategy, const tern_migrate_opts *opts,
                                    tern_migrate_stats *stats);

typedef struct tern_migrate_listener tern_migrate_listener;

/* Listens at endpoint ("tcp://host:port"; port 0 picks one). */
TERN_API tern_err tern_migrate_listen(tern_migrate_listener **listener, const char *endpoint);
/* Faults in size bytes now, for the next arena received here: a fresh
 * arena's memory is otherwise faulted in while the pages stream, which on
 * some machines costs more than the transfer (as a VM host preallocates
 * the memory of a guest it is about to receive). Used up by one migration
 * whose arena fits; call again for the next. */
TERN_API tern_err tern_migrate_listener_reserve(tern_migrate_listener *listener, size_t size);
/* The bound endpoint, with the real port. */
TERN_API const char *tern_migrate_listener_endpoint(const tern_migrate_listener *listener);
TERN_API void tern_migrate_listener_close(tern_migrate_listener *listener);

/* Called once, at switchover, on the receiving thread: start the
 * computation's threads and return. In post-copy some pages are still on
 * their way; touching one fetches it. */
typedef void tern_migrate_resume_fn(void *arg, tern_arena *arena, const void *context,
                                    size_t context_len);

/* Receives one migration: maps the arena at the source's address, applies
 * the pages, calls resume at switchover, and returns once every page is
 * here and the digests match, with *arena owned by the caller. Connections
 * that do not start a valid migration are refused (closed, with a traced
 * reason) and the wait goes on. opts (reconnect_ms) and stats may be NULL. */
TERN_API tern_err tern_migrate_receive(tern_migrate_listener *listener,
                                       tern_migrate_resume_fn *resume, void *arg,
                                       const tern_migrate_opts *opts, tern_arena **arena,
                                       tern_migrate_stats *stats);

/* Names for the enums ("precopy", "pagemap_scan", ...), and back. */
TERN_API const char *tern_migrate_strategy_name(tern_migrate_strategy strategy);
TERN_API tern_err tern_migrate_strategy_parse(const char *name, tern_migrate_strategy *strategy);
TERN_API const char *tern_migrate_tracker_name(tern_migrate_tracker tracker);
TERN_API tern_err tern_migrate_tracker_parse(const char *name, tern_migrate_tracker *tracker);

#ifdef __cplusplus
}
#endif

#endif
