/* RPC server: one ROUTER, a pool of workers that each receive, run and
 * reply (no dispatcher thread in between), a reply cache for at-most-once,
 * context handles, and a janitor that expires what is old. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/cond.h"
#include "base/message.h"
#include "base/pool.h"
#include "base/trace.h"
#include "naming/naming.h"
#include "rpc/cache.h"
#include "rpc/client.h"
#include "rpc/handles.h"
#include "rpc/ool.h"
#include "rpc/proto.h"
#include "wire/xdr_block.h"

#define DEFAULT_WORKERS 4
#define DEFAULT_CACHE 4096
#define CACHE_BYTES (64u << 20)
#define DEFAULT_CACHE_MS 60000
#define DEFAULT_RUNDOWN_MS 10000
#define JANITOR_NS 200000000ull
/* A call running this long gives up the receiver role to a follower. */
#define STEAL_NS 1000000ull
/* How often idle followers look whether the receiver got stuck in a call. */
#define IDLE_CHECK_NS 5000000ull
/* Requests queued per client before its connection is read no further,
 * and the largest one: together they bound what one client can make the
 * server hold (128 x 16 MiB by default), while 128 keeps the workers fed. */
#define SERVER_RCVHWM 128
#define DEFAULT_MAX_REQUEST (16 << 20)
#define SERVER_SNDHWM 100000
#define SERVER_BUSY_POLL_US 200
#define MAX_ERROR_TEXT 1024
/* A call's memory starts in the worker's own buffer. */
#define ARENA_INLINE 8192
/* The largest reply buffer a worker keeps between calls. */
#define KEEP_OUT (1u << 20)
/* Replies at least this large go out in the block they were encoded in,
 * not copied; the block becomes a thread's spare again once the reply is
 * sent and the client has acknowledged it, which for a client calling in
 * turn is before this worker needs a buffer for its next reply. */
#define ZERO_COPY_MIN (16u << 10)

typedef struct offer {
    const tern_rpc_iface *iface;
    tern_rpc_dispatch_fn *dispatch;
    const void *impl;
    void *app;
} offer;

struct tern_rpc_server {
    tern_ctx *ctx;
    tern_socket sock; /* ROUTER */
    uint64_t instance;
    int nworkers;
    uint64_t rundown_ns;
    uint64_t peer_idle_ns; /* a client silent this long is forgotten */
    uint32_t lease_ms;
    char endpoint[256];

    pthread_mutex_t lock; /* offers, cache, handles, leases */
    offer **offers;       /* each allocated once, kept until close: calls hold them */
    size_t noffers;
    tn_rpc_cache cache;
    tn_rpc_handles handles;
    tn_naming_lease **leases;
    size_t nleases;

    pthread_mutex_t role_lock; /* receiver, busy_since */
    pthread_cond_t role_cv;    /* the receiver role came free or may be taken */
    int receiver;              /* worker holding the receiver role, -1: none */
    uint64_t busy_since;       /* the receiver has been running a call since (0: receiving) */
    bool closing_workers;
    pthread_t *workers;
    struct worker_arg *worker_args;
    pthread_t janitor;
    bool started, janitor_started, closing;
    atomic_bool stopping; /* closing: running calls should give up */
    pthread_cond_t janitor_cv;
};

typedef struct worker_arg {
    tern_rpc_server *server;
    int index;
} worker_arg;

/* A chunk of call memory beyond the worker's inline buffer. */
typedef struct chunk {
    struct chunk *next;
    size_t size; /* of the whole block, for the pool */
    max_align_t data[];
} chunk;

struct tern_rpc_call {
    tern_rpc_server *server;
    const offer *offer;
    tn_rpc_peer *peer;
    tn_rpc_entry *entry;
    uint64_t deadline_ns;
    char *error; /* tern_rpc_call_fail's text */
    /* Bump allocator: the inline buffer, then malloc'd chunks. */
    unsigned char *inline_buf;
    size_t inline_used;
    chunk *chunks;
    /* The worker's reply buffer, at the largest size a reply needed (up to
     * KEEP_OUT), so replies do not grow it step by step. */
    uint8_t *out;
    size_t out_cap;
};

/* ---- call memory -------------------------------------------------------- */

void *tern_rpc_call_alloc(tern_rpc_call *call, size_t n)
{
    if (call == NULL)
        return NULL;
    size_t a = (n + 15u) & ~(size_t)15u;
    if (a < n)
        return NULL;
    if (a <= ARENA_INLINE - call->inline_used) {
        void *p = call->inline_buf + call->inline_used;
        call->inline_used += a;
        return p;
    }
    if (a > SIZE_MAX - sizeof(chunk))
        return NULL;
    chunk *c = tn_pool_alloc(sizeof(chunk) + a);
    if (c == NULL)
        return NULL;
    c->size = sizeof(chunk) + a;
    c->next = call->chunks;
    call->chunks = c;
    return c->data;
}

static void *arena_alloc(void *arg, size_t n)
{
    return tern_rpc_call_alloc(arg, n);
}

static void call_release(tern_rpc_call *call)
{
    for (chunk *c = call->chunks, *next; c; c = next) {
        next = c->next;
        tn_pool_free(c, c->size);
    }
    call->chunks = NULL;
    call->inline_used = 0;
    free(call->error);
    call->error = NULL;
}

void *tern_rpc_call_app(const tern_rpc_call *call)
{
    return call ? call->offer->app : NULL;
}

uint64_t tern_rpc_call_deadline_ns(const tern_rpc_call *call)
{
    return call ? call->deadline_ns : 0;
}

bool tern_rpc_call_cancelled(const tern_rpc_call *call)
{
    if (call == NULL)
        return false;
    if (tern_clock_ns() >= call->deadline_ns ||
        atomic_load_explicit(&call->server->stopping, memory_order_relaxed))
        return true;
    return call->entry && atomic_load_explicit(&call->entry->cancelled, memory_order_relaxed);
}

tern_err tern_rpc_call_fail(tern_rpc_call *call, const char *fmt, ...)
{
    if (call == NULL)
        return TERN_EAPP;
    char buf[MAX_ERROR_TEXT];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    free(call->error);
    call->error = strdup(buf);
    return TERN_EAPP;
}

/* ---- context handles (the table lives in handles.c) --------------------- */

tern_err tern_rpc_handle_new(tern_rpc_call *call, void *state, tern_rpc_rundown_fn *rundown,
                             tern_rpc_handle *h)
{
    if (call == NULL || h == NULL)
        return TERN_EINVAL;
    tern_rpc_server *s = call->server;
    pthread_mutex_lock(&s->lock);
    tern_err err = tn_rpc_handles_add(&s->handles, call->peer, state, rundown, h);
    pthread_mutex_unlock(&s->lock);
    return err;
}

tern_err tern_rpc_handle_get(tern_rpc_call *call, const tern_rpc_handle *h, void **state)
{
    if (call == NULL || h == NULL || state == NULL)
        return TERN_EINVAL;
    tern_rpc_server *s = call->server;
    pthread_mutex_lock(&s->lock);
    tern_err err = tn_rpc_handles_get(&s->handles, call->peer, h, state);
    pthread_mutex_unlock(&s->lock);
    return err;
}

tern_err tern_rpc_handle_drop(tern_rpc_call *call, const tern_rpc_handle *h)
{
    if (call == NULL || h == NULL)
        return TERN_EINVAL;
    tern_rpc_server *s = call->server;
    pthread_mutex_lock(&s->lock);
    tern_err err = tn_rpc_handles_drop(&s->handles, call->peer, h);
    pthread_mutex_unlock(&s->lock);
    return err;
}

/* ---- replies ------------------------------------------------------------ */

static void give_block(void *data, void *cap)
{
    tn_xdr_block_give(data, (size_t)(uintptr_t)cap);
}

/* Builds [routing id, header, body, out-of-line parts]. The body is taken
 * from enc when it is on the heap, copied otherwise; ool (taken, may be
 * NULL) holds the out-of-line parts of a body encoded with them. */
static tern_err build_reply(tern_rpc_server *s, const tern_msg *req, const tn_rpc_hdr *rh,
                            uint8_t kind, tern_err status, tern_xdr_enc *body, tn_rpc_ool_out *ool,
                            tern_msg **mp)
{
    tn_rpc_hdr h = {.kind = kind,
                    .flags = ool ? TN_RPC_F_OOL : 0,
                    .call_id = rh->call_id,
                    .iface = rh->iface,
                    .major = rh->major,
                    .minor = rh->minor,
                    .method = tn_rpc_status_to_wire(status),
                    .instance = s->instance};
    uint8_t hdr[TN_RPC_HDR_SIZE];
    tn_rpc_hdr_encode(&h, hdr);
    tern_msg *m;
    tern_err err = tern_msg_new(&m);
    if (err == TERN_OK)
        err = tern_msg_append(m, tern_msg_data(req, 0), tern_msg_size(req, 0));
    if (err == TERN_OK)
        err = tern_msg_append(m, hdr, sizeof hdr);
    if (err == TERN_OK && body && body->owned && body->len >= ZERO_COPY_MIN) {
        size_t len, cap;
        void *p = tn_xdr_enc_take_block(body, &len, &cap);
        err = tern_msg_append_ref(m, p, len, give_block, (void *)(uintptr_t)cap);
        if (err != TERN_OK)
            tn_xdr_block_give(p, cap);
    } else if (err == TERN_OK) {
        err = tern_msg_append(m, body ? body->buf : NULL, body ? body->len : 0);
    }
    if (err == TERN_OK && ool && ool->parts)
        err = tn_msg_move_front(ool->parts, tern_msg_parts(ool->parts), m);
    if (ool) {
        tern_msg_free(ool->parts);
        ool->parts = NULL;
    }
    if (err != TERN_OK) {
        tern_msg_free(m);
        return err;
    }
    *mp = m;
    return TERN_OK;
}

/* Sends m without waiting: a client that stopped reading loses its reply
 * (it will time out), the server does not stall. */
static void send_reply(tern_rpc_server *s, tern_msg *m)
{
    tern_err err = tern_msg_send(s->sock, m, TERN_DONTWAIT);
    if (err != TERN_OK) {
        tn_trace(TERN_TRACE_RPC, "server %s: reply not sent: %s", s->endpoint, tern_errname(err));
        tern_msg_free(m);
    }
}

/* Replies with an error status and a text. */
static void reply_error(tern_rpc_server *s, const tern_msg *req, const tn_rpc_hdr *rh, uint8_t kind,
                        tern_err status, const char *why)
{
    uint8_t buf[MAX_ERROR_TEXT + 8];
    tern_xdr_enc e;
    tern_xdr_enc_init(&e, buf, sizeof buf);
    tern_xdr_put_string(&e, why ? why : "", MAX_ERROR_TEXT);
    tern_msg *m;
    if (build_reply(s, req, rh, kind, status, &e, NULL, &m) == TERN_OK)
        send_reply(s, m);
    tern_xdr_enc_free(&e);
    tn_trace(TERN_TRACE_RPC, "server %s: call %llu: %s: %s", s->endpoint,
             (unsigned long long)rh->call_id, tern_errname(status), why ? why : "");
}

/* ---- serving ------------------------------------------------------------ */

/* The offer for a header's interface; sets *status and why otherwise. */
static const offer *find_offer(tern_rpc_server *s, const tn_rpc_hdr *h, tern_err *status, char *why,
                               size_t cap)
{
    const offer *same_uuid = NULL;
    for (size_t i = 0; i < s->noffers; i++) {
        const offer *o = s->offers[i];
        if (memcmp(o->iface->uuid.b, h->iface.b, 16) != 0)
            continue;
        same_uuid = o;
        if (o->iface->major == h->major && o->iface->minor >= h->minor) {
            *status = TERN_OK;
            return o;
        }
    }
    char id[37];
    tern_rpc_uuid_format(&h->iface, id);
    if (same_uuid) {
        *status = TERN_EVERSION;
        snprintf(why, cap,
                 "interface %s (%s) is version %u.%u here; the client needs %u.%u or a later minor",
                 same_uuid->iface->name, id, same_uuid->iface->major, same_uuid->iface->minor,
                 h->major, h->minor);
    } else {
        *status = TERN_ENOIFACE;
        snprintf(why, cap, "interface %s is not offered here", id);
    }
    return NULL;
}

/* What the client is told of a procedure's result. A procedure that gave
 * up because the client cancelled, time ran out or the server is closing
 * says so; its other errors are its own (say, from calls it made to other
 * servers) and travel as application errors, not as this call's transport
 * trouble. */
static tern_err procedure_status(tern_rpc_call *call, const tn_rpc_entry *entry, tern_err status)
{
    switch (status) {
    case TERN_OK:
    case TERN_EBADARGS:
    case TERN_ENOMETHOD:
    case TERN_EAPP:
    case TERN_ENOMEM:
        return status;
    case TERN_ECANCELED:
    case TERN_ETIMEDOUT:
        if (atomic_load_explicit(&entry->cancelled, memory_order_relaxed))
            return TERN_ECANCELED;
        if (tern_clock_ns() >= call->deadline_ns)
            return TERN_ETIMEDOUT;
        if (atomic_load_explicit(&call->server->stopping, memory_order_relaxed))
            return TERN_EUNAVAILABLE;
        break;
    default:
        break;
    }
    if (call->error == NULL)
        tern_rpc_call_fail(call, "the procedure failed: %s", tern_strerror(status));
    return TERN_EAPP;
}

static void serve_call(tern_rpc_server *s, tern_rpc_call *call, const tern_msg *req,
                       const tn_rpc_hdr *h)
{
    char why[256];
    tern_err status;
    pthread_mutex_lock(&s->lock);
    const offer *o = find_offer(s, h, &status, why, sizeof why);
    if (o == NULL) {
        pthread_mutex_unlock(&s->lock);
        reply_error(s, req, h, TN_RPC_REPLY, status, why);
        return;
    }
    if (h->method >= o->iface->nmethods) {
        pthread_mutex_unlock(&s->lock);
        snprintf(why, sizeof why, "interface %s has no method %u", o->iface->name, h->method);
        reply_error(s, req, h, TN_RPC_REPLY, TERN_ENOMETHOD, why);
        return;
    }
    bool resend = (h->flags & TN_RPC_F_RETRY) != 0;
    if (resend && h->instance != 0 && h->instance != s->instance) {
        pthread_mutex_unlock(&s->lock);
        reply_error(
            s, req, h, TN_RPC_REPLY, TERN_EUNAVAILABLE,
            "the server restarted since the call was first sent; it may or may not have run");
        return;
    }
    const uint8_t *rid = tern_msg_data(req, 0);
    size_t rid_len = tern_msg_size(req, 0);
    tn_rpc_peer *peer = tn_rpc_cache_peer(&s->cache, rid, rid_len, true);
    if (peer)
        tn_rpc_cache_ack(&s->cache, peer, h->acked);
    tn_rpc_entry *entry = NULL;
    int state = TN_RPC_FRESH;
    tern_err err = peer ? tn_rpc_cache_begin(&s->cache, peer, h->call_id, resend, &entry, &state)
                        : TERN_ENOMEM;
    if (err != TERN_OK) {
        pthread_mutex_unlock(&s->lock);
        reply_error(s, req, h, TN_RPC_REPLY, TERN_ENOMEM, "server out of room for calls");
        return;
    }
    peer->last_seen_ns = tern_clock_ns();
    if (state == TN_RPC_DONE) {
        /* Answered before: the same reply again, never a second run. */
        tern_msg *again = NULL;
        if (entry->reply)
            tern_msg_dup(entry->reply, &again);
        pthread_mutex_unlock(&s->lock);
        if (again)
            send_reply(s, again);
        return;
    }
    pthread_mutex_unlock(&s->lock);
    if (state == TN_RPC_FORGOTTEN) {
        reply_error(s, req, h, TN_RPC_REPLY, TERN_EUNAVAILABLE,
                    "the reply to this resent call is no longer kept; it may or may not have run");
        return;
    }
    bool oneway = (h->flags & TN_RPC_F_ONEWAY) != 0;
    if ((h->flags & TN_RPC_F_ACCEPT) && !oneway) {
        tern_msg *ack;
        if (build_reply(s, req, h, TN_RPC_ACCEPT, TERN_OK, NULL, NULL, &ack) == TERN_OK)
            send_reply(s, ack);
    }
    if (state == TN_RPC_RUNNING)
        return; /* a copy of a call still running; its reply will come */

    call->offer = o;
    call->peer = peer;
    call->entry = entry;
    uint64_t max_us = (uint64_t)TN_RPC_MAX_DEADLINE_MS * 1000u;
    uint64_t left_us = h->deadline_us < max_us ? h->deadline_us : max_us;
    call->deadline_ns = tern_clock_ns() + left_us * 1000u;
    tern_msg *reply = NULL;
    if (h->deadline_us == 0) {
        status = TERN_ETIMEDOUT;
    } else {
        tern_xdr_dec in;
        /* Never steals: in-values go through the arena or are views. */
        tn_rpc_ool_decoder(&in, (tern_msg *)req, 2, (h->flags & TN_RPC_F_OOL) != 0, false);
        in.alloc = arena_alloc;
        in.alloc_arg = call;
        /* In-values live until the reply is sent, and so does req: opaques
         * need no copy when nobody else shares its body (over inproc the
         * sender may, and may keep it to resend). */
        in.view = tn_msg_part_private(req, 2);
        tern_xdr_enc out;
        if (call->out == NULL) /* taken by the last reply: the spare, if it came back */
            call->out = tn_xdr_block_get(call->out_cap, &call->out_cap);
        tern_xdr_enc_init(&out, call->out, call->out_cap);
        /* Large out-values travel on their own, sharing the request's
         * bytes when they are in-values handed back. */
        tn_rpc_ool_out ool;
        tn_rpc_ool_encoder(&out, &ool, req);
        status = o->dispatch(call, h->method, &in, &out, o->impl);
        status = procedure_status(call, entry, status);
        if (status == TERN_OK && out.err != TERN_OK)
            status = tern_rpc_call_fail(call, "reply did not encode: %s", tern_strerror(out.err));
        if (status == TERN_OK && !oneway) {
            /* A large reply goes out in the buffer it was encoded in; the
             * worker's next buffer, of the size replies have needed, is
             * taken when the next call needs it, so it neither copies nor
             * grows. */
            size_t need = out.owned ? out.cap : call->out_cap;
            if (out.len >= ZERO_COPY_MIN && !out.owned) {
                out.owned = true; /* the worker's buffer becomes the reply's */
                call->out = NULL;
            }
            build_reply(s, req, h, TN_RPC_REPLY, TERN_OK, &out, &ool, &reply);
            if (need > KEEP_OUT)
                need = KEEP_OUT;
            if (call->out && need > call->out_cap) {
                free(call->out);
                call->out = NULL;
            }
            if (call->out == NULL)
                call->out_cap = need;
        }
        tern_msg_free(ool.parts); /* what a failed or one-way call encoded */
        tern_xdr_enc_free(&out);
    }
    if (status != TERN_OK && !oneway) {
        const char *text = call->error;
        if (text == NULL && status == TERN_EBADARGS)
            text = "the arguments did not decode";
        else if (text == NULL && status == TERN_ETIMEDOUT)
            text = "the deadline passed before the call ran";
        uint8_t buf[MAX_ERROR_TEXT + 8];
        tern_xdr_enc e;
        tern_xdr_enc_init(&e, buf, sizeof buf);
        tern_xdr_put_string(&e, text ? text : "", MAX_ERROR_TEXT);
        build_reply(s, req, h, TN_RPC_REPLY, status, &e, NULL, &reply);
        tern_xdr_enc_free(&e);
        tn_trace(TERN_TRACE_RPC, "server %s: %s.%s failed: %s %s", s->endpoint, o->iface->name,
                 o->iface->methods[h->method].name, tern_errname(status), text ? text : "");
    }
    tern_msg *cached = NULL;
    if (reply)
        tern_msg_dup(reply, &cached);
    bool cancelled = atomic_load_explicit(&entry->cancelled, memory_order_relaxed);
    pthread_mutex_lock(&s->lock);
    tn_rpc_cache_finish(&s->cache, entry, cached);
    tn_rpc_cache_trim(&s->cache, tern_clock_ns());
    pthread_mutex_unlock(&s->lock);
    if (reply && !cancelled)
        send_reply(s, reply);
    else
        tern_msg_free(reply);
}

static void serve_bind(tern_rpc_server *s, const tern_msg *req, const tn_rpc_hdr *h)
{
    char why[256];
    tern_err status;
    pthread_mutex_lock(&s->lock);
    find_offer(s, h, &status, why, sizeof why);
    pthread_mutex_unlock(&s->lock);
    if (status != TERN_OK) {
        reply_error(s, req, h, TN_RPC_BIND_REPLY, status, why);
        return;
    }
    tern_msg *m;
    if (build_reply(s, req, h, TN_RPC_BIND_REPLY, TERN_OK, NULL, NULL, &m) == TERN_OK)
        send_reply(s, m);
}

static void serve_cancel(tern_rpc_server *s, const tern_msg *req, const tn_rpc_hdr *h)
{
    pthread_mutex_lock(&s->lock);
    tn_rpc_peer *p =
        tn_rpc_cache_peer(&s->cache, tern_msg_data(req, 0), tern_msg_size(req, 0), false);
    tn_rpc_entry *e = p ? tn_rpc_cache_find(&s->cache, p, h->call_id) : NULL;
    if (e && !e->done)
        atomic_store_explicit(&e->cancelled, true, memory_order_relaxed);
    pthread_mutex_unlock(&s->lock);
}

static void serve_one(tern_rpc_server *s, tern_rpc_call *call, tern_msg *req)
{
    size_t parts = tern_msg_parts(req);
    tn_rpc_hdr h;
    if (parts < 2 ||
        tn_rpc_hdr_decode(tern_msg_data(req, 1), tern_msg_size(req, 1), &h) != TERN_OK) {
        /* Not our protocol: answer call 0 so a confused client learns why. */
        tn_rpc_hdr bad = {.kind = TN_RPC_REPLY};
        if (parts >= 1)
            reply_error(s, req, &bad, TN_RPC_REPLY, TERN_EPROTO, "malformed RPC header");
        return;
    }
    if (parts != 3 && h.kind != TN_RPC_CANCEL && h.kind != TN_RPC_BIND &&
        !(parts > 3 && (h.flags & TN_RPC_F_OOL))) {
        reply_error(s, req, &h, TN_RPC_REPLY, TERN_EPROTO,
                    "a call is a header and one body part (and out-of-line parts if flagged)");
        return;
    }
    switch (h.kind) {
    case TN_RPC_CALL:
        serve_call(s, call, req, &h);
        break;
    case TN_RPC_BIND:
        serve_bind(s, req, &h);
        break;
    case TN_RPC_CANCEL:
        serve_cancel(s, req, &h);
        break;
    default:
        reply_error(s, req, &h, TN_RPC_REPLY, TERN_EPROTO, "not a request");
        break;
    }
}

/* Who receives. One worker at a time holds the receiver role and waits in
 * receive (busy-polling there), so idle workers do not crowd the CPUs the
 * I/O threads need. The receiver runs each call itself and goes straight
 * back to receiving: no hand-off between threads per call, which is what
 * quick calls want. A call that runs longer than STEAL_NS loses the role to
 * a follower (followers look every IDLE_CHECK_NS), so requests wait behind
 * a slow call for a few milliseconds at most, and slow calls end up
 * running side by side on as many workers as there are. */
static void become_receiver(tern_rpc_server *s, int me)
{
    pthread_mutex_lock(&s->role_lock);
    for (;;) {
        if (s->closing_workers)
            break;
        uint64_t now = tern_clock_ns();
        if (s->receiver < 0)
            break;
        if (s->busy_since && now - s->busy_since >= STEAL_NS) {
            tn_trace(TERN_TRACE_RPC, "server %s: worker %d takes over receiving from a long call",
                     s->endpoint, me);
            break;
        }
        /* Followers only need to wake to steal from a busy receiver. */
        uint64_t until = s->busy_since ? s->busy_since + STEAL_NS : now + IDLE_CHECK_NS;
        tn_cond_wait_until(&s->role_cv, &s->role_lock, until);
    }
    s->receiver = me;
    s->busy_since = 0;
    pthread_mutex_unlock(&s->role_lock);
}

static void *worker(void *arg)
{
    tern_rpc_server *s = ((worker_arg *)arg)->server;
    int me = ((worker_arg *)arg)->index;
    unsigned char *buf = malloc(ARENA_INLINE);
    if (buf == NULL)
        return NULL;
    tern_rpc_call call = {.server = s, .inline_buf = buf, .out = malloc(4096), .out_cap = 4096};
    if (call.out == NULL)
        call.out_cap = 0;
    bool receiver = false;
    for (;;) {
        if (!receiver)
            become_receiver(s, me);
        receiver = true;
        tern_msg *req;
        tern_err err = tern_msg_recv(s->sock, &req, 0);
        if (err == TERN_ECLOSED)
            break;
        if (err != TERN_OK)
            continue;
        pthread_mutex_lock(&s->role_lock);
        if (s->receiver != me)
            receiver = false; /* a follower took over while we received */
        else
            s->busy_since = tern_clock_ns();
        pthread_mutex_unlock(&s->role_lock);

        serve_one(s, &call, req);
        call_release(&call);
        call.entry = NULL;
        tern_msg_free(req);

        if (receiver) {
            pthread_mutex_lock(&s->role_lock);
            if (s->receiver == me)
                s->busy_since = 0;
            else
                receiver = false; /* stolen during a long call */
            pthread_mutex_unlock(&s->role_lock);
        }
    }
    pthread_mutex_lock(&s->role_lock);
    if (s->receiver == me)
        s->receiver = -1;
    pthread_cond_broadcast(&s->role_cv);
    pthread_mutex_unlock(&s->role_lock);
    free(call.out);
    free(buf);
    return NULL;
}

/* Expires old replies; runs the context handles of clients gone too long. */
static void *janitor(void *arg)
{
    tern_rpc_server *s = arg;
    size_t cap = 64;
    tern_peer_stats *peers = malloc(cap * sizeof *peers);
    pthread_mutex_lock(&s->lock);
    while (!s->closing) {
        uint64_t now = tern_clock_ns();
        tn_cond_wait_until(&s->janitor_cv, &s->lock, now + JANITOR_NS);
        if (s->closing)
            break;
        tn_rpc_cache_trim(&s->cache, tern_clock_ns());
        tn_rpc_cache_sweep(&s->cache, tern_clock_ns(), s->peer_idle_ns);
        if (s->handles.count == 0 || peers == NULL)
            continue;
        pthread_mutex_unlock(&s->lock);
        size_t n = 0;
        tern_socket_peers(s->sock, peers, cap, &n);
        if (n > cap) {
            tern_peer_stats *more = realloc(peers, n * sizeof *peers);
            if (more) {
                peers = more;
                cap = n;
                tern_socket_peers(s->sock, peers, cap, &n);
            }
        }
        pthread_mutex_lock(&s->lock);
        now = tern_clock_ns();
        for (size_t i = 0; i < n && i < cap; i++) {
            tn_rpc_peer *p =
                tn_rpc_cache_peer(&s->cache, peers[i].routing_id, peers[i].routing_id_len, false);
            if (p)
                p->last_seen_ns = now;
        }
        tn_rpc_handles_rundown(&s->handles, now, s->rundown_ns, &s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    free(peers);
    return NULL;
}

/* ---- lifecycle ---------------------------------------------------------- */

tern_err tern_rpc_server_open(tern_ctx *ctx, const tern_rpc_server_opts *o, tern_rpc_server **sp)
{
    if (ctx == NULL || sp == NULL)
        return TERN_EINVAL;
    *sp = NULL;
    tern_rpc_server *s = calloc(1, sizeof *s);
    if (s == NULL)
        return TERN_ENOMEM;
    s->ctx = ctx;
    s->nworkers = o && o->workers > 0 ? o->workers : DEFAULT_WORKERS;
    size_t cache = o && o->reply_cache ? o->reply_cache : DEFAULT_CACHE;
    int64_t cache_ms = o && o->reply_cache_ms > 0 ? o->reply_cache_ms : DEFAULT_CACHE_MS;
    int64_t rundown_ms = o && o->rundown_ms > 0 ? o->rundown_ms : DEFAULT_RUNDOWN_MS;
    s->rundown_ns = (uint64_t)rundown_ms * 1000000u;
    /* Twice the longer of the reply and rundown times: a resend refused
     * because its reply was evicted stays refused that long. */
    s->peer_idle_ns = 2 * (uint64_t)(cache_ms > rundown_ms ? cache_ms : rundown_ms) * 1000000u;
    s->lease_ms = o && o->lease_ms > 0 && o->lease_ms <= 3600000 ? (uint32_t)o->lease_ms : 10000u;
    if (getrandom(&s->instance, sizeof s->instance, 0) != (ssize_t)sizeof s->instance) {
        free(s);
        return TERN_ESYSTEM;
    }
    s->instance |= 1; /* 0 means "unknown" on the wire */
    tern_err err = tn_rpc_cache_init(&s->cache, cache, CACHE_BYTES, (uint64_t)cache_ms * 1000000u);
    if (err != TERN_OK) {
        free(s);
        return err;
    }
    tn_rpc_handles_init(&s->handles);
    err = tern_socket_open(ctx, TERN_ROUTER, &s->sock);
    if (err != TERN_OK) {
        tn_rpc_cache_fini(&s->cache);
        free(s);
        return err;
    }
    /* A client reconnecting keeps its routing id: its calls and handles stay
     * its own. */
    tern_setopt_int(s->sock, TERN_OPT_ROUTER_HANDOVER, 1);
    tern_setopt_int(s->sock, TERN_OPT_RCVHWM, SERVER_RCVHWM);
    tern_setopt_int(s->sock, TERN_OPT_MAXMSGSIZE,
                    o && o->max_request > 0 ? o->max_request : DEFAULT_MAX_REQUEST);
    tern_setopt_int(s->sock, TERN_OPT_SNDHWM, SERVER_SNDHWM);
    tern_setopt_int(s->sock, TERN_OPT_LINGER, 200);
    tern_setopt_int(s->sock, TERN_OPT_BUSY_POLL, SERVER_BUSY_POLL_US);
    tern_setopt_int(s->sock, TERN_OPT_HEARTBEAT_IVL, 1000);
    tern_setopt_int(s->sock, TERN_OPT_HEARTBEAT_TIMEOUT, 3000);
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->role_lock, NULL);
    s->receiver = -1;
    tn_cond_init(&s->janitor_cv);
    tn_cond_init(&s->role_cv);
    *sp = s;
    return TERN_OK;
}

tern_err tern_rpc_server_add(tern_rpc_server *s, const tern_rpc_iface *iface,
                             tern_rpc_dispatch_fn *dispatch, const void *impl, void *app)
{
    if (s == NULL || iface == NULL || dispatch == NULL)
        return TERN_EINVAL;
    tern_err err = TERN_OK;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->noffers; i++) {
        if (memcmp(s->offers[i]->iface->uuid.b, iface->uuid.b, 16) == 0 &&
            s->offers[i]->iface->major == iface->major)
            err = TERN_EEXIST;
    }
    if (err == TERN_OK) {
        offer **more = realloc(s->offers, (s->noffers + 1) * sizeof *more);
        offer *o = malloc(sizeof *o);
        if (more)
            s->offers = more;
        if (more == NULL || o == NULL) {
            free(o);
            err = TERN_ENOMEM;
        } else {
            *o = (offer){iface, dispatch, impl, app};
            s->offers[s->noffers++] = o;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return err;
}

static tern_err start(tern_rpc_server *s)
{
    if (s->started)
        return TERN_OK;
    s->workers = calloc((size_t)s->nworkers, sizeof *s->workers);
    s->worker_args = calloc((size_t)s->nworkers, sizeof *s->worker_args);
    if (s->workers == NULL || s->worker_args == NULL) {
        free(s->workers);
        free(s->worker_args);
        s->workers = NULL;
        s->worker_args = NULL;
        return TERN_ENOMEM;
    }
    /* Started counts as soon as any thread runs, so close joins what did. */
    s->started = true;
    for (int i = 0; i < s->nworkers; i++) {
        s->worker_args[i] = (worker_arg){s, i};
        if (pthread_create(&s->workers[i], NULL, worker, &s->worker_args[i]) != 0) {
            s->nworkers = i;
            return TERN_ESYSTEM;
        }
    }
    if (pthread_create(&s->janitor, NULL, janitor, s) != 0) {
        s->janitor_started = false;
        return TERN_ESYSTEM;
    }
    s->janitor_started = true;
    return TERN_OK;
}

tern_err tern_rpc_server_bind(tern_rpc_server *s, const char *endpoint)
{
    if (s == NULL || endpoint == NULL)
        return TERN_EINVAL;
    tern_err err = tern_bind(s->sock, endpoint);
    if (err != TERN_OK)
        return err;
    size_t len = sizeof s->endpoint;
    if (tern_getopt_bytes(s->sock, TERN_OPT_LAST_ENDPOINT, s->endpoint, &len) != TERN_OK)
        snprintf(s->endpoint, sizeof s->endpoint, "%s", endpoint);
    pthread_mutex_lock(&s->lock);
    err = start(s);
    pthread_mutex_unlock(&s->lock);
    return err;
}

tern_err tern_rpc_server_endpoint(tern_rpc_server *s, char *buf, size_t cap)
{
    if (s == NULL || buf == NULL || cap == 0)
        return TERN_EINVAL;
    if (s->endpoint[0] == '\0')
        return TERN_ESTATE;
    if (strlen(s->endpoint) >= cap)
        return TERN_EMSGSIZE;
    strcpy(buf, s->endpoint);
    return TERN_OK;
}

tern_err tern_rpc_server_register(tern_rpc_server *s, const char *directory, const char *name,
                                  const char *advertise, const char *attrs)
{
    if (s == NULL || name == NULL || name[0] == '\0')
        return TERN_EINVAL;
    const char *ep = advertise ? advertise : s->endpoint;
    if (ep[0] == '\0')
        return TERN_ESTATE; /* nothing bound: nothing to advertise */
    const char *dir = directory ? directory : "tcp://127.0.0.1:7350";
    pthread_mutex_lock(&s->lock);
    size_t n = s->noffers;
    const tern_rpc_iface **ifaces = malloc((n ? n : 1) * sizeof *ifaces);
    for (size_t i = 0; ifaces && i < n; i++)
        ifaces[i] = s->offers[i]->iface;
    pthread_mutex_unlock(&s->lock);
    if (ifaces == NULL)
        return TERN_ENOMEM;
    tern_err err = n ? TERN_OK : TERN_ESTATE;
    for (size_t i = 0; i < n && err == TERN_OK; i++) {
        char why[256] = "";
        tn_naming_lease *lease;
        err = tn_naming_lease_open(s->ctx, dir, name, ifaces[i], ep, attrs, s->lease_ms, &lease,
                                   why, sizeof why);
        if (err != TERN_OK) {
            tn_rpc_set_last_error(why);
            tn_trace(TERN_TRACE_RPC, "register %s at %s: %s", name, dir, why);
            break;
        }
        pthread_mutex_lock(&s->lock);
        tn_naming_lease **more = realloc(s->leases, (s->nleases + 1) * sizeof *more);
        if (more) {
            s->leases = more;
            s->leases[s->nleases++] = lease;
        }
        pthread_mutex_unlock(&s->lock);
        if (more == NULL) {
            tn_naming_lease_close(lease);
            err = TERN_ENOMEM;
        }
    }
    free(ifaces);
    return err;
}

void tern_rpc_server_close(tern_rpc_server *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->lock);
    s->closing = true;
    atomic_store(&s->stopping, true);
    pthread_cond_broadcast(&s->janitor_cv);
    tn_naming_lease **leases = s->leases;
    size_t nleases = s->nleases;
    s->leases = NULL;
    s->nleases = 0;
    pthread_mutex_unlock(&s->lock);
    /* Unregister first, so nobody is sent here while we go. */
    for (size_t i = 0; i < nleases; i++)
        tn_naming_lease_close(leases[i]);
    free(leases);
    if (s->janitor_started)
        pthread_join(s->janitor, NULL);
    /* Closing the socket wakes every worker blocked in receive; a worker in
     * a handler finishes it first (its reply may still go out). */
    pthread_mutex_lock(&s->role_lock);
    s->closing_workers = true; /* followers become receivers, and see the socket closed */
    pthread_cond_broadcast(&s->role_cv);
    pthread_mutex_unlock(&s->role_lock);
    tern_socket_close(s->sock);
    for (int i = 0; s->workers && i < s->nworkers; i++)
        pthread_join(s->workers[i], NULL);
    free(s->workers);
    free(s->worker_args);
    pthread_mutex_lock(&s->lock);
    tn_rpc_handles_fini(&s->handles, &s->lock);
    pthread_mutex_unlock(&s->lock);
    tn_rpc_cache_fini(&s->cache);
    for (size_t i = 0; i < s->noffers; i++)
        free(s->offers[i]);
    free(s->offers);
    pthread_cond_destroy(&s->janitor_cv);
    pthread_cond_destroy(&s->role_cv);
    pthread_mutex_destroy(&s->role_lock);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
