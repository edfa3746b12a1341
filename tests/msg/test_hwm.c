/* High-water marks: a send never drops. With no one reading, a
 * TERN_DONTWAIT send eventually says TERN_EAGAIN and a blocking one times
 * out; everything accepted arrives, in order; a blocked send resumes when
 * the receiver drains; with no peer at all a PUSH cannot send. */
#include "msgtest.h"

static const int tr_tcp = MT_TCP;
static const int tr_ipc = MT_IPC;
static const int tr_inproc = MT_INPROC;

static int transport_of(void **state)
{
    return *(const int *)*state;
}

#define PAYLOAD 1000 /* bytes per message: keeps kernel buffers to thousands */
#define MAX_TRIES 400000

struct pipe_pair {
    tern_ctx *ctx;
    tern_socket push, pull;
    char ep[MT_EP_MAX];
};

static void setup_pair(struct pipe_pair *p, int tr, int hwm)
{
    p->ctx = mt_ctx();
    p->push = mt_open(p->ctx, TERN_PUSH);
    p->pull = mt_open(p->ctx, TERN_PULL);
    mt_setopt(p->push, TERN_OPT_SNDHWM, hwm);
    mt_setopt(p->pull, TERN_OPT_RCVHWM, hwm);
    mt_bind_fresh(p->pull, tr, p->ep, sizeof p->ep);
    mt_connect(p->push, p->ep);
    mt_wait_peers(p->push, 1);
    mt_wait_peers(p->pull, 1);
}

static void teardown_pair(struct pipe_pair *p)
{
    mt_setopt(p->push, TERN_OPT_LINGER, 0);
    check_ok(tern_socket_close(p->push));
    check_ok(tern_socket_close(p->pull));
    tern_ctx_close(p->ctx);
    mt_unlink_ipc(p->ep);
}

static tern_err send_seq(tern_socket s, uint64_t seq, int flags)
{
    uint8_t buf[PAYLOAD];
    memcpy(buf, &seq, 8);
    mt_fill(buf + 8, PAYLOAD - 8, (uint32_t)seq);
    return tern_send(s, buf, PAYLOAD, flags);
}

/* Receives exactly n messages numbered 0..n-1 in order, then finds the
 * queue empty. */
static void expect_seqs(tern_socket s, uint64_t n)
{
    uint8_t buf[PAYLOAD + 16];
    for (uint64_t i = 0; i < n; i++) {
        size_t len = 0;
        tern_err e = tern_recv(s, buf, sizeof buf, &len, 0);
        if (e != TERN_OK)
            fail_msg("message %llu of %llu accepted by send never arrived: %s",
                     (unsigned long long)i, (unsigned long long)n, tern_errname(e));
        uint64_t seq;
        memcpy(&seq, buf, 8);
        if (len != PAYLOAD || seq != i ||
            mt_mismatch(buf + 8, PAYLOAD - 8, (uint32_t)seq) != PAYLOAD - 8)
            fail_msg("expected message %llu (%d bytes), got seq %llu (%zu bytes)",
                     (unsigned long long)i, PAYLOAD, (unsigned long long)seq, len);
    }
    mt_setopt(s, TERN_OPT_RCVTIMEO, 300);
    size_t len;
    check_err(tern_recv(s, buf, sizeof buf, &len, 0), TERN_ETIMEDOUT);
    mt_setopt(s, TERN_OPT_RCVTIMEO, MT_IO_TIMEOUT_MS);
}

/* Sends with TERN_DONTWAIT until TERN_EAGAIN has been seen a few times in a
 * row (the I/O thread may still be moving data); returns how many were
 * accepted, numbered from *next. */
static uint64_t fill_until_eagain(tern_socket s, uint64_t *next)
{
    uint64_t tries = 0;
    int eagain_run = 0;
    while (eagain_run < 20) {
        if (++tries > MAX_TRIES)
            fail_msg("%llu sends with a small HWM and no reader never returned TERN_EAGAIN "
                     "(%llu accepted)",
                     (unsigned long long)MAX_TRIES, (unsigned long long)*next);
        tern_err e = send_seq(s, *next, TERN_DONTWAIT);
        if (e == TERN_OK) {
            (*next)++;
            eagain_run = 0;
        } else if (e == TERN_EAGAIN) {
            eagain_run++;
            mt_sleep_ms(5);
        } else {
            fail_msg("send with TERN_DONTWAIT returned %s", tern_errname(e));
        }
    }
    return *next;
}

static void test_dontwait_eagain_no_drop(void **state)
{
    int tr = transport_of(state);
    struct pipe_pair p;
    setup_pair(&p, tr, 10);
    uint64_t next = 0;
    fill_until_eagain(p.push, &next);
    printf("    %s: %llu messages accepted before TERN_EAGAIN\n", mt_transport_name(tr),
           (unsigned long long)next);
    if (tr == MT_INPROC)
        assert_true(next <= 1000); /* no kernel buffers: only the two HWMs */
    expect_seqs(p.pull, next);
    /* Drained: sending works again. */
    check_ok(send_seq(p.push, 0, TERN_DONTWAIT));
    expect_seqs(p.pull, 1);
    teardown_pair(&p);
}

static void test_sndtimeo(void **state)
{
    int tr = transport_of(state);
    struct pipe_pair p;
    setup_pair(&p, tr, 10);
    uint64_t next = 0;
    fill_until_eagain(p.push, &next);
    mt_setopt(p.push, TERN_OPT_SNDTIMEO, 300);
    /* A blocking send may still slip in as the I/O thread moves data; the
     * first one that waits must give up after about 300 ms. */
    for (int i = 0;; i++) {
        int64_t t0 = mt_now_ms();
        tern_err e = send_seq(p.push, next, 0);
        int64_t dt = mt_now_ms() - t0;
        if (e == TERN_OK) {
            next++;
            assert_true(i < 100);
            continue;
        }
        check_err(e, TERN_ETIMEDOUT);
        printf("    TERN_ETIMEDOUT after %lld ms (SNDTIMEO 300)\n", (long long)dt);
        assert_true(dt >= 250);
        assert_true(dt <= 3000);
        break;
    }
    /* SNDTIMEO 0 behaves like TERN_DONTWAIT. */
    mt_setopt(p.push, TERN_OPT_SNDTIMEO, 0);
    tern_err e = send_seq(p.push, next, 0);
    assert_true(e == TERN_EAGAIN || e == TERN_ETIMEDOUT);
    expect_seqs(p.pull, next);
    teardown_pair(&p);
}

struct drainer {
    tern_socket pull;
    int delay_ms;
    uint64_t want;
    uint64_t got;
    bool in_order;
    tern_err err;
};

static void *drainer_main(void *arg)
{
    struct drainer *d = arg;
    uint8_t buf[PAYLOAD + 16];
    mt_sleep_ms(d->delay_ms);
    d->in_order = true;
    while (d->got < d->want) {
        size_t len;
        tern_err e = tern_recv(d->pull, buf, sizeof buf, &len, 0);
        if (e != TERN_OK) {
            d->err = e;
            return NULL;
        }
        uint64_t seq;
        memcpy(&seq, buf, 8);
        if (seq != d->got || len != PAYLOAD)
            d->in_order = false;
        d->got++;
    }
    d->err = TERN_OK;
    return NULL;
}

static void test_blocked_send_resumes(void **state)
{
    int tr = transport_of(state);
    struct pipe_pair p;
    setup_pair(&p, tr, 10);
    uint64_t next = 0;
    fill_until_eagain(p.push, &next);
    /* The last of these blocks until the drainer (starting in 500 ms)
     * makes room. */
    uint64_t extra = 50;
    struct drainer d = {p.pull, 500, next + extra, 0, false, TERN_EINVAL};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, drainer_main, &d), 0);
    mt_setopt(p.push, TERN_OPT_SNDTIMEO, 20000);
    int64_t t0 = mt_now_ms();
    for (uint64_t i = 0; i < extra; i++) {
        tern_err e = send_seq(p.push, next, 0);
        if (e != TERN_OK) {
            mt_join(t, 20000);
            fail_msg("blocking send %llu after the HWM was reached: %s", (unsigned long long)i,
                     tern_errname(e));
        }
        next++;
    }
    int64_t dt = mt_now_ms() - t0;
    printf("    blocked sends completed after %lld ms\n", (long long)dt);
    assert_true(mt_join(t, 20000));
    check_ok(d.err);
    assert_int_equal(d.got, next);
    assert_true(d.in_order);
    /* They could not all have gone before the drainer started. */
    assert_true(dt >= 300);
    teardown_pair(&p);
}

/* A PUSH with no peer at all cannot send: TERN_EAGAIN with DONTWAIT,
 * TERN_ETIMEDOUT after SNDTIMEO; the same while its connect target is
 * absent. */
static void test_no_peer(void **state)
{
    (void)state;
    tern_ctx *ctx = mt_ctx();
    tern_socket push = mt_open(ctx, TERN_PUSH);
    check_err(tern_send(push, "x", 1, TERN_DONTWAIT), TERN_EAGAIN);
    mt_setopt(push, TERN_OPT_SNDTIMEO, 300);
    int64_t t0 = mt_now_ms();
    check_err(tern_send(push, "x", 1, 0), TERN_ETIMEDOUT);
    int64_t dt = mt_now_ms() - t0;
    assert_true(dt >= 250 && dt <= 3000);

    /* Bound but nobody connected. */
    char ep[MT_EP_MAX];
    mt_bind_fresh(push, MT_TCP, ep, sizeof ep);
    check_err(tern_send(push, "x", 1, TERN_DONTWAIT), TERN_EAGAIN);
    check_err(tern_send(push, "x", 1, 0), TERN_ETIMEDOUT);

    /* A PULL arrives: sending works. */
    tern_socket pull = mt_open(ctx, TERN_PULL);
    mt_connect(pull, ep);
    mt_wait_peers(push, 1);
    check_ok(tern_send(push, "ok", 2, 0));
    char buf[8];
    size_t len;
    check_ok(tern_recv(pull, buf, sizeof buf, &len, 0));
    assert_int_equal(len, 2);
    assert_memory_equal(buf, "ok", 2);
    /* None of the refused messages arrived. */
    check_err(tern_recv(pull, buf, sizeof buf, &len, TERN_DONTWAIT), TERN_EAGAIN);
    mt_setopt(push, TERN_OPT_LINGER, 0);
    check_ok(tern_socket_close(push));
    check_ok(tern_socket_close(pull));
    tern_ctx_close(ctx);
}

/* RCVTIMEO and DONTWAIT on an empty PULL. */
static void test_rcvtimeo(void **state)
{
    (void)state;
    tern_ctx *ctx = mt_ctx();
    tern_socket pull = mt_open(ctx, TERN_PULL);
    char buf[8];
    size_t len;
    tern_msg *m = NULL;
    check_err(tern_recv(pull, buf, sizeof buf, &len, TERN_DONTWAIT), TERN_EAGAIN);
    check_err(tern_msg_recv(pull, &m, TERN_DONTWAIT), TERN_EAGAIN);
    assert_null(m);
    mt_setopt(pull, TERN_OPT_RCVTIMEO, 300);
    int64_t t0 = mt_now_ms();
    check_err(tern_recv(pull, buf, sizeof buf, &len, 0), TERN_ETIMEDOUT);
    int64_t dt = mt_now_ms() - t0;
    printf("    recv timed out after %lld ms (RCVTIMEO 300)\n", (long long)dt);
    assert_true(dt >= 250 && dt <= 3000);
    mt_setopt(pull, TERN_OPT_RCVTIMEO, 0);
    check_err(tern_recv(pull, buf, sizeof buf, &len, 0), TERN_EAGAIN);
    check_ok(tern_socket_close(pull));
    tern_ctx_close(ctx);
}

/* A large message counts as one against the HWM and gets through a small
 * one. */
static void test_big_messages_small_hwm(void **state)
{
    int tr = transport_of(state);
    struct pipe_pair p;
    setup_pair(&p, tr, 2);
    static const size_t sz[] = {1u << 20, 3u << 19};
    for (uint32_t i = 0; i < 8; i++) {
        mt_send_parts(p.push, 2, sz, 900 + i);
        if (i >= 3)
            mt_recv_parts(p.pull, 2, sz, 900 + i - 3);
    }
    for (uint32_t i = 5; i < 8; i++)
        mt_recv_parts(p.pull, 2, sz, 900 + i);
    teardown_pair(&p);
}

/* A PUSH with two PULLs, one of which never reads: once that one is at
 * its HWM the PUSH sends everything to the other instead of blocking. */
static void test_push_skips_full_peer(void **state)
{
    int tr = transport_of(state);
    enum { N = 20000 };
    tern_ctx *ctx = mt_ctx();
    tern_socket push = mt_open(ctx, TERN_PUSH);
    tern_socket stuck = mt_open(ctx, TERN_PULL);
    tern_socket live = mt_open(ctx, TERN_PULL);
    mt_setopt(push, TERN_OPT_SNDHWM, 10);
    mt_setopt(stuck, TERN_OPT_RCVHWM, 10);
    char ep[MT_EP_MAX];
    mt_bind_fresh(push, tr, ep, sizeof ep);
    mt_connect(stuck, ep);
    mt_connect(live, ep);
    mt_wait_peers(push, 2);
    mt_wait_peers(stuck, 1);
    mt_wait_peers(live, 1);
    struct drainer d = {live, 0, 0, 0, false, TERN_EINVAL};
    /* The drainer counts everything live gets; it stops on a timeout. */
    d.want = N;
    pthread_t t;
    mt_setopt(live, TERN_OPT_RCVTIMEO, 1000);
    assert_int_equal(pthread_create(&t, NULL, drainer_main, &d), 0);
    mt_setopt(push, TERN_OPT_SNDTIMEO, 5000);
    int64_t t0 = mt_now_ms();
    uint64_t sent = 0;
    tern_err e = TERN_OK;
    for (; sent < N; sent++) {
        e = send_seq(push, sent, 0);
        if (e != TERN_OK)
            break;
    }
    int64_t dt = mt_now_ms() - t0;
    assert_true(mt_join(t, 30000));
    printf("    %s: sent %llu in %lld ms (%s); live peer got %llu\n", mt_transport_name(tr),
           (unsigned long long)sent, (long long)dt, tern_errname(e), (unsigned long long)d.got);
    check_ok(e);
    /* live got all but what stuck holds (its HWMs and kernel buffers). */
    assert_int_equal(sent, N);
    assert_true(d.got > N / 2);
    mt_setopt(push, TERN_OPT_LINGER, 0);
    mt_close_lossy(push); /* stuck's share is still queued */
    check_ok(tern_socket_close(stuck));
    check_ok(tern_socket_close(live));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
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
        PER_TRANSPORT(test_dontwait_eagain_no_drop),
        PER_TRANSPORT(test_sndtimeo),
        PER_TRANSPORT(test_blocked_send_resumes),
        cmocka_unit_test(test_no_peer),
        cmocka_unit_test(test_rcvtimeo),
        PER_TRANSPORT(test_big_messages_small_hwm),
        PER_TRANSPORT(test_push_skips_full_peer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
