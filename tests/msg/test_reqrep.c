/* REQ/REP over tcp, ipc and inproc: round trips and their contents,
 * multipart bodies, several concurrent clients each getting its own
 * replies, lockstep errors, receive timeouts with relaxed + correlated
 * requests (late replies discarded), lazy-pirate resends to another
 * server, a server vanishing under a waiting client, REP driven by a
 * DEALER (envelopes retraced), malformed and orphaned requests. */
#include "msgtest.h"

struct rr {
    tern_ctx *ctx;
    tern_socket req, rep;
    char ep[MT_EP_MAX];
};

/* REP binds, REQ connects (or the reverse with req_binds). */
static void rr_setup(struct rr *r, int tr, bool req_binds)
{
    r->ctx = mt_ctx();
    r->rep = mt_open(r->ctx, TERN_REP);
    r->req = mt_open(r->ctx, TERN_REQ);
    mt_bind_fresh(req_binds ? r->req : r->rep, tr, r->ep, sizeof r->ep);
    mt_connect(req_binds ? r->rep : r->req, r->ep);
    mt_wait_peers(r->req, 1);
    mt_wait_peers(r->rep, 1);
}

static void rr_teardown(struct rr *r)
{
    mt_close_lossy(r->req);
    mt_close_lossy(r->rep);
    tern_ctx_close(r->ctx);
    mt_unlink_ipc(r->ep);
}

/* One-part message "<prefix><n>". */
static void send_num(tern_socket s, const char *prefix, int n)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s%d", prefix, n);
    MT_SEND(s, buf);
}

static void recv_num(tern_socket s, const char *prefix, int n)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s%d", prefix, n);
    MT_RECV(s, buf);
}

/* Many round trips with patterned bodies of varying sizes, both role
 * assignments (REP binds; REQ binds). */
static void test_roundtrips(void **state)
{
    int tr = mt_tr_of(state);
    for (int round = 0; round < 2; round++) {
        struct rr r;
        rr_setup(&r, tr, round == 1);
        int n = round == 0 ? 1000 : 200;
        for (int i = 0; i < n; i++) {
            check_ok(mt_send_seq_try(r.req, 1, (uint64_t)i, (size_t)i % 200, 0));
            uint32_t tag;
            uint64_t seq;
            mt_recv_seq(r.rep, &tag, &seq);
            assert_int_equal(tag, 1);
            assert_int_equal(seq, (uint64_t)i);
            check_ok(mt_send_seq_try(r.rep, 2, seq * 3, (size_t)(i * 7) % 256, 0));
            mt_recv_seq(r.req, &tag, &seq);
            assert_int_equal(tag, 2);
            assert_int_equal(seq, (uint64_t)i * 3);
        }
        /* Nothing extra either way. */
        char buf[8];
        size_t len;
        check_err(tern_recv(r.rep, buf, sizeof buf, &len, TERN_DONTWAIT), TERN_EAGAIN);
        rr_teardown(&r);
    }
}

/* Multipart requests and replies keep every part, including empty ones
 * (an empty first body part must not be taken for the delimiter). */
struct shape {
    size_t nparts;
    size_t sizes[6];
};

static const struct shape shapes[] = {
    {1, {0}},        {1, {1}},          {3, {0, 5, 0}},     {2, {0, 0}},
    {2, {255, 256}}, {4, {1, 0, 1, 0}}, {3, {7, 65536, 3}}, {6, {0, 1, 2, 3, 4, 5}},
    {1, {1u << 20}},
};
#define NSHAPES (sizeof shapes / sizeof shapes[0])

static void test_multipart(void **state)
{
    int tr = mt_tr_of(state);
    struct rr r;
    rr_setup(&r, tr, false);
    for (size_t i = 0; i < NSHAPES; i++) {
        const struct shape *q = &shapes[i], *a = &shapes[(i + 3) % NSHAPES];
        mt_send_parts(r.req, q->nparts, q->sizes, 100 + (uint32_t)i);
        mt_recv_parts(r.rep, q->nparts, q->sizes, 100 + (uint32_t)i);
        mt_send_parts(r.rep, a->nparts, a->sizes, 500 + (uint32_t)i);
        mt_recv_parts(r.req, a->nparts, a->sizes, 500 + (uint32_t)i);
    }
    rr_teardown(&r);
}

/* ---- several clients at once ------------------------------------------ */

struct client {
    tern_socket req;
    uint32_t tag;
    int n;
    int done;
    char err[256];
};

static void *client_main(void *arg)
{
    struct client *c = arg;
    for (int i = 0; i < c->n; i++) {
        tern_err e =
            mt_send_seq_try(c->req, c->tag, (uint64_t)i, (size_t)(c->tag * 13 + i) % 64, 0);
        if (e != TERN_OK) {
            snprintf(c->err, sizeof c->err, "client %u: send %d: %s", c->tag, i, tern_errname(e));
            return NULL;
        }
        tern_msg *m = NULL;
        e = tern_msg_recv(c->req, &m, 0);
        if (e != TERN_OK) {
            snprintf(c->err, sizeof c->err, "client %u: recv %d: %s", c->tag, i, tern_errname(e));
            return NULL;
        }
        uint32_t tag;
        uint64_t seq;
        bool ok = tern_msg_parts(m) == 2 && mt_part_is(m, 0, "re", 2) &&
                  mt_parse_seq(tern_msg_data(m, 1), tern_msg_size(m, 1), &tag, &seq) &&
                  tag == c->tag && seq == (uint64_t)i;
        if (!ok) {
            char got[256];
            snprintf(c->err, sizeof c->err, "client %u, request %d: wrong reply %s", c->tag, i,
                     mt_msg_describe(m, got, sizeof got));
            tern_msg_free(m);
            return NULL;
        }
        tern_msg_free(m);
        c->done++;
    }
    return NULL;
}

static void test_concurrent_clients(void **state)
{
    int tr = mt_tr_of(state);
    enum { NCLIENT = 5, PER = 100 };
    tern_ctx *ctx = mt_ctx();
    tern_socket rep = mt_open(ctx, TERN_REP);
    char ep[MT_EP_MAX];
    mt_bind_fresh(rep, tr, ep, sizeof ep);
    struct client cl[NCLIENT];
    pthread_t th[NCLIENT];
    memset(cl, 0, sizeof cl);
    for (int i = 0; i < NCLIENT; i++) {
        cl[i].req = mt_open(ctx, TERN_REQ);
        cl[i].tag = 10 + (uint32_t)i;
        cl[i].n = PER;
        mt_connect(cl[i].req, ep);
    }
    mt_wait_peers(rep, NCLIENT);
    for (int i = 0; i < NCLIENT; i++)
        assert_int_equal(pthread_create(&th[i], NULL, client_main, &cl[i]), 0);
    /* Serve every request: reply = ["re"][the request]. */
    int served[NCLIENT] = {0};
    for (int k = 0; k < NCLIENT * PER; k++) {
        tern_msg *m = NULL;
        tern_err e = tern_msg_recv(rep, &m, 0);
        if (e != TERN_OK) {
            for (int i = 0; i < NCLIENT; i++)
                if (cl[i].err[0])
                    printf("    %s\n", cl[i].err);
            fail_msg("REP: request %d of %d: %s", k, NCLIENT * PER, tern_errname(e));
        }
        assert_int_equal(tern_msg_parts(m), 1);
        uint32_t tag;
        uint64_t seq;
        assert_true(mt_parse_seq(tern_msg_data(m, 0), tern_msg_size(m, 0), &tag, &seq));
        assert_in_range(tag, 10, 10 + NCLIENT - 1);
        assert_int_equal(seq, (uint64_t)served[tag - 10]);
        served[tag - 10]++;
        tern_msg *reply = NULL;
        check_ok(tern_msg_new(&reply));
        check_ok(tern_msg_append(reply, "re", 2));
        check_ok(tern_msg_append(reply, tern_msg_data(m, 0), tern_msg_size(m, 0)));
        tern_msg_free(m);
        mt_msg_send(rep, reply, 0);
    }
    for (int i = 0; i < NCLIENT; i++) {
        assert_true(mt_join(th[i], 20000));
        if (cl[i].err[0])
            fail_msg("%s", cl[i].err);
        assert_int_equal(cl[i].done, PER);
        assert_int_equal(served[i], PER);
    }
    for (int i = 0; i < NCLIENT; i++)
        check_ok(tern_socket_close(cl[i].req));
    check_ok(tern_socket_close(rep));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

/* ---- lockstep ---------------------------------------------------------- */

/* Calls that break REQ's or REP's order fail at once with TERN_ESTATE
 * (even when they would otherwise block) and change nothing. */
static void test_lockstep(void **state)
{
    int tr = mt_tr_of(state);
    struct rr r;
    rr_setup(&r, tr, false);
    char buf[32];
    size_t len;
    tern_msg *m = NULL;
    int64_t t0 = mt_now_ms();

    /* REQ receives before any request; REP sends before any request. */
    check_err(tern_recv(r.req, buf, sizeof buf, &len, 0), TERN_ESTATE);
    check_err(tern_msg_recv(r.req, &m, TERN_DONTWAIT), TERN_ESTATE);
    check_err(tern_send(r.rep, "nope", 4, 0), TERN_ESTATE);
    tern_msg *orphan = NULL;
    check_ok(tern_msg_new(&orphan));
    check_ok(tern_msg_append(orphan, "nope", 4));
    check_err(tern_msg_send(r.rep, orphan, 0), TERN_ESTATE);
    tern_msg_free(orphan); /* still ours after an error */

    for (int round = 0; round < 3; round++) {
        send_num(r.req, "q", round);
        /* A second request before the reply. */
        check_err(tern_send(r.req, "q-again", 7, 0), TERN_ESTATE);
        check_err(tern_send(r.req, "q-again", 7, TERN_DONTWAIT), TERN_ESTATE);
        tern_msg *again = NULL;
        check_ok(tern_msg_new(&again));
        check_ok(tern_msg_append(again, "q-again", 7));
        check_err(tern_msg_send(r.req, again, 0), TERN_ESTATE);
        tern_msg_free(again);

        recv_num(r.rep, "q", round);
        /* A second receive before replying. */
        check_err(tern_recv(r.rep, buf, sizeof buf, &len, 0), TERN_ESTATE);
        send_num(r.rep, "a", round);
        /* A second reply. */
        check_err(tern_send(r.rep, "a-again", 7, 0), TERN_ESTATE);
        recv_num(r.req, "a", round);
        /* A second receive of the reply. */
        check_err(tern_recv(r.req, buf, sizeof buf, &len, 0), TERN_ESTATE);
    }
    /* None of the refused calls waited. */
    assert_true(mt_now_ms() - t0 < 5000);
    /* The refused request never reached the server. */
    check_err(tern_recv(r.rep, buf, sizeof buf, &len, TERN_DONTWAIT), TERN_EAGAIN);
    rr_teardown(&r);
}

/* ---- timeouts ---------------------------------------------------------- */

/* Default REQ: a receive that times out leaves the request outstanding:
 * sending stays refused and the reply, when it comes, is received. */
static void test_timeout_stays_lockstep(void **state)
{
    int tr = mt_tr_of(state);
    struct rr r;
    rr_setup(&r, tr, false);
    mt_setopt(r.req, TERN_OPT_RCVTIMEO, 200);
    MT_SEND(r.req, "q1");
    MT_RECV(r.rep, "q1");
    char buf[32];
    size_t len;
    int64_t t0 = mt_now_ms();
    check_err(tern_recv(r.req, buf, sizeof buf, &len, 0), TERN_ETIMEDOUT);
    int64_t dt = mt_now_ms() - t0;
    assert_true(dt >= 150 && dt < 5000);
    check_err(tern_send(r.req, "q2", 2, 0), TERN_ESTATE);
    MT_SEND(r.rep, "a1");
    mt_setopt(r.req, TERN_OPT_RCVTIMEO, MT_IO_TIMEOUT_MS);
    MT_RECV(r.req, "a1");
    MT_SEND(r.req, "q3");
    MT_RECV(r.rep, "q3");
    MT_SEND(r.rep, "a3");
    MT_RECV(r.req, "a3");
    rr_teardown(&r);
}

/* The abandoned-request scenario: q1 times out, q2 goes out, then the
 * server answers q1 late and q2 on time, in that order on one pipe. */
static void abandon_scenario(struct rr *r)
{
    mt_setopt(r->req, TERN_OPT_RCVTIMEO, 200);
    MT_SEND(r->req, "q1");
    MT_RECV(r->rep, "q1");
    char buf[32];
    size_t len;
    int64_t t0 = mt_now_ms();
    check_err(tern_recv(r->req, buf, sizeof buf, &len, 0), TERN_ETIMEDOUT);
    int64_t dt = mt_now_ms() - t0;
    assert_true(dt >= 150 && dt < 5000);
    /* Relaxed: a new request may go out now. */
    MT_SEND(r->req, "q2");
    MT_SEND(r->rep, "late-a1");
    MT_RECV(r->rep, "q2");
    MT_SEND(r->rep, "a2");
    mt_setopt(r->req, TERN_OPT_RCVTIMEO, MT_IO_TIMEOUT_MS);
    /* The late reply to q1 is never returned. */
    MT_RECV(r->req, "a2");
    for (int i = 0; i < 20; i++) {
        send_num(r->req, "q-next-", i);
        recv_num(r->rep, "q-next-", i);
        send_num(r->rep, "a-next-", i);
        recv_num(r->req, "a-next-", i);
    }
}

static void test_timeout_relaxed_correlate(void **state)
{
    int tr = mt_tr_of(state);
    struct rr r;
    rr_setup(&r, tr, false);
    mt_setopt(r.req, TERN_OPT_REQ_RELAXED, 1);
    mt_setopt(r.req, TERN_OPT_REQ_CORRELATE, 1);
    abandon_scenario(&r);
    /* Two abandoned requests in a row, each answered late. */
    mt_setopt(r.req, TERN_OPT_RCVTIMEO, 100);
    char buf[32];
    size_t len;
    MT_SEND(r.req, "x1");
    check_err(tern_recv(r.req, buf, sizeof buf, &len, 0), TERN_ETIMEDOUT);
    MT_SEND(r.req, "x2");
    check_err(tern_recv(r.req, buf, sizeof buf, &len, 0), TERN_ETIMEDOUT);
    MT_SEND(r.req, "x3");
    MT_RECV(r.rep, "x1");
    MT_SEND(r.rep, "late-x1");
    MT_RECV(r.rep, "x2");
    MT_SEND(r.rep, "late-x2");
    MT_RECV(r.rep, "x3");
    MT_SEND(r.rep, "ax3");
    mt_setopt(r.req, TERN_OPT_RCVTIMEO, MT_IO_TIMEOUT_MS);
    MT_RECV(r.req, "ax3");
    check_err(tern_recv(r.req, buf, sizeof buf, &len, TERN_DONTWAIT), TERN_ESTATE);
    rr_teardown(&r);
}

/* msg.h: TERN_OPT_REQ_RELAXED alone "lets a new request be sent before
 * the last one's reply came; the old request is abandoned and its late
 * reply discarded". */
static void test_timeout_relaxed_only(void **state)
{
    int tr = mt_tr_of(state);
    struct rr r;
    rr_setup(&r, tr, false);
    mt_setopt(r.req, TERN_OPT_REQ_RELAXED, 1);
    abandon_scenario(&r);
    rr_teardown(&r);
}

/* ---- lazy pirate --------------------------------------------------------- */

struct server {
    tern_socket rep;
    const char *prefix;
    atomic_int stop;
    int served;
    char err[200];
};

/* Answers every request with prefix + body until told to stop. */
static void *server_main(void *arg)
{
    struct server *sv = arg;
    tern_setopt_int(sv->rep, TERN_OPT_RCVTIMEO, 20);
    while (!atomic_load(&sv->stop)) {
        char body[256];
        size_t len = 0;
        tern_err e = tern_recv(sv->rep, body, sizeof body, &len, 0);
        if (e == TERN_ETIMEDOUT)
            continue;
        if (e != TERN_OK || len > 200) {
            snprintf(sv->err, sizeof sv->err, "server %s: recv: %s", sv->prefix, tern_errname(e));
            return NULL;
        }
        char reply[256];
        int n = snprintf(reply, sizeof reply, "%s%.*s", sv->prefix, (int)len, body);
        e = tern_send(sv->rep, reply, (size_t)n, 0);
        if (e != TERN_OK) {
            snprintf(sv->err, sizeof sv->err, "server %s: send: %s", sv->prefix, tern_errname(e));
            return NULL;
        }
        sv->served++;
    }
    return NULL;
}

/* Two servers: A takes requests and never answers, B answers. A REQ with
 * a resend interval gets every reply, from B. */
static void test_resend_lazy_pirate(void **state)
{
    int tr = mt_tr_of(state);
    enum { N = 8 };
    tern_ctx *ctx = mt_ctx();
    tern_socket a = mt_open(ctx, TERN_REP);
    tern_socket b = mt_open(ctx, TERN_REP);
    tern_socket req = mt_open(ctx, TERN_REQ);
    char ea[MT_EP_MAX], eb[MT_EP_MAX];
    mt_bind_fresh(a, tr, ea, sizeof ea);
    mt_bind_fresh(b, tr, eb, sizeof eb);
    mt_setopt(req, TERN_OPT_REQ_RESEND_IVL, 100);
    mt_connect(req, ea);
    mt_connect(req, eb);
    mt_wait_peers(req, 2);
    mt_wait_peers(a, 1);
    mt_wait_peers(b, 1);
    struct server sv = {.rep = b, .prefix = "B:"};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, server_main, &sv), 0);
    for (int i = 0; i < N; i++) {
        char q[32], want[32];
        snprintf(q, sizeof q, "req-%d", i);
        snprintf(want, sizeof want, "B:req-%d", i);
        int64_t t0 = mt_now_ms();
        MT_SEND(req, q);
        tern_msg *m = NULL;
        tern_err e = tern_msg_recv(req, &m, 0);
        if (e != TERN_OK) {
            atomic_store(&sv.stop, 1);
            mt_join(t, 5000);
            fail_msg("request %d: no reply: %s (%s)", i, tern_errname(e), sv.err);
        }
        char got[128];
        if (!mt_msg_is_strs(m, 1, MT_STRS(want))) {
            mt_msg_describe(m, got, sizeof got);
            tern_msg_free(m);
            atomic_store(&sv.stop, 1);
            mt_join(t, 5000);
            fail_msg("request %d: reply %s, expected [%s]", i, got, want);
        }
        tern_msg_free(m);
        /* One resend at most: well under the 10 s receive limit. */
        assert_true(mt_now_ms() - t0 < 5000);
    }
    atomic_store(&sv.stop, 1);
    assert_true(mt_join(t, 5000));
    if (sv.err[0])
        fail_msg("%s", sv.err);
    assert_true(sv.served >= N);
    /* A was asked at least once (round-robin), and sat on it. */
    char buf[64];
    size_t len = 0;
    check_ok(tern_recv(a, buf, sizeof buf, &len, TERN_DONTWAIT));
    assert_true(len > 4 && memcmp(buf, "req-", 4) == 0);
    mt_close_lossy(req);
    mt_close_lossy(a);
    mt_close_lossy(b);
    tern_ctx_close(ctx);
    mt_unlink_ipc(ea);
    mt_unlink_ipc(eb);
}

/* With a resend interval, a server that takes a request and then goes
 * away does not stall the client: the request goes to the other one at
 * once, without waiting for the interval. */
static void test_resend_server_dies(void **state)
{
    int tr = mt_tr_of(state);
    tern_ctx *ctx = mt_ctx();
    tern_socket a = mt_open(ctx, TERN_REP);
    tern_socket b = mt_open(ctx, TERN_REP);
    tern_socket req = mt_open(ctx, TERN_REQ);
    char ea[MT_EP_MAX], eb[MT_EP_MAX];
    mt_bind_fresh(a, tr, ea, sizeof ea);
    mt_bind_fresh(b, tr, eb, sizeof eb);
    mt_setopt(req, TERN_OPT_REQ_RESEND_IVL, 3000);
    mt_connect(req, ea);
    mt_connect(req, eb);
    mt_wait_peers(req, 2);
    mt_wait_peers(a, 1);
    mt_wait_peers(b, 1);
    struct server sv = {.rep = b, .prefix = "B:"};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, server_main, &sv), 0);
    mt_setopt(a, TERN_OPT_RCVTIMEO, 100);
    /* Send until a request lands on A (round-robin: within two). While
     * the REQ does not receive, nothing is resent. */
    int on_a = -1;
    for (int i = 0; i < 4 && on_a < 0; i++) {
        send_num(req, "q", i);
        char buf[32];
        size_t len;
        tern_err e = tern_recv(a, buf, sizeof buf, &len, 0);
        if (e == TERN_OK) {
            on_a = i;
            break;
        }
        check_err(e, TERN_ETIMEDOUT);
        recv_num(req, "B:q", i);
    }
    assert_true(on_a >= 0);
    mt_close_lossy(a);
    /* The copy goes to B long before the 3 s interval. */
    int64_t t0 = mt_now_ms();
    recv_num(req, "B:q", on_a);
    int64_t dt = mt_now_ms() - t0;
    printf("    reply %lld ms after the server holding the request closed\n", (long long)dt);
    assert_true(dt < 2500);
    atomic_store(&sv.stop, 1);
    assert_true(mt_join(t, 5000));
    if (sv.err[0])
        fail_msg("%s", sv.err);
    mt_close_lossy(req);
    mt_close_lossy(b);
    tern_ctx_close(ctx);
    mt_unlink_ipc(ea);
    mt_unlink_ipc(eb);
}

/* ---- peers going away --------------------------------------------------- */

/* Lockstep REQ (no resend) whose server goes away while it waits: the
 * receive fails with TERN_EHOSTUNREACH (not a timeout), and the socket
 * can send again, to a server that binds the endpoint anew. */
static void test_peer_gone_ehostunreach(void **state)
{
    int tr = mt_tr_of(state);
    struct rr r;
    rr_setup(&r, tr, false);
    MT_SEND(r.req, "q1");
    MT_RECV(r.rep, "q1");
    check_ok(tern_socket_close(r.rep));
    char buf[32];
    size_t len;
    int64_t t0 = mt_now_ms();
    check_err(tern_recv(r.req, buf, sizeof buf, &len, 0), TERN_EHOSTUNREACH);
    assert_true(mt_now_ms() - t0 < MT_IO_TIMEOUT_MS / 2);
    /* Not waiting any more: a receive is out of turn, a send is fine. */
    check_err(tern_recv(r.req, buf, sizeof buf, &len, TERN_DONTWAIT), TERN_ESTATE);
    r.rep = mt_open(r.ctx, TERN_REP);
    mt_bind_retry(r.rep, r.ep);
    MT_SEND(r.req, "q2");
    MT_RECV(r.rep, "q2");
    MT_SEND(r.rep, "a2");
    MT_RECV(r.req, "a2");
    rr_teardown(&r);
}

/* A REP whose requester left: the reply is dropped (counted), the send
 * succeeds, and the server goes on with the next client. */
static void test_requester_gone(void **state)
{
    int tr = mt_tr_of(state);
    struct rr r;
    rr_setup(&r, tr, false);
    MT_SEND(r.req, "q1");
    MT_RECV(r.rep, "q1");
    check_ok(tern_socket_close(r.req));
    mt_wait_peers_cmp(r.rep, '=', 0, MT_IO_TIMEOUT_MS);
    uint64_t drops0 = mt_stats(r.rep).drops;
    check_ok(tern_send(r.rep, "a1", 2, 0));
    assert_int_equal(mt_stats(r.rep).drops, drops0 + 1);
    r.req = mt_open(r.ctx, TERN_REQ);
    mt_connect(r.req, r.ep);
    MT_SEND(r.req, "q2");
    MT_RECV(r.rep, "q2");
    MT_SEND(r.rep, "a2");
    MT_RECV(r.req, "a2");
    rr_teardown(&r);
}

/* ---- REP driven by a DEALER ---------------------------------------------- */

static void test_rep_via_dealer(void **state)
{
    int tr = mt_tr_of(state);
    tern_ctx *ctx = mt_ctx();
    tern_socket rep = mt_open(ctx, TERN_REP);
    tern_socket dealer = mt_open(ctx, TERN_DEALER);
    char ep[MT_EP_MAX];
    mt_bind_fresh(rep, tr, ep, sizeof ep);
    mt_connect(dealer, ep);
    mt_wait_peers(dealer, 1);
    mt_wait_peers(rep, 1);

    MT_SEND(dealer, "", "body");
    MT_RECV(rep, "body");
    MT_SEND(rep, "reply");
    MT_RECV(dealer, "", "reply");

    /* Multipart both ways. */
    MT_SEND(dealer, "", "a", "", "b");
    MT_RECV(rep, "a", "", "b");
    MT_SEND(rep, "x", "y", "z");
    MT_RECV(dealer, "", "x", "y", "z");

    /* A longer envelope (as a ROUTER hop would add) comes back whole. */
    MT_SEND(dealer, "hop2", "hop1", "", "body2");
    MT_RECV(rep, "body2");
    MT_SEND(rep, "r2");
    MT_RECV(dealer, "hop2", "hop1", "", "r2");

    /* Several requests queued at once are answered in turn. */
    for (int i = 0; i < 10; i++) {
        char b[16];
        snprintf(b, sizeof b, "n%d", i);
        MT_SEND(dealer, "", b);
    }
    for (int i = 0; i < 10; i++) {
        char b[16], a[16];
        snprintf(b, sizeof b, "n%d", i);
        snprintf(a, sizeof a, "r%d", i);
        MT_RECV(rep, b);
        MT_SEND(rep, a);
        MT_RECV(dealer, "", a);
    }
    check_ok(tern_socket_close(dealer));
    check_ok(tern_socket_close(rep));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

/* A request without an envelope delimiter is dropped (counted); the next
 * well-formed one is served. */
static void test_rep_drops_malformed(void **state)
{
    int tr = mt_tr_of(state);
    tern_ctx *ctx = mt_ctx();
    tern_socket rep = mt_open(ctx, TERN_REP);
    tern_socket dealer = mt_open(ctx, TERN_DEALER);
    char ep[MT_EP_MAX];
    mt_bind_fresh(rep, tr, ep, sizeof ep);
    mt_connect(dealer, ep);
    mt_wait_peers(dealer, 1);
    mt_wait_peers(rep, 1);
    MT_SEND(dealer, "no-delimiter");
    MT_SEND(dealer, "still", "none");
    MT_SEND(dealer, "", "good");
    MT_RECV(rep, "good");
    assert_int_equal(mt_stats(rep).drops, 2);
    assert_int_equal(mt_stats(rep).msgs_in, 1);
    MT_SEND(rep, "ok");
    MT_RECV(dealer, "", "ok");
    check_ok(tern_socket_close(dealer));
    check_ok(tern_socket_close(rep));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

/* tern_poll wakes a REP when a request is waiting and a REQ when its
 * reply is; a REP that owes a reply is not readable even with another
 * request queued. */
static short poll_one(tern_socket s, short events, int64_t timeout_ms)
{
    tern_pollitem it;
    memset(&it, 0, sizeof it);
    it.socket = s;
    it.events = events;
    size_t n = 0;
    check_ok(tern_poll(&it, 1, timeout_ms, &n));
    assert_int_equal(n, it.revents ? 1 : 0);
    return it.revents;
}

static void test_poll_readiness(void **state)
{
    int tr = mt_tr_of(state);
    struct rr r;
    rr_setup(&r, tr, false);
    tern_socket req2 = mt_open(r.ctx, TERN_REQ);
    mt_connect(req2, r.ep);
    mt_wait_peers(r.rep, 2);
    assert_int_equal(poll_one(r.rep, TERN_POLLIN, 0), 0);
    assert_int_equal(poll_one(r.req, TERN_POLLIN, 0), 0);
    MT_SEND(r.req, "q1");
    MT_SEND(req2, "q2");
    assert_true(poll_one(r.rep, TERN_POLLIN, MT_IO_TIMEOUT_MS) & TERN_POLLIN);
    tern_msg *m = mt_recv_msg(r.rep);
    bool first_is_q1 = mt_part_is(m, 0, "q1", 2);
    assert_true(first_is_q1 || mt_part_is(m, 0, "q2", 2));
    tern_msg_free(m);
    /* The other request is queued, but the REP owes a reply first. */
    mt_sleep_ms(50);
    assert_int_equal(poll_one(r.rep, TERN_POLLIN, 0), 0);
    assert_true(poll_one(r.rep, TERN_POLLOUT, 0) & TERN_POLLOUT);
    tern_socket asker = first_is_q1 ? r.req : req2, other = first_is_q1 ? req2 : r.req;
    MT_SEND(r.rep, "a-first");
    assert_true(poll_one(asker, TERN_POLLIN, MT_IO_TIMEOUT_MS) & TERN_POLLIN);
    MT_RECV(asker, "a-first");
    assert_int_equal(poll_one(other, TERN_POLLIN, 0), 0);
    assert_true(poll_one(r.rep, TERN_POLLIN, MT_IO_TIMEOUT_MS) & TERN_POLLIN);
    MT_RECV(r.rep, first_is_q1 ? "q2" : "q1");
    MT_SEND(r.rep, "a-second");
    assert_true(poll_one(other, TERN_POLLIN, MT_IO_TIMEOUT_MS) & TERN_POLLIN);
    MT_RECV(other, "a-second");
    check_ok(tern_socket_close(req2));
    rr_teardown(&r);
}

int main(void)
{
    mt_test_filter_from_env();
    const struct CMUnitTest tests[] = {
        MT_PER_TRANSPORT(test_roundtrips),
        MT_PER_TRANSPORT(test_multipart),
        MT_PER_TRANSPORT(test_concurrent_clients),
        MT_PER_TRANSPORT(test_lockstep),
        MT_PER_TRANSPORT(test_timeout_stays_lockstep),
        MT_PER_TRANSPORT(test_timeout_relaxed_correlate),
        MT_PER_TRANSPORT(test_timeout_relaxed_only),
        MT_PER_TRANSPORT(test_resend_lazy_pirate),
        MT_PER_TRANSPORT(test_resend_server_dies),
        MT_PER_TRANSPORT(test_peer_gone_ehostunreach),
        MT_PER_TRANSPORT(test_requester_gone),
        MT_PER_TRANSPORT(test_rep_via_dealer),
        MT_PER_TRANSPORT(test_rep_drops_malformed),
        MT_PER_TRANSPORT(test_poll_readiness),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
