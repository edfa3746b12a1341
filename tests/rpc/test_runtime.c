/* The RPC runtime without generated stubs: a hand-written interface and
 * dispatcher, real servers and clients over tcp, ipc and inproc. Covers
 * binding and versions, statuses, deadlines, cancellation, futures,
 * pipelining, accepted and one-way calls, at-most-once resends, context
 * handles and their rundown, and multicast. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"

enum { M_ADD, M_ECHO, M_SLEEP, M_FAIL, M_COUNT, M_LOG, M_OPEN, M_GET, M_CLOSE, M_WHO, N_METHODS };

static const tern_rpc_method methods[N_METHODS] = {
    [M_ADD] = {"add", 0},
    [M_ECHO] = {"echo", 0},
    [M_SLEEP] = {"sleep", 0},
    [M_FAIL] = {"fail", 0},
    [M_COUNT] = {"count", TERN_RPC_IDEMPOTENT},
    [M_LOG] = {"log", TERN_RPC_ONEWAY},
    [M_OPEN] = {"open", 0},
    [M_GET] = {"get", 0},
    [M_CLOSE] = {"close", 0},
    [M_WHO] = {"who", 0},
};

#define UUID {{0x6f, 0x1c, 0x2a, 0x8e, 0x7c, 0x1d, 0x4a, 0x53, 0x9a, 0x0b, 0x2f, 0x3c, 0x4d, 0x5e, 0x6f, 0x71}}

static const tern_rpc_iface test_iface = {"Test", UUID, 1, 2, N_METHODS, methods};

typedef struct app {
    atomic_int runs;      /* calls of count */
    atomic_int logs;      /* one-way log calls */
    atomic_int cancelled; /* sleeps that saw their cancellation */
    atomic_int rundowns;
    _Atomic int64_t seen_deadline_ms; /* what sleep saw left of its deadline */
    int id;
} app;

static void session_rundown(void *state)
{
    app *a = *(app **)state;
    test_sleep_ms(200); /* a slow rundown: other clients call meanwhile */
    atomic_fetch_add(&a->rundowns, 1);
    free(state);
}

static tern_err dispatch(tern_rpc_call *call, uint32_t method, tern_xdr_dec *in, tern_xdr_enc *out,
                         const void *impl)
{
    (void)impl;
    app *a = tern_rpc_call_app(call);
    switch (method) {
    case M_ADD: {
        int32_t x, y;
        tern_xdr_get_i32(in, &x);
        tern_xdr_get_i32(in, &y);
        if (tern_xdr_dec_end(in) != TERN_OK)
            return TERN_EBADARGS;
        return tern_xdr_put_i32(out, (int32_t)((uint32_t)x + (uint32_t)y));
    }
    case M_ECHO: {
        uint8_t *p;
        uint32_t n;
        tern_xdr_get_bytes(in, &p, &n, 1u << 24);
        if (tern_xdr_dec_end(in) != TERN_OK)
            return TERN_EBADARGS;
        return tern_xdr_put_bytes(out, p, n, 1u << 24);
    }
    case M_SLEEP: {
        uint32_t ms;
        tern_xdr_get_u32(in, &ms);
        if (tern_xdr_dec_end(in) != TERN_OK)
            return TERN_EBADARGS;
        uint64_t left = tern_rpc_call_deadline_ns(call) - tern_clock_ns();
        atomic_store(&a->seen_deadline_ms, (int64_t)(left / 1000000u));
        uint64_t until = tern_clock_ns() + (uint64_t)ms * 1000000u;
        while (tern_clock_ns() < until) {
            if (tern_rpc_call_cancelled(call)) {
                atomic_fetch_add(&a->cancelled, 1);
                return TERN_ECANCELED;
            }
            test_sleep_ms(2);
        }
        return TERN_OK;
    }
    case M_FAIL:
        return tern_rpc_call_fail(call, "no %s today", "sums");
    case M_COUNT: {
        uint32_t ms;
        tern_xdr_get_u32(in, &ms);
        int n = atomic_fetch_add(&a->runs, 1) + 1;
        if (n == 1)
            test_sleep_ms((int)ms); /* the first run is slow: the client resends */
        return tern_xdr_put_u32(out, (uint32_t)n);
    }
    case M_LOG:
        atomic_fetch_add(&a->logs, 1);
        return TERN_OK;
    case M_OPEN: {
        app **state = malloc(sizeof *state);
        *state = a;
        tern_rpc_handle h;
        tern_err err = tern_rpc_handle_new(call, state, session_rundown, &h);
        if (err != TERN_OK)
            return err;
        return tern_xdr_put_fixed(out, h.b, 16);
    }
    case M_GET:
    case M_CLOSE: {
        tern_rpc_handle h;
        tern_xdr_get_fixed(in, h.b, 16);
        if (tern_xdr_dec_end(in) != TERN_OK)
            return TERN_EBADARGS;
        void *state;
        if (tern_rpc_handle_get(call, &h, &state) != TERN_OK)
            return tern_rpc_call_fail(call, "unknown context handle");
        if (method == M_CLOSE) {
            tern_rpc_handle_drop(call, &h);
            free(state);
        }
        return TERN_OK;
    }
    case M_WHO:
        return tern_xdr_put_i32(out, a->id);
    default:
        return TERN_ENOMETHOD;
    }
}

typedef struct fixture {
    tern_ctx *ctx;
    tern_rpc_server *server;
    app app;
    char endpoint[256];
} fixture;

static void server_up(fixture *fx, const char *where, const tern_rpc_iface *iface)
{
    tern_rpc_server_opts so = {.workers = 4, .rundown_ms = 300};
    check_ok(tern_rpc_server_open(fx->ctx, &so, &fx->server));
    check_ok(tern_rpc_server_add(fx->server, iface, dispatch, NULL, &fx->app));
    check_ok(tern_rpc_server_bind(fx->server, where));
    check_ok(tern_rpc_server_endpoint(fx->server, fx->endpoint, sizeof fx->endpoint));
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    check_ok(tern_ctx_open(&fx->ctx, 1));
    server_up(fx, "tcp://127.0.0.1:0", &test_iface);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    tern_rpc_server_close(fx->server);
    tern_ctx_close(fx->ctx);
    free(fx);
    return 0;
}

static tern_rpc_client *client(fixture *fx, int64_t timeout_ms)
{
    tern_rpc_client_opts o = {.timeout_ms = timeout_ms};
    tern_rpc_client *c;
    check_ok(tern_rpc_client_open(fx->ctx, fx->endpoint, &test_iface, &o, &c));
    return c;
}

static tern_err add(tern_rpc_client *c, int32_t x, int32_t y, int32_t *sum)
{
    uint8_t buf[16];
    tern_xdr_enc e;
    tern_xdr_enc_init(&e, buf, sizeof buf);
    tern_xdr_put_i32(&e, x);
    tern_xdr_put_i32(&e, y);
    tern_rpc_future *f = NULL;
    tern_xdr_dec d;
    tern_err err = tern_rpc_invoke(c, M_ADD, NULL, &e, &f, &d);
    if (err == TERN_OK)
        err = tern_xdr_get_i32(&d, sum);
    tern_rpc_future_free(f);
    return err;
}

static tern_err call_u32(tern_rpc_client *c, uint32_t method, uint32_t arg, const tern_rpc_opts *o)
{
    tern_xdr_enc e = {0};
    tern_xdr_put_u32(&e, arg);
    tern_rpc_future *f = NULL;
    tern_err err = tern_rpc_invoke(c, method, o, &e, &f, NULL);
    tern_rpc_future_free(f);
    tern_xdr_enc_free(&e);
    return err;
}

/* ---- basics ---------------------------------------------------------------- */

static void sync_add_on_every_transport(void **state)
{
    fixture *fx = *state;
    const char *where[] = {"tcp://127.0.0.1:0", "ipc:///tmp/tern-rpc-test.sock", "inproc://rpc-test"};
    for (size_t i = 0; i < 3; i++) {
        fixture other = {.ctx = fx->ctx};
        server_up(&other, where[i], &test_iface);
        tern_rpc_client *c;
        check_ok(tern_rpc_client_open(fx->ctx, other.endpoint, &test_iface, NULL, &c));
        for (int32_t k = -50; k < 50; k++) {
            int32_t sum = 0;
            check_ok(add(c, k, 1000 * k, &sum));
            assert_int_equal(sum, k + 1000 * k);
        }
        int32_t sum;
        check_ok(add(c, INT32_MAX, 1, &sum));
        assert_int_equal(sum, INT32_MIN);
        tern_rpc_client_close(c);
        tern_rpc_server_close(other.server);
    }
}

static void echo_sizes(void **state)
{
    fixture *fx = *state;
    tern_rpc_client *c = client(fx, 5000);
    size_t sizes[] = {0, 1, 3, 64, 4096, 65536, 1 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        uint8_t *data = malloc(n + 1);
        for (size_t k = 0; k < n; k++)
            data[k] = (uint8_t)(k * 31 + i);
        tern_xdr_enc e = {0};
        check_ok(tern_xdr_put_bytes(&e, data, n, 1u << 24));
        tern_rpc_future *f;
        tern_xdr_dec d;
        check_ok(tern_rpc_invoke(c, M_ECHO, NULL, &e, &f, &d));
        uint8_t *back;
        uint32_t len;
        check_ok(tern_xdr_get_bytes(&d, &back, &len, 1u << 24));
        assert_int_equal(len, n);
        if (n)
            assert_memory_equal(back, data, n);
        free(back);
        tern_rpc_future_free(f);
        tern_xdr_enc_free(&e);
        free(data);
    }
    tern_rpc_client_close(c);
}

/* ---- binding and versions -------------------------------------------------- */

static void versions_checked_at_bind(void **state)
{
    fixture *fx = *state;
    tern_rpc_client *c;
    /* The server has 1.2: 1.0 and 1.2 bind, 1.3 and 2.0 do not. */
    tern_rpc_iface older = test_iface;
    older.minor = 0;
    check_ok(tern_rpc_client_open(fx->ctx, fx->endpoint, &older, NULL, &c));
    tern_rpc_client_close(c);
    tern_rpc_iface newer = test_iface;
    newer.minor = 3;
    check_err(tern_rpc_client_open(fx->ctx, fx->endpoint, &newer, NULL, &c), TERN_EVERSION);
    assert_non_null(strstr(tern_rpc_last_error(), "1.2"));
    tern_rpc_iface major = test_iface;
    major.major = 2;
    major.minor = 0;
    check_err(tern_rpc_client_open(fx->ctx, fx->endpoint, &major, NULL, &c), TERN_EVERSION);
    tern_rpc_iface other = test_iface;
    other.uuid.b[15] ^= 0xff;
    check_err(tern_rpc_client_open(fx->ctx, fx->endpoint, &other, NULL, &c), TERN_ENOIFACE);
    assert_null(c);
}

static void unreachable_server(void **state)
{
    fixture *fx = *state;
    tern_rpc_client_opts o = {.timeout_ms = 300};
    tern_rpc_client *c;
    uint64_t t0 = tern_clock_ns();
    check_err(tern_rpc_client_open(fx->ctx, "tcp://127.0.0.1:1", &test_iface, &o, &c), TERN_EUNAVAILABLE);
    uint64_t ms = (tern_clock_ns() - t0) / 1000000u;
    assert_true(ms >= 250 && ms < 2000);
    assert_true(strlen(tern_rpc_last_error()) > 0);
}

static void unknown_method_on_server(void **state)
{
    fixture *fx = *state;
    /* A client whose interface (same version) lists one more method than the
     * server knows: the server answers TERN_ENOMETHOD. */
    tern_rpc_method more[N_METHODS + 1];
    memcpy(more, methods, sizeof methods);
    more[N_METHODS] = (tern_rpc_method){"extra", 0};
    tern_rpc_iface bigger = test_iface;
    bigger.nmethods = N_METHODS + 1;
    bigger.methods = more;
    tern_rpc_client *c;
    check_ok(tern_rpc_client_open(fx->ctx, fx->endpoint, &bigger, NULL, &c));
    check_err(call_u32(c, N_METHODS, 0, NULL), TERN_ENOMETHOD);
    /* Locally, a method number beyond the interface is refused at once. */
    check_err(call_u32(c, N_METHODS + 5, 0, NULL), TERN_ENOMETHOD);
    int32_t sum;
    check_ok(add(c, 2, 3, &sum));
    tern_rpc_client_close(c);
}

static void application_error_carries_text(void **state)
{
    fixture *fx = *state;
    tern_rpc_client *c = client(fx, 2000);
    check_err(call_u32(c, M_FAIL, 0, NULL), TERN_EAPP);
    assert_string_equal(tern_rpc_last_error(), "no sums today");
    int32_t sum;
    check_ok(add(c, 1, 1, &sum));
    assert_string_equal(tern_rpc_last_error(), "");
    tern_rpc_client_close(c);
}

/* ---- deadlines and cancellation -------------------------------------------- */

static void deadline_reaches_server_and_times_out(void **state)
{
    fixture *fx = *state;
    tern_rpc_client *c = client(fx, 5000);
    tern_rpc_opts o = {.timeout_ms = 200};
    uint64_t t0 = tern_clock_ns();
    check_err(call_u32(c, M_SLEEP, 2000, &o), TERN_ETIMEDOUT);
    uint64_t ms = (tern_clock_ns() - t0) / 1000000u;
    assert_true(ms >= 190 && ms < 1000);
    int64_t seen = atomic_load(&fx->app.seen_deadline_ms);
    assert_true(seen > 100 && seen <= 200);
    /* The server notices the deadline passed and gives up the sleep. */
    for (int i = 0; i < 200 && atomic_load(&fx->app.cancelled) == 0; i++)
        test_sleep_ms(5);
    assert_int_equal(atomic_load(&fx->app.cancelled), 1);
    /* The default deadline is the client's. */
    t0 = tern_clock_ns();
    tern_rpc_client *quick = client(fx, 150);
    check_err(call_u32(quick, M_SLEEP, 1000, NULL), TERN_ETIMEDOUT);
    ms = (tern_clock_ns() - t0) / 1000000u;
    assert_true(ms < 900);
    tern_rpc_client_close(quick);
    tern_rpc_client_close(c);
}

static void cancel_reaches_server(void **state)
{
    fixture *fx = *state;
    tern_rpc_client *c = client(fx, 10000);
    tern_xdr_enc e = {0};
    tern_xdr_put_u32(&e, 5000);
    tern_rpc_future *f;
    check_ok(tern_rpc_start(c, M_SLEEP, NULL, &e, &f));
    test_sleep_ms(100);
    assert_false(tern_rpc_future_done(f));
    tern_rpc_future_cancel(f);
    assert_true(tern_rpc_future_done(f));
    check_err(tern_rpc_future_status(f), TERN_ECANCELED);
    for (int i = 0; i < 200 && atomic_load(&fx->app.cancelled) == 0; i++)
        test_sleep_ms(5);
    assert_int_equal(atomic_load(&fx->app.cancelled), 1);
    tern_rpc_future_free(f);
    tern_xdr_enc_free(&e);
    /* The client still works. */
    int32_t sum;
    check_ok(add(c, 4, 5, &sum));
    assert_int_equal(sum, 9);
    tern_rpc_client_close(c);
}

/* ---- futures, pipelining, modes --------------------------------------------- */

static void pipelined_futures(void **state)
{
    fixture *fx = *state;
    tern_rpc_client *c = client(fx, 10000);
    enum { N = 2000 };
    tern_rpc_future **fs = calloc(N, sizeof *fs);
    for (int i = 0; i < N; i++) {
        uint8_t buf[8];
        tern_xdr_enc e;
        tern_xdr_enc_init(&e, buf, sizeof buf);
        tern_xdr_put_i32(&e, i);
        tern_xdr_put_i32(&e, 7);
        check_ok(tern_rpc_start(c, M_ADD, NULL, &e, &fs[i]));
    }
    for (int i = N - 1; i >= 0; i--) { /* any order */
        check_ok(tern_rpc_future_wait(fs[i], -1));
        tern_xdr_dec d;
        check_ok(tern_rpc_future_reply(fs[i], &d));
        int32_t v;
        check_ok(tern_xdr_get_i32(&d, &v));
        assert_int_equal(v, i + 7);
        tern_rpc_future_free(fs[i]);
    }
    free(fs);
    tern_rpc_client_close(c);
}

typedef struct cb_state {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
    tern_err status;
} cb_state;

static void on_done(tern_rpc_future *f, void *arg)
{
    cb_state *s = arg;
    pthread_mutex_lock(&s->lock);
    s->done++;
    s->status = tern_rpc_future_status(f);
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static void completion_callback(void **state)
{
    fixture *fx = *state;
    tern_rpc_client *c = client(fx, 5000);
    cb_state s = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, TERN_EAGAIN};
    tern_xdr_enc e = {0};
    tern_xdr_put_u32(&e, 50);
    tern_rpc_future *f;
    check_ok(tern_rpc_start(c, M_SLEEP, NULL, &e, &f));
    check_ok(tern_rpc_future_on_done(f, on_done, &s));
    pthread_mutex_lock(&s.lock);
    while (s.done == 0)
        pthread_cond_wait(&s.cond, &s.lock);
    pthread_mutex_unlock(&s.lock);
    assert_int_equal(s.done, 1);
    check_ok(s.status);
    /* Registered after it finished: runs at once. */
    check_ok(tern_rpc_future_on_done(f, on_done, &s));
    assert_int_equal(s.done, 2);
    tern_rpc_future_free(f);
    tern_xdr_enc_free(&e);
    tern_rpc_client_close(c);
}

static void accepted_then_reply(void **state)
{
    fixture *fx = *state;
    tern_rpc_client *c = client(fx, 5000);
    tern_xdr_enc e = {0};
    tern_xdr_put_u32(&e, 300);
    tern_rpc_opts o = {.flags = TERN_RPC_WAIT_ACCEPTED};
    tern_rpc_future *f;
    uint64_t t0 = tern_clock_ns();
    check_ok(tern_rpc_start(c, M_SLEEP, &o, &e, &f));
    uint64_t ms = (tern_clock_ns() - t0) / 1000000u;
    assert_true(ms < 250); /* returned on receipt, not on completion */
    assert_true(tern_rpc_future_accepted(f));
    assert_false(tern_rpc_future_done(f));
    check_ok(tern_rpc_future_wait(f, -1));
    tern_rpc_future_free(f);
    tern_xdr_enc_free(&e);
    tern_rpc_client_close(c);
}

static void oneway_returns_at_once(void **state)
{
    fixture *fx = *state;
    tern_rpc_client *c = client(fx, 5000);
    for (int i = 0; i < 100; i++)
        check_ok(call_u32(c, M_LOG, (uint32_t)i, NULL));
    for (int i = 0; i < 400 && atomic_load(&fx->app.logs) < 100; i++)
        test_sleep_ms(5);
    assert_int_equal(atomic_load(&fx->app.logs), 100);
    tern_rpc_client_close(c);
}

static void concurrent_calls_on_one_connection(void **state)
{
    fixture *fx = *state;
    tern_rpc_client *c = client(fx, 5000);
    /* Three 300 ms calls at once on one connection: three of the server's
     * four workers run them side by side, so they take far less than
     * 3 x 300 ms, and the fourth worker answers a quick call meanwhile. */
    tern_rpc_future *fs[3];
    uint64_t t0 = tern_clock_ns();
    for (int i = 0; i < 3; i++) {
        tern_xdr_enc e = {0};
        tern_xdr_put_u32(&e, 300);
        check_ok(tern_rpc_start(c, M_SLEEP, NULL, &e, &fs[i]));
        tern_xdr_enc_free(&e);
    }
    /* Quick calls are not stuck behind the slow ones either. */
    int32_t sum;
    check_ok(add(c, 1, 2, &sum));
    uint64_t quick_ms = (tern_clock_ns() - t0) / 1000000u;
    for (int i = 0; i < 3; i++) {
        check_ok(tern_rpc_future_wait(fs[i], -1));
        tern_rpc_future_free(fs[i]);
    }
    uint64_t ms = (tern_clock_ns() - t0) / 1000000u;
    assert_true(ms < 700);
    assert_true(quick_ms < 150);
    tern_rpc_client_close(c);
}

/* ---- at most once --------------------------------------------------------- */

static void idempotent_resend_runs_once(void **state)
{
    fixture *fx = *state;
    /* 900 ms deadline, 2 retries: resends at ~300 and ~600 ms while the
     * first run takes 500 ms. The server answers every copy from the one
     * run. */
    tern_rpc_client_opts o = {.timeout_ms = 900, .retries = 2};
    tern_rpc_client *c;
    check_ok(tern_rpc_client_open(fx->ctx, fx->endpoint, &test_iface, &o, &c));
    tern_xdr_enc e = {0};
    tern_xdr_put_u32(&e, 500);
    tern_rpc_future *f;
    tern_xdr_dec d;
    check_ok(tern_rpc_invoke(c, M_COUNT, NULL, &e, &f, &d));
    uint32_t n;
    check_ok(tern_xdr_get_u32(&d, &n));
    assert_int_equal(n, 1);
    assert_int_equal(atomic_load(&fx->app.runs), 1);
    tern_rpc_future_free(f);
    tern_xdr_enc_free(&e);
    tern_rpc_client_close(c);
}

/* ---- context handles ------------------------------------------------------ */

static tern_err handle_call(tern_rpc_client *c, uint32_t method, tern_rpc_handle *h)
{
    tern_xdr_enc e = {0};
    if (method != M_OPEN)
        tern_xdr_put_fixed(&e, h->b, 16);
    tern_rpc_future *f = NULL;
    tern_xdr_dec d;
    tern_err err = tern_rpc_invoke(c, method, NULL, &e, &f, &d);
    if (err == TERN_OK && method == M_OPEN)
        err = tern_xdr_get_fixed(&d, h->b, 16);
    tern_rpc_future_free(f);
    tern_xdr_enc_free(&e);
    return err;
}

static void context_handles_owned_and_run_down(void **state)
{
    fixture *fx = *state;
    tern_rpc_client *a = client(fx, 2000), *b = client(fx, 2000);
    tern_rpc_handle h1, h2;
    check_ok(handle_call(a, M_OPEN, &h1));
    check_ok(handle_call(a, M_OPEN, &h2));
    assert_memory_not_equal(h1.b, h2.b, 16);
    check_ok(handle_call(a, M_GET, &h1));
    /* Another client cannot use a's handle. */
    check_err(handle_call(b, M_GET, &h1), TERN_EAPP);
    /* Closed: gone, and no rundown for it. */
    check_ok(handle_call(a, M_CLOSE, &h2));
    check_err(handle_call(a, M_GET, &h2), TERN_EAPP);
    /* a goes away: h1 is run down after rundown_ms (300); b, which keeps
     * calling all the while, keeps its own handle. */
    tern_rpc_handle hb;
    check_ok(handle_call(b, M_OPEN, &hb));
    tern_rpc_client_close(a);
    uint64_t until = tern_clock_ns() + 1200000000ull;
    while (tern_clock_ns() < until) {
        check_ok(handle_call(b, M_GET, &hb));
        test_sleep_ms(5);
    }
    assert_int_equal(atomic_load(&fx->app.rundowns), 1);
    check_ok(handle_call(b, M_CLOSE, &hb));
    tern_rpc_client_close(b);
}

static void future_outlives_its_client(void **state)
{
    fixture *fx = *state;
    tern_rpc_client *c = client(fx, 5000);
    tern_xdr_enc e = {0};
    tern_xdr_put_u32(&e, 2000);
    tern_rpc_future *running, *finished;
    check_ok(tern_rpc_start(c, M_SLEEP, NULL, &e, &running));
    tern_xdr_enc_free(&e);
    tern_xdr_put_i32(&e, 1);
    tern_xdr_put_i32(&e, 2);
    check_ok(tern_rpc_start(c, M_ADD, NULL, &e, &finished));
    tern_xdr_enc_free(&e);
    check_ok(tern_rpc_future_wait(finished, -1));
    tern_rpc_client_close(c);
    /* Both futures are still usable, and freed after the client. */
    check_err(tern_rpc_future_status(running), TERN_ECANCELED);
    assert_true(tern_rpc_future_done(running));
    check_err(tern_rpc_future_wait(running, 10), TERN_ECANCELED);
    check_ok(tern_rpc_future_status(finished));
    tern_xdr_dec d;
    check_ok(tern_rpc_future_reply(finished, &d));
    int32_t v;
    check_ok(tern_xdr_get_i32(&d, &v));
    assert_int_equal(v, 3);
    tern_rpc_future_cancel(running);
    tern_rpc_future_free(running);
    tern_rpc_future_free(finished);
}

static void interface_added_while_serving(void **state)
{
    fixture *fx = *state;
    tern_rpc_client *c = client(fx, 5000);
    tern_xdr_enc e = {0};
    tern_xdr_put_u32(&e, 200);
    tern_rpc_future *f;
    check_ok(tern_rpc_start(c, M_SLEEP, NULL, &e, &f));
    tern_xdr_enc_free(&e);
    test_sleep_ms(50);
    /* Several more interfaces while the call runs (the table grows). */
    static tern_rpc_iface more[8];
    for (int i = 0; i < 8; i++) {
        more[i] = test_iface;
        more[i].uuid.b[0] = (uint8_t)(0x80 + i);
        check_ok(tern_rpc_server_add(fx->server, &more[i], dispatch, NULL, &fx->app));
    }
    check_ok(tern_rpc_future_wait(f, -1));
    tern_rpc_future_free(f);
    tern_rpc_client *other;
    check_ok(tern_rpc_client_open(fx->ctx, fx->endpoint, &more[7], NULL, &other));
    int32_t sum;
    check_ok(add(other, 5, 6, &sum));
    assert_int_equal(sum, 11);
    tern_rpc_client_close(other);
    tern_rpc_client_close(c);
}

/* ---- multicast ------------------------------------------------------------ */

static void multicast_modes(void **state)
{
    fixture *fx = *state;
    fixture s[3] = {{.ctx = fx->ctx}, {.ctx = fx->ctx}, {.ctx = fx->ctx}};
    const char *eps[4];
    for (int i = 0; i < 3; i++) {
        s[i].app.id = i + 1;
        server_up(&s[i], "tcp://127.0.0.1:0", &test_iface);
        eps[i] = s[i].endpoint;
    }
    eps[3] = "tcp://127.0.0.1:1"; /* nobody there */
    tern_rpc_client_opts o = {.timeout_ms = 500};
    tern_rpc_group *g;
    check_ok(tern_rpc_group_open(fx->ctx, eps, 4, &test_iface, &o, &g));
    assert_int_equal(tern_rpc_group_size(g), 4);
    tern_xdr_enc e = {0};
    const tern_xdr_enc *args[1] = {&e};
    tern_rpc_multi *m;

    /* ALL: each member's outcome, in member order. */
    check_ok(tern_rpc_multicall(g, M_WHO, NULL, TERN_RPC_ALL, 0, args, 1, &m));
    assert_int_equal(tern_rpc_multi_count(m), 4);
    for (size_t i = 0; i < 3; i++) {
        check_ok(tern_rpc_multi_status(m, i));
        tern_xdr_dec d;
        check_ok(tern_rpc_multi_reply(m, i, &d));
        int32_t who;
        check_ok(tern_xdr_get_i32(&d, &who));
        assert_int_equal(who, (int)i + 1);
        assert_string_equal(tern_rpc_multi_endpoint(m, i), s[i].endpoint);
    }
    check_err(tern_rpc_multi_status(m, 3), TERN_EUNAVAILABLE);
    assert_true(strlen(tern_rpc_multi_error(m, 3)) > 0);
    tern_rpc_multi_free(m);

    /* FIRST: one success is enough. */
    check_ok(tern_rpc_multicall(g, M_WHO, NULL, TERN_RPC_FIRST, 0, args, 1, &m));
    size_t ok = 0;
    for (size_t i = 0; i < 4; i++)
        ok += tern_rpc_multi_status(m, i) == TERN_OK;
    assert_true(ok >= 1);
    tern_rpc_multi_free(m);

    /* QUORUM 3 of 4 with one member down: met; 4 of 4: not. */
    check_ok(tern_rpc_multicall(g, M_WHO, NULL, TERN_RPC_QUORUM, 3, args, 1, &m));
    tern_rpc_multi_free(m);
    check_err(tern_rpc_multicall(g, M_WHO, NULL, TERN_RPC_QUORUM, 4, args, 1, &m), TERN_EUNAVAILABLE);
    tern_rpc_multi_free(m);

    /* Scatter: each member gets its own arguments. */
    tern_xdr_enc parts[4] = {{0}};
    const tern_xdr_enc *pargs[4];
    for (int i = 0; i < 4; i++) {
        tern_xdr_put_i32(&parts[i], 10 * i);
        tern_xdr_put_i32(&parts[i], 1);
        pargs[i] = &parts[i];
    }
    check_ok(tern_rpc_multicall(g, M_ADD, NULL, TERN_RPC_ALL, 0, pargs, 4, &m));
    for (size_t i = 0; i < 3; i++) {
        tern_xdr_dec d;
        check_ok(tern_rpc_multi_reply(m, i, &d));
        int32_t v;
        check_ok(tern_xdr_get_i32(&d, &v));
        assert_int_equal(v, 10 * (int)i + 1);
    }
    tern_rpc_multi_free(m);
    for (int i = 0; i < 4; i++)
        tern_xdr_enc_free(&parts[i]);

    /* A member killed mid-multicall: the others still answer. */
    tern_xdr_enc slow = {0};
    tern_xdr_put_u32(&slow, 200);
    const tern_xdr_enc *sargs[1] = {&slow};
    tern_rpc_server_close(s[0].server);
    check_ok(tern_rpc_multicall(g, M_SLEEP, NULL, TERN_RPC_ALL, 0, sargs, 1, &m));
    check_ok(tern_rpc_multi_status(m, 1));
    check_ok(tern_rpc_multi_status(m, 2));
    assert_true(tern_rpc_multi_status(m, 0) == TERN_EUNAVAILABLE ||
                tern_rpc_multi_status(m, 0) == TERN_ETIMEDOUT);
    tern_rpc_multi_free(m);
    tern_xdr_enc_free(&slow);
    tern_xdr_enc_free(&e);
    tern_rpc_group_close(g);
    for (int i = 1; i < 3; i++)
        tern_rpc_server_close(s[i].server);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(sync_add_on_every_transport, setup, teardown),
        cmocka_unit_test_setup_teardown(echo_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(versions_checked_at_bind, setup, teardown),
        cmocka_unit_test_setup_teardown(unreachable_server, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_method_on_server, setup, teardown),
        cmocka_unit_test_setup_teardown(application_error_carries_text, setup, teardown),
        cmocka_unit_test_setup_teardown(deadline_reaches_server_and_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(cancel_reaches_server, setup, teardown),
        cmocka_unit_test_setup_teardown(pipelined_futures, setup, teardown),
        cmocka_unit_test_setup_teardown(completion_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(accepted_then_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(oneway_returns_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(concurrent_calls_on_one_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(idempotent_resend_runs_once, setup, teardown),
        cmocka_unit_test_setup_teardown(context_handles_owned_and_run_down, setup, teardown),
        cmocka_unit_test_setup_teardown(future_outlives_its_client, setup, teardown),
        cmocka_unit_test_setup_teardown(interface_added_while_serving, setup, teardown),
        cmocka_unit_test_setup_teardown(multicast_modes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
