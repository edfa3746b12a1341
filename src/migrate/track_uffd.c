/* Dirty tracking with userfaultfd write-protect faults (Linux 6.4 for
 * untouched pages): the first write to a protected page stops the writer
 * and queues a message; a handler thread lifts the protection, marks the
 * page and wakes the writer. Collect takes the marks and protects those
 * pages again.
 *
 * The handler lifts the protection before it marks the page, and wakes the
 * writer only after: the writer cannot run on (to a safepoint, say) before
 * its page is marked. The other order would let a collect take the mark
 * and protect the page just before the handler unprotects it, and writes
 * from then on would go unseen. Between the two steps another thread may
 * write the page without a fault; so that the next collect reports that
 * write even if the handler is slow to mark, the handler announces the
 * page it is working on first, and collect reports it too. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/trace.h"
#include "migrate/track_backend.h"
#include "migrate/uffd.h"

typedef struct uffd_tracker {
    tn_tracker t;
    int uffd;
    int stop; /* eventfd: the handler thread exits when it is readable */
    pthread_t thread;
    atomic_bool broken;     /* the handler failed and gave up protecting */
    atomic_size_t handling; /* the page the handler is unprotecting, or SIZE_MAX */
    size_t nwords;
    tn_track_word *bits;
} uffd_tracker;

static tern_err wake(int uffd, char *addr, size_t len)
{
    struct uffdio_range range = {.start = (uintptr_t)addr, .len = len};
    while (ioctl(uffd, UFFDIO_WAKE, &range) != 0)
        if (errno != EAGAIN && errno != EINTR)
            return tern_err_from_errno(errno);
    return TERN_OK;
}

static tern_err handle_fault(uffd_tracker *u, uint64_t address)
{
    char *page = (char *)(uintptr_t)(address & ~(uint64_t)(u->t.page - 1));
    if (page < u->t.base || page >= u->t.base + u->t.size)
        return TERN_OK;
    size_t i = (size_t)(page - u->t.base) / u->t.page;
    atomic_store(&u->handling, i);
    tern_err err =
        tn_uffd_writeprotect(u->uffd, page, u->t.page, UFFDIO_WRITEPROTECT_MODE_DONTWAKE);
    if (err == TERN_OK)
        tn_track_mark(u->bits, i);
    atomic_store(&u->handling, SIZE_MAX);
    return err != TERN_OK ? err : wake(u->uffd, page, u->t.page);
}

static void *handler_main(void *arg)
{
    uffd_tracker *u = arg;
    struct uffd_msg msgs[32];
    tern_err err = TERN_OK;
    while (err == TERN_OK) {
        struct pollfd p[2] = {{.fd = u->uffd, .events = POLLIN}, {.fd = u->stop, .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            err = errno == EINTR ? TERN_OK : tern_err_from_errno(errno);
            continue;
        }
        if (p[1].revents)
            return NULL;
        ssize_t n = read(u->uffd, msgs, sizeof msgs);
        if (n < 0) {
            err = errno == EAGAIN || errno == EINTR ? TERN_OK : tern_err_from_errno(errno);
            continue;
        }
        for (size_t i = 0; err == TERN_OK && i < (size_t)n / sizeof msgs[0]; i++)
            if (msgs[i].event == UFFD_EVENT_PAGEFAULT &&
                (msgs[i].arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP))
                err = handle_fault(u, msgs[i].arg.pagefault.address);
    }
    /* Writers must not hang on a handler that is gone: make collect fail
     * from now on, lift every protection and unregister, which wakes them
     * and keeps a collect under way from protecting anything again. */
    tn_trace(TERN_TRACE_MIGRATE, "track: uffd_wp handler failed: %s", tern_errname(err));
    atomic_store(&u->broken, true);
    tn_uffd_writeprotect(u->uffd, u->t.base, u->t.size, 0);
    tn_uffd_unregister(u->uffd, u->t.base, u->t.size);
    return NULL;
}

/* Protects the pages of word w's set bits, a run at a time. */
static tern_err reprotect(uffd_tracker *u, size_t w, uint64_t bits)
{
    tern_err err = TERN_OK;
    while (bits && err == TERN_OK) {
        unsigned len;
        size_t page = w * 64 + tn_track_take_run(&bits, &len);
        err = tn_uffd_writeprotect(u->uffd, u->t.base + page * u->t.page, (size_t)len * u->t.page,
                                   UFFDIO_WRITEPROTECT_MODE_WP);
    }
    return err;
}

static tern_err uffd_collect(tn_tracker *t, uint64_t *dirty, size_t *count)
{
    uffd_tracker *u = (uffd_tracker *)t;
    if (atomic_load(&u->broken))
        return TERN_ESYSTEM;
    /* Read before the marks: if the handler is done with it by now, its
     * mark is there. Protecting it again is harmless either way. */
    size_t handling = atomic_load(&u->handling);
    size_t hw = handling == SIZE_MAX ? SIZE_MAX : handling / 64;
    for (size_t w = 0; w < u->nwords; w++) {
        if (w != hw && atomic_load_explicit(&u->bits[w], memory_order_relaxed) == 0)
            continue;
        uint64_t bits = atomic_exchange_explicit(&u->bits[w], 0, memory_order_acq_rel);
        if (w == hw)
            bits |= (uint64_t)1 << (handling % 64);
        dirty[w] |= bits;
        *count += (size_t)__builtin_popcountll(bits);
        tern_err err = reprotect(u, w, bits);
        if (err != TERN_OK)
            return err;
    }
    return TERN_OK;
}

static void uffd_close(tn_tracker *t)
{
    uffd_tracker *u = (uffd_tracker *)t;
    uint64_t one = 1;
    while (write(u->stop, &one, sizeof one) < 0 && errno == EINTR) {
    }
    pthread_join(u->thread, NULL);
    /* Writers that faulted since the handler left wait for this. */
    tn_uffd_writeprotect(u->uffd, t->base, t->size, 0);
    tn_uffd_unregister(u->uffd, t->base, t->size);
    close(u->uffd);
    close(u->stop);
    free(u->bits);
    free(u);
}

tern_err tn_track_uffd_open(tn_tracker **tracker, char *base, size_t size)
{
    uffd_tracker *u = calloc(1, sizeof *u);
    if (!u)
        return TERN_ENOMEM;
    tn_track_init(&u->t, TERN_TRACK_UFFD_WP, base, size);
    u->t.collect = uffd_collect;
    u->t.close = uffd_close;
    u->nwords = (u->t.npages + 63) / 64;
    atomic_init(&u->handling, SIZE_MAX);
    u->bits = calloc(u->nwords, sizeof *u->bits);
    u->stop = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (!u->bits || u->stop < 0) {
        tern_err err = u->stop < 0 ? tern_err_from_errno(errno) : TERN_ENOMEM;
        if (u->stop >= 0)
            close(u->stop);
        free(u->bits);
        free(u);
        return err;
    }

    tern_err err = TERN_OK;
    uint64_t got = 0;
    u->uffd = tn_uffd_open(UFFD_FEATURE_WP_UNPOPULATED, &got, &err);
    if (u->uffd < 0)
        goto fail;
    /* Without markers on untouched pages their first write would fault
     * in a fresh writable page and never reach us. */
    if (!(got & UFFD_FEATURE_WP_UNPOPULATED)) {
        tn_trace(TERN_TRACE_MIGRATE, "track: no write-protect of untouched pages (Linux < 6.4)");
        err = TERN_ENOTSUP;
        goto fail_fd;
    }
    /* As with mprotect, a system call writing into a protected page then
     * fails with EFAULT. */
    if (got & TN_UFFD_USER_MODE_ONLY)
        tn_trace(TERN_TRACE_MIGRATE, "track: uffd_wp sees user-mode writes only");
    uint64_t ioctls = 0;
    err = tn_uffd_register(u->uffd, base, size, UFFDIO_REGISTER_MODE_WP, &ioctls);
    if (err != TERN_OK)
        goto fail_fd;
    uint64_t need = (uint64_t)1 << _UFFDIO_WRITEPROTECT | (uint64_t)1 << _UFFDIO_WAKE;
    if ((ioctls & need) != need) {
        err = TERN_ENOTSUP;
        goto fail_reg;
    }
    err = tn_uffd_writeprotect(u->uffd, base, size, UFFDIO_WRITEPROTECT_MODE_WP);
    if (err != TERN_OK)
        goto fail_reg;
    int e = pthread_create(&u->thread, NULL, handler_main, u);
    if (e != 0) {
        tn_uffd_writeprotect(u->uffd, base, size, 0);
        err = tern_err_from_errno(e);
        goto fail_reg;
    }
    *tracker = &u->t;
    return TERN_OK;

fail_reg:
    tn_uffd_unregister(u->uffd, base, size);
fail_fd:
    close(u->uffd);
fail:
    close(u->stop);
    free(u->bits);
    free(u);
    return err;
}
