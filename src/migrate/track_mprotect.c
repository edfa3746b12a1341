/* Dirty tracking with mprotect: the range is made read-only in 64 KiB
 * blocks, a SIGSEGV handler marks the block a write hits and makes it
 * writable again, and collect takes the marks and protects those blocks
 * again. Whole blocks keep the number of VMAs the protection splits the
 * range into under vm.max_map_count (1 GiB is 16384 blocks), at the price
 * of reporting 16 pages for a write to one.
 *
 * The handler is process-wide: it finds the tracker in a small table it
 * reads without locks, and hands faults outside every tracked range to the
 * handler installed before it. As with the userfaultfd backend, it makes
 * the block writable before it marks it (the other order lets a collect
 * take the mark and protect the block just before the handler unprotects
 * it, and later writes go unseen), and the writer goes on only once the
 * mark is set. Other threads may write the block in between; a count of
 * handlers at work on each block lets collect report those blocks too, so
 * such a write shows in the next collect however slow the handler is.
 *
 * The kernel does not raise SIGSEGV for its own accesses: a system call
 * that writes into a protected block fails with EFAULT. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "base/trace.h"
#include "migrate/track_backend.h"

#define MP_BLOCK ((size_t)64 << 10)
#define MAX_RANGES 32
#define RETIRED 8
/* How long a fault in a range closed meanwhile is taken for one that was
 * raised before the close (and is retried) rather than a real one. */
#define RETIRED_NS 100000000ull

typedef struct mp_tracker {
    tn_tracker t;
    size_t block; /* bytes, a multiple of the page size */
    size_t nblocks;
    size_t nwords;
    int slot;
    tn_track_word *bits;   /* one per block */
    atomic_uint *handling; /* handlers at work on each block */
} mp_tracker;

/* Trackers open, read by the handler; changed under reg_lock. */
static _Atomic(mp_tracker *) ranges[MAX_RANGES];
/* Handlers between looking a tracker up and done with it: close waits for
 * none before it frees, and collect looks at the per-block counts only
 * when there are some. */
static atomic_int in_handler;

/* Ranges closed lately: a write may have faulted just before its block was
 * made writable for good, and its handler run only after the close. */
static struct {
    _Atomic uintptr_t start, end;
    _Atomic uint64_t when; /* 0 while the entry is being written */
} retired[RETIRED];
static unsigned next_retired;

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned nopen;
/* The handler before ours, saved when ours goes in. */
static struct sigaction prev;

static bool recently_closed(uintptr_t addr)
{
    uint64_t now = tern_clock_ns();
    for (unsigned i = 0; i < RETIRED; i++) {
        uint64_t when = atomic_load(&retired[i].when);
        uintptr_t start = atomic_load(&retired[i].start), end = atomic_load(&retired[i].end);
        if (when != 0 && now - when < RETIRED_NS && addr >= start && addr < end &&
            atomic_load(&retired[i].when) == when)
            return true;
    }
    return false;
}

/* Passes the signal on as if our handler were not there. */
static void chain(int sig, siginfo_t *info, void *uctx)
{
    if (prev.sa_flags & SA_SIGINFO) {
        prev.sa_sigaction(sig, info, uctx);
        return;
    }
    if (prev.sa_handler == SIG_IGN && info->si_code <= 0)
        return; /* sent with kill(), and ignored */
    if (prev.sa_handler == SIG_DFL || prev.sa_handler == SIG_IGN) {
        /* The default action: a fault repeats when we return, a sent
         * signal is sent again, and either one now kills as it should. */
        struct sigaction dfl = {.sa_handler = SIG_DFL};
        sigaction(sig, &dfl, NULL);
        if (info->si_code <= 0)
            raise(sig);
        return;
    }
    prev.sa_handler(sig);
}

static void on_segv(int sig, siginfo_t *info, void *uctx)
{
    int saved_errno = errno;
    uintptr_t addr = (uintptr_t)info->si_addr;
    bool ours = false;
    if (info->si_code == SEGV_ACCERR) {
        atomic_fetch_add(&in_handler, 1);
        for (int i = 0; i < MAX_RANGES && !ours; i++) {
            mp_tracker *m = atomic_load(&ranges[i]);
            if (!m || addr < (uintptr_t)m->t.base || addr >= (uintptr_t)m->t.base + m->t.size)
                continue;
            size_t b = (addr - (uintptr_t)m->t.base) / m->block;
            size_t off = b * m->block;
            size_t len = m->t.size - off < m->block ? m->t.size - off : m->block;
            atomic_fetch_add(&m->handling[b], 1);
            ours = mprotect(m->t.base + off, len, PROT_READ | PROT_WRITE) == 0;
            if (ours)
                tn_track_mark(m->bits, b);
            atomic_fetch_sub(&m->handling[b], 1);
        }
        atomic_fetch_sub(&in_handler, 1);
        if (!ours)
            ours = recently_closed(addr);
    }
    errno = saved_errno;
    if (!ours)
        chain(sig, info, uctx);
}

static bool is_ours(const struct sigaction *sa)
{
    return (sa->sa_flags & SA_SIGINFO) && sa->sa_sigaction == on_segv;
}

static tern_err protect_runs(mp_tracker *m, size_t w, uint64_t bits)
{
    while (bits) {
        unsigned len;
        size_t off = (w * 64 + tn_track_take_run(&bits, &len)) * m->block;
        size_t bytes = (size_t)len * m->block;
        if (bytes > m->t.size - off)
            bytes = m->t.size - off;
        if (mprotect(m->t.base + off, bytes, PROT_READ) != 0) {
            tn_trace(TERN_TRACE_MIGRATE, "track: mprotect re-protect: %s", strerror(errno));
            return tern_err_from_errno(errno);
        }
    }
    return TERN_OK;
}

static tern_err mp_collect(tn_tracker *t, uint64_t *dirty, size_t *count)
{
    mp_tracker *m = (mp_tracker *)t;
    size_t per_block = m->block / t->page;
    /* Counts read before the marks: a handler done by then has marked. */
    bool busy = atomic_load(&in_handler) != 0;
    for (size_t w = 0; w < m->nwords; w++) {
        uint64_t bits = 0;
        for (size_t b = w * 64; busy && b < m->nblocks && b < w * 64 + 64; b++)
            if (atomic_load(&m->handling[b]) != 0)
                bits |= (uint64_t)1 << (b % 64);
        if (bits == 0 && atomic_load_explicit(&m->bits[w], memory_order_relaxed) == 0)
            continue;
        bits |= atomic_exchange_explicit(&m->bits[w], 0, memory_order_acq_rel);
        for (uint64_t left = bits; left;) {
            size_t b = w * 64 + (size_t)__builtin_ctzll(left);
            left &= left - 1;
            size_t first = b * per_block;
            size_t n = t->npages - first < per_block ? t->npages - first : per_block;
            tn_bits_set(dirty, first, n);
            *count += n;
        }
        /* Protecting a block a handler is at work on is harmless: it ends
         * writable and marked, or protected. */
        tern_err err = protect_runs(m, w, bits);
        if (err != TERN_OK)
            return err;
    }
    return TERN_OK;
}

static void mp_close(tn_tracker *t)
{
    mp_tracker *m = (mp_tracker *)t;
    pthread_mutex_lock(&reg_lock);
    /* Writable first: a fault that comes after must not find the range
     * gone from the table while its block is still protected. */
    mprotect(t->base, t->size, PROT_READ | PROT_WRITE);
    unsigned r = next_retired++ % RETIRED;
    atomic_store(&retired[r].when, 0);
    atomic_store(&retired[r].start, (uintptr_t)t->base);
    atomic_store(&retired[r].end, (uintptr_t)t->base + t->size);
    atomic_store(&retired[r].when, tern_clock_ns());
    atomic_store(&ranges[m->slot], NULL);
    if (--nopen == 0) {
        /* Put the previous handler back unless someone replaced ours. */
        struct sigaction cur;
        if (sigaction(SIGSEGV, NULL, &cur) == 0 && is_ours(&cur))
            sigaction(SIGSEGV, &prev, NULL);
    }
    pthread_mutex_unlock(&reg_lock);
    while (atomic_load(&in_handler) != 0)
        sched_yield();
    free(m->handling);
    free(m->bits);
    free(m);
}

/* Makes on_segv the handler, saving the one before. Someone may have
 * replaced ours while trackers were open; then it goes in again. Called
 * under reg_lock. */
static tern_err install_handler(void)
{
    struct sigaction cur;
    if (sigaction(SIGSEGV, NULL, &cur) != 0)
        return TERN_ESYSTEM;
    if (is_ours(&cur))
        return TERN_OK;
    struct sigaction ours = {.sa_sigaction = on_segv,
                             .sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART};
    sigemptyset(&ours.sa_mask);
    prev = cur;
    if (sigaction(SIGSEGV, &ours, NULL) != 0 || sigaction(SIGSEGV, NULL, &cur) != 0)
        return TERN_ESYSTEM;
    /* A sanitizer runtime may keep SIGSEGV to itself and ignore us. */
    if (!is_ours(&cur)) {
        tn_trace(TERN_TRACE_MIGRATE, "track: the SIGSEGV handler did not take");
        return TERN_ENOTSUP;
    }
    return TERN_OK;
}

tern_err tn_track_mprotect_open(tn_tracker **tracker, char *base, size_t size)
{
    mp_tracker *m = calloc(1, sizeof *m);
    if (!m)
        return TERN_ENOMEM;
    tn_track_init(&m->t, TERN_TRACK_MPROTECT, base, size);
    m->t.collect = mp_collect;
    m->t.close = mp_close;
    m->block = m->t.page > MP_BLOCK ? m->t.page : MP_BLOCK;
    m->nblocks = (size + m->block - 1) / m->block;
    m->nwords = (m->nblocks + 63) / 64;
    m->bits = calloc(m->nwords, sizeof *m->bits);
    m->handling = calloc(m->nblocks, sizeof *m->handling);
    if (!m->bits || !m->handling) {
        free(m->handling);
        free(m->bits);
        free(m);
        return TERN_ENOMEM;
    }

    pthread_mutex_lock(&reg_lock);
    tern_err err = TERN_ENOTSUP;
    m->slot = -1;
    for (int i = 0; i < MAX_RANGES && m->slot < 0; i++)
        if (!atomic_load(&ranges[i]))
            m->slot = i;
    if (m->slot < 0)
        tn_trace(TERN_TRACE_MIGRATE, "track: %d mprotect trackers open already", MAX_RANGES);
    else
        err = install_handler();
    if (err == TERN_OK) {
        /* In the table before the first fault can come. */
        atomic_store(&ranges[m->slot], m);
        nopen++;
        if (mprotect(base, size, PROT_READ) != 0) {
            int e = errno;
            tn_trace(TERN_TRACE_MIGRATE, "track: mprotect: %s", strerror(e));
            err = tern_err_from_errno(e);
            pthread_mutex_unlock(&reg_lock);
            mp_close(&m->t);
            return err;
        }
    }
    pthread_mutex_unlock(&reg_lock);
    if (err != TERN_OK) {
        free(m->handling);
        free(m->bits);
        free(m);
        return err;
    }
    *tracker = &m->t;
    return TERN_OK;
}
