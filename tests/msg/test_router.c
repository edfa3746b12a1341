/* DEALER/ROUTER over tcp, ipc and inproc: routing ids as part 0 (set by
 * the peer, or made up: 5 bytes starting with a zero, all distinct),
 * replies reaching the right DEALER, unroutable sends (mandatory or
 * dropped and counted), duplicate ids (refused, or handed over),
 * DEALER round-robin over several ROUTERs and REPs, ROUTER-ROUTER with
 * set ids, REQ talking to a ROUTER. */
#include "msgtest.h"

/* Receives one ROUTER message and checks that it is [id][body], id of
 * id_len bytes; copies the id out. */
static void recv_routed(tern_socket router, uint8_t *id, size_t *id_len, const char *body)
{
    tern_msg *m = mt_recv_msg(router);
    char got[512];
    if (tern_msg_parts(m) != 2 || !mt_part_is(m, 1, body, strlen(body))) {
        mt_msg_describe(m, got, sizeof got);
        tern_msg_free(m);
        fail_msg("ROUTER received %s, expected [id][%s]", got, body);
    }
    *id_len = tern_msg_size(m, 0);
    assert_true(*id_len >= 1 && *id_len <= 255);
    memcpy(id, tern_msg_data(m, 0), *id_len);
    tern_msg_free(m);
}

/* Sends [id][body...] from a ROUTER; returns the error. */
static tern_err route_try(tern_socket router, const void *id, size_t id_len, const char *body,
                          int flags)
{
    tern_msg *m = NULL;
    if (tern_msg_new(&m) != TERN_OK)
        return TERN_ENOMEM;
    if (tern_msg_append(m, id, id_len) != TERN_OK ||
        tern_msg_append(m, body, strlen(body)) != TERN_OK) {
        tern_msg_free(m);
        return TERN_ENOMEM;
    }
    tern_err e = tern_msg_send(router, m, flags);
    if (e != TERN_OK)
        tern_msg_free(m);
    return e;
}

static void route(tern_socket router, const void *id, size_t id_len, const char *body)
{
    tern_err e = route_try(router, id, id_len, body, 0);
    if (e != TERN_OK)
        fail_msg("ROUTER send to a %zu-byte id failed: %s", id_len, tern_errname(e));
}

static void set_id(tern_socket s, const char *id)
{
    check_ok(tern_setopt_bytes(s, TERN_OPT_ROUTING_ID, id, strlen(id)));
}

/* ---- routing ids ---------------------------------------------------------- */

/* Part 0 is the sender's id: the one it set, else a made-up one (5 bytes,
 * the first 0, distinct per peer). tern_socket_peers lists the same ids. */
static void test_routing_ids(void **state)
{
    int tr = mt_tr_of(state);
    enum { NAMED = 2, ANON = 4, N = NAMED + ANON };
    static const char *const names[NAMED] = {"alpha", "a-much-longer-routing-identity-0123456789"};
    tern_ctx *ctx = mt_ctx();
    tern_socket router = mt_open(ctx, TERN_ROUTER);
    char ep[MT_EP_MAX];
    mt_bind_fresh(router, tr, ep, sizeof ep);
    tern_socket d[N];
    for (int i = 0; i < N; i++) {
        d[i] = mt_open(ctx, TERN_DEALER);
        if (i < NAMED)
            set_id(d[i], names[i]);
        mt_connect(d[i], ep);
    }
    mt_wait_peers(router, N);
    uint8_t ids[N][255];
    size_t id_len[N];
    for (int i = 0; i < N; i++) {
        char body[16];
        snprintf(body, sizeof body, "from-%d", i);
        mt_wait_peers(d[i], 1);
        MT_SEND(d[i], body);
        recv_routed(router, ids[i], &id_len[i], body);
    }
    for (int i = 0; i < NAMED; i++) {
        assert_int_equal(id_len[i], strlen(names[i]));
        assert_memory_equal(ids[i], names[i], id_len[i]);
    }
    for (int i = NAMED; i < N; i++) {
        assert_int_equal(id_len[i], 5);
        assert_int_equal(ids[i][0], 0);
        for (int j = NAMED; j < i; j++)
            assert_memory_not_equal(ids[i], ids[j], 5);
    }
    /* The same id on every message from a peer. */
    for (int i = 0; i < N; i++) {
        MT_SEND(d[i], "again");
        uint8_t id[255];
        size_t len;
        recv_routed(router, id, &len, "again");
        assert_int_equal(len, id_len[i]);
        assert_memory_equal(id, ids[i], len);
    }
    /* tern_socket_peers: every peer, as a DEALER, with those ids. */
    tern_peer_stats ps[N + 2];
    size_t n = mt_peers(router, ps, N + 2);
    assert_int_equal(n, N);
    for (int i = 0; i < N; i++) {
        int found = 0;
        for (size_t k = 0; k < n; k++) {
            if (ps[k].routing_id_len == id_len[i] &&
                memcmp(ps[k].routing_id, ids[i], id_len[i]) == 0) {
                found++;
                assert_int_equal(ps[k].type, TERN_DEALER);
                assert_true(ps[k].address[0] != '\0');
                assert_int_equal(ps[k].msgs_in, 2);
            }
        }
        assert_int_equal(found, 1);
    }
    /* A short array: *n still counts them all. */
    n = 0;
    check_ok(tern_socket_peers(router, ps, 2, &n));
    assert_int_equal(n, N);
    for (int i = 0; i < N; i++)
        check_ok(tern_socket_close(d[i]));
    check_ok(tern_socket_close(router));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

/* Replies addressed by id reach that DEALER and no other. */
static void test_replies_reach_sender(void **state)
{
    int tr = mt_tr_of(state);
    enum { N = 5, ROUNDS = 20 };
    tern_ctx *ctx = mt_ctx();
    tern_socket router = mt_open(ctx, TERN_ROUTER);
    char ep[MT_EP_MAX];
    mt_bind_fresh(router, tr, ep, sizeof ep);
    tern_socket d[N];
    for (int i = 0; i < N; i++) {
        d[i] = mt_open(ctx, TERN_DEALER);
        if (i % 2 == 0) {
            char id[16];
            snprintf(id, sizeof id, "dealer-%d", i);
            set_id(d[i], id);
        }
        mt_connect(d[i], ep);
    }
    mt_wait_peers(router, N);
    for (int i = 0; i < N; i++)
        mt_wait_peers(d[i], 1);
    for (int r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < N; i++) {
            char body[32];
            snprintf(body, sizeof body, "d%d-r%d", i, r);
            MT_SEND(d[i], body);
        }
        /* Answer in whatever order they come: "to:" + body. */
        for (int k = 0; k < N; k++) {
            tern_msg *m = mt_recv_msg(router);
            assert_int_equal(tern_msg_parts(m), 2);
            char reply[64];
            snprintf(reply, sizeof reply, "to:%.*s", (int)tern_msg_size(m, 1),
                     (const char *)tern_msg_data(m, 1));
            route(router, tern_msg_data(m, 0), tern_msg_size(m, 0), reply);
            tern_msg_free(m);
        }
        for (int i = 0; i < N; i++) {
            char want[32];
            snprintf(want, sizeof want, "to:d%d-r%d", i, r);
            MT_RECV(d[i], want);
        }
    }
    for (int i = 0; i < N; i++) {
        char buf[8];
        size_t len;
        check_err(tern_recv(d[i], buf, sizeof buf, &len, TERN_DONTWAIT), TERN_EAGAIN);
    }
    for (int i = 0; i < N; i++)
        check_ok(tern_socket_close(d[i]));
    check_ok(tern_socket_close(router));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

/* ---- unroutable sends ------------------------------------------------------ */

static void test_unknown_id(void **state)
{
    int tr = mt_tr_of(state);
    tern_ctx *ctx = mt_ctx();
    tern_socket router = mt_open(ctx, TERN_ROUTER);
    tern_socket d = mt_open(ctx, TERN_DEALER);
    char ep[MT_EP_MAX];
    mt_bind_fresh(router, tr, ep, sizeof ep);
    set_id(d, "known");
    mt_connect(d, ep);
    mt_wait_peers(router, 1);
    assert_int_equal(mt_getopt(router, TERN_OPT_ROUTER_MANDATORY), 1);
    /* Mandatory by default: refused at once, blocking or not. */
    int64_t t0 = mt_now_ms();
    check_err(route_try(router, "unknown", 7, "x", 0), TERN_EHOSTUNREACH);
    check_err(route_try(router, "unknown", 7, "x", TERN_DONTWAIT), TERN_EHOSTUNREACH);
    check_err(route_try(router, "know", 4, "x", 0), TERN_EHOSTUNREACH); /* a prefix is not it */
    assert_true(mt_now_ms() - t0 < 2000);
    tern_sock_stats st = mt_stats(router);
    assert_int_equal(st.drops, 0);
    assert_int_equal(st.msgs_out, 0);
    /* Not mandatory: accepted, dropped, counted. */
    mt_setopt(router, TERN_OPT_ROUTER_MANDATORY, 0);
    for (int i = 0; i < 3; i++)
        check_ok(route_try(router, "unknown", 7, "x", 0));
    assert_int_equal(mt_stats(router).drops, 3);
    /* The known peer still gets exactly its own. */
    route(router, "known", 5, "hello");
    MT_RECV(d, "hello");
    mt_expect_silence(d, 100);
    assert_int_equal(mt_stats(router).drops, 3);
    check_ok(tern_socket_close(d));
    check_ok(tern_socket_close(router));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

/* A peer that disconnected is unknown: TERN_EHOSTUNREACH (mandatory), or
 * dropped and counted. */
static void test_gone_peer(void **state)
{
    int tr = mt_tr_of(state);
    tern_ctx *ctx = mt_ctx();
    tern_socket router = mt_open(ctx, TERN_ROUTER);
    char ep[MT_EP_MAX];
    mt_bind_fresh(router, tr, ep, sizeof ep);
    tern_socket named = mt_open(ctx, TERN_DEALER);
    tern_socket anon = mt_open(ctx, TERN_DEALER);
    set_id(named, "leaver");
    mt_connect(named, ep);
    mt_connect(anon, ep);
    mt_wait_peers(router, 2);
    mt_wait_peers(named, 1);
    mt_wait_peers(anon, 1);
    MT_SEND(named, "hi");
    MT_SEND(anon, "hi");
    uint8_t id[2][255];
    size_t id_len[2];
    recv_routed(router, id[0], &id_len[0], "hi");
    recv_routed(router, id[1], &id_len[1], "hi");
    route(router, id[0], id_len[0], "while-here");
    route(router, id[1], id_len[1], "while-here");
    MT_RECV(named, "while-here");
    MT_RECV(anon, "while-here");
    check_ok(tern_socket_close(named));
    check_ok(tern_socket_close(anon));
    mt_wait_peers_cmp(router, '=', 0, MT_IO_TIMEOUT_MS);
    for (int i = 0; i < 2; i++)
        check_err(route_try(router, id[i], id_len[i], "too-late", 0), TERN_EHOSTUNREACH);
    mt_setopt(router, TERN_OPT_ROUTER_MANDATORY, 0);
    for (int i = 0; i < 2; i++)
        check_ok(route_try(router, id[i], id_len[i], "too-late", 0));
    assert_int_equal(mt_stats(router).drops, 2);
    check_ok(tern_socket_close(router));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

/* A DEALER that does not read, small high-water marks. Mandatory (the
 * default): sends wait (TERN_EAGAIN, then TERN_ETIMEDOUT), nothing is
 * dropped, everything accepted arrives in order. Not mandatory: sends
 * never wait, and every accepted message is delivered or counted as a
 * drop. */
static uint64_t drain_seqs(tern_socket d, uint64_t limit)
{
    uint64_t got = 0, last = 0;
    for (;;) {
        tern_msg *m = NULL;
        mt_setopt(d, TERN_OPT_RCVTIMEO, 300);
        tern_err e = tern_msg_recv(d, &m, 0);
        mt_setopt(d, TERN_OPT_RCVTIMEO, MT_IO_TIMEOUT_MS);
        if (e == TERN_ETIMEDOUT)
            return got;
        check_ok(e);
        uint32_t tag;
        uint64_t seq;
        assert_int_equal(tern_msg_parts(m), 1);
        assert_true(mt_parse_seq(tern_msg_data(m, 0), tern_msg_size(m, 0), &tag, &seq));
        tern_msg_free(m);
        assert_true(seq < limit && (got == 0 || seq > last));
        last = seq;
        got++;
    }
}

static tern_err route_seq(tern_socket router, uint64_t seq, int flags)
{
    uint8_t body[12 + 200];
    uint32_t tag = 9;
    memcpy(body, &tag, 4);
    memcpy(body + 4, &seq, 8);
    mt_fill(body + 12, 200, tag * 1000003u + (uint32_t)seq);
    tern_msg *m = NULL;
    check_ok(tern_msg_new(&m));
    check_ok(tern_msg_append(m, "slow", 4));
    check_ok(tern_msg_append(m, body, sizeof body));
    tern_err e = tern_msg_send(router, m, flags);
    if (e != TERN_OK)
        tern_msg_free(m);
    return e;
}

static void test_router_hwm(void **state)
{
    int tr = mt_tr_of(state);
    for (int mandatory = 1; mandatory >= 0; mandatory--) {
        tern_ctx *ctx = mt_ctx();
        tern_socket router = mt_open(ctx, TERN_ROUTER);
        tern_socket d = mt_open(ctx, TERN_DEALER);
        mt_setopt(router, TERN_OPT_SNDHWM, 10);
        mt_setopt(router, TERN_OPT_ROUTER_MANDATORY, mandatory);
        mt_setopt(d, TERN_OPT_RCVHWM, 10);
        set_id(d, "slow");
        char ep[MT_EP_MAX];
        mt_bind_fresh(router, tr, ep, sizeof ep);
        mt_connect(d, ep);
        mt_wait_peers(router, 1);
        mt_wait_peers(d, 1);
        uint64_t accepted = 0, refused = 0, next = 0;
        if (mandatory) {
            /* Until TERN_EAGAIN a few times in a row (the I/O thread may
             * still be moving data into kernel buffers). */
            int eagain_run = 0;
            while (eagain_run < 20) {
                if (next > 400000)
                    fail_msg("a mandatory ROUTER never said TERN_EAGAIN to a peer not reading");
                tern_err e = route_seq(router, next, TERN_DONTWAIT);
                if (e == TERN_OK) {
                    next++;
                    accepted++;
                    eagain_run = 0;
                } else if (e == TERN_EAGAIN) {
                    refused++;
                    eagain_run++;
                    mt_sleep_ms(5);
                } else {
                    fail_msg("mandatory ROUTER send %llu: %s", (unsigned long long)next,
                             tern_errname(e));
                }
            }
            /* A blocking send gives up after SNDTIMEO. */
            mt_setopt(router, TERN_OPT_SNDTIMEO, 200);
            tern_err e;
            int slipped = 0;
            while ((e = route_seq(router, next, 0)) == TERN_OK && slipped < 100) {
                next++;
                accepted++;
                slipped++;
            }
            check_err(e, TERN_ETIMEDOUT);
            assert_int_equal(mt_stats(router).drops, 0);
        } else {
            for (; next < 20000; next++) {
                tern_err e = route_seq(router, next, TERN_DONTWAIT);
                if (e != TERN_OK)
                    fail_msg("non-mandatory ROUTER send %llu: %s", (unsigned long long)next,
                             tern_errname(e));
                accepted++;
            }
            assert_true(mt_stats(router).drops > 0);
        }
        tern_sock_stats st = mt_stats(router);
        printf("    mandatory %d: %llu accepted, %llu TERN_EAGAIN, %llu dropped\n", mandatory,
               (unsigned long long)accepted, (unsigned long long)refused,
               (unsigned long long)st.drops);
        assert_int_equal(st.msgs_out, accepted);
        uint64_t got = drain_seqs(d, next);
        assert_int_equal(got + mt_stats(router).drops, accepted);
        check_ok(tern_socket_close(d));
        check_ok(tern_socket_close(router));
        tern_ctx_close(ctx);
        mt_unlink_ipc(ep);
    }
}

/* ---- duplicate routing ids ------------------------------------------------ */

/* By default the second connection with an id in use never becomes a
 * peer of the ROUTER, however often it retries; the first keeps the id. */
static void test_duplicate_refused(void **state)
{
    int tr = mt_tr_of(state);
    tern_ctx *ctx = mt_ctx();
    tern_socket router = mt_open(ctx, TERN_ROUTER);
    char ep[MT_EP_MAX];
    mt_bind_fresh(router, tr, ep, sizeof ep);
    tern_socket first = mt_open(ctx, TERN_DEALER);
    tern_socket second = mt_open(ctx, TERN_DEALER);
    set_id(first, "dup");
    set_id(second, "dup");
    mt_connect(first, ep);
    mt_wait_peers(router, 1);
    mt_wait_peers(first, 1);
    mt_connect(second, ep);
    if (mt_tr_is_stream(tr)) {
        /* The second retries every 20-200 ms: watch three refusals, the
         * ROUTER keeping exactly one peer all along. */
        int64_t deadline = mt_now_ms() + MT_IO_TIMEOUT_MS;
        while (mt_stats(router).handshake_failures < 3) {
            int64_t peers = mt_getopt(router, TERN_OPT_PEERS);
            if (peers != 1)
                fail_msg("the ROUTER has %lld peers while refusing a duplicate id",
                         (long long)peers);
            if (mt_now_ms() > deadline)
                fail_msg("the duplicate was not refused 3 times within %d ms (%llu so far)",
                         MT_IO_TIMEOUT_MS, (unsigned long long)mt_stats(router).handshake_failures);
            mt_sleep_ms(2);
        }
        assert_int_equal(mt_stats(router).handshakes, 1);
    } else {
        /* inproc links (or refuses) within the connect. */
        assert_int_equal(mt_getopt(second, TERN_OPT_PEERS), 0);
        check_err(tern_send(second, "x", 1, TERN_DONTWAIT), TERN_EAGAIN);
    }
    assert_int_equal(mt_getopt(router, TERN_OPT_PEERS), 1);
    for (int i = 0; i < 5; i++)
        route(router, "dup", 3, "for-first");
    for (int i = 0; i < 5; i++)
        MT_RECV(first, "for-first");
    mt_expect_silence(second, 100);
    /* Messages from the first still carry the id. */
    MT_SEND(first, "from-first");
    uint8_t id[255];
    size_t len;
    recv_routed(router, id, &len, "from-first");
    assert_int_equal(len, 3);
    assert_memory_equal(id, "dup", 3);
    mt_setopt(second, TERN_OPT_LINGER, 0);
    mt_close_lossy(second);
    check_ok(tern_socket_close(first));
    check_ok(tern_socket_close(router));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

/* ---- handover ------------------------------------------------------------ */

/* The handover scenarios run in a child process (mt_isolated): a library
 * that hangs while handing an id over fails the test instead of hanging
 * the whole binary. No cmocka asserts in here. */

static tern_err child_open(tern_ctx *ctx, int type, tern_socket *s)
{
    tern_err e = tern_socket_open(ctx, type, s);
    if (e == TERN_OK)
        e = tern_setopt_int(*s, TERN_OPT_RCVTIMEO, 5000);
    if (e == TERN_OK)
        e = tern_setopt_int(*s, TERN_OPT_SNDTIMEO, 5000);
    if (e == TERN_OK)
        e = tern_setopt_int(*s, TERN_OPT_RECONNECT_IVL, 20);
    if (e == TERN_OK)
        e = tern_setopt_int(*s, TERN_OPT_RECONNECT_IVL_MAX, 200);
    return e;
}

/* Receives within timeout_ms and compares with want; false (and says
 * why on stderr) otherwise. */
static bool child_recv_is(tern_socket s, const char *want, int64_t timeout_ms)
{
    char buf[64];
    size_t len = 0;
    if (tern_setopt_int(s, TERN_OPT_RCVTIMEO, timeout_ms) != TERN_OK)
        return false;
    tern_err e = tern_recv(s, buf, sizeof buf, &len, 0);
    if (e != TERN_OK) {
        fprintf(stderr, "expected \"%s\", receive failed: %s\n", want, tern_errname(e));
        return false;
    }
    if (len != strlen(want) || memcmp(buf, want, len) != 0) {
        fprintf(stderr, "expected \"%s\", received \"%.*s\"\n", want, (int)(len < 64 ? len : 64),
                buf);
        return false;
    }
    return true;
}

static int64_t child_peers(tern_socket s)
{
    int64_t v = -1;
    tern_getopt_int(s, TERN_OPT_PEERS, &v);
    return v;
}

struct ho_case {
    int tr;
    bool check_old_gone; /* the documented disconnection of the old peer */
};

static const struct ho_case ho_cases[] = {
    {MT_TCP, false}, {MT_IPC, false}, {MT_INPROC, false},
    {MT_TCP, true},  {MT_IPC, true},  {MT_INPROC, true},
};

/* With TERN_OPT_ROUTER_HANDOVER the newcomer takes the id: messages for
 * it go to the newcomer, none to the old connection, and (msg.h) "the
 * old one is disconnected". */
static int handover_child(void *arg)
{
    const struct ho_case *c = arg;
    tern_ctx *ctx = NULL;
    tern_socket router, old, newer;
    MT_CHILD_OK(tern_ctx_open(&ctx, 0));
    MT_CHILD_OK(child_open(ctx, TERN_ROUTER, &router));
    MT_CHILD_OK(child_open(ctx, TERN_DEALER, &old));
    MT_CHILD_OK(child_open(ctx, TERN_DEALER, &newer));
    MT_CHILD_OK(tern_setopt_int(router, TERN_OPT_ROUTER_HANDOVER, 1));
    /* A disconnected old peer must not come back (and take the id
     * again) while the test runs. */
    MT_CHILD_OK(tern_setopt_int(old, TERN_OPT_RECONNECT_IVL, 60000));
    MT_CHILD_OK(tern_setopt_int(old, TERN_OPT_RECONNECT_IVL_MAX, 60000));
    MT_CHILD_OK(tern_setopt_bytes(old, TERN_OPT_ROUTING_ID, "dup", 3));
    MT_CHILD_OK(tern_setopt_bytes(newer, TERN_OPT_ROUTING_ID, "dup", 3));
    char ep[MT_EP_MAX];
    mt_endpoint(c->tr, false, ep, sizeof ep);
    MT_CHILD_OK(tern_bind(router, ep));
    MT_CHILD_OK(tern_connect(old, ep));
    MT_CHILD_CHECK(mt_wait_peers_try(router, 1, 5000));
    MT_CHILD_CHECK(mt_wait_peers_try(old, 1, 5000));
    MT_CHILD_OK(mt_send_strs_try(router, 0, 2, MT_STRS("dup", "for-old")));
    MT_CHILD_CHECK(child_recv_is(old, "for-old", 5000));

    MT_CHILD_OK(tern_connect(newer, ep));
    MT_CHILD_CHECK(mt_wait_peers_try(newer, 1, 5000));
    /* The ROUTER has finished the newcomer's handshake. */
    int64_t deadline = mt_now_ms() + 5000;
    for (;;) {
        tern_sock_stats st;
        MT_CHILD_OK(tern_socket_stats(router, &st));
        if (!mt_tr_is_stream(c->tr) || st.handshakes >= 2)
            break;
        if (st.handshake_failures > 0) {
            fprintf(stderr, "the newcomer was refused despite ROUTER_HANDOVER\n");
            return 10;
        }
        MT_CHILD_CHECK(mt_now_ms() < deadline);
        mt_sleep_ms(2);
    }
    if (!c->check_old_gone) {
        for (int i = 0; i < 5; i++)
            MT_CHILD_OK(mt_send_strs_try(router, 0, 2, MT_STRS("dup", "for-new")));
        for (int i = 0; i < 5; i++)
            MT_CHILD_CHECK(child_recv_is(newer, "for-new", 5000));
        /* Nothing for the old one. */
        char buf[16];
        size_t len;
        MT_CHILD_OK(tern_setopt_int(old, TERN_OPT_RCVTIMEO, 200));
        tern_err e = tern_recv(old, buf, sizeof buf, &len, 0);
        if (e != TERN_ETIMEDOUT) {
            fprintf(stderr, "the old DEALER received something (%s)\n", tern_errname(e));
            return 11;
        }
        /* Messages from the newcomer carry the id. */
        MT_CHILD_OK(tern_send(newer, "from-new", 8, 0));
        tern_msg *m = NULL;
        MT_CHILD_OK(tern_msg_recv(router, &m, 0));
        bool ok = mt_msg_is_strs(m, 2, MT_STRS("dup", "from-new"));
        tern_msg_free(m);
        MT_CHILD_CHECK(ok);
    } else {
        deadline = mt_now_ms() + 5000;
        while ((child_peers(old) != 0 || child_peers(router) != 1) && mt_now_ms() < deadline)
            mt_sleep_ms(5);
        if (child_peers(old) != 0 || child_peers(router) != 1) {
            fprintf(stderr,
                    "5 s after the handover the old DEALER has %lld peer(s) (want 0) and the "
                    "ROUTER %lld (want 1): the old connection was not disconnected\n",
                    (long long)child_peers(old), (long long)child_peers(router));
            return 12;
        }
    }
    MT_CHILD_OK(tern_setopt_int(old, TERN_OPT_LINGER, 0));
    tern_socket_close(old);
    MT_CHILD_OK(tern_socket_close(newer));
    MT_CHILD_OK(tern_socket_close(router));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
    return 0;
}

static void test_handover(void **state)
{
    const struct ho_case *c = *state;
    char what[160];
    snprintf(what, sizeof what, "ROUTER_HANDOVER over %s%s", mt_transport_name(c->tr),
             c->check_old_gone ? ", old connection disconnected" : ", newcomer gets the id");
    mt_isolated(handover_child, (void *)c, 10, what);
}

/* ---- DEALER round-robin ------------------------------------------------------ */

/* A DEALER connected to three ROUTERs spreads its messages evenly. */
static void test_dealer_round_robin_routers(void **state)
{
    int tr = mt_tr_of(state);
    enum { NPEER = 3, N = 300 };
    tern_ctx *ctx = mt_ctx();
    tern_socket dealer = mt_open(ctx, TERN_DEALER);
    set_id(dealer, "rr");
    tern_socket r[NPEER];
    char ep[NPEER][MT_EP_MAX];
    for (int i = 0; i < NPEER; i++) {
        r[i] = mt_open(ctx, TERN_ROUTER);
        mt_bind_fresh(r[i], tr, ep[i], sizeof ep[i]);
        mt_connect(dealer, ep[i]);
    }
    mt_wait_peers(dealer, NPEER);
    for (int i = 0; i < NPEER; i++)
        mt_wait_peers(r[i], 1);
    for (uint64_t s = 0; s < N; s++)
        check_ok(mt_send_seq_try(dealer, 5, s, s % 32, 0));
    int got[NPEER] = {0};
    bool seen[N] = {false};
    int total = 0;
    int64_t deadline = mt_now_ms() + 20000;
    while (total < N) {
        if (mt_now_ms() > deadline)
            fail_msg("only %d of %d messages arrived", total, N);
        for (int i = 0; i < NPEER; i++) {
            tern_msg *m = NULL;
            tern_err e = tern_msg_recv(r[i], &m, TERN_DONTWAIT);
            if (e == TERN_EAGAIN)
                continue;
            check_ok(e);
            assert_int_equal(tern_msg_parts(m), 2);
            assert_true(mt_part_is(m, 0, "rr", 2));
            uint32_t tag;
            uint64_t seq;
            assert_true(mt_parse_seq(tern_msg_data(m, 1), tern_msg_size(m, 1), &tag, &seq));
            tern_msg_free(m);
            assert_true(seq < N && !seen[seq]);
            seen[seq] = true;
            got[i]++;
            total++;
        }
        mt_sleep_ms(1);
    }
    for (int i = 0; i < NPEER; i++) {
        printf("    ROUTER %d got %d of %d\n", i, got[i], N);
        assert_in_range(got[i], N / NPEER - N / 20, N / NPEER + N / 20);
    }
    check_ok(tern_socket_close(dealer));
    for (int i = 0; i < NPEER; i++) {
        check_ok(tern_socket_close(r[i]));
        mt_unlink_ipc(ep[i]);
    }
    tern_ctx_close(ctx);
}

/* A DEALER in front of three REPs: requests [""][n] spread evenly, every
 * reply [""][a<n>] comes back exactly once. */
static void test_dealer_round_robin_reps(void **state)
{
    int tr = mt_tr_of(state);
    enum { NPEER = 3, N = 60 };
    tern_ctx *ctx = mt_ctx();
    tern_socket dealer = mt_open(ctx, TERN_DEALER);
    char ep[MT_EP_MAX];
    mt_bind_fresh(dealer, tr, ep, sizeof ep);
    tern_socket rep[NPEER];
    for (int i = 0; i < NPEER; i++) {
        rep[i] = mt_open(ctx, TERN_REP);
        mt_connect(rep[i], ep);
    }
    mt_wait_peers(dealer, NPEER);
    for (int i = 0; i < NPEER; i++)
        mt_wait_peers(rep[i], 1);
    for (int s = 0; s < N; s++) {
        char b[16];
        snprintf(b, sizeof b, "%d", s);
        MT_SEND(dealer, "", b);
    }
    int got[NPEER] = {0}, total = 0;
    int64_t deadline = mt_now_ms() + 20000;
    while (total < N) {
        if (mt_now_ms() > deadline)
            fail_msg("only %d of %d requests arrived", total, N);
        for (int i = 0; i < NPEER; i++) {
            char b[32];
            size_t len;
            tern_err e = tern_recv(rep[i], b, sizeof b - 1, &len, TERN_DONTWAIT);
            if (e == TERN_EAGAIN)
                continue;
            check_ok(e);
            b[len] = '\0';
            char a[40];
            snprintf(a, sizeof a, "a%s", b);
            MT_SEND(rep[i], a);
            got[i]++;
            total++;
        }
        mt_sleep_ms(1);
    }
    bool seen[N] = {false};
    for (int k = 0; k < N; k++) {
        tern_msg *m = mt_recv_msg(dealer);
        assert_int_equal(tern_msg_parts(m), 2);
        assert_int_equal(tern_msg_size(m, 0), 0);
        char b[32];
        size_t len = tern_msg_size(m, 1);
        assert_true(len > 1 && len < sizeof b);
        memcpy(b, tern_msg_data(m, 1), len);
        b[len] = '\0';
        tern_msg_free(m);
        assert_int_equal(b[0], 'a');
        int s = atoi(b + 1);
        assert_true(s >= 0 && s < N && !seen[s]);
        seen[s] = true;
    }
    for (int i = 0; i < NPEER; i++) {
        printf("    REP %d served %d of %d\n", i, got[i], N);
        assert_in_range(got[i], N / NPEER - N / 10, N / NPEER + N / 10);
    }
    mt_expect_silence(dealer, 100);
    for (int i = 0; i < NPEER; i++)
        check_ok(tern_socket_close(rep[i]));
    check_ok(tern_socket_close(dealer));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

/* ---- ROUTER to ROUTER, REQ to ROUTER ---------------------------------------- */

static void test_router_router(void **state)
{
    int tr = mt_tr_of(state);
    tern_ctx *ctx = mt_ctx();
    tern_socket server = mt_open(ctx, TERN_ROUTER);
    tern_socket client = mt_open(ctx, TERN_ROUTER);
    set_id(server, "server");
    set_id(client, "client");
    char ep[MT_EP_MAX];
    mt_bind_fresh(server, tr, ep, sizeof ep);
    mt_connect(client, ep);
    mt_wait_peers(client, 1);
    mt_wait_peers(server, 1);
    for (int i = 0; i < 10; i++) {
        char q[16], a[16];
        snprintf(q, sizeof q, "q%d", i);
        snprintf(a, sizeof a, "a%d", i);
        route(client, "server", 6, q);
        MT_RECV(server, "client", q);
        route(server, "client", 6, a);
        MT_RECV(client, "server", a);
    }
    /* Multipart bodies keep their parts. */
    MT_SEND(client, "server", "p1", "", "p3");
    MT_RECV(server, "client", "p1", "", "p3");
    check_ok(tern_socket_close(client));
    check_ok(tern_socket_close(server));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

/* A REQ's request reaches a ROUTER as [id][""][body]; the reply
 * [id][""][reply] comes back to the REQ as [reply]. With
 * TERN_OPT_REQ_CORRELATE a request id frame precedes the delimiter and a
 * reply echoing it is accepted. */
static void test_req_to_router(void **state)
{
    int tr = mt_tr_of(state);
    tern_ctx *ctx = mt_ctx();
    tern_socket router = mt_open(ctx, TERN_ROUTER);
    tern_socket req = mt_open(ctx, TERN_REQ);
    set_id(req, "client");
    char ep[MT_EP_MAX];
    mt_bind_fresh(router, tr, ep, sizeof ep);
    mt_connect(req, ep);
    mt_wait_peers(req, 1);
    mt_wait_peers(router, 1);
    for (int i = 0; i < 5; i++) {
        MT_SEND(req, "question", "part2");
        MT_RECV(router, "client", "", "question", "part2");
        MT_SEND(router, "client", "", "answer", "x");
        MT_RECV(req, "answer", "x");
    }
    check_ok(tern_socket_close(req));

    req = mt_open(ctx, TERN_REQ);
    set_id(req, "corr");
    mt_setopt(req, TERN_OPT_REQ_CORRELATE, 1);
    mt_connect(req, ep);
    mt_wait_peers(req, 1);
    for (int i = 0; i < 5; i++) {
        MT_SEND(req, "cq");
        tern_msg *m = mt_recv_msg(router);
        char got[256];
        if (tern_msg_parts(m) != 4 || !mt_part_is(m, 0, "corr", 4) || tern_msg_size(m, 1) == 0 ||
            tern_msg_size(m, 2) != 0 || !mt_part_is(m, 3, "cq", 2)) {
            mt_msg_describe(m, got, sizeof got);
            tern_msg_free(m);
            fail_msg("ROUTER got %s, expected [corr][request id][][cq]", got);
        }
        /* Echo the envelope with the reply. */
        tern_msg *reply = NULL;
        check_ok(tern_msg_new(&reply));
        for (size_t p = 0; p < 3; p++)
            check_ok(tern_msg_append(reply, tern_msg_data(m, p), tern_msg_size(m, p)));
        check_ok(tern_msg_append(reply, "ca", 2));
        tern_msg_free(m);
        mt_msg_send(router, reply, 0);
        MT_RECV(req, "ca");
    }
    check_ok(tern_socket_close(req));
    check_ok(tern_socket_close(router));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

int main(void)
{
    mt_test_filter_from_env();
    const struct CMUnitTest tests[] = {
        MT_PER_TRANSPORT(test_routing_ids),
        MT_PER_TRANSPORT(test_replies_reach_sender),
        MT_PER_TRANSPORT(test_unknown_id),
        MT_PER_TRANSPORT(test_gone_peer),
        MT_PER_TRANSPORT(test_router_hwm),
        MT_PER_TRANSPORT(test_duplicate_refused),
        {"test_handover_tcp", test_handover, NULL, NULL, (void *)&ho_cases[0]},
        {"test_handover_ipc", test_handover, NULL, NULL, (void *)&ho_cases[1]},
        {"test_handover_inproc", test_handover, NULL, NULL, (void *)&ho_cases[2]},
        {"test_handover_disconnects_old_tcp", test_handover, NULL, NULL, (void *)&ho_cases[3]},
        {"test_handover_disconnects_old_ipc", test_handover, NULL, NULL, (void *)&ho_cases[4]},
        {"test_handover_disconnects_old_inproc", test_handover, NULL, NULL, (void *)&ho_cases[5]},
        MT_PER_TRANSPORT(test_dealer_round_robin_routers),
        MT_PER_TRANSPORT(test_dealer_round_robin_reps),
        MT_PER_TRANSPORT(test_router_router),
        MT_PER_TRANSPORT(test_req_to_router),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
