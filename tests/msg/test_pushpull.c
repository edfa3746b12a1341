/* PUSH/PULL over tcp, ipc (path and abstract) and inproc: contents and
 * multipart boundaries, message sizes, bind/connect in either order,
 * several endpoints per socket, round-robin, fair-queueing, reconnection. */
#include "msgtest.h"

static const int tr_tcp = MT_TCP;
static const int tr_ipc = MT_IPC;
static const int tr_abstract = MT_IPC_ABSTRACT;
static const int tr_inproc = MT_INPROC;

static int transport_of(void **state)
{
    return *(const int *)*state;
}

/* Message shapes sent by the content tests: sizes of each part. */
struct shape {
    size_t nparts;
    size_t sizes[70];
};

static const struct shape shapes[] = {
    {1, {0}},
    {1, {1}},
    {1, {255}},
    {1, {256}},
    {1, {257}},
    {1, {65536}},
    {1, {1u << 20}},
    {2, {0, 0}},
    {3, {1, 0, 1}},
    {2, {255, 256}},
    {3, {0, 1u << 20, 0}},
    {5, {10, 255, 0, 256, 3}},
    {64, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
          1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
          1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0}},
};
#define NSHAPES (sizeof shapes / sizeof shapes[0])

static void send_all_shapes(tern_socket tx, uint32_t seed)
{
    for (size_t i = 0; i < NSHAPES; i++)
        mt_send_parts(tx, shapes[i].nparts, shapes[i].sizes, seed + (uint32_t)i);
}

static void recv_all_shapes(tern_socket rx, uint32_t seed)
{
    for (size_t i = 0; i < NSHAPES; i++)
        mt_recv_parts(rx, shapes[i].nparts, shapes[i].sizes, seed + (uint32_t)i);
}

/* PULL binds, PUSH connects: every shape arrives intact and in order;
 * tern_send/tern_recv concatenate and truncate as documented. */
static void test_contents(void **state)
{
    int tr = transport_of(state);
    tern_ctx *ctx = mt_ctx();
    tern_socket pull = mt_open(ctx, TERN_PULL);
    tern_socket push = mt_open(ctx, TERN_PUSH);
    char ep[MT_EP_MAX];
    mt_bind_fresh(pull, tr, ep, sizeof ep);
    mt_connect(push, ep);
    mt_wait_peers(push, 1);

    send_all_shapes(push, 100);
    recv_all_shapes(pull, 100);

    /* Copying helpers. */
    check_ok(tern_send(push, "hello", 5, 0));
    char buf[128];
    size_t len = 0;
    check_ok(tern_recv(pull, buf, sizeof buf, &len, 0));
    assert_int_equal(len, 5);
    assert_memory_equal(buf, "hello", 5);

    /* tern_recv concatenates parts. */
    tern_msg *m = NULL;
    check_ok(tern_msg_new(&m));
    check_ok(tern_msg_append(m, "abc", 3));
    check_ok(tern_msg_append(m, "", 0));
    check_ok(tern_msg_append(m, "defg", 4));
    mt_msg_send(push, m, 0);
    len = 0;
    check_ok(tern_recv(pull, buf, sizeof buf, &len, 0));
    assert_int_equal(len, 7);
    assert_memory_equal(buf, "abcdefg", 7);

    /* Truncation: TERN_EMSGSIZE, full length reported, message consumed. */
    uint8_t big[300];
    mt_fill(big, sizeof big, 77);
    check_ok(tern_send(push, big, sizeof big, 0));
    check_ok(tern_send(push, "next", 4, 0));
    len = 0;
    check_err(tern_recv(pull, buf, 10, &len, 0), TERN_EMSGSIZE);
    assert_int_equal(len, sizeof big);
    assert_memory_equal(buf, big, 10);
    check_ok(tern_recv(pull, buf, sizeof buf, &len, 0));
    assert_int_equal(len, 4);
    assert_memory_equal(buf, "next", 4);

    /* Nothing else is queued. */
    check_err(tern_recv(pull, buf, sizeof buf, &len, TERN_DONTWAIT), TERN_EAGAIN);

    check_ok(tern_socket_close(push));
    check_ok(tern_socket_close(pull));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

/* PUSH binds, PULL connects. */
static void test_push_binds(void **state)
{
    int tr = transport_of(state);
    tern_ctx *ctx = mt_ctx();
    tern_socket push = mt_open(ctx, TERN_PUSH);
    tern_socket pull = mt_open(ctx, TERN_PULL);
    char ep[MT_EP_MAX];
    mt_bind_fresh(push, tr, ep, sizeof ep);
    mt_connect(pull, ep);
    mt_wait_peers(push, 1);
    send_all_shapes(push, 200);
    recv_all_shapes(pull, 200);
    check_ok(tern_socket_close(pull));
    check_ok(tern_socket_close(push));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

/* Connect first, bind later: reconnection finds the endpoint. Both role
 * assignments (the PULL binds late; the PUSH binds late). */
static void test_connect_first(void **state)
{
    int tr = transport_of(state);
    tern_ctx *ctx = mt_ctx();
    for (int round = 0; round < 2; round++) {
        tern_socket push = mt_open(ctx, TERN_PUSH);
        tern_socket pull = mt_open(ctx, TERN_PULL);
        tern_socket binder = round == 0 ? pull : push;
        tern_socket connecter = round == 0 ? push : pull;
        char ep[MT_EP_MAX];
        mt_endpoint(tr, false, ep, sizeof ep);
        mt_connect(connecter, ep);
        /* Let a few connection attempts fail first. */
        mt_sleep_ms(300);
        assert_int_equal(mt_getopt(connecter, TERN_OPT_PEERS), 0);
        mt_bind(binder, ep);
        mt_wait_peers(push, 1);
        mt_wait_peers(pull, 1);
        send_all_shapes(push, 300 + (uint32_t)round * 50);
        recv_all_shapes(pull, 300 + (uint32_t)round * 50);
        check_ok(tern_socket_close(push));
        check_ok(tern_socket_close(pull));
        mt_unlink_ipc(ep);
    }
    tern_ctx_close(ctx);
}

/* A PUSH blocked in send before the PULL exists: the message goes out
 * once the endpoint is bound. */
struct late_bind {
    tern_socket pull;
    const char *ep;
    tern_err err;
};

static void *late_bind_main(void *arg)
{
    struct late_bind *lb = arg;
    mt_sleep_ms(300);
    lb->err = tern_bind(lb->pull, lb->ep);
    return NULL;
}

static void test_send_before_bind(void **state)
{
    int tr = transport_of(state);
    tern_ctx *ctx = mt_ctx();
    tern_socket push = mt_open(ctx, TERN_PUSH);
    tern_socket pull = mt_open(ctx, TERN_PULL);
    char ep[MT_EP_MAX];
    mt_endpoint(tr, false, ep, sizeof ep);
    mt_connect(push, ep);
    struct late_bind lb = {pull, ep, TERN_EINVAL};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, late_bind_main, &lb), 0);
    /* Blocks (or queues) until the PULL is there; SNDTIMEO bounds it. */
    check_ok(tern_send(push, "early", 5, 0));
    assert_true(mt_join(t, 10000));
    check_ok(lb.err);
    char buf[16];
    size_t len = 0;
    check_ok(tern_recv(pull, buf, sizeof buf, &len, 0));
    assert_int_equal(len, 5);
    assert_memory_equal(buf, "early", 5);
    check_ok(tern_socket_close(push));
    check_ok(tern_socket_close(pull));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

/* One PULL bound on four endpoints (one per transport), one PUSH
 * connected to each: all messages arrive, in order per sender. */
static void test_many_binds(void **state)
{
    (void)state;
    enum { NTR = 4, PER = 200 };
    static const int trs[NTR] = {MT_TCP, MT_IPC, MT_IPC_ABSTRACT, MT_INPROC};
    tern_ctx *ctx = mt_ctx();
    tern_socket pull = mt_open(ctx, TERN_PULL);
    tern_socket push[NTR];
    char ep[NTR][MT_EP_MAX];
    for (int i = 0; i < NTR; i++)
        mt_bind_fresh(pull, trs[i], ep[i], sizeof ep[i]);
    for (int i = 0; i < NTR; i++) {
        push[i] = mt_open(ctx, TERN_PUSH);
        mt_connect(push[i], ep[i]);
    }
    mt_wait_peers(pull, NTR);
    for (int i = 0; i < NTR; i++)
        for (uint64_t s = 0; s < PER; s++)
            check_ok(mt_send_seq_try(push[i], (uint32_t)i, s, s % 40, 0));
    uint64_t next[NTR] = {0};
    for (int k = 0; k < NTR * PER; k++) {
        uint32_t tag;
        uint64_t seq;
        mt_recv_seq(pull, &tag, &seq);
        assert_true(tag < NTR);
        assert_int_equal(seq, next[tag]);
        next[tag]++;
    }
    for (int i = 0; i < NTR; i++)
        assert_int_equal(next[i], PER);
    for (int i = 0; i < NTR; i++)
        check_ok(tern_socket_close(push[i]));
    check_ok(tern_socket_close(pull));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep[1]);
}

/* One PUSH connected to two PULLs on different transports: both get a
 * share. */
static void test_many_connects(void **state)
{
    (void)state;
    enum { N = 200 };
    tern_ctx *ctx = mt_ctx();
    tern_socket push = mt_open(ctx, TERN_PUSH);
    tern_socket a = mt_open(ctx, TERN_PULL);
    tern_socket b = mt_open(ctx, TERN_PULL);
    char ea[MT_EP_MAX], eb[MT_EP_MAX];
    mt_bind_fresh(a, MT_TCP, ea, sizeof ea);
    mt_bind_fresh(b, MT_IPC, eb, sizeof eb);
    mt_connect(push, ea);
    mt_connect(push, eb);
    mt_wait_peers(push, 2);
    for (uint64_t s = 0; s < N; s++)
        check_ok(mt_send_seq_try(push, 1, s, 0, 0));
    int got[2] = {0, 0};
    uint64_t last[2] = {0, 0};
    tern_socket rx[2] = {a, b};
    int64_t deadline = mt_now_ms() + 20000;
    while (got[0] + got[1] < N && mt_now_ms() < deadline) {
        for (int i = 0; i < 2; i++) {
            uint8_t buf[300];
            size_t len;
            tern_err e = tern_recv(rx[i], buf, sizeof buf, &len, TERN_DONTWAIT);
            if (e == TERN_EAGAIN)
                continue;
            check_ok(e);
            uint32_t tag;
            uint64_t seq;
            assert_true(mt_parse_seq(buf, len, &tag, &seq));
            if (got[i] > 0)
                assert_true(seq > last[i]);
            last[i] = seq;
            got[i]++;
        }
        mt_sleep_ms(1);
    }
    assert_int_equal(got[0] + got[1], N);
    /* Round-robin over two ready peers: about half each. */
    assert_in_range(got[0], N / 2 - N / 10, N / 2 + N / 10);
    check_ok(tern_socket_close(push));
    check_ok(tern_socket_close(a));
    check_ok(tern_socket_close(b));
    tern_ctx_close(ctx);
    mt_unlink_ipc(eb);
}

/* Receives from whichever of n sockets has something until total
 * messages arrived; counts per socket and checks order per socket. */
static void drain_round_robin(tern_socket *rx, int n, int total, int *got)
{
    uint64_t last[8] = {0};
    int sum = 0;
    int64_t deadline = mt_now_ms() + 30000;
    while (sum < total) {
        if (mt_now_ms() > deadline)
            fail_msg("only %d of %d messages arrived", sum, total);
        tern_pollitem items[8];
        memset(items, 0, sizeof items);
        for (int i = 0; i < n; i++) {
            items[i].socket = rx[i];
            items[i].events = TERN_POLLIN;
        }
        size_t nready = 0;
        check_ok(tern_poll(items, (size_t)n, 1000, &nready));
        for (int i = 0; i < n; i++) {
            if (!(items[i].revents & TERN_POLLIN))
                continue;
            uint8_t buf[300];
            size_t len;
            tern_err e;
            while ((e = tern_recv(rx[i], buf, sizeof buf, &len, TERN_DONTWAIT)) == TERN_OK) {
                uint32_t tag;
                uint64_t seq;
                assert_true(mt_parse_seq(buf, len, &tag, &seq));
                if (got[i] > 0 && seq <= last[i])
                    fail_msg("peer %d got seq %llu after %llu", i, (unsigned long long)seq,
                             (unsigned long long)last[i]);
                last[i] = seq;
                got[i]++;
                sum++;
            }
            check_err(e, TERN_EAGAIN);
        }
    }
}

/* PUSH round-robins over 3 PULL peers once all have connected. */
static void test_round_robin(void **state)
{
    int tr = transport_of(state);
    enum { NPEER = 3, N = 300 };
    tern_ctx *ctx = mt_ctx();
    tern_socket push = mt_open(ctx, TERN_PUSH);
    char ep[MT_EP_MAX];
    mt_bind_fresh(push, tr, ep, sizeof ep);
    tern_socket pull[NPEER];
    for (int i = 0; i < NPEER; i++) {
        pull[i] = mt_open(ctx, TERN_PULL);
        mt_connect(pull[i], ep);
    }
    mt_wait_peers(push, NPEER);
    for (int i = 0; i < NPEER; i++)
        mt_wait_peers(pull[i], 1);
    for (uint64_t s = 0; s < N; s++)
        check_ok(mt_send_seq_try(push, 7, s, s % 16, 0));
    int got[NPEER] = {0};
    drain_round_robin(pull, NPEER, N, got);
    for (int i = 0; i < NPEER; i++) {
        printf("    peer %d got %d of %d\n", i, got[i], N);
        assert_in_range(got[i], N / NPEER - N / 20, N / NPEER + N / 20);
    }
    /* Nothing extra. */
    char buf[8];
    size_t len;
    for (int i = 0; i < NPEER; i++)
        check_err(tern_recv(pull[i], buf, sizeof buf, &len, TERN_DONTWAIT), TERN_EAGAIN);
    for (int i = 0; i < NPEER; i++)
        check_ok(tern_socket_close(pull[i]));
    check_ok(tern_socket_close(push));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

/* PULL fair-queues over 3 PUSH peers that all have messages waiting. */
static void test_fair_queue(void **state)
{
    int tr = transport_of(state);
    enum { NPEER = 3, PER = 200, WINDOW = 60 };
    tern_ctx *ctx = mt_ctx();
    tern_socket pull = mt_open(ctx, TERN_PULL);
    char ep[MT_EP_MAX];
    mt_bind_fresh(pull, tr, ep, sizeof ep);
    tern_socket push[NPEER];
    for (int i = 0; i < NPEER; i++) {
        push[i] = mt_open(ctx, TERN_PUSH);
        mt_connect(push[i], ep);
    }
    mt_wait_peers(pull, NPEER);
    for (int i = 0; i < NPEER; i++)
        mt_wait_peers(push[i], 1);
    /* Peer 0 sends everything first, then 1, then 2: a PULL that drained
     * peers one after another would deliver only peer 0 at first. */
    for (int i = 0; i < NPEER; i++)
        for (uint64_t s = 0; s < PER; s++)
            check_ok(mt_send_seq_try(push[i], (uint32_t)i, s, 0, 0));
    /* Give every stream time to reach the PULL's queues. */
    mt_sleep_ms(500);
    int inwin[NPEER] = {0};
    uint64_t next[NPEER] = {0};
    for (int k = 0; k < NPEER * PER; k++) {
        uint32_t tag;
        uint64_t seq;
        mt_recv_seq(pull, &tag, &seq);
        assert_true(tag < NPEER);
        assert_int_equal(seq, next[tag]);
        next[tag]++;
        if (k < WINDOW)
            inwin[tag]++;
    }
    for (int i = 0; i < NPEER; i++) {
        printf("    peer %d: %d of the first %d\n", i, inwin[i], WINDOW);
        assert_true(inwin[i] >= WINDOW / NPEER / 2);
        assert_int_equal(next[i], PER);
    }
    for (int i = 0; i < NPEER; i++)
        check_ok(tern_socket_close(push[i]));
    check_ok(tern_socket_close(pull));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

/* Binds ep, retrying briefly while the previous owner's teardown
 * finishes. */
static void bind_again(tern_socket s, const char *ep)
{
    int64_t deadline = mt_now_ms() + 2000;
    tern_err e;
    while ((e = tern_bind(s, ep)) == TERN_EADDRINUSE && mt_now_ms() < deadline)
        mt_sleep_ms(50);
    if (e != TERN_OK)
        fail_msg("binding %s again after the first owner closed: %s%s", ep, tern_errname(e),
                 e == TERN_EADDRINUSE ? " (SO_REUSEADDR missing? TIME_WAIT of the old "
                                        "connection blocks the port)"
                                      : "");
}

/* The bound PULL goes away and a new one binds the same endpoint: the
 * PUSH reconnects and delivers to the new one. */
static void test_reconnect(void **state)
{
    int tr = transport_of(state);
    tern_ctx *ctx = mt_ctx();
    tern_socket push = mt_open(ctx, TERN_PUSH);
    tern_socket a = mt_open(ctx, TERN_PULL);
    char ep[MT_EP_MAX];
    mt_bind_fresh(a, tr, ep, sizeof ep);
    mt_connect(push, ep);
    mt_wait_peers(push, 1);
    check_ok(tern_send(push, "one", 3, 0));
    char buf[16];
    size_t len;
    check_ok(tern_recv(a, buf, sizeof buf, &len, 0));
    assert_int_equal(len, 3);
    check_ok(tern_socket_close(a));
    /* The PUSH notices the peer is gone. */
    mt_wait_peers_cmp(push, '=', 0, 5000);

    for (int round = 0; round < 2; round++) {
        tern_socket b = mt_open(ctx, TERN_PULL);
        bind_again(b, ep);
        mt_wait_peers(push, 1);
        for (uint64_t s = 0; s < 10; s++)
            check_ok(mt_send_seq_try(push, 2, s, 5, 0));
        for (uint64_t s = 0; s < 10; s++) {
            uint32_t tag;
            uint64_t seq;
            mt_recv_seq(b, &tag, &seq);
            assert_int_equal(tag, 2);
            assert_int_equal(seq, s);
        }
        check_ok(tern_socket_close(b));
        mt_wait_peers_cmp(push, '=', 0, 5000);
    }
    check_ok(tern_socket_close(push));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

/* The default MAXMSGSIZE is 64 MiB: a message of exactly that size (in
 * two parts) goes through. Isolated, like the other limit tests. */
static int max_default_child(void *arg)
{
    int tr = *(const int *)arg;
    tern_ctx *ctx = NULL;
    tern_socket pull, push;
    MT_CHILD_OK(tern_ctx_open(&ctx, 0));
    MT_CHILD_OK(tern_socket_open(ctx, TERN_PULL, &pull));
    MT_CHILD_OK(tern_socket_open(ctx, TERN_PUSH, &push));
    int64_t max = 0;
    MT_CHILD_OK(tern_getopt_int(pull, TERN_OPT_MAXMSGSIZE, &max));
    MT_CHILD_CHECK(max == 64 << 20);
    MT_CHILD_OK(tern_setopt_int(pull, TERN_OPT_RCVTIMEO, 20000));
    MT_CHILD_OK(tern_setopt_int(push, TERN_OPT_SNDTIMEO, 20000));
    char ep[MT_EP_MAX];
    mt_endpoint(tr, false, ep, sizeof ep);
    MT_CHILD_OK(tern_bind(pull, ep));
    MT_CHILD_OK(tern_connect(push, ep));
    MT_CHILD_CHECK(mt_wait_peers_try(push, 1, 10000));
    static const size_t sz[] = {(64u << 20) - 10, 10};
    tern_msg *m = mt_msg_make_try(2, sz, 64);
    MT_CHILD_CHECK(m != NULL);
    MT_CHILD_OK(tern_msg_send(push, m, 0));
    tern_msg *r = NULL;
    MT_CHILD_OK(tern_msg_recv(pull, &r, 0));
    char why[200];
    if (!mt_msg_match(r, 2, sz, 64, why, sizeof why)) {
        fprintf(stderr, "64 MiB message damaged: %s\n", why);
        return 2;
    }
    tern_msg_free(r);
    MT_CHILD_OK(tern_socket_close(push));
    MT_CHILD_OK(tern_socket_close(pull));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
    return 0;
}

static void test_max_default_size(void **state)
{
    char what[64];
    snprintf(what, sizeof what, "a 64 MiB message over %s", mt_transport_name(transport_of(state)));
    mt_isolated(max_default_child, *state, 60, what);
}

/* MAXMSGSIZE scenarios run in a child process: a PULL that drops a
 * connection must not take the sending process down with it. */
struct limit_case {
    int tr;
    size_t nparts;
    size_t part_size;
    bool deliverable; /* total <= the limit of 4096 */
};

static int limit_child(void *arg)
{
    const struct limit_case *c = arg;
    tern_ctx *ctx = NULL;
    tern_socket pull, push;
    MT_CHILD_OK(tern_ctx_open(&ctx, 0));
    MT_CHILD_OK(tern_socket_open(ctx, TERN_PULL, &pull));
    MT_CHILD_OK(tern_socket_open(ctx, TERN_PUSH, &push));
    MT_CHILD_OK(tern_setopt_int(pull, TERN_OPT_MAXMSGSIZE, 4096));
    MT_CHILD_OK(tern_setopt_int(pull, TERN_OPT_RCVTIMEO, 100));
    MT_CHILD_OK(tern_setopt_int(push, TERN_OPT_SNDTIMEO, 5000));
    MT_CHILD_OK(tern_setopt_int(push, TERN_OPT_RECONNECT_IVL, 20));
    MT_CHILD_OK(tern_setopt_int(push, TERN_OPT_RECONNECT_IVL_MAX, 100));
    char ep[MT_EP_MAX];
    mt_endpoint(c->tr, false, ep, sizeof ep);
    MT_CHILD_OK(tern_bind(pull, ep));
    MT_CHILD_OK(tern_connect(push, ep));
    MT_CHILD_CHECK(mt_wait_peers_try(push, 1, 10000));
    size_t sizes[8];
    for (size_t i = 0; i < c->nparts; i++)
        sizes[i] = c->part_size;
    tern_msg *m = mt_msg_make_try(c->nparts, sizes, 1);
    MT_CHILD_CHECK(m != NULL);
    MT_CHILD_OK(tern_msg_send(push, m, 0));
    size_t total = c->nparts * c->part_size;

    /* Then small probes until one arrives (after a reconnect if the PULL
     * dropped the connection). */
    bool big_seen = false, probe_seen = false;
    int64_t deadline = mt_now_ms() + 10000;
    for (uint64_t i = 0; !probe_seen && mt_now_ms() < deadline; i++) {
        (void)mt_send_seq_try(push, 3, i, 10, TERN_DONTWAIT);
        tern_msg *r = NULL;
        tern_err e;
        while ((e = tern_msg_recv(pull, &r, 0)) == TERN_OK) {
            if (tern_msg_total(r) == total && tern_msg_parts(r) == c->nparts) {
                char why[200];
                if (!mt_msg_match(r, c->nparts, sizes, 1, why, sizeof why)) {
                    fprintf(stderr, "the big message arrived damaged: %s\n", why);
                    return 2;
                }
                big_seen = true;
            } else {
                probe_seen = true;
            }
            MT_CHILD_CHECK(tern_msg_total(r) <= 4096);
            tern_msg_free(r);
        }
        MT_CHILD_CHECK(e == TERN_ETIMEDOUT);
    }
    if (!probe_seen) {
        fprintf(stderr, "no message under the limit arrived within 10 s\n");
        return 3;
    }
    if (big_seen != c->deliverable) {
        fprintf(stderr, "a message of %zu part(s), %zu bytes in all, with MAXMSGSIZE 4096: %s\n",
                c->nparts, total, big_seen ? "delivered" : "refused");
        return 4;
    }
    MT_CHILD_OK(tern_setopt_int(push, TERN_OPT_LINGER, 0));
    MT_CHILD_OK(tern_socket_close(push));
    MT_CHILD_OK(tern_socket_close(pull));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
    return 0;
}

static const struct limit_case limit_cases[] = {
    {MT_TCP, 1, 4096, true},  {MT_IPC, 1, 4096, true},  /* exactly the limit */
    {MT_TCP, 4, 1024, true},  {MT_IPC, 4, 1024, true},  /* exactly, in parts */
    {MT_TCP, 1, 4097, false}, {MT_IPC, 1, 4097, false}, /* one byte over */
    {MT_TCP, 2, 3000, false}, {MT_IPC, 2, 3000, false}, /* parts over in sum */
};

static void test_maxmsgsize(void **state)
{
    const struct limit_case *c = *state;
    char what[128];
    snprintf(what, sizeof what, "%s, %zu x %zu bytes against MAXMSGSIZE 4096",
             mt_transport_name(c->tr), c->nparts, c->part_size);
    mt_isolated(limit_child, (void *)c, 60, what);
}

/* 32 PUSH sockets into one PULL. */
static void test_fan_in(void **state)
{
    int tr = transport_of(state);
    enum { NPEER = 32, PER = 100 };
    tern_ctx *ctx = mt_ctx();
    tern_socket pull = mt_open(ctx, TERN_PULL);
    char ep[MT_EP_MAX];
    mt_bind_fresh(pull, tr, ep, sizeof ep);
    tern_socket push[NPEER];
    for (int i = 0; i < NPEER; i++) {
        push[i] = mt_open(ctx, TERN_PUSH);
        mt_connect(push[i], ep);
    }
    mt_wait_peers(pull, NPEER);
    for (uint64_t s = 0; s < PER; s++)
        for (int i = 0; i < NPEER; i++)
            check_ok(mt_send_seq_try(push[i], (uint32_t)i, s, 3, 0));
    uint64_t next[NPEER] = {0};
    for (int k = 0; k < NPEER * PER; k++) {
        uint32_t tag;
        uint64_t seq;
        mt_recv_seq(pull, &tag, &seq);
        assert_true(tag < NPEER);
        assert_int_equal(seq, next[tag]);
        next[tag]++;
    }
    for (int i = 0; i < NPEER; i++)
        check_ok(tern_socket_close(push[i]));
    check_ok(tern_socket_close(pull));
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
        PER_TRANSPORT(test_contents),
        PER_TRANSPORT(test_push_binds),
        PER_TRANSPORT(test_connect_first),
        PER_TRANSPORT(test_send_before_bind),
        cmocka_unit_test(test_many_binds),
        cmocka_unit_test(test_many_connects),
        PER_TRANSPORT(test_round_robin),
        PER_TRANSPORT(test_fair_queue),
        PER_TRANSPORT(test_reconnect),
        {"test_max_default_size_tcp", test_max_default_size, NULL, NULL, (void *)&tr_tcp},
        {"test_max_default_size_ipc", test_max_default_size, NULL, NULL, (void *)&tr_ipc},
        {"test_maxmsgsize_exact_tcp", test_maxmsgsize, NULL, NULL, (void *)&limit_cases[0]},
        {"test_maxmsgsize_exact_ipc", test_maxmsgsize, NULL, NULL, (void *)&limit_cases[1]},
        {"test_maxmsgsize_exact_parts_tcp", test_maxmsgsize, NULL, NULL, (void *)&limit_cases[2]},
        {"test_maxmsgsize_exact_parts_ipc", test_maxmsgsize, NULL, NULL, (void *)&limit_cases[3]},
        {"test_maxmsgsize_over_tcp", test_maxmsgsize, NULL, NULL, (void *)&limit_cases[4]},
        {"test_maxmsgsize_over_ipc", test_maxmsgsize, NULL, NULL, (void *)&limit_cases[5]},
        {"test_maxmsgsize_parts_over_tcp", test_maxmsgsize, NULL, NULL, (void *)&limit_cases[6]},
        {"test_maxmsgsize_parts_over_ipc", test_maxmsgsize, NULL, NULL, (void *)&limit_cases[7]},
        PER_TRANSPORT(test_fan_in),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
