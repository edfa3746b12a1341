/* Hostile and awkward input while a thread waiting in receive reads its
 * connections itself (latency mode: REP, and DEALER with
 * TERN_OPT_BUSY_POLL). The waiting thread only decodes and queues; what
 * the input asks for beyond that goes to the I/O thread. Each case has a
 * receiver blocked in tern_msg_recv while raw TCP peers speak ZMTP by hand:
 *
 *  (a) a PING is answered with a PONG carrying its context, and a request
 *      sent after it is received; one sent after the receiver left (with
 *      the input still taken, for its next receive) is answered too;
 *  (b) a malformed frame, a frame of 2^63 bytes, and half a frame then a
 *      close each drop that peer only, with a reason traced, while the
 *      receiver goes on to take a good peer's request;
 *  (c) a request sent long after the receiver stopped polling and went to
 *      sleep on its connections wakes it, and so does one from an old peer
 *      after a fifth peer made the socket too big to read itself;
 *  (d) a burst far over the receive high-water mark, read by the waiting
 *      thread, pauses and resumes reading and loses nothing;
 *  (e) big messages whose layout the reader guesses from the last one,
 *      rightly and wrongly, arrive intact. */
#include <netinet/tcp.h>

#include "rawzmtp.h"

static const char *const drop_words[] = {"dropped", NULL};

static tern_ctx *g_ctx;

static int group_setup(void **state)
{
    mt_traced_group_setup(state);
    g_ctx = *state;
    return 0;
}

/* A thread blocked in receive on s, keeping what it got. */
struct receiver {
    tern_socket s;
    pthread_t th;
    tern_msg *msg;
    tern_err err;
};

static void *receive_one(void *arg)
{
    struct receiver *r = arg;
    r->err = tern_msg_recv(r->s, &r->msg, 0);
    return NULL;
}

static void receiver_start(struct receiver *r, tern_socket s)
{
    memset(r, 0, sizeof *r);
    r->s = s;
    assert_int_equal(pthread_create(&r->th, NULL, receive_one, r), 0);
    /* Past the 50 us of polling: the receiver sleeps on its connections. */
    mt_sleep_ms(20);
}

/* Joins the receiver; checks it got one message whose last part is want. */
static void receiver_expect(struct receiver *r, const char *want)
{
    assert_true(mt_join(r->th, 10000));
    check_ok(r->err);
    size_t n = tern_msg_parts(r->msg);
    assert_true(n >= 1);
    assert_int_equal(tern_msg_size(r->msg, n - 1), strlen(want));
    assert_memory_equal(tern_msg_data(r->msg, n - 1), want, strlen(want));
    tern_msg_free(r->msg);
}

static int raw_req(int port)
{
    int fd = rz_connect(port);
    /* A frame goes out in two writes: without this, Nagle holds the second
     * until the first is acknowledged (up to 40 ms of delayed ACK). */
    int one = 1;
    assert_int_equal(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
    rz_handshake(fd, "REQ");
    rz_read_handshake(fd, "REP");
    return fd;
}

static tern_socket rep_socket(int *port)
{
    char ep[MT_EP_MAX];
    tern_socket rep = mt_open(g_ctx, TERN_REP);
    mt_setopt(rep, TERN_OPT_RCVTIMEO, 10000);
    *port = mt_bind_tcp_port(rep, ep, sizeof ep);
    return rep;
}

/* A REP with one raw REQ peer, and a receiver blocked on it. */
static tern_socket rep_waiting(int *fd, struct receiver *r)
{
    int port;
    tern_socket rep = rep_socket(&port);
    *fd = raw_req(port);
    mt_wait_peers_cmp(rep, '=', 1, 5000);
    receiver_start(r, rep);
    return rep;
}

static void expect_dropped(int fd, uint64_t mark, const char *what)
{
    assert_true(rz_wait_closed(fd, 5000));
    char line[256];
    if (!mt_trace_wait(mark, drop_words, 5000, line, sizeof line))
        fail_msg("no trace said why the peer sending %s was dropped", what);
    printf("    %s: %s\n", what, line);
    close(fd);
}

/* Pings with a 4-byte context; the PONG must carry it back. */
static void ping_pong(int fd, const char ctx[4])
{
    uint8_t ping[2 + 4] = {0, 0};
    memcpy(ping + 2, ctx, 4);
    assert_true(rz_send_command(fd, "PING", ping, sizeof ping));
    uint8_t flags = 0, body[64], want[9] = {4, 'P', 'O', 'N', 'G'};
    memcpy(want + 5, ctx, 4);
    size_t len = 0;
    assert_true(rz_read_frame(fd, &flags, body, sizeof body, &len, 5000));
    assert_int_equal(flags & 0x04, 0x04);
    assert_int_equal(len, sizeof want);
    assert_memory_equal(body, want, sizeof want);
}

static void test_ping_while_waiting(void **state)
{
    (void)state;
    int fd;
    struct receiver r;
    tern_socket rep = rep_waiting(&fd, &r);
    ping_pong(fd, "ctx1");

    const struct rz_part req[] = {RZ_S(""), RZ_S("after the ping")};
    assert_true(rz_send_msg(fd, 2, req));
    receiver_expect(&r, "after the ping");
    close(fd);
    mt_close_lossy(rep);
}

/* A receiver that got its message keeps the input for its next receive.
 * When none comes, the I/O thread takes the input back: a PING sent after
 * is answered all the same. */
static void test_ping_after_receiver_left(void **state)
{
    (void)state;
    int fd;
    struct receiver r;
    tern_socket rep = rep_waiting(&fd, &r);
    const struct rz_part req[] = {RZ_S(""), RZ_S("one")};
    assert_true(rz_send_msg(fd, 2, req));
    receiver_expect(&r, "one");
    mt_sleep_ms(5);
    int64_t t0 = mt_now_ms();
    ping_pong(fd, "late");
    printf("    PONG %lld ms after the PING\n", (long long)(mt_now_ms() - t0));
    close(fd);
    mt_close_lossy(rep);
}

/* One bad peer at a time, each while the receiver waits; a good peer's
 * request is taken after every one of them. */
static void test_bad_input_while_waiting(void **state)
{
    (void)state;
    int port;
    tern_socket rep = rep_socket(&port);
    mt_setopt(rep, TERN_OPT_MAXMSGSIZE, 1 << 20);
    int good = raw_req(port);

    for (int round = 0; round < 3; round++) {
        int bad = raw_req(port);
        mt_wait_peers_cmp(rep, '=', 2, 5000);
        struct receiver r;
        receiver_start(&r, rep);
        uint64_t mark = mt_trace_mark();
        const char *what;
        if (round == 0) {
            what = "reserved flag bits";
            uint8_t frame[3] = {0xf0, 1, 'x'};
            assert_true(rz_send(bad, frame, sizeof frame));
        } else if (round == 1) {
            what = "a frame of 2^63 bytes";
            uint8_t frame[9];
            size_t hl = rz_frame_header(frame, 0x00, (uint64_t)1 << 63);
            assert_true(rz_send(bad, frame, hl));
        } else {
            what = "half a frame, then a close";
            uint8_t frame[2 + 5] = {0x00, 200, 'h', 'a', 'l', 'f', '!'};
            assert_true(rz_send(bad, frame, sizeof frame));
            shutdown(bad, SHUT_WR);
        }
        expect_dropped(bad, mark, what);
        mt_wait_peers_cmp(rep, '=', 1, 5000);

        const struct rz_part req[] = {RZ_S(""), RZ_S("good")};
        assert_true(rz_send_msg(good, 2, req));
        receiver_expect(&r, "good");
        mt_send_strs(rep, 1, (const char *const[]){"ok"});
        const struct rz_part reply[] = {RZ_S(""), RZ_S("ok")};
        rz_expect_msg(good, 2, reply);
    }
    close(good);
    mt_close_lossy(rep);
}

static void test_wakes_from_sleep(void **state)
{
    (void)state;
    int fd;
    struct receiver r;
    tern_socket rep = rep_waiting(&fd, &r);
    mt_sleep_ms(300);
    int64_t t0 = mt_now_ms();
    const struct rz_part req[] = {RZ_S(""), RZ_S("late")};
    assert_true(rz_send_msg(fd, 2, req));
    receiver_expect(&r, "late");
    int64_t took = mt_now_ms() - t0;
    printf("    woken %lld ms after the request was sent\n", (long long)took);
    assert_true(took < 250); /* woken by the data, not by a timeout */
    close(fd);
    mt_close_lossy(rep);
}

/* A fifth peer arrives while the receiver sleeps on its four: it hands
 * them back to the I/O thread, and a request from one of the first four
 * still gets through. */
static void test_fifth_peer_while_waiting(void **state)
{
    (void)state;
    int port, fds[5];
    tern_socket rep = rep_socket(&port);
    for (int i = 0; i < 4; i++)
        fds[i] = raw_req(port);
    mt_wait_peers_cmp(rep, '=', 4, 5000);
    struct receiver r;
    receiver_start(&r, rep);
    fds[4] = raw_req(port);
    mt_wait_peers_cmp(rep, '=', 5, 5000);
    mt_sleep_ms(20);
    const struct rz_part req[] = {RZ_S(""), RZ_S("from the second")};
    assert_true(rz_send_msg(fds[1], 2, req));
    receiver_expect(&r, "from the second");
    for (int i = 0; i < 5; i++)
        close(fds[i]);
    mt_close_lossy(rep);
}

/* Writes the one-frame messages "m0" to "m<n-1>" (at most 16 bytes each)
 * into out; returns their length. */
static size_t put_smalls(uint8_t *out, int n)
{
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        char body[12];
        int bl = snprintf(body, sizeof body, "m%d", i);
        off += rz_frame_header(out + off, 0x00, (uint64_t)bl);
        memcpy(out + off, body, (size_t)bl);
        off += (size_t)bl;
    }
    return off;
}

/* Receives the small message "m<i>". */
static void expect_small(tern_socket s, int i)
{
    tern_msg *m;
    check_ok(tern_msg_recv(s, &m, 0));
    char want[12];
    int wl = snprintf(want, sizeof want, "m%d", i);
    assert_int_equal(tern_msg_size(m, 0), (size_t)wl);
    assert_memory_equal(tern_msg_data(m, 0), want, (size_t)wl);
    tern_msg_free(m);
}

static void test_burst_over_hwm(void **state)
{
    (void)state;
    enum { N = 5000, HWM = 8 };
    tern_socket dealer = mt_open(g_ctx, TERN_DEALER);
    mt_setopt(dealer, TERN_OPT_RCVHWM, HWM);
    mt_setopt(dealer, TERN_OPT_BUSY_POLL, 50);
    mt_setopt(dealer, TERN_OPT_RCVTIMEO, 10000);
    char ep[MT_EP_MAX];
    int port = mt_bind_tcp_port(dealer, ep, sizeof ep);
    int fd = rz_connect(port);
    rz_handshake(fd, "DEALER");
    rz_read_handshake(fd, "DEALER");
    mt_wait_peers_cmp(dealer, '=', 1, 5000);

    /* Written in one go: far more than the high-water mark arrives at once. */
    size_t cap = (size_t)N * 16, off = 0;
    uint8_t *burst = malloc(cap);
    assert_non_null(burst);
    off = put_smalls(burst, N);
    assert_true(rz_send(fd, burst, off));
    free(burst);
    for (int i = 0; i < N; i++) {
        expect_small(dealer, i);
        if (i % 1000 == 999)
            mt_sleep_ms(5); /* let the ring fill up again */
    }
    close(fd);
    mt_close_lossy(dealer);
}

/* ---- big messages of guessed and surprising layouts ---------------------- */

enum { BIG_A = 40000, BIG_B = 50000, SMALLS = 3000 };

struct big_sender {
    int fd;
    pthread_t th;
};

static uint8_t big_byte(int msg, size_t i)
{
    return (uint8_t)(i * 31 + (size_t)msg);
}

/* Appends [small "h<msg>"][big of n bytes] (one part when small is 0). */
static size_t put_big(uint8_t *out, int msg, size_t n, int small)
{
    size_t off = 0;
    if (small) {
        char h[16];
        int hl = snprintf(h, sizeof h, "h%d", msg);
        off += rz_frame_header(out + off, 0x01, (uint64_t)hl);
        memcpy(out + off, h, (size_t)hl);
        off += (size_t)hl;
    }
    off += rz_frame_header(out + off, 0x00, n);
    for (size_t i = 0; i < n; i++)
        out[off + i] = big_byte(msg, i);
    return off + n;
}

/* What test_big_layouts sends, in order. A wrong guess turns guessing
 * off for 16 big messages, so each surprise comes after WARM messages
 * of the usual layout, sent one at a time so that each read starts at a
 * message boundary (those guesses are right). */
enum { WARM = 20 };
enum step { S_WARM, S_OTHER_SIZE, S_PING, S_SMALLS, S_TRICKLE, S_END };
static const enum step steps[] = {S_WARM,   S_OTHER_SIZE, S_WARM,    S_PING, S_WARM,
                                  S_SMALLS, S_WARM,       S_TRICKLE, S_END};

static void send_paced(int fd, const uint8_t *buf, size_t len, size_t first, size_t piece)
{
    for (size_t at = 0; at < len;) {
        size_t n = at == 0 ? first : piece;
        if (n > len - at)
            n = len - at;
        assert_true(rz_send(fd, buf + at, n));
        at += n;
        mt_sleep_ms(1);
    }
}

static void *send_bigs(void *arg)
{
    struct big_sender *b = arg;
    uint8_t *buf = malloc(2 * BIG_B + SMALLS * 16);
    int m = 0;
    for (const enum step *st = steps; *st != S_END; st++) {
        size_t off = 0;
        switch (*st) {
        case S_WARM:
            for (int k = 0; k < WARM; k++, m++) {
                off = put_big(buf, m, BIG_A, 1);
                assert_true(rz_send(b->fd, buf, off));
                mt_sleep_ms(1);
            }
            break;
        case S_OTHER_SIZE: /* one part of another size, then the usual */
            off = put_big(buf, m++, BIG_B, 0);
            off += put_big(buf + off, m++, BIG_A, 1);
            assert_true(rz_send(b->fd, buf, off));
            break;
        case S_PING: {
            uint8_t ping[2 + 4] = {0, 0, 'c', 't', 'x', '!'};
            assert_true(rz_send_command(b->fd, "PING", ping, sizeof ping));
            off = put_big(buf, m++, BIG_A, 1);
            assert_true(rz_send(b->fd, buf, off));
            break;
        }
        case S_SMALLS: /* smalls where the next big body was guessed */
            off = put_big(buf, m++, BIG_A, 1);
            assert_true(rz_send(b->fd, buf, off));
            mt_sleep_ms(1);
            off = put_smalls(buf, SMALLS);
            assert_true(rz_send(b->fd, buf, off));
            break;
        case S_TRICKLE: /* reads ending inside the prefix, then inside the body */
            off = put_big(buf, m++, BIG_A, 1);
            send_paced(b->fd, buf, off, 5, 1000);
            off = put_big(buf, m++, BIG_A, 1);
            send_paced(b->fd, buf, off, 1000, 1000);
            break;
        case S_END:
            break;
        }
    }
    free(buf);
    return NULL;
}

static void expect_big(tern_socket s, int msg, size_t n, int small)
{
    tern_msg *m;
    check_ok(tern_msg_recv(s, &m, 0));
    assert_int_equal(tern_msg_parts(m), small ? 2 : 1);
    if (small) {
        char h[16];
        int hl = snprintf(h, sizeof h, "h%d", msg);
        assert_int_equal(tern_msg_size(m, 0), (size_t)hl);
        assert_memory_equal(tern_msg_data(m, 0), h, (size_t)hl);
    }
    size_t last = tern_msg_parts(m) - 1;
    assert_int_equal(tern_msg_size(m, last), n);
    const uint8_t *p = tern_msg_data(m, last);
    for (size_t i = 0; i < n; i++) {
        if (p[i] != big_byte(msg, i))
            fail_msg("message %d: byte %zu is %u, not %u", msg, i, p[i], big_byte(msg, i));
    }
    tern_msg_free(m);
}

/* After a message ending in a big body, the next read guesses the same
 * layout and reads the body straight into a body made ready; every wrong
 * guess must still deliver the bytes intact and in order, also when the
 * ring fills (high-water mark 2) with bytes of the guess still unfed. */
static void test_big_layouts(void **state)
{
    (void)state;
    tern_socket dealer = mt_open(g_ctx, TERN_DEALER);
    mt_setopt(dealer, TERN_OPT_RCVHWM, 2);
    mt_setopt(dealer, TERN_OPT_BUSY_POLL, 50);
    mt_setopt(dealer, TERN_OPT_RCVTIMEO, 10000);
    char ep[MT_EP_MAX];
    int port = mt_bind_tcp_port(dealer, ep, sizeof ep);
    struct big_sender b = {.fd = rz_connect(port)};
    int one = 1;
    assert_int_equal(setsockopt(b.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
    rz_handshake(b.fd, "DEALER");
    rz_read_handshake(b.fd, "DEALER");
    mt_wait_peers_cmp(dealer, '=', 1, 5000);
    assert_int_equal(pthread_create(&b.th, NULL, send_bigs, &b), 0);
    int m = 0;
    for (const enum step *st = steps; *st != S_END; st++) {
        switch (*st) {
        case S_WARM:
            for (int k = 0; k < WARM; k++)
                expect_big(dealer, m++, BIG_A, 1);
            break;
        case S_OTHER_SIZE:
            expect_big(dealer, m++, BIG_B, 0);
            expect_big(dealer, m++, BIG_A, 1);
            break;
        case S_PING:
            expect_big(dealer, m++, BIG_A, 1);
            break;
        case S_SMALLS:
            expect_big(dealer, m++, BIG_A, 1);
            for (int i = 0; i < SMALLS; i++) {
                expect_small(dealer, i);
                if (i == 0)
                    mt_sleep_ms(20); /* the ring fills with the guess unfed */
            }
            break;
        case S_TRICKLE:
            expect_big(dealer, m++, BIG_A, 1);
            expect_big(dealer, m++, BIG_A, 1);
            break;
        case S_END:
            break;
        }
    }
    assert_true(mt_join(b.th, 10000));
    /* The PING in between was answered. */
    uint8_t flags = 0, body[64];
    size_t len = 0;
    assert_true(rz_read_frame(b.fd, &flags, body, sizeof body, &len, 5000));
    assert_int_equal(flags & 0x04, 0x04);
    assert_memory_equal(body + 5, "ctx!", 4);
    close(b.fd);
    mt_close_lossy(dealer);
}

int main(void)
{
    mt_test_filter_from_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ping_while_waiting),
        cmocka_unit_test(test_ping_after_receiver_left),
        cmocka_unit_test(test_bad_input_while_waiting),
        cmocka_unit_test(test_wakes_from_sleep),
        cmocka_unit_test(test_fifth_peer_while_waiting),
        cmocka_unit_test(test_burst_over_hwm),
        cmocka_unit_test(test_big_layouts),
    };
    return cmocka_run_group_tests(tests, group_setup, mt_traced_group_teardown);
}
