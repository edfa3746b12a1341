/* Socket options (defaults, round trips, range checks, read-only ones),
 * socket types, and the message object as the socket layer sees it. */
#include "msgtest.h"

static void test_defaults(void **state)
{
    (void)state;
    tern_ctx *ctx = mt_ctx();
    tern_socket s;
    check_ok(tern_socket_open(ctx, TERN_PUSH, &s));
    static const struct {
        int opt;
        int64_t want;
    } defs[] = {
        {TERN_OPT_SNDHWM, 1000},
        {TERN_OPT_RCVHWM, 1000},
        {TERN_OPT_SNDTIMEO, -1},
        {TERN_OPT_RCVTIMEO, -1},
        {TERN_OPT_LINGER, 1000},
        {TERN_OPT_RECONNECT_IVL, 100},
        {TERN_OPT_RECONNECT_IVL_MAX, 5000},
        {TERN_OPT_MAXMSGSIZE, 64 << 20},
        {TERN_OPT_HEARTBEAT_IVL, 0},
        {TERN_OPT_HEARTBEAT_TTL, 0},
        {TERN_OPT_HANDSHAKE_IVL, 10000},
        {TERN_OPT_TYPE, TERN_PUSH},
        {TERN_OPT_PEERS, 0},
    };
    for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++) {
        int64_t v = mt_getopt(s, defs[i].opt);
        if (v != defs[i].want)
            fail_msg("option %d defaults to %lld, header says %lld", defs[i].opt, (long long)v,
                     (long long)defs[i].want);
    }
    check_ok(tern_socket_close(s));
    tern_ctx_close(ctx);
}

static void test_round_trip(void **state)
{
    (void)state;
    tern_ctx *ctx = mt_ctx();
    tern_socket s = mt_open(ctx, TERN_PULL);
    static const struct {
        int opt;
        int64_t v;
    } sets[] = {
        {TERN_OPT_SNDHWM, 7},
        {TERN_OPT_RCVHWM, 123456},
        {TERN_OPT_SNDTIMEO, 0},
        {TERN_OPT_SNDTIMEO, -1},
        {TERN_OPT_RCVTIMEO, 250},
        {TERN_OPT_LINGER, 0},
        {TERN_OPT_LINGER, 3600000},
        {TERN_OPT_RECONNECT_IVL, 10},
        {TERN_OPT_RECONNECT_IVL_MAX, 60000},
        {TERN_OPT_MAXMSGSIZE, 1},
        {TERN_OPT_HEARTBEAT_IVL, 250},
        {TERN_OPT_HEARTBEAT_TIMEOUT, 900},
        {TERN_OPT_HEARTBEAT_TTL, 5000},
        {TERN_OPT_HANDSHAKE_IVL, 500},
    };
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        mt_setopt(s, sets[i].opt, sets[i].v);
        assert_int_equal(mt_getopt(s, sets[i].opt), sets[i].v);
    }

    char id[300];
    memset(id, 'r', sizeof id);
    check_ok(tern_setopt_bytes(s, TERN_OPT_ROUTING_ID, "node-1", 6));
    char got[300];
    size_t len = sizeof got;
    check_ok(tern_getopt_bytes(s, TERN_OPT_ROUTING_ID, got, &len));
    assert_int_equal(len, 6);
    assert_memory_equal(got, "node-1", 6);
    check_ok(tern_setopt_bytes(s, TERN_OPT_ROUTING_ID, id, 255));
    check_err(tern_setopt_bytes(s, TERN_OPT_ROUTING_ID, id, 256), TERN_EINVAL);
    check_ok(tern_socket_close(s));
    tern_ctx_close(ctx);
}

static void test_invalid(void **state)
{
    (void)state;
    tern_ctx *ctx = mt_ctx();
    tern_socket s = mt_open(ctx, TERN_PUSH);
    check_err(tern_setopt_int(s, TERN_OPT_LINGER, -1), TERN_EINVAL);
    check_err(tern_setopt_int(s, TERN_OPT_LINGER, 3600001), TERN_EINVAL);
    check_err(tern_setopt_int(s, TERN_OPT_SNDHWM, -1), TERN_EINVAL);
    check_err(tern_setopt_int(s, TERN_OPT_RCVHWM, -5), TERN_EINVAL);
    check_err(tern_setopt_int(s, TERN_OPT_SNDTIMEO, -2), TERN_EINVAL);
    check_err(tern_setopt_int(s, TERN_OPT_RCVTIMEO, -2), TERN_EINVAL);
    /* The failed sets changed nothing. */
    assert_int_equal(mt_getopt(s, TERN_OPT_LINGER), 1000);
    assert_int_equal(mt_getopt(s, TERN_OPT_RCVTIMEO), MT_IO_TIMEOUT_MS);

    /* Read-only options. */
    assert_int_not_equal(tern_setopt_int(s, TERN_OPT_TYPE, TERN_PULL), TERN_OK);
    assert_int_not_equal(tern_setopt_int(s, TERN_OPT_PEERS, 3), TERN_OK);
    assert_int_not_equal(tern_setopt_bytes(s, TERN_OPT_LAST_ENDPOINT, "tcp://x:1", 9), TERN_OK);
    assert_int_equal(mt_getopt(s, TERN_OPT_TYPE), TERN_PUSH);

    /* Unknown options. */
    int64_t v;
    tern_err e = tern_setopt_int(s, 9999, 1);
    assert_true(e == TERN_EINVAL || e == TERN_ENOTSUP);
    e = tern_getopt_int(s, 9999, &v);
    assert_true(e == TERN_EINVAL || e == TERN_ENOTSUP);
    e = tern_setopt_int(s, 0, 1);
    assert_true(e == TERN_EINVAL || e == TERN_ENOTSUP);

    /* Bad arguments are refused, not dereferenced. */
    tern_socket bogus;
    assert_int_not_equal(tern_socket_open(NULL, TERN_PUSH, &bogus), TERN_OK);
    e = tern_socket_open(ctx, 42, &bogus);
    assert_true(e == TERN_EINVAL || e == TERN_ENOTSUP);
    e = tern_socket_open(ctx, -1, &bogus);
    assert_true(e == TERN_EINVAL || e == TERN_ENOTSUP);
    check_ok(tern_socket_close(s));
    tern_ctx_close(ctx);
}

/* Every type either opens (and reports itself) or says TERN_ENOTSUP;
 * PUSH, PULL and PAIR must open. Sending on a PULL or receiving on a PUSH
 * is refused. */
static void test_types(void **state)
{
    (void)state;
    tern_ctx *ctx = mt_ctx();
    for (int type = TERN_PAIR; type <= TERN_XSUB; type++) {
        tern_socket s;
        tern_err e = tern_socket_open(ctx, type, &s);
        if (type == TERN_PAIR || type == TERN_PUSH || type == TERN_PULL)
            check_ok(e);
        if (e == TERN_ENOTSUP)
            continue;
        check_ok(e);
        assert_int_equal(mt_getopt(s, TERN_OPT_TYPE), type);
        check_ok(tern_socket_close(s));
    }
    tern_socket pull = mt_open(ctx, TERN_PULL);
    tern_socket push = mt_open(ctx, TERN_PUSH);
    check_err(tern_send(pull, "x", 1, TERN_DONTWAIT), TERN_ENOTSUP);
    char buf[4];
    size_t len;
    check_err(tern_recv(push, buf, sizeof buf, &len, TERN_DONTWAIT), TERN_ENOTSUP);
    check_ok(tern_socket_close(pull));
    check_ok(tern_socket_close(push));
    tern_ctx_close(ctx);
}

static void count_free(void *data, void *arg)
{
    (void)data;
    atomic_fetch_add((atomic_int *)arg, 1);
}

/* Zero-copy parts: free_fn runs exactly once, after the last reference
 * (a dup, or the socket that carried the message) has gone. */
static void test_msg_refs(void **state)
{
    (void)state;
    static atomic_int freed;
    static char payload[] = "zero-copy payload";
    atomic_store(&freed, 0);

    tern_msg *m = NULL, *d = NULL;
    check_ok(tern_msg_new(&m));
    assert_int_equal(tern_msg_parts(m), 0);
    assert_int_equal(tern_msg_total(m), 0);
    check_ok(tern_msg_append_ref(m, payload, sizeof payload, count_free, &freed));
    check_ok(tern_msg_append(m, "tail", 4));
    check_ok(tern_msg_dup(m, &d));
    assert_int_equal(tern_msg_parts(d), 2);
    assert_ptr_equal(tern_msg_data(m, 0), payload);
    assert_memory_equal(tern_msg_data(d, 0), payload, sizeof payload);
    assert_null(tern_msg_data(m, 2));
    assert_int_equal(tern_msg_size(m, 2), 0);
    assert_int_equal(tern_msg_total(d), sizeof payload + 4);
    tern_msg_free(m);
    assert_int_equal(atomic_load(&freed), 0);
    tern_msg_free(d);
    assert_int_equal(atomic_load(&freed), 1);
    tern_msg_free(NULL);

    tern_msg *a = NULL;
    check_ok(tern_msg_alloc(&a, 33));
    assert_int_equal(tern_msg_parts(a), 1);
    assert_int_equal(tern_msg_size(a, 0), 33);
    assert_non_null(tern_msg_data(a, 0));
    memset(tern_msg_data(a, 0), 0xab, 33);
    tern_msg_free(a);

    /* Through sockets: inproc and tcp. */
    static const int trs[] = {MT_INPROC, MT_TCP};
    for (size_t t = 0; t < 2; t++) {
        atomic_store(&freed, 0);
        tern_ctx *ctx = mt_ctx();
        tern_socket pull = mt_open(ctx, TERN_PULL);
        tern_socket push = mt_open(ctx, TERN_PUSH);
        char ep[MT_EP_MAX];
        mt_bind_fresh(pull, trs[t], ep, sizeof ep);
        mt_connect(push, ep);
        mt_wait_peers(push, 1);
        check_ok(tern_msg_new(&m));
        check_ok(tern_msg_append_ref(m, payload, sizeof payload, count_free, &freed));
        mt_msg_send(push, m, 0);
        tern_msg *r = NULL;
        check_ok(tern_msg_recv(pull, &r, 0));
        assert_int_equal(tern_msg_parts(r), 1);
        assert_int_equal(tern_msg_size(r, 0), sizeof payload);
        assert_memory_equal(tern_msg_data(r, 0), payload, sizeof payload);
        tern_msg_free(r);
        check_ok(tern_socket_close(push));
        check_ok(tern_socket_close(pull));
        tern_ctx_close(ctx);
        /* Every reference is gone once the context is. */
        assert_int_equal(atomic_load(&freed), 1);
    }
}

int main(void)
{
    mt_test_filter_from_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults), cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_invalid),  cmocka_unit_test(test_types),
        cmocka_unit_test(test_msg_refs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
