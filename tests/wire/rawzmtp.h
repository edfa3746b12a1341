/* Raw ZMTP 3.x by hand, for tests that play peers tern must survive
 * (tests/wire): plain TCP sockets, greetings, READY commands, frames and
 * commands built byte by byte, and readers that check what tern writes.
 *
 * Helpers that assert run on the test thread only (cmocka); rz_send,
 * rz_wait_closed and rz_read_exact never assert. */
#ifndef TERN_TEST_RAWZMTP_H
#define TERN_TEST_RAWZMTP_H

#include "msg/msgtest.h"

#include <poll.h>
#include <sys/time.h>

/* ---- sockets ---------------------------------------------------------- */

/* Connects to 127.0.0.1:port. Writes that tern stops reading fail after
 * 2 s instead of blocking the test. */
static inline int rz_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval tv = {2, 0};
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv), 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        fail_msg("connect to 127.0.0.1:%d: %s", port, strerror(errno));
    return fd;
}

/* A listening socket on the loopback; *port gets its port. */
static inline int rz_listen(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 4), 0);
    socklen_t sl = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

/* Accepts the connection tern makes to a rz_listen socket. */
static inline int rz_accept(int lfd, int64_t timeout_ms)
{
    struct pollfd pfd = {lfd, POLLIN, 0};
    if (poll(&pfd, 1, (int)timeout_ms) != 1)
        fail_msg("tern did not connect within %lld ms", (long long)timeout_ms);
    int fd = accept(lfd, NULL, NULL);
    assert_true(fd >= 0);
    struct timeval tv = {2, 0};
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv), 0);
    return fd;
}

/* Sends all of buf unless the connection fails first; false then. */
static inline bool rz_send(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* Waits until tern closes the connection (EOF or reset), discarding what
 * it sends meanwhile. */
static inline bool rz_wait_closed(int fd, int64_t timeout_ms)
{
    int64_t deadline = mt_now_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - mt_now_ms();
        if (left < 0)
            return false;
        struct pollfd pfd = {fd, POLLIN, 0};
        int r = poll(&pfd, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        uint8_t buf[4096];
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n == 0)
            return true;
        if (n < 0 && (errno == ECONNRESET || errno == EPIPE))
            return true;
        if (n < 0 && errno != EINTR && errno != EAGAIN)
            return true;
    }
}

/* Reads exactly n bytes within timeout_ms; false on EOF, error or timeout. */
static inline bool rz_read_exact(int fd, void *buf, size_t n, int64_t timeout_ms)
{
    uint8_t *p = buf;
    int64_t deadline = mt_now_ms() + timeout_ms;
    while (n > 0) {
        int64_t left = deadline - mt_now_ms();
        if (left < 0)
            return false;
        struct pollfd pfd = {fd, POLLIN, 0};
        int r = poll(&pfd, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        ssize_t k = recv(fd, p, n, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return false;
        p += k;
        n -= (size_t)k;
    }
    return true;
}

/* ---- building ZMTP ---------------------------------------------------- */

static inline void rz_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void rz_put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

/* The 64-byte ZMTP 3.x greeting: signature 0xFF, 8 padding bytes, 0x7F;
 * version; mechanism NUL-padded to 20 bytes; as-server 0; 31 zero bytes. */
static inline void rz_greeting(uint8_t g[64], uint8_t major, uint8_t minor, const char *mech)
{
    memset(g, 0, 64);
    g[0] = 0xFF;
    g[9] = 0x7F;
    g[10] = major;
    g[11] = minor;
    memcpy(g + 12, mech, strlen(mech));
    g[32] = 0;
}

/* A frame header (flags as given, LONG added for bodies over 255 bytes);
 * returns its length (2 or 9). */
static inline size_t rz_frame_header(uint8_t *out, uint8_t flags, uint64_t size)
{
    if (size > 255) {
        out[0] = flags | 0x02;
        rz_put_be64(out + 1, size);
        return 9;
    }
    out[0] = flags;
    out[1] = (uint8_t)size;
    return 2;
}

/* A READY command (short command frame, flags 0x04 or as given) with the
 * one property Socket-Type = type. Returns its length. */
static inline size_t rz_ready(uint8_t *out, uint8_t flags, const char *type)
{
    size_t tl = strlen(type);
    uint8_t *b = out + 2;
    size_t n = 0;
    b[n++] = 5;
    memcpy(b + n, "READY", 5);
    n += 5;
    b[n++] = 11;
    memcpy(b + n, "Socket-Type", 11);
    n += 11;
    rz_put_be32(b + n, (uint32_t)tl);
    n += 4;
    memcpy(b + n, type, tl);
    n += tl;
    out[0] = flags;
    out[1] = (uint8_t)n;
    return n + 2;
}

/* A READY command with Socket-Type = type and Identity = id (idlen may be
 * anything, even over 255: a hostile peer's choice). out must hold
 * 9 + 36 + strlen(type) + idlen bytes. Returns its length. */
static inline size_t rz_ready_id(uint8_t *out, const char *type, const void *id, size_t idlen)
{
    size_t tl = strlen(type);
    size_t body = 6 + 12 + 4 + tl + 9 + 4 + idlen;
    size_t h = rz_frame_header(out, 0x04, body);
    uint8_t *b = out + h;
    size_t n = 0;
    b[n++] = 5;
    memcpy(b + n, "READY", 5);
    n += 5;
    b[n++] = 11;
    memcpy(b + n, "Socket-Type", 11);
    n += 11;
    rz_put_be32(b + n, (uint32_t)tl);
    n += 4;
    memcpy(b + n, type, tl);
    n += tl;
    b[n++] = 8;
    memcpy(b + n, "Identity", 8);
    n += 8;
    rz_put_be32(b + n, (uint32_t)idlen);
    n += 4;
    if (idlen)
        memcpy(b + n, id, idlen);
    n += idlen;
    return h + n;
}

/* Sends a ZMTP 3.<minor> NULL greeting and a READY naming type. */
static inline void rz_handshake_v(int fd, uint8_t minor, const char *type)
{
    uint8_t buf[64 + 64];
    rz_greeting(buf, 3, minor, "NULL");
    size_t n = 64 + rz_ready(buf + 64, 0x04, type);
    assert_true(rz_send(fd, buf, n));
}

static inline void rz_handshake(int fd, const char *type)
{
    rz_handshake_v(fd, 1, type);
}

/* Sends one frame; false if the connection failed. */
static inline bool rz_send_frame(int fd, uint8_t flags, const void *body, size_t len)
{
    uint8_t h[9];
    size_t hl = rz_frame_header(h, flags, len);
    return rz_send(fd, h, hl) && (len == 0 || rz_send(fd, body, len));
}

/* Sends a message of n parts (data frames, MORE on all but the last). */
struct rz_part {
    const void *data;
    size_t len;
};
#define RZ_S(lit) ((struct rz_part){(lit), sizeof(lit) - 1})

static inline bool rz_send_msg(int fd, size_t n, const struct rz_part *parts)
{
    for (size_t i = 0; i < n; i++)
        if (!rz_send_frame(fd, i + 1 < n ? 0x01 : 0x00, parts[i].data, parts[i].len))
            return false;
    return true;
}

/* Sends a command frame: name-length, name, data. */
static inline bool rz_send_command(int fd, const char *name, const void *data, size_t len)
{
    size_t nl = strlen(name);
    uint8_t *body = malloc(1 + nl + len);
    if (body == NULL)
        return false;
    body[0] = (uint8_t)nl;
    memcpy(body + 1, name, nl);
    if (len)
        memcpy(body + 1 + nl, data, len);
    bool ok = rz_send_frame(fd, 0x04, body, 1 + nl + len);
    free(body);
    return ok;
}

/* ---- reading what tern sends ------------------------------------------ */

/* Reads one ZMTP frame: flags, and a body of at most cap bytes (a bigger
 * frame fails the test). */
static inline bool rz_read_frame(int fd, uint8_t *flags, uint8_t *body, size_t cap, size_t *len,
                                 int64_t timeout_ms)
{
    uint8_t h[9];
    if (!rz_read_exact(fd, h, 1, timeout_ms))
        return false;
    *flags = h[0];
    uint64_t size;
    if (h[0] & 0x02) {
        if (!rz_read_exact(fd, h + 1, 8, timeout_ms))
            return false;
        size = 0;
        for (int i = 1; i <= 8; i++)
            size = size << 8 | h[i];
    } else {
        if (!rz_read_exact(fd, h + 1, 1, timeout_ms))
            return false;
        size = h[1];
    }
    if (size > cap)
        fail_msg("tern sent a frame of %llu bytes (flags 0x%02x), more than expected",
                 (unsigned long long)size, h[0]);
    *len = (size_t)size;
    return rz_read_exact(fd, body, *len, timeout_ms);
}

/* Checks a greeting tern sent: a full ZMTP 3.1 NULL greeting (the
 * as-server byte is checked separately where it matters). */
static inline void rz_check_greeting(const uint8_t g[64])
{
    assert_int_equal(g[0], 0xFF);
    assert_int_equal(g[9], 0x7F);
    assert_int_equal(g[10], 3);
    assert_true(g[11] >= 1);
    assert_memory_equal(g + 12, "NULL\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 20);
    for (int i = 33; i < 64; i++)
        assert_int_equal(g[i], 0);
}

/* Looks up a property in a READY body; returns its length or -1. */
static inline long rz_ready_prop(const uint8_t *body, size_t len, const char *name,
                                 const uint8_t **val)
{
    if (len < 6 || memcmp(body, "\x05READY", 6) != 0)
        fail_msg("tern's first command is not READY");
    size_t i = 6;
    while (i < len) {
        size_t nl = body[i++];
        if (nl == 0 || i + nl + 4 > len)
            fail_msg("tern sent a malformed READY property list");
        const uint8_t *nm = body + i;
        i += nl;
        uint32_t vl = (uint32_t)body[i] << 24 | (uint32_t)body[i + 1] << 16 |
                      (uint32_t)body[i + 2] << 8 | body[i + 3];
        i += 4;
        if (vl > len - i)
            fail_msg("tern sent a READY property value that runs past the command");
        if (nl == strlen(name) && strncasecmp((const char *)nm, name, nl) == 0) {
            *val = body + i;
            return (long)vl;
        }
        i += vl;
    }
    return -1;
}

/* Reads tern's greeting and READY and checks its Socket-Type. */
static inline void rz_read_handshake(int fd, const char *type)
{
    uint8_t g[64];
    if (!rz_read_exact(fd, g, 64, 5000))
        fail_msg("tern sent no greeting");
    rz_check_greeting(g);
    uint8_t flags = 0, body[600];
    size_t len = 0;
    if (!rz_read_frame(fd, &flags, body, sizeof body, &len, 5000))
        fail_msg("tern sent no READY");
    assert_int_equal(flags & ~0x02, 0x04);
    const uint8_t *v;
    long vl = rz_ready_prop(body, len, "Socket-Type", &v);
    if (vl != (long)strlen(type) || memcmp(v, type, (size_t)vl) != 0)
        fail_msg("tern's READY says Socket-Type %.*s, expected %s", (int)(vl > 0 ? vl : 0),
                 vl > 0 ? (const char *)v : "", type);
}

/* One message tern sent, as frames; commands (PING...) are skipped. */
#define RZ_MAX_PARTS 16
struct rz_msg {
    size_t n;
    size_t len[RZ_MAX_PARTS];
    uint8_t *data[RZ_MAX_PARTS];
};

static inline void rz_msg_clear(struct rz_msg *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->data[i]);
    m->n = 0;
}

/* Reads the next data message (parts of up to cap bytes each); false if
 * none came within timeout_ms or the connection ended. */
static inline bool rz_read_msg(int fd, struct rz_msg *m, size_t cap, int64_t timeout_ms)
{
    m->n = 0;
    uint8_t *body = malloc(cap ? cap : 1);
    assert_non_null(body);
    for (;;) {
        uint8_t flags;
        size_t len;
        if (!rz_read_frame(fd, &flags, body, cap, &len, timeout_ms)) {
            free(body);
            rz_msg_clear(m);
            return false;
        }
        if (flags & 0x04)
            continue;
        assert_true(m->n < RZ_MAX_PARTS);
        m->data[m->n] = malloc(len ? len : 1);
        assert_non_null(m->data[m->n]);
        memcpy(m->data[m->n], body, len);
        m->len[m->n++] = len;
        if (!(flags & 0x01))
            break;
    }
    free(body);
    return true;
}

/* Reads the next data message and checks it is exactly parts. */
static inline void rz_expect_msg(int fd, size_t n, const struct rz_part *parts)
{
    struct rz_msg m;
    if (!rz_read_msg(fd, &m, 1u << 21, 5000))
        fail_msg("tern sent no message (expected %zu parts) within 5 s", n);
    bool ok = m.n == n;
    for (size_t i = 0; ok && i < n; i++)
        ok = m.len[i] == parts[i].len && memcmp(m.data[i], parts[i].data, parts[i].len) == 0;
    if (!ok)
        fail_msg("tern sent a wrong message: %zu parts, first %zu bytes \"%.*s\"; expected %zu "
                 "parts, first \"%.*s\"",
                 m.n, m.n ? m.len[0] : 0, (int)(m.n && m.len[0] < 40 ? m.len[0] : 0),
                 m.n ? (const char *)m.data[0] : "", n,
                 (int)(n && parts[0].len < 40 ? parts[0].len : 0),
                 n ? (const char *)parts[0].data : "");
    rz_msg_clear(&m);
}

/* Nothing at all arrives on fd within ms (and it stays open). */
static inline void rz_expect_silence(int fd, int64_t ms)
{
    struct pollfd pfd = {fd, POLLIN, 0};
    int r = poll(&pfd, 1, (int)ms);
    if (r > 0) {
        uint8_t b[64];
        ssize_t n = recv(fd, b, sizeof b, MSG_PEEK);
        if (n == 0)
            fail_msg("tern closed the connection");
        fail_msg("tern sent %zd unexpected byte(s), first 0x%02x", n, n > 0 ? b[0] : 0);
    }
}

#endif
