/* Monitor events and counters. Events (tcp, ipc): LISTENING, ACCEPTED and
 * CONNECTED, HANDSHAKE_OK, DISCONNECTED with a reason, RECONNECT with the
 * backoff delay, HANDSHAKE_FAILED with a reason for incompatible socket
 * types, event masks, dropped events, stopping a monitor;
 * tern_event_decode and tern_event_name. inproc has no connections to
 * report: there, incompatible types are refused at connect. Counters
 * (tcp, ipc, inproc): exact msgs/bytes in/out after a known exchange
 * (envelopes excluded), connection counters, tern_socket_peers. */
#include "msgtest.h"

/* The next event must be `event`. */
static void expect_next(tern_socket mon, int event, tern_event *out)
{
    tern_event ev;
    memset(&ev, 0, sizeof ev);
    tern_err e = mt_monitor_next(mon, MT_IO_TIMEOUT_MS, &ev);
    if (e != TERN_OK)
        fail_msg("waiting for %s: %s", tern_event_name(event), tern_errname(e));
    if (ev.event != event)
        fail_msg("next event is %s (endpoint \"%s\", peer \"%s\", detail \"%s\"), expected %s",
                 tern_event_name(ev.event), ev.endpoint, ev.peer, ev.detail,
                 tern_event_name(event));
    if (out)
        *out = ev;
}

static bool same_transport(const char *a, const char *b)
{
    return strncmp(a, b, 6) == 0; /* "tcp://", "ipc://" */
}

/* ---- connection lifecycle ---------------------------------------------- */

static void test_lifecycle_events(void **state)
{
    int tr = mt_tr_of(state);
    tern_ctx *ctx = mt_ctx();
    tern_socket server = mt_open(ctx, TERN_PULL);
    tern_socket client = mt_open(ctx, TERN_PUSH);
    tern_socket mon_s = mt_monitor_open(ctx, server, TERN_EV_ALL);
    tern_socket mon_c = mt_monitor_open(ctx, client, TERN_EV_ALL);
    char ep[MT_EP_MAX];
    mt_bind_fresh(server, tr, ep, sizeof ep);
    tern_event ev;
    expect_next(mon_s, TERN_EV_LISTENING, &ev);
    assert_int_equal(ev.value, 0);
    assert_true(same_transport(ev.endpoint, ep));
    if (tr != MT_TCP)
        assert_string_equal(ev.endpoint, ep);

    mt_connect(client, ep);
    expect_next(mon_c, TERN_EV_CONNECTED, &ev);
    assert_string_equal(ev.endpoint, ep);
    expect_next(mon_c, TERN_EV_HANDSHAKE_OK, &ev);
    assert_string_equal(ev.endpoint, ep);
    printf("    client: HANDSHAKE_OK, peer \"%s\"\n", ev.peer);
    if (tr == MT_TCP)
        assert_non_null(strstr(ev.peer, "127.0.0.1"));
    expect_next(mon_s, TERN_EV_ACCEPTED, &ev);
    assert_true(same_transport(ev.endpoint, ep));
    printf("    server: ACCEPTED, peer \"%s\"\n", ev.peer);
    if (tr == MT_TCP)
        assert_non_null(strstr(ev.peer, "127.0.0.1"));
    expect_next(mon_s, TERN_EV_HANDSHAKE_OK, NULL);

    MT_SEND(client, "hello");
    MT_RECV(server, "hello");
    tern_sock_stats ss = mt_stats(server), cs = mt_stats(client);
    assert_int_equal(ss.accepted, 1);
    assert_int_equal(ss.connected, 0);
    assert_int_equal(ss.handshakes, 1);
    assert_int_equal(ss.handshake_failures, 0);
    assert_int_equal(ss.disconnects, 0);
    assert_int_equal(ss.peers, 1);
    assert_int_equal(cs.accepted, 0);
    assert_int_equal(cs.connected, 1);
    assert_int_equal(cs.handshakes, 1);
    assert_int_equal(cs.reconnects, 0);
    assert_int_equal(cs.peers, 1);
    assert_int_equal(ss.events_dropped + cs.events_dropped, 0);

    /* The peer closes: DISCONNECTED, with a reason. */
    check_ok(tern_socket_close(client));
    expect_next(mon_s, TERN_EV_DISCONNECTED, &ev);
    assert_true(same_transport(ev.endpoint, ep));
    printf("    server: DISCONNECTED, detail \"%s\"\n", ev.detail);
    assert_true(ev.detail[0] != '\0');
    MT_WAIT_FOR(mt_stats(server).disconnects == 1, MT_IO_TIMEOUT_MS, "disconnects not counted");
    assert_int_equal(mt_stats(server).peers, 0);

    /* Closing the bound socket: its monitor goes with it. */
    check_ok(tern_socket_close(server));
    mt_wait_peers_cmp(mon_s, '=', 0, MT_IO_TIMEOUT_MS);
    check_ok(tern_socket_close(mon_s));
    check_ok(tern_socket_close(mon_c));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

/* A connect to an endpoint nobody listens on: RECONNECT events whose
 * value is the delay, doubling from RECONNECT_IVL up to _MAX. Only the
 * events in the mask arrive. Binding later connects as usual. */
static void test_reconnect_events(void **state)
{
    int tr = mt_tr_of(state);
    tern_ctx *ctx = mt_ctx();
    tern_socket client = mt_open(ctx, TERN_PUSH);
    mt_setopt(client, TERN_OPT_RECONNECT_IVL, 50);
    mt_setopt(client, TERN_OPT_RECONNECT_IVL_MAX, 400);
    tern_socket mon = mt_monitor_open(ctx, client, TERN_EV_RECONNECT);
    char ep[MT_EP_MAX];
    mt_endpoint(tr, false, ep, sizeof ep);
    mt_connect(client, ep);
    static const int64_t want[] = {50, 100, 200, 400, 400, 400};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        tern_event ev;
        expect_next(mon, TERN_EV_RECONNECT, &ev);
        if (i == 0)
            printf("    RECONNECT: endpoint \"%s\", detail \"%s\"\n", ev.endpoint, ev.detail);
        assert_string_equal(ev.endpoint, ep);
        assert_true(ev.detail[0] != '\0');
        if (ev.value != want[i])
            fail_msg("RECONNECT event %zu has delay %lld ms, expected %lld", i, (long long)ev.value,
                     (long long)want[i]);
    }
    assert_true(mt_stats(client).reconnects >= 6);
    assert_int_equal(mt_stats(client).connected, 0);
    tern_socket server = mt_open(ctx, TERN_PULL);
    mt_bind(server, ep);
    mt_wait_peers(client, 1);
    MT_SEND(client, "late");
    MT_RECV(server, "late");
    /* The mask held back CONNECTED and HANDSHAKE_OK; further RECONNECTs
     * may still have been queued before the bind. */
    tern_event ev;
    tern_err e;
    while ((e = mt_monitor_next(mon, 100, &ev)) == TERN_OK)
        assert_int_equal(ev.event, TERN_EV_RECONNECT);
    check_err(e, TERN_ETIMEDOUT);
    check_ok(tern_socket_close(client));
    check_ok(tern_socket_close(server));
    check_ok(tern_socket_close(mon));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

/* A PUB connecting to a REP: both sides report HANDSHAKE_FAILED with a
 * reason, neither gets a peer. */
static void test_handshake_failed(void **state)
{
    int tr = mt_tr_of(state);
    tern_ctx *ctx = mt_ctx();
    tern_socket rep = mt_open(ctx, TERN_REP);
    tern_socket pub = mt_open(ctx, TERN_PUB);
    mt_setopt(pub, TERN_OPT_RECONNECT_IVL, 5000);
    mt_setopt(pub, TERN_OPT_RECONNECT_IVL_MAX, 5000);
    tern_socket mon_r = mt_monitor_open(ctx, rep, TERN_EV_ALL);
    tern_socket mon_p = mt_monitor_open(ctx, pub, TERN_EV_ALL);
    char ep[MT_EP_MAX];
    mt_bind_fresh(rep, tr, ep, sizeof ep);
    mt_connect(pub, ep);
    tern_event ev_r, ev_p;
    expect_next(mon_r, TERN_EV_LISTENING, NULL);
    expect_next(mon_r, TERN_EV_ACCEPTED, NULL);
    expect_next(mon_r, TERN_EV_HANDSHAKE_FAILED, &ev_r);
    expect_next(mon_p, TERN_EV_CONNECTED, NULL);
    expect_next(mon_p, TERN_EV_HANDSHAKE_FAILED, &ev_p);
    printf("    REP side: \"%s\"\n    PUB side: \"%s\"\n", ev_r.detail, ev_p.detail);
    assert_true(ev_r.detail[0] != '\0');
    assert_true(ev_p.detail[0] != '\0');
    /* At least one side names the cause. */
    assert_true(strcasestr(ev_r.detail, "type") || strcasestr(ev_p.detail, "type"));
    assert_true(mt_stats(rep).handshake_failures >= 1);
    assert_true(mt_stats(pub).handshake_failures >= 1);
    assert_int_equal(mt_stats(rep).handshakes, 0);
    assert_int_equal(mt_getopt(rep, TERN_OPT_PEERS), 0);
    assert_int_equal(mt_getopt(pub, TERN_OPT_PEERS), 0);
    /* The PUB retries later (RECONNECT), it does not get through. */
    expect_next(mon_p, TERN_EV_RECONNECT, &ev_p);
    assert_int_equal(ev_p.value, 5000);
    check_ok(tern_socket_close(pub));
    check_ok(tern_socket_close(rep));
    check_ok(tern_socket_close(mon_r));
    check_ok(tern_socket_close(mon_p));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

/* inproc: an incompatible peer is refused at connect when the bind
 * exists, and never linked when it comes later. */
static void test_inproc_incompatible(void **state)
{
    (void)state;
    tern_ctx *ctx = mt_ctx();
    tern_socket rep = mt_open(ctx, TERN_REP);
    tern_socket pub = mt_open(ctx, TERN_PUB);
    char ep[MT_EP_MAX];
    mt_bind_fresh(rep, MT_INPROC, ep, sizeof ep);
    check_err(tern_connect(pub, ep), TERN_EINCOMPAT);
    assert_int_equal(mt_getopt(rep, TERN_OPT_PEERS), 0);
    /* Connect first, bind later. */
    tern_socket sub = mt_open(ctx, TERN_SUB);
    tern_socket req = mt_open(ctx, TERN_REQ);
    char ep2[MT_EP_MAX];
    mt_endpoint(MT_INPROC, false, ep2, sizeof ep2);
    mt_connect(sub, ep2);
    mt_bind(req, ep2); /* inproc links (or refuses) within the bind */
    assert_int_equal(mt_getopt(req, TERN_OPT_PEERS), 0);
    assert_int_equal(mt_getopt(sub, TERN_OPT_PEERS), 0);
    check_err(tern_send(req, "x", 1, TERN_DONTWAIT), TERN_EAGAIN);
    tern_ctx_close(ctx);
}

/* Events the monitor has no room for (nobody connected to it) are
 * counted; tern_monitor(NULL) stops monitoring and closes the monitor's
 * socket; a new monitor replaces the old one. */
static void test_dropped_and_stop(void **state)
{
    int tr = mt_tr_of(state);
    tern_ctx *ctx = mt_ctx();
    tern_socket server = mt_open(ctx, TERN_PULL);
    char mep[MT_EP_MAX];
    mt_endpoint(MT_INPROC, false, mep, sizeof mep);
    check_ok(tern_monitor(server, mep, TERN_EV_ALL));
    char ep[MT_EP_MAX];
    mt_bind_fresh(server, tr, ep, sizeof ep);
    MT_WAIT_FOR(mt_stats(server).events_dropped >= 1, MT_IO_TIMEOUT_MS,
                "the LISTENING event nobody could receive was not counted as dropped");
    /* Now someone listens. */
    tern_socket mon = mt_open(ctx, TERN_PAIR);
    mt_connect(mon, mep);
    mt_wait_peers(mon, 1);
    tern_socket client = mt_open(ctx, TERN_PUSH);
    mt_connect(client, ep);
    expect_next(mon, TERN_EV_ACCEPTED, NULL);
    expect_next(mon, TERN_EV_HANDSHAKE_OK, NULL);
    /* Stop: the monitor's socket closes, no more events. */
    check_ok(tern_monitor(server, NULL, 0));
    mt_wait_peers_cmp(mon, '=', 0, MT_IO_TIMEOUT_MS);
    check_ok(tern_socket_close(client));
    MT_WAIT_FOR(mt_stats(server).disconnects == 1, MT_IO_TIMEOUT_MS, "disconnect not counted");
    mt_expect_silence(mon, 100);
    /* A new monitor on a new endpoint, with a mask. */
    tern_socket mon2 = mt_monitor_open(ctx, server, TERN_EV_HANDSHAKE_OK);
    client = mt_open(ctx, TERN_PUSH);
    mt_connect(client, ep);
    tern_event ev;
    expect_next(mon2, TERN_EV_HANDSHAKE_OK, &ev);
    check_ok(tern_socket_close(client));
    mt_expect_silence(mon2, 200); /* DISCONNECTED is masked out */
    /* Only inproc endpoints can carry events. */
    check_err(tern_monitor(server, "tcp://127.0.0.1:0", TERN_EV_ALL), TERN_EINVAL);
    check_ok(tern_socket_close(server));
    check_ok(tern_socket_close(mon));
    check_ok(tern_socket_close(mon2));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

/* ---- decoding ---------------------------------------------------------- */

static void test_event_decode(void **state)
{
    (void)state;
    tern_ctx *ctx = mt_ctx();
    tern_socket server = mt_open(ctx, TERN_PULL);
    tern_socket mon = mt_monitor_open(ctx, server, TERN_EV_LISTENING);
    char ep[MT_EP_MAX];
    mt_bind_fresh(server, MT_IPC, ep, sizeof ep);
    /* A real event message, decoded. */
    tern_msg *m = mt_recv_msg(mon);
    tern_event ev;
    memset(&ev, 0x5a, sizeof ev);
    check_ok(tern_event_decode(m, &ev));
    assert_int_equal(ev.event, TERN_EV_LISTENING);
    assert_string_equal(tern_event_name(ev.event), "LISTENING");
    assert_int_equal(ev.value, 0);
    assert_string_equal(ev.endpoint, ep);
    assert_string_equal(ev.peer, "");
    assert_string_equal(ev.detail, "");
    /* A copy decodes the same. */
    tern_msg *dup = NULL;
    check_ok(tern_msg_dup(m, &dup));
    tern_event ev2;
    check_ok(tern_event_decode(dup, &ev2));
    assert_int_equal(ev2.event, ev.event);
    assert_string_equal(ev2.endpoint, ev.endpoint);
    tern_msg_free(dup);
    tern_msg_free(m);

    /* Messages that are not events. */
    static const char *const not_events[][5] = {
        {"hello"},
        {"", "", "", ""},
        {"0123456789", "", ""},
        {"0123456789", "a", "b", "c", "d"},
        {"012345678", "", "", ""},
    };
    static const size_t nparts[] = {1, 4, 3, 5, 4};
    for (size_t i = 0; i < sizeof nparts / sizeof nparts[0]; i++) {
        tern_msg *bad = mt_msg_strs_try(nparts[i], not_events[i]);
        assert_non_null(bad);
        tern_err e = tern_event_decode(bad, &ev);
        tern_msg_free(bad);
        if (e != TERN_EPROTO)
            fail_msg("decoding non-event message %zu returned %s, expected TERN_EPROTO", i,
                     tern_errname(e));
    }
    tern_msg *empty = NULL;
    check_ok(tern_msg_new(&empty));
    check_err(tern_event_decode(empty, &ev), TERN_EPROTO);
    tern_msg_free(empty);
    check_ok(tern_socket_close(server));
    check_ok(tern_socket_close(mon));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

static void test_event_names(void **state)
{
    (void)state;
    static const struct {
        int ev;
        const char *name;
    } names[] = {
        {TERN_EV_LISTENING, "LISTENING"},
        {TERN_EV_ACCEPTED, "ACCEPTED"},
        {TERN_EV_CONNECTED, "CONNECTED"},
        {TERN_EV_HANDSHAKE_OK, "HANDSHAKE_OK"},
        {TERN_EV_HANDSHAKE_FAILED, "HANDSHAKE_FAILED"},
        {TERN_EV_DISCONNECTED, "DISCONNECTED"},
        {TERN_EV_RECONNECT, "RECONNECT"},
        {TERN_EV_CLOSED, "CLOSED"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        assert_string_equal(tern_event_name(names[i].ev), names[i].name);
    static const int unknown[] = {0,      -1,          3,
                                  1 << 8, TERN_EV_ALL, TERN_EV_LISTENING | TERN_EV_CLOSED};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
        assert_string_equal(tern_event_name(unknown[i]), "UNKNOWN");
}

/* ---- counters ---------------------------------------------------------------- */

/* After a known REQ/REP exchange the totals are exact: application
 * messages and body bytes, without the envelope REQ and REP add. */
static void test_stats_exact(void **state)
{
    int tr = mt_tr_of(state);
    enum { K = 10 };
    tern_ctx *ctx = mt_ctx();
    tern_socket rep = mt_open(ctx, TERN_REP);
    tern_socket req = mt_open(ctx, TERN_REQ);
    mt_setopt(req, TERN_OPT_REQ_CORRELATE, 1); /* an extra envelope frame */
    char ep[MT_EP_MAX];
    mt_bind_fresh(rep, tr, ep, sizeof ep);
    mt_connect(req, ep);
    mt_wait_peers(req, 1);
    mt_wait_peers(rep, 1);
    uint64_t q_bytes = 0, a_bytes = 0;
    for (int i = 1; i <= K; i++) {
        /* Request: one part of 10i bytes (copying API). */
        uint8_t buf[256];
        mt_fill(buf, (size_t)i * 10, (uint32_t)i);
        check_ok(tern_send(req, buf, (size_t)i * 10, 0));
        q_bytes += (uint64_t)i * 10;
        size_t len = 0;
        if (i % 2) {
            check_ok(tern_recv(rep, buf, sizeof buf, &len, 0));
        } else {
            tern_msg *m = mt_recv_msg(rep);
            len = tern_msg_total(m);
            assert_int_equal(tern_msg_parts(m), 1);
            tern_msg_free(m);
        }
        assert_int_equal(len, (size_t)i * 10);
        /* Reply: two parts of i and 2i bytes (message API). */
        size_t sizes[2] = {(size_t)i, (size_t)i * 2};
        mt_send_parts(rep, 2, sizes, (uint32_t)i);
        a_bytes += (uint64_t)i * 3;
        if (i % 2) {
            mt_recv_parts(req, 2, sizes, (uint32_t)i);
        } else {
            check_ok(tern_recv(req, buf, sizeof buf, &len, 0));
            assert_int_equal(len, (size_t)i * 3);
        }
    }
    tern_sock_stats q = mt_stats(req), a = mt_stats(rep);
    assert_int_equal(q.msgs_out, K);
    assert_int_equal(q.msgs_in, K);
    assert_int_equal(q.bytes_out, q_bytes);
    assert_int_equal(q.bytes_in, a_bytes);
    assert_int_equal(a.msgs_in, K);
    assert_int_equal(a.msgs_out, K);
    assert_int_equal(a.bytes_in, q_bytes);
    assert_int_equal(a.bytes_out, a_bytes);
    assert_int_equal(q.drops + a.drops, 0);
    assert_int_equal(q.peers, 1);
    assert_int_equal(a.peers, 1);
    if (mt_tr_is_stream(tr)) {
        assert_int_equal(q.connected, 1);
        assert_int_equal(q.accepted, 0);
        assert_int_equal(a.accepted, 1);
        assert_int_equal(a.connected, 0);
        assert_int_equal(q.handshakes, 1);
        assert_int_equal(a.handshakes, 1);
    }
    assert_int_equal(q.handshake_failures + a.handshake_failures, 0);
    assert_int_equal(q.disconnects + a.disconnects, 0);
    /* Per peer. */
    tern_peer_stats pq, pa;
    assert_int_equal(mt_peers(req, &pq, 1), 1);
    assert_int_equal(mt_peers(rep, &pa, 1), 1);
    assert_int_equal(pq.type, TERN_REP);
    assert_int_equal(pa.type, TERN_REQ);
    assert_int_equal(pq.msgs_out, K);
    assert_int_equal(pq.msgs_in, K);
    assert_int_equal(pa.msgs_out, K);
    assert_int_equal(pa.msgs_in, K);
    assert_int_equal(pq.drops + pa.drops, 0);
    /* The requester leaves. */
    check_ok(tern_socket_close(req));
    mt_wait_peers_cmp(rep, '=', 0, MT_IO_TIMEOUT_MS);
    a = mt_stats(rep);
    assert_int_equal(a.peers, 0);
    if (mt_tr_is_stream(tr))
        assert_int_equal(a.disconnects, 1);
    assert_int_equal(mt_peers(rep, NULL, 0), 0);
    check_ok(tern_socket_close(rep));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

/* tern_socket_peers lists every peer with its routing id, type, address
 * and per-peer counts. */
static void test_peers_list(void **state)
{
    int tr = mt_tr_of(state);
    enum { N = 3 };
    tern_ctx *ctx = mt_ctx();
    tern_socket router = mt_open(ctx, TERN_ROUTER);
    char ep[MT_EP_MAX];
    mt_bind_fresh(router, tr, ep, sizeof ep);
    static const char *const ids[N] = {"p1", "peer-two", NULL};
    tern_socket d[N];
    for (int i = 0; i < N; i++) {
        d[i] = mt_open(ctx, TERN_DEALER);
        if (ids[i])
            check_ok(tern_setopt_bytes(d[i], TERN_OPT_ROUTING_ID, ids[i], strlen(ids[i])));
        mt_connect(d[i], ep);
    }
    mt_wait_peers(router, N);
    /* Dealer i sends i + 1 messages; the ROUTER answers each with two. */
    uint8_t anon_id[255];
    size_t anon_len = 0;
    for (int i = 0; i < N; i++) {
        mt_wait_peers(d[i], 1);
        for (int k = 0; k <= i; k++)
            MT_SEND(d[i], "m");
        for (int k = 0; k <= i; k++) {
            tern_msg *m = mt_recv_msg(router);
            assert_int_equal(tern_msg_parts(m), 2);
            if (!ids[i]) {
                anon_len = tern_msg_size(m, 0);
                memcpy(anon_id, tern_msg_data(m, 0), anon_len);
            }
            for (int r = 0; r < 2; r++) {
                tern_msg *reply = NULL;
                check_ok(tern_msg_new(&reply));
                check_ok(tern_msg_append(reply, tern_msg_data(m, 0), tern_msg_size(m, 0)));
                check_ok(tern_msg_append(reply, "r", 1));
                mt_msg_send(router, reply, 0);
            }
            tern_msg_free(m);
        }
        for (int k = 0; k < 2 * (i + 1); k++)
            MT_RECV(d[i], "r");
    }
    assert_int_equal(anon_len, 5);
    tern_peer_stats ps[N];
    size_t n = mt_peers(router, ps, N);
    assert_int_equal(n, N);
    for (int i = 0; i < N; i++) {
        const void *id = ids[i] ? (const void *)ids[i] : anon_id;
        size_t len = ids[i] ? strlen(ids[i]) : anon_len;
        tern_peer_stats *p = NULL;
        for (size_t k = 0; k < n; k++)
            if (ps[k].routing_id_len == len && memcmp(ps[k].routing_id, id, len) == 0)
                p = &ps[k];
        if (p == NULL)
            fail_msg("peer %d is not listed", i);
        if (i == 0)
            printf("    %s peer address: \"%s\"\n", mt_transport_name(tr), p->address);
        assert_int_equal(p->type, TERN_DEALER);
        assert_int_equal(p->msgs_in, (uint64_t)i + 1);
        assert_int_equal(p->msgs_out, 2 * ((uint64_t)i + 1));
        assert_int_equal(p->drops, 0);
        assert_int_equal(p->queued_out, 0); /* everything was received */
        assert_int_equal(p->subscriptions, 0);
        if (tr == MT_TCP)
            assert_non_null(strstr(p->address, "127.0.0.1"));
        if (tr == MT_INPROC)
            assert_string_equal(p->address, ep);
    }
    /* One leaves. */
    check_ok(tern_socket_close(d[0]));
    MT_WAIT_FOR(mt_peers(router, NULL, 0) == N - 1, MT_IO_TIMEOUT_MS,
                "the closed DEALER is still listed");
    n = mt_peers(router, ps, N);
    for (size_t k = 0; k < n; k++)
        assert_false(ps[k].routing_id_len == 2 && memcmp(ps[k].routing_id, "p1", 2) == 0);
    for (int i = 1; i < N; i++)
        check_ok(tern_socket_close(d[i]));
    check_ok(tern_socket_close(router));
    tern_ctx_close(ctx);
    mt_unlink_ipc(ep);
}

#define STREAMS(fn)                                                                                \
    {#fn "_tcp", fn, NULL, NULL, mt_tr_arg(MT_TCP)},                                               \
    {                                                                                              \
#fn "_ipc", fn, NULL, NULL, mt_tr_arg(MT_IPC)                                              \
    }

int main(void)
{
    mt_test_filter_from_env();
    const struct CMUnitTest tests[] = {
        STREAMS(test_lifecycle_events),     STREAMS(test_reconnect_events),
        STREAMS(test_handshake_failed),     cmocka_unit_test(test_inproc_incompatible),
        STREAMS(test_dropped_and_stop),     cmocka_unit_test(test_event_decode),
        cmocka_unit_test(test_event_names), MT_PER_TRANSPORT(test_stats_exact),
        MT_PER_TRANSPORT(test_peers_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
