/* tern ROUTER and DEALER against libzmq (Debian libzmq3-dev, 4.3.x), over
 * tcp and ipc, with either side binding:
 *  - libzmq DEALERs, with and without ZMQ_ROUTING_ID, on one tern ROUTER:
 *    the ROUTER sees the id libzmq set (or one it made up, the same for
 *    every message of that peer), and replies addressed by it reach that
 *    DEALER only;
 *  - tern DEALER with TERN_OPT_ROUTING_ID on a libzmq ROUTER: libzmq sees
 *    our id and routes back to us;
 *  - libzmq REQ on tern ROUTER: the envelope [id][empty][body] is visible
 *    and the reply [id][empty][body] goes back to that REQ;
 *  - tern REQ (plain and correlated) on libzmq ROUTER: libzmq sees
 *    [id][empty][body] (or [id][request id][empty][body]) and tern
 *    receives the reply. */
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
#define NCOMBOS (sizeof combos / sizeof combos[0])

struct env {
    tern_ctx *ctx;
    void *zctx;
    char ep[MT_EP_MAX];
};

static void env_open(struct env *e)
{
    e->ctx = mt_ctx();
    e->zctx = zmq_ctx_new();
    assert_non_null(e->zctx);
    e->ep[0] = '\0';
}

static void env_close(struct env *e)
{
    zmq_ctx_term(e->zctx);
    tern_ctx_close(e->ctx);
    mt_unlink_ipc(e->ep);
}

/* Connects t and z: the binding side gets a fresh endpoint (kept in e). */
static void link_up(struct env *e, const struct combo *c, tern_socket t, void *z)
{
    if (c->tern_binds) {
        if (e->ep[0] == '\0')
            mt_bind_fresh(t, c->tr, e->ep, sizeof e->ep);
        zt_check(zmq_connect(z, e->ep), "zmq_connect");
    } else {
        char ep[MT_EP_MAX];
        zt_bind_fresh(z, c->tr, ep, sizeof ep);
        mt_connect(t, ep);
    }
}

static void close_tern(tern_socket t)
{
    mt_setopt(t, TERN_OPT_LINGER, 0);
    check_ok(tern_socket_close(t));
}

/* Receives on a tern ROUTER; copies part 0 (the routing id) to id and
 * checks the rest is exactly body. */
static void router_recv(tern_socket r, uint8_t *id, size_t *idlen, size_t nbody,
                        const struct zt_part *body)
{
    tern_msg *m = NULL;
    check_ok(tern_msg_recv(r, &m, 0));
    assert_true(tern_msg_parts(m) >= 1);
    *idlen = tern_msg_size(m, 0);
    assert_true(*idlen >= 1 && *idlen <= 255);
    memcpy(id, tern_msg_data(m, 0), *idlen);
    char why[256];
    bool ok = tern_msg_parts(m) == nbody + 1;
    if (!ok)
        snprintf(why, sizeof why, "%zu parts after the routing id, expected %zu",
                 tern_msg_parts(m) - 1, nbody);
    for (size_t i = 0; ok && i < nbody; i++) {
        if (tern_msg_size(m, i + 1) != body[i].len ||
            (body[i].len && memcmp(tern_msg_data(m, i + 1), body[i].data, body[i].len) != 0)) {
            snprintf(why, sizeof why, "part %zu after the routing id differs", i);
            ok = false;
        }
    }
    tern_msg_free(m);
    if (!ok)
        fail_msg("tern ROUTER received a wrong message: %s", why);
}

/* Sends [id] + body from a tern ROUTER. */
static void router_send(tern_socket r, const uint8_t *id, size_t idlen, size_t nbody,
                        const struct zt_part *body)
{
    struct zt_part parts[16];
    assert_true(nbody < 16);
    parts[0] = (struct zt_part){id, idlen};
    memcpy(parts + 1, body, nbody * sizeof *body);
    zt_tern_sendv(r, nbody + 1, parts);
}

/* libzmq DEALERs with and without ZMQ_ROUTING_ID on one tern ROUTER. */
static void test_zmq_dealers_tern_router(void **state)
{
    const struct combo *c = *state;
    enum { NDEALERS = 4, ROUNDS = 50 };
    struct env e;
    env_open(&e);
    tern_socket r = mt_open(e.ctx, TERN_ROUTER);
    void *z[NDEALERS];
    /* Dealers 0 and 2 name themselves (dealer 2 with an id holding a
     * zero byte inside and 255 bytes long); 1 and 3 do not. */
    static uint8_t long_id[255];
    mt_fill(long_id, sizeof long_id, 99);
    long_id[0] = 'L';
    long_id[100] = 0;
    for (int i = 0; i < NDEALERS; i++) {
        z[i] = zt_socket(e.zctx, ZMQ_DEALER);
        if (i == 0)
            zt_check(zmq_setsockopt(z[i], ZMQ_ROUTING_ID, "dealer-zero", 11), "ZMQ_ROUTING_ID");
        if (i == 2)
            zt_check(zmq_setsockopt(z[i], ZMQ_ROUTING_ID, long_id, sizeof long_id),
                     "ZMQ_ROUTING_ID");
        link_up(&e, c, r, z[i]);
    }
    mt_wait_peers_cmp(r, '=', NDEALERS, MT_IO_TIMEOUT_MS);

    uint8_t ids[NDEALERS][255];
    size_t idlen[NDEALERS];
    /* Each dealer announces itself; the ROUTER learns the ids. */
    for (int i = 0; i < NDEALERS; i++) {
        char hello[16];
        snprintf(hello, sizeof hello, "hello %d", i);
        const struct zt_part body[] = {{hello, strlen(hello)}, ZT_S(""), ZT_S("x")};
        zt_sendv(z[i], 3, body);
        router_recv(r, ids[i], &idlen[i], 3, body);
    }
    assert_int_equal(idlen[0], 11);
    assert_memory_equal(ids[0], "dealer-zero", 11);
    assert_int_equal(idlen[2], 255);
    assert_memory_equal(ids[2], long_id, 255);
    for (int i = 1; i < NDEALERS; i += 2) {
        /* Made up by tern: not empty, distinct from every other id. */
        assert_true(idlen[i] >= 1);
        for (int j = 0; j < NDEALERS; j++)
            if (j != i)
                assert_false(idlen[j] == idlen[i] && memcmp(ids[j], ids[i], idlen[i]) == 0);
    }
    printf("    made-up routing ids: %zu and %zu bytes\n", idlen[1], idlen[3]);

    /* Replies go to the right dealer; the ids stay the same. */
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = NDEALERS - 1; i >= 0; i--) {
            char text[32];
            snprintf(text, sizeof text, "to %d round %d", i, round);
            const struct zt_part body[] = {{text, strlen(text)}};
            router_send(r, ids[i], idlen[i], 1, body);
        }
        for (int i = 0; i < NDEALERS; i++) {
            char text[32];
            snprintf(text, sizeof text, "to %d round %d", i, round);
            zt_recv_str(z[i], text);
            snprintf(text, sizeof text, "from %d round %d", i, round);
            zt_send_str(z[i], text);
        }
        for (int k = 0; k < NDEALERS; k++) {
            tern_msg *m = NULL;
            check_ok(tern_msg_recv(r, &m, 0));
            assert_int_equal(tern_msg_parts(m), 2);
            int who = -1, rr = -1;
            char text[64];
            snprintf(text, sizeof text, "%.*s", (int)tern_msg_size(m, 1),
                     (char *)tern_msg_data(m, 1));
            assert_int_equal(sscanf(text, "from %d round %d", &who, &rr), 2);
            assert_int_equal(rr, round);
            assert_true(who >= 0 && who < NDEALERS);
            assert_int_equal(tern_msg_size(m, 0), idlen[who]);
            assert_memory_equal(tern_msg_data(m, 0), ids[who], idlen[who]);
            tern_msg_free(m);
        }
    }
    for (int i = 0; i < NDEALERS; i++)
        zt_expect_nothing(z[i], 0);

    /* An unknown id: TERN_EHOSTUNREACH with ROUTER_MANDATORY (the
     * default), a counted drop without. */
    const struct zt_part body[] = {ZT_S("lost")};
    const struct zt_part nobody[] = {ZT_S("nobody"), ZT_S("lost")};
    check_err(zt_tern_sendv_try(r, 2, nobody, 0), TERN_EHOSTUNREACH);
    mt_setopt(r, TERN_OPT_ROUTER_MANDATORY, 0);
    uint64_t drops0 = zt_tern_stats(r).drops;
    zt_tern_sendv(r, 2, nobody);
    assert_int_equal(zt_tern_stats(r).drops, drops0 + 1);
    router_send(r, ids[0], idlen[0], 1, body);
    zt_recv_str(z[0], "lost");
    for (int i = 1; i < NDEALERS; i++)
        zt_expect_nothing(z[i], 50);

    for (int i = 0; i < NDEALERS; i++)
        zmq_close(z[i]);
    close_tern(r);
    env_close(&e);
}

/* tern DEALER with a routing id on a libzmq ROUTER, and a tern DEALER
 * without one (libzmq makes one up). */
static void test_tern_dealer_zmq_router(void **state)
{
    const struct combo *c = *state;
    struct env e;
    env_open(&e);
    void *zr = zt_socket(e.zctx, ZMQ_ROUTER);
    zt_setint(zr, ZMQ_ROUTER_MANDATORY, 1);
    char ep[2][MT_EP_MAX];
    tern_socket d[2];
    if (!c->tern_binds)
        zt_bind_fresh(zr, c->tr, ep[0], sizeof ep[0]);
    for (int i = 0; i < 2; i++) {
        d[i] = mt_open(e.ctx, TERN_DEALER);
        if (i == 0)
            check_ok(tern_setopt_bytes(d[i], TERN_OPT_ROUTING_ID, "tern-dealer", 11));
        if (c->tern_binds) {
            mt_bind_fresh(d[i], c->tr, ep[i], sizeof ep[i]);
            zt_check(zmq_connect(zr, ep[i]), "zmq_connect");
        } else {
            mt_connect(d[i], ep[0]);
        }
        mt_wait_peers(d[i], 1);
    }
    printf("    %s binds\n", c->tern_binds ? "tern" : "libzmq");

    struct zt_msg m;
    uint8_t anon_id[256];
    size_t anon_len = 0;
    for (int i = 0; i < 2; i++) {
        const struct zt_part body[] = {ZT_S("hi"), ZT_S(""), ZT_S("there")};
        zt_tern_sendv(d[i], 3, body);
        zt_recv_msg(zr, &m);
        assert_int_equal(m.n, 4);
        if (i == 0) {
            assert_int_equal(m.len[0], 11);
            assert_memory_equal(m.data[0], "tern-dealer", 11);
        } else {
            anon_len = m.len[0];
            assert_true(anon_len >= 1 && anon_len <= 255);
            memcpy(anon_id, m.data[0], anon_len);
        }
        char why[256];
        struct zt_msg rest = {3, {m.len[1], m.len[2], m.len[3]}, {m.data[1], m.data[2], m.data[3]}};
        if (!zt_msg_is(&rest, 3, body, why, sizeof why))
            fail_msg("libzmq ROUTER received a wrong body: %s", why);
        zt_msg_clear(&m);
    }
    for (int round = 0; round < 100; round++) {
        char text[32];
        snprintf(text, sizeof text, "round %d", round);
        const struct zt_part to0[] = {ZT_S("tern-dealer"), {text, strlen(text)}, ZT_S("0")};
        const struct zt_part to1[] = {{anon_id, anon_len}, {text, strlen(text)}, ZT_S("1")};
        zt_sendv(zr, 3, to1);
        zt_sendv(zr, 3, to0);
        zt_tern_recvv(d[0], 2, to0 + 1);
        zt_tern_recvv(d[1], 2, to1 + 1);
        zt_tern_sendv(d[0], 1, to0 + 1);
        const struct zt_part back[] = {ZT_S("tern-dealer"), {text, strlen(text)}};
        zt_recvv(zr, 2, back);
    }
    zt_tern_expect_nothing(d[0], 0);
    zt_tern_expect_nothing(d[1], 0);
    for (int i = 0; i < 2; i++)
        close_tern(d[i]);
    zmq_close(zr);
    env_close(&e);
    mt_unlink_ipc(ep[0]);
    if (c->tern_binds)
        mt_unlink_ipc(ep[1]);
}

/* libzmq REQs on a tern ROUTER: the ROUTER sees [id][empty][body...] and
 * its reply [id][empty][reply...] reaches the right REQ. */
static void test_zmq_req_tern_router(void **state)
{
    const struct combo *c = *state;
    enum { NREQ = 3 };
    struct env e;
    env_open(&e);
    tern_socket r = mt_open(e.ctx, TERN_ROUTER);
    void *z[NREQ];
    for (int i = 0; i < NREQ; i++) {
        z[i] = zt_socket(e.zctx, ZMQ_REQ);
        char name[16];
        snprintf(name, sizeof name, "req-%d", i);
        zt_check(zmq_setsockopt(z[i], ZMQ_ROUTING_ID, name, strlen(name)), "ZMQ_ROUTING_ID");
        link_up(&e, c, r, z[i]);
    }
    mt_wait_peers_cmp(r, '=', NREQ, MT_IO_TIMEOUT_MS);
    for (int round = 0; round < 100; round++) {
        for (int i = 0; i < NREQ; i++) {
            char q[32];
            snprintf(q, sizeof q, "q %d %d", i, round);
            const struct zt_part body[] = {{q, strlen(q)}, ZT_S(""), ZT_S("second part")};
            zt_sendv(z[i], 3, body);
        }
        for (int k = 0; k < NREQ; k++) {
            tern_msg *m = NULL;
            check_ok(tern_msg_recv(r, &m, 0));
            assert_int_equal(tern_msg_parts(m), 5);
            char id[32], q[32];
            snprintf(id, sizeof id, "%.*s", (int)tern_msg_size(m, 0), (char *)tern_msg_data(m, 0));
            int who = -1, rr = -1;
            assert_int_equal(sscanf(id, "req-%d", &who), 1);
            assert_true(who >= 0 && who < NREQ);
            assert_int_equal(tern_msg_size(m, 1), 0); /* the delimiter */
            snprintf(q, sizeof q, "%.*s", (int)tern_msg_size(m, 2), (char *)tern_msg_data(m, 2));
            int who2 = -1;
            assert_int_equal(sscanf(q, "q %d %d", &who2, &rr), 2);
            assert_int_equal(who2, who);
            assert_int_equal(rr, round);
            assert_int_equal(tern_msg_size(m, 3), 0);
            assert_int_equal(tern_msg_size(m, 4), 11);
            assert_memory_equal(tern_msg_data(m, 4), "second part", 11);
            tern_msg_free(m);
            char a[48];
            snprintf(a, sizeof a, "answer to %s", q);
            const struct zt_part reply[] = {{id, strlen(id)}, ZT_S(""), {a, strlen(a)}, ZT_S("!")};
            zt_tern_sendv(r, 4, reply);
        }
        for (int i = 0; i < NREQ; i++) {
            char a[48];
            snprintf(a, sizeof a, "answer to q %d %d", i, round);
            const struct zt_part want[] = {{a, strlen(a)}, ZT_S("!")};
            zt_recvv(z[i], 2, want);
        }
    }
    assert_int_equal(zt_tern_stats(r).drops, 0);
    for (int i = 0; i < NREQ; i++)
        zmq_close(z[i]);
    close_tern(r);
    env_close(&e);
}

/* tern REQ (plain, then with TERN_OPT_REQ_CORRELATE and a routing id) on
 * a libzmq ROUTER. */
static void test_tern_req_zmq_router(void **state)
{
    const struct combo *c = *state;
    for (int correlate = 0; correlate < 2; correlate++) {
        struct env e;
        env_open(&e);
        void *zr = zt_socket(e.zctx, ZMQ_ROUTER);
        tern_socket q = mt_open(e.ctx, TERN_REQ);
        if (correlate) {
            mt_setopt(q, TERN_OPT_REQ_CORRELATE, 1);
            check_ok(tern_setopt_bytes(q, TERN_OPT_ROUTING_ID, "tern-req", 8));
        }
        link_up(&e, c, q, zr);
        mt_wait_peers(q, 1);
        uint8_t id[256];
        size_t idlen = 0;
        uint8_t reqid[4] = {0};
        for (int round = 0; round < 100; round++) {
            char text[32];
            snprintf(text, sizeof text, "request %d", round);
            const struct zt_part body[] = {{text, strlen(text)}, ZT_S(""), ZT_S("end")};
            zt_tern_sendv(q, 3, body);
            struct zt_msg m;
            zt_recv_msg(zr, &m);
            size_t env_parts = correlate ? 3 : 2;
            assert_int_equal(m.n, env_parts + 3);
            if (round == 0) {
                idlen = m.len[0];
                memcpy(id, m.data[0], idlen);
            }
            assert_int_equal(m.len[0], idlen);
            assert_memory_equal(m.data[0], id, idlen);
            if (correlate) {
                assert_int_equal(idlen, 8);
                assert_memory_equal(id, "tern-req", 8);
                /* A 4-byte request id, new for every request. */
                assert_int_equal(m.len[1], 4);
                if (round > 0)
                    assert_memory_not_equal(m.data[1], reqid, 4);
                memcpy(reqid, m.data[1], 4);
            }
            assert_int_equal(m.len[env_parts - 1], 0);
            char why[256];
            struct zt_msg rest = {
                3,
                {m.len[env_parts], m.len[env_parts + 1], m.len[env_parts + 2]},
                {m.data[env_parts], m.data[env_parts + 1], m.data[env_parts + 2]}};
            if (!zt_msg_is(&rest, 3, body, why, sizeof why))
                fail_msg("libzmq ROUTER received a wrong body: %s", why);
            zt_msg_clear(&m);

            char a[32];
            snprintf(a, sizeof a, "reply %d", round);
            if (correlate) {
                /* A reply with a stale request id first: discarded. */
                uint8_t stale[4];
                memcpy(stale, reqid, 4);
                stale[3] ^= 0x5a;
                const struct zt_part bad[] = {
                    {id, idlen}, {stale, 4}, ZT_S(""), ZT_S("stale reply")};
                zt_sendv(zr, 4, bad);
                const struct zt_part good[] = {{id, idlen}, {reqid, 4}, ZT_S(""), {a, strlen(a)}};
                zt_sendv(zr, 4, good);
            } else {
                const struct zt_part good[] = {{id, idlen}, ZT_S(""), {a, strlen(a)}};
                zt_sendv(zr, 3, good);
            }
            zt_tern_recv_str(q, a);
        }
        assert_int_equal(zt_tern_stats(q).drops, correlate ? 100 : 0);
        close_tern(q);
        zmq_close(zr);
        env_close(&e);
    }
}

int main(void)
{
    mt_test_filter_from_env();
    static void (*const fns[])(void **) = {
        test_zmq_dealers_tern_router,
        test_tern_dealer_zmq_router,
        test_zmq_req_tern_router,
        test_tern_req_zmq_router,
    };
    static const char *const fn_names[] = {
        "zmq_dealer_tern_router",
        "tern_dealer_zmq_router",
        "zmq_req_tern_router",
        "tern_req_zmq_router",
    };
    enum { NFNS = sizeof fns / sizeof fns[0] };
    static struct CMUnitTest tests[NFNS * NCOMBOS];
    static char names[NFNS * NCOMBOS][80];
    size_t n = 0;
    for (size_t f = 0; f < NFNS; f++) {
        for (size_t i = 0; i < NCOMBOS; i++, n++) {
            snprintf(names[n], sizeof names[n], "%s_%s_%s_binds", fn_names[f],
                     mt_transport_name(combos[i].tr), combos[i].tern_binds ? "tern" : "zmq");
            tests[n] = (struct CMUnitTest){names[n], fns[f], NULL, NULL, (void *)&combos[i]};
        }
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
