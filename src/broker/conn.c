/* One client connection: size-prefixed request frames in, responses out
 * in request order.
 *
 * Requests are handled as soon as they arrive, so a producer that
 * pipelines gets its appends shared by one fsync; a request that must
 * wait (acks=all, a long-polling Fetch, a JoinGroup) stays in the queue
 * and holds back the responses behind it, because Kafka clients match
 * responses by order. Reading pauses while MAX_INFLIGHT requests or
 * MAX_INFLIGHT_BYTES of them are queued (a producer waiting on an
 * interval sync keeps many in flight). Fetch responses splice record bytes from the segment files
 * with sendfile. Closing is deferred to a task so no handler ever sees a
 * connection vanish under it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/endian.h"
#include "base/trace.h"
#include "broker/server.h"
#include "io/transport.h"
#include "kafka/api.h"

#define IN_CAP (64u << 10)
#define ACCEPT_PAUSE_MS 100
/* A frame longer than what was read starts with this much room (>= IN_CAP). */
#define BIG_FIRST_CAP (256u << 10)
#define MAX_INFLIGHT 1024
#define MAX_INFLIGHT_BYTES (64u << 20)
#define HEADER_MIN 8 /* api key, version, correlation id */

static void conn_io(void *arg, uint32_t events);
static void conn_flush(tn_bk_conn *c);

void tn_bk_accept_resume(void *arg)
{
    tn_broker_impl *b = arg;
    if (tn_loop_watch(b->loop, &b->lioh, EPOLLIN) != TERN_OK)
        tn_timer_arm(b->loop, &b->accept_timer, tern_clock_ns() + ACCEPT_PAUSE_MS * 1000000ull);
}

void tn_bk_accept(tn_broker_impl *b)
{
    for (int i = 0; i < 64; i++) {
        int fd = accept4(b->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
                return;
            /* Out of descriptors or memory: the listener would stay readable
             * and spin the loop, so it rests until the pause ends. */
            tn_bk_log(b, "accept failed: %s; not accepting for %d ms", strerror(errno),
                      ACCEPT_PAUSE_MS);
            tn_loop_unwatch(b->loop, &b->lioh);
            tn_timer_arm(b->loop, &b->accept_timer, tern_clock_ns() + ACCEPT_PAUSE_MS * 1000000ull);
            return;
        }
        tn_bk_conn *c = calloc(1, sizeof *c);
        uint8_t *in = malloc(IN_CAP);
        if (c == NULL || in == NULL) {
            free(c);
            free(in);
            close(fd);
            tn_bk_log(b, "out of memory accepting a connection");
            continue;
        }
        tn_tcp_transport.tune(fd);
        c->b = b;
        c->in = in;
        c->in_cap = IN_CAP;
        tn_stream_peer_name(fd, c->peer, sizeof c->peer);
        if (tn_stream_local_host_port(fd, c->local_host, sizeof c->local_host, &c->local_port) !=
            TERN_OK)
            snprintf(c->local_host, sizeof c->local_host, "localhost");
        c->ioh.fd = fd;
        c->ioh.fn = conn_io;
        c->ioh.arg = c;
        if (tn_loop_watch(b->loop, &c->ioh, EPOLLIN) != TERN_OK) {
            close(fd);
            free(in);
            free(c);
            continue;
        }
        c->next = b->conns;
        b->conns = c;
        tn_trace(TERN_TRACE_BROKER, "connection from %s", c->peer);
    }
}

/* Pieces borrow the segment's descriptor while a response is built (a
 * parked Fetch may be built many times) and own a dup of it once the
 * response is kept: the segment may be deleted before it is sent. */
static void drop_pieces(tn_bk_req *r)
{
    for (int i = 0; r->pieces_owned && i < r->npieces; i++)
        close(r->pieces[i].fd);
    r->npieces = 0;
    r->pieces_owned = 0;
}

static void req_free(tn_bk_req *r)
{
    drop_pieces(r);
    free(r->pieces);
    free(r->waits);
    tn_kw_free(&r->out);
    free(r->buf);
    free(r);
}

void tn_bk_unlist(tn_bk_req **list, tn_bk_req *r)
{
    if (!r->on_list)
        return;
    for (tn_bk_req **pp = list; *pp; pp = &(*pp)->wait_next) {
        if (*pp == r) {
            *pp = r->wait_next;
            r->on_list = 0;
            r->wait_next = NULL;
            return;
        }
    }
}

static void conn_free_task(void *arg)
{
    tn_bk_conn *c = arg;
    tn_bk_req *r = c->qhead;
    while (r) {
        tn_bk_req *next = r->next;
        req_free(r);
        r = next;
    }
    if (c->big)
        req_free(c->big);
    free(c->in);
    free(c);
}

void tn_bk_conn_close(tn_bk_conn *c, const char *why)
{
    if (c->closing)
        return;
    tn_broker_impl *b = c->b;
    c->closing = 1;
    if (why)
        tn_bk_log(b, "closing connection from %s: %s", c->peer, why);
    else
        tn_trace(TERN_TRACE_BROKER, "connection from %s closed", c->peer);
    for (tn_bk_req *r = c->qhead; r; r = r->next)
        tn_bk_req_withdraw(b, r);
    tn_loop_unwatch(b->loop, &c->ioh);
    close(c->ioh.fd);
    for (tn_bk_conn **pp = &b->conns; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    /* The free waits for the end of this loop pass: callers up the stack
     * may still hold c or its requests. */
    c->free_task.fn = conn_free_task;
    c->free_task.arg = c;
    tn_loop_post(b->loop, &c->free_task);
}

void tn_bk_req_reset_out(tn_bk_req *r)
{
    tn_kw_reset(&r->out);
    drop_pieces(r);
}

int tn_bk_req_add_piece(tn_bk_req *r, int fd, uint64_t pos, uint32_t len)
{
    if (r->npieces == r->cap_pieces) {
        int cap = r->cap_pieces ? r->cap_pieces * 2 : 4;
        tn_bk_piece *p = realloc(r->pieces, (size_t)cap * sizeof *p);
        if (p == NULL)
            return -1;
        r->pieces = p;
        r->cap_pieces = cap;
    }
    r->pieces[r->npieces++] = (tn_bk_piece){r->out.n, fd, pos, len};
    return 0;
}

int tn_bk_req_keep_pieces(tn_bk_req *r)
{
    for (int i = 0; i < r->npieces; i++) {
        int fd = fcntl(r->pieces[i].fd, F_DUPFD_CLOEXEC, 0);
        if (fd < 0) {
            r->npieces = i; /* the ones already dup()ed are closed with the request */
            r->pieces_owned = 1;
            return -1;
        }
        r->pieces[i].fd = fd;
    }
    r->pieces_owned = 1;
    return 0;
}

/* A request of len bytes; its buffer holds cap of them for now (a big
 * frame's buffer grows as its bytes arrive, so a length alone costs
 * nothing). */
static tn_bk_req *req_new(tn_bk_conn *c, size_t len, size_t cap)
{
    tn_bk_req *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->buf = malloc(cap ? cap : 1);
    r->cap = cap;
    if (r->buf == NULL) {
        free(r);
        return NULL;
    }
    r->len = len;
    r->conn = c;
    r->state = TN_REQ_PENDING;
    tn_kw_init(&r->out, 0);
    return r;
}

/* Only ApiVersions v3 has the flexible header here. A newer ApiVersions
 * is answered from its header alone, so its tagged fields are not read. */
static int is_flexible(int16_t api, int16_t version)
{
    return api == TN_KAPI_API_VERSIONS && version == 3;
}

/* A whole frame arrived: parse the header, queue it, handle it. */
static void req_start(tn_bk_conn *c, tn_bk_req *r)
{
    tn_kr in;
    tn_kr_init(&in, r->buf, r->len);
    r->api = tn_kr_i16(&in);
    r->version = tn_kr_i16(&in);
    r->correlation_id = tn_kr_i32(&in);
    r->client_id = tn_kr_str(&in, 0); /* never compact, even in header v2 */
    r->flex = is_flexible(r->api, r->version);
    tn_kr_tags(&in, r->flex);
    if (in.err) {
        req_free(r);
        tn_bk_conn_close(c, "truncated request header");
        return;
    }
    r->body = in.off;
    if (c->qtail)
        c->qtail->next = r;
    else
        c->qhead = r;
    c->qtail = r;
    c->queued++;
    c->queued_bytes += r->len;
    r->dispatching = 1;
    tern_err e = tn_bk_dispatch(c->b, r);
    r->dispatching = 0;
    if (e != TERN_OK && !c->closing) {
        char why[128];
        snprintf(why, sizeof why, "malformed request (api %d v%d, correlation id %d)", r->api,
                 r->version, r->correlation_id);
        tn_bk_conn_close(c, why);
        return;
    }
    if (r->state != TN_REQ_PENDING)
        conn_flush(c);
}

/* Frames wholly inside c->in; the start of a big one moves to its own buffer. */
static void parse_frames(tn_bk_conn *c)
{
    size_t off = 0;
    while (!c->closing && c->in_len - off >= 4) {
        uint32_t size = tn_get_be32(c->in + off);
        if (size < HEADER_MIN || size > c->b->opts.max_request_bytes) {
            char why[96];
            snprintf(why, sizeof why, "request size %u outside [%u, %u]", size, HEADER_MIN,
                     c->b->opts.max_request_bytes);
            tn_bk_conn_close(c, why);
            return;
        }
        size_t have = c->in_len - off - 4;
        tn_bk_req *r =
            req_new(c, size, have >= size || size < BIG_FIRST_CAP ? size : BIG_FIRST_CAP);
        if (r == NULL) {
            tn_bk_conn_close(c, "out of memory for a request");
            return;
        }
        if (have >= size) {
            memcpy(r->buf, c->in + off + 4, size);
            off += 4 + size;
            req_start(c, r);
            continue;
        }
        memcpy(r->buf, c->in + off + 4, have);
        c->big = r;
        c->big_have = have;
        off = c->in_len;
        break;
    }
    if (off > 0 && off < c->in_len)
        memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
}

static int conn_full(const tn_bk_conn *c)
{
    return c->queued >= MAX_INFLIGHT || c->queued_bytes >= MAX_INFLIGHT_BYTES;
}

static void conn_read(tn_bk_conn *c)
{
    for (int rounds = 0; rounds < 16 && !c->closing && !conn_full(c); rounds++) {
        ssize_t n;
        if (c->big) {
            tn_bk_req *big = c->big;
            if (big->cap == c->big_have) {
                size_t cap = big->cap * 2 < big->len ? big->cap * 2 : big->len;
                uint8_t *buf = realloc(big->buf, cap);
                if (buf == NULL) {
                    tn_bk_conn_close(c, "out of memory for a request");
                    return;
                }
                big->buf = buf;
                big->cap = cap;
            }
            n = read(c->ioh.fd, big->buf + c->big_have, big->cap - c->big_have);
            if (n > 0) {
                c->big_have += (size_t)n;
                if (c->big_have == c->big->len) {
                    tn_bk_req *r = c->big;
                    c->big = NULL;
                    req_start(c, r);
                }
                continue;
            }
        } else {
            n = read(c->ioh.fd, c->in + c->in_len, c->in_cap - c->in_len);
            if (n > 0) {
                c->in_len += (size_t)n;
                parse_frames(c);
                continue;
            }
        }
        if (n == 0) {
            tn_bk_conn_close(c, NULL);
            return;
        }
        if (errno == EAGAIN || errno == EINTR)
            break;
        tn_bk_conn_close(c, strerror(errno));
        return;
    }
    if (!c->closing && conn_full(c))
        tn_loop_rewatch(c->b->loop, &c->ioh, c->ioh.events & ~(uint32_t)EPOLLIN);
}

static size_t req_total(const tn_bk_req *r)
{
    size_t n = r->out.n;
    for (int i = 0; i < r->npieces; i++)
        n += r->pieces[i].len;
    return n;
}

/* Writes what it can of r: 1 done, 0 would block, -1 failed. */
static int req_write(tn_bk_conn *c, tn_bk_req *r)
{
    if (r->head_len == 0) {
        int tag = r->flex && r->api != TN_KAPI_API_VERSIONS;
        size_t size = 4 + (size_t)tag + req_total(r);
        tn_put_be32(r->head, (uint32_t)size);
        tn_put_be32(r->head + 4, (uint32_t)r->correlation_id);
        r->head[8] = 0;
        r->head_len = 8 + (size_t)tag;
    }
    size_t total = 4 + tn_get_be32(r->head); /* the size field counts the rest */
    while (r->sent < total) {
        /* Find the current position: the header, a memory run, or a piece. */
        size_t pos = r->sent;
        struct iovec iov[2];
        int niov = 0;
        size_t mem_from = 0, mem_to;
        int piece = -1;
        size_t piece_off = 0;
        int more = 0; /* a file piece follows this memory run */
        if (pos < r->head_len) {
            iov[niov++] = (struct iovec){r->head + pos, r->head_len - pos};
            pos = 0;
            more = r->npieces > 0;
            mem_to = more ? r->pieces[0].at : r->out.n;
            if (mem_to > 0)
                iov[niov++] = (struct iovec){r->out.p, mem_to};
        } else {
            pos -= r->head_len;
            for (int i = 0;; i++) {
                mem_to = i < r->npieces ? r->pieces[i].at : r->out.n;
                size_t mem_len = mem_to - mem_from;
                if (pos < mem_len) {
                    iov[niov++] = (struct iovec){r->out.p + mem_from + pos, mem_len - pos};
                    more = i < r->npieces;
                    break;
                }
                pos -= mem_len;
                if (i == r->npieces)
                    break; /* unreachable: sent < total */
                if (pos < r->pieces[i].len) {
                    piece = i;
                    piece_off = pos;
                    break;
                }
                pos -= r->pieces[i].len;
                mem_from = mem_to;
            }
        }
        ssize_t n;
        if (piece >= 0) {
            off_t at = (off_t)(r->pieces[piece].pos + piece_off);
            n = sendfile(c->ioh.fd, r->pieces[piece].fd, &at, r->pieces[piece].len - piece_off);
            if (n == 0)
                return -1; /* the file is shorter than indexed: never expected */
        } else {
            struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)niov};
            /* A partition's header and its records leave in the same segments. */
            n = sendmsg(c->ioh.fd, &mh, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
        }
        if (n < 0) {
            if (errno == EAGAIN)
                return 0;
            if (errno == EINTR)
                continue;
            return -1;
        }
        r->sent += (size_t)n;
    }
    return 1;
}

static void conn_flush(tn_bk_conn *c)
{
    while (!c->closing && c->qhead && c->qhead->state != TN_REQ_PENDING) {
        tn_bk_req *r = c->qhead;
        if (r->state == TN_REQ_READY) {
            int w = req_write(c, r);
            if (w < 0) {
                tn_bk_conn_close(c, strerror(errno));
                return;
            }
            if (w == 0) {
                tn_loop_rewatch(c->b->loop, &c->ioh, c->ioh.events | EPOLLOUT);
                return;
            }
        }
        c->qhead = r->next;
        if (c->qhead == NULL)
            c->qtail = NULL;
        c->queued--;
        c->queued_bytes -= r->len;
        req_free(r);
    }
    if (c->closing)
        return;
    uint32_t want = EPOLLIN;
    if (conn_full(c))
        want = 0;
    if (want != (c->ioh.events & EPOLLIN) || (c->ioh.events & EPOLLOUT)) {
        int resume = (want & EPOLLIN) && !(c->ioh.events & EPOLLIN);
        tn_loop_rewatch(c->b->loop, &c->ioh, want);
        if (resume)
            conn_read(c); /* bytes may already wait in the socket */
    }
}

void tn_bk_req_ready(tn_bk_req *r)
{
    if (r->state == TN_REQ_PENDING)
        r->state = TN_REQ_READY;
    /* During its own handler the request is written when the handler returns. */
    if (!r->dispatching && !r->conn->closing && r->conn->qhead == r)
        conn_flush(r->conn);
}

static void conn_io(void *arg, uint32_t events)
{
    tn_bk_conn *c = arg;
    if (c->closing)
        return;
    if (events & EPOLLOUT)
        conn_flush(c);
    if (!c->closing && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        conn_read(c);
}
