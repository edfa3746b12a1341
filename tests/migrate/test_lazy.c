/* Post-copy placement: threads touching missing pages get the source's
 * images through fetch() and a "server" thread that places them, also
 * while a background stream places every page at the same time; pages
 * not needed read as zero or keep what they held, without a fetch; stale
 * images of needed pages are dropped; a lost request is asked again;
 * close leaves ordinary memory. Prints the fault latency and the
 * placement throughput. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "migrate/lazy.h"
#include "testutil.h"

static size_t page;

/* ---- source and arena ---------------------------------------------------- */

typedef struct world {
    size_t npages;
    char *arena;
    char *src;        /* what the source holds: the pages' right images */
    uint64_t *needed; /* pages that must come from the source */
    uint64_t nneeded;
} world;

static bool is_needed(const world *w, uint64_t p)
{
    return w->needed[p / 64] >> (p % 64) & 1;
}

/* sparse: every fifth page is zero at the source, and every eleventh is
 * not needed (current here already: zero, unless a test wrote it). */
static void world_init(world *w, size_t npages, bool sparse)
{
    w->npages = npages;
    w->arena =
        mmap(NULL, npages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(w->arena != MAP_FAILED);
    w->src = malloc(npages * page);
    w->needed = calloc((npages + 63) / 64, sizeof(uint64_t));
    assert_non_null(w->src);
    assert_non_null(w->needed);
    w->nneeded = 0;
    for (size_t p = 0; p < npages; p++) {
        uint64_t *words = (uint64_t *)(w->src + p * page);
        bool need = !sparse || p % 11 != 7;
        for (size_t k = 0; k < page / 8; k++)
            words[k] = !need || (sparse && p % 5 == 2) ? 0 : (uint64_t)p << 32 ^ k ^ 0x5a5a5a5aull;
        if (need) {
            w->needed[p / 64] |= 1ull << (p % 64);
            w->nneeded++;
        }
    }
}

static void world_free(world *w)
{
    munmap(w->arena, w->npages * page);
    free(w->src);
    free(w->needed);
}

/* ---- the source's server: answers fetches after a delay ------------------ */

enum { QMAX = 4096 };

typedef struct server {
    world *w;
    tn_lazy *lazy;
    unsigned delay_us;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t qfirst[QMAX];
    uint32_t qcount[QMAX];
    size_t head, tail;
    bool stop;
    pthread_t thread;
    atomic_uint drop;     /* requests to lose, as a cut connection would */
    atomic_uint requests; /* fetch() calls, lost ones included */
    atomic_uint bad;      /* requests for pages not needed, or out of range */
    atomic_int place_err; /* first tn_lazy_place failure */
} server;

/* Places [first, first+count) as the source would send it: zero pages as
 * zero runs, the others as images. */
static tern_err place_range(tn_lazy *lazy, const world *w, uint64_t first, uint64_t count)
{
    while (count > 0) {
        bool zero = true;
        for (size_t k = 0; zero && k < page; k += 8)
            zero = *(const uint64_t *)(w->src + first * page + k) == 0;
        uint64_t n = 1;
        while (n < count) {
            bool z = true;
            for (size_t k = 0; z && k < page; k += 8)
                z = *(const uint64_t *)(w->src + (first + n) * page + k) == 0;
            if (z != zero)
                break;
            n++;
        }
        tern_err err = tn_lazy_place(lazy, first, (uint32_t)n, zero ? NULL : w->src + first * page);
        if (err != TERN_OK)
            return err;
        first += n;
        count -= n;
    }
    return TERN_OK;
}

static tern_err server_fetch(void *arg, uint64_t first, uint32_t count)
{
    server *s = arg;
    atomic_fetch_add(&s->requests, 1);
    if (count == 0 || first + count > s->w->npages) {
        atomic_fetch_add(&s->bad, 1);
        return TERN_EINVAL;
    }
    for (uint64_t p = first; p < first + count; p++)
        if (!is_needed(s->w, p))
            atomic_fetch_add(&s->bad, 1);
    unsigned d = atomic_load(&s->drop);
    while (d > 0 && !atomic_compare_exchange_weak(&s->drop, &d, d - 1)) {
    }
    if (d > 0)
        return TERN_OK; /* sent, and lost on the way */
    pthread_mutex_lock(&s->mu);
    tern_err err = TERN_EAGAIN;
    if (s->tail - s->head < QMAX) {
        s->qfirst[s->tail % QMAX] = first;
        s->qcount[s->tail % QMAX] = count;
        s->tail++;
        pthread_cond_signal(&s->cv);
        err = TERN_OK;
    }
    pthread_mutex_unlock(&s->mu);
    return err;
}

static void *server_main(void *arg)
{
    server *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->stop && s->head == s->tail)
            pthread_cond_wait(&s->cv, &s->mu);
        if (s->head == s->tail)
            break;
        uint64_t first = s->qfirst[s->head % QMAX];
        uint32_t count = s->qcount[s->head % QMAX];
        s->head++;
        pthread_mutex_unlock(&s->mu);
        if (s->delay_us)
            usleep(s->delay_us);
        tern_err err = place_range(s->lazy, s->w, first, count);
        int none = TERN_OK;
        if (err != TERN_OK)
            atomic_compare_exchange_strong(&s->place_err, &none, (int)err);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* Opens the lazy range over w's arena with a server behind fetch().
 * userfaultfd works on the kernels tern supports: a failure, not a skip. */
static void server_start(server *s, world *w, unsigned delay_us)
{
    memset(s, 0, sizeof(*s));
    s->w = w;
    s->delay_us = delay_us;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    check_ok(tn_lazy_open(&s->lazy, w->arena, w->npages * page, w->needed, server_fetch, s));
    assert_int_equal(tn_lazy_remaining(s->lazy), w->nneeded);
    assert_int_equal(pthread_create(&s->thread, NULL, server_main, s), 0);
}

static void server_stop(server *s)
{
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    tn_lazy_close(s->lazy);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    assert_int_equal(atomic_load(&s->bad), 0);
    assert_int_equal(atomic_load(&s->place_err), TERN_OK);
}

/* ---- threads touching the arena ------------------------------------------ */

enum { NWORKERS = 4 };

typedef struct worker {
    world *w;
    unsigned id;
    uint64_t *mine;     /* word 0 of the pages this worker owns, as last written */
    atomic_uint *wrong; /* words that read differently than expected */
    pthread_t thread;
} worker;

/* Word k of page p as the arena must hold it (word 0 of an owned page
 * aside). */
static uint64_t expect(const world *w, uint64_t p, size_t k)
{
    return ((const uint64_t *)(w->src + p * page))[k];
}

/* Two passes over every page in a random order: each page read whole
 * (word 0 only by its owner, who also writes it, so its writes must stick
 * however the page arrived). The first touch of a page may be the write. */
static void *worker_main(void *arg)
{
    worker *wk = arg;
    world *w = wk->w;
    unsigned seed = wk->id * 7919 + 1;
    size_t *order = malloc(w->npages * sizeof(*order));
    if (!order) {
        atomic_fetch_add(wk->wrong, 1);
        return NULL;
    }
    for (size_t i = 0; i < w->npages; i++)
        order[i] = i;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = w->npages - 1; i > 0; i--) {
            size_t j = (size_t)rand_r(&seed) % (i + 1), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        for (size_t i = 0; i < w->npages; i++) {
            uint64_t p = order[i];
            volatile uint64_t *words = (volatile uint64_t *)(w->arena + p * page);
            bool own = p % NWORKERS == wk->id;
            if (own && (rand_r(&seed) & 1))
                words[0] = wk->mine[p] = (uint64_t)wk->id << 56 | (uint64_t)pass << 48 | p;
            for (size_t k = 1; k < page / 8; k++)
                if (words[k] != expect(w, p, k))
                    atomic_fetch_add(wk->wrong, 1);
            if (own) {
                if (words[0] != wk->mine[p])
                    atomic_fetch_add(wk->wrong, 1);
                words[0] = wk->mine[p] = (uint64_t)wk->id << 56 | (uint64_t)(pass + 2) << 48 | p;
            }
        }
    }
    free(order);
    return NULL;
}

/* Runs the workers to the end and checks the whole arena. */
static void run_workers(world *w)
{
    uint64_t *mine = malloc(w->npages * sizeof(*mine));
    assert_non_null(mine);
    for (size_t p = 0; p < w->npages; p++)
        mine[p] = expect(w, p, 0);
    atomic_uint wrong = 0;
    worker wk[NWORKERS];
    for (unsigned i = 0; i < NWORKERS; i++) {
        wk[i] = (worker){.w = w, .id = i, .mine = mine, .wrong = &wrong};
        assert_int_equal(pthread_create(&wk[i].thread, NULL, worker_main, &wk[i]), 0);
    }
    for (unsigned i = 0; i < NWORKERS; i++)
        pthread_join(wk[i].thread, NULL);
    assert_int_equal(atomic_load(&wrong), 0);
    for (size_t p = 0; p < w->npages; p++) {
        const uint64_t *words = (const uint64_t *)(w->arena + p * page);
        assert_int_equal(words[0], mine[p]);
        assert_memory_equal(words + 1, w->src + p * page + 8, page - 8);
    }
    free(mine);
}

/* ---- tests ----------------------------------------------------------------- */

static void check_stats(tn_lazy *lazy, uint64_t max_faults)
{
    tn_lazy_stats st;
    tn_lazy_stats_get(lazy, &st);
    assert_true(st.faults > 0);
    assert_true(st.faults <= max_faults);
    assert_true(st.p50_ns > 0);
    assert_true(st.p50_ns <= st.p99_ns && st.p99_ns <= st.max_ns);
    print_message("faults %llu, latency p50 %.1f us, p99 %.1f us, max %.1f us\n",
                  (unsigned long long)st.faults, st.p50_ns / 1e3, st.p99_ns / 1e3, st.max_ns / 1e3);
}

static void faulting_threads_get_the_source_pages(void **state)
{
    (void)state;
    world w;
    world_init(&w, 1024, true);
    server s;
    server_start(&s, &w, 200);
    run_workers(&w);
    assert_int_equal(tn_lazy_remaining(s.lazy), 0);
    check_stats(s.lazy, w.nneeded);
    assert_true(atomic_load(&s.requests) > 0);
    server_stop(&s);
    world_free(&w);
}

typedef struct stream {
    world *w;
    tn_lazy *lazy;
    atomic_int err;
    pthread_t thread;
} stream;

/* The background stream: every page (needed or not), 16 at a time, in
 * order, with pauses so that faults and fetch replies race with it. */
static void *stream_main(void *arg)
{
    stream *st = arg;
    for (uint64_t p = 0; p < st->w->npages; p += 16) {
        uint64_t n = st->w->npages - p < 16 ? st->w->npages - p : 16;
        tern_err err = place_range(st->lazy, st->w, p, n);
        if (err != TERN_OK) {
            atomic_store(&st->err, (int)err);
            break;
        }
        if (p % 128 == 0)
            usleep(100);
    }
    return NULL;
}

static void stream_races_with_fetch_replies(void **state)
{
    (void)state;
    world w;
    world_init(&w, 2048, true);
    server s;
    server_start(&s, &w, 50);
    stream st = {.w = &w, .lazy = s.lazy};
    assert_int_equal(pthread_create(&st.thread, NULL, stream_main, &st), 0);
    run_workers(&w);
    pthread_join(st.thread, NULL);
    assert_int_equal(atomic_load(&st.err), TERN_OK);
    assert_int_equal(tn_lazy_remaining(s.lazy), 0);
    server_stop(&s);
    world_free(&w);
}

/* One thread reading in order: a fault brings a block (up to 16 pages, up
 * to the next page not needed), so far fewer faults than pages. */
static void sequential_reads_fetch_blocks(void **state)
{
    (void)state;
    world w;
    world_init(&w, 4096, true);
    server s;
    server_start(&s, &w, 0);
    for (size_t p = 0; p < w.npages; p++)
        assert_memory_equal(w.arena + p * page, w.src + p * page, page);
    assert_int_equal(tn_lazy_remaining(s.lazy), 0);
    check_stats(s.lazy, w.nneeded / 4);
    server_stop(&s);
    world_free(&w);
}

/* Hybrid: pages not needed hold current images from precopy and keep
 * them (a late stream copy does not overwrite them); needed pages held
 * stale images, which are dropped and fetched. */
static void hybrid_keeps_current_pages_and_drops_stale_ones(void **state)
{
    (void)state;
    world w;
    world_init(&w, 1024, true);
    for (size_t p = 0; p < w.npages; p++) {
        if (is_needed(&w, p))
            memset(w.arena + p * page, 0xab, page);
        else if (p % 2 == 0) /* the odd ones stay untouched: zero */
            memset(w.arena + p * page, (int)(p & 0x7f) + 1, page);
    }
    server s;
    server_start(&s, &w, 100);
    uint64_t kept = 18; /* not needed, written before */
    assert_false(is_needed(&w, kept));
    char junk[1 << 16];
    assert_true(page <= sizeof(junk));
    memset(junk, 0xee, page);
    check_ok(tn_lazy_place(s.lazy, kept, 1, junk));
    assert_int_equal(tn_lazy_remaining(s.lazy), w.nneeded);
    for (size_t p = w.npages; p-- > 0;) {
        const unsigned char *a = (const unsigned char *)w.arena + p * page;
        if (is_needed(&w, p)) {
            assert_memory_equal(a, w.src + p * page, page);
        } else {
            int want = p % 2 == 0 ? (int)(p & 0x7f) + 1 : 0;
            for (size_t k = 0; k < page; k++)
                assert_int_equal(a[k], want);
        }
    }
    assert_int_equal(tn_lazy_remaining(s.lazy), 0);
    server_stop(&s);
    world_free(&w);
}

/* The first request is lost (a cut urgent connection): the waiting thread
 * does not fault again, so the page is asked for again on a timer. */
static void lost_request_is_asked_again(void **state)
{
    (void)state;
    world w;
    world_init(&w, 64, false);
    server s;
    server_start(&s, &w, 0);
    atomic_store(&s.drop, 1);
    uint64_t t0 = tern_clock_ns();
    assert_memory_equal(w.arena + 3 * page, w.src + 3 * page, page);
    uint64_t waited = tern_clock_ns() - t0;
    assert_true(atomic_load(&s.requests) >= 2);
    assert_true(waited >= 150 * 1000000ull);
    print_message("a lost request was asked again after %.0f ms\n", waited / 1e6);
    server_stop(&s);
    world_free(&w);
}

static tern_err no_fetch(void *arg, uint64_t first, uint32_t count)
{
    (void)first;
    (void)count;
    atomic_fetch_add((atomic_uint *)arg, 1);
    return TERN_OK;
}

/* Placing is exact (bounds, repeats, zero pages) and close hands back
 * ordinary memory: pages never placed read as zero, writes stick. */
static void close_leaves_ordinary_memory(void **state)
{
    (void)state;
    world w;
    world_init(&w, 256, false);
    atomic_uint fetches = 0;
    tn_lazy *lazy;
    check_ok(tn_lazy_open(&lazy, w.arena, w.npages * page, w.needed, no_fetch, &fetches));
    check_err(tn_lazy_place(lazy, w.npages, 1, w.src), TERN_EINVAL);
    check_err(tn_lazy_place(lazy, w.npages - 1, 2, w.src), TERN_EINVAL);
    check_ok(tn_lazy_place(lazy, 0, 100, w.src));
    check_ok(tn_lazy_place(lazy, 50, 100, w.src + 50 * page)); /* 50..99 again */
    check_ok(tn_lazy_place(lazy, 150, 10, NULL));
    assert_int_equal(tn_lazy_remaining(lazy), w.npages - 160);
    tn_lazy_stats st;
    tn_lazy_stats_get(lazy, &st);
    assert_int_equal(st.faults, 0);
    tn_lazy_close(lazy);
    assert_int_equal(atomic_load(&fetches), 0);

    assert_memory_equal(w.arena, w.src, 150 * page);
    for (size_t k = 150 * page; k < w.npages * page; k++)
        assert_int_equal(w.arena[k], 0);
    memset(w.arena + 200 * page, 0x42, page);
    assert_int_equal(w.arena[201 * page - 1], 0x42);
    assert_int_equal(madvise(w.arena, page, MADV_DONTNEED), 0);
    assert_int_equal(w.arena[5], 0);
    world_free(&w);
}

/* tn_lazy_place alone, 64 KiB a call, as the background stream does. */
static void place_throughput_256mib(void **state)
{
    (void)state;
    world w;
    world_init(&w, ((size_t)256 << 20) / page, false);
    atomic_uint fetches = 0;
    tn_lazy *lazy;
    check_ok(tn_lazy_open(&lazy, w.arena, w.npages * page, w.needed, no_fetch, &fetches));
    const uint32_t per = (uint32_t)(((size_t)64 << 10) / page);
    uint64_t t0 = tern_clock_ns();
    for (uint64_t p = 0; p < w.npages; p += per)
        check_ok(tn_lazy_place(lazy, p, per, w.src + p * page));
    uint64_t ns = tern_clock_ns() - t0;
    assert_int_equal(tn_lazy_remaining(lazy), 0);
    tn_lazy_close(lazy);
    assert_int_equal(atomic_load(&fetches), 0);
    for (size_t p = 0; p < w.npages; p += 997)
        assert_memory_equal(w.arena + p * page, w.src + p * page, page);
    print_message("placed 256 MiB in 64 KiB calls: %.0f ms, %.0f MiB/s\n", ns / 1e6,
                  256.0 / (ns / 1e9));
    world_free(&w);
}

int main(void)
{
    page = (size_t)sysconf(_SC_PAGESIZE);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(faulting_threads_get_the_source_pages),
        cmocka_unit_test(stream_races_with_fetch_replies),
        cmocka_unit_test(sequential_reads_fetch_blocks),
        cmocka_unit_test(hybrid_keeps_current_pages_and_drops_stale_ones),
        cmocka_unit_test(lost_request_is_asked_again),
        cmocka_unit_test(close_leaves_ordinary_memory),
        cmocka_unit_test(place_throughput_256mib),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
