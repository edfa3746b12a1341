/* Closing: linger is bounded (and 0 means now), messages queued before
 * close still reach a present peer, a closed socket answers TERN_ECLOSED
 * to everything (also to threads blocked in it), and tern_ctx_close
 * returns with sockets still open. */
#include "msgtest.h"

#include <fcntl.h>

static const int tr_tcp = MT_TCP;
static const int tr_ipc = MT_IPC;
static const int tr_inproc = MT_INPROC;

static int transport_of(void **state)
{
    return *(const int *)*state;
}

/* A PUSH whose peer never reads, filled until sends stop being accepted:
 * its queue holds messages that cannot drain. */
static void fill_stuck(tern_socket push)
{
    uint8_t buf[4096];
    mt_fill(buf, sizeof buf, 5);
    int eagain = 0;
    for (int i = 0; eagain < 20; i++) {
        assert_true(i < 200000);
        tern_err e = tern_send(push, buf, sizeof buf, TERN_DONTWAIT);
        if (e == TERN_EAGAIN) {
            eagain++;
            mt_sleep_ms(5);
        } else {
            check_ok(e);
            eagain = 0;
        }
    }
}

/* Closes s, expecting want (TERN_OK, TERN_ETIMEDOUT when the linger ran
 * out with messages queued, or -1 for either); returns the time taken. */
static int64_t timed_close(tern_socket s, int want)
{
    int64_t t0 = mt_now_ms();
    tern_err e = tern_socket_close(s);
    int64_t dt = mt_now_ms() - t0;
    if (want >= 0 && e != (tern_err)want)
        fail_msg("tern_socket_close returned %s after %lld ms, expected %s", tern_errname(e),
                 (long long)dt, tern_errname((tern_err)want));
    if (want < 0 && e != TERN_OK && e != TERN_ETIMEDOUT)
        fail_msg("tern_socket_close returned %s", tern_errname(e));
    return dt;
}

/* Queued messages that cannot drain: close waits about LINGER, no more;
 * LINGER 0 returns at once. */
static void test_linger_bounded(void **state)
{
    int tr = transport_of(state);
    tern_ctx *ctx = mt_ctx();
    tern_socket pull = mt_open(ctx, TERN_PULL);
    mt_setopt(pull, TERN_OPT_RCVHWM, 1);
    char ep[MT_EP_MAX];
    mt_bind_fresh(pull, tr, ep, sizeof ep);

    tern_socket push = mt_open(ctx, TERN_PUSH);
    mt_setopt(push, TERN_OPT_SNDHWM, 100);
    mt_connect(push, ep);
    mt_wait_peers(push, 1);
    fill_stuck(push);
    mt_setopt(push, TERN_OPT_LINGER, 500);
    /* tcp and ipc: the queue cannot drain, so close reports the drop. Over
     * inproc the queue is shared with the PULL: nothing is dropped. */
    int64_t dt = timed_close(push, tr == MT_INPROC ? TERN_OK : TERN_ETIMEDOUT);
    printf("    %s: close with LINGER 500 and a stuck queue took %lld ms\n", mt_transport_name(tr),
           (long long)dt);
    /* Over inproc the queue is shared with the PULL, so nothing is left to
     * wait for; over tcp and ipc the data is stuck in the PUSH. */
    if (tr != MT_INPROC)
        assert_true(dt >= 300);
    assert_true(dt <= 500 + 2500);

    push = mt_open(ctx, TERN_PUSH);
    mt_setopt(push, TERN_OPT_SNDHWM, 100);
    mt_connect(push, ep);
    mt_wait_peers(push, 1);
    fill_stuck(push);
    mt_setopt(push, TERN_OPT_LINGER, 0);
    dt = timed_close(push, tr == MT_INPROC ? TERN_OK : TERN_ETIMEDOUT);
    printf("    %s: close with LINGER 0 took %lld ms\n", mt_transport_name(tr), (long long)dt);
    assert_true(dt <= 1000);

    check_ok(tern_socket_close(pull));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

/* A PUSH with messages queued and no peer at all (its connect target
 * absent) closes within LINGER plus slack. */
static void test_linger_no_peer(void **state)
{
    (void)state;
    tern_ctx *ctx = mt_ctx();
    static const int lingers[] = {0, 400};
    for (size_t i = 0; i < 2; i++) {
        tern_socket push = mt_open(ctx, TERN_PUSH);
        char ep[MT_EP_MAX];
        mt_endpoint(MT_TCP, false, ep, sizeof ep);
        mt_connect(push, ep);
        /* Whether these are queued or refused, close must not wait for a
         * peer that never comes. */
        for (int k = 0; k < 10; k++)
            (void)tern_send(push, "pending", 7, TERN_DONTWAIT);
        mt_setopt(push, TERN_OPT_LINGER, lingers[i]);
        /* Nothing was accepted without a peer, so nothing is dropped. */
        int64_t dt = timed_close(push, TERN_OK);
        printf("    close with LINGER %d and no peer took %lld ms\n", lingers[i], (long long)dt);
        assert_true(dt <= lingers[i] + 1000);
    }
    tern_ctx_close(ctx);
}

/* Messages sent just before close are delivered (LINGER lets them
 * drain while the PULL reads): many small ones and a few large ones. The
 * reader starts 100 ms after close has begun, so most messages are still
 * queued in the PUSH when it is closed. */
struct flush_reader {
    tern_socket pull;
    int n;
    size_t size;
    uint32_t seed0;
    int got;
    char why[256];
};

static void *flush_reader_main(void *arg)
{
    struct flush_reader *r = arg;
    mt_sleep_ms(100);
    for (r->got = 0; r->got < r->n; r->got++) {
        tern_msg *m = NULL;
        tern_err e = tern_msg_recv(r->pull, &m, 0);
        if (e != TERN_OK) {
            snprintf(r->why, sizeof r->why, "message %d: %s", r->got, tern_errname(e));
            return NULL;
        }
        bool ok = mt_msg_match(m, 1, &r->size, r->seed0 + (uint32_t)r->got, r->why, sizeof r->why);
        tern_msg_free(m);
        if (!ok)
            return NULL;
    }
    return NULL;
}

static void test_close_flushes(void **state)
{
    int tr = transport_of(state);
    tern_ctx *ctx = mt_ctx();
    tern_socket pull = mt_open(ctx, TERN_PULL);
    char ep[MT_EP_MAX];
    mt_bind_fresh(pull, tr, ep, sizeof ep);
    for (int round = 0; round < 2; round++) {
        tern_socket push = mt_open(ctx, TERN_PUSH);
        mt_setopt(push, TERN_OPT_LINGER, 20000);
        mt_connect(push, ep);
        mt_wait_peers(push, 1);
        struct flush_reader r = {pull,
                                 round == 0 ? 2000 : 40,
                                 round == 0 ? 16 : 256 * 1024,
                                 (uint32_t)(round * 10000),
                                 0,
                                 ""};
        for (int i = 0; i < r.n; i++)
            mt_send_parts(push, 1, &r.size, r.seed0 + (uint32_t)i);
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, flush_reader_main, &r), 0);
        int64_t dt = timed_close(push, TERN_OK);
        assert_true(mt_join(t, 30000));
        printf("    round %d: close took %lld ms; %d of %d delivered\n", round, (long long)dt,
               r.got, r.n);
        if (r.got != r.n)
            fail_msg("round %d: %d of %d messages delivered after close: %s", round, r.got, r.n,
                     r.why);
        mt_wait_peers_cmp(pull, '=', 0, 5000);
    }
    check_ok(tern_socket_close(pull));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

/* Every operation on a closed (or never opened) socket returns
 * TERN_ECLOSED. */
static void test_closed_ops(void **state)
{
    (void)state;
    tern_ctx *ctx = mt_ctx();
    tern_socket s = mt_open(ctx, TERN_PUSH);
    char ep[MT_EP_MAX];
    mt_bind_fresh(s, MT_TCP, ep, sizeof ep);
    check_ok(tern_socket_close(s));

    tern_socket never = {0};
    tern_socket bogus = {0x7fffff01u};
    tern_socket ids[3] = {s, never, bogus};
    for (int i = 0; i < 3; i++) {
        tern_socket x = ids[i];
        char buf[64];
        size_t len = sizeof buf;
        int64_t v;
        tern_msg *m = NULL;
        check_err(tern_send(x, "x", 1, 0), TERN_ECLOSED);
        check_err(tern_send(x, "x", 1, TERN_DONTWAIT), TERN_ECLOSED);
        check_err(tern_recv(x, buf, sizeof buf, &len, 0), TERN_ECLOSED);
        check_err(tern_msg_recv(x, &m, TERN_DONTWAIT), TERN_ECLOSED);
        assert_null(m);
        check_ok(tern_msg_new(&m));
        check_ok(tern_msg_append(m, "y", 1));
        check_err(tern_msg_send(x, m, 0), TERN_ECLOSED);
        /* On error the caller still owns the message. */
        assert_int_equal(tern_msg_parts(m), 1);
        tern_msg_free(m);
        check_err(tern_bind(x, "tcp://127.0.0.1:0"), TERN_ECLOSED);
        check_err(tern_connect(x, ep), TERN_ECLOSED);
        check_err(tern_setopt_int(x, TERN_OPT_LINGER, 0), TERN_ECLOSED);
        check_err(tern_getopt_int(x, TERN_OPT_TYPE, &v), TERN_ECLOSED);
        len = sizeof buf;
        check_err(tern_getopt_bytes(x, TERN_OPT_LAST_ENDPOINT, buf, &len), TERN_ECLOSED);
        check_err(tern_setopt_bytes(x, TERN_OPT_ROUTING_ID, "id", 2), TERN_ECLOSED);
        check_err(tern_socket_close(x), TERN_ECLOSED);
    }

    /* The id of a closed socket is not handed to the next socket in a
     * way that lets the stale id reach it. */
    tern_socket fresh = mt_open(ctx, TERN_PULL);
    int64_t v;
    check_err(tern_getopt_int(s, TERN_OPT_TYPE, &v), TERN_ECLOSED);
    assert_int_equal(mt_getopt(fresh, TERN_OPT_TYPE), TERN_PULL);
    check_ok(tern_socket_close(fresh));

    /* The closed socket's port is free again. */
    tern_socket again = mt_open(ctx, TERN_PULL);
    mt_bind(again, ep);
    check_ok(tern_socket_close(again));
    tern_ctx_close(ctx);
}

struct blocked {
    tern_socket s;
    bool sending;
    tern_err err;
    int64_t returned_at;
};

static void *blocked_main(void *arg)
{
    struct blocked *b = arg;
    if (b->sending) {
        b->err = tern_send(b->s, "stuck", 5, 0);
    } else {
        char buf[16];
        size_t len;
        b->err = tern_recv(b->s, buf, sizeof buf, &len, 0);
    }
    b->returned_at = mt_now_ms();
    return NULL;
}

/* Threads blocked in recv and in send return TERN_ECLOSED when another
 * thread closes the socket. */
static void test_close_wakes_blocked(void **state)
{
    (void)state;
    tern_ctx *ctx = mt_ctx();
    tern_socket pull = mt_open(ctx, TERN_PULL);
    tern_socket push = mt_open(ctx, TERN_PUSH); /* no peer: send blocks */
    mt_setopt(push, TERN_OPT_LINGER, 0);
    struct blocked br = {pull, false, TERN_EINVAL, 0};
    struct blocked bs = {push, true, TERN_EINVAL, 0};
    pthread_t tr, ts;
    assert_int_equal(pthread_create(&tr, NULL, blocked_main, &br), 0);
    assert_int_equal(pthread_create(&ts, NULL, blocked_main, &bs), 0);
    mt_sleep_ms(300);
    int64_t t0 = mt_now_ms();
    check_ok(tern_socket_close(pull));
    check_ok(tern_socket_close(push));
    bool joined = mt_join(tr, 15000);
    joined = mt_join(ts, 15000) && joined;
    assert_true(joined);
    printf("    recv returned %s after %lld ms, send returned %s after %lld ms\n",
           tern_errname(br.err), (long long)(br.returned_at - t0), tern_errname(bs.err),
           (long long)(bs.returned_at - t0));
    check_err(br.err, TERN_ECLOSED);
    check_err(bs.err, TERN_ECLOSED);
    /* Well before the 10 s RCVTIMEO/SNDTIMEO. */
    assert_true(br.returned_at - t0 < 3000);
    assert_true(bs.returned_at - t0 < 3000);
    tern_ctx_close(ctx);
}

/* tern_ctx_close with sockets still open (connected, with traffic, one
 * with a stuck queue, one thread blocked in recv) returns within the
 * longest linger plus slack, and the sockets are closed afterwards. */
static void test_ctx_close_open_sockets(void **state)
{
    (void)state;
    tern_ctx *ctx = mt_ctx();
    tern_socket pull = mt_open(ctx, TERN_PULL);
    mt_setopt(pull, TERN_OPT_RCVHWM, 1);
    char ep[MT_EP_MAX];
    mt_bind_fresh(pull, MT_TCP, ep, sizeof ep);
    tern_socket push = mt_open(ctx, TERN_PUSH);
    mt_setopt(push, TERN_OPT_SNDHWM, 50);
    mt_connect(push, ep);
    mt_wait_peers(push, 1);
    fill_stuck(push);
    mt_setopt(push, TERN_OPT_LINGER, 300);

    tern_socket pair_a = mt_open(ctx, TERN_PAIR);
    tern_socket pair_b = mt_open(ctx, TERN_PAIR);
    char ep2[MT_EP_MAX];
    mt_bind_fresh(pair_a, MT_INPROC, ep2, sizeof ep2);
    mt_connect(pair_b, ep2);
    mt_wait_peers(pair_b, 1);
    check_ok(tern_send(pair_b, "hi", 2, 0));

    tern_socket idle = mt_open(ctx, TERN_PULL);
    struct blocked br = {idle, false, TERN_EINVAL, 0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, blocked_main, &br), 0);
    mt_sleep_ms(200);

    int64_t t0 = mt_now_ms();
    tern_ctx_close(ctx);
    int64_t dt = mt_now_ms() - t0;
    printf("    tern_ctx_close took %lld ms (longest linger 1000)\n", (long long)dt);
    /* pull, pair_a, pair_b and idle keep the default linger of 1000 ms. */
    assert_true(dt <= 1000 + 3000);
    assert_true(mt_join(t, 10000));
    check_err(br.err, TERN_ECLOSED);
    int64_t v;
    check_err(tern_getopt_int(push, TERN_OPT_TYPE, &v), TERN_ECLOSED);
    check_err(tern_send(pair_b, "x", 1, TERN_DONTWAIT), TERN_ECLOSED);
    check_err(tern_socket_close(pull), TERN_ECLOSED);
}

/* The PULL vanishes while the PUSH is in the middle of writing large
 * messages: the sending process survives (no SIGPIPE), the blocked sender
 * returns, and the PUSH serves a new peer afterwards. Isolated in a child
 * process so that a SIGPIPE shows up as such. */
struct stream_sender {
    tern_socket push;
    int sent;
    tern_err err;
};

static void *stream_sender_main(void *arg)
{
    struct stream_sender *ss = arg;
    size_t size = 256 * 1024;
    for (ss->sent = 0; ss->sent < 400; ss->sent++) {
        tern_msg *m = mt_msg_make_try(1, &size, (uint32_t)ss->sent);
        if (!m) {
            ss->err = TERN_ENOMEM;
            return NULL;
        }
        ss->err = tern_msg_send(ss->push, m, 0);
        if (ss->err != TERN_OK) {
            tern_msg_free(m);
            return NULL;
        }
    }
    return NULL;
}

static int peer_gone_child(void *arg)
{
    int tr = *(const int *)arg;
    tern_ctx *ctx = NULL;
    tern_socket pull, push, pull2;
    MT_CHILD_OK(tern_ctx_open(&ctx, 0));
    MT_CHILD_OK(tern_socket_open(ctx, TERN_PULL, &pull));
    MT_CHILD_OK(tern_socket_open(ctx, TERN_PUSH, &push));
    MT_CHILD_OK(tern_setopt_int(push, TERN_OPT_SNDTIMEO, 1000));
    MT_CHILD_OK(tern_setopt_int(push, TERN_OPT_RECONNECT_IVL, 20));
    MT_CHILD_OK(tern_setopt_int(pull, TERN_OPT_LINGER, 0));
    char ep[MT_EP_MAX];
    mt_endpoint(tr, false, ep, sizeof ep);
    MT_CHILD_OK(tern_bind(pull, ep));
    MT_CHILD_OK(tern_connect(push, ep));
    MT_CHILD_CHECK(mt_wait_peers_try(push, 1, 10000));
    struct stream_sender ss = {push, 0, TERN_OK};
    pthread_t t;
    MT_CHILD_CHECK(pthread_create(&t, NULL, stream_sender_main, &ss) == 0);
    /* Read a little, then vanish mid-stream. */
    for (int i = 0; i < 3; i++) {
        tern_msg *r = NULL;
        MT_CHILD_OK(tern_msg_recv(pull, &r, 0));
        tern_msg_free(r);
    }
    MT_CHILD_OK(tern_socket_close(pull));
    MT_CHILD_CHECK(mt_join(t, 20000));
    fprintf(stderr, "    sender stopped after %d messages: %s\n", ss.sent, tern_errname(ss.err));
    MT_CHILD_CHECK(ss.err == TERN_ETIMEDOUT || ss.err == TERN_OK);

    /* A new PULL on a new endpoint: the PUSH still works. */
    char ep2[MT_EP_MAX];
    mt_endpoint(tr, false, ep2, sizeof ep2);
    MT_CHILD_OK(tern_socket_open(ctx, TERN_PULL, &pull2));
    MT_CHILD_OK(tern_setopt_int(pull2, TERN_OPT_RCVTIMEO, 10000));
    MT_CHILD_OK(tern_bind(pull2, ep2));
    MT_CHILD_OK(tern_connect(push, ep2));
    MT_CHILD_CHECK(mt_wait_peers_try(pull2, 1, 10000));
    MT_CHILD_OK(tern_setopt_int(push, TERN_OPT_SNDTIMEO, 10000));
    /* Messages queued for the old peer may go first: look for ours. */
    MT_CHILD_OK(tern_send(push, "after", 5, 0));
    for (;;) {
        char buf[8];
        size_t len = 0;
        tern_err e = tern_recv(pull2, buf, sizeof buf, &len, 0);
        if (e == TERN_EMSGSIZE)
            continue;
        MT_CHILD_OK(e);
        if (len == 5 && memcmp(buf, "after", 5) == 0)
            break;
    }
    MT_CHILD_OK(tern_setopt_int(push, TERN_OPT_LINGER, 0));
    tern_err ce = tern_socket_close(push);
    MT_CHILD_CHECK(ce == TERN_OK || ce == TERN_ETIMEDOUT);
    MT_CHILD_OK(tern_socket_close(pull2));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
    mt_unlink_ipc(ep2);
    return 0;
}

static void test_peer_gone_mid_stream(void **state)
{
    char what[64];
    snprintf(what, sizeof what, "PULL gone mid-stream over %s",
             mt_transport_name(transport_of(state)));
    mt_isolated(peer_gone_child, *state, 60, what);
}

/* Sockets closed while their connects to a dead port are in flight:
 * hundreds of times, with reconnects every millisecond, so that a connect
 * result and the teardown meet in the I/O thread. Isolated: a crash there
 * would take the test binary down. */
static int close_connecting_child(void *arg)
{
    (void)arg;
    tern_ctx *ctx = NULL;
    MT_CHILD_OK(tern_ctx_open(&ctx, 0));
    char dead[MT_EP_MAX];
    mt_endpoint(MT_TCP, false, dead, sizeof dead);
    for (int i = 0; i < 400; i++) {
        tern_socket s;
        MT_CHILD_OK(tern_socket_open(ctx, i % 2 ? TERN_PUSH : TERN_PAIR, &s));
        MT_CHILD_OK(tern_setopt_int(s, TERN_OPT_RECONNECT_IVL, 1));
        MT_CHILD_OK(tern_setopt_int(s, TERN_OPT_RECONNECT_IVL_MAX, 1));
        MT_CHILD_OK(tern_setopt_int(s, TERN_OPT_LINGER, 0));
        MT_CHILD_OK(tern_connect(s, dead));
        MT_CHILD_OK(tern_connect(s, dead));
        if (i % 3)
            mt_sleep_ms(i % 5);
        MT_CHILD_OK(tern_socket_close(s));
    }
    tern_ctx_close(ctx);
    return 0;
}

static void test_close_while_connecting(void **state)
{
    (void)state;
    mt_isolated(close_connecting_child, NULL, 60, "closing sockets with connects in flight");
}

/* The PULL goes away while the PUSH holds messages it could not send:
 * close still returns within LINGER plus slack. */
static void test_linger_peer_gone(void **state)
{
    int tr = transport_of(state);
    tern_ctx *ctx = mt_ctx();
    tern_socket pull = mt_open(ctx, TERN_PULL);
    mt_setopt(pull, TERN_OPT_RCVHWM, 1);
    mt_setopt(pull, TERN_OPT_LINGER, 0);
    char ep[MT_EP_MAX];
    mt_bind_fresh(pull, tr, ep, sizeof ep);
    tern_socket push = mt_open(ctx, TERN_PUSH);
    mt_setopt(push, TERN_OPT_SNDHWM, 100);
    mt_connect(push, ep);
    mt_wait_peers(push, 1);
    fill_stuck(push);
    check_ok(tern_socket_close(pull));
    mt_wait_peers_cmp(push, '=', 0, 5000);
    mt_setopt(push, TERN_OPT_LINGER, 400);
    int64_t dt = timed_close(push, -1);
    printf("    %s: close with LINGER 400 after the peer left took %lld ms\n",
           mt_transport_name(tr), (long long)dt);
    assert_true(dt <= 400 + 1500);
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

static int count_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 4096; fd++)
        if (fcntl(fd, F_GETFD) != -1)
            n++;
    return n;
}

/* Opening, connecting, using and closing sockets and contexts over and
 * over leaks no file descriptors. */
static void test_no_fd_leak(void **state)
{
    (void)state;
    int before = count_fds();
    for (int round = 0; round < 30; round++) {
        tern_ctx *ctx = mt_ctx();
        for (int tr = MT_TCP; tr <= MT_INPROC; tr++) {
            if (tr == MT_TCP6)
                continue;
            tern_socket pull = mt_open(ctx, TERN_PULL);
            tern_socket push = mt_open(ctx, TERN_PUSH);
            char ep[MT_EP_MAX];
            mt_bind_fresh(pull, tr, ep, sizeof ep);
            mt_connect(push, ep);
            mt_wait_peers(push, 1);
            check_ok(tern_send(push, "x", 1, 0));
            char buf[4];
            size_t len;
            check_ok(tern_recv(pull, buf, sizeof buf, &len, 0));
            /* A connect that never succeeds, too. */
            char dead[MT_EP_MAX];
            mt_endpoint(MT_TCP, false, dead, sizeof dead);
            mt_connect(push, dead);
            check_ok(tern_socket_close(push));
            check_ok(tern_socket_close(pull));
            mt_unlink_ipc(ep);
        }
        tern_ctx_close(ctx);
    }
    int after = count_fds();
    printf("    open fds: %d before, %d after 30 rounds\n", before, after);
    assert_int_equal(after, before);
}

#define PER_TRANSPORT(fn)                                                                          \
    {#fn "_tcp", fn, NULL, NULL, (void *)&tr_tcp}, {#fn "_ipc", fn, NULL, NULL, (void *)&tr_ipc},  \
    {                                                                                              \
#fn "_inproc", fn, NULL, NULL, (void *)&tr_inproc                                          \
    }

int main(void)
{
    mt_test_filter_from_env();
    const struct CMUnitTest tests[] = {
        /* First, while no other threads exist: it forks. */
        {"test_peer_gone_mid_stream_tcp", test_peer_gone_mid_stream, NULL, NULL, (void *)&tr_tcp},
        {"test_peer_gone_mid_stream_ipc", test_peer_gone_mid_stream, NULL, NULL, (void *)&tr_ipc},
        cmocka_unit_test(test_close_while_connecting),
        PER_TRANSPORT(test_linger_bounded),
        PER_TRANSPORT(test_linger_peer_gone),
        cmocka_unit_test(test_no_fd_leak),
        cmocka_unit_test(test_linger_no_peer),
        PER_TRANSPORT(test_close_flushes),
        cmocka_unit_test(test_closed_ops),
        cmocka_unit_test(test_close_wakes_blocked),
        cmocka_unit_test(test_ctx_close_open_sockets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
