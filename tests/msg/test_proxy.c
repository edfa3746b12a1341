/* tern_proxy over tcp, ipc and inproc, run in a thread: an XSUB <-> XPUB
 * forwarder (subscriptions flow upstream, filtering works end to end), a
 * ROUTER <-> DEALER queue between several REQ clients and REP workers
 * (every reply to its own client), a capture socket getting a copy of
 * every message, a control socket whose "TERMINATE" (and nothing else)
 * stops the proxy with TERN_OK, and TERN_ECLOSED when a side is closed. */
#include "msgtest.h"

#define END "~END"

struct proxy_run {
    tern_socket front, back, capture, control;
    tern_err result;
    atomic_int done;
    pthread_t thread;
};

static void *proxy_main(void *arg)
{
    struct proxy_run *r = arg;
    r->result = tern_proxy(r->front, r->back, r->capture, r->control);
    atomic_store(&r->done, 1);
    return NULL;
}

static void proxy_start(struct proxy_run *r)
{
    r->result = TERN_EINVAL;
    atomic_store(&r->done, 0);
    assert_int_equal(pthread_create(&r->thread, NULL, proxy_main, r), 0);
}

/* Sends TERMINATE on ctl and checks that the proxy returns TERN_OK. */
static void proxy_terminate(struct proxy_run *r, tern_socket ctl)
{
    check_ok(tern_send(ctl, "TERMINATE", 9, 0));
    if (!mt_join(r->thread, MT_IO_TIMEOUT_MS))
        fail_msg("the proxy did not stop within %d ms of TERMINATE", MT_IO_TIMEOUT_MS);
    check_ok(r->result);
}

/* A control PULL for the proxy and the PUSH the test talks to it with. */
static void control_pair(tern_ctx *ctx, tern_socket *control, tern_socket *ctl)
{
    char ep[MT_EP_MAX];
    *control = mt_open(ctx, TERN_PULL);
    *ctl = mt_open(ctx, TERN_PUSH);
    mt_bind_fresh(*control, MT_INPROC, ep, sizeof ep);
    mt_connect(*ctl, ep);
    mt_wait_peers(*ctl, 1);
}

static void subscribe(tern_socket s, const char *topic)
{
    check_ok(tern_setopt_bytes(s, TERN_OPT_SUBSCRIBE, topic, strlen(topic)));
}

/* ---- forwarder ------------------------------------------------------------ */

static void test_forwarder(void **state)
{
    int tr = mt_tr_of(state);
    tern_ctx *ctx = mt_ctx();
    tern_socket pub = mt_open(ctx, TERN_PUB);
    tern_socket xsub = mt_open(ctx, TERN_XSUB);
    tern_socket xpub = mt_open(ctx, TERN_XPUB);
    char up[MT_EP_MAX], down[MT_EP_MAX];
    mt_bind_fresh(pub, tr, up, sizeof up);
    mt_connect(xsub, up);
    mt_bind_fresh(xpub, tr, down, sizeof down);
    tern_socket ctl, control;
    control_pair(ctx, &control, &ctl);
    struct proxy_run r = {.front = xsub, .back = xpub, .control = control};
    proxy_start(&r);

    tern_socket a = mt_open(ctx, TERN_SUB), b = mt_open(ctx, TERN_SUB);
    mt_connect(a, down);
    mt_connect(b, down);
    subscribe(a, "a");
    subscribe(a, END);
    subscribe(b, "b");
    subscribe(b, END);
    /* The subscriptions went through the proxy to the publisher. */
    mt_wait_peers(pub, 1);
    mt_wait_subs(pub, 3);

    MT_SEND(pub, "a1");
    MT_SEND(pub, "b1");
    MT_SEND(pub, "c1");
    MT_SEND(pub, "a2", "x", "");
    MT_SEND(pub, END);
    MT_RECV(a, "a1");
    MT_RECV(a, "a2", "x", "");
    MT_RECV(a, END);
    MT_RECV(b, "b1");
    MT_RECV(b, END);

    /* The last cancel of "a" flows upstream too. */
    check_ok(tern_setopt_bytes(a, TERN_OPT_UNSUBSCRIBE, "a", 1));
    mt_wait_subs(pub, 2);
    MT_SEND(pub, "a3");
    MT_SEND(pub, "b2");
    MT_SEND(pub, END);
    MT_RECV(a, END);
    MT_RECV(b, "b2");
    MT_RECV(b, END);

    proxy_terminate(&r, ctl);
    /* Filtered at the publisher: the proxy received only what its
     * subscribers wanted (a1 b1 a2 END, b2 END), and the subscription
     * messages \x01a \x01b \x01END \x00a. */
    assert_int_equal(mt_stats(xsub).msgs_in, 6);
    assert_int_equal(mt_stats(xpub).msgs_in, 4);
    mt_expect_silence(a, 50);
    mt_expect_silence(b, 50);
    check_ok(tern_socket_close(a));
    check_ok(tern_socket_close(b));
    tern_ctx_close(ctx);
    mt_unlink_ipc(up);
    mt_unlink_ipc(down);
}

/* ---- shared queue ------------------------------------------------------- */

struct worker {
    tern_socket rep;
    char prefix[8];
    atomic_int stop;
    int served;
    char err[200];
};

/* Answers every request with prefix + body until told to stop. */
static void *worker_main(void *arg)
{
    struct worker *w = arg;
    tern_setopt_int(w->rep, TERN_OPT_RCVTIMEO, 20);
    while (!atomic_load(&w->stop)) {
        char body[128];
        size_t len = 0;
        tern_err e = tern_recv(w->rep, body, sizeof body, &len, 0);
        if (e == TERN_ETIMEDOUT)
            continue;
        if (e != TERN_OK || len > 100) {
            snprintf(w->err, sizeof w->err, "worker %s: recv: %s", w->prefix, tern_errname(e));
            return NULL;
        }
        char reply[160];
        int n = snprintf(reply, sizeof reply, "%s%.*s", w->prefix, (int)len, body);
        e = tern_send(w->rep, reply, (size_t)n, 0);
        if (e != TERN_OK) {
            snprintf(w->err, sizeof w->err, "worker %s: send: %s", w->prefix, tern_errname(e));
            return NULL;
        }
        w->served++;
    }
    return NULL;
}

struct client {
    tern_socket req;
    int id, n, done;
    int by_worker[8];
    char err[256];
};

static void *client_main(void *arg)
{
    struct client *c = arg;
    for (int i = 0; i < c->n; i++) {
        char q[32], buf[128];
        int qn = snprintf(q, sizeof q, "c%d-%d", c->id, i);
        tern_err e = tern_send(c->req, q, (size_t)qn, 0);
        size_t len = 0;
        if (e == TERN_OK)
            e = tern_recv(c->req, buf, sizeof buf - 1, &len, 0);
        if (e != TERN_OK) {
            snprintf(c->err, sizeof c->err, "client %d, request %d: %s", c->id, i, tern_errname(e));
            return NULL;
        }
        buf[len] = '\0';
        /* "w<k>:" + the request. */
        if (len != (size_t)qn + 3 || buf[0] != 'w' || buf[1] < '0' || buf[1] > '7' ||
            buf[2] != ':' || memcmp(buf + 3, q, (size_t)qn) != 0) {
            snprintf(c->err, sizeof c->err, "client %d: request \"%s\" got reply \"%s\"", c->id, q,
                     buf);
            return NULL;
        }
        c->by_worker[buf[1] - '0']++;
        c->done++;
    }
    return NULL;
}

static void test_queue(void **state)
{
    int tr = mt_tr_of(state);
    enum { NCLIENT = 4, NWORKER = 3, PER = 60 };
    tern_ctx *ctx = mt_ctx();
    tern_socket front = mt_open(ctx, TERN_ROUTER);
    tern_socket back = mt_open(ctx, TERN_DEALER);
    char ef[MT_EP_MAX], eb[MT_EP_MAX];
    mt_bind_fresh(front, tr, ef, sizeof ef);
    mt_bind_fresh(back, tr, eb, sizeof eb);
    tern_socket ctl, control;
    control_pair(ctx, &control, &ctl);
    struct worker w[NWORKER];
    struct client c[NCLIENT];
    pthread_t wt[NWORKER], ct[NCLIENT];
    memset(w, 0, sizeof w);
    memset(c, 0, sizeof c);
    for (int i = 0; i < NWORKER; i++) {
        w[i].rep = mt_open(ctx, TERN_REP);
        snprintf(w[i].prefix, sizeof w[i].prefix, "w%d:", i);
        mt_connect(w[i].rep, eb);
    }
    for (int i = 0; i < NCLIENT; i++) {
        c[i].req = mt_open(ctx, TERN_REQ);
        c[i].id = i;
        c[i].n = PER;
        mt_connect(c[i].req, ef);
    }
    mt_wait_peers(back, NWORKER);
    mt_wait_peers(front, NCLIENT);
    struct proxy_run r = {.front = front, .back = back, .control = control};
    proxy_start(&r);
    for (int i = 0; i < NWORKER; i++)
        assert_int_equal(pthread_create(&wt[i], NULL, worker_main, &w[i]), 0);
    for (int i = 0; i < NCLIENT; i++)
        assert_int_equal(pthread_create(&ct[i], NULL, client_main, &c[i]), 0);
    bool joined = true;
    for (int i = 0; i < NCLIENT; i++)
        joined = mt_join(ct[i], 60000) && joined;
    for (int i = 0; i < NWORKER; i++)
        atomic_store(&w[i].stop, 1);
    for (int i = 0; i < NWORKER; i++)
        joined = mt_join(wt[i], 10000) && joined;
    assert_true(joined);
    for (int i = 0; i < NCLIENT; i++)
        if (c[i].err[0])
            fail_msg("%s", c[i].err);
    for (int i = 0; i < NWORKER; i++)
        if (w[i].err[0])
            fail_msg("%s", w[i].err);
    int total = 0;
    for (int k = 0; k < NWORKER; k++) {
        int from_clients = 0;
        for (int i = 0; i < NCLIENT; i++)
            from_clients += c[i].by_worker[k];
        printf("    worker %d served %d\n", k, w[k].served);
        assert_int_equal(from_clients, w[k].served);
        /* The DEALER spreads requests over every worker. */
        assert_true(w[k].served > 0);
        total += w[k].served;
    }
    assert_int_equal(total, NCLIENT * PER);
    for (int i = 0; i < NCLIENT; i++)
        assert_int_equal(c[i].done, PER);
    proxy_terminate(&r, ctl);
    tern_ctx_close(ctx);
    mt_unlink_ipc(ef);
    mt_unlink_ipc(eb);
}

/* ---- capture -------------------------------------------------------------- */

static void test_capture(void **state)
{
    int tr = mt_tr_of(state);
    enum { N = 10 };
    tern_ctx *ctx = mt_ctx();
    tern_socket front = mt_open(ctx, TERN_ROUTER);
    tern_socket back = mt_open(ctx, TERN_DEALER);
    tern_socket capture = mt_open(ctx, TERN_PUSH);
    tern_socket tap = mt_open(ctx, TERN_PULL);
    char ef[MT_EP_MAX], eb[MT_EP_MAX], ec[MT_EP_MAX];
    mt_bind_fresh(front, tr, ef, sizeof ef);
    mt_bind_fresh(back, tr, eb, sizeof eb);
    mt_bind_fresh(capture, tr, ec, sizeof ec);
    mt_connect(tap, ec);
    mt_wait_peers(capture, 1);
    tern_socket req = mt_open(ctx, TERN_REQ);
    tern_socket rep = mt_open(ctx, TERN_REP);
    check_ok(tern_setopt_bytes(req, TERN_OPT_ROUTING_ID, "client", 6));
    mt_connect(req, ef);
    mt_connect(rep, eb);
    mt_wait_peers(front, 1);
    mt_wait_peers(back, 1);
    tern_socket ctl, control;
    control_pair(ctx, &control, &ctl);
    struct proxy_run r = {.front = front, .back = back, .capture = capture, .control = control};
    proxy_start(&r);
    for (int i = 0; i < N; i++) {
        char q[16], a[16];
        snprintf(q, sizeof q, "q%d", i);
        snprintf(a, sizeof a, "a%d", i);
        MT_SEND(req, q);
        MT_RECV(rep, q);
        MT_SEND(rep, a);
        MT_RECV(req, a);
    }
    /* A copy of each request (as the ROUTER read it) and each reply (as
     * the DEALER read it), in the order the proxy moved them. */
    for (int i = 0; i < N; i++) {
        char q[16], a[16];
        snprintf(q, sizeof q, "q%d", i);
        snprintf(a, sizeof a, "a%d", i);
        MT_RECV(tap, "client", "", q);
        MT_RECV(tap, "client", "", a);
    }
    mt_expect_silence(tap, 100);
    proxy_terminate(&r, ctl);
    tern_ctx_close(ctx);
    mt_unlink_ipc(ef);
    mt_unlink_ipc(eb);
    mt_unlink_ipc(ec);
}

/* ---- control and closing ------------------------------------------------------ */

/* Only "TERMINATE" stops the proxy; other control messages are read and
 * ignored, and forwarding goes on. After TERMINATE nothing moves. */
static void test_control(void **state)
{
    int tr = mt_tr_of(state);
    tern_ctx *ctx = mt_ctx();
    tern_socket front = mt_open(ctx, TERN_PULL);
    tern_socket back = mt_open(ctx, TERN_PUSH);
    tern_socket producer = mt_open(ctx, TERN_PUSH);
    tern_socket consumer = mt_open(ctx, TERN_PULL);
    char ef[MT_EP_MAX], eb[MT_EP_MAX];
    mt_bind_fresh(front, tr, ef, sizeof ef);
    mt_bind_fresh(back, tr, eb, sizeof eb);
    mt_connect(producer, ef);
    mt_connect(consumer, eb);
    mt_wait_peers(producer, 1);
    mt_wait_peers(back, 1);
    tern_socket ctl, control;
    control_pair(ctx, &control, &ctl);
    struct proxy_run r = {.front = front, .back = back, .control = control};
    proxy_start(&r);
    MT_SEND(producer, "m1");
    MT_RECV(consumer, "m1");
    MT_SEND(ctl, "hello");
    MT_SEND(ctl, "TERMINATEX");
    MT_SEND(ctl, "terminate");
    MT_SEND(ctl, "TERMINAT");
    /* The proxy read all four and is still forwarding. */
    MT_WAIT_FOR(mt_stats(control).msgs_in == 4, MT_IO_TIMEOUT_MS,
                "the proxy read %llu of 4 control messages",
                (unsigned long long)mt_stats(control).msgs_in);
    assert_int_equal(atomic_load(&r.done), 0);
    MT_SEND(producer, "m2");
    MT_RECV(consumer, "m2");
    assert_int_equal(atomic_load(&r.done), 0);
    int64_t t0 = mt_now_ms();
    proxy_terminate(&r, ctl);
    printf("    stopped %lld ms after TERMINATE\n", (long long)(mt_now_ms() - t0));
    MT_SEND(producer, "m3");
    mt_expect_silence(consumer, 200);
    check_ok(tern_socket_close(producer));
    check_ok(tern_socket_close(consumer));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ef);
    mt_unlink_ipc(eb);
}

/* Closing a side stops the proxy with TERN_ECLOSED. */
static void test_side_closed(void **state)
{
    int tr = mt_tr_of(state);
    for (int side = 0; side < 2; side++) {
        tern_ctx *ctx = mt_ctx();
        tern_socket front = mt_open(ctx, TERN_ROUTER);
        tern_socket back = mt_open(ctx, TERN_DEALER);
        char ef[MT_EP_MAX], eb[MT_EP_MAX];
        mt_bind_fresh(front, tr, ef, sizeof ef);
        mt_bind_fresh(back, tr, eb, sizeof eb);
        tern_socket req = mt_open(ctx, TERN_REQ);
        tern_socket rep = mt_open(ctx, TERN_REP);
        mt_connect(req, ef);
        mt_connect(rep, eb);
        mt_wait_peers(front, 1);
        mt_wait_peers(back, 1);
        struct proxy_run r = {.front = front, .back = back};
        proxy_start(&r);
        MT_SEND(req, "q");
        MT_RECV(rep, "q");
        MT_SEND(rep, "a");
        MT_RECV(req, "a");
        check_ok(tern_socket_close(side == 0 ? front : back));
        if (!mt_join(r.thread, MT_IO_TIMEOUT_MS))
            fail_msg("the proxy did not stop when its %s was closed",
                     side ? "backend" : "frontend");
        check_err(r.result, TERN_ECLOSED);
        tern_ctx_close(ctx);
        mt_unlink_ipc(ef);
        mt_unlink_ipc(eb);
    }
}

int main(void)
{
    mt_test_filter_from_env();
    const struct CMUnitTest tests[] = {
        MT_PER_TRANSPORT(test_forwarder),   MT_PER_TRANSPORT(test_queue),
        MT_PER_TRANSPORT(test_capture),     MT_PER_TRANSPORT(test_control),
        MT_PER_TRANSPORT(test_side_closed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
