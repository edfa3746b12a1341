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

#endif
