/* Post-copy placement with userfaultfd MISSING faults.
 *
 * A bitmap says which pages are here: needed pages start clear, every
 * other page starts set (it never comes from the source). A bit is set only
 * after the kernel installed the page, so a set bit means a thread touching
 * the page no longer waits. The kernel itself settles races between
 * placers: the second UFFDIO_COPY of a page fails with EEXIST, and the
 * fetch_or on the bitmap counts each page once, whoever flips it.
 *
 * The fault thread asks for a block (the faulting page and the missing
 * pages after it) so sequential access needs fewer round trips, remembers
 * recent requests so a second fault on a requested page does not ask
 * again, and asks again for pages waited on longer than REFETCH_NS: the
 * request may have died with a cut connection. A thread waiting on a page
 * faults only once, so that re-ask runs off a timer, not off faults. */
#include "migrate/lazy.h"
#include "migrate/bitmap.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/trace.h"
#include "migrate/uffd.h"

enum {
    BLOCK = 16,     /* pages per request: 64 KiB of 4 KiB pages */
    NREQ = 64,      /* recent requests remembered */
    NWAIT = 256,    /* pages waited on, tracked at once (more threads than that: untracked) */
    NSAMPLE = 4096, /* latencies kept for the percentiles, the most recent */
    TICK_MS = 50,   /* how often waiters are checked for a re-ask */
};
#define REFETCH_NS (200 * 1000000ull)

typedef struct request {
    uint64_t first;
    uint64_t count;
    uint64_t at; /* 0: slot unused */
} request;

typedef struct waiter {
    uint64_t page;
    uint64_t fault_ns;
    uint64_t asked_ns;
} waiter;

struct tn_lazy {
    char *base;
    size_t size;
    size_t page;
    uint64_t npages;
    size_t nwords;
    _Atomic uint64_t *placed;
    _Atomic uint64_t remaining;
    tn_lazy_fetch_fn *fetch;
    void *arg;
    int uffd;
    int stop; /* eventfd: the fault thread exits when it is readable */
    pthread_t thread;

    /* The fault thread's own. */
    request req[NREQ];
    unsigned next_req;

    pthread_mutex_t mu;     /* guards what follows */
    _Atomic unsigned nwait; /* lets placers skip the lock when nobody waits */
    waiter wait[NWAIT];
    uint64_t faults;
    uint64_t max_ns;
    uint64_t nsamples;
    uint64_t sample[NSAMPLE];
};

static bool is_placed(const tn_lazy *l, uint64_t p)
{
    return atomic_load(&l->placed[p / 64]) >> (p % 64) & 1;
}

/* Sets the bits of [first, first+n) and counts those that flipped. */
static void mark(tn_lazy *l, uint64_t first, uint64_t n)
{
    while (n > 0) {
        unsigned bit = (unsigned)(first % 64);
        uint64_t take = n < 64 - bit ? n : 64 - bit;
        uint64_t mask = (take == 64 ? ~0ull : ((1ull << take) - 1)) << bit;
        uint64_t old = atomic_fetch_or(&l->placed[first / 64], mask);
        uint64_t flipped = (uint64_t)__builtin_popcountll(mask & ~old);
        if (flipped)
            atomic_fetch_sub(&l->remaining, flipped);
        first += take;
        n -= take;
    }
}

static void record(tn_lazy *l, uint64_t ns)
{
    l->sample[l->nsamples++ % NSAMPLE] = ns;
    if (ns > l->max_ns)
        l->max_ns = ns;
}

/* Retires the waiters on placed pages of [first, first+n), taking their
 * latency. Runs after the bits are set; the fault thread adds a waiter
 * before it looks at the bit, so one of the two always sees the other. */
static void settle(tn_lazy *l, uint64_t first, uint64_t n)
{
    if (atomic_load(&l->nwait) == 0)
        return;
    pthread_mutex_lock(&l->mu);
    uint64_t now = tern_clock_ns();
    unsigned nw = atomic_load(&l->nwait);
    for (unsigned i = 0; i < nw; i++) {
        waiter *w = &l->wait[i];
        if (w->page < first || w->page - first >= n || !is_placed(l, w->page))
            continue;
        record(l, now - w->fault_ns);
        *w = l->wait[--nw];
        i--;
    }
    atomic_store(&l->nwait, nw);
    pthread_mutex_unlock(&l->mu);
}

static void wait_add(tn_lazy *l, uint64_t p, uint64_t now, uint64_t asked)
{
    pthread_mutex_lock(&l->mu);
    unsigned nw = atomic_load(&l->nwait);
    unsigned i = 0;
    while (i < nw && l->wait[i].page != p)
        i++;
    if (i == nw) {
        l->faults++;
        if (nw < NWAIT) {
            l->wait[nw] = (waiter){.page = p, .fault_ns = now, .asked_ns = asked};
            atomic_store(&l->nwait, nw + 1);
        } else {
            tn_trace(TERN_TRACE_MIGRATE, "lazy: more than %d pages waited on; page %llu untracked",
                     NWAIT, (unsigned long long)p);
        }
    }
    pthread_mutex_unlock(&l->mu);
}

static tern_err wake(tn_lazy *l, uint64_t p, uint64_t n)
{
    struct uffdio_range r = {.start = (uintptr_t)(l->base + p * l->page), .len = n * l->page};
    while (ioctl(l->uffd, UFFDIO_WAKE, &r) != 0) {
        if (errno != EAGAIN && errno != EINTR) {
            tn_trace(TERN_TRACE_MIGRATE, "lazy: wake page %llu: %s", (unsigned long long)p,
                     strerror(errno));
            return TERN_ESYSTEM;
        }
    }
    return TERN_OK;
}

/* Installs pages [first, first+n) from src (NULL: zero pages) and wakes
 * their waiters, in that order: marked placed before any thread that
 * waited on them runs, so tn_lazy_remaining never lags what threads see.
 * A page that is already there (EEXIST) counts as placed: whoever put it
 * there had the same image. */
static tern_err fill(tn_lazy *l, uint64_t first, uint64_t n, const char *src)
{
    uint64_t done = 0;
    while (done < n) {
        uint64_t dst = (uintptr_t)(l->base + (first + done) * l->page);
        uint64_t len = (n - done) * l->page;
        int64_t got;
        int rc;
        if (src) {
            struct uffdio_copy c = {.dst = dst,
                                    .src = (uintptr_t)(src + done * l->page),
                                    .len = len,
                                    .mode = UFFDIO_COPY_MODE_DONTWAKE};
            rc = ioctl(l->uffd, UFFDIO_COPY, &c);
            got = c.copy;
        } else {
            struct uffdio_zeropage z = {.range = {.start = dst, .len = len},
                                        .mode = UFFDIO_ZEROPAGE_MODE_DONTWAKE};
            rc = ioctl(l->uffd, UFFDIO_ZEROPAGE, &z);
            got = z.zeropage;
        }
        int e = rc != 0 ? errno : 0;
        if (got > 0) { /* all, or part before an error: go on after it */
            uint64_t pages = (uint64_t)got / l->page;
            mark(l, first + done, pages);
            tern_err err = wake(l, first + done, pages);
            if (err != TERN_OK)
                return err;
            done += pages;
            continue;
        }
        if (e == EAGAIN || e == EINTR) /* the address space was changing */
            continue;
        if (e == EEXIST) {
            mark(l, first + done, 1);
            tern_err err = wake(l, first + done, 1);
            if (err != TERN_OK)
                return err;
            done++;
            continue;
        }
        tn_trace(TERN_TRACE_MIGRATE, "lazy: %s pages %llu+%llu: %s", src ? "copy" : "zero",
                 (unsigned long long)(first + done), (unsigned long long)(n - done),
                 strerror(e ? e : EIO));
        return TERN_ESYSTEM;
    }
    return TERN_OK;
}

tern_err tn_lazy_place(tn_lazy *l, uint64_t first, uint32_t count, const void *data)
{
    if (!l || first > l->npages || count > l->npages - first)
        return TERN_EINVAL;
    const char *src = data;
    uint64_t end = first + count;
    tern_err err = TERN_OK;
    for (uint64_t i = first; i < end && err == TERN_OK;) {
        if (is_placed(l, i)) {
            i++;
            continue;
        }
        uint64_t j = i + 1;
        while (j < end && !is_placed(l, j))
            j++;
        err = fill(l, i, j - i, src ? src + (i - first) * l->page : NULL);
        i = j;
    }
    settle(l, first, count);
    return err;
}

/* A request younger than REFETCH_NS that covers page p, if any. */
static const request *recent(const tn_lazy *l, uint64_t p, uint64_t now)
{
    for (unsigned i = 0; i < NREQ; i++) {
        const request *r = &l->req[i];
        if (r->at && now - r->at < REFETCH_NS && p >= r->first && p - r->first < r->count)
            return r;
    }
    return NULL;
}

/* Asks for page p and the missing pages after it that nobody asked for. */
static void ask(tn_lazy *l, uint64_t p, uint64_t now)
{
    uint64_t n = 1;
    while (n < BLOCK && p + n < l->npages && !is_placed(l, p + n) && !recent(l, p + n, now))
        n++;
    tern_err err = l->fetch(l->arg, p, (uint32_t)n);
    if (err != TERN_OK) {
        /* The waiter is asked for again on a later tick. */
        tn_trace(TERN_TRACE_MIGRATE, "lazy: fetch %llu+%llu: %s", (unsigned long long)p,
                 (unsigned long long)n, tern_strerror(err));
        return;
    }
    l->req[l->next_req++ % NREQ] = (request){.first = p, .count = n, .at = now};
}

static void on_fault(tn_lazy *l, uint64_t addr, uint64_t now)
{
    uint64_t p = (addr - (uintptr_t)l->base) / l->page;
    if (addr < (uintptr_t)l->base || p >= l->npages)
        return;
    if (is_placed(l, p)) {
        /* Never needed (and never touched): it reads as zero. Or placed
         * just now: the zero page is refused and a wake is all it takes. */
        struct uffdio_zeropage z = {
            .range = {.start = addr & ~(uint64_t)(l->page - 1), .len = l->page}};
        while (ioctl(l->uffd, UFFDIO_ZEROPAGE, &z) != 0) {
            if (errno == EEXIST) {
                wake(l, p, 1);
                break;
            }
            if (errno != EAGAIN && errno != EINTR) {
                tn_trace(TERN_TRACE_MIGRATE, "lazy: zero page %llu: %s", (unsigned long long)p,
                         strerror(errno));
                break;
            }
        }
        return;
    }
    const request *r = recent(l, p, now);
    wait_add(l, p, now, r ? r->at : now);
    if (!r)
        ask(l, p, now);
    if (is_placed(l, p)) /* placed before the waiter was there to be seen */
        settle(l, p, 1);
}

/* Asks again for pages waited on too long. */
static void reask(tn_lazy *l, uint64_t now)
{
    if (atomic_load(&l->nwait) == 0)
        return;
    uint64_t due[NWAIT];
    unsigned ndue = 0;
    pthread_mutex_lock(&l->mu);
    unsigned nw = atomic_load(&l->nwait);
    for (unsigned i = 0; i < nw; i++) {
        if (now - l->wait[i].asked_ns >= REFETCH_NS) {
            l->wait[i].asked_ns = now;
            due[ndue++] = l->wait[i].page;
        }
    }
    pthread_mutex_unlock(&l->mu);
    for (unsigned i = 0; i < ndue; i++) {
        if (!is_placed(l, due[i]) && !recent(l, due[i], now)) {
            tn_trace(TERN_TRACE_MIGRATE, "lazy: page %llu still missing; asking again",
                     (unsigned long long)due[i]);
            ask(l, due[i], now);
        }
    }
}

static void *fault_main(void *arg)
{
    tn_lazy *l = arg;
    struct uffd_msg msg[64];
    const char *why = NULL;
    while (!why) {
        struct pollfd pfd[2] = {{.fd = l->uffd, .events = POLLIN},
                                {.fd = l->stop, .events = POLLIN}};
        /* Only this thread adds waiters: with none, nothing can come due. */
        int n = poll(pfd, 2, atomic_load(&l->nwait) ? TICK_MS : -1);
        if (n < 0) {
            why = errno == EINTR ? NULL : strerror(errno);
            continue;
        }
        if (pfd[1].revents)
            return NULL;
        uint64_t now = tern_clock_ns();
        if (pfd[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
            why = "userfaultfd failed";
            continue;
        }
        if (pfd[0].revents & POLLIN) {
            ssize_t got = read(l->uffd, msg, sizeof msg);
            if (got < 0 && errno != EAGAIN && errno != EINTR)
                why = strerror(errno);
            for (ssize_t i = 0; i < got / (ssize_t)sizeof msg[0]; i++)
                if (msg[i].event == UFFD_EVENT_PAGEFAULT)
                    on_fault(l, msg[i].arg.pagefault.address, now);
        }
        reask(l, now);
    }
    /* Threads waiting now stay so until the range is unregistered. */
    tn_trace(TERN_TRACE_MIGRATE, "lazy: fault thread stops: %s", why);
    return NULL;
}

/* Drops the needed pages' stale images, a run at a time. */
static tern_err drop_needed(tn_lazy *l, const uint64_t *needed)
{
    for (uint64_t p = 0; p < l->npages;) {
        if (!tn_bit_get(needed, p)) {
            p++;
            continue;
        }
        uint64_t q = p + 1;
        while (q < l->npages && tn_bit_get(needed, q))
            q++;
        if (madvise(l->base + p * l->page, (q - p) * l->page, MADV_DONTNEED) != 0) {
            tn_trace(TERN_TRACE_MIGRATE, "lazy: drop pages %llu+%llu: %s", (unsigned long long)p,
                     (unsigned long long)(q - p), strerror(errno));
            return TERN_ESYSTEM;
        }
        p = q;
    }
    return TERN_OK;
}

tern_err tn_lazy_open(tn_lazy **lazy, void *base, size_t size, const uint64_t *needed,
                      tn_lazy_fetch_fn *fetch, void *arg)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (!lazy || !base || !needed || !fetch || size == 0 || size % page || (uintptr_t)base % page)
        return TERN_EINVAL;
    tn_lazy *l = calloc(1, sizeof(*l));
    if (!l)
        return TERN_ENOMEM;
    *l = (tn_lazy){.base = base,
                   .size = size,
                   .page = page,
                   .npages = size / page,
                   .fetch = fetch,
                   .arg = arg,
                   .uffd = -1,
                   .stop = -1};
    l->nwords = (size_t)((l->npages + 63) / 64);
    l->placed = malloc(l->nwords * sizeof(*l->placed));
    if (!l->placed) {
        free(l);
        return TERN_ENOMEM;
    }
    uint64_t remaining = 0;
    for (size_t w = 0; w < l->nwords; w++) {
        uint64_t tail = l->npages - (uint64_t)w * 64;
        uint64_t want = needed[w] & (tail >= 64 ? ~0ull : (1ull << tail) - 1);
        atomic_init(&l->placed[w], ~want);
        remaining += (uint64_t)__builtin_popcountll(want);
    }
    atomic_init(&l->remaining, remaining);
    atomic_init(&l->nwait, 0);

    uint64_t features, ioctls = 0;
    const uint64_t want = 1ull << _UFFDIO_COPY | 1ull << _UFFDIO_ZEROPAGE | 1ull << _UFFDIO_WAKE;
    tern_err err = TERN_OK;
    bool registered = false;
    l->uffd = tn_uffd_open(0, &features, &err);
    if (l->uffd >= 0)
        err = tn_uffd_register(l->uffd, base, size, UFFDIO_REGISTER_MODE_MISSING, &ioctls);
    if (l->uffd >= 0 && err == TERN_OK) {
        registered = true;
        if ((ioctls & want) != want) {
            tn_trace(TERN_TRACE_MIGRATE, "lazy: userfaultfd lacks copy/zeropage/wake here");
            err = TERN_ENOTSUP;
        }
    }
    /* Registered first: a page touched between the two must fault too. */
    if (err == TERN_OK)
        err = drop_needed(l, needed);
    if (err == TERN_OK && (l->stop = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
        err = tern_err_from_errno(errno);
    if (err == TERN_OK && pthread_mutex_init(&l->mu, NULL) != 0)
        err = TERN_ENOMEM;
    if (err == TERN_OK && pthread_create(&l->thread, NULL, fault_main, l) != 0) {
        pthread_mutex_destroy(&l->mu);
        err = TERN_ENOMEM;
    }
    if (err != TERN_OK) {
        if (registered)
            tn_uffd_unregister(l->uffd, base, size);
        if (l->uffd >= 0)
            close(l->uffd);
        if (l->stop >= 0)
            close(l->stop);
        free(l->placed);
        free(l);
        return err;
    }
    tn_trace(TERN_TRACE_MIGRATE, "lazy: %llu of %llu pages to come", (unsigned long long)remaining,
             (unsigned long long)l->npages);
    *lazy = l;
    return TERN_OK;
}

uint64_t tn_lazy_remaining(const tn_lazy *lazy)
{
    return atomic_load(&lazy->remaining);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

void tn_lazy_stats_get(const tn_lazy *lazy, tn_lazy_stats *stats)
{
    tn_lazy *l = (tn_lazy *)lazy; /* the lock is not part of the value */
    uint64_t v[NSAMPLE];
    pthread_mutex_lock(&l->mu);
    size_t n = (size_t)(l->nsamples < NSAMPLE ? l->nsamples : NSAMPLE);
    memcpy(v, l->sample, n * sizeof(v[0]));
    *stats = (tn_lazy_stats){.faults = l->faults, .max_ns = l->max_ns};
    pthread_mutex_unlock(&l->mu);
    if (n == 0)
        return;
    qsort(v, n, sizeof(v[0]), cmp_u64);
    /* Nearest rank. */
    stats->p50_ns = v[(n * 50 + 99) / 100 - 1];
    stats->p99_ns = v[(n * 99 + 99) / 100 - 1];
}

void tn_lazy_close(tn_lazy *l)
{
    if (!l)
        return;
    uint64_t one = 1;
    while (write(l->stop, &one, sizeof(one)) < 0 && errno == EINTR) {
    }
    pthread_join(l->thread, NULL);
    /* Wakes whoever still waits; they retry as ordinary faults. */
    tn_uffd_unregister(l->uffd, l->base, l->size);
    close(l->uffd);
    close(l->stop);
    pthread_mutex_destroy(&l->mu);
    free(l->placed);
    free(l);
}
