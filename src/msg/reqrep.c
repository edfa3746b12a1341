/* REQ and REP: requests and replies carried in ZMTP envelopes.
 *
 * On the wire a request is [routing ids...][empty delimiter][body...]. REQ
 * adds the delimiter (and, when correlating, a 4-byte request id ahead of
 * it); every hop that routes (ROUTER) pushes a routing id; REP keeps all
 * of that as the request's envelope and puts it back on the reply, so the
 * reply retraces the path. The application sees only the body. */
#include <string.h>

#include "base/endian.h"
#include "base/trace.h"
#include "msg/sock.h"

#define BIT(t) (1u << (t))
/* How long a blocked REQ or REP receive polls before it sleeps. */
#ifndef REQREP_SPIN_US
#define REQREP_SPIN_US 50
#endif

/* ---- REQ --------------------------------------------------------------- */

static int correlated(const tn_sock *s)
{
    return s->opt.req_correlate || s->opt.req_relaxed || s->opt.req_resend_ivl > 0;
}

static void req_forget(tn_sock *s)
{
    s->rr.waiting = 0;
    s->rr.pipe = NULL;
    s->rr.lost = 0;
    tern_msg_free(s->rr.copy);
    s->rr.copy = NULL;
}

/* Wraps m in REQ's envelope and hands it to p; on error m is unchanged. */
static tern_err req_put(tn_sock *s, tn_pipe *p, tern_msg *m)
{
    tern_err err = tn_msg_push_front(m, NULL, 0);
    if (err != TERN_OK)
        return err;
    if (correlated(s)) {
        uint8_t id[4];
        tn_put_be32(id, s->rr.id);
        err = tn_msg_push_front(m, id, sizeof(id));
        if (err != TERN_OK) {
            tn_msg_move_front(m, 1, NULL);
            return err;
        }
    }
    tn_pipe_put(p, m);
    return TERN_OK;
}

static tern_err req_send(tn_sock *s, tern_msg *m)
{
    if (s->rr.waiting && !s->opt.req_relaxed)
        return TERN_ESTATE;
    /* Whatever is queued now answers no request of ours (a duplicate, or
     * the reply to one abandoned): it must not pass for the next reply.
     * First, since popping may unlink (and free) a dead pipe. */
    tern_msg *stale;
    tn_pipe *from;
    while ((from = tn_sock_pop(s, &stale)) != NULL) {
        tn_sock_drop(s, from, "stale reply discarded by a new request");
        tern_msg_free(stale);
    }
    tn_pipe *p = tn_sock_next_writable(s);
    if (p == NULL)
        return TERN_EAGAIN;
    tern_msg *copy = NULL;
    if (s->opt.req_resend_ivl > 0 && tern_msg_dup(m, &copy) != TERN_OK)
        return TERN_ENOMEM;
    uint32_t old_id = s->rr.id;
    s->rr.id++;
    tern_err err = req_put(s, p, m);
    if (err != TERN_OK) {
        s->rr.id = old_id;
        tern_msg_free(copy);
        return err;
    }
    if (s->rr.waiting)
        tn_trace(TERN_TRACE_MSG, "socket %u (REQ): request %u abandoned unanswered", s->id, old_id);
    req_forget(s);
    s->rr.waiting = 1;
    s->rr.pipe = p;
    s->rr.copy = copy;
    s->rr.resend_at = tern_clock_ns() + (uint64_t)s->opt.req_resend_ivl * 1000000u;
    return TERN_OK;
}

static tern_err req_send_bytes(tn_sock *s, const void *data, size_t len)
{
    tern_msg *m;
    if (tern_msg_alloc(&m, len) != TERN_OK)
        return TERN_ENOMEM;
    if (len)
        memcpy(tern_msg_data(m, 0), data, len);
    tern_err err = req_send(s, m);
    if (err != TERN_OK)
        tern_msg_free(m);
    return err;
}

/* How many leading frames are REQ's envelope on a reply to the current
 * request, or 0 if m is not such a reply. */
static size_t req_envelope(const tn_sock *s, const tern_msg *m)
{
    if (!correlated(s))
        return m->nparts >= 2 && m->parts[0].size == 0 ? 1 : 0;
    if (m->nparts < 3 || m->parts[0].size != 4 || m->parts[1].size != 0)
        return 0;
    return tn_get_be32(m->parts[0].data) == s->rr.id ? 2 : 0;
}

/* Lazy-pirate resend of the current request to the next peer in turn. */
static void req_resend(tn_sock *s)
{
    tn_pipe *p = tn_sock_next_writable(s);
    tern_msg *m;
    if (p == NULL || tern_msg_dup(s->rr.copy, &m) != TERN_OK)
        return;
    if (req_put(s, p, m) != TERN_OK) {
        tern_msg_free(m);
        return;
    }
    tn_trace(TERN_TRACE_MSG, "socket %u (REQ): request %u resent to %s", s->id, s->rr.id, p->peer);
    s->rr.pipe = p;
    s->rr.lost = 0;
}

static int req_pipe_gone(const tn_sock *s)
{
    const tn_pipe *p = s->rr.pipe;
    return s->rr.lost || (p != NULL && atomic_load(&p->dead) && tn_ring_empty(p->in));
}

/* Resends the request if it is due; tells a waiting caller when to look
 * again. Under s->lock, from receive and from poll alike. */
static void req_resend_due(tn_sock *s)
{
    uint64_t now = tern_clock_ns();
    if (now >= s->rr.resend_at || req_pipe_gone(s)) {
        req_resend(s);
        s->rr.resend_at = now + (uint64_t)s->opt.req_resend_ivl * 1000000u;
    }
    s->wake_at = s->rr.resend_at;
}

static tern_err req_recv(tn_sock *s, tern_msg **mp)
{
    if (!s->rr.waiting)
        return TERN_ESTATE;
    tern_msg *m;
    tn_pipe *p;
    while ((p = tn_sock_pop(s, &m)) != NULL) {
        s->last_in = p;
        size_t env = correlated(s) || p == s->rr.pipe ? req_envelope(s, m) : 0;
        if (env == 0) {
            tn_sock_drop(s, p, correlated(s) ? "not a reply to the current request"
                                             : "reply from a peer not asked, or without delimiter");
            tern_msg_free(m);
            continue;
        }
        tn_msg_move_front(m, env, NULL);
        req_forget(s);
        *mp = m;
        return TERN_OK;
    }
    s->last_in = NULL;
    if (s->opt.req_resend_ivl > 0) {
        req_resend_due(s);
        return TERN_EAGAIN;
    }
    if (req_pipe_gone(s)) {
        tn_trace(TERN_TRACE_MSG, "socket %u (REQ): the peer owing a reply went away", s->id);
        req_forget(s);
        return TERN_EHOSTUNREACH;
    }
    return TERN_EAGAIN;
}

static int req_can_send(tn_sock *s)
{
    return (!s->rr.waiting || s->opt.req_relaxed) && tn_sock_next_writable(s) != NULL;
}

static int req_can_recv(tn_sock *s)
{
    if (!s->rr.waiting)
        return 0;
    if (tn_sock_any_input(s))
        return 1;
    if (s->opt.req_resend_ivl == 0)
        return req_pipe_gone(s);
    req_resend_due(s);
    return 0;
}

static void rr_detach(tn_sock *s, tn_pipe *p)
{
    if (s->rr.pipe == p) {
        s->rr.pipe = NULL;
        s->rr.lost = 1;
    }
}

const tn_pattern tn_pattern_req = {
    .type = TERN_REQ, .name = "REQ", .peers = BIT(TERN_REP) | BIT(TERN_ROUTER), .spin_us = REQREP_SPIN_US,
    .send = req_send, .send_bytes = req_send_bytes, .recv = req_recv,
    .detach = rr_detach, .can_send = req_can_send, .can_recv = req_can_recv,
};

/* ---- REP --------------------------------------------------------------- */

static tern_err rep_recv(tn_sock *s, tern_msg **mp)
{
    if (s->rr.env != NULL)
        return TERN_ESTATE;
    tern_msg *m;
    tn_pipe *p;
    while ((p = tn_sock_pop(s, &m)) != NULL) {
        s->last_in = p;
        size_t d = 0;
        while (d < m->nparts && m->parts[d].size != 0)
            d++;
        tern_msg *env = NULL;
        if (d + 1 >= m->nparts) {
            tn_sock_drop(s, p, "request without an envelope delimiter or body");
        } else if (tern_msg_new(&env) != TERN_OK || tn_msg_move_front(m, d + 1, env) != TERN_OK) {
            tern_msg_free(env);
            tn_sock_drop(s, p, "out of memory keeping the request's envelope");
        } else {
            s->rr.env = env;
            s->rr.pipe = p;
            s->rr.lost = 0;
            *mp = m;
            return TERN_OK;
        }
        tern_msg_free(m);
    }
    s->last_in = NULL;
    return TERN_EAGAIN;
}

static tern_err rep_send(tn_sock *s, tern_msg *m)
{
    if (s->rr.env == NULL)
        return TERN_ESTATE;
    tn_pipe *p = s->rr.pipe;
    if (p == NULL || atomic_load(&p->dead)) {
        /* A server must not fail because one client left: the reply goes
         * nowhere, counted. */
        tn_sock_drop(s, p, "the requester went away before its reply");
        tern_msg_free(s->rr.env);
        s->rr.env = NULL;
        s->rr.pipe = NULL;
        tern_msg_free(m);
        return TERN_OK;
    }
    if (!p->ops->writable(p))
        return TERN_EAGAIN;
    tern_err err = tn_msg_prepend_msg(m, s->rr.env);
    if (err != TERN_OK)
        return err;
    s->rr.env = NULL;
    s->rr.pipe = NULL;
    tn_pipe_put(p, m);
    return TERN_OK;
}

static tern_err rep_send_bytes(tn_sock *s, const void *data, size_t len)
{
    if (s->rr.env == NULL)
        return TERN_ESTATE;
    tern_msg *m;
    if (tern_msg_alloc(&m, len) != TERN_OK)
        return TERN_ENOMEM;
    if (len)
        memcpy(tern_msg_data(m, 0), data, len);
    tern_err err = rep_send(s, m);
    if (err != TERN_OK)
        tern_msg_free(m);
    return err;
}

static int rep_can_send(tn_sock *s)
{
    tn_pipe *p = s->rr.pipe;
    return s->rr.env != NULL && (p == NULL || atomic_load(&p->dead) || p->ops->writable(p));
}

static int rep_can_recv(tn_sock *s)
{
    return s->rr.env == NULL && tn_sock_any_input(s);
}

const tn_pattern tn_pattern_rep = {
    .type = TERN_REP, .name = "REP", .peers = BIT(TERN_REQ) | BIT(TERN_DEALER), .spin_us = REQREP_SPIN_US,
    .send = rep_send, .send_bytes = rep_send_bytes, .recv = rep_recv,
    .detach = rr_detach, .can_send = rep_can_send, .can_recv = rep_can_recv,
};
