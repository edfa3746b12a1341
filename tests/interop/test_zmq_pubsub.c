/* tern PUB/SUB/XPUB/XSUB against libzmq (Debian libzmq3-dev, 4.3.x), over
 * tcp and ipc, with either side binding:
 *  - tern PUB -> libzmq SUB and libzmq PUB -> tern SUB: prefix filtering
 *    (a topic nobody subscribed to never arrives, and a tern PUB does not
 *    even send it), multipart messages, counted subscriptions,
 *    unsubscribe;
 *  - subscriptions forwarded both ways: a libzmq XPUB sees a tern SUB's
 *    subscribe and cancel as "\x01t" / "\x00t", a tern XPUB sees libzmq
 *    SUBs' (first subscribe and last cancel only, or all of them with
 *    TERN_OPT_XPUB_VERBOSE; a SUB that leaves has its topics cancelled);
 *  - libzmq XSUB <-> tern XPUB and tern XSUB <-> libzmq XPUB, including
 *    plain messages going upstream;
 *  - a libzmq zmq_proxy (XSUB/XPUB) in a thread between a tern PUB and
 *    tern SUBs, and a tern_proxy (XSUB/XPUB) between a libzmq PUB and
 *    libzmq SUBs. */
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
    char ep[4][MT_EP_MAX];
    int neps;
};

static void env_open(struct env *e)
{
    memset(e, 0, sizeof *e);
    e->ctx = mt_ctx();
    e->zctx = zmq_ctx_new();
    assert_non_null(e->zctx);
}

static void env_close(struct env *e)
{
    zmq_ctx_term(e->zctx);
    tern_ctx_close(e->ctx);
    for (int i = 0; i < e->neps; i++)
        mt_unlink_ipc(e->ep[i]);
}

/* Connects t and z; the binding side gets a fresh endpoint. */
static void link_up(struct env *e, const struct combo *c, tern_socket t, void *z)
{
    assert_true(e->neps < 4);
    char *ep = e->ep[e->neps++];
    if (c->tern_binds) {
        mt_bind_fresh(t, c->tr, ep, MT_EP_MAX);
        zt_check(zmq_connect(z, ep), "zmq_connect");
    } else {
        zt_bind_fresh(z, c->tr, ep, MT_EP_MAX);
        mt_connect(t, ep);
    }
}

static void close_tern(tern_socket t)
{
    mt_setopt(t, TERN_OPT_LINGER, 0);
    check_ok(tern_socket_close(t));
}

static void zt_sub(void *z, const char *topic)
{
    zt_check(zmq_setsockopt(z, ZMQ_SUBSCRIBE, topic, strlen(topic)), "ZMQ_SUBSCRIBE");
}

static void zt_unsub(void *z, const char *topic)
{
    zt_check(zmq_setsockopt(z, ZMQ_UNSUBSCRIBE, topic, strlen(topic)), "ZMQ_UNSUBSCRIBE");
}

static void tn_sub(tern_socket t, const char *topic)
{
    check_ok(tern_setopt_bytes(t, TERN_OPT_SUBSCRIBE, topic, strlen(topic)));
}

static void tn_unsub(tern_socket t, const char *topic)
{
    check_ok(tern_setopt_bytes(t, TERN_OPT_UNSUBSCRIBE, topic, strlen(topic)));
}

/* A subscription message: flag byte then topic. */
static struct zt_part sub_msg(char *buf, size_t cap, int on, const char *topic)
{
    size_t len = strlen(topic);
    assert_true(len + 1 <= cap);
    buf[0] = (char)on;
    memcpy(buf + 1, topic, len);
    return (struct zt_part){buf, len + 1};
}

/* The one peer of a tern publisher. */
static tern_peer_stats only_peer(tern_socket pub)
{
    tern_peer_stats ps[4];
    size_t n = 0;
    check_ok(tern_socket_peers(pub, ps, 4, &n));
    assert_int_equal(n, 1);
    return ps[0];
}

/* libzmq PUB -> receiver: publishes "<topic>~sync" until one arrives (the
 * subscription has reached the publisher), then "<topic>~synced", and
 * discards every sync message before it. recv_one returns 1 for a sync
 * message, 2 for the final one, 0 if nothing came within ms. */
typedef int recv_sync_fn(void *arg, int ms);

static void sync_from_zpub(void *zpub, const char *topic, recv_sync_fn *recv_one, void *arg)
{
    char sync[64], done[64];
    snprintf(sync, sizeof sync, "%s~sync", topic);
    snprintf(done, sizeof done, "%s~synced", topic);
    int64_t deadline = mt_now_ms() + MT_IO_TIMEOUT_MS;
    for (;;) {
        zt_send_str(zpub, sync);
        if (recv_one(arg, 20) == 1)
            break;
        if (mt_now_ms() > deadline)
            fail_msg("no \"%s\" message reached the subscriber in %d ms", sync, MT_IO_TIMEOUT_MS);
    }
    zt_send_str(zpub, done);
    for (;;) {
        int r = recv_one(arg, MT_IO_TIMEOUT_MS);
        if (r == 2)
            return;
        if (r == 0)
            fail_msg("\"%s\" never reached the subscriber", done);
    }
}

static int classify_sync(const void *d, size_t len)
{
    if (len >= 7 && memcmp((const char *)d + len - 7, "~synced", 7) == 0)
        return 2;
    if (len >= 5 && memcmp((const char *)d + len - 5, "~sync", 5) == 0)
        return 1;
    fail_msg("a non-sync message of %zu bytes arrived while synchronising", len);
    return 0;
}

static int recv_sync_tern(void *arg, int ms)
{
    tern_socket t = *(tern_socket *)arg;
    tern_pollitem it = {.socket = t, .events = TERN_POLLIN};
    int64_t deadline = mt_now_ms() + ms;
    for (;;) {
        char buf[128];
        size_t len = 0;
        tern_err e = tern_recv(t, buf, sizeof buf, &len, TERN_DONTWAIT);
        if (e == TERN_OK)
            return classify_sync(buf, len);
        if (e != TERN_EAGAIN)
            fail_msg("tern receive failed: %s", tern_errname(e));
        int64_t left = deadline - mt_now_ms();
        if (left <= 0)
            return 0;
        check_ok(tern_poll(&it, 1, left, NULL));
    }
}

static int recv_sync_zmq(void *arg, int ms)
{
    zmq_pollitem_t it = {arg, 0, ZMQ_POLLIN, 0};
    int rc = zmq_poll(&it, 1, ms);
    zt_check(rc, "zmq_poll");
    if (rc == 0)
        return 0;
    struct zt_msg m;
    zt_recv_msg(arg, &m);
    assert_int_equal(m.n, 1);
    int r = classify_sync(m.data[0], m.len[0]);
    zt_msg_clear(&m);
    return r;
}

/* ---- PUB and SUB ------------------------------------------------------ */

/* tern PUB -> libzmq SUB. */
static void test_tern_pub_zmq_sub(void **state)
{
    const struct combo *c = *state;
    struct env e;
    env_open(&e);
    tern_socket pub = mt_open(e.ctx, TERN_PUB);
    void *sub = zt_socket(e.zctx, ZMQ_SUB);
    zt_sub(sub, "A.");
    zt_sub(sub, "C.");
    link_up(&e, c, pub, sub);
    mt_wait_peers(pub, 1);
    zt_tern_wait_subs(pub, 2, sub);
    assert_int_equal(only_peer(pub).type, TERN_SUB);

    /* The same sends through tern_send and tern_msg_send. */
    for (int via_msg = 0; via_msg < 2; via_msg++) {
        static const char *const topics[] = {"B.0", "A.1", "Ax",  "C.1", "",
                                             "B.2", "A",   "A.2", "c.3", "C.3"};
        for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++) {
            if (via_msg)
                zt_tern_send_str(pub, topics[i]);
            else
                check_ok(tern_send(pub, topics[i], strlen(topics[i]), 0));
        }
        const struct zt_part multi[] = {ZT_S("A.multi"), ZT_S(""), ZT_S("B.not-a-topic")};
        const struct zt_part multi_b[] = {ZT_S("B.multi"), ZT_S("A.")};
        zt_tern_sendv(pub, 2, multi_b);
        zt_tern_sendv(pub, 3, multi);
        zt_recv_str(sub, "A.1");
        zt_recv_str(sub, "C.1");
        zt_recv_str(sub, "A.2");
        zt_recv_str(sub, "C.3");
        zt_recvv(sub, 3, multi);
    }
    zt_expect_nothing(sub, 50);
    /* Filtered at the publisher: only matching messages went out. */
    assert_int_equal(only_peer(pub).msgs_out, 10);
    assert_int_equal(zt_tern_stats(pub).drops, 0);

    /* Unsubscribe "A.", then "C.". */
    zt_unsub(sub, "A.");
    zt_tern_wait_subs(pub, 1, sub);
    zt_tern_send_str(pub, "A.3");
    zt_tern_send_str(pub, "C.4");
    zt_recv_str(sub, "C.4");
    zt_unsub(sub, "C.");
    zt_tern_wait_subs(pub, 0, sub);
    zt_tern_send_str(pub, "C.5");
    /* The empty subscription: everything. */
    zt_sub(sub, "");
    zt_tern_wait_subs(pub, 1, sub);
    zt_tern_send_str(pub, "anything");
    zt_tern_send_str(pub, "");
    zt_recv_str(sub, "anything");
    zt_recv_str(sub, "");
    zt_expect_nothing(sub, 50);
    assert_int_equal(only_peer(pub).msgs_out, 13);

    zmq_close(sub);
    close_tern(pub);
    env_close(&e);
}

/* libzmq PUB -> tern SUB. */
static void test_zmq_pub_tern_sub(void **state)
{
    const struct combo *c = *state;
    struct env e;
    env_open(&e);
    tern_socket sub = mt_open(e.ctx, TERN_SUB);
    void *pub = zt_socket(e.zctx, ZMQ_PUB);
    tn_sub(sub, "A.");
    link_up(&e, c, sub, pub);
    mt_wait_peers(sub, 1);
    tn_sub(sub, "C."); /* after the handshake: sent at once */
    tn_sub(sub, "C.");
    sync_from_zpub(pub, "A.", recv_sync_tern, &sub);
    sync_from_zpub(pub, "C.", recv_sync_tern, &sub);

    static const char *const topics[] = {"B.0", "A.1", "Ax", "C.1", "", "B.2", "A.2", "c.3"};
    for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++)
        zt_send_str(pub, topics[i]);
    const struct zt_part multi[] = {ZT_S("A.multi"), ZT_S(""), ZT_S("B.x"), ZT_S("end")};
    const struct zt_part multi_b[] = {ZT_S("B.multi"), ZT_S("A.")};
    zt_sendv(pub, 2, multi_b);
    zt_sendv(pub, 4, multi);
    zt_send_str(pub, "C.end");
    zt_tern_recv_str(sub, "A.1");
    zt_tern_recv_str(sub, "C.1");
    zt_tern_recv_str(sub, "A.2");
    zt_tern_recvv(sub, 4, multi);
    zt_tern_recv_str(sub, "C.end");
    zt_tern_expect_nothing(sub, 50);

    /* Unsubscribing: "A." at once; "C." only after its second cancel. */
    tn_unsub(sub, "A.");
    tn_unsub(sub, "C.");
    check_err(tern_setopt_bytes(sub, TERN_OPT_UNSUBSCRIBE, "never", 5), TERN_ENOENT);
    zt_send_str(pub, "A.3");
    zt_send_str(pub, "C.2");
    zt_tern_recv_str(sub, "C.2");
    tn_sub(sub, "D.");
    tn_unsub(sub, "C.");
    sync_from_zpub(pub, "D.", recv_sync_tern, &sub);
    zt_send_str(pub, "A.4");
    zt_send_str(pub, "C.3");
    zt_send_str(pub, "D.1");
    zt_tern_recv_str(sub, "D.1");
    zt_tern_expect_nothing(sub, 50);
    assert_int_equal(zt_tern_stats(sub).drops, 0);

    zmq_close(pub);
    close_tern(sub);
    env_close(&e);
}

/* ---- subscriptions forwarded ------------------------------------------ */

/* A libzmq XPUB (verbose: it passes every subscribe up) sees what a tern
 * SUB subscribes to and cancels: every subscribe, and a cancel when the
 * SUB's last count of a topic goes (as a libzmq SUB does); and what it
 * publishes is filtered by tern. */
static void test_zmq_xpub_sees_tern_sub(void **state)
{
    const struct combo *c = *state;
    struct env e;
    env_open(&e);
    tern_socket sub = mt_open(e.ctx, TERN_SUB);
    void *xpub = zt_socket(e.zctx, ZMQ_XPUB);
    zt_setint(xpub, ZMQ_XPUB_VERBOSE, 1);
    tn_sub(sub, "early");
    link_up(&e, c, sub, xpub);
    mt_wait_peers(sub, 1);
    char b[64];
    struct zt_part m;
    m = sub_msg(b, sizeof b, 1, "early");
    zt_recvv(xpub, 1, &m);

    tn_sub(sub, "t1");
    m = sub_msg(b, sizeof b, 1, "t1");
    zt_recvv(xpub, 1, &m);
    /* Like libzmq's SUB, every subscribe goes up (the verbose XPUB sees
     * both), and a cancel only when the last count goes. */
    tn_sub(sub, "dup");
    tn_sub(sub, "dup");
    m = sub_msg(b, sizeof b, 1, "dup");
    zt_recvv(xpub, 1, &m);
    zt_recvv(xpub, 1, &m);
    tn_unsub(sub, "dup"); /* still subscribed once: nothing goes out */
    tn_unsub(sub, "t1");
    m = sub_msg(b, sizeof b, 0, "t1");
    zt_recvv(xpub, 1, &m);
    tn_unsub(sub, "dup");
    m = sub_msg(b, sizeof b, 0, "dup");
    zt_recvv(xpub, 1, &m);
    tn_sub(sub, "");
    m = sub_msg(b, sizeof b, 1, "");
    zt_recvv(xpub, 1, &m);
    tn_unsub(sub, "");
    m = sub_msg(b, sizeof b, 0, "");
    zt_recvv(xpub, 1, &m);
    zt_expect_nothing(xpub, 50);

    /* libzmq filters by what tern asked for. */
    zt_send_str(xpub, "t1 gone");
    zt_send_str(xpub, "dup gone");
    zt_send_str(xpub, "early bird");
    zt_tern_recv_str(sub, "early bird");
    zt_tern_expect_nothing(sub, 50);

    zmq_close(xpub);
    close_tern(sub);
    env_close(&e);
}

/* A tern XPUB sees libzmq SUBs' subscriptions: the first subscribe and
 * the last cancel of each topic (every one with TERN_OPT_XPUB_VERBOSE),
 * and a cancel for the topics of a SUB that goes away. */
static void test_tern_xpub_sees_zmq_sub(void **state)
{
    const struct combo *c = *state;
    for (int verbose = 0; verbose < 2; verbose++) {
        struct env e;
        env_open(&e);
        tern_socket xpub = mt_open(e.ctx, TERN_XPUB);
        if (verbose)
            mt_setopt(xpub, TERN_OPT_XPUB_VERBOSE, 1);
        void *s1 = zt_socket(e.zctx, ZMQ_SUB);
        void *s2 = zt_socket(e.zctx, ZMQ_SUB);
        zt_setint(s2, ZMQ_LINGER, 0);
        link_up(&e, c, xpub, s1);
        link_up(&e, c, xpub, s2);
        mt_wait_peers_cmp(xpub, '=', 2, MT_IO_TIMEOUT_MS);
        char b[64];
        struct zt_part m;

        zt_sub(s1, "t1");
        zt_tern_wait_subs(xpub, 1, s1);
        zt_pump(s2);
        m = sub_msg(b, sizeof b, 1, "t1");
        zt_tern_recvv(xpub, 1, &m);
        zt_sub(s2, "t1");
        zt_tern_wait_subs(xpub, 2, s2);
        if (verbose)
            zt_tern_recvv(xpub, 1, &m);
        zt_unsub(s1, "t1");
        zt_tern_wait_subs(xpub, 1, s1);
        if (verbose) {
            m = sub_msg(b, sizeof b, 0, "t1");
            zt_tern_recvv(xpub, 1, &m);
        }
        zt_tern_expect_nothing(xpub, 50);
        zt_unsub(s2, "t1");
        m = sub_msg(b, sizeof b, 0, "t1");
        zt_tern_recvv(xpub, 1, &m);
        zt_tern_wait_subs(xpub, 0, s2);

        /* Publishing follows the subscriptions. */
        zt_sub(s1, "x");
        zt_sub(s2, "y");
        zt_tern_wait_subs(xpub, 2, s1);
        m = sub_msg(b, sizeof b, 1, "x");
        struct zt_part m2;
        char b2[64];
        m2 = sub_msg(b2, sizeof b2, 1, "y");
        /* Two peers: their subscriptions may come in either order. */
        for (int k = 0; k < 2; k++) {
            tern_msg *got = NULL;
            check_ok(tern_msg_recv(xpub, &got, 0));
            char why[256];
            if (!zt_tern_msg_is(got, 1, &m, why, sizeof why) &&
                !zt_tern_msg_is(got, 1, &m2, why, sizeof why))
                fail_msg("tern XPUB received neither \\x01x nor \\x01y: %s", why);
            tern_msg_free(got);
        }
        zt_tern_send_str(xpub, "x1");
        zt_tern_send_str(xpub, "y1");
        zt_tern_send_str(xpub, "z1");
        zt_recv_str(s1, "x1");
        zt_recv_str(s2, "y1");

        /* s2 leaves: its "y" is cancelled upstream. */
        zmq_close(s2);
        m = sub_msg(b, sizeof b, 0, "y");
        zt_tern_recvv(xpub, 1, &m);
        mt_wait_peers_cmp(xpub, '=', 1, MT_IO_TIMEOUT_MS);
        zt_tern_expect_nothing(xpub, 50);
        zt_expect_nothing(s1, 0);

        zmq_close(s1);
        close_tern(xpub);
        env_close(&e);
    }
}

/* libzmq XSUB -> tern XPUB. */
static void test_zmq_xsub_tern_xpub(void **state)
{
    const struct combo *c = *state;
    struct env e;
    env_open(&e);
    tern_socket xpub = mt_open(e.ctx, TERN_XPUB);
    void *xsub = zt_socket(e.zctx, ZMQ_XSUB);
    link_up(&e, c, xpub, xsub);
    mt_wait_peers(xpub, 1);
    char b[64];
    struct zt_part m = sub_msg(b, sizeof b, 1, "topic");
    zt_sendv(xsub, 1, &m);
    zt_tern_recvv(xpub, 1, &m);
    zt_tern_wait_subs(xpub, 1, NULL);
    assert_int_equal(only_peer(xpub).type, TERN_XSUB);

    zt_tern_send_str(xpub, "other.1");
    zt_tern_send_str(xpub, "topic.1");
    const struct zt_part multi[] = {ZT_S("topic.2"), ZT_S("body")};
    zt_tern_sendv(xpub, 2, multi);
    zt_recv_str(xsub, "topic.1");
    zt_recvv(xsub, 2, multi);
    zt_expect_nothing(xsub, 50);
    assert_int_equal(only_peer(xpub).msgs_out, 2);

    /* A plain message goes upstream to the XPUB's application. */
    const struct zt_part up[] = {ZT_S("hello upstream"), ZT_S("part 2")};
    zt_sendv(xsub, 2, up);
    zt_tern_recvv(xpub, 2, up);

    m = sub_msg(b, sizeof b, 0, "topic");
    zt_sendv(xsub, 1, &m);
    zt_tern_recvv(xpub, 1, &m);
    zt_tern_wait_subs(xpub, 0, NULL);
    zt_tern_send_str(xpub, "topic.3");
    zt_expect_nothing(xsub, 50);
    zt_tern_expect_nothing(xpub, 0);

    zmq_close(xsub);
    close_tern(xpub);
    env_close(&e);
}

/* tern XSUB -> libzmq XPUB. */
static void test_tern_xsub_zmq_xpub(void **state)
{
    const struct combo *c = *state;
    struct env e;
    env_open(&e);
    tern_socket xsub = mt_open(e.ctx, TERN_XSUB);
    void *xpub = zt_socket(e.zctx, ZMQ_XPUB);
    link_up(&e, c, xsub, xpub);
    mt_wait_peers(xsub, 1);
    char b[64];
    struct zt_part m = sub_msg(b, sizeof b, 1, "topic");
    zt_tern_sendv(xsub, 1, &m);
    zt_recvv(xpub, 1, &m);

    zt_send_str(xpub, "other.1");
    zt_send_str(xpub, "topic.1");
    const struct zt_part multi[] = {ZT_S("topic.2"), ZT_S("body")};
    zt_sendv(xpub, 2, multi);
    zt_tern_recv_str(xsub, "topic.1");
    zt_tern_recvv(xsub, 2, multi);
    zt_tern_expect_nothing(xsub, 50);

    /* A plain message goes upstream to libzmq's application. */
    const struct zt_part up[] = {ZT_S("hello upstream"), ZT_S("part 2")};
    zt_tern_sendv(xsub, 2, up);
    zt_recvv(xpub, 2, up);

    m = sub_msg(b, sizeof b, 0, "topic");
    zt_tern_sendv(xsub, 1, &m);
    zt_recvv(xpub, 1, &m);
    zt_send_str(xpub, "topic.3");
    zt_tern_expect_nothing(xsub, 100);
    zt_expect_nothing(xpub, 0);

    zmq_close(xpub);
    close_tern(xsub);
    env_close(&e);
}

/* A libzmq SUB whose application subscribes to a topic twice sends
 * SUBSCRIBE twice but CANCEL only once, when its last local reference
 * goes (libzmq counts on the subscriber side; its publishers keep one
 * set per peer). After both unsubscribes the tern PUB must hold nothing
 * for that peer and send it nothing, and a tern XPUB must pass the cancel
 * up. Checked against libzmq's own XPUB first, as the reference. */
static void test_zmq_sub_double_subscribe(void **state)
{
    const struct combo *c = *state;
    char b[64];
    struct zt_part on = sub_msg(b, sizeof b, 1, "C."), off;
    char b2[64];
    off = sub_msg(b2, sizeof b2, 0, "C.");

    /* Reference: libzmq SUB -> libzmq XPUB. */
    {
        void *zctx = zmq_ctx_new();
        void *xpub = zt_socket(zctx, ZMQ_XPUB);
        void *sub = zt_socket(zctx, ZMQ_SUB);
        char ep[MT_EP_MAX];
        zt_bind_fresh(xpub, c->tr, ep, sizeof ep);
        zt_check(zmq_connect(sub, ep), "zmq_connect");
        zt_sub(sub, "C.");
        zt_sub(sub, "C.");
        zt_recvv(xpub, 1, &on);
        zt_unsub(sub, "C.");
        zt_unsub(sub, "C.");
        zt_recvv(xpub, 1, &off);
        zmq_close(sub);
        zmq_close(xpub);
        zmq_ctx_term(zctx);
    }

    char failed[2][400] = {"", ""};
    for (int x = 0; x < 2; x++) {
        struct env e;
        env_open(&e);
        tern_socket pub = mt_open(e.ctx, x ? TERN_XPUB : TERN_PUB);
        void *sub = zt_socket(e.zctx, ZMQ_SUB);
        link_up(&e, c, pub, sub);
        mt_wait_peers(pub, 1);
        /* "D." first, so that the SUB is attached (see zt_pump) and
         * sends both subscribes of "C." as they happen. */
        zt_sub(sub, "D.");
        zt_tern_wait_subs(pub, 1, sub);
        zt_sub(sub, "C.");
        zt_sub(sub, "C.");
        zt_tern_wait_subs(pub, 2, sub);
        if (x) {
            const struct zt_part d = ZT_S("\1D.");
            zt_tern_recvv(pub, 1, &d);
            zt_tern_recvv(pub, 1, &on);
        }
        zt_tern_send_str(pub, "C.1");
        zt_recv_str(sub, "C.1");
        zt_unsub(sub, "C.");
        zt_unsub(sub, "C.");
        /* "D." after "C." on the same connection: once the publisher
         * has dropped "D.", it has seen every cancel libzmq sent. */
        zt_unsub(sub, "D.");
        int64_t deadline = mt_now_ms() + MT_IO_TIMEOUT_MS;
        for (;;) {
            uint64_t before = only_peer(pub).msgs_out;
            zt_tern_send_str(pub, "D.probe");
            if (only_peer(pub).msgs_out == before)
                break; /* "D." is gone */
            /* (libzmq's SUB filters it out itself: nothing to read.) */
            if (mt_now_ms() > deadline)
                fail_msg("the tern publisher never saw libzmq cancel \"D.\"");
            mt_sleep_ms(5);
        }
        tern_peer_stats ps = only_peer(pub);
        uint64_t out0 = ps.msgs_out;
        zt_tern_send_str(pub, "C.2");
        uint64_t out1 = only_peer(pub).msgs_out;
        zt_expect_nothing(sub, 50);
        if (x) {
            /* The XPUB application hears both cancels, in order. */
            static const char *const want[] = {"\0C.", "\0D."};
            for (int k = 0; k < 2 && !failed[x][0]; k++) {
                tern_msg *m = NULL;
                tern_err err = tern_msg_recv(pub, &m, TERN_DONTWAIT);
                if (err != TERN_OK) {
                    snprintf(failed[x], sizeof failed[x],
                             "tern XPUB: only %d of the 2 cancels passed up (%s)", k,
                             tern_errname(err));
                    break;
                }
                struct zt_part w = {want[k], 3};
                char why[200];
                if (!zt_tern_msg_is(m, 1, &w, why, sizeof why))
                    snprintf(failed[x], sizeof failed[x],
                             "tern XPUB: cancel %d of 2 is wrong (%s): the cancel of \"C.\" "
                             "never passed up",
                             k + 1, why);
                tern_msg_free(m);
            }
        }
        if (!failed[x][0] && (ps.subscriptions != 0 || out1 != out0))
            snprintf(failed[x], sizeof failed[x],
                     "tern %s still holds %d subscription(s) for a libzmq SUB that subscribed "
                     "\"C.\" twice and unsubscribed twice (libzmq sent one CANCEL), and %s "
                     "\"C.2\" to it",
                     x ? "XPUB" : "PUB", ps.subscriptions, out1 != out0 ? "sent" : "did not send");
        zmq_close(sub);
        close_tern(pub);
        env_close(&e);
    }
    if (failed[0][0] || failed[1][0])
        fail_msg("%s%s%s", failed[0], failed[0][0] && failed[1][0] ? "; " : "", failed[1]);
}

/* ---- proxies ---------------------------------------------------------- */

struct zproxy {
    void *front, *back, *control;
    int rc;
    int err;
};

static void *zproxy_main(void *arg)
{
    struct zproxy *p = arg;
    p->rc = zmq_proxy_steerable(p->front, p->back, NULL, p->control);
    p->err = zmq_errno();
    return NULL;
}

/* tern PUB -> libzmq XSUB | zmq_proxy | libzmq XPUB -> tern SUBs. */
static void test_zmq_proxy_between_tern(void **state)
{
    int tr = *(const int *)*state;
    struct env e;
    env_open(&e);
    struct zproxy px = {0};
    px.front = zt_socket(e.zctx, ZMQ_XSUB);
    px.back = zt_socket(e.zctx, ZMQ_XPUB);
    px.control = zt_socket(e.zctx, ZMQ_PAIR);
    zt_setint(px.front, ZMQ_RCVTIMEO, -1);
    zt_setint(px.back, ZMQ_RCVTIMEO, -1);
    zt_setint(px.control, ZMQ_RCVTIMEO, -1);
    char ctl_ep[64];
    snprintf(ctl_ep, sizeof ctl_ep, "inproc://zproxy-control-%u", mt_unique());
    zt_check(zmq_bind(px.control, ctl_ep), "bind control");
    void *ctl = zt_socket(e.zctx, ZMQ_PAIR);
    zt_check(zmq_connect(ctl, ctl_ep), "connect control");
    zt_bind_fresh(px.front, tr, e.ep[0], MT_EP_MAX);
    zt_bind_fresh(px.back, tr, e.ep[1], MT_EP_MAX);
    e.neps = 2;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, zproxy_main, &px), 0);

    tern_socket pub = mt_open(e.ctx, TERN_PUB);
    mt_connect(pub, e.ep[0]);
    tern_socket s1 = mt_open(e.ctx, TERN_SUB), s2 = mt_open(e.ctx, TERN_SUB);
    tn_sub(s1, "news.");
    mt_connect(s1, e.ep[1]);
    mt_connect(s2, e.ep[1]);
    tn_sub(s2, "sport.");
    mt_wait_peers(pub, 1);
    mt_wait_peers(s1, 1);
    mt_wait_peers(s2, 1);
    /* Both subscriptions travel through the proxy up to the tern PUB. */
    zt_tern_wait_subs(pub, 2, NULL);

    static const char *const topics[] = {"news.1", "sport.1",  "weather.1", "news.2",
                                         "sports", "news.end", "sport.end"};
    for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++)
        zt_tern_send_str(pub, topics[i]);
    const struct zt_part multi[] = {ZT_S("sport.multi"), ZT_S(""), ZT_S("3")};
    zt_tern_sendv(pub, 3, multi);
    zt_tern_recv_str(s1, "news.1");
    zt_tern_recv_str(s1, "news.2");
    zt_tern_recv_str(s1, "news.end");
    zt_tern_recv_str(s2, "sport.1");
    zt_tern_recv_str(s2, "sport.end");
    zt_tern_recvv(s2, 3, multi);
    zt_tern_expect_nothing(s1, 50);
    zt_tern_expect_nothing(s2, 0);
    /* "weather.1" and "sports" were never sent to the proxy. */
    assert_int_equal(only_peer(pub).msgs_out, 6);

    /* s1 unsubscribes: the cancel travels up, news stops at the PUB. */
    tn_unsub(s1, "news.");
    zt_tern_wait_subs(pub, 1, NULL);
    zt_tern_send_str(pub, "news.3");
    zt_tern_send_str(pub, "sport.2");
    zt_tern_recv_str(s2, "sport.2");
    zt_tern_expect_nothing(s1, 50);
    assert_int_equal(only_peer(pub).msgs_out, 7);

    zt_send_str(ctl, "TERMINATE");
    assert_true(mt_join(th, 10000));
    if (px.rc != 0)
        fail_msg("zmq_proxy_steerable returned %d: %s", px.rc, zmq_strerror(px.err));
    close_tern(pub);
    close_tern(s1);
    close_tern(s2);
    zmq_close(px.front);
    zmq_close(px.back);
    zmq_close(px.control);
    zmq_close(ctl);
    env_close(&e);
}

struct tproxy {
    tern_socket front, back, control;
    tern_err err;
};

static void *tproxy_main(void *arg)
{
    struct tproxy *p = arg;
    p->err = tern_proxy(p->front, p->back, (tern_socket){0}, p->control);
    return NULL;
}

/* libzmq PUB -> tern XSUB | tern_proxy | tern XPUB -> libzmq SUBs. */
static void test_tern_proxy_between_zmq(void **state)
{
    int tr = *(const int *)*state;
    struct env e;
    env_open(&e);
    void *zpub = zt_socket(e.zctx, ZMQ_PUB);
    zt_bind_fresh(zpub, tr, e.ep[0], MT_EP_MAX);
    struct tproxy px;
    px.front = mt_open(e.ctx, TERN_XSUB);
    px.back = mt_open(e.ctx, TERN_XPUB);
    px.control = mt_open(e.ctx, TERN_PAIR);
    char ctl_ep[64];
    snprintf(ctl_ep, sizeof ctl_ep, "inproc://tproxy-control-%u", mt_unique());
    mt_bind(px.control, ctl_ep);
    tern_socket ctl = mt_open(e.ctx, TERN_PAIR);
    mt_connect(ctl, ctl_ep);
    mt_connect(px.front, e.ep[0]);
    mt_bind_fresh(px.back, tr, e.ep[1], MT_EP_MAX);
    e.neps = 2;
    mt_wait_peers(px.front, 1);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, tproxy_main, &px), 0);

    void *s1 = zt_socket(e.zctx, ZMQ_SUB), *s2 = zt_socket(e.zctx, ZMQ_SUB);
    zt_sub(s1, "A.");
    zt_sub(s2, "B.");
    zt_check(zmq_connect(s1, e.ep[1]), "zmq_connect");
    zt_check(zmq_connect(s2, e.ep[1]), "zmq_connect");
    sync_from_zpub(zpub, "A.", recv_sync_zmq, s1);
    sync_from_zpub(zpub, "B.", recv_sync_zmq, s2);

    static const char *const topics[] = {"C.1", "A.1", "B.1", "A", "B.2", "A.2", "A.end", "B.end"};
    for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++)
        zt_send_str(zpub, topics[i]);
    const struct zt_part multi[] = {ZT_S("A.multi"), ZT_S(""), ZT_S("C.")};
    zt_sendv(zpub, 3, multi);
    zt_recv_str(s1, "A.1");
    zt_recv_str(s1, "A.2");
    zt_recv_str(s1, "A.end");
    zt_recvv(s1, 3, multi);
    zt_recv_str(s2, "B.1");
    zt_recv_str(s2, "B.2");
    zt_recv_str(s2, "B.end");
    zt_expect_nothing(s1, 50);
    zt_expect_nothing(s2, 0);

    /* s2 unsubscribes: the cancel goes through the tern XPUB and XSUB up
     * to libzmq's PUB; a later "B." message is not even sent. */
    zt_unsub(s2, "B.");
    /* The XSUB's peer counter counts every message that came over the
     * connection, filtered or not: until it grows by one per probe pair,
     * libzmq has not seen the cancel. */
    uint64_t before = only_peer(px.front).msgs_in;
    int64_t deadline = mt_now_ms() + MT_IO_TIMEOUT_MS;
    for (;;) {
        zt_send_str(zpub, "B.probe");
        zt_send_str(zpub, "A.probe");
        zt_recv_str(s1, "A.probe");
        uint64_t now = only_peer(px.front).msgs_in;
        if (now - before == 1)
            break;
        assert_int_equal(now - before, 2);
        before = now;
        if (mt_now_ms() > deadline)
            fail_msg("libzmq's PUB kept sending B.* after the SUB cancelled");
        mt_sleep_ms(5);
    }
    zt_expect_nothing(s2, 50);

    check_ok(tern_send(ctl, "TERMINATE", 9, 0));
    assert_true(mt_join(th, 10000));
    check_ok(px.err);
    close_tern(ctl);
    close_tern(px.control);
    close_tern(px.front);
    close_tern(px.back);
    zmq_close(s1);
    zmq_close(s2);
    zmq_close(zpub);
    env_close(&e);
}

static const int tr_tcp = MT_TCP;
static const int tr_ipc = MT_IPC;

int main(void)
{
    mt_test_filter_from_env();
    static void (*const fns[])(void **) = {
        test_tern_pub_zmq_sub,         test_zmq_pub_tern_sub,   test_zmq_xpub_sees_tern_sub,
        test_tern_xpub_sees_zmq_sub,   test_zmq_xsub_tern_xpub, test_tern_xsub_zmq_xpub,
        test_zmq_sub_double_subscribe,
    };
    static const char *const fn_names[] = {
        "tern_pub_zmq_sub",         "zmq_pub_tern_sub",   "zmq_xpub_sees_tern_sub",
        "tern_xpub_sees_zmq_sub",   "zmq_xsub_tern_xpub", "tern_xsub_zmq_xpub",
        "zmq_sub_double_subscribe",
    };
    enum { NFNS = sizeof fns / sizeof fns[0] };
    static struct CMUnitTest tests[NFNS * NCOMBOS + 4];
    static char names[NFNS * NCOMBOS][80];
    size_t n = 0;
    for (size_t f = 0; f < NFNS; f++) {
        for (size_t i = 0; i < NCOMBOS; i++, n++) {
            snprintf(names[n], sizeof names[n], "%s_%s_%s_binds", fn_names[f],
                     mt_transport_name(combos[i].tr), combos[i].tern_binds ? "tern" : "zmq");
            tests[n] = (struct CMUnitTest){names[n], fns[f], NULL, NULL, (void *)&combos[i]};
        }
    }
    tests[n++] = (struct CMUnitTest){"zmq_proxy_between_tern_tcp", test_zmq_proxy_between_tern,
                                     NULL, NULL, (void *)&tr_tcp};
    tests[n++] = (struct CMUnitTest){"zmq_proxy_between_tern_ipc", test_zmq_proxy_between_tern,
                                     NULL, NULL, (void *)&tr_ipc};
    tests[n++] = (struct CMUnitTest){"tern_proxy_between_zmq_tcp", test_tern_proxy_between_zmq,
                                     NULL, NULL, (void *)&tr_tcp};
    tests[n++] = (struct CMUnitTest){"tern_proxy_between_zmq_ipc", test_tern_proxy_between_zmq,
                                     NULL, NULL, (void *)&tr_ipc};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
