/* Live migration end to end: a source and a destination process (fork),
 * the demo worker mutating the arena while it moves, every strategy and
 * dirty-tracking backend, a connection cut mid-stream, destinations that
 * die before and after the switch, an arena address already taken, and
 * hostile streams sent to a real receiver.
 *
 * The destination process checks two things before it exits 0: the
 * digests matched (tern_migrate_receive returned TERN_OK), and the worker,
 * after running on for a while, holds exactly the state a from-scratch
 * replay of all its steps gives. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/endian.h"
#include "migrate/arena.h"
#include "migrate/frame.h"
#include "mworker.h"
#include "testutil.h"

#define MiB (1u << 20)

/* ---- the destination process -------------------------------------------- */

struct dest_state {
    struct mworker w;
    int resumed;
};

static void dest_resume(void *arg, tern_arena *arena, const void *ctx, size_t len)
{
    struct dest_state *d = arg;
    struct mworker_ctx c;
    if (len != sizeof(c))
        return;
    memcpy(&c, ctx, sizeof(c));
    d->w = (struct mworker){.arena = arena,
                            .seed = c.seed,
                            .npages = c.npages,
                            .steps = c.steps,
                            .rate = (double)c.rate,
                            .stop_after = 150000000};
    d->resumed = mworker_start(&d->w) == 0;
}

/* Exit codes of the destination: 0 verified, 2 receive failed, 3 state
 * differs, 4 never resumed. */
static void dest_main(tern_migrate_listener *l, uint32_t reconnect_ms, tern_arena *inherited)
{
    /* The child has a copy of the source's arena (fork); a real
     * destination is another program and has nothing there. */
    if (inherited)
        munmap(tern_arena_base(inherited), tern_arena_size(inherited));
    tern_migrate_opts o;
    tern_migrate_opts_init(&o);
    o.reconnect_ms = reconnect_ms;
    struct dest_state d = {0};
    tern_arena *arena = NULL;
    tern_migrate_stats st;
    tern_err err = tern_migrate_receive(l, dest_resume, &d, &o, &arena, &st);
    if (err != TERN_OK) {
        fprintf(stderr, "destination: %s: %s\n", tern_errname(err), st.error);
        _exit(2);
    }
    if (!d.resumed)
        _exit(4);
    pthread_join(d.w.thread, NULL);
    int same = mworker_verify(tern_arena_base(arena), d.w.npages, d.w.seed, d.w.steps);
    if (!same)
        fprintf(stderr, "destination: state differs from the replay of %llu steps (worker: %s)\n",
                (unsigned long long)d.w.steps, tern_errname(d.w.result));
    _exit(same ? 0 : 3);
}

/* Forks the destination. The source's arena must exist already: mapped
 * after the fork, the child's own allocations could land at its address. */
static pid_t spawn_dest(char *endpoint, size_t cap, uint32_t reconnect_ms, tern_arena *inherited)
{
    tern_migrate_listener *l;
    check_ok(tern_migrate_listen(&l, "tcp://127.0.0.1:0"));
    snprintf(endpoint, cap, "%s", tern_migrate_listener_endpoint(l));
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        dest_main(l, reconnect_ms, inherited);
    tern_migrate_listener_close(l);
    return pid;
}

static int wait_dest(pid_t pid)
{
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- the source ----------------------------------------------------------- */

struct source {
    tern_arena *arena;
    struct mworker w;
};

static void src_quiesce(void *arg, tern_arena *arena)
{
    struct source *s = arg;
    struct mworker_ctx c;
    mworker_context(&s->w, &c);
    check_ok(tern_arena_set_context(arena, &c, sizeof(c)));
}

static void source_start(struct source *s, size_t size, double rate)
{
    check_ok(tern_arena_create(&s->arena, size, NULL));
    s->w = (struct mworker){.arena = s->arena, .seed = 7, .npages = size / 4096, .rate = rate};
    mworker_fill(tern_arena_base(s->arena), s->w.npages, s->w.seed);
    assert_int_equal(mworker_start(&s->w), 0);
    test_sleep_ms(50);
}

static void source_opts(struct source *s, tern_migrate_opts *o)
{
    tern_migrate_opts_init(o);
    o->on_quiesce = src_quiesce;
    o->on_quiesce_arg = s;
    o->reconnect_ms = 3000;
}

static void migrate_ok(tern_migrate_strategy strategy, tern_migrate_tracker tracker, size_t size,
                       double rate, tern_migrate_stats *st)
{
    struct source s;
    source_start(&s, size, rate);
    char ep[128];
    pid_t pid = spawn_dest(ep, sizeof ep, 3000, s.arena);
    tern_migrate_opts o;
    source_opts(&s, &o);
    o.tracker = tracker;
    tern_err err = tern_migrate_send(s.arena, ep, strategy, &o, st);
    if (err != TERN_OK)
        fail_msg("send (%s): %s: %s", tern_migrate_strategy_name(strategy), tern_errname(err),
                 st->error);
    /* The source's worker learns that the computation moved. */
    pthread_join(s.w.thread, NULL);
    assert_int_equal(s.w.result, TERN_EMOVED);
    assert_int_equal(wait_dest(pid), 0);
    assert_true(st->downtime_ns > 0 && st->downtime_ns <= st->total_ns);
    assert_true(st->bytes > 0);
    assert_true(st->zero_pages > 0); /* the worker leaves one page in 8 zero */
    assert_true(st->digest != 0);
    print_message("%-13s %-12s downtime %6.2f ms total %7.1f ms rounds %u %.1f MiB faults %llu\n",
                  tern_migrate_strategy_name(strategy), tern_migrate_tracker_name(st->tracker),
                  st->downtime_ns / 1e6, st->total_ns / 1e6, st->nrounds, st->bytes / 1048576.0,
                  (unsigned long long)st->faults);
    tern_arena_destroy(s.arena);
}

static void test_precopy(void **state)
{
    (void)state;
    tern_migrate_stats st;
    migrate_ok(TERN_MIGRATE_PRECOPY, TERN_TRACK_AUTO, 32 * MiB, 20e6, &st);
    assert_true(st.nrounds >= 2); /* the first pass, then at least the stop */
    assert_int_equal(st.tracker, TERN_TRACK_PAGEMAP_SCAN);
}

static void test_stop_and_copy(void **state)
{
    (void)state;
    tern_migrate_stats st;
    migrate_ok(TERN_MIGRATE_STOP_AND_COPY, TERN_TRACK_AUTO, 32 * MiB, 20e6, &st);
    assert_int_equal(st.nrounds, 1);
    /* Everything moved while stopped: downtime is most of the time. */
    assert_true(st.downtime_ns * 2 > st.total_ns / 2);
}

static void test_postcopy(void **state)
{
    (void)state;
    tern_migrate_stats st;
    migrate_ok(TERN_MIGRATE_POSTCOPY, TERN_TRACK_AUTO, 32 * MiB, 50e6, &st);
    assert_false(st.switched_to_postcopy); /* it was post-copy from the start */
    /* The worker touches random pages at once: some must be fetched. */
    assert_true(st.faults > 0);
    assert_true(st.fault_p50_ns > 0 && st.fault_p50_ns <= st.fault_max_ns);
}

static void test_hybrid(void **state)
{
    (void)state;
    tern_migrate_stats st;
    migrate_ok(TERN_MIGRATE_HYBRID, TERN_TRACK_AUTO, 32 * MiB, 20e6, &st);
    assert_false(st.switched_to_postcopy);
}

static void test_trackers(void **state)
{
    (void)state;
    const tern_migrate_tracker all[] = {TERN_TRACK_PAGEMAP_SCAN, TERN_TRACK_UFFD_WP,
                                        TERN_TRACK_MPROTECT};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        tern_migrate_stats st;
        migrate_ok(TERN_MIGRATE_PRECOPY, all[i], 16 * MiB, 30e6, &st);
        assert_int_equal(st.tracker, all[i]);
    }
}

/* A budget no round can meet at this dirty rate. */
static void test_hybrid_fallbacks(void **state)
{
    (void)state;
    for (int throttle = 0; throttle < 2; throttle++) {
        struct source s;
        source_start(&s, 32 * MiB, 400e6);
        char ep[128];
        pid_t pid = spawn_dest(ep, sizeof ep, 3000, s.arena);
        tern_migrate_opts o;
        source_opts(&s, &o);
        o.downtime_ms = 1;
        o.max_rounds = 3;
        o.bandwidth = 200u * MiB; /* so the dirtying outpaces a round */
        o.fallback = throttle ? TERN_FALLBACK_THROTTLE : TERN_FALLBACK_POSTCOPY;
        tern_migrate_stats st;
        tern_err err = tern_migrate_send(s.arena, ep, TERN_MIGRATE_HYBRID, &o, &st);
        if (err != TERN_OK)
            fail_msg("send: %s: %s", tern_errname(err), st.error);
        pthread_join(s.w.thread, NULL);
        assert_int_equal(wait_dest(pid), 0);
        if (throttle)
            assert_true(st.throttled);
        else
            assert_true(st.switched_to_postcopy);
        print_message("hybrid/%s: rounds %u downtime %.2f ms\n", throttle ? "throttle" : "postcopy",
                      st.nrounds, st.downtime_ns / 1e6);
        tern_arena_destroy(s.arena);
    }
}

/* ---- a relay that cuts the connection once ------------------------------ */

struct pipe_pair {
    struct relay *r;
    int a, b;
    int first;
    int drop_verdict; /* destination -> source: cut instead of passing VERIFIED on */
};

#define RELAY_MAX 32

struct relay {
    int lfd;
    uint16_t port, to_port;
    size_t cut_after; /* bytes source -> destination on the first connection */
    int lose_verdict; /* or: cut the first connection where the verdict would pass */
    int cut_done;
    pthread_t thread;
    volatile int stop;
    int npumps;
    pthread_t pumps[RELAY_MAX];
    struct pipe_pair pairs[RELAY_MAX];
};

/* Passes the destination's frames on one by one, and cuts the connection
 * where VERIFIED would go: the verdict is lost with the cut. */
static void pump_frames(struct pipe_pair *p)
{
    static uint8_t buf[1 << 16];
    size_t have = 0;
    for (;;) {
        ssize_t n = read(p->a, buf + have, sizeof buf - have);
        if (n <= 0)
            return;
        have += (size_t)n;
        size_t off = 0;
        while (have - off >= TN_MIG_HEADER) {
            size_t len = TN_MIG_HEADER + tn_get_be32(buf + off + 20);
            if (have - off < len)
                break;
            if (buf[off + 5] == TN_MIG_VERIFIED) {
                p->r->cut_done = 1;
                return;
            }
            if (write(p->b, buf + off, len) != (ssize_t)len)
                return;
            off += len;
        }
        memmove(buf, buf + off, have - off);
        have -= off;
    }
}

static void *pump(void *arg)
{
    struct pipe_pair *p = arg;
    if (p->drop_verdict) {
        pump_frames(p);
        shutdown(p->a, SHUT_RDWR);
        shutdown(p->b, SHUT_RDWR);
        return NULL;
    }
    char buf[65536];
    size_t moved = 0;
    for (;;) {
        ssize_t n = read(p->a, buf, sizeof buf);
        if (n <= 0)
            break;
        if (p->first && !p->r->lose_verdict && !p->r->cut_done &&
            moved + (size_t)n > p->r->cut_after) {
            p->r->cut_done = 1;
            break; /* the cut: both directions go down, mid-frame */
        }
        moved += (size_t)n;
        if (write(p->b, buf, (size_t)n) != n)
            break;
    }
    shutdown(p->a, SHUT_RDWR);
    shutdown(p->b, SHUT_RDWR);
    return NULL;
}

static void *relay_main(void *arg)
{
    struct relay *r = arg;
    int first = 1;
    while (!r->stop) {
        int c = accept(r->lfd, NULL, NULL);
        if (c < 0)
            break;
        int d = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in to = {.sin_family = AF_INET,
                                 .sin_port = htons(r->to_port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        if (connect(d, (struct sockaddr *)&to, sizeof to) != 0) {
            close(c);
            close(d);
            continue;
        }
        if (r->npumps + 2 > RELAY_MAX) {
            close(c);
            close(d);
            continue;
        }
        struct pipe_pair *up = &r->pairs[r->npumps], *down = &r->pairs[r->npumps + 1];
        *up = (struct pipe_pair){r, c, d, first, 0};
        *down = (struct pipe_pair){r, d, c, 0, first && r->lose_verdict};
        first = 0;
        pthread_create(&r->pumps[r->npumps], NULL, pump, up);
        pthread_create(&r->pumps[r->npumps + 1], NULL, pump, down);
        r->npumps += 2;
    }
    return NULL;
}

static void relay_start(struct relay *r, const char *to_endpoint)
{
    const char *colon = strrchr(to_endpoint, ':');
    r->to_port = (uint16_t)atoi(colon + 1);
    r->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(r->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(r->lfd, 16), 0);
    socklen_t len = sizeof a;
    getsockname(r->lfd, (struct sockaddr *)&a, &len);
    r->port = ntohs(a.sin_port);
    pthread_create(&r->thread, NULL, relay_main, r);
}

static void relay_stop(struct relay *r)
{
    r->stop = 1;
    shutdown(r->lfd, SHUT_RDWR);
    pthread_join(r->thread, NULL);
    close(r->lfd);
    for (int i = 0; i < r->npumps; i++) {
        shutdown(r->pairs[i].a, SHUT_RDWR);
        pthread_join(r->pumps[i], NULL);
    }
    for (int i = 0; i < r->npumps; i += 2) {
        close(r->pairs[i].a);
        close(r->pairs[i].b);
    }
}

/* Migrates a worker through the relay r, which must cut the connection
 * once; the migration resumes and completes. */
static void migrate_through(struct relay *r, size_t size, tern_migrate_strategy strategy)
{
    struct source s;
    source_start(&s, size, 20e6);
    char ep[128], via[128];
    pid_t pid = spawn_dest(ep, sizeof ep, 5000, s.arena);
    relay_start(r, ep);
    snprintf(via, sizeof via, "tcp://127.0.0.1:%u", r->port);
    tern_migrate_opts o;
    source_opts(&s, &o);
    tern_migrate_stats st;
    tern_err err = tern_migrate_send(s.arena, via, strategy, &o, &st);
    if (err != TERN_OK)
        fail_msg("send (%s): %s: %s", tern_migrate_strategy_name(strategy), tern_errname(err),
                 st.error);
    pthread_join(s.w.thread, NULL);
    assert_int_equal(wait_dest(pid), 0);
    assert_true(r->cut_done);
    assert_true(st.reconnects >= 1);
    relay_stop(r);
    tern_arena_destroy(s.arena);
}

static void test_cut_connection_resumes(void **state)
{
    (void)state;
    const tern_migrate_strategy strategies[] = {TERN_MIGRATE_PRECOPY, TERN_MIGRATE_POSTCOPY};
    for (int i = 0; i < 2; i++) {
        struct relay r = {.cut_after = 9 * MiB + 12345}; /* mid-frame */
        migrate_through(&r, 32 * MiB, strategies[i]);
    }
}

/* The connection is cut just as the destination's verdict would pass: the
 * source reconnects, resends its DIGEST and gets the verdict again. */
static void test_lost_verdict(void **state)
{
    (void)state;
    struct relay r = {.lose_verdict = 1};
    migrate_through(&r, 16 * MiB, TERN_MIGRATE_PRECOPY);
}

/* ---- destinations that die ----------------------------------------------- */

static void test_dest_dies_before_switch(void **state)
{
    (void)state;
    struct source s;
    source_start(&s, 64 * MiB, 20e6);
    char ep[128];
    pid_t pid = spawn_dest(ep, sizeof ep, 3000, s.arena);
    tern_migrate_opts o;
    source_opts(&s, &o);
    o.bandwidth = 40u * MiB; /* about 1.5 s of pages: time to kill it mid-way */
    o.reconnect_ms = 500;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t killer = fork();
    if (killer == 0) {
        test_sleep_ms(400);
        kill(pid, SIGKILL);
        _exit(0);
    }
    tern_migrate_stats st;
    tern_err err = tern_migrate_send(s.arena, ep, TERN_MIGRATE_PRECOPY, &o, &st);
    assert_int_not_equal(err, TERN_OK);
    assert_true(strlen(st.error) > 0);
    print_message("source after the destination died: %s: %s\n", tern_errname(err), st.error);
    waitpid(killer, NULL, 0);
    assert_int_equal(wait_dest(pid), 128 + SIGKILL);
    /* The computation never left: the worker runs on here. */
    uint64_t before = s.w.steps;
    test_sleep_ms(100);
    assert_true(s.w.steps > before);
    mworker_stop(&s.w);
    assert_int_equal(s.w.result, TERN_OK);
    tern_arena_destroy(s.arena);
}

static pid_t victim;
static void kill_on_postcopy(void *arg, const char *phase, const tern_migrate_stats *st)
{
    (void)arg;
    (void)st;
    if (strcmp(phase, "postcopy") == 0 && victim > 0) {
        kill(victim, SIGKILL);
        victim = 0;
    }
}

static void test_dest_dies_after_switch(void **state)
{
    (void)state;
    struct source s;
    source_start(&s, 64 * MiB, 20e6);
    char ep[128];
    pid_t pid = spawn_dest(ep, sizeof ep, 3000, s.arena);
    tern_migrate_opts o;
    source_opts(&s, &o);
    o.reconnect_ms = 500;
    o.progress = kill_on_postcopy;
    victim = pid;
    tern_migrate_stats st;
    tern_err err = tern_migrate_send(s.arena, ep, TERN_MIGRATE_POSTCOPY, &o, &st);
    assert_int_not_equal(err, TERN_OK);
    print_message("source after the destination died post-switch: %s: %s\n", tern_errname(err),
                  st.error);
    assert_true(strlen(st.error) > 0);
    assert_int_equal(wait_dest(pid), 128 + SIGKILL);
    /* The destination ran the computation: the source must not resume. */
    pthread_join(s.w.thread, NULL);
    assert_int_equal(s.w.result, TERN_EMOVED);
    tern_arena_destroy(s.arena);
}

static void test_address_taken(void **state)
{
    (void)state;
    struct source s;
    source_start(&s, 8 * MiB, 1e6);
    char ep[128];
    pid_t pid = spawn_dest(ep, sizeof ep, 1000, NULL); /* keeps its copy of the arena's mapping */
    tern_migrate_opts o;
    source_opts(&s, &o);
    tern_migrate_stats st;
    check_err(tern_migrate_send(s.arena, ep, TERN_MIGRATE_PRECOPY, &o, &st), TERN_EADDRINUSE);
    assert_non_null(strstr(st.error, "cannot take the arena"));
    assert_int_equal(wait_dest(pid), 2);
    uint64_t before = s.w.steps;
    test_sleep_ms(50);
    assert_true(s.w.steps > before);
    mworker_stop(&s.w);
    tern_arena_destroy(s.arena);

    /* And in this process: an address in use is refused up front. */
    tern_arena *a, *b;
    check_ok(tern_arena_create(&a, 1 * MiB, NULL));
    check_err(tern_arena_create(&b, 1 * MiB, tern_arena_base(a)), TERN_EADDRINUSE);
    tern_arena_destroy(a);
}

/* A reserve of faulted-in memory becomes the arena's, even when the kernel
 * happened to put the reserve itself where the arena must go. */
static void test_reserve(void **state)
{
    (void)state;
    for (int in_the_way = 0; in_the_way < 2; in_the_way++) {
        size_t rsize = 4 * MiB;
        void *reserve =
            mmap(NULL, rsize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        assert_true(reserve != MAP_FAILED);
        memset(reserve, 0x5a, rsize); /* marks the reserve's pages */
        void *want = in_the_way ? (uint8_t *)reserve + MiB : NULL;
        if (!want) { /* a free spot elsewhere */
            want = mmap(NULL, 2 * MiB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            munmap(want, 2 * MiB);
        }
        tern_arena *a;
        check_ok(tn_arena_map(&a, 2 * MiB, want, &reserve, &rsize));
        assert_ptr_equal(tern_arena_base(a), want);
        assert_null(reserve); /* used up */
        assert_int_equal(((uint8_t *)want)[0], 0x5a);
        assert_int_equal(((uint8_t *)want)[2 * MiB - 1], 0x5a);
        tern_arena_destroy(a);
    }
}

/* ---- hostile streams ------------------------------------------------------ */

struct hostile_recv {
    tern_migrate_listener *l;
    tern_err err;
    tern_arena *arena;
    tern_migrate_stats st;
    int resumed;
};

static void never_resume(void *arg, tern_arena *arena, const void *ctx, size_t len)
{
    (void)arena;
    (void)ctx;
    (void)len;
    ((struct hostile_recv *)arg)->resumed = 1;
}

static void *hostile_receiver(void *arg)
{
    struct hostile_recv *h = arg;
    tern_migrate_opts o;
    tern_migrate_opts_init(&o);
    o.reconnect_ms = 300;
    h->err = tern_migrate_receive(h->l, never_resume, h, &o, &h->arena, &h->st);
    return NULL;
}

static int dial(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void put_frame(int fd, uint8_t type, uint64_t id, uint32_t epoch, uint64_t seq,
                      const void *meta, size_t meta_len, const void *data, size_t data_len,
                      int corrupt)
{
    tn_mig_header h = {.type = type, .id = id, .epoch = epoch, .seq = seq};
    uint64_t deadline = tern_clock_ns() + 2000000000ull;
    if (!corrupt) {
        assert_int_equal(tn_mig_send_frame(fd, &h, meta, meta_len, data, data_len, deadline),
                         TERN_OK);
        return;
    }
    uint8_t hdr[TN_MIG_HEADER];
    h.length = (uint32_t)(meta_len + data_len);
    h.crc = 0x12345678; /* wrong */
    tn_mig_header_put(hdr, &h);
    assert_int_equal(tn_mig_write(fd, hdr, sizeof hdr, deadline), TERN_OK);
    tn_mig_write(fd, meta, meta_len, deadline);
    tn_mig_write(fd, data, data_len, deadline);
}

/* A one-page frame: its metadata in meta, and in data what follows it, the
 * page image then the trailer with the page's CRC. */
static size_t page_frame(uint8_t *meta, uint8_t data[TN_MIG_PAGE + 4], const tn_mig_pages *p,
                         const uint8_t *page)
{
    memcpy(data, page, TN_MIG_PAGE);
    tn_mig_pages_crcs_put(data + TN_MIG_PAGE, p);
    return tn_mig_pages_put(meta, p);
}

/* Says a valid hello for an arena of 255 pages (so its page bitmap has
 * bits past the end); returns once welcomed. */
static int hostile_hello(uint16_t port, uint64_t id, void *base)
{
    int fd = dial(port);
    tn_mig_hello hello = {.role = TN_MIG_ROLE_MAIN,
                          .strategy = TERN_MIGRATE_PRECOPY,
                          .page_size = TN_MIG_PAGE,
                          .base = (uint64_t)(uintptr_t)base,
                          .size = 255 * 4096};
    uint8_t body[TN_MIG_HELLO_LEN];
    tn_mig_hello_put(body, &hello);
    put_frame(fd, TN_MIG_HELLO, id, 1, 0, body, sizeof body, NULL, 0, 0);
    tn_mig_header h;
    uint8_t reply[64];
    const char *why;
    check_ok(tn_mig_recv_small(fd, &h, reply, sizeof reply, tern_clock_ns() + 2000000000ull, &why));
    assert_int_equal(h.type, TN_MIG_WELCOME);
    return fd;
}

/* The receiver must close the connection: read until EOF. */
static void expect_closed(int fd)
{
    char buf[256];
    struct timeval tv = {3, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
    }
    assert_true(n == 0 || errno == ECONNRESET);
    close(fd);
}

static void test_hostile_streams(void **state)
{
    (void)state;
    /* An address free here and, being a fresh mapping spot, in the
     * receiver (the same process). */
    void *spot = mmap(NULL, 1 * MiB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(spot, 1 * MiB);
    uint8_t page[TN_MIG_PAGE];
    memset(page, 0xab, sizeof page);
    for (int kind = 0; kind < 7; kind++) {
        struct hostile_recv h = {0};
        check_ok(tern_migrate_listen(&h.l, "tcp://127.0.0.1:0"));
        uint16_t port = (uint16_t)atoi(strrchr(tern_migrate_listener_endpoint(h.l), ':') + 1);
        pthread_t t;
        pthread_create(&t, NULL, hostile_receiver, &h);

        /* Garbage and lies before any migration are refused; the receiver
         * keeps waiting. */
        int g = dial(port);
        const char *http = "GET / HTTP/1.0\r\nHost: tern\r\nAccept: */*\r\n\r\n";
        assert_int_equal(write(g, http, strlen(http)), (ssize_t)strlen(http));
        expect_closed(g);
        g = dial(port);
        uint8_t huge[TN_MIG_HEADER];
        tn_mig_header hh = {.type = TN_MIG_HELLO, .id = 9, .length = UINT32_MAX};
        tn_mig_header_put(huge, &hh);
        assert_int_equal(write(g, huge, sizeof huge), (ssize_t)sizeof huge);
        expect_closed(g);

        uint64_t id = 0xfeed0000 + (uint64_t)kind;
        int fd = hostile_hello(port, id, spot);
        tn_mig_pages p = {.nruns = 1, .ndata = 1};
        p.run[0] = (tn_mig_run){.first = 0, .count = 1, .kind = TN_MIG_RUN_DATA};
        p.crc[0] = tern_crc32c(0, page, sizeof page);
        uint8_t meta[64], data[TN_MIG_PAGE + 4];
        size_t mlen;
        switch (kind) {
        case 0: /* a run outside the arena */
            p.run[0].first = 255;
            mlen = page_frame(meta, data, &p, page);
            put_frame(fd, TN_MIG_PAGES, id, 1, 1, meta, mlen, data, sizeof data, 0);
            break;
        case 1: /* a bad frame CRC */
            mlen = page_frame(meta, data, &p, page);
            put_frame(fd, TN_MIG_PAGES, id, 1, 1, meta, mlen, data, sizeof data, 1);
            break;
        case 2: { /* a page whose bytes do not match its CRC */
            p.crc[0] ^= 1;
            mlen = page_frame(meta, data, &p, page);
            put_frame(fd, TN_MIG_PAGES, id, 1, 1, meta, mlen, data, sizeof data, 0);
            /* Before the switch a page may tear (the source sends from
             * running memory): it is asked for again, then acknowledged... */
            tn_mig_header rh;
            uint8_t body[64];
            const char *why;
            uint64_t deadline = tern_clock_ns() + 2000000000ull;
            check_ok(tn_mig_recv_small(fd, &rh, body, sizeof body, deadline, &why));
            assert_int_equal(rh.type, TN_MIG_TORN);
            assert_int_equal(rh.length, 12);
            assert_int_equal(tn_get_be32(body), 1);
            assert_int_equal(tn_get_be64(body + 4), 0);
            check_ok(tn_mig_recv_small(fd, &rh, body, sizeof body, deadline, &why));
            assert_int_equal(rh.type, TN_MIG_ACK);
            /* ...but a switch while it is still owed is refused. */
            uint8_t sw[8] = {0};
            put_frame(fd, TN_MIG_SWITCH, id, 1, 2, sw, sizeof sw, NULL, 0, 0);
            break;
        }
        case 3: /* another migration's id */
            mlen = page_frame(meta, data, &p, page);
            put_frame(fd, TN_MIG_PAGES, id + 1, 1, 1, meta, mlen, data, sizeof data, 0);
            break;
        case 4: /* a sequence gap, then a switch with an impossible length */
            mlen = page_frame(meta, data, &p, page);
            put_frame(fd, TN_MIG_PAGES, id, 1, 7, meta, mlen, data, sizeof data, 0);
            break;
        case 6: { /* a switch numbered as a resend, before any switch: no commit */
            uint8_t sw[8] = {0};
            put_frame(fd, TN_MIG_SWITCH, id, 1, 0, sw, sizeof sw, NULL, 0, 0);
            tn_mig_header rh;
            uint8_t body[256];
            const char *why;
            check_ok(tn_mig_recv_small(fd, &rh, body, sizeof body, tern_clock_ns() + 2000000000ull,
                                       &why));
            assert_int_equal(rh.type, TN_MIG_ABORT);
            break;
        }
        default: { /* a switch owing pages past the end of the arena */
            uint8_t sw[8 + 4 * 8] = {0};
            tn_put_be32(sw, 1);
            tn_put_be64(sw + 8 + 3 * 8, ~0ull);
            put_frame(fd, TN_MIG_SWITCH, id, 1, 1, sw, sizeof sw, NULL, 0, 0);
            break;
        }
        }
        expect_closed(fd);
        pthread_join(t, NULL);
        /* Nobody came back within reconnect_ms: the migration failed, and
         * nothing was resumed or left mapped. */
        assert_int_not_equal(h.err, TERN_OK);
        assert_null(h.arena);
        assert_false(h.resumed);
        assert_true(strlen(h.st.error) > 0);
        print_message("hostile %d: %s\n", kind, h.st.error);
        tern_migrate_listener_close(h.l);
    }
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_precopy),
        cmocka_unit_test(test_stop_and_copy),
        cmocka_unit_test(test_postcopy),
        cmocka_unit_test(test_hybrid),
        cmocka_unit_test(test_trackers),
        cmocka_unit_test(test_hybrid_fallbacks),
        cmocka_unit_test(test_cut_connection_resumes),
        cmocka_unit_test(test_lost_verdict),
        cmocka_unit_test(test_dest_dies_before_switch),
        cmocka_unit_test(test_dest_dies_after_switch),
        cmocka_unit_test(test_address_taken),
        cmocka_unit_test(test_reserve),
        cmocka_unit_test(test_hostile_streams),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
