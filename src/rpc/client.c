/* RPC client: binding, sending calls, and receiving replies.
 *
 * Replies are received by whichever thread waits for one (leader/follower):
 * the first waiter becomes the reader, receives for everyone, and hands the
 * role on when its own call finishes; others sleep on a condition variable.
 * A synchronous call therefore goes socket -> caller with no thread hop. A
 * background thread reads only when futures have completion callbacks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/cond.h"
#include "base/trace.h"
#include "rpc/client.h"
#include "rpc/proto.h"
#include "rpc/resolve.h"
#include "wire/xdr_block.h"

#define DEFAULT_TIMEOUT_MS 5000
#define DEFAULT_RETRIES 2
/* How long a reader blocks before it looks at deadlines and connections. */
#define SLICE_NS 20000000ull
/* Replies queued per client before the server's sends wait. */
#define CLIENT_HWM 100000
#define CLIENT_BUSY_POLL_US 200
/* Arguments at least this large are sent from the encoder's block, which
 * goes back to the thread's spare once sent and answered (the next call's
 * encoder finds it warm); smaller ones are copied into pooled message
 * memory. */
#define TAKE_ARGS_MIN (16u << 10)
/* A call whose server has been gone this long fails TERN_EUNAVAILABLE
 * rather than waiting out its deadline. */
#define LOST_GRACE_NS 1000000000ull

static _Thread_local char last_error[256];

void tn_rpc_set_last_error(const char *why)
{
    /* Every call sets it, most often to "": no snprintf for that. */
    size_t n = why ? strnlen(why, sizeof last_error - 1) : 0;
    if (n > 0)
        memcpy(last_error, why, n);
    last_error[n] = '\0';
}

const char *tern_rpc_last_error(void)
{
    return last_error;
}

/* ---- the table of running calls ----------------------------------------- */

static size_t slot(const tern_rpc_client *c, uint64_t id)
{
    return (size_t)(id * 0x9E3779B97F4A7C15ull >> 20) & (c->table_cap - 1);
}

static tern_err table_add(tern_rpc_client *c, tern_rpc_future *f)
{
    if (c->running + 1 > c->table_cap / 2) {
        size_t cap = c->table_cap ? c->table_cap * 2 : 64;
        tern_rpc_future **t = calloc(cap, sizeof *t);
        if (t == NULL)
            return TERN_ENOMEM;
        tern_rpc_future **old = c->table;
        size_t old_cap = c->table_cap;
        c->table = t;
        c->table_cap = cap;
        for (size_t i = 0; i < old_cap; i++) {
            for (tern_rpc_future *g = old[i], *next; g; g = next) {
                next = g->next;
                size_t k = slot(c, g->call_id);
                g->next = t[k];
                t[k] = g;
            }
        }
        free(old);
    }
    size_t k = slot(c, f->call_id);
    f->next = c->table[k];
    c->table[k] = f;
    c->running++;
    return TERN_OK;
}

static tern_rpc_future *table_find(tern_rpc_client *c, uint64_t id)
{
    if (c->table_cap == 0)
        return NULL;
    for (tern_rpc_future *f = c->table[slot(c, id)]; f; f = f->next) {
        if (f->call_id == id)
            return f;
    }
    return NULL;
}

/* Lock held. Ids are taken and calls entered in the table in one step,
 * so a lower id missing from the table is a finished call. */
static uint64_t answered_below(tern_rpc_client *c, uint64_t id)
{
    while (c->answered < id && table_find(c, c->answered) == NULL)
        c->answered++;
    return c->answered;
}

/* Lock held: gives request m (not yet shared) the next call id. */
static uint64_t take_call_id(tern_rpc_client *c, tern_msg *m)
{
    uint64_t id = ++c->next_call;
    tn_rpc_hdr h;
    uint8_t *hdr = tern_msg_data(m, 0);
    tn_rpc_hdr_decode(hdr, TN_RPC_HDR_SIZE, &h);
    h.call_id = id;
    h.acked = answered_below(c, id);
    tn_rpc_hdr_encode(&h, hdr);
    return id;
}

static void table_del(tern_rpc_client *c, tern_rpc_future *f)
{
    for (tern_rpc_future **p = &c->table[slot(c, f->call_id)]; *p; p = &(*p)->next) {
        if (*p == f) {
            *p = f->next;
            f->next = NULL;
            c->running--;
            return;
        }
    }
}

/* ---- sending ------------------------------------------------------------ */

static uint64_t remaining_us(uint64_t deadline_ns)
{
    uint64_t now = tern_clock_ns();
    return deadline_ns > now ? (deadline_ns - now) / 1000u : 0;
}

static void free_msg(void *data, void *arg);

/* [header, body]. The body is copied, or shared with owner (a message
 * whose first part it is) when owner is not NULL. */
static tern_err build_request(tern_rpc_client *c, uint8_t kind, uint64_t call_id, uint32_t method,
                              uint32_t flags, uint64_t deadline_ns, uint64_t instance,
                              const void *body, size_t len, const tern_msg *owner, tern_msg **mp)
{
    tn_rpc_hdr h = {.kind = kind,
                    .flags = flags,
                    .call_id = call_id,
                    .iface = c->iface->uuid,
                    .major = c->iface->major,
                    .minor = c->iface->minor,
                    .method = method,
                    .deadline_us = deadline_ns ? remaining_us(deadline_ns) : 0,
                    .instance = instance};
    uint8_t hdr[TN_RPC_HDR_SIZE];
    tn_rpc_hdr_encode(&h, hdr);
    tern_msg *m;
    tern_err err = tern_msg_new(&m);
    if (err == TERN_OK)
        err = tern_msg_append(m, hdr, sizeof hdr);
    if (err == TERN_OK && owner && len > 0) {
        tern_msg *ref;
        err = tern_msg_dup(owner, &ref);
        if (err == TERN_OK) {
            err = tern_msg_append_ref(m, (void *)body, len, free_msg, ref);
            if (err != TERN_OK)
                tern_msg_free(ref);
        }
    } else if (err == TERN_OK) {
        err = tern_msg_append(m, body, len);
    }
    if (err != TERN_OK) {
        tern_msg_free(m);
        return err;
    }
    *mp = m;
    return TERN_OK;
}

static void free_msg(void *data, void *arg)
{
    (void)data;
    tern_msg_free(arg);
}

static void give_block(void *data, void *cap)
{
    tn_xdr_block_give(data, (size_t)(uintptr_t)cap);
}

/* Sends a copy of request m (kept by the caller) with extra header flags
 * and the time left until deadline_ns, waiting for a connected server at
 * most until then (or not at all with TERN_DONTWAIT in how). */
static tern_err send_copy(tern_rpc_client *c, const tern_msg *m, uint32_t extra_flags,
                          uint64_t deadline_ns, int how)
{
    tn_rpc_hdr h;
    tern_err err = tn_rpc_hdr_decode(tern_msg_data(m, 0), tern_msg_size(m, 0), &h);
    if (err != TERN_OK)
        return err;
    h.flags |= extra_flags;
    h.deadline_us = deadline_ns ? remaining_us(deadline_ns) : 0;
    h.instance = c->instance;
    uint8_t hdr[TN_RPC_HDR_SIZE];
    tn_rpc_hdr_encode(&h, hdr);
    tern_msg *body, *out;
    err = tern_msg_dup(m, &body);
    if (err != TERN_OK)
        return err;
    err = tern_msg_new(&out);
    if (err == TERN_OK)
        err = tern_msg_append(out, hdr, sizeof hdr);
    if (err == TERN_OK) {
        /* The body is shared, not copied: the new part holds the old
         * message until it is written. */
        err = tern_msg_append_ref(out, tern_msg_data(body, 1), tern_msg_size(body, 1), free_msg,
                                  body);
        if (err != TERN_OK)
            tern_msg_free(body);
    } else {
        tern_msg_free(body);
    }
    if (err != TERN_OK) {
        tern_msg_free(out);
        return err;
    }
    int64_t ms = deadline_ns ? (int64_t)(remaining_us(deadline_ns) / 1000u) : 0;
    if (ms == 0)
        how |= TERN_DONTWAIT;
    if (!(how & TERN_DONTWAIT)) {
        pthread_mutex_lock(&c->send_lock);
        tern_setopt_int(c->sock, TERN_OPT_SNDTIMEO, ms);
        err = tern_msg_send(c->sock, out, how);
        pthread_mutex_unlock(&c->send_lock);
    } else {
        err = tern_msg_send(c->sock, out, how);
    }
    if (err != TERN_OK)
        tern_msg_free(out);
    if (err == TERN_ETIMEDOUT || (err == TERN_EAGAIN && !(how & TERN_DONTWAIT)))
        err = TERN_EUNAVAILABLE;
    return err;
}

/* Sends a request just built (its header is fresh), keeping m. */
static tern_err send_fresh(tern_rpc_client *c, tern_socket sock, tern_msg *dup,
                           uint64_t deadline_ns)
{
    /* Nearly always the socket takes it at once: no timeout to set, no lock. */
    tern_err err = tern_msg_send(sock, dup, TERN_DONTWAIT);
    int64_t ms = (int64_t)(remaining_us(deadline_ns) / 1000u);
    if (err == TERN_EAGAIN && ms > 0) {
        /* No server yet, or it is behind: wait up to the deadline. The send
         * timeout is the socket's, so it is set and used as one step, and
         * concurrent calls do not wait by each other's deadlines. */
        pthread_mutex_lock(&c->send_lock);
        tern_setopt_int(sock, TERN_OPT_SNDTIMEO, ms);
        err = tern_msg_send(sock, dup, 0);
        pthread_mutex_unlock(&c->send_lock);
    }
    if (err != TERN_OK)
        tern_msg_free(dup);
    if (err == TERN_ETIMEDOUT || err == TERN_EAGAIN || err == TERN_ECLOSED)
        err = TERN_EUNAVAILABLE;
    return err;
}

/* ---- finishing calls ---------------------------------------------------- */

void tn_rpc_finish(tern_rpc_client *c, tern_rpc_future *f, tern_err status, const char *why)
{
    if (f->done)
        return;
    table_del(c, f);
    f->done = true;
    f->status = status;
    if (why && *why)
        f->error = strdup(why);
    tern_msg_free(f->request);
    f->request = NULL;
    if (status == TERN_EUNAVAILABLE && c->resolved)
        c->rebind = true; /* ask the directory again before the next call */
    if (status != TERN_OK)
        tn_trace(TERN_TRACE_RPC, "call %llu of %s.%s: %s%s%s", (unsigned long long)f->call_id,
                 c->iface->name,
                 f->method < c->iface->nmethods ? c->iface->methods[f->method].name : "?",
                 tern_errname(status), why ? ": " : "", why ? why : "");
    if (f->done_fn) {
        f->next = c->callbacks;
        c->callbacks = f;
    }
    pthread_cond_broadcast(&c->cond);
}

void tn_rpc_client_unlock(tern_rpc_client *c)
{
    tern_rpc_future *due = c->callbacks;
    c->callbacks = NULL;
    pthread_mutex_unlock(&c->lock);
    while (due) {
        tern_rpc_future *next = due->next;
        due->next = NULL;
        due->done_fn(due, due->done_arg); /* may free due */
        due = next;
    }
}

void tn_rpc_forget(tern_rpc_client *c, tern_rpc_future *f, bool tell_server)
{
    if (!f->done && tell_server) {
        tern_msg *m;
        if (build_request(c, TN_RPC_CANCEL, f->call_id, f->method, 0, 0, c->instance, NULL, 0, NULL,
                          &m) == TERN_OK &&
            tern_msg_send(c->sock, m, TERN_DONTWAIT) != TERN_OK)
            tern_msg_free(m);
    }
    if (!f->done)
        table_del(c, f);
}

/* ---- receiving ---------------------------------------------------------- */

/* Decodes the error text a failed reply carries (XDR string). */
static void reply_error(const tern_msg *m, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (tern_msg_parts(m) < 2)
        return;
    tern_xdr_dec d;
    tern_xdr_dec_init(&d, tern_msg_data(m, 1), tern_msg_size(m, 1));
    char *text = NULL;
    if (tern_xdr_get_string(&d, &text, (uint32_t)cap - 1) == TERN_OK) {
        /* The server's words end up in logs and terminals: no control bytes. */
        size_t i = 0;
        for (; text[i]; i++)
            buf[i] = (unsigned char)text[i] < 0x20 && text[i] != '\t' ? '?' : text[i];
        buf[i] = '\0';
    }
    free(text);
}

/* Handles one message from the server (lock held); takes m. */
static void handle_reply(tern_rpc_client *c, tern_msg *m)
{
    tn_rpc_hdr h;
    size_t parts = tern_msg_parts(m);
    if (parts < 2 || tn_rpc_hdr_decode(tern_msg_data(m, 0), tern_msg_size(m, 0), &h) != TERN_OK ||
        (parts > 2 && !(h.kind == TN_RPC_REPLY && (h.flags & TN_RPC_F_OOL)))) {
        tn_trace(TERN_TRACE_RPC, "client %s: malformed reply dropped", c->endpoint);
        tern_msg_free(m);
        return;
    }
    tern_rpc_future *f = table_find(c, h.call_id);
    if (f == NULL) {
        /* A reply to a call already given up (timed out, cancelled, or
         * answered by an earlier copy). */
        tern_msg_free(m);
        return;
    }
    if (h.kind == TN_RPC_ACCEPT) {
        f->accepted = true;
        pthread_cond_broadcast(&c->cond);
        tern_msg_free(m);
        return;
    }
    if (h.kind != TN_RPC_REPLY) {
        tern_msg_free(m);
        return;
    }
    tern_err status = tn_rpc_status_from_wire(h.method);
    if (status == TERN_OK) {
        f->reply = m;
        f->accepted = true;
        tn_rpc_finish(c, f, TERN_OK, NULL);
        return;
    }
    char why[512];
    reply_error(m, why, sizeof why);
    tern_msg_free(m);
    tn_rpc_finish(c, f, status, why[0] ? why : NULL);
}

/* Deadlines and resends of running calls (lock held); sends never wait
 * here. After a lost connection every call is sent again once the DEALER
 * reconnects: the server's reply cache answers calls that already ran, and
 * a restarted server (another instance) refuses them, so none runs twice.
 * An idempotent call is also resent when no reply came in its share of the
 * deadline. Returns the earliest time something is due. */
static uint64_t check_calls(tern_rpc_client *c, uint64_t now, bool lost_connection)
{
    uint64_t next = 0;
    for (size_t i = 0; i < c->table_cap; i++) {
        for (tern_rpc_future *f = c->table[i], *nxt; f; f = nxt) {
            nxt = f->next;
            if (now >= f->deadline_ns) {
                tn_rpc_finish(c, f, TERN_ETIMEDOUT, "deadline passed before a reply came");
                continue;
            }
            if (c->lost_since_ns && now - c->lost_since_ns > LOST_GRACE_NS) {
                tn_rpc_finish(c, f, TERN_EUNAVAILABLE,
                              "connection to the server lost during the call");
                continue;
            }
            if (lost_connection)
                f->resend = true;
            if (f->resend_ns && now >= f->resend_ns && f->attempts_left > 0) {
                f->attempts_left--;
                f->resend = true;
                uint64_t span = (f->deadline_ns - now) / (uint64_t)(f->attempts_left + 1);
                f->resend_ns = f->attempts_left > 0 ? now + span : 0;
            }
            if (f->resend && send_copy(c, f->request, TN_RPC_F_RETRY, f->deadline_ns,
                                       TERN_DONTWAIT) == TERN_OK) {
                f->resend = false;
                tn_trace(TERN_TRACE_RPC, "call %llu sent again", (unsigned long long)f->call_id);
            }
            uint64_t due =
                f->resend_ns && f->resend_ns < f->deadline_ns ? f->resend_ns : f->deadline_ns;
            if (f->resend && now + SLICE_NS < due)
                due = now + SLICE_NS;
            if (next == 0 || due < next)
                next = due;
        }
    }
    return next;
}

/* Whether the connection dropped since last asked; also tracks how long
 * the client has been without a server. */
static bool connection_lost(tern_rpc_client *c)
{
    tern_sock_stats st;
    if (tern_socket_stats(c->sock, &st) != TERN_OK)
        return false;
    bool lost = st.disconnects != c->disconnects;
    c->disconnects = st.disconnects;
    if (st.peers > 0)
        c->lost_since_ns = 0;
    else if (c->lost_since_ns == 0)
        c->lost_since_ns = tern_clock_ns();
    return lost;
}

/* One turn as the reader: receive for up to until_ns (lock dropped while
 * blocked). */
static void read_once(tern_rpc_client *c, uint64_t until_ns)
{
    uint64_t now = tern_clock_ns();
    uint64_t wait = until_ns > now ? until_ns - now : 0;
    if (wait > SLICE_NS)
        wait = SLICE_NS;
    c->reading = true;
    tern_socket sock = c->sock;
    pthread_mutex_unlock(&c->lock);
    /* Only the reader sets this, and it is nearly always the same slice:
     * set it when it changes, not once per reply. */
    int64_t ms = (int64_t)((wait + 999999u) / 1000000u);
    if (ms != c->rcvtimeo_ms) {
        tern_setopt_int(sock, TERN_OPT_RCVTIMEO, ms);
        c->rcvtimeo_ms = ms;
    }
    tern_msg *m = NULL;
    tern_err err = tern_msg_recv(sock, &m, wait ? 0 : TERN_DONTWAIT);
    pthread_mutex_lock(&c->lock);
    if (err == TERN_OK) {
        handle_reply(c, m);
        /* Take whatever else already arrived without sleeping again. */
        while (tern_msg_recv(sock, &m, TERN_DONTWAIT) == TERN_OK)
            handle_reply(c, m);
    } else {
        bool lost = connection_lost(c); /* before now: it may set lost_since_ns */
        check_calls(c, tern_clock_ns(), lost);
    }
    c->reading = false;
    pthread_cond_broadcast(&c->cond);
}

void tn_rpc_client_wait(tern_rpc_client *c, tern_rpc_future *f, bool want_accept, uint64_t until_ns)
{
    bool looked = false;
    for (;;) {
        if (f->done || (want_accept && f->accepted))
            return;
        uint64_t now = tern_clock_ns();
        if (now >= f->deadline_ns) {
            tn_rpc_finish(c, f, TERN_ETIMEDOUT, "deadline passed before a reply came");
            return;
        }
        if (until_ns && now >= until_ns) {
            /* Out of time, but a poll still takes what already arrived. */
            if (looked || c->reading)
                return;
            looked = true;
            read_once(c, 0);
            continue;
        }
        uint64_t limit = f->deadline_ns;
        if (until_ns && until_ns < limit)
            limit = until_ns;
        if (f->resend_ns && f->resend_ns < limit)
            limit = f->resend_ns;
        if (c->closing) {
            tn_rpc_finish(c, f, TERN_ECANCELED, "client closed");
            return;
        }
        if (!c->reading) {
            looked = true;
            read_once(c, limit);
            if (f->resend_ns && tern_clock_ns() >= f->resend_ns)
                check_calls(c, tern_clock_ns(), false);
        } else {
            uint64_t t = limit;
            if (t > now + SLICE_NS)
                t = now + SLICE_NS;
            tn_cond_wait_until(&c->cond, &c->lock, t);
        }
    }
}

static void *background(void *arg)
{
    tern_rpc_client *c = arg;
    pthread_mutex_lock(&c->lock);
    while (!c->closing) {
        uint64_t now = tern_clock_ns();
        uint64_t next = check_calls(c, now, false);
        if (c->running == 0 || c->reading) {
            uint64_t t = now + 100000000ull;
            if (next && next < t)
                t = next;
            tn_cond_wait_until(&c->cond, &c->lock, t);
        } else {
            read_once(c, next ? next : now + SLICE_NS);
        }
        if (c->callbacks) {
            tn_rpc_client_unlock(c);
            pthread_mutex_lock(&c->lock);
        }
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

tern_err tn_rpc_client_background(tern_rpc_client *c)
{
    if (c->bg_started)
        return TERN_OK;
    if (pthread_create(&c->bg, NULL, background, c) != 0)
        return TERN_ESYSTEM;
    c->bg_started = true;
    return TERN_OK;
}

/* ---- calls -------------------------------------------------------------- */

/* Where a client is bound: its DEALER, the endpoint and the server instance. */
typedef struct binding {
    tern_socket sock;
    char endpoint[256];
    uint64_t instance;
} binding;

static tern_err connect_to(tern_rpc_client *c, uint64_t deadline_ns, binding *b, char *why,
                           size_t cap);

/* Makes b the client's binding (lock held) and returns the old socket. */
static tern_socket adopt(tern_rpc_client *c, const binding *b)
{
    tern_socket old = c->sock;
    c->sock = b->sock;
    memcpy(c->endpoint, b->endpoint, sizeof c->endpoint);
    c->instance = b->instance;
    c->rcvtimeo_ms = -2; /* the new socket's is not ours yet */
    tern_sock_stats st;
    c->disconnects = tern_socket_stats(c->sock, &st) == TERN_OK ? st.disconnects : 0;
    c->lost_since_ns = 0;
    return old;
}

/* A client bound through the directory whose server went away asks the
 * directory again and binds to whichever server it names now. Called with
 * the lock held, no call running and nobody reading; the lock is dropped
 * while it talks to the directory and the server, so other threads are not
 * held up (their calls go to the old binding meanwhile, and fail). */
static void rebind(tern_rpc_client *c)
{
    c->rebind = false;
    c->rebinding = true;
    pthread_mutex_unlock(&c->lock);
    char why[256] = "";
    binding b;
    uint64_t deadline = tern_clock_ns() + tn_rpc_ms_to_ns(c->bind_timeout_ms);
    tern_err err = connect_to(c, deadline, &b, why, sizeof why);
    pthread_mutex_lock(&c->lock);
    c->rebinding = false;
    pthread_cond_broadcast(&c->cond); /* close may be waiting for this */
    if (err != TERN_OK || c->closing) {
        if (err == TERN_OK)
            tern_socket_close(b.sock);
        tn_trace(TERN_TRACE_RPC, "re-resolving %s: %s", c->target, why);
        c->rebind = err != TERN_OK; /* try again at the next call */
        return;
    }
    tern_socket old = adopt(c, &b);
    pthread_mutex_unlock(&c->lock);
    tern_socket_close(old);
    tn_trace(TERN_TRACE_RPC, "%s now bound to %s", c->target, b.endpoint);
    pthread_mutex_lock(&c->lock);
}

static uint64_t call_deadline(const tern_rpc_client *c, const tern_rpc_opts *o)
{
    int64_t ms = o && o->timeout_ms > 0 ? o->timeout_ms : c->timeout_ms;
    return tern_clock_ns() + tn_rpc_ms_to_ns(ms);
}

tern_err tern_rpc_start(tern_rpc_client *c, uint32_t method, const tern_rpc_opts *o,
                        tern_xdr_enc *args, tern_rpc_future **fp)
{
    if (c == NULL || fp == NULL)
        return TERN_EINVAL;
    *fp = NULL;
    if (args && args->err != TERN_OK)
        return args->err;
    if (args == NULL || !args->owned || args->len < TAKE_ARGS_MIN)
        return tn_rpc_start_body(c, method, o, args ? args->buf : NULL, args ? args->len : 0, NULL,
                                 fp);
    /* Large arguments on the heap travel without a copy: the request takes
     * the encoder's buffer. */
    size_t len, cap;
    void *p = tn_xdr_enc_take_block(args, &len, &cap);
    tern_msg *owner;
    tern_err err = tern_msg_new(&owner);
    if (err == TERN_OK)
        err = tern_msg_append_ref(owner, p, len, give_block, (void *)(uintptr_t)cap);
    if (err != TERN_OK) {
        tern_msg_free(owner);
        tn_xdr_block_give(p, cap);
        return err;
    }
    err = tn_rpc_start_body(c, method, o, p, len, owner, fp);
    tern_msg_free(owner);
    return err;
}

tern_err tn_rpc_start_body(tern_rpc_client *c, uint32_t method, const tern_rpc_opts *o,
                           const void *body, size_t body_len, const tern_msg *owner,
                           tern_rpc_future **fp)
{
    *fp = NULL;
    if (method >= c->iface->nmethods)
        return TERN_ENOMETHOD;
    uint32_t mflags = c->iface->methods[method].flags;
    uint32_t flags = 0;
    if (mflags & TERN_RPC_ONEWAY)
        flags |= TN_RPC_F_ONEWAY;
    if (mflags & TERN_RPC_IDEMPOTENT)
        flags |= TN_RPC_F_IDEMPOTENT;
    bool want_accept = o && (o->flags & TERN_RPC_WAIT_ACCEPTED) && !(flags & TN_RPC_F_ONEWAY);
    if (want_accept)
        flags |= TN_RPC_F_ACCEPT;
    uint64_t deadline = call_deadline(c, o);

    pthread_mutex_lock(&c->lock);
    if (c->closing) {
        pthread_mutex_unlock(&c->lock);
        return TERN_ECANCELED;
    }
    if (c->rebind && c->running == 0 && !c->reading && !c->rebinding)
        rebind(c);
    uint64_t instance = c->instance;
    tern_socket sock = c->sock;
    pthread_mutex_unlock(&c->lock);

    /* The call id comes later, with the table entry. */
    tern_msg *m;
    tern_err err = build_request(c, TN_RPC_CALL, 0, method, flags, deadline, instance, body,
                                 body_len, owner, &m);
    if (err != TERN_OK)
        return err;
    if (flags & TN_RPC_F_ONEWAY) {
        pthread_mutex_lock(&c->lock);
        take_call_id(c, m);
        pthread_mutex_unlock(&c->lock);
        err = send_fresh(c, sock, m, deadline);
        if (err != TERN_OK)
            tn_rpc_set_last_error("no server took the one-way call before its deadline");
        return err;
    }
    tern_rpc_future *f = calloc(1, sizeof *f);
    if (f == NULL) {
        tern_msg_free(m);
        return TERN_ENOMEM;
    }
    f->client = c;
    f->method = method;
    f->flags = flags;
    f->deadline_ns = deadline;
    f->request = m;
    if (flags & TN_RPC_F_IDEMPOTENT) {
        f->attempts_left = c->retries;
        if (c->retries > 0)
            f->resend_ns =
                tern_clock_ns() + (deadline - tern_clock_ns()) / (uint64_t)(c->retries + 1);
    }
    tern_msg *dup;
    pthread_mutex_lock(&c->lock);
    f->call_id = take_call_id(c, m);
    err = tern_msg_dup(m, &dup);
    if (err == TERN_OK)
        err = table_add(c, f);
    else
        dup = NULL;
    if (err == TERN_OK) {
        c->refs++; /* the future's */
        /* Registered before sending: the reply can come back at once. The
         * copy sent was taken before unlocking: once registered, f may be
         * finished (and its request freed) by a reader. */
        pthread_mutex_unlock(&c->lock);
        err = send_fresh(c, sock, dup, deadline);
        dup = NULL;
        pthread_mutex_lock(&c->lock);
        if (err != TERN_OK) {
            if (!f->done)
                tn_rpc_finish(c, f, err, "no server took the call before its deadline");
            err = TERN_OK; /* the future carries the status */
        } else if (want_accept) {
            tn_rpc_client_wait(c, f, true, 0);
        }
    }
    tn_rpc_client_unlock(c);
    if (err != TERN_OK) {
        tern_msg_free(dup);
        tern_msg_free(m);
        free(f);
        return err;
    }
    *fp = f;
    return TERN_OK;
}

tern_err tern_rpc_invoke(tern_rpc_client *c, uint32_t method, const tern_rpc_opts *o,
                         tern_xdr_enc *args, tern_rpc_future **fp, tern_xdr_dec *d)
{
    tern_err err = tern_rpc_start(c, method, o, args, fp);
    if (err != TERN_OK) {
        if (err != TERN_EUNAVAILABLE)
            tn_rpc_set_last_error(tern_strerror(err));
        return err;
    }
    if (*fp == NULL) { /* oneway */
        tn_rpc_set_last_error("");
        if (d)
            tern_xdr_dec_init(d, NULL, 0);
        return TERN_OK;
    }
    err = tern_rpc_future_wait(*fp, -1);
    tn_rpc_set_last_error(tern_rpc_future_error(*fp));
    if (err == TERN_OK && d)
        err = tern_rpc_future_reply(*fp, d);
    return err;
}

/* ---- binding ------------------------------------------------------------ */

/* Asks the server at b whether it offers the interface (BIND), waiting up
 * to deadline_ns; sets b->instance. b->sock is the caller's alone. */
static tern_err bind_check(tern_rpc_client *c, binding *b, uint64_t deadline_ns, char *why,
                           size_t cap)
{
    tern_msg *m;
    tern_err err = build_request(c, TN_RPC_BIND, 0, 0, 0, deadline_ns, 0, NULL, 0, NULL, &m);
    if (err != TERN_OK)
        return err;
    tern_setopt_int(b->sock, TERN_OPT_SNDTIMEO, (int64_t)(remaining_us(deadline_ns) / 1000u));
    err = tern_msg_send(b->sock, m, 0);
    if (err != TERN_OK) {
        tern_msg_free(m);
        snprintf(why, cap, "no server answered at %.200s", b->endpoint);
        return TERN_EUNAVAILABLE;
    }
    for (;;) {
        uint64_t left = remaining_us(deadline_ns);
        if (left == 0) {
            snprintf(why, cap, "server at %.200s did not answer the bind in time", b->endpoint);
            return TERN_EUNAVAILABLE;
        }
        tern_setopt_int(b->sock, TERN_OPT_RCVTIMEO, (int64_t)(left / 1000u) + 1);
        tern_msg *r;
        err = tern_msg_recv(b->sock, &r, 0);
        if (err == TERN_ETIMEDOUT)
            continue;
        if (err != TERN_OK)
            return err;
        tn_rpc_hdr h;
        if (tern_msg_parts(r) == 2 &&
            tn_rpc_hdr_decode(tern_msg_data(r, 0), tern_msg_size(r, 0), &h) == TERN_OK &&
            h.kind == TN_RPC_BIND_REPLY && h.call_id == 0) {
            err = tn_rpc_status_from_wire(h.method);
            if (err != TERN_OK)
                reply_error(r, why, cap);
            else
                b->instance = h.instance;
            tern_msg_free(r);
            return err;
        }
        tern_msg_free(r);
    }
}

static tern_err open_socket(tern_rpc_client *c, binding *b)
{
    tern_err err = tern_socket_open(c->ctx, TERN_DEALER, &b->sock);
    if (err != TERN_OK)
        return err;
    tern_setopt_bytes(b->sock, TERN_OPT_ROUTING_ID, c->id, sizeof c->id);
    tern_setopt_int(b->sock, TERN_OPT_RCVHWM, CLIENT_HWM);
    tern_setopt_int(b->sock, TERN_OPT_SNDHWM, CLIENT_HWM);
    tern_setopt_int(b->sock, TERN_OPT_LINGER, 0);
    tern_setopt_int(b->sock, TERN_OPT_BUSY_POLL, CLIENT_BUSY_POLL_US);
    tern_setopt_int(b->sock, TERN_OPT_RECONNECT_IVL, 50);
    tern_setopt_int(b->sock, TERN_OPT_RECONNECT_IVL_MAX, 1000);
    /* A silent server is noticed within seconds, not at the next call. */
    tern_setopt_int(b->sock, TERN_OPT_HEARTBEAT_IVL, 1000);
    tern_setopt_int(b->sock, TERN_OPT_HEARTBEAT_TIMEOUT, 3000);
    err = tern_connect(b->sock, b->endpoint);
    if (err != TERN_OK)
        tern_socket_close(b->sock);
    return err;
}

/* Resolves the target if it is a directory name, opens a DEALER to the
 * server and binds, filling b. Touches nothing of c that can change. */
static tern_err connect_to(tern_rpc_client *c, uint64_t deadline_ns, binding *b, char *why,
                           size_t cap)
{
    memset(b, 0, sizeof *b);
    tern_err err = TERN_OK;
    if (c->resolved) {
        size_t n;
        err = tn_rpc_resolve(c->ctx, c->target, c->iface, &b->endpoint, 1, &n, why, cap);
    } else {
        snprintf(b->endpoint, sizeof b->endpoint, "%s", c->target);
    }
    if (err == TERN_OK)
        err = open_socket(c, b);
    if (err != TERN_OK)
        return err;
    err = bind_check(c, b, deadline_ns, why, cap);
    if (err != TERN_OK)
        tern_socket_close(b->sock);
    return err;
}

tern_err tern_rpc_client_open(tern_ctx *ctx, const char *target, const tern_rpc_iface *iface,
                              const tern_rpc_client_opts *o, tern_rpc_client **cp)
{
    if (ctx == NULL || target == NULL || iface == NULL || cp == NULL || strlen(target) >= 256)
        return TERN_EINVAL;
    *cp = NULL;
    tern_rpc_client *c = calloc(1, sizeof *c);
    if (c == NULL)
        return TERN_ENOMEM;
    c->ctx = ctx;
    c->iface = iface;
    snprintf(c->target, sizeof c->target, "%s", target);
    c->timeout_ms = o && o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
    c->bind_timeout_ms = o && o->bind_timeout_ms > 0 ? o->bind_timeout_ms : c->timeout_ms;
    c->retries = !o || o->retries == 0 ? DEFAULT_RETRIES : o->retries < 0 ? 0 : o->retries;
    if (getrandom(c->id, sizeof c->id, 0) != (ssize_t)sizeof c->id) {
        free(c);
        return TERN_ESYSTEM;
    }
    c->id[0] |= 0x80; /* ids starting with 0 are the ones a ROUTER makes up */
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->send_lock, NULL);
    c->refs = 1;
    tn_cond_init(&c->cond);

    uint64_t deadline = tern_clock_ns() + tn_rpc_ms_to_ns(c->bind_timeout_ms);
    char why[256] = "";
    c->resolved = strncmp(target, "tern://", 7) == 0;
    binding b;
    tern_err err = connect_to(c, deadline, &b, why, sizeof why);
    if (err == TERN_OK)
        adopt(c, &b);
    if (err != TERN_OK) {
        if (why[0] == '\0')
            snprintf(why, sizeof why, "cannot bind %s at %s: %s", iface->name, target,
                     tern_strerror(err));
        tn_rpc_set_last_error(why);
        tn_trace(TERN_TRACE_RPC, "%s", why);
        tern_rpc_client_close(c);
        return err;
    }
    tn_rpc_set_last_error("");
    *cp = c;
    return TERN_OK;
}

/* Frees the client once the last of its handle and futures lets go. */
void tn_rpc_client_unref(tern_rpc_client *c)
{
    pthread_mutex_lock(&c->lock);
    bool last = --c->refs == 0;
    pthread_mutex_unlock(&c->lock);
    if (!last)
        return;
    free(c->table);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->send_lock);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

void tern_rpc_client_close(tern_rpc_client *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    c->closing = true;
    pthread_cond_broadcast(&c->cond);
    while (c->reading || c->rebinding)
        pthread_cond_wait(&c->cond, &c->lock);
    for (size_t i = 0; i < c->table_cap; i++) {
        while (c->table[i])
            tn_rpc_finish(c, c->table[i], TERN_ECANCELED, "client closed");
    }
    tn_rpc_client_unlock(c);
    if (c->bg_started)
        pthread_join(c->bg, NULL);
    pthread_mutex_lock(&c->lock);
    tern_socket sock = c->sock;
    c->sock.id = 0;
    pthread_mutex_unlock(&c->lock);
    if (sock.id)
        tern_socket_close(sock);
    /* Futures still held keep the memory (not the socket) until freed. */
    tn_rpc_client_unref(c);
}

tern_err tern_rpc_client_endpoint(tern_rpc_client *c, char *buf, size_t cap)
{
    if (c == NULL || buf == NULL || cap == 0)
        return TERN_EINVAL;
    tern_err err = TERN_OK;
    pthread_mutex_lock(&c->lock);
    if (strlen(c->endpoint) >= cap)
        err = TERN_EMSGSIZE;
    else
        strcpy(buf, c->endpoint);
    pthread_mutex_unlock(&c->lock);
    return err;
}
