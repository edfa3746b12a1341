/* Helpers for tern's black-box messaging tests (tests/msg, tests/interop,
 * tests/wire). They use only the public API plus POSIX.
 *
 * Helpers whose names end in _try never assert: they are safe on helper
 * threads (cmocka's asserts may only fail on the thread running the test).
 * Everything else asserts on failure and must run on the test thread. */
#ifndef TERN_TEST_MSGTEST_H
#define TERN_TEST_MSGTEST_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "testutil.h"

#define MT_EP_MAX 256
/* Default send/receive limit: long enough for a loaded 2-core VM, short
 * enough that a lost message fails the test instead of hanging it. */
#define MT_IO_TIMEOUT_MS 10000

enum { MT_TCP, MT_TCP6, MT_IPC, MT_IPC_ABSTRACT, MT_INPROC };

static inline const char *mt_transport_name(int tr)
{
    switch (tr) {
    case MT_TCP:
        return "tcp";
    case MT_TCP6:
        return "tcp6";
    case MT_IPC:
        return "ipc";
    case MT_IPC_ABSTRACT:
        return "ipc-abstract";
    default:
        return "inproc";
    }
}

/* ---- time ------------------------------------------------------------- */

static inline int64_t mt_now_ms(void)
{
    return (int64_t)(tern_clock_ns() / 1000000u);
}

#define mt_sleep_ms test_sleep_ms

/* Joins t, waiting at most timeout_ms; false if the thread is still running. */
static inline bool mt_join(pthread_t t, int64_t timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(timeout_ms / 1000);
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return pthread_timedjoin_np(t, NULL, &ts) == 0;
}

/* ---- endpoints -------------------------------------------------------- */

static inline unsigned mt_unique(void)
{
    static atomic_uint counter;
    return atomic_fetch_add(&counter, 1u) + 1u;
}

/* A free TCP port on the loopback of family (AF_INET or AF_INET6): for
 * tests that must connect before anything is bound. */
static inline int mt_free_tcp_port(int family)
{
    /* Below the kernel's ephemeral range (32768 and up), so no one binding
     * port 0 can take it meanwhile, and a connect to it can never meet its
     * own source port (a TCP self-connect). */
    static unsigned next;
    if (next == 0)
        next = 20000u + (unsigned)getpid() % 12000u;
    for (int tries = 0; tries < 12000; tries++) {
        int port = (int)(20000u + next++ % 12000u);
        int fd = socket(family, SOCK_STREAM, 0);
        assert_true(fd >= 0);
        struct sockaddr_storage ss;
        socklen_t sl;
        memset(&ss, 0, sizeof ss);
        if (family == AF_INET6) {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
            s6->sin6_family = AF_INET6;
            s6->sin6_addr = in6addr_loopback;
            s6->sin6_port = htons((uint16_t)port);
            sl = sizeof *s6;
        } else {
            struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
            s4->sin_family = AF_INET;
            s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            s4->sin_port = htons((uint16_t)port);
            sl = sizeof *s4;
        }
        int ok = bind(fd, (struct sockaddr *)&ss, sl) == 0;
        close(fd);
        if (ok)
            return port;
    }
    fail_msg("no free tcp port between 20000 and 32000");
    return 0;
}

/* An endpoint of transport tr nobody uses yet. With any_port, tcp gets
 * port 0 (bind it, then read the real one back with mt_last_endpoint);
 * otherwise a concrete free port, usable before anything is bound. */
static inline void mt_endpoint(int tr, bool any_port, char *ep, size_t cap)
{
    unsigned n = mt_unique();
    int pid = (int)getpid();
    switch (tr) {
    case MT_TCP:
        snprintf(ep, cap, "tcp://127.0.0.1:%d", any_port ? 0 : mt_free_tcp_port(AF_INET));
        break;
    case MT_TCP6:
        snprintf(ep, cap, "tcp://[::1]:%d", any_port ? 0 : mt_free_tcp_port(AF_INET6));
        break;
    case MT_IPC:
        snprintf(ep, cap, "ipc:///tmp/tern-test-%d-%u.sock", pid, n);
        unlink(ep + strlen("ipc://"));
        break;
    case MT_IPC_ABSTRACT:
        snprintf(ep, cap, "ipc://@tern-test-%d-%u", pid, n);
        break;
    default:
        snprintf(ep, cap, "inproc://tern-test-%d-%u", pid, n);
        break;
    }
}

/* Removes the file of an ipc path endpoint (no-op for anything else). */
static inline void mt_unlink_ipc(const char *ep)
{
    if (strncmp(ep, "ipc:///", 7) == 0)
        unlink(ep + strlen("ipc://"));
}

static inline void mt_last_endpoint(tern_socket s, char *ep, size_t cap)
{
    size_t len = cap;
    check_ok(tern_getopt_bytes(s, TERN_OPT_LAST_ENDPOINT, ep, &len));
    assert_true(len < cap);
    assert_int_equal(strlen(ep), len);
}

static inline void mt_bind(tern_socket s, const char *ep)
{
    tern_err e = tern_bind(s, ep);
    if (e != TERN_OK)
        fail_msg("tern_bind(\"%s\") failed: %s (%s)", ep, tern_errname(e), tern_strerror(e));
}

/* Binds s to an ephemeral tcp port on the loopback; ep gets the endpoint,
 * and the port is returned. */
static inline int mt_bind_tcp_port(tern_socket s, char *ep, size_t cap)
{
    mt_bind(s, "tcp://127.0.0.1:0");
    mt_last_endpoint(s, ep, cap);
    const char *colon = strrchr(ep, ':');
    assert_non_null(colon);
    int port = atoi(colon + 1);
    assert_true(port > 0);
    return port;
}

static inline void mt_connect(tern_socket s, const char *ep)
{
    tern_err e = tern_connect(s, ep);
    if (e != TERN_OK)
        fail_msg("tern_connect(\"%s\") failed: %s (%s)", ep, tern_errname(e), tern_strerror(e));
}

/* Binds s to a fresh endpoint of transport tr; ep receives an endpoint
 * that peers can connect to (for tcp, the port actually bound). */
static inline void mt_bind_fresh(tern_socket s, int tr, char *ep, size_t cap)
{
    mt_endpoint(tr, true, ep, cap);
    mt_bind(s, ep);
    if (tr == MT_TCP || tr == MT_TCP6)
        mt_last_endpoint(s, ep, cap);
}

/* ---- sockets ---------------------------------------------------------- */

static inline void mt_setopt(tern_socket s, int opt, int64_t value)
{
    tern_err e = tern_setopt_int(s, opt, value);
    if (e != TERN_OK)
        fail_msg("tern_setopt_int(opt %d, %lld) failed: %s", opt, (long long)value,
                 tern_errname(e));
}

static inline int64_t mt_getopt(tern_socket s, int opt)
{
    int64_t v = -12345;
    tern_err e = tern_getopt_int(s, opt, &v);
    if (e != TERN_OK)
        fail_msg("tern_getopt_int(opt %d) failed: %s", opt, tern_errname(e));
    return v;
}

/* Opens a socket with bounded send and receive timeouts. */
static inline tern_socket mt_open(tern_ctx *ctx, int type)
{
    tern_socket s = {0};
    tern_err e = tern_socket_open(ctx, type, &s);
    if (e != TERN_OK)
        fail_msg("tern_socket_open(type %d) failed: %s", type, tern_errname(e));
    assert_int_not_equal(s.id, 0);
    mt_setopt(s, TERN_OPT_RCVTIMEO, MT_IO_TIMEOUT_MS);
    mt_setopt(s, TERN_OPT_SNDTIMEO, MT_IO_TIMEOUT_MS);
    /* Reconnect quickly so that tests which restart peers stay short. */
    mt_setopt(s, TERN_OPT_RECONNECT_IVL, 20);
    mt_setopt(s, TERN_OPT_RECONNECT_IVL_MAX, 200);
    return s;
}

/* Closes s when queued messages may legitimately be left over: TERN_OK,
 * or TERN_ETIMEDOUT if the linger ran out with messages still queued. */
static inline void mt_close_lossy(tern_socket s)
{
    tern_err e = tern_socket_close(s);
    if (e != TERN_OK && e != TERN_ETIMEDOUT)
        fail_msg("tern_socket_close failed: %s", tern_errname(e));
}

static inline tern_ctx *mt_ctx(void)
{
    tern_ctx *ctx = NULL;
    check_ok(tern_ctx_open(&ctx, 0));
    assert_non_null(ctx);
    return ctx;
}

/* Waits until TERN_OPT_PEERS of s satisfies cmp against want: '>' means
 * at least want, '=' exactly want. Fails after timeout_ms. */
static inline void mt_wait_peers_cmp(tern_socket s, char cmp, int64_t want, int64_t timeout_ms)
{
    int64_t deadline = mt_now_ms() + timeout_ms;
    for (;;) {
        int64_t v = mt_getopt(s, TERN_OPT_PEERS);
        if (cmp == '=' ? v == want : v >= want)
            return;
        if (mt_now_ms() > deadline)
            fail_msg("TERN_OPT_PEERS is %lld after %lld ms, want %s%lld", (long long)v,
                     (long long)timeout_ms, cmp == '=' ? "" : ">=", (long long)want);
        mt_sleep_ms(5);
    }
}

static inline void mt_wait_peers(tern_socket s, int64_t want)
{
    mt_wait_peers_cmp(s, '>', want, MT_IO_TIMEOUT_MS);
}

/* ---- message contents ------------------------------------------------- */

/* Byte i of a test part made from seed: a hash, so that shifted, swapped
 * or truncated data never looks right by accident. */
static inline uint8_t mt_byte(uint32_t seed, size_t i)
{
    uint32_t x = seed * 2654435761u ^ ((uint32_t)i * 40503u + (uint32_t)(i >> 20));
    x ^= x >> 15;
    x *= 2246822519u;
    x ^= x >> 13;
    return (uint8_t)x;
}

static inline void mt_fill(void *buf, size_t n, uint32_t seed)
{
    uint8_t *p = buf;
    for (size_t i = 0; i < n; i++)
        p[i] = mt_byte(seed, i);
}

/* Index of the first byte that differs from the pattern, or n. */
static inline size_t mt_mismatch(const void *buf, size_t n, uint32_t seed)
{
    const uint8_t *p = buf;
    for (size_t i = 0; i < n; i++)
        if (p[i] != mt_byte(seed, i))
            return i;
    return n;
}

static inline uint32_t mt_part_seed(uint32_t seed, size_t part)
{
    return seed * 31u + (uint32_t)part * 7919u + 1u;
}

/* A message of nparts parts with the given sizes and patterned contents;
 * NULL on failure (safe on any thread). */
static inline tern_msg *mt_msg_make_try(size_t nparts, const size_t *sizes, uint32_t seed)
{
    tern_msg *m = NULL;
    if (tern_msg_new(&m) != TERN_OK)
        return NULL;
    for (size_t p = 0; p < nparts; p++) {
        uint8_t *buf = malloc(sizes[p] ? sizes[p] : 1);
        if (!buf) {
            tern_msg_free(m);
            return NULL;
        }
        mt_fill(buf, sizes[p], mt_part_seed(seed, p));
        tern_err e = tern_msg_append(m, buf, sizes[p]);
        free(buf);
        if (e != TERN_OK) {
            tern_msg_free(m);
            return NULL;
        }
    }
    return m;
}

/* True if m is exactly what mt_msg_make_try(nparts, sizes, seed) built;
 * otherwise why says what differs. Safe on any thread. */
static inline bool mt_msg_match(const tern_msg *m, size_t nparts, const size_t *sizes,
                                uint32_t seed, char *why, size_t cap)
{
    if (tern_msg_parts(m) != nparts) {
        snprintf(why, cap, "message has %zu parts, expected %zu", tern_msg_parts(m), nparts);
        return false;
    }
    size_t total = 0;
    for (size_t p = 0; p < nparts; p++) {
        size_t got = tern_msg_size(m, p);
        total += sizes[p];
        if (got != sizes[p]) {
            snprintf(why, cap, "part %zu of %zu has %zu bytes, expected %zu", p, nparts, got,
                     sizes[p]);
            return false;
        }
        const void *d = tern_msg_data(m, p);
        if (sizes[p] > 0 && d == NULL) {
            snprintf(why, cap, "part %zu: tern_msg_data returned NULL", p);
            return false;
        }
        size_t at = sizes[p] ? mt_mismatch(d, sizes[p], mt_part_seed(seed, p)) : 0;
        if (at != sizes[p]) {
            snprintf(why, cap, "part %zu of %zu (%zu bytes, seed %u) differs at byte %zu", p,
                     nparts, sizes[p], (unsigned)seed, at);
            return false;
        }
    }
    if (tern_msg_total(m) != total) {
        snprintf(why, cap, "tern_msg_total is %zu, expected %zu", tern_msg_total(m), total);
        return false;
    }
    return true;
}

/* Sends msg, freeing it if the send fails, and fails the test on error. */
static inline void mt_msg_send(tern_socket s, tern_msg *m, int flags)
{
    tern_err e = tern_msg_send(s, m, flags);
    if (e != TERN_OK) {
        tern_msg_free(m);
        fail_msg("tern_msg_send failed: %s (%s)", tern_errname(e), tern_strerror(e));
    }
}

static inline void mt_send_parts(tern_socket s, size_t nparts, const size_t *sizes, uint32_t seed)
{
    tern_msg *m = mt_msg_make_try(nparts, sizes, seed);
    assert_non_null(m);
    mt_msg_send(s, m, 0);
}

static inline void mt_recv_parts(tern_socket s, size_t nparts, const size_t *sizes, uint32_t seed)
{
    tern_msg *m = NULL;
    tern_err e = tern_msg_recv(s, &m, 0);
    if (e != TERN_OK)
        fail_msg("tern_msg_recv (expecting %zu parts, seed %u) failed: %s", nparts, (unsigned)seed,
                 tern_errname(e));
    char why[256];
    bool ok = mt_msg_match(m, nparts, sizes, seed, why, sizeof why);
    tern_msg_free(m);
    if (!ok)
        fail_msg("received message (seed %u) is wrong: %s", (unsigned)seed, why);
}

/* ---- sequence-tagged messages ----------------------------------------- */

/* A small message: 4-byte sender tag, 8-byte sequence number, then
 * extra bytes of pattern (seeded by tag and seq). */
static inline tern_err mt_send_seq_try(tern_socket s, uint32_t tag, uint64_t seq, size_t extra,
                                       int flags)
{
    uint8_t buf[12 + 256];
    if (extra > 256)
        extra = 256;
    memcpy(buf, &tag, 4);
    memcpy(buf + 4, &seq, 8);
    mt_fill(buf + 12, extra, tag * 1000003u + (uint32_t)seq);
    return tern_send(s, buf, 12 + extra, flags);
}

/* Parses a message made by mt_send_seq_try; false if it is not one. */
static inline bool mt_parse_seq(const void *buf, size_t len, uint32_t *tag, uint64_t *seq)
{
    *tag = UINT32_MAX;
    *seq = UINT64_MAX;
    if (len < 12 || len > 12 + 256)
        return false;
    memcpy(tag, buf, 4);
    memcpy(seq, (const uint8_t *)buf + 4, 8);
    size_t extra = len - 12;
    return mt_mismatch((const uint8_t *)buf + 12, extra, *tag * 1000003u + (uint32_t)*seq) == extra;
}

static inline void mt_recv_seq(tern_socket s, uint32_t *tag, uint64_t *seq)
{
    uint8_t buf[12 + 256];
    size_t len = 0;
    *tag = UINT32_MAX;
    *seq = UINT64_MAX;
    tern_err e = tern_recv(s, buf, sizeof buf, &len, 0);
    if (e != TERN_OK)
        fail_msg("tern_recv failed: %s (%s)", tern_errname(e), tern_strerror(e));
    if (!mt_parse_seq(buf, len, tag, seq))
        fail_msg("received a malformed sequence message (%zu bytes)", len);
}

/* ---- tracing ---------------------------------------------------------- */

#define MT_TRACE_LINES 8192
#define MT_TRACE_LEN 320

struct mt_trace {
    pthread_mutex_t mu;
    uint64_t total; /* lines received so far; line k is in slot k % MT_TRACE_LINES */
    char topic[MT_TRACE_LINES][16];
    char line[MT_TRACE_LINES][MT_TRACE_LEN];
};

static inline struct mt_trace *mt_trace_buf(void)
{
    static struct mt_trace t = {.mu = PTHREAD_MUTEX_INITIALIZER};
    return &t;
}

static inline void mt_trace_fn(void *arg, const char *topic, const char *line)
{
    (void)arg;
    struct mt_trace *t = mt_trace_buf();
    pthread_mutex_lock(&t->mu);
    size_t k = (size_t)(t->total % MT_TRACE_LINES);
    snprintf(t->topic[k], sizeof t->topic[k], "%s", topic ? topic : "");
    snprintf(t->line[k], sizeof t->line[k], "%s", line ? line : "");
    t->total++;
    pthread_mutex_unlock(&t->mu);
}

/* Installs the capturing sink and turns every topic on. */
static inline void mt_trace_capture(void)
{
    tern_trace_sink(mt_trace_fn, NULL);
    check_ok(tern_trace_set("all"));
}

/* cmocka group set-up and tear-down for tests that read traces: every
 * topic captured, and one context (*state) for the whole group. */
static inline int mt_traced_group_setup(void **state)
{
    mt_trace_capture();
    *state = mt_ctx();
    return 0;
}

static inline int mt_traced_group_teardown(void **state)
{
    tern_ctx_close(*state);
    tern_trace_set(NULL);
    tern_trace_sink(NULL, NULL);
    return 0;
}

static inline uint64_t mt_trace_mark(void)
{
    struct mt_trace *t = mt_trace_buf();
    pthread_mutex_lock(&t->mu);
    uint64_t n = t->total;
    pthread_mutex_unlock(&t->mu);
    return n;
}

/* Looks for a line traced after mark that contains (case-insensitively)
 * any of the NULL-terminated needles; copies "topic: line" to out. */
static inline bool mt_trace_find(uint64_t mark, const char *const *needles, char *out, size_t cap)
{
    struct mt_trace *t = mt_trace_buf();
    bool found = false;
    pthread_mutex_lock(&t->mu);
    uint64_t from = mark;
    if (t->total > MT_TRACE_LINES && from < t->total - MT_TRACE_LINES)
        from = t->total - MT_TRACE_LINES;
    for (uint64_t k = from; k < t->total && !found; k++) {
        size_t slot = (size_t)(k % MT_TRACE_LINES);
        for (const char *const *n = needles; *n && !found; n++) {
            if (strcasestr(t->line[slot], *n)) {
                snprintf(out, cap, "%s: %s", t->topic[slot], t->line[slot]);
                found = true;
            }
        }
    }
    pthread_mutex_unlock(&t->mu);
    return found;
}

static inline bool mt_trace_wait(uint64_t mark, const char *const *needles, int64_t timeout_ms,
                                 char *out, size_t cap)
{
    int64_t deadline = mt_now_ms() + timeout_ms;
    for (;;) {
        if (mt_trace_find(mark, needles, out, cap))
            return true;
        if (mt_now_ms() > deadline)
            return false;
        mt_sleep_ms(10);
    }
}

/* Prints up to max lines traced after mark (to explain a failure). */
static inline void mt_trace_dump(uint64_t mark, size_t max)
{
    struct mt_trace *t = mt_trace_buf();
    pthread_mutex_lock(&t->mu);
    uint64_t from = mark;
    if (t->total > MT_TRACE_LINES && from < t->total - MT_TRACE_LINES)
        from = t->total - MT_TRACE_LINES;
    if (t->total - from > max)
        from = t->total - max;
    for (uint64_t k = from; k < t->total; k++) {
        size_t slot = (size_t)(k % MT_TRACE_LINES);
        printf("    trace %s: %s\n", t->topic[slot], t->line[slot]);
    }
    pthread_mutex_unlock(&t->mu);
}

/* ---- process ---------------------------------------------------------- */

/* Resident set size in bytes, from /proc/self/statm. */
static inline int64_t mt_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long long size = 0, resident = 0;
    if (!f)
        return -1;
    int n = fscanf(f, "%lld %lld", &size, &resident);
    fclose(f);
    if (n != 2)
        return -1;
    return (int64_t)resident * (int64_t)sysconf(_SC_PAGESIZE);
}

/* TERN_TEST_FILTER="name*" runs only the matching tests of a binary. */
static inline void mt_test_filter_from_env(void)
{
    const char *f = getenv("TERN_TEST_FILTER");
    if (f && *f)
        cmocka_set_test_filter(f);
}

/* ---- isolation -------------------------------------------------------- */

/* Runs fn(arg) in a child process, for scenarios that could kill the
 * whole test binary (a SIGPIPE, an abort). fn must not use cmocka asserts:
 * it prints what went wrong to stderr and returns nonzero. The child is
 * killed by SIGALRM after timeout_s. Call with no other threads running. */
static inline void mt_isolated(int (*fn)(void *), void *arg, unsigned timeout_s, const char *what)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* cmocka's handlers would turn a crash into a jump back into the
         * test runner inside the child: die of the signal instead. */
        static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGPIPE, SIGALRM};
        for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
            signal(sigs[i], SIG_DFL);
        alarm(timeout_s);
        int rc = fn(arg);
        fflush(stdout);
        fflush(stderr);
        _exit(rc);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(status))
        fail_msg("%s: the process was killed by signal %d (%s)", what, WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    if (WEXITSTATUS(status) != 0)
        fail_msg("%s: failed (child exit code %d, see stderr)", what, WEXITSTATUS(status));
}

/* For isolated scenarios: report and return a nonzero line number. */
#define MT_CHILD_CHECK(cond)                                                                       \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            return __LINE__ % 250 + 1;                                                             \
        }                                                                                          \
    } while (0)

#define MT_CHILD_OK(expr)                                                                          \
    do {                                                                                           \
        tern_err ce_ = (expr);                                                                     \
        if (ce_ != TERN_OK) {                                                                      \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #expr,                   \
                    tern_errname(ce_));                                                            \
            return __LINE__ % 250 + 1;                                                             \
        }                                                                                          \
    } while (0)

/* Waits for TERN_OPT_PEERS >= want; false after timeout_ms (no asserts). */
static inline bool mt_wait_peers_try(tern_socket s, int64_t want, int64_t timeout_ms)
{
    int64_t deadline = mt_now_ms() + timeout_ms;
    for (;;) {
        int64_t v = -1;
        if (tern_getopt_int(s, TERN_OPT_PEERS, &v) == TERN_OK && v >= want)
            return true;
        if (mt_now_ms() > deadline)
            return false;
        mt_sleep_ms(5);
    }
}

/* ---- transports as test state ----------------------------------------- */

/* A pointer to a constant holding transport tr, for a CMUnitTest's
 * initial_state; mt_tr_of reads it back. */
static inline void *mt_tr_arg(int tr)
{
    static const int trs[] = {MT_TCP, MT_TCP6, MT_IPC, MT_IPC_ABSTRACT, MT_INPROC};
    return (void *)&trs[tr];
}

static inline int mt_tr_of(void **state)
{
    return *(const int *)*state;
}

static inline bool mt_tr_is_stream(int tr)
{
    return tr != MT_INPROC;
}

/* fn over tcp, ipc (path) and inproc, as "fn_tcp", "fn_ipc", "fn_inproc". */
#define MT_PER_TRANSPORT(fn)                                                                       \
    {#fn "_tcp", fn, NULL, NULL, mt_tr_arg(MT_TCP)},                                               \
        {#fn "_ipc", fn, NULL, NULL, mt_tr_arg(MT_IPC)},                                           \
    {                                                                                              \
#fn "_inproc", fn, NULL, NULL, mt_tr_arg(MT_INPROC)                                        \
    }

/* ---- waiting for a condition ------------------------------------------ */

/* Polls cond every 2 ms until it holds; fails with the message after
 * timeout_ms. The condition is re-evaluated, so it may call the API. */
#define MT_WAIT_FOR(cond, timeout_ms, ...)                                                         \
    do {                                                                                           \
        int64_t mt_deadline_ = mt_now_ms() + (timeout_ms);                                         \
        while (!(cond)) {                                                                          \
            if (mt_now_ms() > mt_deadline_)                                                        \
                fail_msg(__VA_ARGS__);                                                             \
            mt_sleep_ms(2);                                                                        \
        }                                                                                          \
    } while (0)

/* Binds ep again after its previous owner closed, retrying briefly while
 * the old listener's teardown finishes. */
static inline void mt_bind_retry(tern_socket s, const char *ep)
{
    int64_t deadline = mt_now_ms() + 5000;
    tern_err e;
    while ((e = tern_bind(s, ep)) == TERN_EADDRINUSE && mt_now_ms() < deadline)
        mt_sleep_ms(20);
    if (e != TERN_OK)
        fail_msg("binding %s again: %s", ep, tern_errname(e));
}

/* ---- counters --------------------------------------------------------- */

static inline tern_sock_stats mt_stats(tern_socket s)
{
    tern_sock_stats st;
    memset(&st, 0, sizeof st);
    check_ok(tern_socket_stats(s, &st));
    return st;
}

/* Fills up to cap peers; returns how many the socket has. */
static inline size_t mt_peers(tern_socket s, tern_peer_stats *peers, size_t cap)
{
    size_t n = 0;
    check_ok(tern_socket_peers(s, peers, cap, &n));
    return n;
}

/* The peer of s whose routing id is id (NUL-terminated), or false. */
static inline bool mt_peer_by_id(tern_socket s, const char *id, tern_peer_stats *out)
{
    tern_peer_stats ps[64];
    size_t n = mt_peers(s, ps, 64);
    if (n > 64)
        n = 64;
    for (size_t i = 0; i < n; i++) {
        if (ps[i].routing_id_len == strlen(id) && memcmp(ps[i].routing_id, id, strlen(id)) == 0) {
            *out = ps[i];
            return true;
        }
    }
    return false;
}

/* PUB, XPUB: the sum of the subscriptions of every attached peer. */
static inline int mt_peer_subs_total(tern_socket s)
{
    tern_peer_stats ps[64];
    size_t n = mt_peers(s, ps, 64);
    int sum = 0;
    for (size_t i = 0; i < n && i < 64; i++)
        sum += ps[i].subscriptions;
    return sum;
}

/* Waits until the peers of publisher s hold exactly want subscriptions
 * in all: they reached the publisher, so filtering will apply them. */
static inline void mt_wait_subs(tern_socket s, int want)
{
    int64_t deadline = mt_now_ms() + MT_IO_TIMEOUT_MS;
    int have;
    while ((have = mt_peer_subs_total(s)) != want) {
        if (mt_now_ms() > deadline)
            fail_msg("the publisher's peers hold %d subscriptions after %d ms, want %d", have,
                     MT_IO_TIMEOUT_MS, want);
        mt_sleep_ms(2);
    }
}

/* ---- messages of literal parts ---------------------------------------- */

/* Makes "(const char *const[]){...}" lists and their length. */
#define MT_STRS(...) ((const char *const[]){__VA_ARGS__})
#define MT_NSTRS(...) (sizeof(MT_STRS(__VA_ARGS__)) / sizeof(const char *))

/* A message whose parts are the given strings (without their NULs);
 * NULL on failure. Safe on any thread. */
static inline tern_msg *mt_msg_strs_try(size_t n, const char *const *parts)
{
    tern_msg *m = NULL;
    if (tern_msg_new(&m) != TERN_OK)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (tern_msg_append(m, parts[i], strlen(parts[i])) != TERN_OK) {
            tern_msg_free(m);
            return NULL;
        }
    }
    return m;
}

static inline tern_err mt_send_strs_try(tern_socket s, int flags, size_t n,
                                        const char *const *parts)
{
    tern_msg *m = mt_msg_strs_try(n, parts);
    if (m == NULL)
        return TERN_ENOMEM;
    tern_err e = tern_msg_send(s, m, flags);
    if (e != TERN_OK)
        tern_msg_free(m);
    return e;
}

/* True if part i of m holds exactly len bytes equal to data. */
static inline bool mt_part_is(const tern_msg *m, size_t i, const void *data, size_t len)
{
    if (i >= tern_msg_parts(m) || tern_msg_size(m, i) != len)
        return false;
    return len == 0 || memcmp(tern_msg_data(m, i), data, len) == 0;
}

/* Writes m's parts to out as ["a"]["\x00..."] (for failure messages). */
static inline const char *mt_msg_describe(const tern_msg *m, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; m && i < tern_msg_parts(m) && o + 8 < cap; i++) {
        const uint8_t *d = tern_msg_data(m, i);
        size_t n = tern_msg_size(m, i);
        o += (size_t)snprintf(out + o, cap - o, "[");
        for (size_t k = 0; k < n && o + 8 < cap; k++) {
            if (k == 40) {
                o += (size_t)snprintf(out + o, cap - o, "...(%zu)", n);
                break;
            }
            if (d[k] >= 0x20 && d[k] < 0x7f && d[k] != '\\')
                out[o++] = (char)d[k];
            else
                o += (size_t)snprintf(out + o, cap - o, "\\x%02x", d[k]);
        }
        if (o + 2 < cap)
            o += (size_t)snprintf(out + o, cap - o, "]");
    }
    if (o < cap)
        out[o] = '\0';
    return out;
}

/* True if m's parts are exactly the n strings. Safe on any thread. */
static inline bool mt_msg_is_strs(const tern_msg *m, size_t n, const char *const *parts)
{
    if (tern_msg_parts(m) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!mt_part_is(m, i, parts[i], strlen(parts[i])))
            return false;
    return true;
}

static inline void mt_send_strs(tern_socket s, size_t n, const char *const *parts)
{
    tern_err e = mt_send_strs_try(s, 0, n, parts);
    if (e != TERN_OK)
        fail_msg("sending a %zu-part message (\"%s\"...) failed: %s", n, n ? parts[0] : "",
                 tern_errname(e));
}

/* Receives one message, failing the test on error. */
static inline tern_msg *mt_recv_msg(tern_socket s)
{
    tern_msg *m = NULL;
    tern_err e = tern_msg_recv(s, &m, 0);
    if (e != TERN_OK)
        fail_msg("tern_msg_recv failed: %s (%s)", tern_errname(e), tern_strerror(e));
    return m;
}

/* Receives one message and checks that its parts are exactly the strings. */
static inline void mt_recv_strs(tern_socket s, size_t n, const char *const *parts)
{
    tern_msg *m = mt_recv_msg(s);
    if (!mt_msg_is_strs(m, n, parts)) {
        char got[512], want[512];
        tern_msg *w = mt_msg_strs_try(n, parts);
        mt_msg_describe(m, got, sizeof got);
        mt_msg_describe(w, want, sizeof want);
        tern_msg_free(w);
        tern_msg_free(m);
        fail_msg("received %s, expected %s", got, want);
    }
    tern_msg_free(m);
}

#define MT_SEND(s, ...) mt_send_strs((s), MT_NSTRS(__VA_ARGS__), MT_STRS(__VA_ARGS__))
#define MT_RECV(s, ...) mt_recv_strs((s), MT_NSTRS(__VA_ARGS__), MT_STRS(__VA_ARGS__))

/* Asserts that nothing arrives on s within ms (restores RCVTIMEO). */
static inline void mt_expect_silence(tern_socket s, int64_t ms)
{
    int64_t old = mt_getopt(s, TERN_OPT_RCVTIMEO);
    mt_setopt(s, TERN_OPT_RCVTIMEO, ms);
    tern_msg *m = NULL;
    tern_err e = tern_msg_recv(s, &m, 0);
    mt_setopt(s, TERN_OPT_RCVTIMEO, old);
    if (e == TERN_OK) {
        char got[512];
        mt_msg_describe(m, got, sizeof got);
        tern_msg_free(m);
        fail_msg("expected nothing, received %s", got);
    }
    if (e != TERN_ETIMEDOUT && e != TERN_EAGAIN)
        fail_msg("expected a receive timeout, got %s", tern_errname(e));
}

/* ---- monitor ---------------------------------------------------------- */

/* Starts monitoring s (events mask) and returns a PAIR connected to the
 * monitor, ready to receive events. */
static inline tern_socket mt_monitor_open(tern_ctx *ctx, tern_socket s, int events)
{
    char ep[MT_EP_MAX];
    mt_endpoint(MT_INPROC, false, ep, sizeof ep);
    check_ok(tern_monitor(s, ep, events));
    tern_socket pair = mt_open(ctx, TERN_PAIR);
    mt_connect(pair, ep);
    mt_wait_peers(pair, 1);
    return pair;
}

/* Receives the next event (TERN_ETIMEDOUT after timeout_ms). */
static inline tern_err mt_monitor_next(tern_socket mon, int64_t timeout_ms, tern_event *ev)
{
    int64_t old = mt_getopt(mon, TERN_OPT_RCVTIMEO);
    mt_setopt(mon, TERN_OPT_RCVTIMEO, timeout_ms);
    tern_msg *m = NULL;
    tern_err e = tern_msg_recv(mon, &m, 0);
    mt_setopt(mon, TERN_OPT_RCVTIMEO, old);
    if (e != TERN_OK)
        return e;
    e = tern_event_decode(m, ev);
    tern_msg_free(m);
    return e;
}

/* Skips events until one of type event arrives; fails (listing what was
 * seen) if none does within timeout_ms. */
static inline void mt_monitor_expect(tern_socket mon, int event, int64_t timeout_ms,
                                     tern_event *out)
{
    int64_t deadline = mt_now_ms() + timeout_ms;
    char seen[1024] = "";
    size_t o = 0;
    for (;;) {
        int64_t left = deadline - mt_now_ms();
        tern_event ev;
        memset(&ev, 0, sizeof ev);
        tern_err e = mt_monitor_next(mon, left > 0 ? left : 0, &ev);
        if (e == TERN_ETIMEDOUT || e == TERN_EAGAIN)
            fail_msg("no %s event within %lld ms; seen: %s", tern_event_name(event),
                     (long long)timeout_ms, o ? seen : "nothing");
        if (e != TERN_OK)
            fail_msg("receiving a monitor event: %s", tern_errname(e));
        if (ev.event == event) {
            if (out)
                *out = ev;
            return;
        }
        if (o + 40 < sizeof seen)
            o += (size_t)snprintf(seen + o, sizeof seen - o, "%s%s", o ? ", " : "",
                                  tern_event_name(ev.event));
    }
}

#endif
