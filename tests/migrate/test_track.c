/* Dirty-page tracking, every backend this machine has: exactly the pages
 * written are reported (never-touched ones too), a collect with no writes
 * reports nothing, writes racing with collects are never lost, close
 * leaves the range writable, the mprotect backend passes foreign faults
 * on to the handler before it, and tn_pages_present() tells touched pages
 * from untouched ones even under the trackers' write-protect markers. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "migrate/track.h"
#include "testutil.h"

static size_t page;

static const tern_migrate_tracker kinds[] = {TERN_TRACK_PAGEMAP_SCAN, TERN_TRACK_UFFD_WP,
                                             TERN_TRACK_MPROTECT};

static char *map_pages(size_t n)
{
    void *p = mmap(NULL, n * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(p != MAP_FAILED);
    return p;
}

static uint64_t *bitmap(size_t npages)
{
    uint64_t *b = calloc((npages + 63) / 64, sizeof *b);
    assert_non_null(b);
    return b;
}

static int bit(const uint64_t *b, size_t i)
{
    return (int)(b[i / 64] >> (i % 64) & 1);
}

static void bit_set(uint64_t *b, size_t i)
{
    b[i / 64] |= (uint64_t)1 << (i % 64);
}

/* Pages a backend reports for a write to one page. */
static size_t grain(tern_migrate_tracker kind)
{
    size_t block = (size_t)64 << 10;
    return kind == TERN_TRACK_MPROTECT && block > page ? block / page : 1;
}

/* Opens kind on the range; false (and a message) if this machine lacks it. */
/* Every backend works on the kernels tern supports (Linux 6.7+, as root):
 * one that does not is a failure here, not a skip. */
static void open_tracker(tn_tracker **t, char *base, size_t npages, tern_migrate_tracker kind)
{
    tern_err err = tn_tracker_open(t, base, npages * page, kind, NULL);
    if (err != TERN_OK)
        fail_msg("%s: %s", tern_migrate_tracker_name(kind), tern_errname(err));
    assert_int_equal(tn_tracker_kind(*t), kind);
}

/* got must hold exactly the blocks (g pages) of the pages in want, and
 * the page extra (SIZE_MAX: none). */
static void expect_pages(const uint64_t *got, size_t npages, const size_t *want, size_t nwant,
                         size_t g, size_t extra)
{
    uint64_t *exp = bitmap(npages);
    if (extra != SIZE_MAX)
        bit_set(exp, extra);
    for (size_t i = 0; i < nwant; i++)
        for (size_t p = want[i] / g * g; p < want[i] / g * g + g && p < npages; p++)
            bit_set(exp, p);
    for (size_t p = 0; p < npages; p++)
        if (bit(got, p) != bit(exp, p))
            fail_msg("page %zu: reported %d, expected %d", p, bit(got, p), bit(exp, p));
    free(exp);
}

static size_t popcount(const uint64_t *b, size_t npages)
{
    size_t n = 0;
    for (size_t i = 0; i < (npages + 63) / 64; i++)
        n += (size_t)__builtin_popcountll(b[i]);
    return n;
}

/* Written pages, touched before or never, and only those; a collect with
 * nothing written reports nothing; a page reported is re-armed. */
static void reports_exactly_the_written_pages(void **state)
{
    tern_migrate_tracker kind = *(const tern_migrate_tracker *)*state;
    const size_t npages = 256;
    char *base = map_pages(npages);
    base[0 * page] = 1;
    base[3 * page] = 1;
    base[100 * page] = 1;
    volatile char sink = base[50 * page];
    tn_tracker *t;
    open_tracker(&t, base, npages, kind);
    size_t g = grain(kind);
    uint64_t *dirty = bitmap(npages);
    size_t count = 99;
    check_ok(tn_tracker_collect(t, dirty, &count));
    assert_int_equal(count, 0);
    assert_int_equal(popcount(dirty, npages), 0);

    const size_t written[] = {3, 17, 200, 255};
    for (size_t i = 0; i < 4; i++)
        base[written[i] * page + 7] = (char)(i + 1);
    sink = base[60 * page];
    sink = base[100 * page];
    (void)sink;
    /* collect ORs: a page already set stays set. */
    bit_set(dirty, 130);
    check_ok(tn_tracker_collect(t, dirty, &count));
    expect_pages(dirty, npages, written, 4, g, 130);
    assert_int_equal(count, 4 * g);

    memset(dirty, 0, (npages + 63) / 64 * 8);
    check_ok(tn_tracker_collect(t, dirty, &count));
    assert_int_equal(count, 0);
    assert_int_equal(popcount(dirty, npages), 0);

    base[17 * page + 8] = 9;
    check_ok(tn_tracker_collect(t, dirty, &count));
    expect_pages(dirty, npages, &written[1], 1, g, SIZE_MAX);
    assert_int_equal(count, g);

    tn_tracker_close(t);
    /* Writable everywhere, nothing lost. */
    for (size_t p = 0; p < npages; p++)
        base[p * page + 1] = 'w';
    assert_int_equal(base[3 * page + 7], 1);
    assert_int_equal(base[255 * page + 7], 4);
    assert_int_equal(base[17 * page + 8], 9);
    free(dirty);
    munmap(base, npages * page);
}

/* More separate runs than one PAGEMAP_SCAN call returns: every other
 * page written. */
static void reports_many_runs(void **state)
{
    tern_migrate_tracker kind = *(const tern_migrate_tracker *)*state;
    const size_t npages = 1500;
    char *base = map_pages(npages);
    for (size_t p = 0; p < npages; p += 2)
        base[p * page] = 1;
    uint64_t *bm = bitmap(npages);
    check_ok(tn_pages_present(base, npages * page, bm));
    for (size_t p = 0; p < npages; p++)
        if (bit(bm, p) != (p % 2 == 0))
            fail_msg("page %zu: present %d", p, bit(bm, p));
    tn_tracker *t;
    open_tracker(&t, base, npages, kind);
    for (size_t p = 1; p < npages; p += 2)
        base[p * page] = 2;
    memset(bm, 0, (npages + 63) / 64 * 8);
    size_t count;
    check_ok(tn_tracker_collect(t, bm, &count));
    size_t g = grain(kind);
    for (size_t p = 0; p < npages; p++)
        if (bit(bm, p) != (g > 1 || p % 2 == 1))
            fail_msg("page %zu: reported %d", p, bit(bm, p));
    assert_int_equal(count, g > 1 ? npages : npages / 2);
    tn_tracker_close(t);
    free(bm);
    munmap(base, npages * page);
}

/* ---- writes racing with collects --------------------------------------- */

#define RACE_PAGES 512
#define RACE_MAX_COLLECTS 5000
#define RACE_WRITERS 2
#define RACE_LOG (1u << 18)

typedef struct race_write {
    uint32_t page, before, after; /* the epochs read before and after the write */
} race_write;

typedef struct race race;

typedef struct writer {
    race *r;
    unsigned id;
    size_t n;
    race_write *log;
} writer;

struct race {
    char *base;
    atomic_uint epoch; /* collects completed */
    atomic_bool stop;
    atomic_int running; /* writers not done yet */
    writer w[RACE_WRITERS];
};

/* Writes a counter to random pages and logs each write with the epochs
 * read just before and just after it. */
static void *race_writer(void *arg)
{
    writer *w = arg;
    race *r = w->r;
    uint64_t x = 0x9e3779b97f4a7c15ull * (w->id + 1);
    uint64_t seq = 0;
    while (!atomic_load(&r->stop) && w->n < RACE_LOG) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uint32_t p = (uint32_t)(x % RACE_PAGES);
        unsigned before = atomic_load(&r->epoch);
        _Atomic uint64_t *slot = (_Atomic uint64_t *)(r->base + p * page + (seq % (page / 8)) * 8);
        atomic_store_explicit(slot, (uint64_t)w->id << 56 | ++seq, memory_order_relaxed);
        w->log[w->n++] = (race_write){p, before, atomic_load(&r->epoch)};
        /* Spread the writes over many collects. */
        if (seq % 128 == 0)
            test_sleep_ms(0);
    }
    atomic_fetch_sub(&r->running, 1);
    return NULL;
}

/* What a precopy round does with a report: copy the pages. */
static void copy_pages(char *shadow, const char *base, const uint64_t *dirty)
{
    for (size_t p = 0; p < RACE_PAGES; p++)
        if (bit(dirty, p))
            for (size_t i = 0; i < page / 8; i++)
                ((uint64_t *)(shadow + p * page))[i] = atomic_load_explicit(
                    (_Atomic uint64_t *)(base + p * page) + i, memory_order_relaxed);
}

static void no_write_is_lost(void **state)
{
    tern_migrate_tracker kind = *(const tern_migrate_tracker *)*state;
    race r = {.base = map_pages(RACE_PAGES)};
    for (size_t p = 0; p < RACE_PAGES; p += 3) /* some touched before, some not */
        r.base[p * page] = 1;
    tn_tracker *t;
    open_tracker(&t, r.base, RACE_PAGES, kind);
    char *shadow = malloc(RACE_PAGES * page);
    assert_non_null(shadow);
    memcpy(shadow, r.base, RACE_PAGES * page);
    /* reports[k] is what collect k + 1 returned. */
    uint64_t(*reports)[RACE_PAGES / 64] = calloc(RACE_MAX_COLLECTS + 1, sizeof *reports);
    assert_non_null(reports);
    pthread_t th[RACE_WRITERS];
    atomic_store(&r.running, RACE_WRITERS);
    for (unsigned i = 0; i < RACE_WRITERS; i++) {
        r.w[i].log = malloc(RACE_LOG * sizeof(race_write));
        assert_non_null(r.w[i].log);
        r.w[i].id = i;
        r.w[i].r = &r;
        assert_int_equal(pthread_create(&th[i], NULL, race_writer, &r.w[i]), 0);
    }
    unsigned collects = 0;
    while (atomic_load(&r.running) > 0 && collects < RACE_MAX_COLLECTS) {
        size_t n;
        check_ok(tn_tracker_collect(t, reports[collects], &n));
        copy_pages(shadow, r.base, reports[collects]);
        atomic_store(&r.epoch, ++collects);
        /* A real round takes a while; collecting back to back would
         * re-protect a page before its faulting writer gets to write. */
        nanosleep(&(struct timespec){0, 20000}, NULL);
    }
    atomic_store(&r.stop, true);
    for (unsigned i = 0; i < RACE_WRITERS; i++)
        pthread_join(th[i], NULL);
    size_t n;
    check_ok(tn_tracker_collect(t, reports[collects], &n));
    copy_pages(shadow, r.base, reports[collects]);

    /* The copy made from reports alone is the memory. */
    for (size_t p = 0; p < RACE_PAGES; p++)
        if (memcmp(shadow + p * page, r.base + p * page, page) != 0)
            fail_msg("page %zu changed but its last change was never reported", p);
    /* A write between collect b and the read of epoch a is reported by one
     * of collects b + 1 .. a + 2 (a write that races with collect a + 1
     * may land in the next one). */
    size_t writes = 0;
    for (unsigned i = 0; i < RACE_WRITERS; i++) {
        for (size_t j = 0; j < r.w[i].n; j++) {
            race_write w = r.w[i].log[j];
            unsigned last = w.after + 2 < collects + 1 ? w.after + 2 : collects + 1;
            bool seen = false;
            for (unsigned k = w.before + 1; k <= last && !seen; k++)
                seen = bit(reports[k - 1], w.page);
            if (!seen)
                fail_msg("write to page %u between collects %u and %u never reported", w.page,
                         w.before, w.after);
        }
        writes += r.w[i].n;
        free(r.w[i].log);
    }
    print_message("%s: %zu writes over %u collects, none lost\n", tern_migrate_tracker_name(kind),
                  writes, collects);
    assert_true(writes > 0 && collects > 10);
    tn_tracker_close(t);
    free(reports);
    free(shadow);
    munmap(r.base, RACE_PAGES * page);
}

/* ---- cost ------------------------------------------------------------------ */

static void collect_time_64mib(void **state)
{
    tern_migrate_tracker kind = *(const tern_migrate_tracker *)*state;
    const size_t npages = (64u << 20) / page;
    char *base = map_pages(npages);
    for (size_t p = 0; p < npages; p++)
        base[p * page] = 1;
    tn_tracker *t;
    uint64_t t0 = tern_clock_ns();
    open_tracker(&t, base, npages, kind);
    uint64_t open_ns = tern_clock_ns() - t0;
    uint64_t *dirty = bitmap(npages);
    uint64_t *want = bitmap(npages);
    uint64_t x = 88172645463325252ull;
    size_t nwant = 0;
    while (nwant < npages / 100) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t p = (size_t)(x % npages);
        if (!bit(want, p)) {
            bit_set(want, p);
            base[p * page + 1] = 2;
            nwant++;
        }
    }
    size_t count;
    t0 = tern_clock_ns();
    check_ok(tn_tracker_collect(t, dirty, &count));
    uint64_t collect_ns = tern_clock_ns() - t0;
    for (size_t p = 0; p < npages; p++)
        if (bit(want, p) && !bit(dirty, p))
            fail_msg("page %zu written, not reported", p);
    assert_true(count >= nwant);
    size_t reported = count;
    memset(dirty, 0, (npages + 63) / 64 * 8);
    t0 = tern_clock_ns();
    check_ok(tn_tracker_collect(t, dirty, &count));
    uint64_t idle_ns = tern_clock_ns() - t0;
    assert_int_equal(count, 0);
    t0 = tern_clock_ns();
    tn_tracker_close(t);
    uint64_t close_ns = tern_clock_ns() - t0;
    print_message("%s, 64 MiB: open %.2f ms, collect 1%% dirty (%zu pages reported) %.2f ms, "
                  "collect clean %.2f ms, close %.2f ms\n",
                  tern_migrate_tracker_name(kind), open_ns / 1e6, reported, collect_ns / 1e6,
                  idle_ns / 1e6, close_ns / 1e6);
    free(want);
    free(dirty);
    munmap(base, npages * page);
}

/* ---- which backends there are ------------------------------------------- */

static void auto_finds_a_backend(void **state)
{
    (void)state;
    char *base = map_pages(16);
    tn_tracker *t;
    check_err(tn_tracker_open(&t, base + 1, 8 * page, TERN_TRACK_AUTO, NULL), TERN_EINVAL);
    check_err(tn_tracker_open(&t, base, 0, TERN_TRACK_AUTO, NULL), TERN_EINVAL);
    check_err(tn_tracker_open(&t, base, page + 1, TERN_TRACK_AUTO, NULL), TERN_EINVAL);

    bool have[4] = {false};
    for (size_t i = 0; i < 3; i++) {
        tern_err err = tn_tracker_open(&t, base, 16 * page, kinds[i], NULL);
        if (err == TERN_OK)
            tn_tracker_close(t);
        else if (err == TERN_ENOTSUP)
            print_message("%s: not supported here\n", tern_migrate_tracker_name(kinds[i]));
        else
            fail_msg("%s: %s", tern_migrate_tracker_name(kinds[i]), tern_errname(err));
        have[kinds[i]] = err == TERN_OK;
    }
    check_ok(tn_tracker_open(&t, base, 16 * page, TERN_TRACK_AUTO, NULL));
    tern_migrate_tracker k = tn_tracker_kind(t);
    tn_tracker_close(t);
    for (size_t i = 0; i < 3 && kinds[i] != k; i++)
        if (have[kinds[i]])
            fail_msg("AUTO took %s over %s", tern_migrate_tracker_name(k),
                     tern_migrate_tracker_name(kinds[i]));
    print_message("auto: %s\n", tern_migrate_tracker_name(k));

    /* Linux 6.7 has everything the userfaultfd backends need. */
    struct utsname u;
    assert_int_equal(uname(&u), 0);
    int major = 0, minor = 0;
    sscanf(u.release, "%d.%d", &major, &minor);
    if (major > 6 || (major == 6 && minor >= 7))
        assert_true(have[TERN_TRACK_PAGEMAP_SCAN] || have[TERN_TRACK_UFFD_WP]);
    munmap(base, 16 * page);
}

/* ---- pages present ----------------------------------------------------------- */

/* Pages 1, 5, 6, 40 written; 2 and 41 only read; the rest untouched. */
static void check_present(const char *when, char *base, size_t npages, bool exact)
{
    static const size_t written[] = {1, 5, 6, 40};
    uint64_t *present = bitmap(npages);
    memset(present, 0xff, (npages + 63) / 64 * 8); /* it must clear what it does not set */
    check_ok(tn_pages_present(base, npages * page, present));
    for (size_t i = 0; i < 4; i++)
        if (!bit(present, written[i]))
            fail_msg("%s: written page %zu not present", when, written[i]);
    for (size_t p = 0; exact && p < npages; p++)
        if (bit(present, p) && p != 1 && p != 5 && p != 6 && p != 40 && p != 2 && p != 41)
            fail_msg("%s: untouched page %zu present", when, p);
    free(present);
}

static void present_tells_touched_pages(void **state)
{
    (void)state;
    const size_t npages = 70; /* not a multiple of 64 */
    char *base = map_pages(npages);
    base[1 * page] = base[5 * page] = base[6 * page + 100] = base[40 * page] = 1;
    volatile char sink = base[2 * page];
    sink = base[41 * page];
    (void)sink;
    check_present("untracked", base, npages, true);
    /* The userfaultfd trackers leave markers on untouched pages; only a
     * privileged reader of pagemap can tell them from swap entries. */
    bool privileged = geteuid() == 0;
    for (size_t i = 0; i < 3; i++) {
        tn_tracker *t;
        open_tracker(&t, base, npages, kinds[i]);
        check_present(tern_migrate_tracker_name(kinds[i]), base, npages, privileged);
        tn_tracker_close(t);
    }
    check_present("closed", base, npages, true);
    check_err(tn_pages_present(base + 1, page, NULL), TERN_EINVAL);
    munmap(base, npages * page);
}

/* Untouched pages scattered through a range wider than one pagemap read
 * (8192 entries): every third page of 20,000 written, page 1 only read.
 * Under each tracker, the present pages as tracking began (from opening)
 * and after (the markers between them read from pagemap window by window);
 * then the first writes to an untouched page and to the read-only one are
 * reported like any other. */
static void present_scattered_wide(void **state)
{
    (void)state;
    const size_t npages = 20000;
    bool privileged = geteuid() == 0;
    uint64_t *present = bitmap(npages), *at_open = bitmap(npages), *dirty = bitmap(npages);
    for (size_t i = 0; i < 3; i++) {
        const char *name = tern_migrate_tracker_name(kinds[i]);
        char *base = map_pages(npages);
        for (size_t p = 0; p < npages; p += 3)
            base[p * page] = 1;
        volatile char sink = base[1 * page];
        (void)sink;
        tn_tracker *t;
        check_ok(tn_tracker_open(&t, base, npages * page, kinds[i], at_open));
        check_ok(tn_pages_present(base, npages * page, present));
        for (size_t p = 0; p < npages; p++) {
            bool exact = privileged || kinds[i] == TERN_TRACK_PAGEMAP_SCAN;
            if (p % 3 == 0 ? !bit(at_open, p) : exact && bit(at_open, p))
                fail_msg("%s: page %zu %s when tracking began", name, p,
                         p % 3 == 0 ? "written but not present" : "untouched but present");
            if (p % 3 == 0 ? !bit(present, p) : privileged && bit(present, p))
                fail_msg("%s: page %zu %s", name, p,
                         p % 3 == 0 ? "written but not present" : "untouched but present");
        }
        size_t count;
        memset(dirty, 0, (npages + 63) / 64 * 8);
        check_ok(tn_tracker_collect(t, dirty, &count));
        assert_int_equal(count, 0);
        base[1 * page] = 2;     /* read only until now: the zero page */
        base[10001 * page] = 2; /* never touched */
        base[9999 * page] = 2;  /* written before */
        check_ok(tn_tracker_collect(t, dirty, &count));
        size_t g = grain(kinds[i]);
        const size_t want[] = {1, 9999, 10001};
        expect_pages(dirty, npages, want, 3, g, SIZE_MAX);
        tn_tracker_close(t);
        munmap(base, npages * page);
    }
    free(present);
    free(at_open);
    free(dirty);
}

/* ---- the mprotect backend and other SIGSEGV handlers ----------------------- */

static void *volatile foreign_addr;

static void foreign_handler(int sig, siginfo_t *info, void *uctx)
{
    (void)sig, (void)uctx;
    foreign_addr = info->si_addr;
    uintptr_t p = (uintptr_t)info->si_addr & ~(uintptr_t)(page - 1);
    mprotect((void *)p, page, PROT_READ | PROT_WRITE);
}

static void mprotect_chains_other_faults(void **state)
{
    (void)state;
    struct sigaction mine = {.sa_sigaction = foreign_handler, .sa_flags = SA_SIGINFO};
    sigemptyset(&mine.sa_mask);
    struct sigaction saved, now;
    assert_int_equal(sigaction(SIGSEGV, &mine, &saved), 0);
    assert_int_equal(sigaction(SIGSEGV, NULL, &now), 0);
    if (now.sa_sigaction != foreign_handler) {
        sigaction(SIGSEGV, &saved, NULL);
        fail_msg("cannot install a SIGSEGV handler here (sanitizer?)");
    }

    char *guard = map_pages(1);
    assert_int_equal(mprotect(guard, page, PROT_READ), 0);
    const size_t npages = 64;
    char *a = map_pages(npages), *b = map_pages(npages);
    tn_tracker *ta, *tb;
    open_tracker(&ta, a, npages, TERN_TRACK_MPROTECT);
    open_tracker(&tb, b, npages, TERN_TRACK_MPROTECT);

    guard[10] = 1; /* not ours: the handler before gets it */
    assert_ptr_equal(foreign_addr, guard + 10);
    assert_int_equal(guard[10], 1);

    a[20 * page] = 1;
    b[40 * page] = 1;
    size_t g = grain(TERN_TRACK_MPROTECT), count;
    uint64_t *da = bitmap(npages), *db = bitmap(npages);
    check_ok(tn_tracker_collect(ta, da, &count));
    check_ok(tn_tracker_collect(tb, db, &count));
    const size_t wa = 20, wb = 40;
    expect_pages(da, npages, &wa, 1, g, SIZE_MAX);
    expect_pages(db, npages, &wb, 1, g, SIZE_MAX);
    tn_tracker_close(ta);

    /* b is still tracked, a is not, and a foreign fault still goes through. */
    foreign_addr = NULL;
    assert_int_equal(mprotect(guard, page, PROT_READ), 0);
    guard[11] = 2;
    assert_ptr_equal(foreign_addr, guard + 11);
    a[30 * page] = 1;
    b[41 * page] = 1;
    memset(db, 0, 8);
    check_ok(tn_tracker_collect(tb, db, &count));
    const size_t wb2 = 41;
    expect_pages(db, npages, &wb2, 1, g, SIZE_MAX);
    tn_tracker_close(tb);

    /* The last close puts the handler before back. */
    assert_int_equal(sigaction(SIGSEGV, &saved, &now), 0);
    assert_true((now.sa_flags & SA_SIGINFO) && now.sa_sigaction == foreign_handler);
    free(da);
    free(db);
    munmap(a, npages * page);
    munmap(b, npages * page);
    munmap(guard, page);
}

int main(void)
{
    page = (size_t)sysconf(_SC_PAGESIZE);
#define PER_KIND(fn, i, label)                                                                     \
    {                                                                                              \
        .name = #fn "(" label ")", .test_func = fn, .initial_state = (void *)&kinds[i]             \
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(auto_finds_a_backend),
        PER_KIND(reports_exactly_the_written_pages, 0, "pagemap_scan"),
        PER_KIND(reports_exactly_the_written_pages, 1, "uffd_wp"),
        PER_KIND(reports_exactly_the_written_pages, 2, "mprotect"),
        PER_KIND(reports_many_runs, 0, "pagemap_scan"),
        PER_KIND(reports_many_runs, 1, "uffd_wp"),
        PER_KIND(reports_many_runs, 2, "mprotect"),
        PER_KIND(no_write_is_lost, 0, "pagemap_scan"),
        PER_KIND(no_write_is_lost, 1, "uffd_wp"),
        PER_KIND(no_write_is_lost, 2, "mprotect"),
        PER_KIND(collect_time_64mib, 0, "pagemap_scan"),
        PER_KIND(collect_time_64mib, 1, "uffd_wp"),
        PER_KIND(collect_time_64mib, 2, "mprotect"),
        cmocka_unit_test(present_tells_touched_pages),
        cmocka_unit_test(present_scattered_wide),
        cmocka_unit_test(mprotect_chains_other_faults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
