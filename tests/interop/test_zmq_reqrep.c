/* tern REQ/REP against libzmq REP/REQ (Debian libzmq3-dev, 4.3.x), over
 * tcp and ipc, with either side binding: multipart request and reply
 * bodies (empty parts, a body that starts with an empty part, long
 * frames), lockstep ping-pong; request ids (TERN_OPT_REQ_CORRELATE against
 * libzmq REP, ZMQ_REQ_CORRELATE + ZMQ_REQ_RELAXED against tern REP); many
 * libzmq REQ clients on one tern REP, each getting its own reply; and
 * multi-hop envelopes through libzmq DEALER, returned whole by tern REP. */
#include "zmqtest.h"

struct combo {
    int tr;
    bool tern_binds;
    bool tern_is_rep; /* libzmq REQ -> tern REP, else tern REQ -> libzmq REP */
};

static const struct combo combos[] = {
    {MT_TCP, true, true}, {MT_TCP, false, true}, {MT_TCP, true, false}, {MT_TCP, false, false},
    {MT_IPC, true, true}, {MT_IPC, false, true}, {MT_IPC, true, false}, {MT_IPC, false, false},
};
#define NCOMBOS (sizeof combos / sizeof combos[0])

struct shape {
    size_t nparts;
    size_t sizes[8];
};

/* Bodies: note {0, 5}, a body whose first part is empty, which a REP must
 * not mistake for the end of the envelope. */
static const struct shape shapes[] = {
    {1, {0}},
    {1, {1}},
    {1, {255}},
    {1, {256}},
    {1, {70000}},
    {2, {0, 5}},
    {2, {0, 0}},
    {3, {1, 255, 256}},
    {4, {256, 70000, 0, 3}},
    {8, {1, 2, 0, 4, 5, 0, 7, 300}},
};
#define NSHAPES (sizeof shapes / sizeof shapes[0])

struct setup {
    tern_ctx *ctx;
    void *zctx;
    tern_socket t;
    void *z;
    char ep[MT_EP_MAX];
};

static void setup_open(struct setup *s, int ttype, int ztype)
{
    s->ctx = mt_ctx();
    s->zctx = zmq_ctx_new();
    assert_non_null(s->zctx);
    s->t = mt_open(s->ctx, ttype);
    s->z = zt_socket(s->zctx, ztype);
}

static void setup_connect(struct setup *s, int tr, bool tern_binds)
{
    if (tern_binds) {
        mt_bind_fresh(s->t, tr, s->ep, sizeof s->ep);
        zt_check(zmq_connect(s->z, s->ep), "zmq_connect");
    } else {
        zt_bind_fresh(s->z, tr, s->ep, sizeof s->ep);
        mt_connect(s->t, s->ep);
    }
    printf("    %s binds %s\n", tern_binds ? "tern" : "libzmq", s->ep);
    mt_wait_peers(s->t, 1);
}

static void setup_close(struct setup *s)
{
    mt_setopt(s->t, TERN_OPT_LINGER, 0);
    check_ok(tern_socket_close(s->t));
    zmq_close(s->z);
    zmq_ctx_term(s->zctx);
    tern_ctx_close(s->ctx);
    mt_unlink_ipc(s->ep);
}

/* One request/reply round: the requester sends shapes[qi], the replier
 * receives exactly that body, answers with shapes[ri]. */
static void round_trip(struct setup *s, bool tern_is_rep, size_t qi, size_t ri, uint32_t seed)
{
    const struct shape *q = &shapes[qi], *r = &shapes[ri];
    if (tern_is_rep) {
        zt_send_parts(s->z, q->nparts, q->sizes, seed);
        mt_recv_parts(s->t, q->nparts, q->sizes, seed);
        mt_send_parts(s->t, r->nparts, r->sizes, seed + 1);
        zt_recv_parts(s->z, r->nparts, r->sizes, seed + 1);
    } else {
        mt_send_parts(s->t, q->nparts, q->sizes, seed);
        zt_recv_parts(s->z, q->nparts, q->sizes, seed);
        zt_send_parts(s->z, r->nparts, r->sizes, seed + 1);
        mt_recv_parts(s->t, r->nparts, r->sizes, seed + 1);
    }
}

static void test_reqrep(void **state)
{
    const struct combo *c = *state;
    struct setup s;
    printf("    %s, %s\n", mt_transport_name(c->tr),
           c->tern_is_rep ? "libzmq REQ -> tern REP" : "tern REQ -> libzmq REP");
    setup_open(&s, c->tern_is_rep ? TERN_REP : TERN_REQ, c->tern_is_rep ? ZMQ_REQ : ZMQ_REP);
    setup_connect(&s, c->tr, c->tern_binds);

    /* Lockstep is enforced on tern's side. */
    if (c->tern_is_rep) {
        check_err(tern_send(s.t, "early", 5, TERN_DONTWAIT), TERN_ESTATE);
    }

    /* Every request shape against every reply shape. */
    uint32_t seed = 1000;
    for (size_t qi = 0; qi < NSHAPES; qi++)
        for (size_t ri = 0; ri < NSHAPES; ri++, seed += 2)
            round_trip(&s, c->tern_is_rep, qi, ri, seed);

    if (!c->tern_is_rep) {
        /* A second request before the reply is refused; the first one's
         * reply still arrives. */
        mt_send_parts(s.t, 1, shapes[1].sizes, 77);
        check_err(tern_send(s.t, "again", 5, TERN_DONTWAIT), TERN_ESTATE);
        zt_recv_parts(s.z, 1, shapes[1].sizes, 77);
        zt_send_parts(s.z, 1, shapes[2].sizes, 78);
        mt_recv_parts(s.t, 1, shapes[2].sizes, 78);
    } else {
        check_err(tern_send(s.t, "unasked", 7, TERN_DONTWAIT), TERN_ESTATE);
    }

    /* Ping-pong. */
    int64_t t0 = mt_now_ms();
    for (uint32_t i = 0; i < 2000; i++) {
        char q[32], r[32];
        snprintf(q, sizeof q, "request %u", i);
        snprintf(r, sizeof r, "reply %u", i);
        if (c->tern_is_rep) {
            zt_send_str(s.z, q);
            zt_tern_recv_str(s.t, q);
            zt_tern_send_str(s.t, r);
            zt_recv_str(s.z, r);
        } else {
            zt_tern_send_str(s.t, q);
            zt_recv_str(s.z, q);
            zt_send_str(s.z, r);
            zt_tern_recv_str(s.t, r);
        }
    }
    printf("    2000 round trips in %lld ms\n", (long long)(mt_now_ms() - t0));
    tern_sock_stats st = zt_tern_stats(s.t);
    assert_int_equal(st.drops, 0);
    assert_int_equal(st.msgs_in, NSHAPES * NSHAPES + 2000 + (c->tern_is_rep ? 0 : 1));
    assert_int_equal(st.msgs_out, NSHAPES * NSHAPES + 2000 + (c->tern_is_rep ? 0 : 1));
    setup_close(&s);
}

/* tern REQ with TERN_OPT_REQ_CORRELATE against libzmq REP: the request id
 * frame travels ahead of the delimiter and libzmq echoes it. With
 * TERN_OPT_REQ_RELAXED too, a request abandoned for a newer one gets its
 * late reply discarded (counted), and the newer reply is the one
 * received. */
static void test_tern_req_correlate(void **state)
{
    int tr = *(const int *)*state;
    struct setup s;
    setup_open(&s, TERN_REQ, ZMQ_REP);
    mt_setopt(s.t, TERN_OPT_REQ_CORRELATE, 1);
    setup_connect(&s, tr, tr == MT_TCP);

    uint32_t seed = 3000;
    for (size_t qi = 0; qi < NSHAPES; qi++, seed += 2)
        round_trip(&s, false, qi, NSHAPES - 1 - qi, seed);
    for (uint32_t i = 0; i < 500; i++) {
        char q[32];
        snprintf(q, sizeof q, "correlated %u", i);
        zt_tern_send_str(s.t, q);
        zt_recv_str(s.z, q);
        zt_send_str(s.z, q);
        zt_tern_recv_str(s.t, q);
    }
    assert_int_equal(zt_tern_stats(s.t).drops, 0);

    mt_setopt(s.t, TERN_OPT_REQ_RELAXED, 1);
    for (uint32_t i = 0; i < 20; i++) {
        char a[32], b[32], ra[32], rb[32];
        snprintf(a, sizeof a, "A%u", i);
        snprintf(b, sizeof b, "B%u", i);
        snprintf(ra, sizeof ra, "reply to A%u", i);
        snprintf(rb, sizeof rb, "reply to B%u", i);
        zt_tern_send_str(s.t, a);
        zt_recv_str(s.z, a);
        zt_tern_send_str(s.t, b); /* A is abandoned */
        zt_send_str(s.z, ra);     /* ... and its reply comes late */
        zt_recv_str(s.z, b);
        zt_send_str(s.z, rb);
        zt_tern_recv_str(s.t, rb);
        /* The late reply arrived before B's on the same connection, so
         * it has been discarded by now. */
        assert_int_equal(zt_tern_stats(s.t).drops, i + 1);
    }
    zt_tern_expect_nothing(s.t, 100);
    setup_close(&s);
}

/* libzmq REQ with ZMQ_REQ_CORRELATE (and ZMQ_REQ_RELAXED) against tern
 * REP: tern keeps libzmq's request id in the envelope and puts it back on
 * the reply, so libzmq accepts the reply to its current request and
 * discards the one to an abandoned request. */
static void test_zmq_req_correlate(void **state)
{
    int tr = *(const int *)*state;
    for (int relaxed = 0; relaxed < 2; relaxed++) {
        struct setup s;
        setup_open(&s, TERN_REP, ZMQ_REQ);
        zt_setint(s.z, ZMQ_REQ_CORRELATE, 1);
        zt_setint(s.z, ZMQ_REQ_RELAXED, relaxed);
        setup_connect(&s, tr, relaxed == 0);
        uint32_t seed = 4000;
        for (size_t qi = 0; qi < NSHAPES; qi++, seed += 2)
            round_trip(&s, true, qi, (qi + 3) % NSHAPES, seed);
        for (uint32_t i = 0; i < 500; i++) {
            char q[32];
            snprintf(q, sizeof q, "zmq correlated %u", i);
            zt_send_str(s.z, q);
            zt_tern_recv_str(s.t, q);
            zt_tern_send_str(s.t, q);
            zt_recv_str(s.z, q);
        }
        if (relaxed) {
            for (uint32_t i = 0; i < 20; i++) {
                char a[32], b[32], ra[32], rb[32];
                snprintf(a, sizeof a, "A%u", i);
                snprintf(b, sizeof b, "B%u", i);
                snprintf(ra, sizeof ra, "reply to A%u", i);
                snprintf(rb, sizeof rb, "reply to B%u", i);
                zt_send_str(s.z, a);
                zt_tern_recv_str(s.t, a);
                zt_send_str(s.z, b); /* libzmq abandons A */
                zt_tern_send_str(s.t, ra);
                zt_tern_recv_str(s.t, b);
                zt_tern_send_str(s.t, rb);
                zt_recv_str(s.z, rb); /* not ra: its id is stale */
            }
            zt_expect_nothing(s.z, 100);
        }
        assert_int_equal(zt_tern_stats(s.t).drops, 0);
        setup_close(&s);
    }
}

/* Eight libzmq REQ clients on one tern REP: every client sends at once,
 * the REP answers in whatever order requests come, and each client gets
 * the reply to its own request. */
static void test_many_clients(void **state)
{
    int tr = *(const int *)*state;
    enum { NCLIENTS = 8, ROUNDS = 50 };
    tern_ctx *ctx = mt_ctx();
    void *zctx = zmq_ctx_new();
    tern_socket rep = mt_open(ctx, TERN_REP);
    char ep[MT_EP_MAX];
    mt_bind_fresh(rep, tr, ep, sizeof ep);
    void *z[NCLIENTS];
    for (int i = 0; i < NCLIENTS; i++) {
        z[i] = zt_socket(zctx, ZMQ_REQ);
        zt_check(zmq_connect(z[i], ep), "zmq_connect");
    }
    mt_wait_peers(rep, NCLIENTS);
    int served[NCLIENTS] = {0};
    for (int r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < NCLIENTS; i++) {
            char q[48];
            snprintf(q, sizeof q, "client %d round %d", i, r);
            /* Two parts: the client's name and the question. */
            char name[16];
            snprintf(name, sizeof name, "c%d", i);
            struct zt_part parts[] = {{name, strlen(name)}, {q, strlen(q)}};
            zt_sendv(z[i], 2, parts);
        }
        for (int k = 0; k < NCLIENTS; k++) {
            tern_msg *m = NULL;
            check_ok(tern_msg_recv(rep, &m, 0));
            assert_int_equal(tern_msg_parts(m), 2);
            int who = -1, round = -1;
            char q[64];
            snprintf(q, sizeof q, "%.*s", (int)tern_msg_size(m, 1), (char *)tern_msg_data(m, 1));
            assert_int_equal(sscanf(q, "client %d round %d", &who, &round), 2);
            assert_true(who >= 0 && who < NCLIENTS);
            assert_int_equal(round, r);
            assert_int_equal(served[who], r);
            served[who]++;
            char name[16];
            snprintf(name, sizeof name, "c%d", who);
            assert_int_equal(tern_msg_size(m, 0), strlen(name));
            assert_memory_equal(tern_msg_data(m, 0), name, strlen(name));
            tern_msg_free(m);
            char reply[80];
            snprintf(reply, sizeof reply, "answer for %s", q);
            zt_tern_send_str(rep, reply);
        }
        for (int i = 0; i < NCLIENTS; i++) {
            char reply[80];
            snprintf(reply, sizeof reply, "answer for client %d round %d", i, r);
            zt_recv_str(z[i], reply);
        }
    }
    for (int i = 0; i < NCLIENTS; i++) {
        assert_int_equal(served[i], ROUNDS);
        zmq_close(z[i]);
    }
    assert_int_equal(zt_tern_stats(rep).drops, 0);
    check_ok(tern_socket_close(rep));
    zmq_ctx_term(zctx);
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

/* libzmq DEALER -> tern REP with a multi-hop envelope, as a chain of
 * ROUTERs would build it: REP hands up the body only and sends the whole
 * envelope back. And tern DEALER -> libzmq REP the same way round. */
static void test_dealer_envelopes(void **state)
{
    int tr = *(const int *)*state;
    static const uint8_t hop2[5] = {0, 1, 2, 3, 4};
    const struct zt_part env[] = {ZT_S("hop-1"), {hop2, sizeof hop2}, ZT_S("")};
    const struct zt_part req[] = {ZT_S("hop-1"), {hop2, sizeof hop2}, ZT_S(""), ZT_S("what"),
                                  ZT_S(""),      ZT_S("tail")};
    const struct zt_part body[] = {ZT_S("what"), ZT_S(""), ZT_S("tail")};
    const struct zt_part rbody[] = {ZT_S("answer"), ZT_S("more")};
    const struct zt_part reply[] = {env[0], env[1], env[2], rbody[0], rbody[1]};

    /* libzmq DEALER -> tern REP */
    struct setup s;
    setup_open(&s, TERN_REP, ZMQ_DEALER);
    setup_connect(&s, tr, true);
    for (int i = 0; i < 50; i++) {
        zt_sendv(s.z, ZT_NPARTS(req), req);
        zt_tern_recvv(s.t, ZT_NPARTS(body), body);
        zt_tern_sendv(s.t, ZT_NPARTS(rbody), rbody);
        zt_recvv(s.z, ZT_NPARTS(reply), reply);
    }
    /* Several requests queued at once are answered in order. */
    for (int i = 0; i < 10; i++) {
        char q[16];
        snprintf(q, sizeof q, "q%d", i);
        const struct zt_part r[] = {ZT_S("x"), ZT_S(""), {q, strlen(q)}};
        zt_sendv(s.z, 3, r);
    }
    for (int i = 0; i < 10; i++) {
        char q[16];
        snprintf(q, sizeof q, "q%d", i);
        zt_tern_recv_str(s.t, q);
        zt_tern_send_str(s.t, q);
    }
    for (int i = 0; i < 10; i++) {
        char q[16];
        snprintf(q, sizeof q, "q%d", i);
        const struct zt_part r[] = {ZT_S("x"), ZT_S(""), {q, strlen(q)}};
        zt_recvv(s.z, 3, r);
    }
    setup_close(&s);

    /* tern DEALER -> libzmq REP */
    setup_open(&s, TERN_DEALER, ZMQ_REP);
    setup_connect(&s, tr, false);
    for (int i = 0; i < 50; i++) {
        zt_tern_sendv(s.t, ZT_NPARTS(req), req);
        zt_recvv(s.z, ZT_NPARTS(body), body);
        zt_sendv(s.z, ZT_NPARTS(rbody), rbody);
        zt_tern_recvv(s.t, ZT_NPARTS(reply), reply);
    }
    setup_close(&s);
}

static const int tr_tcp = MT_TCP;
static const int tr_ipc = MT_IPC;

int main(void)
{
    mt_test_filter_from_env();
    struct CMUnitTest tests[NCOMBOS + 8];
    static char names[NCOMBOS][64];
    size_t n = 0;
    for (size_t i = 0; i < NCOMBOS; i++) {
        const struct combo *c = &combos[i];
        snprintf(names[i], sizeof names[i], "reqrep_%s_%s_binds_%s", mt_transport_name(c->tr),
                 c->tern_binds ? "tern" : "zmq",
                 c->tern_is_rep ? "zmq_req_tern_rep" : "tern_req_zmq_rep");
        tests[n++] = (struct CMUnitTest){names[i], test_reqrep, NULL, NULL, (void *)c};
    }
    tests[n++] = (struct CMUnitTest){"tern_req_correlate_tcp", test_tern_req_correlate, NULL, NULL,
                                     (void *)&tr_tcp};
    tests[n++] = (struct CMUnitTest){"tern_req_correlate_ipc", test_tern_req_correlate, NULL, NULL,
                                     (void *)&tr_ipc};
    tests[n++] = (struct CMUnitTest){"zmq_req_correlate_tcp", test_zmq_req_correlate, NULL, NULL,
                                     (void *)&tr_tcp};
    tests[n++] = (struct CMUnitTest){"zmq_req_correlate_ipc", test_zmq_req_correlate, NULL, NULL,
                                     (void *)&tr_ipc};
    tests[n++] =
        (struct CMUnitTest){"many_clients_tcp", test_many_clients, NULL, NULL, (void *)&tr_tcp};
    tests[n++] =
        (struct CMUnitTest){"many_clients_ipc", test_many_clients, NULL, NULL, (void *)&tr_ipc};
    tests[n++] = (struct CMUnitTest){"dealer_envelopes_tcp", test_dealer_envelopes, NULL, NULL,
                                     (void *)&tr_tcp};
    tests[n++] = (struct CMUnitTest){"dealer_envelopes_ipc", test_dealer_envelopes, NULL, NULL,
                                     (void *)&tr_ipc};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
