/* Hostile peers: raw TCP clients that break ZMTP 3.1 (bad greetings,
 * unknown mechanisms, broken READY commands, truncated, huge and oversized
 * frames, slow and garbage senders) against a tern PULL with a short
 * handshake limit and a message size limit, while a well-behaved tern PUSH
 * keeps sending to the same PULL.
 *
 * For every hostile client: tern closes the connection within a bound, a
 * trace line gives a reason, the process RSS does not jump, nothing the
 * client sent is delivered, and the good peer's messages keep arriving. */
#include "rawzmtp.h"

#define HANDSHAKE_IVL_MS 500
#define MAXMSG (64 * 1024)
#define RSS_LIMIT (64ll << 20)
#define NTAGS 4

/* Words that say why a connection was dropped (case-insensitive). */
static const char *const reason_words[] = {
    "fail",       "invalid",  "bad",     "malformed", "unknown",  "unsupported",
    "unexpected", "mismatch", "refus",   "reject",    "incompat", "too large",
    "too big",    "too long", "exceed",  "limit",     "truncat",  "timeout",
    "timed out",  "eof",      "reset",   "closed",    "error",    "drop",
    "violat",     "overflow", "illegal", "not ",      NULL,
};

/* ---- the good peer ---------------------------------------------------- */

struct fixture {
    tern_ctx *ctx;
    tern_socket pull, push;
    int port;
    pthread_t tx, rx;
    atomic_bool stop;
    atomic_uint_fast64_t sent;
    atomic_uint_fast64_t received[NTAGS];
    atomic_uint_fast64_t foreign;  /* messages the good peers never sent */
    atomic_uint_fast64_t disorder; /* good messages lost, repeated or reordered */
    int64_t rss0;
};

static struct fixture fx;

/* Good messages: "GOOD", a 4-byte tag, an 8-byte sequence number. */
static tern_err send_good(tern_socket s, uint32_t tag, uint64_t seq)
{
    uint8_t buf[16];
    memcpy(buf, "GOOD", 4);
    memcpy(buf + 4, &tag, 4);
    memcpy(buf + 8, &seq, 8);
    return tern_send(s, buf, sizeof buf, 0);
}

static void *good_sender(void *arg)
{
    (void)arg;
    uint64_t seq = 0;
    while (!atomic_load(&fx.stop)) {
        tern_err e = send_good(fx.push, 0, seq);
        if (e == TERN_OK) {
            seq++;
            atomic_store(&fx.sent, seq);
        } else if (e != TERN_ETIMEDOUT && e != TERN_EAGAIN) {
            break;
        }
        mt_sleep_ms(1);
    }
    return NULL;
}

static void *good_receiver(void *arg)
{
    (void)arg;
    uint64_t next[NTAGS] = {0};
    while (!atomic_load(&fx.stop)) {
        uint8_t buf[MAXMSG + 16];
        size_t len = 0;
        tern_err e = tern_recv(fx.pull, buf, sizeof buf, &len, 0);
        if (e == TERN_ETIMEDOUT || e == TERN_EAGAIN)
            continue;
        if (e == TERN_ECLOSED)
            break;
        uint32_t tag;
        uint64_t seq;
        if (e != TERN_OK || len != 16 || memcmp(buf, "GOOD", 4) != 0) {
            atomic_fetch_add(&fx.foreign, 1);
            continue;
        }
        memcpy(&tag, buf + 4, 4);
        memcpy(&seq, buf + 8, 8);
        if (tag >= NTAGS) {
            atomic_fetch_add(&fx.foreign, 1);
            continue;
        }
        if (seq != next[tag])
            atomic_fetch_add(&fx.disorder, 1);
        next[tag] = seq + 1;
        atomic_fetch_add(&fx.received[tag], 1);
    }
    return NULL;
}

static void wait_good_progress(uint64_t more, int64_t timeout_ms)
{
    uint64_t start = atomic_load(&fx.received[0]);
    int64_t deadline = mt_now_ms() + timeout_ms;
    while (atomic_load(&fx.received[0]) < start + more) {
        if (mt_now_ms() > deadline)
            fail_msg("the good peer's messages stopped arriving: %llu received in %lld ms "
                     "(sent %llu in total)",
                     (unsigned long long)(atomic_load(&fx.received[0]) - start),
                     (long long)timeout_ms, (unsigned long long)atomic_load(&fx.sent));
        mt_sleep_ms(10);
    }
}

static int group_setup(void **state)
{
    (void)state;
    memset(&fx, 0, sizeof fx);
    mt_trace_capture();
    fx.ctx = mt_ctx();
    fx.pull = mt_open(fx.ctx, TERN_PULL);
    mt_setopt(fx.pull, TERN_OPT_HANDSHAKE_IVL, HANDSHAKE_IVL_MS);
    mt_setopt(fx.pull, TERN_OPT_MAXMSGSIZE, MAXMSG);
    mt_setopt(fx.pull, TERN_OPT_RCVTIMEO, 200);
    mt_bind(fx.pull, "tcp://127.0.0.1:0");
    char ep[MT_EP_MAX];
    mt_last_endpoint(fx.pull, ep, sizeof ep);
    const char *colon = strrchr(ep, ':');
    assert_non_null(colon);
    fx.port = atoi(colon + 1);
    assert_true(fx.port > 0);

    fx.push = mt_open(fx.ctx, TERN_PUSH);
    mt_setopt(fx.push, TERN_OPT_SNDTIMEO, 200);
    mt_setopt(fx.push, TERN_OPT_LINGER, 0);
    mt_connect(fx.push, ep);
    mt_wait_peers(fx.push, 1);
    assert_int_equal(pthread_create(&fx.tx, NULL, good_sender, NULL), 0);
    assert_int_equal(pthread_create(&fx.rx, NULL, good_receiver, NULL), 0);
    wait_good_progress(20, 10000);
    fx.rss0 = mt_rss_bytes();
    assert_true(fx.rss0 > 0);
    printf("    PULL on port %d, RSS %lld KiB\n", fx.port, (long long)(fx.rss0 >> 10));
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    atomic_store(&fx.stop, true);
    bool joined = mt_join(fx.tx, 10000);
    joined = mt_join(fx.rx, 10000) && joined;
    if (!joined)
        return -1;
    mt_close_lossy(fx.push);
    check_ok(tern_socket_close(fx.pull));
    tern_ctx_close(fx.ctx);
    tern_trace_set(NULL);
    tern_trace_sink(NULL, NULL);
    return 0;
}

/* ---- raw ZMTP pieces -------------------------------------------------- */

static int raw_connect(void)
{
    return rz_connect(fx.port);
}

/* A well-formed NULL handshake as a PUSH. */
static void send_handshake(int fd)
{
    rz_handshake(fd, "PUSH");
}

/* ---- the hostile clients ---------------------------------------------- */

/* ZMTP 1.0 style: a length byte instead of 0xFF, then "frames" that an old
 * peer would deliver as messages. */
static void h_first_byte(int fd)
{
    static const uint8_t bytes[] = {0x01, 0x00, 0x06, 0x00, 'h', 'e', 'l', 'l',
                                    'o',  0x06, 0x00, 'w',  'o', 'r', 'l', 'd'};
    rz_send(fd, bytes, sizeof bytes);
}

static void h_signature_end(int fd)
{
    uint8_t buf[128];
    rz_greeting(buf, 3, 1, "NULL");
    buf[9] = 0x01; /* a ZMTP 1.0 long identity length, not 0x7F */
    size_t n = 64 + rz_ready(buf + 64, 0x04, "PUSH");
    rz_send(fd, buf, n);
}

static void h_major2(int fd)
{
    uint8_t buf[128];
    rz_greeting(buf, 2, 0, "NULL");
    size_t n = 64 + rz_ready(buf + 64, 0x04, "PUSH");
    rz_send(fd, buf, n);
}

static void h_curve(int fd)
{
    uint8_t buf[64];
    rz_greeting(buf, 3, 1, "CURVE");
    rz_send(fd, buf, sizeof buf);
}

static void h_bogus(int fd)
{
    uint8_t buf[64];
    rz_greeting(buf, 3, 1, "BOGUS");
    rz_send(fd, buf, sizeof buf);
}

/* Valid handshake, then 10 of the 100 bytes a frame announces, then EOF. */
static void h_truncated(int fd)
{
    send_handshake(fd);
    uint8_t frame[12] = {0x00, 100};
    mt_fill(frame + 2, 10, 1);
    rz_send(fd, frame, sizeof frame);
    shutdown(fd, SHUT_WR);
}

/* A long frame announcing 2^63-1 bytes. */
static void h_huge(int fd)
{
    send_handshake(fd);
    uint8_t frame[9 + 1000];
    frame[0] = 0x02;
    rz_put_be64(frame + 1, 0x7FFFFFFFFFFFFFFFull);
    mt_fill(frame + 9, 1000, 2);
    rz_send(fd, frame, sizeof frame);
}

/* One frame of 1 MiB against a 64 KiB MAXMSGSIZE, all bytes really sent. */
static void h_over_max(int fd)
{
    send_handshake(fd);
    size_t body = 1u << 20;
    uint8_t *frame = malloc(9 + body);
    assert_non_null(frame);
    frame[0] = 0x02;
    rz_put_be64(frame + 1, body);
    mt_fill(frame + 9, body, 3);
    rz_send(fd, frame, 9 + body);
    free(frame);
}

/* A multipart message whose parts are each under MAXMSGSIZE but whose
 * total (up to 100 MiB) is far over it. */
static void h_parts_over_max(int fd)
{
    send_handshake(fd);
    size_t body = 32 * 1024;
    uint8_t *frame = malloc(9 + body);
    assert_non_null(frame);
    frame[0] = 0x03; /* MORE | LONG */
    rz_put_be64(frame + 1, body);
    mt_fill(frame + 9, body, 4);
    for (int i = 0; i < 3200; i++)
        if (!rz_send(fd, frame, 9 + body))
            break;
    free(frame);
}

/* One byte a second: the handshake limit must drop it. */
static void h_slow(int fd)
{
    uint8_t g[64];
    rz_greeting(g, 3, 1, "NULL");
    for (int i = 0; i < 8; i++) {
        if (!rz_send(fd, g + i, 1))
            return;
        if (rz_wait_closed(fd, 1000))
            return;
    }
}

static void h_garbage(int fd)
{
    size_t n = 64 * 1024;
    uint8_t *buf = malloc(n);
    assert_non_null(buf);
    uint32_t x = 0x9E3779B9u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (uint8_t)x;
    }
    rz_send(fd, buf, n);
    free(buf);
}

/* READY whose property claims a value far longer than the command. */
static void h_ready_value_size(int fd)
{
    uint8_t buf[128];
    rz_greeting(buf, 3, 1, "NULL");
    size_t n = rz_ready(buf + 64, 0x04, "PUSH");
    /* The value size sits after flags, size, "\x05READY", "\x0bSocket-Type". */
    rz_put_be32(buf + 64 + 2 + 6 + 12, 0x7FFFFFF0u);
    rz_send(fd, buf, 64 + n);
}

/* READY with a zero-length property name. */
static void h_ready_empty_name(int fd)
{
    uint8_t buf[128];
    rz_greeting(buf, 3, 1, "NULL");
    uint8_t *c = buf + 64;
    size_t n = 0;
    c[n++] = 0x04;
    c[n++] = 6 + 1 + 4 + 4;
    c[n++] = 5;
    memcpy(c + n, "READY", 5);
    n += 5;
    c[n++] = 0;
    rz_put_be32(c + n, 4);
    n += 4;
    memcpy(c + n, "PUSH", 4);
    n += 4;
    rz_send(fd, buf, 64 + n);
}

/* READY whose property name runs past the end of the command. */
static void h_ready_name_overrun(int fd)
{
    uint8_t buf[128];
    rz_greeting(buf, 3, 1, "NULL");
    uint8_t *c = buf + 64;
    size_t n = 0;
    c[n++] = 0x04;
    c[n++] = 6 + 1 + 6;
    c[n++] = 5;
    memcpy(c + n, "READY", 5);
    n += 5;
    c[n++] = 200;
    memcpy(c + n, "Socket", 6);
    n += 6;
    rz_send(fd, buf, 64 + n);
}

/* READY sent as a command frame with MORE set (flags 0x05). */
static void h_ready_more(int fd)
{
    uint8_t buf[128];
    rz_greeting(buf, 3, 1, "NULL");
    size_t n = rz_ready(buf + 64, 0x05, "PUSH");
    rz_send(fd, buf, 64 + n);
}

/* After a good handshake, a PING command frame with MORE set. */
static void h_command_more(int fd)
{
    send_handshake(fd);
    static const uint8_t ping[] = {0x05, 7, 4, 'P', 'I', 'N', 'G', 0x00, 0x00};
    rz_send(fd, ping, sizeof ping);
}

/* A PUB announcing itself to a PULL. */
static void h_wrong_type(int fd)
{
    uint8_t buf[128];
    rz_greeting(buf, 3, 1, "NULL");
    size_t n = rz_ready(buf + 64, 0x04, "PUB");
    rz_send(fd, buf, 64 + n);
}

/* A message frame where READY should be. */
static void h_data_before_ready(int fd)
{
    uint8_t buf[64 + 7];
    rz_greeting(buf, 3, 1, "NULL");
    memcpy(buf + 64, "\x00\x05hello", 7);
    rz_send(fd, buf, sizeof buf);
}

struct hostile {
    const char *name;
    void (*run)(int fd);
    int64_t close_within_ms; /* from connect to tern's close */
};

#define IN_HANDSHAKE (HANDSHAKE_IVL_MS + 2500)
#define AFTER_HANDSHAKE 5000

static const struct hostile h_cases[] = {
    {"hostile_first_byte_not_ff", h_first_byte, IN_HANDSHAKE},
    {"hostile_signature_byte9_not_7f", h_signature_end, IN_HANDSHAKE},
    {"hostile_zmtp_major_2", h_major2, IN_HANDSHAKE},
    {"hostile_mechanism_curve", h_curve, IN_HANDSHAKE},
    {"hostile_mechanism_bogus", h_bogus, IN_HANDSHAKE},
    {"hostile_truncated_frame_then_eof", h_truncated, AFTER_HANDSHAKE},
    {"hostile_long_frame_2p63", h_huge, AFTER_HANDSHAKE},
    {"hostile_frame_over_maxmsgsize", h_over_max, AFTER_HANDSHAKE},
    {"hostile_multipart_over_maxmsgsize", h_parts_over_max, AFTER_HANDSHAKE},
    {"hostile_one_byte_per_second", h_slow, IN_HANDSHAKE},
    {"hostile_garbage_64k", h_garbage, IN_HANDSHAKE},
    {"hostile_ready_value_size_overrun", h_ready_value_size, IN_HANDSHAKE},
    {"hostile_ready_empty_property_name", h_ready_empty_name, IN_HANDSHAKE},
    {"hostile_ready_name_overrun", h_ready_name_overrun, IN_HANDSHAKE},
    {"hostile_ready_with_more_flag", h_ready_more, IN_HANDSHAKE},
    {"hostile_command_with_more_flag", h_command_more, AFTER_HANDSHAKE},
    {"hostile_ready_wrong_socket_type", h_wrong_type, IN_HANDSHAKE},
    {"hostile_data_frame_before_ready", h_data_before_ready, IN_HANDSHAKE},
};
#define NCASES (sizeof h_cases / sizeof h_cases[0])

static void test_hostile(void **state)
{
    const struct hostile *h = *state;
    uint64_t foreign0 = atomic_load(&fx.foreign);
    uint64_t disorder0 = atomic_load(&fx.disorder);
    int64_t rss_before = mt_rss_bytes();
    uint64_t mark = mt_trace_mark();

    int64_t t0 = mt_now_ms();
    int fd = raw_connect();
    h->run(fd);
    int64_t left = h->close_within_ms - (mt_now_ms() - t0) + 1000;
    bool closed = rz_wait_closed(fd, left > 1000 ? left : 1000);
    int64_t dt = mt_now_ms() - t0;
    close(fd);
    if (!closed) {
        mt_trace_dump(mark, 20);
        fail_msg("tern kept the hostile connection open for %lld ms", (long long)dt);
    }
    printf("    closed by tern %lld ms after connect\n", (long long)dt);
    if (dt > h->close_within_ms)
        fail_msg("tern took %lld ms to close the hostile connection (limit %lld)", (long long)dt,
                 (long long)h->close_within_ms);

    char line[MT_TRACE_LEN + 32];
    if (!mt_trace_wait(mark, reason_words, 2000, line, sizeof line)) {
        mt_trace_dump(mark, 20);
        fail_msg("no trace line gave a reason for dropping the connection");
    }
    printf("    trace: %s\n", line);

    wait_good_progress(20, 5000);
    assert_int_equal(mt_getopt(fx.push, TERN_OPT_PEERS), 1);

    int64_t rss_after = mt_rss_bytes();
    printf("    RSS %lld -> %lld KiB\n", (long long)(rss_before >> 10),
           (long long)(rss_after >> 10));
    assert_true(rss_after - rss_before < RSS_LIMIT);
    assert_true(rss_after - fx.rss0 < RSS_LIMIT);

    uint64_t foreign = atomic_load(&fx.foreign) - foreign0;
    if (foreign != 0)
        fail_msg("%llu messages from the hostile client were delivered",
                 (unsigned long long)foreign);
    assert_int_equal(atomic_load(&fx.disorder) - disorder0, 0);
    /* Keep this case's late trace lines out of the next case's window. */
    mt_sleep_ms(100);
}

/* After all that, the PULL still accepts a new good peer. */
static void test_still_serving(void **state)
{
    (void)state;
    tern_socket p = mt_open(fx.ctx, TERN_PUSH);
    char ep[MT_EP_MAX];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", fx.port);
    mt_connect(p, ep);
    mt_wait_peers(p, 1);
    for (uint64_t s = 0; s < 50; s++)
        check_ok(send_good(p, 1, s));
    int64_t deadline = mt_now_ms() + 10000;
    while (atomic_load(&fx.received[1]) < 50 && mt_now_ms() < deadline)
        mt_sleep_ms(10);
    assert_int_equal(atomic_load(&fx.received[1]), 50);
    check_ok(tern_socket_close(p));
    assert_int_equal(atomic_load(&fx.foreign), 0);
    assert_int_equal(atomic_load(&fx.disorder), 0);
}

/* ---- tern's side of the conversation ---------------------------------- */

/* 37/ZMTP: "When a peer uses the NULL security mechanism, the as-server
 * field MUST be zero" -- on accepted connections too. */
static void test_tern_greeting_as_server(void **state)
{
    (void)state;
    int fd = raw_connect();
    uint8_t g[64];
    assert_true(rz_read_exact(fd, g, 64, 5000));
    close(fd);
    rz_check_greeting(g);
    if (g[32] != 0)
        fail_msg("tern's greeting on an accepted connection has as-server = %u with the NULL "
                 "mechanism; 37/ZMTP requires 0",
                 g[32]);
}

/* What tern sends to a connecting client: a ZMTP 3.1 NULL greeting and a
 * READY naming the socket type; PING with a context gets a PONG echoing
 * it; after a PING with a TTL and then silence, tern hangs up. */
static void test_tern_greets_and_pongs(void **state)
{
    (void)state;
    int fd = raw_connect();
    uint8_t g[64];
    assert_true(rz_read_exact(fd, g, 64, 5000));
    rz_check_greeting(g);
    send_handshake(fd);
    uint8_t flags, body[512];
    size_t len;
    assert_true(rz_read_frame(fd, &flags, body, sizeof body, &len, 5000));
    assert_int_equal(flags, 0x04);
    const uint8_t *v;
    long vl = rz_ready_prop(body, len, "Socket-Type", &v);
    assert_int_equal(vl, 4);
    assert_memory_equal(v, "PULL", 4);

    /* PING, TTL 0.5 s, context "ctx-42". */
    static const uint8_t ping[] = {0x04, 13,  4,   'P', 'I', 'N', 'G', 0,
                                   5,    'c', 't', 'x', '-', '4', '2'};
    assert_true(rz_send(fd, ping, sizeof ping));
    int64_t t0 = mt_now_ms();
    assert_true(rz_read_frame(fd, &flags, body, sizeof body, &len, 5000));
    assert_int_equal(flags, 0x04);
    assert_int_equal(len, 5 + 6);
    assert_memory_equal(body, "\x04PONG", 5);
    assert_memory_equal(body + 5, "ctx-42", 6);
    /* Now silence: tern applies the TTL we asked for. */
    bool closed = rz_wait_closed(fd, 5000);
    int64_t dt = mt_now_ms() - t0;
    close(fd);
    printf("    PONG ok; closed %lld ms after a PING with TTL 500 ms\n", (long long)dt);
    assert_true(closed);
    assert_true(dt >= 400);
    assert_true(dt <= 3000);
    wait_good_progress(20, 5000);
}

/* tern connects to a raw PULL that completes the handshake and then never
 * answers: tern's READY carries the routing id, tern PINGs every
 * HEARTBEAT_IVL and hangs up after HEARTBEAT_TIMEOUT without traffic. */
static void test_silent_peer_heartbeat(void **state)
{
    (void)state;
    int port;
    int lfd = rz_listen(&port);
    tern_socket push = mt_open(fx.ctx, TERN_PUSH);
    mt_setopt(push, TERN_OPT_HEARTBEAT_IVL, 100);
    mt_setopt(push, TERN_OPT_HEARTBEAT_TIMEOUT, 400);
    mt_setopt(push, TERN_OPT_HEARTBEAT_TTL, 2000);
    mt_setopt(push, TERN_OPT_RECONNECT_IVL, 5000);
    mt_setopt(push, TERN_OPT_RECONNECT_IVL_MAX, 5000);
    check_ok(tern_setopt_bytes(push, TERN_OPT_ROUTING_ID, "ident-7", 7));
    char ep[MT_EP_MAX];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    uint64_t mark = mt_trace_mark();
    mt_connect(push, ep);
    int fd = rz_accept(lfd, 5000);

    uint8_t buf[128];
    rz_greeting(buf, 3, 1, "NULL");
    size_t n = 64 + rz_ready(buf + 64, 0x04, "PULL");
    assert_true(rz_send(fd, buf, n));
    uint8_t g[64];
    assert_true(rz_read_exact(fd, g, 64, 5000));
    rz_check_greeting(g);
    uint8_t flags, body[512];
    size_t len;
    assert_true(rz_read_frame(fd, &flags, body, sizeof body, &len, 5000));
    assert_int_equal(flags, 0x04);
    const uint8_t *v;
    long vl = rz_ready_prop(body, len, "Socket-Type", &v);
    assert_int_equal(vl, 4);
    assert_memory_equal(v, "PUSH", 4);
    vl = rz_ready_prop(body, len, "Identity", &v);
    assert_int_equal(vl, 7);
    assert_memory_equal(v, "ident-7", 7);
    mt_wait_peers(push, 1);

    /* Count PINGs until tern hangs up. */
    int64_t t0 = mt_now_ms();
    int pings = 0;
    bool closed = false;
    while (mt_now_ms() - t0 < 5000) {
        if (!rz_read_frame(fd, &flags, body, sizeof body, &len, 5000)) {
            closed = true;
            break;
        }
        if (flags == 0x04 && len >= 7 && memcmp(body, "\x04PING", 5) == 0) {
            uint16_t ttl = (uint16_t)(body[5] << 8 | body[6]);
            if (pings == 0)
                printf("    first PING after %lld ms, TTL %u ds\n", (long long)(mt_now_ms() - t0),
                       ttl);
            assert_int_equal(ttl, 20);
            pings++;
        }
    }
    int64_t dt = mt_now_ms() - t0;
    close(fd);
    close(lfd);
    printf("    %d PING(s); tern hung up %lld ms after the handshake\n", pings, (long long)dt);
    assert_true(closed);
    assert_true(pings >= 1);
    assert_true(dt >= 300);
    assert_true(dt <= 3000);
    mt_wait_peers_cmp(push, '=', 0, 3000);
    char line[MT_TRACE_LEN + 32];
    static const char *const hb_words[] = {"heartbeat", "timeout",    "timed out",
                                           "silent",    "no traffic", NULL};
    if (!mt_trace_wait(mark, hb_words, 2000, line, sizeof line)) {
        mt_trace_dump(mark, 20);
        fail_msg("no trace line says the peer was dropped for silence");
    }
    printf("    trace: %s\n", line);
    mt_setopt(push, TERN_OPT_LINGER, 0);
    check_ok(tern_socket_close(push));
}

int main(void)
{
    mt_test_filter_from_env();
    struct CMUnitTest tests[NCASES + 4];
    size_t n = 0;
    for (size_t i = 0; i < NCASES; i++)
        tests[n++] =
            (struct CMUnitTest){h_cases[i].name, test_hostile, NULL, NULL, (void *)&h_cases[i]};
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_tern_greeting_as_server);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_tern_greets_and_pongs);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_silent_peer_heartbeat);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_still_serving);
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
