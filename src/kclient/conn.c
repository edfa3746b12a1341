/* Broker connections: non-blocking sockets waited on with poll(2) until
 * a deadline; writes with MSG_NOSIGNAL so a closed peer is an error, not
 * a SIGPIPE. */
#include "kclient/conn.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/endian.h"
#include "base/trace.h"

/* A response's buffer starts at most this big and doubles as bytes come. */
#define FIRST_CHUNK (64u << 10)
/* An ApiVersions response is small. */
#define API_VERSIONS_MAX (64u << 10)

/* Milliseconds until deadline for poll(2), rounded up; 0 once passed. */
static int ms_left(uint64_t deadline)
{
    uint64_t now = tern_clock_ns();
    if (now >= deadline)
        return 0;
    uint64_t ms = (deadline - now + 999999) / 1000000;
    return ms > 3600000 ? 3600000 : (int)ms;
}

/* strerror's sentence with a lower-case first letter, to sit mid-line. */
static void errno_text(char *buf, size_t cap, int errnum)
{
    snprintf(buf, cap, "%s", strerror(errnum));
    if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
        buf[0] = (char)(buf[0] - 'A' + 'a');
}

/* Waits for events on fd until deadline: 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, ms_left(deadline));
        if (n > 0)
            return 1;
        if (n == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

/* One address: 0 connected, else the errno. */
static int connect_one(const struct addrinfo *ai, uint64_t deadline, int *fdp)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        return errno;
    int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    int e = rc == 0 ? 0 : errno;
    if (e == EINPROGRESS) {
        int w = wait_fd(fd, POLLOUT, deadline);
        socklen_t len = sizeof e;
        if (w == 0)
            e = ETIMEDOUT;
        else if (w < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0)
            e = errno;
    }
    if (e != 0) {
        close(fd);
        return e;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    *fdp = fd;
    return 0;
}

static tern_err connect_host(const char *host, uint16_t port, uint64_t deadline, int *fdp,
                             char *err)
{
    char ports[8];
    snprintf(ports, sizeof ports, "%u", (unsigned)port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, ports, &hints, &res);
    if (gai != 0) {
        snprintf(err, TN_KC_ERR_MAX, "cannot resolve %s: %s", host, gai_strerror(gai));
        return TERN_EADDRINVAL;
    }
    /* Each address in turn: "localhost" may be ::1 first while the broker
     * listens on 127.0.0.1 only. */
    int e = ENOENT;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        e = connect_one(ai, deadline, fdp);
        if (e == 0 || e == ETIMEDOUT)
            break;
    }
    freeaddrinfo(res);
    if (e == 0)
        return TERN_OK;
    errno_text(err, TN_KC_ERR_MAX, e);
    return e == ETIMEDOUT ? TERN_ETIMEDOUT : tern_err_from_errno(e);
}

/* Fails the connection with a reason; returns err. */
__attribute__((format(printf, 3, 4))) static tern_err broken(tn_kc_conn *c, tern_err err,
                                                             const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    c->broken = true;
    c->busy = false;
    return err;
}

tern_err tn_kc_conn_send(tn_kc_conn *c, tn_kw *req, size_t max_resp, uint64_t deadline)
{
    if (c->broken || c->busy)
        return broken(c, TERN_ESTATE, "connection not ready for a request");
    if (req->err || req->n < 12)
        return broken(c, TERN_ENOMEM, "cannot build the request");
    int32_t corr = c->next_corr++;
    if (c->next_corr < 0)
        c->next_corr = 0;
    tn_put_be32(req->p + TN_KC_REQ_CORR_AT, (uint32_t)corr);
    size_t off = 0;
    while (off < req->n) {
        ssize_t n = send(c->fd, req->p + off, req->n - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int w = wait_fd(c->fd, POLLOUT, deadline);
            if (w > 0)
                continue;
            if (w == 0)
                return broken(c, TERN_ETIMEDOUT, "timed out sending a request");
        }
        char why[128];
        errno_text(why, sizeof why, errno);
        return broken(c, TERN_EUNAVAILABLE, "cannot send: %s", why);
    }
    c->busy = max_resp > 0;
    c->corr = corr;
    c->api = (int16_t)tn_get_be16(req->p + 4);
    c->max_resp = max_resp;
    c->hdr_got = 0;
    c->len = c->got = 0;
    return TERN_OK;
}

/* Reads what is there into p[0..want): 1 when some bytes came, 0 on
 * EAGAIN, -1 when the connection failed (reported). */
static int read_some(tn_kc_conn *c, uint8_t *p, size_t want, size_t *got)
{
    for (;;) {
        ssize_t n = recv(c->fd, p, want, 0);
        if (n > 0) {
            *got += (size_t)n;
            return 1;
        }
        if (n == 0) {
            broken(c, TERN_EUNAVAILABLE, "connection closed by the broker");
            return -1;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        char why[128];
        errno_text(why, sizeof why, errno);
        broken(c, TERN_EUNAVAILABLE, "cannot receive: %s", why);
        return -1;
    }
}

/* Makes room for more of the response: at most double what is there,
 * never past its announced length. */
static tern_err grow(tn_kc_conn *c)
{
    if (c->got < c->cap)
        return TERN_OK;
    size_t cap = c->cap ? c->cap * 2 : FIRST_CHUNK;
    if (cap > c->len)
        cap = c->len;
    uint8_t *p = realloc(c->buf, cap);
    if (p == NULL)
        return broken(c, TERN_ENOMEM, "out of memory for a %zu-byte response", c->len);
    c->buf = p;
    c->cap = cap;
    return TERN_OK;
}

tern_err tn_kc_conn_recv(tn_kc_conn *c, uint64_t deadline, tn_kr *body)
{
    if (c->broken || !c->busy)
        return broken(c, TERN_ESTATE, "no request awaits a response");
    for (;;) {
        int r;
        if (c->hdr_got < 4) {
            r = read_some(c, c->hdr + c->hdr_got, 4 - c->hdr_got, &c->hdr_got);
            if (r > 0 && c->hdr_got == 4) {
                int32_t len = (int32_t)tn_get_be32(c->hdr);
                if (len < 4 || (size_t)len > c->max_resp)
                    return broken(c, TERN_EPROTO, "answered %s with a %ld-byte frame (at most %zu)",
                                  tn_kc_api_name(c->api), (long)len, c->max_resp);
                c->len = (size_t)len;
                c->got = 0;
            }
        } else {
            if (grow(c) != TERN_OK)
                return TERN_ENOMEM;
            r = read_some(c, c->buf + c->got, c->cap - c->got, &c->got);
        }
        if (r < 0)
            return TERN_EUNAVAILABLE;
        if (c->hdr_got == 4 && c->got == c->len)
            break;
        if (r == 0) {
            int w = wait_fd(c->fd, POLLIN, deadline);
            if (w == 0) {
                snprintf(c->err, sizeof c->err, "no answer to %s in time", tn_kc_api_name(c->api));
                return TERN_ETIMEDOUT;
            }
            if (w < 0)
                return broken(c, TERN_ESYSTEM, "poll failed");
        }
    }
    c->busy = false;
    int32_t corr = (int32_t)tn_get_be32(c->buf);
    if (corr != c->corr)
        return broken(c, TERN_EPROTO, "answered request %ld with the response to %ld",
                      (long)c->corr, (long)corr);
    tn_kr_init(body, c->buf + 4, c->len - 4);
    return TERN_OK;
}

uint8_t *tn_kc_conn_take(tn_kc_conn *c)
{
    uint8_t *p = c->buf;
    c->buf = NULL;
    c->cap = c->len = c->got = 0;
    return p;
}

tern_err tn_kc_conn_supports(tn_kc_conn *c, int16_t api, int16_t version)
{
    tn_kc_range r = api >= 0 && api < TN_KC_NAPI ? c->ranges[api] : (tn_kc_range){-1, -1};
    if (r.min >= 0 && version >= r.min && version <= r.max)
        return TERN_OK;
    if (r.min < 0)
        snprintf(c->err, sizeof c->err, "does not offer %s (tern speaks v%d)", tn_kc_api_name(api),
                 version);
    else
        snprintf(c->err, sizeof c->err, "speaks %s v%d to v%d, not v%d", tn_kc_api_name(api), r.min,
                 r.max, version);
    return TERN_EVERSION;
}

static tern_err api_versions(tn_kc_conn *c, const char *client_id, uint64_t deadline)
{
    tn_kw w;
    tn_kw_init(&w, 0);
    tn_kc_req_begin(&w, TN_KAPI_API_VERSIONS, TN_KC_V_API_VERSIONS, client_id);
    tn_kc_req_end(&w);
    tern_err err = tn_kc_conn_send(c, &w, API_VERSIONS_MAX, deadline);
    tn_kw_free(&w);
    tn_kr r;
    if (err == TERN_OK)
        err = tn_kc_conn_recv(c, deadline, &r);
    if (err != TERN_OK)
        return err;
    int16_t code;
    if (tn_kc_dec_api_versions(&r, &code, c->ranges) != TERN_OK)
        return broken(c, TERN_EPROTO, "sent a malformed ApiVersions response");
    if (code != 0)
        return broken(c, TERN_EVERSION, "refused ApiVersions v0 (error %d)", code);
    return TERN_OK;
}

tern_err tn_kc_conn_open(const char *host, uint16_t port, const char *client_id, uint64_t deadline,
                         tn_kc_conn **out, char *err)
{
    tn_kc_conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(err, TN_KC_ERR_MAX, "out of memory");
        return TERN_ENOMEM;
    }
    c->fd = -1;
    snprintf(c->addr, sizeof c->addr, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host,
             (unsigned)port);
    tern_err e = connect_host(host, port, deadline, &c->fd, err);
    if (e == TERN_OK) {
        e = api_versions(c, client_id, deadline);
        if (e != TERN_OK)
            snprintf(err, TN_KC_ERR_MAX, "%s", c->err);
    }
    if (e != TERN_OK) {
        tn_kc_conn_close(c);
        return e;
    }
    tn_trace(TERN_TRACE_BROKER, "kafka client: connected to %s", c->addr);
    *out = c;
    return TERN_OK;
}

void tn_kc_conn_close(tn_kc_conn *c)
{
    if (c == NULL)
        return;
    if (c->fd >= 0)
        close(c->fd);
    free(c->buf);
    free(c);
}
