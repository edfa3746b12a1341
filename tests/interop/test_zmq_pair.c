/* tern PAIR <-> libzmq PAIR over tcp and ipc, with either side binding:
 * both directions, multipart boundaries, short and long frames, ping-pong
 * and 100000 messages each way in order. */
#include "zmqtest.h"

struct combo {
    int tr;
    bool tern_binds;
};

static const struct combo combos[] = {
    {MT_TCP, true},
    {MT_TCP, false},
    {MT_IPC, true},
    {MT_IPC, false},
};

static const size_t one_sizes[] = {0, 1, 255, 256, 70000};
static const size_t multi_a[] = {0, 0};
static const size_t multi_b[] = {255, 256, 0, 70000, 1};

static void test_pair(void **state)
{
    const struct combo *c = *state;
    tern_ctx *ctx = mt_ctx();
    void *zctx = zmq_ctx_new();
    assert_non_null(zctx);
    tern_socket t = mt_open(ctx, TERN_PAIR);
    void *z = zt_socket(zctx, ZMQ_PAIR);
    char ep[MT_EP_MAX];
    if (c->tern_binds) {
        mt_bind_fresh(t, c->tr, ep, sizeof ep);
        zt_check(zmq_connect(z, ep), "zmq_connect");
    } else {
        zt_bind_fresh(z, c->tr, ep, sizeof ep);
        mt_connect(t, ep);
    }
    printf("    %s binds %s\n", c->tern_binds ? "tern" : "libzmq", ep);
    mt_wait_peers(t, 1);

    for (int dir = 0; dir < 2; dir++) {
        uint32_t seed = 700 + (uint32_t)dir * 100;
        for (size_t i = 0; i < sizeof one_sizes / sizeof one_sizes[0]; i++) {
            if (dir == 0) {
                mt_send_parts(t, 1, &one_sizes[i], seed + (uint32_t)i);
                zt_recv_parts(z, 1, &one_sizes[i], seed + (uint32_t)i);
            } else {
                zt_send_parts(z, 1, &one_sizes[i], seed + (uint32_t)i);
                mt_recv_parts(t, 1, &one_sizes[i], seed + (uint32_t)i);
            }
        }
        if (dir == 0) {
            mt_send_parts(t, 2, multi_a, seed + 50);
            mt_send_parts(t, 5, multi_b, seed + 51);
            zt_recv_parts(z, 2, multi_a, seed + 50);
            zt_recv_parts(z, 5, multi_b, seed + 51);
        } else {
            zt_send_parts(z, 2, multi_a, seed + 50);
            zt_send_parts(z, 5, multi_b, seed + 51);
            mt_recv_parts(t, 2, multi_a, seed + 50);
            mt_recv_parts(t, 5, multi_b, seed + 51);
        }
    }

    /* Ping-pong. */
    for (int r = 0; r < 1000; r++) {
        size_t sz = (size_t)r % 300;
        mt_send_parts(t, 1, &sz, (uint32_t)r);
        zt_recv_parts(z, 1, &sz, (uint32_t)r);
        zt_send_parts(z, 1, &sz, (uint32_t)r + 5000);
        mt_recv_parts(t, 1, &sz, (uint32_t)r + 5000);
    }

    zt_bulk(t, z, true, 100000);
    zt_bulk(t, z, false, 100000);

    mt_setopt(t, TERN_OPT_LINGER, 0);
    check_ok(tern_socket_close(t));
    zmq_close(z);
    zmq_ctx_term(zctx);
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

int main(void)
{
    mt_test_filter_from_env();
    struct CMUnitTest tests[sizeof combos / sizeof combos[0]];
    static char names[sizeof combos / sizeof combos[0]][64];
    for (size_t i = 0; i < sizeof combos / sizeof combos[0]; i++) {
        snprintf(names[i], sizeof names[i], "pair_%s_%s_binds", mt_transport_name(combos[i].tr),
                 combos[i].tern_binds ? "tern" : "zmq");
        tests[i] = (struct CMUnitTest){names[i], test_pair, NULL, NULL, (void *)&combos[i]};
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
