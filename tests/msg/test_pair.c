/* PAIR <-> PAIR over tcp, ipc (path and abstract) and inproc: both
 * directions, contents and multipart boundaries, bind/connect order,
 * exclusivity and a new peer after the old one left. */
#include "msgtest.h"

static const int tr_tcp = MT_TCP;
static const int tr_ipc = MT_IPC;
static const int tr_abstract = MT_IPC_ABSTRACT;
static const int tr_inproc = MT_INPROC;

static int transport_of(void **state)
{
    return *(const int *)*state;
}

static const size_t one_sizes[] = {0, 1, 255, 256, 4096, 1u << 20};
static const size_t multi_a[] = {0, 0, 0};
static const size_t multi_b[] = {255, 0, 256, 1};
static const size_t multi_c[] = {1u << 20, 3};

/* Sends a set of shapes from tx to rx and checks each. */
static void exchange(tern_socket tx, tern_socket rx, uint32_t seed)
{
    for (size_t i = 0; i < sizeof one_sizes / sizeof one_sizes[0]; i++)
        mt_send_parts(tx, 1, &one_sizes[i], seed + (uint32_t)i);
    mt_send_parts(tx, 3, multi_a, seed + 10);
    mt_send_parts(tx, 4, multi_b, seed + 11);
    mt_send_parts(tx, 2, multi_c, seed + 12);
    for (size_t i = 0; i < sizeof one_sizes / sizeof one_sizes[0]; i++)
        mt_recv_parts(rx, 1, &one_sizes[i], seed + (uint32_t)i);
    mt_recv_parts(rx, 3, multi_a, seed + 10);
    mt_recv_parts(rx, 4, multi_b, seed + 11);
    mt_recv_parts(rx, 2, multi_c, seed + 12);
}

static void ping_pong(tern_socket a, tern_socket b, int rounds)
{
    for (int r = 0; r < rounds; r++) {
        uint32_t tag;
        uint64_t seq;
        check_ok(mt_send_seq_try(a, 1, (uint64_t)r, (size_t)r % 50, 0));
        mt_recv_seq(b, &tag, &seq);
        assert_int_equal(tag, 1);
        assert_int_equal(seq, (uint64_t)r);
        check_ok(mt_send_seq_try(b, 2, (uint64_t)r, (size_t)r % 30, 0));
        mt_recv_seq(a, &tag, &seq);
        assert_int_equal(tag, 2);
        assert_int_equal(seq, (uint64_t)r);
    }
}

static void test_pair_basic(void **state)
{
    int tr = transport_of(state);
    tern_ctx *ctx = mt_ctx();
    tern_socket a = mt_open(ctx, TERN_PAIR);
    tern_socket b = mt_open(ctx, TERN_PAIR);
    char ep[MT_EP_MAX];
    mt_bind_fresh(a, tr, ep, sizeof ep);
    mt_connect(b, ep);
    mt_wait_peers(a, 1);
    mt_wait_peers(b, 1);
    exchange(a, b, 1000);
    exchange(b, a, 2000);
    ping_pong(a, b, 200);
    check_ok(tern_socket_close(b));
    check_ok(tern_socket_close(a));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

static void test_pair_connect_first(void **state)
{
    int tr = transport_of(state);
    tern_ctx *ctx = mt_ctx();
    tern_socket a = mt_open(ctx, TERN_PAIR);
    tern_socket b = mt_open(ctx, TERN_PAIR);
    char ep[MT_EP_MAX];
    mt_endpoint(tr, false, ep, sizeof ep);
    mt_connect(b, ep);
    mt_sleep_ms(300);
    assert_int_equal(mt_getopt(b, TERN_OPT_PEERS), 0);
    mt_bind(a, ep);
    mt_wait_peers(a, 1);
    mt_wait_peers(b, 1);
    exchange(b, a, 3000);
    exchange(a, b, 4000);
    check_ok(tern_socket_close(b));
    check_ok(tern_socket_close(a));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

/* A bound PAIR talks to one peer: a second one connecting does not
 * displace the first, and nothing it sends reaches the bound PAIR. */
static void test_pair_exclusive(void **state)
{
    int tr = transport_of(state);
    tern_ctx *ctx = mt_ctx();
    tern_socket a = mt_open(ctx, TERN_PAIR);
    tern_socket b = mt_open(ctx, TERN_PAIR);
    tern_socket c = mt_open(ctx, TERN_PAIR);
    char ep[MT_EP_MAX];
    mt_bind_fresh(a, tr, ep, sizeof ep);
    mt_connect(b, ep);
    mt_wait_peers(a, 1);
    mt_wait_peers(b, 1);
    mt_connect(c, ep);
    mt_sleep_ms(500);
    assert_int_equal(mt_getopt(a, TERN_OPT_PEERS), 1);
    /* c has no peer that accepts it: its send either waits and times out
     * or is queued; it must never arrive at a. */
    mt_setopt(c, TERN_OPT_SNDTIMEO, 300);
    tern_err e = tern_send(c, "intruder", 8, 0);
    assert_true(e == TERN_OK || e == TERN_ETIMEDOUT || e == TERN_EAGAIN);
    ping_pong(a, b, 20);
    mt_setopt(a, TERN_OPT_RCVTIMEO, 500);
    char buf[16];
    size_t len;
    check_err(tern_recv(a, buf, sizeof buf, &len, 0), TERN_ETIMEDOUT);
    assert_int_equal(mt_getopt(a, TERN_OPT_PEERS), 1);
    mt_setopt(c, TERN_OPT_LINGER, 0);
    mt_close_lossy(c);
    check_ok(tern_socket_close(b));
    check_ok(tern_socket_close(a));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

/* The connected PAIR leaves; a new one connects and takes its place. */
static void test_pair_new_peer(void **state)
{
    int tr = transport_of(state);
    tern_ctx *ctx = mt_ctx();
    tern_socket a = mt_open(ctx, TERN_PAIR);
    char ep[MT_EP_MAX];
    mt_bind_fresh(a, tr, ep, sizeof ep);
    for (int round = 0; round < 3; round++) {
        tern_socket b = mt_open(ctx, TERN_PAIR);
        mt_connect(b, ep);
        mt_wait_peers(a, 1);
        mt_wait_peers(b, 1);
        ping_pong(a, b, 10);
        check_ok(tern_socket_close(b));
        mt_wait_peers_cmp(a, '=', 0, 5000);
    }
    check_ok(tern_socket_close(a));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

#define PER_TRANSPORT(fn)                                                                          \
    {#fn "_tcp", fn, NULL, NULL, (void *)&tr_tcp}, {#fn "_ipc", fn, NULL, NULL, (void *)&tr_ipc},  \
        {#fn "_ipc_abstract", fn, NULL, NULL, (void *)&tr_abstract},                               \
    {                                                                                              \
#fn "_inproc", fn, NULL, NULL, (void *)&tr_inproc                                          \
    }

int main(void)
{
    mt_test_filter_from_env();
    const struct CMUnitTest tests[] = {
        PER_TRANSPORT(test_pair_basic),
        PER_TRANSPORT(test_pair_connect_first),
        PER_TRANSPORT(test_pair_exclusive),
        PER_TRANSPORT(test_pair_new_peer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
