/* Closing: linger is bounded (and 0 means now), messages queued before
 * close still reach a present peer, a closed socket answers TERN_ECLOSED
 * to everything (also to threads blocked in it), and tern_ctx_close
 * returns with sockets still open. */
#include "msgtest.h"

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

static int64_t timed_close(tern_socket s)
{
    int64_t t0 = mt_now_ms();
    check_ok(tern_socket_close(s));
    return mt_now_ms() - t0;
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
    int64_t dt = timed_close(push);
    printf("    %s: close with LINGER 500 and a stuck queue took %lld ms\n",
           mt_transport_name(tr), (long long)dt);
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
    dt = timed_close(push);
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
        int64_t dt = timed_close(push);
        printf("    close with LINGER %d and no peer took %lld ms\n", lingers[i], (long long)dt);
        assert_true(dt <= lingers[i] + 1000);
    }
    tern_ctx_close(ctx);
}

/* Messages sent just before close are delivered (LINGER lets them
 * drain): many small ones and a few large ones. */
static void test_close_flushes(void **state)
{
    int tr = transport_of(state);
    tern_ctx *ctx = mt_ctx();
    tern_socket pull = mt_open(ctx, TERN_PULL);
    char ep[MT_EP_MAX];
    mt_bind_fresh(pull, tr, ep, sizeof ep);
    for (int round = 0; round < 2; round++) {
        tern_socket push = mt_open(ctx, TERN_PUSH);
        mt_setopt(push, TERN_OPT_LINGER, 10000);
        mt_connect(push, ep);
        mt_wait_peers(push, 1);
        int n = round == 0 ? 2000 : 40;
        size_t size = round == 0 ? 16 : 256 * 1024;
        for (int i = 0; i < n; i++)
            mt_send_parts(push, 1, &size, (uint32_t)(round * 10000 + i));
        /* The receiver has read nothing yet: most are still queued. */
        check_ok(tern_socket_close(push));
        for (int i = 0; i < n; i++)
            mt_recv_parts(pull, 1, &size, (uint32_t)(round * 10000 + i));
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

#define PER_TRANSPORT(fn)                                                                          \
    {#fn "_tcp", fn, NULL, NULL, (void *)&tr_tcp}, {#fn "_ipc", fn, NULL, NULL, (void *)&tr_ipc},  \
        {#fn "_inproc", fn, NULL, NULL, (void *)&tr_inproc}

int main(void)
{
    const struct CMUnitTest tests[] = {
        PER_TRANSPORT(test_linger_bounded),
        cmocka_unit_test(test_linger_no_peer),
        PER_TRANSPORT(test_close_flushes),
        cmocka_unit_test(test_closed_ops),
        cmocka_unit_test(test_close_wakes_blocked),
        cmocka_unit_test(test_ctx_close_open_sockets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
