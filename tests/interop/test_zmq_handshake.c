/* tern against libzmq at the handshake: incompatible socket types are
 * refused (nothing delivered, a traced reason), and ZMTP 3.1 heartbeats
 * from either side keep an idle connection up. */
#include "zmqtest.h"

static const int tr_tcp = MT_TCP;
static const int tr_ipc = MT_IPC;

/* Words that say a handshake failed (matched case-insensitively); a line
 * that merely mentions a handshake is not enough. libzmq validates the
 * socket type too and may hang up before tern has read its READY, so
 * "dropped during the handshake" counts as well. */
static const char *const refuse_words[] = {
    "incompat",    "refus", "reject", "fail",  "mismatch", "invalid", "not allowed",
    "unsupported", "wrong", "bad ",   "error", "drop",     NULL,
};

/* Connects a libzmq socket of ztype to ep and waits until tern traces a
 * refusal. */
static void *connect_refused(void *zctx, int ztype, const char *zname, const char *ep)
{
    uint64_t mark = mt_trace_mark();
    void *z = zt_socket(zctx, ztype);
    zt_setint(z, ZMQ_LINGER, 0);
    zt_check(zmq_connect(z, ep), "zmq_connect");
    char line[MT_TRACE_LEN + 32];
    if (!mt_trace_wait(mark, refuse_words, 5000, line, sizeof line)) {
        mt_trace_dump(mark, 40);
        fail_msg("no trace line about refusing a libzmq %s within 5 s", zname);
    }
    printf("    libzmq %s refused; trace: %s\n", zname, line);
    return z;
}

/* The tern socket never counts the refused peers, for a whole second. */
static void expect_no_peers(tern_socket t)
{
    for (int i = 0; i < 20; i++) {
        assert_int_equal(mt_getopt(t, TERN_OPT_PEERS), 0);
        mt_sleep_ms(50);
    }
}

/* A libzmq PUB and a libzmq PUSH connect to a tern PUSH: both refused;
 * tern has no one to send to; a libzmq PULL that connects afterwards gets
 * every message, and only it counts as a peer. */
static void test_refuse_on_push(void **state)
{
    int tr = *(const int *)*state;
    mt_trace_capture();
    tern_ctx *ctx = mt_ctx();
    void *zctx = zmq_ctx_new();
    tern_socket t = mt_open(ctx, TERN_PUSH);
    char ep[MT_EP_MAX];
    mt_bind_fresh(t, tr, ep, sizeof ep);

    void *zpub = connect_refused(zctx, ZMQ_PUB, "PUB", ep);
    void *zpush = connect_refused(zctx, ZMQ_PUSH, "PUSH", ep);
    expect_no_peers(t);
    check_err(tern_send(t, "nobody", 6, TERN_DONTWAIT), TERN_EAGAIN);
    (void)zmq_send(zpub, "from-pub", 8, ZMQ_DONTWAIT);
    (void)zmq_send(zpush, "from-push", 9, ZMQ_DONTWAIT);

    void *zpull = zt_socket(zctx, ZMQ_PULL);
    zt_check(zmq_connect(zpull, ep), "zmq_connect PULL");
    mt_wait_peers(t, 1);
    for (uint32_t i = 0; i < 100; i++) {
        size_t sz = 10 + i;
        mt_send_parts(t, 1, &sz, i);
    }
    for (uint32_t i = 0; i < 100; i++) {
        size_t sz = 10 + i;
        zt_recv_parts(zpull, 1, &sz, i);
    }
    assert_int_equal(mt_getopt(t, TERN_OPT_PEERS), 1);

    zmq_close(zpub);
    zmq_close(zpush);
    zmq_close(zpull);
    zmq_ctx_term(zctx);
    check_ok(tern_socket_close(t));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
    tern_trace_set(NULL);
    tern_trace_sink(NULL, NULL);
}

/* A libzmq PUB and a libzmq PULL connect to a tern PULL: both refused and
 * nothing the PUB publishes arrives; a libzmq PUSH then delivers. */
static void test_refuse_on_pull(void **state)
{
    int tr = *(const int *)*state;
    mt_trace_capture();
    tern_ctx *ctx = mt_ctx();
    void *zctx = zmq_ctx_new();
    tern_socket t = mt_open(ctx, TERN_PULL);
    char ep[MT_EP_MAX];
    mt_bind_fresh(t, tr, ep, sizeof ep);

    void *zpub = connect_refused(zctx, ZMQ_PUB, "PUB", ep);
    void *zpull = connect_refused(zctx, ZMQ_PULL, "PULL", ep);
    expect_no_peers(t);
    for (int i = 0; i < 50; i++)
        (void)zmq_send(zpub, "from-pub", 8, ZMQ_DONTWAIT);
    mt_setopt(t, TERN_OPT_RCVTIMEO, 500);
    char buf[64];
    size_t len;
    check_err(tern_recv(t, buf, sizeof buf, &len, 0), TERN_ETIMEDOUT);

    mt_setopt(t, TERN_OPT_RCVTIMEO, MT_IO_TIMEOUT_MS);
    void *zpush = zt_socket(zctx, ZMQ_PUSH);
    zt_check(zmq_connect(zpush, ep), "zmq_connect PUSH");
    mt_wait_peers(t, 1);
    static const size_t sz[] = {3, 0, 256};
    zt_send_parts(zpush, 3, sz, 99);
    mt_recv_parts(t, 3, sz, 99);
    check_err(tern_recv(t, buf, sizeof buf, &len, TERN_DONTWAIT), TERN_EAGAIN);

    zmq_close(zpub);
    zmq_close(zpull);
    zmq_close(zpush);
    zmq_ctx_term(zctx);
    check_ok(tern_socket_close(t));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
    tern_trace_set(NULL);
    tern_trace_sink(NULL, NULL);
}

struct hb_case {
    bool tern_binds;
    bool zmq_pings;  /* ZMQ_HEARTBEAT_IVL on the libzmq side */
    bool tern_pings; /* TERN_OPT_HEARTBEAT_IVL on the tern side */
};

static const struct hb_case hb_zmq_connects = {true, true, false};
static const struct hb_case hb_zmq_binds = {false, true, false};
static const struct hb_case hb_tern_pings = {true, false, true};
static const struct hb_case hb_both_ping = {false, true, true};

/* An idle connection with heartbeats every 100 ms and a 500 ms timeout
 * survives 2.5 s (25 intervals): libzmq's monitor sees one handshake and
 * no disconnect, and messages still flow. */
static void test_heartbeat(void **state)
{
    const struct hb_case *c = *state;
    tern_ctx *ctx = mt_ctx();
    void *zctx = zmq_ctx_new();
    tern_socket t = mt_open(ctx, TERN_PUSH);
    void *z = zt_socket(zctx, ZMQ_PULL);
    if (c->zmq_pings) {
        zt_setint(z, ZMQ_HEARTBEAT_IVL, 100);
        zt_setint(z, ZMQ_HEARTBEAT_TIMEOUT, 500);
        zt_setint(z, ZMQ_HEARTBEAT_TTL, 1000);
    }
    if (c->tern_pings) {
        mt_setopt(t, TERN_OPT_HEARTBEAT_IVL, 100);
        mt_setopt(t, TERN_OPT_HEARTBEAT_TIMEOUT, 500);
    }
    struct zt_monitor mon;
    zt_monitor_start(zctx, z, &mon);
    char ep[MT_EP_MAX];
    if (c->tern_binds) {
        mt_bind_fresh(t, MT_TCP, ep, sizeof ep);
        zt_check(zmq_connect(z, ep), "zmq_connect");
    } else {
        zt_bind_fresh(z, MT_TCP, ep, sizeof ep);
        mt_connect(t, ep);
    }
    mt_wait_peers(t, 1);
    size_t sz = 5;
    mt_send_parts(t, 1, &sz, 1);
    zt_recv_parts(z, 1, &sz, 1);

    int64_t t0 = mt_now_ms();
    while (mt_now_ms() - t0 < 2500) {
        assert_int_equal(mt_getopt(t, TERN_OPT_PEERS), 1);
        mt_sleep_ms(50);
    }
    zt_monitor_poll(&mon);
    printf("    libzmq saw %d handshake(s), %d disconnect(s) over 2.5 s idle\n", mon.handshakes,
           mon.disconnects);
    assert_int_equal(mon.handshakes, 1);
    assert_int_equal(mon.disconnects, 0);
    for (uint32_t i = 0; i < 10; i++) {
        sz = 100 + i;
        mt_send_parts(t, 1, &sz, 10 + i);
    }
    for (uint32_t i = 0; i < 10; i++) {
        sz = 100 + i;
        zt_recv_parts(z, 1, &sz, 10 + i);
    }
    zt_monitor_poll(&mon);
    assert_int_equal(mon.disconnects, 0);

    zt_monitor_stop(z, &mon);
    zmq_close(z);
    zmq_ctx_term(zctx);
    mt_setopt(t, TERN_OPT_LINGER, 0);
    check_ok(tern_socket_close(t));
    tern_ctx_close(ctx);
}

int main(void)
{
    mt_test_filter_from_env();
    const struct CMUnitTest tests[] = {
        {"refuse_on_push_tcp", test_refuse_on_push, NULL, NULL, (void *)&tr_tcp},
        {"refuse_on_push_ipc", test_refuse_on_push, NULL, NULL, (void *)&tr_ipc},
        {"refuse_on_pull_tcp", test_refuse_on_pull, NULL, NULL, (void *)&tr_tcp},
        {"refuse_on_pull_ipc", test_refuse_on_pull, NULL, NULL, (void *)&tr_ipc},
        {"heartbeat_zmq_pings_tern_binds", test_heartbeat, NULL, NULL, (void *)&hb_zmq_connects},
        {"heartbeat_zmq_pings_zmq_binds", test_heartbeat, NULL, NULL, (void *)&hb_zmq_binds},
        {"heartbeat_tern_pings", test_heartbeat, NULL, NULL, (void *)&hb_tern_pings},
        {"heartbeat_both_ping", test_heartbeat, NULL, NULL, (void *)&hb_both_ping},
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
