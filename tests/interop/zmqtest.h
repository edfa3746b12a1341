/* Helpers for tests that put tern sockets opposite libzmq sockets. */
#ifndef TERN_TEST_ZMQTEST_H
#define TERN_TEST_ZMQTEST_H

#include <zmq.h>

#include "msg/msgtest.h"

static inline void zt_check(int rc, const char *what)
{
    if (rc < 0)
        fail_msg("%s failed: %s", what, zmq_strerror(zmq_errno()));
}

static inline void zt_setint(void *z, int opt, int v)
{
    zt_check(zmq_setsockopt(z, opt, &v, sizeof v), "zmq_setsockopt");
}

/* A libzmq socket with bounded timeouts and linger. */
static inline void *zt_socket(void *zctx, int type)
{
    void *z = zmq_socket(zctx, type);
    if (!z)
        fail_msg("zmq_socket(%d): %s", type, zmq_strerror(zmq_errno()));
    zt_setint(z, ZMQ_LINGER, 1000);
    zt_setint(z, ZMQ_RCVTIMEO, MT_IO_TIMEOUT_MS);
    zt_setint(z, ZMQ_SNDTIMEO, MT_IO_TIMEOUT_MS);
    zt_setint(z, ZMQ_RECONNECT_IVL, 20);
    return z;
}

/* Binds a libzmq socket to a fresh tcp or ipc endpoint; ep receives the
 * endpoint to connect to. */
static inline void zt_bind_fresh(void *z, int tr, char *ep, size_t cap)
{
    if (tr == MT_TCP)
        snprintf(ep, cap, "tcp://127.0.0.1:*");
    else
        snprintf(ep, cap, "ipc:///tmp/tern-zmq-%d-%u.sock", (int)getpid(), mt_unique());
    zt_check(zmq_bind(z, ep), "zmq_bind");
    size_t len = cap;
    zt_check(zmq_getsockopt(z, ZMQ_LAST_ENDPOINT, ep, &len), "ZMQ_LAST_ENDPOINT");
}

/* Sends a patterned multipart message (as mt_msg_make_try builds it);
 * 0 or -1 (errno from libzmq). Safe on any thread. */
static inline int zt_send_parts_try(void *z, size_t nparts, const size_t *sizes, uint32_t seed)
{
    for (size_t p = 0; p < nparts; p++) {
        uint8_t stackbuf[512];
        uint8_t *buf = sizes[p] <= sizeof stackbuf ? stackbuf : malloc(sizes[p]);
        if (!buf)
            return -1;
        mt_fill(buf, sizes[p], mt_part_seed(seed, p));
        int rc = zmq_send(z, buf, sizes[p], p + 1 < nparts ? ZMQ_SNDMORE : 0);
        if (buf != stackbuf)
            free(buf);
        if (rc < 0 || (size_t)rc != sizes[p])
            return -1;
    }
    return 0;
}

static inline void zt_send_parts(void *z, size_t nparts, const size_t *sizes, uint32_t seed)
{
    zt_check(zt_send_parts_try(z, nparts, sizes, seed), "zmq_send (multipart)");
}

/* Receives one whole message from a libzmq socket and checks that it has
 * the given shape and contents (ZMQ_RCVMORE marks the boundaries). Safe
 * on any thread: returns false and fills why. */
static inline bool zt_recv_parts_try(void *z, size_t nparts, const size_t *sizes, uint32_t seed,
                                     char *why, size_t cap)
{
    size_t p = 0;
    bool ok = true;
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, z, 0) < 0) {
            snprintf(why, cap, "zmq_msg_recv (part %zu of %zu): %s", p, nparts,
                     zmq_strerror(zmq_errno()));
            zmq_msg_close(&m);
            return false;
        }
        int more = zmq_msg_more(&m);
        if (ok && p >= nparts) {
            snprintf(why, cap, "got more than %zu parts", nparts);
            ok = false;
        } else if (ok && zmq_msg_size(&m) != sizes[p]) {
            snprintf(why, cap, "part %zu of %zu has %zu bytes, expected %zu", p, nparts,
                     zmq_msg_size(&m), sizes[p]);
            ok = false;
        } else if (ok) {
            size_t at = mt_mismatch(zmq_msg_data(&m), sizes[p], mt_part_seed(seed, p));
            if (at != sizes[p]) {
                snprintf(why, cap, "part %zu of %zu differs at byte %zu", p, nparts, at);
                ok = false;
            }
        }
        zmq_msg_close(&m);
        p++;
        if (!more)
            break;
    }
    if (ok && p != nparts) {
        snprintf(why, cap, "message has %zu parts, expected %zu", p, nparts);
        ok = false;
    }
    return ok;
}

static inline void zt_recv_parts(void *z, size_t nparts, const size_t *sizes, uint32_t seed)
{
    char why[256];
    if (!zt_recv_parts_try(z, nparts, sizes, seed, why, sizeof why))
        fail_msg("libzmq received a wrong message (seed %u): %s", (unsigned)seed, why);
}

/* Monitor events of a libzmq socket, read from an inproc PAIR. */
struct zt_monitor {
    void *pair;
    int handshakes;
    int disconnects;
    int closed;
    int handshake_failures;
};

/* Starts monitoring z; call before z connects or binds. */
static inline void zt_monitor_start(void *zctx, void *z, struct zt_monitor *mon)
{
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://zt-monitor-%u", mt_unique());
    memset(mon, 0, sizeof *mon);
    zt_check(zmq_socket_monitor(z, ep, ZMQ_EVENT_ALL), "zmq_socket_monitor");
    mon->pair = zmq_socket(zctx, ZMQ_PAIR);
    assert_non_null(mon->pair);
    zt_setint(mon->pair, ZMQ_LINGER, 0);
    zt_check(zmq_connect(mon->pair, ep), "connect monitor");
}

/* Reads every event queued so far and updates the counts. */
static inline void zt_monitor_poll(struct zt_monitor *mon)
{
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, mon->pair, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        uint16_t event = 0;
        if (zmq_msg_size(&m) >= 2)
            memcpy(&event, zmq_msg_data(&m), 2);
        int more = zmq_msg_more(&m);
        zmq_msg_close(&m);
        while (more) {
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, mon->pair, 0) < 0) {
                zmq_msg_close(&m);
                break;
            }
            more = zmq_msg_more(&m);
            zmq_msg_close(&m);
        }
        if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
            mon->handshakes++;
        else if (event == ZMQ_EVENT_DISCONNECTED)
            mon->disconnects++;
        else if (event == ZMQ_EVENT_CLOSED)
            mon->closed++;
        else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL ||
                 event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
                 event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
            mon->handshake_failures++;
    }
}

static inline void zt_monitor_stop(void *z, struct zt_monitor *mon)
{
    zmq_socket_monitor(z, NULL, 0);
    zmq_close(mon->pair);
    mon->pair = NULL;
}

/* ---- bulk transfer ---------------------------------------------------- */

/* Bulk messages: 8-byte seq plus a few pattern bytes; every 1000th is a
 * two-part message. */
static inline size_t zt_bulk_extra(uint64_t i)
{
    return (size_t)(i % 24);
}

struct zt_bulk_sender {
    tern_socket t;
    void *z;
    bool use_tern;
    uint64_t count;
    char error[200];
};

static inline void *zt_bulk_send_main(void *arg)
{
    struct zt_bulk_sender *b = arg;
    for (uint64_t i = 0; i < b->count; i++) {
        uint8_t buf[8 + 24];
        memcpy(buf, &i, 8);
        size_t extra = zt_bulk_extra(i);
        mt_fill(buf + 8, extra, (uint32_t)i);
        bool two = i % 1000 == 999;
        if (b->use_tern) {
            tern_msg *m = NULL;
            tern_err e = tern_msg_new(&m);
            if (e == TERN_OK)
                e = tern_msg_append(m, buf, 8 + extra);
            if (e == TERN_OK && two)
                e = tern_msg_append(m, "tail", 4);
            if (e == TERN_OK)
                e = tern_msg_send(b->t, m, 0);
            if (e != TERN_OK) {
                tern_msg_free(m);
                snprintf(b->error, sizeof b->error, "tern send %llu: %s", (unsigned long long)i,
                         tern_errname(e));
                return NULL;
            }
        } else {
            if (zmq_send(b->z, buf, 8 + extra, two ? ZMQ_SNDMORE : 0) < 0 ||
                (two && zmq_send(b->z, "tail", 4, 0) < 0)) {
                snprintf(b->error, sizeof b->error, "zmq send %llu: %s", (unsigned long long)i,
                         zmq_strerror(zmq_errno()));
                return NULL;
            }
        }
    }
    return NULL;
}

static inline void zt_check_bulk_item(uint64_t i, const uint8_t *d, size_t len, size_t nparts,
                                      size_t tail_len)
{
    uint64_t seq;
    bool two = i % 1000 == 999;
    if (len != 8 + zt_bulk_extra(i))
        fail_msg("bulk message %llu: %zu bytes, expected %zu", (unsigned long long)i, len,
                 8 + zt_bulk_extra(i));
    memcpy(&seq, d, 8);
    if (seq != i)
        fail_msg("bulk message %llu arrived as number %llu", (unsigned long long)seq,
                 (unsigned long long)i);
    assert_int_equal(mt_mismatch(d + 8, len - 8, (uint32_t)i), len - 8);
    assert_int_equal(nparts, two ? 2 : 1);
    if (two)
        assert_int_equal(tail_len, 4);
}

static inline void zt_bulk(tern_socket t, void *z, bool tern_sends, uint64_t count)
{
    struct zt_bulk_sender b = {t, z, tern_sends, count, ""};
    pthread_t th;
    int64_t t0 = mt_now_ms();
    assert_int_equal(pthread_create(&th, NULL, zt_bulk_send_main, &b), 0);
    for (uint64_t i = 0; i < count; i++) {
        if (tern_sends) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, z, 0) < 0)
                fail_msg("libzmq receive of bulk message %llu: %s (sender: %s)",
                         (unsigned long long)i, zmq_strerror(zmq_errno()), b.error);
            size_t nparts = 1, tail_len = 0;
            uint8_t first[64];
            size_t len = zmq_msg_size(&m);
            memcpy(first, zmq_msg_data(&m), len < sizeof first ? len : sizeof first);
            int more = zmq_msg_more(&m);
            zmq_msg_close(&m);
            while (more) {
                zmq_msg_init(&m);
                zt_check(zmq_msg_recv(&m, z, 0), "zmq_msg_recv");
                tail_len = zmq_msg_size(&m);
                more = zmq_msg_more(&m);
                zmq_msg_close(&m);
                nparts++;
            }
            zt_check_bulk_item(i, first, len, nparts, tail_len);
        } else {
            tern_msg *m = NULL;
            tern_err e = tern_msg_recv(t, &m, 0);
            if (e != TERN_OK)
                fail_msg("tern receive of bulk message %llu: %s (sender: %s)",
                         (unsigned long long)i, tern_errname(e), b.error);
            size_t n = tern_msg_parts(m);
            zt_check_bulk_item(i, tern_msg_data(m, 0), tern_msg_size(m, 0), n,
                               n > 1 ? tern_msg_size(m, 1) : 0);
            tern_msg_free(m);
        }
    }
    assert_true(mt_join(th, 30000));
    assert_string_equal(b.error, "");
    printf("    %llu messages %s in %lld ms\n", (unsigned long long)count,
           tern_sends ? "tern -> libzmq" : "libzmq -> tern", (long long)(mt_now_ms() - t0));
}

/* ---- messages as lists of parts ---------------------------------------- */

/* One part of an expected or sent message. */
struct zt_part {
    const void *data;
    size_t len;
};

/* A part holding a string literal (without its NUL). */
#define ZT_S(lit) ((struct zt_part){(lit), sizeof(lit) - 1})
#define ZT_NPARTS(arr) (sizeof(arr) / sizeof((arr)[0]))

/* Sends parts as one libzmq message; 0 or -1 (safe on any thread). */
static inline int zt_sendv_try(void *z, size_t n, const struct zt_part *parts)
{
    for (size_t i = 0; i < n; i++) {
        int rc = zmq_send(z, parts[i].data, parts[i].len, i + 1 < n ? ZMQ_SNDMORE : 0);
        if (rc < 0 || (size_t)rc != parts[i].len)
            return -1;
    }
    return 0;
}

static inline void zt_sendv(void *z, size_t n, const struct zt_part *parts)
{
    zt_check(zt_sendv_try(z, n, parts), "zmq_send (parts)");
}

static inline void zt_send_str(void *z, const char *s)
{
    struct zt_part p = {s, strlen(s)};
    zt_sendv(z, 1, &p);
}

/* A whole message received from a libzmq socket. */
#define ZT_MAX_PARTS 64
struct zt_msg {
    size_t n;
    size_t len[ZT_MAX_PARTS];
    uint8_t *data[ZT_MAX_PARTS];
};

static inline void zt_msg_clear(struct zt_msg *m)
{
    for (size_t i = 0; i < m->n && i < ZT_MAX_PARTS; i++)
        free(m->data[i]);
    m->n = 0;
}

/* Receives one whole message (every part copied); 0, or -1 with errno
 * from libzmq (then m is empty). Safe on any thread. */
static inline int zt_recv_msg_try(void *z, struct zt_msg *m, int flags)
{
    m->n = 0;
    for (;;) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, z, m->n == 0 ? flags : 0) < 0) {
            int err = zmq_errno();
            zmq_msg_close(&part);
            zt_msg_clear(m);
            errno = err;
            return -1;
        }
        int more = zmq_msg_more(&part);
        if (m->n < ZT_MAX_PARTS) {
            size_t len = zmq_msg_size(&part);
            m->data[m->n] = malloc(len ? len : 1);
            if (m->data[m->n] == NULL) {
                zmq_msg_close(&part);
                zt_msg_clear(m);
                errno = ENOMEM;
                return -1;
            }
            memcpy(m->data[m->n], zmq_msg_data(&part), len);
            m->len[m->n] = len;
            m->n++;
        }
        zmq_msg_close(&part);
        if (!more)
            return 0;
    }
}

static inline void zt_recv_msg(void *z, struct zt_msg *m)
{
    if (zt_recv_msg_try(z, m, 0) != 0)
        fail_msg("libzmq receive failed: %s", zmq_strerror(errno));
}

/* Prints up to 40 bytes of data into out, non-printable bytes as \xNN. */
static inline const char *zt_esc(char *out, size_t cap, const void *data, size_t len)
{
    const uint8_t *d = data;
    size_t o = 0;
    for (size_t i = 0; i < len && i < 40 && o + 5 < cap; i++) {
        if (d[i] >= 32 && d[i] < 127 && d[i] != '\\')
            out[o++] = (char)d[i];
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", d[i]);
    }
    if (len > 40 && o + 4 < cap)
        o += (size_t)snprintf(out + o, cap - o, "...");
    out[o < cap ? o : cap - 1] = '\0';
    return out;
}

/* True if the message is exactly parts; otherwise why says what differs. */
static inline bool zt_msg_is(const struct zt_msg *m, size_t n, const struct zt_part *parts,
                             char *why, size_t cap)
{
    if (m->n != n) {
        snprintf(why, cap, "message has %zu parts, expected %zu", m->n, n);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (m->len[i] != parts[i].len ||
            (parts[i].len && memcmp(m->data[i], parts[i].data, parts[i].len) != 0)) {
            char a[200], b[200];
            snprintf(why, cap, "part %zu is \"%.60s\" (%zu bytes), expected \"%.60s\" (%zu bytes)",
                     i, zt_esc(a, sizeof a, m->data[i], m->len[i]), m->len[i],
                     zt_esc(b, sizeof b, parts[i].data, parts[i].len), parts[i].len);
            return false;
        }
    }
    return true;
}

/* Receives one message from libzmq and checks it is exactly parts. */
static inline void zt_recvv(void *z, size_t n, const struct zt_part *parts)
{
    struct zt_msg m;
    zt_recv_msg(z, &m);
    char why[256];
    bool ok = zt_msg_is(&m, n, parts, why, sizeof why);
    zt_msg_clear(&m);
    if (!ok)
        fail_msg("libzmq received a wrong message: %s", why);
}

static inline void zt_recv_str(void *z, const char *s)
{
    struct zt_part p = {s, strlen(s)};
    zt_recvv(z, 1, &p);
}

/* Nothing more arrives at a libzmq socket within ms. */
static inline void zt_expect_nothing(void *z, int ms)
{
    zmq_pollitem_t it = {z, 0, ZMQ_POLLIN, 0};
    int rc = zmq_poll(&it, 1, ms);
    zt_check(rc, "zmq_poll");
    if (rc > 0) {
        struct zt_msg m;
        zt_recv_msg(z, &m);
        char a[200];
        fail_msg("libzmq received an unexpected message of %zu parts, first \"%s\"", m.n,
                 m.n ? zt_esc(a, sizeof a, m.data[0], m.len[0]) : "");
    }
}

/* The same for tern sockets. */
static inline tern_err zt_tern_sendv_try(tern_socket t, size_t n, const struct zt_part *parts,
                                         int flags)
{
    tern_msg *m = NULL;
    tern_err e = tern_msg_new(&m);
    for (size_t i = 0; e == TERN_OK && i < n; i++)
        e = tern_msg_append(m, parts[i].data, parts[i].len);
    if (e == TERN_OK)
        e = tern_msg_send(t, m, flags);
    if (e != TERN_OK)
        tern_msg_free(m);
    return e;
}

static inline void zt_tern_sendv(tern_socket t, size_t n, const struct zt_part *parts)
{
    tern_err e = zt_tern_sendv_try(t, n, parts, 0);
    if (e != TERN_OK)
        fail_msg("tern send of %zu parts failed: %s", n, tern_errname(e));
}

static inline void zt_tern_send_str(tern_socket t, const char *s)
{
    struct zt_part p = {s, strlen(s)};
    zt_tern_sendv(t, 1, &p);
}

static inline bool zt_tern_msg_is(const tern_msg *m, size_t n, const struct zt_part *parts,
                                  char *why, size_t cap)
{
    if (tern_msg_parts(m) != n) {
        snprintf(why, cap, "message has %zu parts, expected %zu", tern_msg_parts(m), n);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        size_t len = tern_msg_size(m, i);
        const char *d = tern_msg_data(m, i);
        if (len != parts[i].len || (len && memcmp(d, parts[i].data, len) != 0)) {
            char a[200], b[200];
            snprintf(why, cap, "part %zu is \"%.60s\" (%zu bytes), expected \"%.60s\" (%zu bytes)",
                     i, zt_esc(a, sizeof a, d, len), len,
                     zt_esc(b, sizeof b, parts[i].data, parts[i].len), parts[i].len);
            return false;
        }
    }
    return true;
}

/* Receives one message on a tern socket and checks it is exactly parts. */
static inline void zt_tern_recvv(tern_socket t, size_t n, const struct zt_part *parts)
{
    tern_msg *m = NULL;
    tern_err e = tern_msg_recv(t, &m, 0);
    if (e != TERN_OK)
        fail_msg("tern receive (expecting %zu parts) failed: %s", n, tern_errname(e));
    char why[256];
    bool ok = zt_tern_msg_is(m, n, parts, why, sizeof why);
    tern_msg_free(m);
    if (!ok)
        fail_msg("tern received a wrong message: %s", why);
}

static inline void zt_tern_recv_str(tern_socket t, const char *s)
{
    struct zt_part p = {s, strlen(s)};
    zt_tern_recvv(t, 1, &p);
}

/* Nothing more arrives at a tern socket within ms. */
static inline void zt_tern_expect_nothing(tern_socket t, int ms)
{
    tern_pollitem it = {.socket = t, .events = TERN_POLLIN};
    int64_t deadline = mt_now_ms() + ms;
    for (;;) {
        int64_t left = deadline - mt_now_ms();
        if (left < 0)
            return;
        size_t n = 0;
        check_ok(tern_poll(&it, 1, left, &n));
        if (n == 0)
            return;
        tern_msg *m = NULL;
        tern_err e = tern_msg_recv(t, &m, TERN_DONTWAIT);
        if (e == TERN_EAGAIN)
            continue; /* a SUB woke for a message its filter dropped */
        if (e != TERN_OK)
            fail_msg("tern receive failed: %s", tern_errname(e));
        char first[200];
        zt_esc(first, sizeof first, tern_msg_data(m, 0), tern_msg_size(m, 0));
        size_t np = tern_msg_parts(m);
        tern_msg_free(m);
        fail_msg("tern received an unexpected message of %zu parts, first \"%s\"", np, first);
    }
}

static inline tern_sock_stats zt_tern_stats(tern_socket t)
{
    tern_sock_stats st;
    memset(&st, 0, sizeof st);
    check_ok(tern_socket_stats(t, &st));
    return st;
}

/* Subscriptions held by a tern PUB or XPUB, summed over its peers. */
static inline int zt_tern_subs(tern_socket pub)
{
    tern_peer_stats ps[16];
    size_t n = 0;
    check_ok(tern_socket_peers(pub, ps, 16, &n));
    int total = 0;
    for (size_t i = 0; i < n && i < 16; i++)
        total += ps[i].subscriptions;
    return total;
}

/* Lets a libzmq socket process its pending commands. A libzmq socket
 * attaches the pipe of an accepted connection only when its application
 * thread next calls into it, so a bound libzmq SUB that is not polled
 * never sends its subscriptions (libzmq issue 2267). */
static inline void zt_pump(void *z)
{
    if (z != NULL) {
        int events = 0;
        size_t len = sizeof events;
        zt_check(zmq_getsockopt(z, ZMQ_EVENTS, &events, &len), "ZMQ_EVENTS");
    }
}

/* Waits until a tern PUB or XPUB holds want subscriptions in total,
 * pumping the libzmq socket pump (may be NULL) meanwhile. */
static inline void zt_tern_wait_subs(tern_socket pub, int want, void *pump)
{
    int64_t deadline = mt_now_ms() + MT_IO_TIMEOUT_MS;
    int got;
    while ((got = zt_tern_subs(pub)) != want) {
        if (mt_now_ms() > deadline)
            fail_msg("the tern publisher holds %d subscriptions, expected %d", got, want);
        zt_pump(pump);
        mt_sleep_ms(5);
    }
}

#endif
