/* For the broker tests: a scratch broker (a tern broker in this process on
 * 127.0.0.1, its data in a fresh /tmp/tern-<tag>-XXXXXX removed at the
 * end) and a raw Kafka-protocol client to talk to it byte by byte.
 * Failures are cmocka assertions. */
#ifndef TERN_TESTS_KWIRE_H
#define TERN_TESTS_KWIRE_H

#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/endian.h"
#include "kafka/api.h"
#include "kafka/codec.h"
#include "testutil.h"

/* ---- scratch broker ------------------------------------------------------ */

typedef struct kw_scratch {
    char dir[64];
    tern_broker *broker;
    uint16_t port;
    void (*tune)(tern_broker_opts *o); /* the caller's options, or NULL */
} kw_scratch;

static inline int kw_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Removes the tree at path, files before their directories. */
static inline void kw_rm_tree(const char *path)
{
    nftw(path, kw_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static inline void kw_scratch_run(kw_scratch *s, const char *listen)
{
    tern_broker_opts o;
    tern_broker_opts_init(&o);
    if (s->tune)
        s->tune(&o);
    o.data_dir = s->dir;
    o.listen = listen;
    check_ok(tern_broker_start(&o, &s->broker));
    s->port = tern_broker_port(s->broker);
}

/* Starts a broker on a fresh data directory, on a port of its choosing;
 * tune (may be NULL) sets the options other than those two. */
static inline void kw_scratch_start(kw_scratch *s, const char *tag,
                                    void (*tune)(tern_broker_opts *o))
{
    snprintf(s->dir, sizeof s->dir, "/tmp/tern-%s-XXXXXX", tag);
    assert_non_null(mkdtemp(s->dir));
    s->tune = tune;
    kw_scratch_run(s, "127.0.0.1:0");
}

/* Stops the broker and starts it again on the same data and port:
 * clients keep the address. */
static inline void kw_scratch_restart(kw_scratch *s)
{
    tern_broker_stop(s->broker);
    char listen[32];
    snprintf(listen, sizeof listen, "127.0.0.1:%u", s->port);
    kw_scratch_run(s, listen);
}

static inline void kw_scratch_stop(kw_scratch *s)
{
    tern_broker_stop(s->broker);
    kw_rm_tree(s->dir);
}

/* ---- raw client ---------------------------------------------------------- */

static inline int kw_dial(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

static inline void kw_send_raw(int fd, const void *p, size_t n)
{
    assert_int_equal(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Sends a request frame: header v1 with the given client id, and body. */
static inline void kw_send_as(int fd, const char *client, int16_t api, int16_t ver, int32_t corr,
                              const tn_kw *body)
{
    tn_kw w;
    tn_kw_init(&w, 0);
    size_t at = tn_kw_skip(&w, 4);
    tn_kw_i16(&w, api);
    tn_kw_i16(&w, ver);
    tn_kw_i32(&w, corr);
    tn_kw_cstr(&w, 0, client);
    if (body)
        tn_kw_raw(&w, body->p, body->n);
    tn_kw_put_i32(&w, at, (int32_t)(w.n - 4));
    kw_send_raw(fd, w.p, w.n);
    tn_kw_free(&w);
}

/* The same as client "t". */
static inline void kw_send_req(int fd, int16_t api, int16_t ver, int32_t corr, const tn_kw *body)
{
    kw_send_as(fd, "t", api, ver, corr, body);
}

/* Reads one response within ms; returns its body (after the correlation
 * id) in buf, its length, or -1 if the connection closed or nothing came. */
static inline int kw_read_resp(int fd, int32_t corr, uint8_t *buf, size_t cap, int ms)
{
    uint8_t head[8];
    size_t got = 0;
    while (got < 8) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, ms) != 1)
            return -1;
        ssize_t n = recv(fd, head + got, 8 - got, 0);
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    uint32_t size = tn_get_be32(head);
    assert_int_equal((int32_t)tn_get_be32(head + 4), corr);
    assert_true(size >= 4 && size - 4 <= cap);
    size_t want = size - 4;
    got = 0;
    while (got < want) {
        ssize_t n = recv(fd, buf + got, want - got, 0);
        assert_true(n > 0);
        got += (size_t)n;
    }
    return (int)want;
}

/* Whether the broker closes the connection within 2 s. */
static inline int kw_closed(int fd)
{
    uint8_t b[256];
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 2000) != 1)
            return 0;
        ssize_t n = recv(fd, b, sizeof b, 0);
        if (n <= 0)
            return 1;
    }
}

/* Asserts the broker at port still answers ApiVersions. */
static inline void kw_alive(uint16_t port)
{
    int fd = kw_dial(port);
    kw_send_req(fd, TN_KAPI_API_VERSIONS, 0, 99, NULL);
    uint8_t buf[4096];
    int n = kw_read_resp(fd, 99, buf, sizeof buf, 2000);
    assert_true(n > 2);
    assert_int_equal(tn_get_be16(buf), 0);
    close(fd);
}

/* A Fetch v11 body: partition 0 of topic from offset, up to 1 MiB. */
static inline void kw_fetch_body(tn_kw *b, const char *topic, int64_t offset, int32_t wait_ms,
                                 int32_t min_bytes)
{
    tn_kw_i32(b, -1);
    tn_kw_i32(b, wait_ms);
    tn_kw_i32(b, min_bytes);
    tn_kw_i32(b, 1 << 20);
    tn_kw_i8(b, 0);
    tn_kw_i32(b, 0);
    tn_kw_i32(b, -1);
    tn_kw_array(b, 0, 1);
    tn_kw_cstr(b, 0, topic);
    tn_kw_array(b, 0, 1);
    tn_kw_i32(b, 0);
    tn_kw_i32(b, -1);
    tn_kw_i64(b, offset);
    tn_kw_i64(b, 0);
    tn_kw_i32(b, 1 << 20);
    tn_kw_array(b, 0, 0);
    tn_kw_cstr(b, 0, "");
}

#endif
