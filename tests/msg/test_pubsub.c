/* PUB/SUB/XPUB/XSUB over tcp, ipc and inproc: prefix filtering on part 0,
 * unsubscribing, counted subscriptions, subscriptions made before and
 * after connecting and replayed to a restarted publisher, filtering at
 * the publisher (per-peer counters), exact drop accounting under a slow
 * subscriber, lossless publishing, XPUB subscription messages (plain and
 * verbose), XSUB subscribing by message.
 *
 * Deterministic synchronisation: a publisher's peers show how many
 * subscriptions reached it (mt_wait_subs), and every subscriber also
 * subscribes to the marker topic END: a publisher sends END last, and a
 * subscriber reads up to END, so everything sent before has arrived. */
#include "msgtest.h"

#define END "~END"

static void subscribe(tern_socket s, const char *topic)
{
    check_ok(tern_setopt_bytes(s, TERN_OPT_SUBSCRIBE, topic, strlen(topic)));
}

static void unsubscribe(tern_socket s, const char *topic)
{
    check_ok(tern_setopt_bytes(s, TERN_OPT_UNSUBSCRIBE, topic, strlen(topic)));
}

static void set_id(tern_socket s, const char *id)
{
    check_ok(tern_setopt_bytes(s, TERN_OPT_ROUTING_ID, id, strlen(id)));
}

/* Receives messages until END and checks they are exactly want[] (each
 * a list of parts, NULL-terminated lists of at most 4 parts). */
struct expect {
    size_t nparts;
    const char *parts[4];
};

static void recv_until_end(tern_socket sub, const char *who, const struct expect *want, size_t n)
{
    for (size_t i = 0;; i++) {
        tern_msg *m = mt_recv_msg(sub);
        char got[512];
        mt_msg_describe(m, got, sizeof got);
        bool is_end = tern_msg_parts(m) == 1 && mt_part_is(m, 0, END, strlen(END));
        if (i == n) {
            tern_msg_free(m);
            if (!is_end)
                fail_msg("%s: after the %zu expected messages, received %s instead of " END, who, n,
                         got);
            return;
        }
        bool ok = mt_msg_is_strs(m, want[i].nparts, want[i].parts);
        tern_msg_free(m);
        if (!ok)
            fail_msg("%s: message %zu is %s, expected part 0 \"%s\" (%zu parts)", who, i, got,
                     want[i].parts[0], want[i].nparts);
    }
}

static tern_peer_stats peer_by_id(tern_socket pub, const char *id)
{
    tern_peer_stats p;
    memset(&p, 0, sizeof p);
    if (!mt_peer_by_id(pub, id, &p))
        fail_msg("the publisher has no peer with routing id \"%s\"", id);
    return p;
}

/* ---- filtering ------------------------------------------------------------- */

static void test_prefix_filtering(void **state)
{
    int tr = mt_tr_of(state);
    enum { NSUB = 4 };
    static const char *const topics[NSUB] = {"", "a.", "a.b", "zzz"};
    static const char *const names[NSUB] = {"all", "a.", "a.b", "zzz"};
    tern_ctx *ctx = mt_ctx();
    tern_socket pub = mt_open(ctx, TERN_PUB);
    char ep[MT_EP_MAX];
    mt_bind_fresh(pub, tr, ep, sizeof ep);
    tern_socket sub[NSUB];
    for (int i = 0; i < NSUB; i++) {
        sub[i] = mt_open(ctx, TERN_SUB);
        mt_connect(sub[i], ep);
        subscribe(sub[i], topics[i]);
        subscribe(sub[i], END);
    }
    mt_wait_peers(pub, NSUB);
    mt_wait_subs(pub, 2 * NSUB);

    static const struct expect sent[] = {
        {1, {"a.b.c"}},              /* 0: all a. a.b */
        {1, {"a.x"}},                /* 1: all a. */
        {1, {"b"}},                  /* 2: all */
        {1, {"A.B"}},                /* 3: all (case matters) */
        {3, {"a.b", "payload", ""}}, /* 4: all a. a.b (part 0 decides) */
        {2, {"x", "a.b"}},           /* 5: all (part 1 does not count) */
        {1, {"a"}},                  /* 6: all (shorter than "a.") */
        {1, {"zz"}},                 /* 7: all */
        {1, {"zzzz"}},               /* 8: all zzz */
        {2, {"a.bb", "q"}},          /* 9: all a. a.b */
    };
    static const int who[][11] = {
        {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, -1},
        {0, 1, 4, 9, -1},
        {0, 4, 9, -1},
        {8, -1},
    };
    for (size_t i = 0; i < sizeof sent / sizeof sent[0]; i++)
        mt_send_strs(pub, sent[i].nparts, sent[i].parts);
    check_ok(tern_send(pub, END, strlen(END), 0));
    for (int s = 0; s < NSUB; s++) {
        struct expect want[11];
        size_t n = 0;
        for (int k = 0; who[s][k] >= 0; k++)
            want[n++] = sent[who[s][k]];
        recv_until_end(sub[s], names[s], want, n);
    }
    /* The publisher counts what it sent to each peer. */
    tern_sock_stats st = mt_stats(pub);
    assert_int_equal(st.msgs_out, 11);
    assert_int_equal(st.drops, 0);
    for (int i = 0; i < NSUB; i++)
        check_ok(tern_socket_close(sub[i]));
    check_ok(tern_socket_close(pub));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

/* A message whose part 0 is empty matches only the empty subscription
 * (tern_msg_data gives NULL for an empty part: the publisher must cope). */
static void test_empty_first_part(void **state)
{
    int tr = mt_tr_of(state);
    tern_ctx *ctx = mt_ctx();
    tern_socket pub = mt_open(ctx, TERN_PUB);
    char ep[MT_EP_MAX];
    mt_bind_fresh(pub, tr, ep, sizeof ep);
    tern_socket all = mt_open(ctx, TERN_SUB), x = mt_open(ctx, TERN_SUB);
    mt_connect(all, ep);
    mt_connect(x, ep);
    subscribe(all, "");
    subscribe(x, "x");
    subscribe(x, END);
    mt_wait_subs(pub, 3);
    MT_SEND(pub, "");
    MT_SEND(pub, "", "body");
    check_ok(tern_send(pub, "", 0, 0));
    MT_SEND(pub, "x1");
    MT_SEND(pub, END);
    recv_until_end(all, "all",
                   (const struct expect[]){{1, {""}}, {2, {"", "body"}}, {1, {""}}, {1, {"x1"}}},
                   4);
    recv_until_end(x, "x", (const struct expect[]){{1, {"x1"}}}, 1);
    check_ok(tern_socket_close(all));
    check_ok(tern_socket_close(x));
    check_ok(tern_socket_close(pub));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

/* Unsubscribing stops delivery; the publisher stops sending. */
static void test_unsubscribe(void **state)
{
    int tr = mt_tr_of(state);
    tern_ctx *ctx = mt_ctx();
    tern_socket pub = mt_open(ctx, TERN_PUB);
    tern_socket sub = mt_open(ctx, TERN_SUB);
    set_id(sub, "sub");
    char ep[MT_EP_MAX];
    mt_bind_fresh(pub, tr, ep, sizeof ep);
    mt_connect(sub, ep);
    subscribe(sub, "t");
    subscribe(sub, END);
    mt_wait_subs(pub, 2);
    MT_SEND(pub, "t1");
    MT_SEND(pub, END);
    recv_until_end(sub, "sub", (const struct expect[]){{1, {"t1"}}}, 1);
    unsubscribe(sub, "t");
    mt_wait_subs(pub, 1);
    MT_SEND(pub, "t2");
    MT_SEND(pub, "t3", "more");
    MT_SEND(pub, END);
    recv_until_end(sub, "sub", NULL, 0);
    /* Filtered at the publisher: t2 and t3 were never sent to the peer. */
    tern_peer_stats p = peer_by_id(pub, "sub");
    assert_int_equal(p.subscriptions, 1);
    assert_int_equal(p.msgs_out, 3);
    assert_int_equal(p.drops, 0);
    /* Subscribing again brings the topic back. */
    subscribe(sub, "t");
    mt_wait_subs(pub, 2);
    MT_SEND(pub, "t4");
    MT_SEND(pub, END);
    recv_until_end(sub, "sub", (const struct expect[]){{1, {"t4"}}}, 1);
    check_ok(tern_socket_close(sub));
    check_ok(tern_socket_close(pub));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

/* Subscribing twice needs two unsubscribes. */
static void test_counted_subscriptions(void **state)
{
    int tr = mt_tr_of(state);
    tern_ctx *ctx = mt_ctx();
    tern_socket pub = mt_open(ctx, TERN_PUB);
    tern_socket sub = mt_open(ctx, TERN_SUB);
    char ep[MT_EP_MAX];
    mt_bind_fresh(pub, tr, ep, sizeof ep);
    mt_connect(sub, ep);
    subscribe(sub, "c");
    subscribe(sub, "c");
    subscribe(sub, END);
    mt_wait_subs(pub, 2); /* topics, not subscribe calls */
    unsubscribe(sub, "c");
    /* A later subscription travels behind anything the unsubscribe sent:
     * once it is there, a cancel of "c" would have been seen too. */
    subscribe(sub, "sync");
    mt_wait_subs(pub, 3);
    MT_SEND(pub, "c1");
    MT_SEND(pub, END);
    recv_until_end(sub, "sub", (const struct expect[]){{1, {"c1"}}}, 1);
    unsubscribe(sub, "c");
    mt_wait_subs(pub, 2);
    MT_SEND(pub, "c2");
    MT_SEND(pub, END);
    recv_until_end(sub, "sub", NULL, 0);
    check_ok(tern_socket_close(sub));
    check_ok(tern_socket_close(pub));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

/* Subscriptions made before connecting reach the publisher when it
 * connects; ones made after, at once. Either side may bind. */
static void test_subscribe_before_after_connect(void **state)
{
    int tr = mt_tr_of(state);
    for (int round = 0; round < 2; round++) {
        tern_ctx *ctx = mt_ctx();
        tern_socket pub = mt_open(ctx, TERN_PUB);
        tern_socket sub = mt_open(ctx, TERN_SUB);
        subscribe(sub, "pre");
        subscribe(sub, END);
        char ep[MT_EP_MAX];
        if (round == 0) {
            mt_bind_fresh(pub, tr, ep, sizeof ep);
            mt_connect(sub, ep);
        } else {
            mt_bind_fresh(sub, tr, ep, sizeof ep);
            mt_connect(pub, ep);
        }
        mt_wait_peers(pub, 1);
        mt_wait_peers(sub, 1);
        subscribe(sub, "post");
        mt_wait_subs(pub, 3);
        MT_SEND(pub, "pre-1");
        MT_SEND(pub, "other");
        MT_SEND(pub, "post-1");
        MT_SEND(pub, "pr");
        MT_SEND(pub, END);
        recv_until_end(sub, round == 0 ? "sub (connecting)" : "sub (binding)",
                       (const struct expect[]){{1, {"pre-1"}}, {1, {"post-1"}}}, 2);
        check_ok(tern_socket_close(sub));
        check_ok(tern_socket_close(pub));
        tern_ctx_close(ctx);
        mt_unlink_ipc(ep);
    }
}

/* The publisher goes away and another binds the same endpoint: the
 * subscriber reconnects and tells it every subscription again. */
static void test_resubscribe_after_restart(void **state)
{
    int tr = mt_tr_of(state);
    tern_ctx *ctx = mt_ctx();
    tern_socket pub = mt_open(ctx, TERN_PUB);
    tern_socket sub = mt_open(ctx, TERN_SUB);
    char ep[MT_EP_MAX];
    mt_bind_fresh(pub, tr, ep, sizeof ep);
    mt_connect(sub, ep);
    subscribe(sub, "r");
    subscribe(sub, END);
    mt_wait_subs(pub, 2);
    MT_SEND(pub, "r1");
    MT_SEND(pub, END);
    recv_until_end(sub, "sub", (const struct expect[]){{1, {"r1"}}}, 1);
    for (int restart = 0; restart < 2; restart++) {
        check_ok(tern_socket_close(pub));
        mt_wait_peers_cmp(sub, '=', 0, MT_IO_TIMEOUT_MS);
        pub = mt_open(ctx, TERN_PUB);
        mt_bind_retry(pub, ep);
        mt_wait_subs(pub, 2);
        MT_SEND(pub, "x");
        MT_SEND(pub, "r2");
        MT_SEND(pub, END);
        recv_until_end(sub, "sub", (const struct expect[]){{1, {"r2"}}}, 1);
    }
    check_ok(tern_socket_close(sub));
    check_ok(tern_socket_close(pub));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

/* Filtering happens at the publisher: its per-peer counters show each
 * peer's subscriptions, and a subscriber matching nothing is sent
 * nothing. */
static void test_filter_at_publisher(void **state)
{
    int tr = mt_tr_of(state);
    enum { N = 50 };
    tern_ctx *ctx = mt_ctx();
    tern_socket pub = mt_open(ctx, TERN_PUB);
    tern_socket match = mt_open(ctx, TERN_SUB);
    tern_socket other = mt_open(ctx, TERN_SUB);
    set_id(match, "match");
    set_id(other, "other");
    char ep[MT_EP_MAX];
    mt_bind_fresh(pub, tr, ep, sizeof ep);
    mt_connect(match, ep);
    mt_connect(other, ep);
    subscribe(match, "m");
    subscribe(match, "n");
    subscribe(match, "mm"); /* overlapping prefixes still count as topics */
    subscribe(other, "o");
    mt_wait_peers(pub, 2);
    mt_wait_subs(pub, 4);
    assert_int_equal(peer_by_id(pub, "match").subscriptions, 3);
    assert_int_equal(peer_by_id(pub, "other").subscriptions, 1);
    for (int i = 0; i < N; i++) {
        char b[16];
        snprintf(b, sizeof b, "m-%d", i);
        MT_SEND(pub, b);
    }
    for (int i = 0; i < N; i++) {
        char b[16];
        snprintf(b, sizeof b, "m-%d", i);
        MT_RECV(match, b);
    }
    tern_peer_stats pm = peer_by_id(pub, "match"), po = peer_by_id(pub, "other");
    assert_int_equal(pm.msgs_out, N);
    assert_int_equal(po.msgs_out, 0);
    assert_int_equal(pm.drops + po.drops, 0);
    assert_int_equal(pm.type, TERN_SUB);
    assert_int_equal(mt_stats(pub).msgs_out, N);
    mt_expect_silence(other, 100);
    assert_int_equal(mt_stats(other).msgs_in, 0);
    assert_int_equal(mt_stats(match).msgs_in, N);
    check_ok(tern_socket_close(match));
    check_ok(tern_socket_close(other));
    check_ok(tern_socket_close(pub));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

/* ---- slow subscribers ------------------------------------------------------ */

#define PAYLOAD 1000

static tern_err send_seq(tern_socket s, uint64_t seq, int flags)
{
    uint8_t buf[PAYLOAD];
    memcpy(buf, &seq, 8);
    mt_fill(buf + 8, PAYLOAD - 8, (uint32_t)seq);
    return tern_send(s, buf, PAYLOAD, flags);
}

/* Reads exactly n messages with increasing sequence numbers (gaps are
 * drops) below limit, then finds nothing more. */
static void read_exactly(tern_socket sub, const char *who, uint64_t n, uint64_t limit)
{
    uint8_t buf[PAYLOAD + 16];
    uint64_t last = 0;
    for (uint64_t i = 0; i < n; i++) {
        size_t len = 0;
        tern_err e = tern_recv(sub, buf, sizeof buf, &len, 0);
        if (e != TERN_OK)
            fail_msg("%s: message %llu of the %llu the publisher did not drop: %s", who,
                     (unsigned long long)i, (unsigned long long)n, tern_errname(e));
        uint64_t seq;
        memcpy(&seq, buf, 8);
        if (len != PAYLOAD || seq >= limit || (i > 0 && seq <= last) ||
            mt_mismatch(buf + 8, PAYLOAD - 8, (uint32_t)seq) != PAYLOAD - 8)
            fail_msg("%s: bad message %llu (seq %llu after %llu, %zu bytes)", who,
                     (unsigned long long)i, (unsigned long long)seq, (unsigned long long)last, len);
        last = seq;
    }
    mt_expect_silence(sub, 300);
}

/* PUB never blocks by default: with two subscribers that do not read and
 * small high-water marks, every send returns TERN_OK at once; what the
 * subscribers then read plus what the publisher counted as dropped is
 * exactly what was sent, per subscriber and in total. */
static void test_drop_counting(void **state)
{
    int tr = mt_tr_of(state);
    const uint64_t n = tr == MT_INPROC ? 2000 : 20000;
    tern_ctx *ctx = mt_ctx();
    tern_socket pub = mt_open(ctx, TERN_PUB);
    mt_setopt(pub, TERN_OPT_SNDHWM, 10);
    char ep[MT_EP_MAX];
    mt_bind_fresh(pub, tr, ep, sizeof ep);
    static const char *const ids[2] = {"slow-1", "slow-2"};
    tern_socket sub[2];
    for (int i = 0; i < 2; i++) {
        sub[i] = mt_open(ctx, TERN_SUB);
        mt_setopt(sub[i], TERN_OPT_RCVHWM, 10);
        set_id(sub[i], ids[i]);
        mt_connect(sub[i], ep);
        subscribe(sub[i], "");
    }
    mt_wait_peers(pub, 2);
    mt_wait_subs(pub, 2);
    int64_t t0 = mt_now_ms(), slowest = 0;
    for (uint64_t i = 0; i < n; i++) {
        int64_t ts = mt_now_ms();
        /* Every 7th send is a blocking one: it must not block either. */
        tern_err e = send_seq(pub, i, i % 7 == 0 ? 0 : TERN_DONTWAIT);
        if (e != TERN_OK)
            fail_msg("PUB send %llu of %llu returned %s", (unsigned long long)i,
                     (unsigned long long)n, tern_errname(e));
        if (mt_now_ms() - ts > slowest)
            slowest = mt_now_ms() - ts;
    }
    printf("    %s: %llu sends in %lld ms, slowest %lld ms\n", mt_transport_name(tr),
           (unsigned long long)n, (long long)(mt_now_ms() - t0), (long long)slowest);
    assert_true(slowest < 1000);
    tern_sock_stats st = mt_stats(pub);
    assert_int_equal(st.msgs_out, n);
    tern_peer_stats p[2];
    uint64_t peer_drops = 0;
    for (int i = 0; i < 2; i++) {
        p[i] = peer_by_id(pub, ids[i]);
        peer_drops += p[i].drops;
        printf("    %s: %llu sent to it, %llu dropped\n", ids[i], (unsigned long long)p[i].msgs_out,
               (unsigned long long)p[i].drops);
        assert_int_equal(p[i].msgs_out + p[i].drops, n);
        assert_true(p[i].drops > 0); /* the test made them slow enough */
    }
    assert_int_equal(peer_drops, st.drops);
    for (int i = 0; i < 2; i++) {
        read_exactly(sub[i], ids[i], n - p[i].drops, n);
        assert_int_equal(mt_stats(sub[i]).msgs_in + p[i].drops, n);
    }
    /* The counters did not move after the sends. */
    assert_int_equal(mt_stats(pub).drops, st.drops);
    for (int i = 0; i < 2; i++)
        check_ok(tern_socket_close(sub[i]));
    check_ok(tern_socket_close(pub));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

/* "s" + a send_seq payload: a topic the lossless test subscribes to. */
static tern_err send_tseq(tern_socket s, uint64_t seq, int flags)
{
    uint8_t buf[1 + PAYLOAD];
    buf[0] = 's';
    memcpy(buf + 1, &seq, 8);
    mt_fill(buf + 9, PAYLOAD - 8, (uint32_t)seq);
    return tern_send(s, buf, sizeof buf, flags);
}

struct reader {
    tern_socket sub;
    uint64_t want, got;
    bool in_order;
    tern_err err;
};

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    uint8_t buf[PAYLOAD + 16];
    r->in_order = true;
    while (r->got < r->want) {
        size_t len;
        tern_err e = tern_recv(r->sub, buf, sizeof buf, &len, 0);
        if (e != TERN_OK) {
            r->err = e;
            return NULL;
        }
        uint64_t seq;
        memcpy(&seq, buf + 1, 8);
        if (seq != r->got || len != PAYLOAD + 1 || buf[0] != 's' ||
            mt_mismatch(buf + 9, PAYLOAD - 8, (uint32_t)seq) != PAYLOAD - 8)
            r->in_order = false;
        r->got++;
    }
    r->err = TERN_OK;
    return NULL;
}

/* TERN_OPT_PUB_LOSSLESS: a full matching subscriber makes the send wait
 * (TERN_EAGAIN with TERN_DONTWAIT, TERN_ETIMEDOUT after SNDTIMEO), a full
 * subscriber that does not match does not, and with a reader everything
 * arrives: no drops. */
static void test_lossless(void **state)
{
    int tr = mt_tr_of(state);
    tern_ctx *ctx = mt_ctx();
    tern_socket pub = mt_open(ctx, TERN_PUB);
    mt_setopt(pub, TERN_OPT_PUB_LOSSLESS, 1);
    mt_setopt(pub, TERN_OPT_SNDHWM, 5);
    char ep[MT_EP_MAX];
    mt_bind_fresh(pub, tr, ep, sizeof ep);
    tern_socket sub = mt_open(ctx, TERN_SUB);
    tern_socket bystander = mt_open(ctx, TERN_SUB);
    mt_setopt(sub, TERN_OPT_RCVHWM, 5);
    mt_connect(sub, ep);
    mt_connect(bystander, ep);
    subscribe(sub, "s");
    subscribe(bystander, "zz-bystander");
    mt_wait_peers(pub, 2);
    mt_wait_subs(pub, 2);

    /* Fill until the publisher says TERN_EAGAIN a few times in a row. */
    uint64_t next = 0, tries = 0;
    int eagain_run = 0;
    while (eagain_run < 20) {
        if (++tries > 400000)
            fail_msg("a lossless PUB with a full subscriber never returned TERN_EAGAIN");
        tern_err e = send_tseq(pub, next, TERN_DONTWAIT);
        if (e == TERN_OK) {
            next++;
            eagain_run = 0;
        } else if (e == TERN_EAGAIN) {
            eagain_run++;
            mt_sleep_ms(5);
        } else {
            fail_msg("send with TERN_DONTWAIT returned %s", tern_errname(e));
        }
    }
    printf("    %s: %llu messages accepted before TERN_EAGAIN\n", mt_transport_name(tr),
           (unsigned long long)next);
    /* A blocking send waits SNDTIMEO, then gives up. */
    mt_setopt(pub, TERN_OPT_SNDTIMEO, 300);
    for (int i = 0;; i++) {
        int64_t t0 = mt_now_ms();
        tern_err e = send_tseq(pub, next, 0);
        int64_t dt = mt_now_ms() - t0;
        if (e == TERN_OK) {
            next++;
            assert_true(i < 100);
            continue;
        }
        check_err(e, TERN_ETIMEDOUT);
        assert_true(dt >= 250 && dt < 3000);
        break;
    }
    /* A message the full subscriber does not want goes out at once. */
    check_ok(tern_send(pub, "zz-bystander-1", 14, TERN_DONTWAIT));
    MT_RECV(bystander, "zz-bystander-1");
    assert_int_equal(mt_stats(pub).drops, 0);

    /* With a reader, blocking sends all get through. */
    enum { MORE = 3000 };
    mt_setopt(pub, TERN_OPT_SNDTIMEO, MT_IO_TIMEOUT_MS);
    struct reader r = {sub, next + MORE, 0, false, TERN_EINVAL};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, reader_main, &r), 0);
    for (uint64_t i = 0; i < MORE; i++) {
        tern_err e = send_tseq(pub, next + i, 0);
        if (e != TERN_OK) {
            mt_join(t, MT_IO_TIMEOUT_MS + 2000);
            fail_msg("lossless send %llu with a reader: %s", (unsigned long long)i,
                     tern_errname(e));
        }
    }
    assert_true(mt_join(t, 30000));
    check_ok(r.err);
    assert_int_equal(r.got, next + MORE);
    assert_true(r.in_order);
    tern_sock_stats st = mt_stats(pub);
    assert_int_equal(st.drops, 0);
    assert_int_equal(st.msgs_out, next + MORE + 1);
    mt_expect_silence(sub, 100);
    check_ok(tern_socket_close(sub));
    check_ok(tern_socket_close(bystander));
    check_ok(tern_socket_close(pub));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

/* ---- XPUB and XSUB ----------------------------------------------------------- */

/* Receives one XPUB message and checks it is [on][topic]. */
static void expect_sub_msg(tern_socket xpub, int on, const char *topic)
{
    tern_msg *m = mt_recv_msg(xpub);
    uint8_t want[64];
    size_t len = strlen(topic);
    want[0] = (uint8_t)on;
    memcpy(want + 1, topic, len);
    if (tern_msg_parts(m) != 1 || !mt_part_is(m, 0, want, len + 1)) {
        char got[256];
        mt_msg_describe(m, got, sizeof got);
        tern_msg_free(m);
        fail_msg("XPUB received %s, expected [\\x%02x%s]", got, on, topic);
    }
    tern_msg_free(m);
}

/* Sends a one-part subscription message "\x01topic" or "\x00topic". */
static void send_sub_msg(tern_socket xsub, int on, const char *topic)
{
    uint8_t b[64];
    size_t len = strlen(topic);
    b[0] = (uint8_t)on;
    memcpy(b + 1, topic, len);
    check_ok(tern_send(xsub, b, len + 1, 0));
}

/* Without verbose: only the first subscribe and the last cancel of a
 * topic across peers, including a cancel caused by a disconnect. */
static void test_xpub_first_last(void **state)
{
    int tr = mt_tr_of(state);
    tern_ctx *ctx = mt_ctx();
    tern_socket xpub = mt_open(ctx, TERN_XPUB);
    char ep[MT_EP_MAX];
    mt_bind_fresh(xpub, tr, ep, sizeof ep);
    tern_socket s1 = mt_open(ctx, TERN_SUB), s2 = mt_open(ctx, TERN_SUB);
    mt_connect(s1, ep);
    mt_connect(s2, ep);
    mt_wait_peers(xpub, 2);

    subscribe(s1, "t");
    expect_sub_msg(xpub, 1, "t");
    /* XPUB publishes like a PUB. */
    MT_SEND(xpub, "t-data");
    MT_RECV(s1, "t-data");
    subscribe(s2, "t"); /* not the first: silent */
    subscribe(s2, "u");
    expect_sub_msg(xpub, 1, "u");
    unsubscribe(s1, "t"); /* not the last: silent */
    subscribe(s1, "v");
    expect_sub_msg(xpub, 1, "v");
    unsubscribe(s2, "t"); /* the last */
    expect_sub_msg(xpub, 0, "t");
    check_ok(tern_socket_close(s2)); /* the last with "u" leaves */
    expect_sub_msg(xpub, 0, "u");
    check_ok(tern_socket_close(s1));
    expect_sub_msg(xpub, 0, "v");
    mt_expect_silence(xpub, 200);
    check_ok(tern_socket_close(xpub));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

/* TERN_OPT_XPUB_VERBOSE: every subscribe and every cancel. */
static void test_xpub_verbose(void **state)
{
    int tr = mt_tr_of(state);
    tern_ctx *ctx = mt_ctx();
    tern_socket xpub = mt_open(ctx, TERN_XPUB);
    mt_setopt(xpub, TERN_OPT_XPUB_VERBOSE, 1);
    char ep[MT_EP_MAX];
    mt_bind_fresh(xpub, tr, ep, sizeof ep);
    tern_socket s1 = mt_open(ctx, TERN_SUB), s2 = mt_open(ctx, TERN_SUB);
    mt_connect(s1, ep);
    mt_wait_peers(xpub, 1);
    mt_connect(s2, ep);
    mt_wait_peers(xpub, 2);

    subscribe(s1, "t");
    expect_sub_msg(xpub, 1, "t");
    subscribe(s2, "t");
    expect_sub_msg(xpub, 1, "t");
    unsubscribe(s1, "t");
    expect_sub_msg(xpub, 0, "t");
    unsubscribe(s2, "t");
    expect_sub_msg(xpub, 0, "t");
    subscribe(s1, "w");
    expect_sub_msg(xpub, 1, "w");
    subscribe(s2, "w");
    expect_sub_msg(xpub, 1, "w");
    unsubscribe(s1, "w");
    expect_sub_msg(xpub, 0, "w");
    check_ok(tern_socket_close(s1)); /* holds nothing any more */
    check_ok(tern_socket_close(s2)); /* the last with "w" leaves */
    expect_sub_msg(xpub, 0, "w");
    mt_expect_silence(xpub, 200);
    check_ok(tern_socket_close(xpub));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

/* XSUB subscribes by sending "\x01topic" and cancels with "\x00topic":
 * a PUB filters accordingly and an XPUB hears them. */
static void test_xsub(void **state)
{
    int tr = mt_tr_of(state);
    tern_ctx *ctx = mt_ctx();
    /* XSUB to PUB. */
    tern_socket pub = mt_open(ctx, TERN_PUB);
    tern_socket xsub = mt_open(ctx, TERN_XSUB);
    char ep[MT_EP_MAX];
    mt_bind_fresh(pub, tr, ep, sizeof ep);
    mt_connect(xsub, ep);
    mt_wait_peers(xsub, 1);
    send_sub_msg(xsub, 1, "news");
    send_sub_msg(xsub, 1, END);
    mt_wait_subs(pub, 2);
    MT_SEND(pub, "news-1");
    MT_SEND(pub, "sports-1");
    MT_SEND(pub, "news-2", "body");
    MT_SEND(pub, END);
    recv_until_end(xsub, "xsub", (const struct expect[]){{1, {"news-1"}}, {2, {"news-2", "body"}}},
                   2);
    send_sub_msg(xsub, 0, "news");
    mt_wait_subs(pub, 1);
    MT_SEND(pub, "news-3");
    MT_SEND(pub, END);
    recv_until_end(xsub, "xsub", NULL, 0);
    check_ok(tern_socket_close(xsub));
    check_ok(tern_socket_close(pub));
    mt_unlink_ipc(ep);

    /* XSUB to XPUB. */
    tern_socket xpub = mt_open(ctx, TERN_XPUB);
    xsub = mt_open(ctx, TERN_XSUB);
    mt_bind_fresh(xpub, tr, ep, sizeof ep);
    mt_connect(xsub, ep);
    mt_wait_peers(xpub, 1);
    send_sub_msg(xsub, 1, "news");
    expect_sub_msg(xpub, 1, "news");
    MT_SEND(xpub, "news-1");
    MT_SEND(xpub, "other");
    MT_SEND(xpub, "news-2");
    MT_RECV(xsub, "news-1");
    MT_RECV(xsub, "news-2");
    send_sub_msg(xsub, 0, "news");
    expect_sub_msg(xpub, 0, "news");
    mt_expect_silence(xsub, 100);
    check_ok(tern_socket_close(xsub));
    check_ok(tern_socket_close(xpub));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

/* A PUB cannot receive and a SUB cannot send: refused at once. */
static void test_refused_directions(void **state)
{
    int tr = mt_tr_of(state);
    tern_ctx *ctx = mt_ctx();
    tern_socket pub = mt_open(ctx, TERN_PUB);
    tern_socket sub = mt_open(ctx, TERN_SUB);
    char ep[MT_EP_MAX];
    mt_bind_fresh(pub, tr, ep, sizeof ep);
    mt_connect(sub, ep);
    mt_wait_peers(pub, 1);
    int64_t t0 = mt_now_ms();
    char buf[8];
    size_t len;
    check_err(tern_recv(pub, buf, sizeof buf, &len, 0), TERN_ENOTSUP);
    check_err(tern_send(sub, "x", 1, 0), TERN_ENOTSUP);
    assert_true(mt_now_ms() - t0 < 2000);
    /* Subscription options belong to subscribers. */
    check_err(tern_setopt_bytes(pub, TERN_OPT_SUBSCRIBE, "a", 1), TERN_ENOTSUP);
    check_ok(tern_socket_close(sub));
    check_ok(tern_socket_close(pub));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

int main(void)
{
    mt_test_filter_from_env();
    const struct CMUnitTest tests[] = {
        MT_PER_TRANSPORT(test_prefix_filtering),
        MT_PER_TRANSPORT(test_unsubscribe),
        MT_PER_TRANSPORT(test_counted_subscriptions),
        MT_PER_TRANSPORT(test_subscribe_before_after_connect),
        MT_PER_TRANSPORT(test_resubscribe_after_restart),
        MT_PER_TRANSPORT(test_filter_at_publisher),
        MT_PER_TRANSPORT(test_drop_counting),
        MT_PER_TRANSPORT(test_lossless),
        MT_PER_TRANSPORT(test_xpub_first_last),
        MT_PER_TRANSPORT(test_xpub_verbose),
        MT_PER_TRANSPORT(test_xsub),
        MT_PER_TRANSPORT(test_refused_directions),
        /* Last: under UBSan a library bug here aborts the binary. */
        MT_PER_TRANSPORT(test_empty_first_part),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
