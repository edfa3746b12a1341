/* tern PUSH/PULL against libzmq PULL/PUSH, over tcp and ipc, with either
 * side binding: contents, multipart boundaries (ZMQ_SNDMORE/ZMQ_RCVMORE),
 * short and long frames, and 100000 messages in order. */
#include "zmqtest.h"

struct combo {
    int tr;
    bool tern_binds;
    bool tern_sends; /* tern PUSH -> zmq PULL, else zmq PUSH -> tern PULL */
};

static const struct combo combos[] = {
    {MT_TCP, true, true}, {MT_TCP, true, false}, {MT_TCP, false, true}, {MT_TCP, false, false},
    {MT_IPC, true, true}, {MT_IPC, true, false}, {MT_IPC, false, true}, {MT_IPC, false, false},
};

struct shape {
    size_t nparts;
    size_t sizes[24];
};

static const struct shape shapes[] = {
    {1, {0}},
    {1, {1}},
    {1, {255}},
    {1, {256}},
    {1, {70000}},
    {2, {0, 0}},
    {3, {1, 255, 256}},
    {3, {70000, 0, 3}},
    {4, {256, 70000, 255, 0}},
    {20, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 255, 256, 0, 0, 1, 300, 1000, 5, 6, 7}},
};
#define NSHAPES (sizeof shapes / sizeof shapes[0])
#define BULK 100000

struct setup {
    tern_ctx *ctx;
    void *zctx;
    tern_socket t;
    void *z;
    char ep[MT_EP_MAX];
};

static void connect_pair(struct setup *s, const struct combo *c, int ttype, int ztype)
{
    s->ctx = mt_ctx();
    s->zctx = zmq_ctx_new();
    assert_non_null(s->zctx);
    s->t = mt_open(s->ctx, ttype);
    s->z = zt_socket(s->zctx, ztype);
    if (c->tern_binds) {
        mt_bind_fresh(s->t, c->tr, s->ep, sizeof s->ep);
        zt_check(zmq_connect(s->z, s->ep), "zmq_connect");
    } else {
        zt_bind_fresh(s->z, c->tr, s->ep, sizeof s->ep);
        mt_connect(s->t, s->ep);
    }
    printf("    %s binds %s\n", c->tern_binds ? "tern" : "libzmq", s->ep);
    mt_wait_peers(s->t, 1);
}

static void disconnect_pair(struct setup *s)
{
    mt_setopt(s->t, TERN_OPT_LINGER, 0);
    check_ok(tern_socket_close(s->t));
    zmq_close(s->z);
    zmq_ctx_term(s->zctx);
    tern_ctx_close(s->ctx);
    mt_unlink_ipc(s->ep);
}

static void test_pushpull(void **state)
{
    const struct combo *c = *state;
    struct setup s;
    printf("    %s, %s\n", mt_transport_name(c->tr),
           c->tern_sends ? "tern PUSH -> libzmq PULL" : "libzmq PUSH -> tern PULL");
    connect_pair(&s, c, c->tern_sends ? TERN_PUSH : TERN_PULL, c->tern_sends ? ZMQ_PULL : ZMQ_PUSH);
    for (size_t i = 0; i < NSHAPES; i++) {
        uint32_t seed = 500 + (uint32_t)i;
        if (c->tern_sends) {
            mt_send_parts(s.t, shapes[i].nparts, shapes[i].sizes, seed);
            zt_recv_parts(s.z, shapes[i].nparts, shapes[i].sizes, seed);
        } else {
            zt_send_parts(s.z, shapes[i].nparts, shapes[i].sizes, seed);
            mt_recv_parts(s.t, shapes[i].nparts, shapes[i].sizes, seed);
        }
    }
    zt_bulk(s.t, s.z, c->tern_sends, BULK);
    disconnect_pair(&s);
}

/* A fast libzmq PUSH against a tern PULL with RCVHWM 10 that does not
 * read: tern stops reading from the connection (back-pressure reaches
 * libzmq, whose sends start failing with EAGAIN) instead of buffering
 * without bound, and everything libzmq accepted arrives in order. */
static void test_rcvhwm_backpressure(void **state)
{
    (void)state;
    enum { SIZE = 1024, MAX = 300000 };
    tern_ctx *ctx = mt_ctx();
    void *zctx = zmq_ctx_new();
    tern_socket t = mt_open(ctx, TERN_PULL);
    mt_setopt(t, TERN_OPT_RCVHWM, 10);
    char ep[MT_EP_MAX];
    mt_bind_fresh(t, MT_TCP, ep, sizeof ep);
    void *z = zt_socket(zctx, ZMQ_PUSH);
    zt_check(zmq_connect(z, ep), "zmq_connect");
    mt_wait_peers(t, 1);
    int64_t rss0 = mt_rss_bytes();
    uint8_t buf[SIZE];
    uint64_t accepted = 0;
    int eagain_run = 0;
    while (accepted < MAX && eagain_run < 50) {
        memcpy(buf, &accepted, 8);
        if (zmq_send(z, buf, SIZE, ZMQ_DONTWAIT) == SIZE) {
            accepted++;
            eagain_run = 0;
        } else {
            assert_int_equal(zmq_errno(), EAGAIN);
            eagain_run++;
            mt_sleep_ms(10);
        }
    }
    int64_t rss1 = mt_rss_bytes();
    printf("    libzmq accepted %llu messages of %d bytes before EAGAIN; RSS grew %lld KiB\n",
           (unsigned long long)accepted, SIZE, (long long)((rss1 - rss0) >> 10));
    if (accepted >= MAX)
        fail_msg("%d messages of %d bytes went into a PULL with RCVHWM 10 that never reads", MAX,
                 SIZE);
    assert_true(rss1 - rss0 < (64ll << 20));
    for (uint64_t i = 0; i < accepted; i++) {
        size_t len = 0;
        tern_err e = tern_recv(t, buf, sizeof buf, &len, 0);
        if (e != TERN_OK)
            fail_msg("message %llu of %llu: %s", (unsigned long long)i,
                     (unsigned long long)accepted, tern_errname(e));
        uint64_t seq;
        memcpy(&seq, buf, 8);
        assert_int_equal(len, SIZE);
        assert_int_equal(seq, i);
    }
    zmq_close(z);
    zmq_ctx_term(zctx);
    check_ok(tern_socket_close(t));
    tern_ctx_close(ctx);
}

int main(void)
{
    mt_test_filter_from_env();
    struct CMUnitTest tests[sizeof combos / sizeof combos[0] + 1];
    static char names[sizeof combos / sizeof combos[0]][64];
    for (size_t i = 0; i < sizeof combos / sizeof combos[0]; i++) {
        const struct combo *c = &combos[i];
        snprintf(names[i], sizeof names[i], "pushpull_%s_%s_binds_%s", mt_transport_name(c->tr),
                 c->tern_binds ? "tern" : "zmq", c->tern_sends ? "tern_to_zmq" : "zmq_to_tern");
        tests[i] = (struct CMUnitTest){names[i], test_pushpull, NULL, NULL, (void *)c};
    }
    tests[sizeof combos / sizeof combos[0]] =
        (struct CMUnitTest){"rcvhwm_backpressure", test_rcvhwm_backpressure, NULL, NULL, NULL};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
