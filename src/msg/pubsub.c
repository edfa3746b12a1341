/* PUB, SUB, XPUB, XSUB: prefix subscriptions, filtered at the publisher.
 *
 * A subscriber tells each publisher what it wants (SUBSCRIBE/CANCEL
 * commands to ZMTP 3.1 peers, "\x01topic"/"\x00topic" messages to 3.0
 * ones; inproc applies them directly) and again to every new publisher.
 * The publisher keeps one set per subscriber (a set: subscribers count
 * their own subscriptions and cancel on the last) and sends a message only to
 * the subscribers whose set matches its first part. A subscriber at its
 * high-water mark misses the message, counted against it and in total,
 * unless the publisher is lossless, in which case the send waits. */
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "base/trace.h"
#include "msg/sock.h"
#include "msg/subs.h"

#define BIT(t) (1u << (t))

/* One subscriber may hold this many bytes of subscriptions (each topic
 * charged its length plus TOPIC_OVERHEAD): a flood ends the connection. */
#define SUBS_MAX_BYTES (16u << 20)
#define TOPIC_OVERHEAD 32
/* XPUB: subscription messages held for the application, each charged its
 * topic plus TOPIC_OVERHEAD. */
#define PEND_MAX_BYTES (64u << 20)

static int live(const tn_pipe *p)
{
    return !atomic_load_explicit(&p->dead, memory_order_relaxed);
}

static int first_part_matches(const tn_subs *subs, const tern_msg *m)
{
    return tn_subs_match(subs, m->parts[0].data, m->parts[0].size);
}

/* ---- publishers ------------------------------------------------------- */

static tern_err pub_send(tn_sock *s, tern_msg *m)
{
    if (s->opt.pub_lossless) {
        for (size_t i = 0; i < s->npipes; i++) {
            tn_pipe *p = s->pipes[i];
            if (live(p) && first_part_matches(p->subs, m) && !p->ops->writable(p))
                return TERN_EAGAIN;
        }
    }
    /* The original goes to the last subscriber, copies to the others. */
    tn_pipe *last = NULL;
    int dropped = 0;
    for (size_t i = 0; i < s->npipes; i++) {
        tn_pipe *p = s->pipes[i];
        if (!live(p) || !first_part_matches(p->subs, m))
            continue;
        if (!p->ops->writable(p)) {
            tn_sock_drop(s, p, "subscriber at its high-water mark");
            dropped = 1;
            continue;
        }
        if (last != NULL) {
            tern_msg *copy;
            if (tern_msg_dup(m, &copy) == TERN_OK)
                tn_pipe_put(last, copy);
            else
                tn_sock_drop(s, last, "out of memory copying the message");
        }
        last = p;
    }
    if (last != NULL) {
        tn_pipe_put(last, m);
    } else {
        tern_msg_free(m);
        if (dropped)
            sched_yield();
    }
    return TERN_OK;
}

static tern_err pub_send_bytes(tn_sock *s, const void *data, size_t len)
{
    if (s->opt.pub_lossless) {
        tern_msg *m;
        if (tern_msg_alloc(&m, len) != TERN_OK)
            return TERN_ENOMEM;
        if (len)
            memcpy(tern_msg_data(m, 0), data, len);
        tern_err err = pub_send(s, m);
        if (err != TERN_OK)
            tern_msg_free(m);
        return err;
    }
    int sent = 0, dropped = 0;
    for (size_t i = 0; i < s->npipes; i++) {
        tn_pipe *p = s->pipes[i];
        if (!live(p) || !tn_subs_match(p->subs, data, len))
            continue;
        tern_err err = p->ops->writable(p) ? p->ops->write_bytes(p, data, len) : TERN_EAGAIN;
        if (err == TERN_OK) {
            p->msgs_out++;
            sent = 1;
        } else {
            dropped = 1;
            tn_sock_drop(s, p, err == TERN_EAGAIN ? "subscriber at its high-water mark"
                                                  : "out of memory queueing the message");
        }
    }
    /* Every subscriber is full: never wait, but give the CPU away once, so
     * a publisher outrunning subscribers on the same machine does not
     * starve the threads that would drain them. */
    if (dropped && !sent)
        sched_yield();
    return TERN_OK;
}

static int pub_can_send(tn_sock *s)
{
    if (!s->opt.pub_lossless)
        return 1;
    for (size_t i = 0; i < s->npipes; i++) {
        tn_pipe *p = s->pipes[i];
        if (live(p) && p->subs != NULL && !p->ops->writable(p))
            return 0;
    }
    return 1;
}

/* XPUB: queues "\x01topic" or "\x00topic" for the application. */
static void xpub_pend(tn_sock *s, tn_pipe *p, int on, const uint8_t *topic, size_t len)
{
    tn_pubsub *ps = &s->ps;
    tern_msg *m = NULL;
    if (ps->pend_bytes + len + TOPIC_OVERHEAD > PEND_MAX_BYTES) {
        tn_sock_drop(s, p, "subscription messages not read by the application");
        return;
    }
    if (ps->npend == ps->cappend) {
        size_t ncap = ps->cappend ? ps->cappend * 2 : 64;
        tern_msg **np = malloc(ncap * sizeof(*np));
        if (np == NULL) {
            tn_sock_drop(s, p, "out of memory queueing a subscription");
            return;
        }
        for (size_t i = 0; i < ps->npend; i++)
            np[i] = ps->pend[(ps->pend_head + i) % ps->cappend];
        free(ps->pend);
        ps->pend = np;
        ps->cappend = ncap;
        ps->pend_head = 0;
    }
    if (tern_msg_alloc(&m, len + 1) != TERN_OK) {
        tn_sock_drop(s, p, "out of memory queueing a subscription");
        return;
    }
    uint8_t *d = tern_msg_data(m, 0);
    d[0] = (uint8_t)on;
    if (len)
        memcpy(d + 1, topic, len);
    ps->pend[(ps->pend_head + ps->npend++) % ps->cappend] = m;
    ps->pend_bytes += len + TOPIC_OVERHEAD; /* the message costs more than its topic */
    tn_sock_notify(s);
}

static tern_err pub_peer_sub(tn_sock *s, tn_pipe *p, int on, const uint8_t *topic, size_t len)
{
    int changed;
    if (on) {
        if (p->subs == NULL && (p->subs = tn_subs_new()) == NULL)
            return TERN_ENOMEM;
        size_t charged = tn_subs_bytes(p->subs) + tn_subs_count(p->subs) * TOPIC_OVERHEAD;
        if (charged + len + TOPIC_OVERHEAD > SUBS_MAX_BYTES)
            return TERN_EMSGSIZE;
        changed = tn_subs_add(p->subs, topic, len);
        if (changed < 0)
            return TERN_ENOMEM;
        /* A peer's subscriptions are a set, as libzmq keeps them: the
         * subscriber counts its own, and cancels only on its last. */
        if (changed == 0)
            tn_subs_remove(p->subs, topic, len);
    } else {
        changed = p->subs ? tn_subs_remove(p->subs, topic, len) : -1;
        if (changed < 0)
            return TERN_OK; /* cancelling what was never subscribed: nothing to do */
    }
    if (s->pat->type != TERN_XPUB)
        return TERN_OK;
    /* XPUB: the union over peers decides what the application hears. */
    int first_or_last = 0;
    if (changed == 1) {
        if (s->ps.subs == NULL && (s->ps.subs = tn_subs_new()) == NULL)
            return TERN_ENOMEM;
        first_or_last = on ? tn_subs_add(s->ps.subs, topic, len) == 1
                           : tn_subs_remove(s->ps.subs, topic, len) == 1;
    }
    if (first_or_last || s->opt.xpub_verbose)
        xpub_pend(s, p, on, topic, len);
    return TERN_OK;
}

typedef struct cancel_arg {
    tn_sock *s;
    tn_pipe *p;
} cancel_arg;

static void cancel_one(void *arg, const uint8_t *topic, size_t len)
{
    cancel_arg *c = arg;
    if (tn_subs_remove(c->s->ps.subs, topic, len) == 1)
        xpub_pend(c->s, c->p, 0, topic, len);
}

/* A subscriber left: topics nobody else wants are cancelled upstream. */
static void xpub_detach(tn_sock *s, tn_pipe *p)
{
    if (p->subs == NULL || s->ps.subs == NULL)
        return;
    cancel_arg c = {s, p};
    tn_subs_each(p->subs, cancel_one, &c);
}

static tern_err xpub_recv(tn_sock *s, tern_msg **mp)
{
    tn_pubsub *ps = &s->ps;
    if (ps->npend > 0) {
        tern_msg *m = ps->pend[ps->pend_head];
        ps->pend_head = (ps->pend_head + 1) % ps->cappend;
        ps->npend--;
        ps->pend_bytes -= m->total - 1 + TOPIC_OVERHEAD;
        s->last_in = NULL;
        *mp = m;
        return TERN_OK;
    }
    return tn_sock_recv_fq(s, mp); /* anything else an XSUB sent up */
}

static int xpub_can_recv(tn_sock *s)
{
    return s->ps.npend > 0 || tn_sock_any_input(s);
}

const tn_pattern tn_pattern_pub = {
    .type = TERN_PUB, .name = "PUB", .peers = BIT(TERN_SUB) | BIT(TERN_XSUB),
    .send = pub_send, .send_bytes = pub_send_bytes, .recv = tn_sock_refuse_recv,
    .peer_sub = pub_peer_sub, .can_send = pub_can_send,
};

const tn_pattern tn_pattern_xpub = {
    .type = TERN_XPUB, .name = "XPUB", .peers = BIT(TERN_SUB) | BIT(TERN_XSUB),
    .send = pub_send, .send_bytes = pub_send_bytes, .recv = xpub_recv,
    .detach = xpub_detach, .peer_sub = pub_peer_sub,
    .can_send = pub_can_send, .can_recv = xpub_can_recv,
};

tern_err tn_sock_peer_sub(tn_sock *s, tn_pipe *p, int on, const uint8_t *topic, size_t len)
{
    if (s->pat->peer_sub == NULL)
        return TERN_OK;
    for (size_t i = 0; i < s->npipes; i++) {
        if (s->pipes[i] == p)
            return s->pat->peer_sub(s, p, on, topic, len);
    }
    return TERN_OK; /* no longer attached */
}

/* ---- subscribers ------------------------------------------------------ */

tern_err tn_sock_subscribe(tn_sock *s, int on, const uint8_t *topic, size_t len)
{
    if (s->ps.subs == NULL && (s->ps.subs = tn_subs_new()) == NULL)
        return TERN_ENOMEM;
    int changed = on ? tn_subs_add(s->ps.subs, topic, len) : tn_subs_remove(s->ps.subs, topic, len);
    if (changed < 0)
        return on ? TERN_ENOMEM : TERN_ENOENT;
    /* Every subscribe goes up (a verbose XPUB upstream sees each, as with
     * libzmq); a cancel only when the last count went. */
    if (!on && changed == 0)
        return TERN_OK;
    for (size_t i = 0; i < s->npipes; i++) {
        tn_pipe *p = s->pipes[i];
        if (live(p) && p->ops->subscribe(p, on, topic, len) != TERN_OK)
            tn_trace(TERN_TRACE_MSG, "socket %u (%s): cannot tell %s of a subscription", s->id,
                     s->pat->name, p->peer);
    }
    return TERN_OK;
}

static void send_one(void *arg, const uint8_t *topic, size_t len)
{
    tn_pipe *p = arg;
    p->ops->subscribe(p, 1, topic, len);
}

/* A new publisher hears every current subscription. */
static tern_err sub_attach(tn_sock *s, tn_pipe *p)
{
    tn_subs_each(s->ps.subs, send_one, p);
    return TERN_OK;
}

static tern_err sub_recv(tn_sock *s, tern_msg **mp)
{
    tern_msg *m;
    tn_pipe *p;
    while ((p = tn_sock_pop(s, &m)) != NULL) {
        s->last_in = p;
        /* Publishers filter, but a subscription may have been cancelled
         * while matching messages were in flight. */
        if (first_part_matches(s->ps.subs, m)) {
            *mp = m;
            return TERN_OK;
        }
        p->ops->recycle(p, m);
    }
    s->last_in = NULL;
    return TERN_EAGAIN;
}

static int is_sub_message(const uint8_t *d, size_t len)
{
    return len >= 1 && d[0] <= 1;
}

/* XSUB: subscription messages change subscriptions; anything else goes up
 * to every publisher (dropped, counted, for one at its high-water mark). */
static tern_err xsub_send(tn_sock *s, tern_msg *m)
{
    if (m->nparts == 1 && is_sub_message(m->parts[0].data, m->parts[0].size)) {
        const uint8_t *d = m->parts[0].data;
        tern_err err = tn_sock_subscribe(s, d[0], d + 1, m->parts[0].size - 1);
        if (err == TERN_ENOENT)
            err = TERN_OK;
        if (err == TERN_OK)
            tern_msg_free(m);
        return err;
    }
    tn_pipe *last = NULL;
    for (size_t i = 0; i < s->npipes; i++) {
        tn_pipe *p = s->pipes[i];
        if (!live(p))
            continue;
        if (!p->ops->writable(p)) {
            tn_sock_drop(s, p, "publisher at its high-water mark");
            continue;
        }
        if (last != NULL) {
            tern_msg *copy;
            if (tern_msg_dup(m, &copy) == TERN_OK)
                tn_pipe_put(last, copy);
            else
                tn_sock_drop(s, last, "out of memory copying the message");
        }
        last = p;
    }
    if (last != NULL)
        tn_pipe_put(last, m);
    else
        tern_msg_free(m);
    return TERN_OK;
}

static tern_err xsub_send_bytes(tn_sock *s, const void *data, size_t len)
{
    tern_msg *m;
    if (tern_msg_alloc(&m, len) != TERN_OK)
        return TERN_ENOMEM;
    if (len)
        memcpy(tern_msg_data(m, 0), data, len);
    tern_err err = xsub_send(s, m);
    if (err != TERN_OK)
        tern_msg_free(m);
    return err;
}

static int xsub_can_send(tn_sock *s)
{
    (void)s;
    return 1; /* subscriptions never wait; other messages drop, counted */
}

const tn_pattern tn_pattern_sub = {
    .type = TERN_SUB, .name = "SUB", .peers = BIT(TERN_PUB) | BIT(TERN_XPUB),
    .send = tn_sock_refuse_send, .send_bytes = tn_sock_refuse_send_bytes, .recv = sub_recv,
    .attach = sub_attach,
};

const tn_pattern tn_pattern_xsub = {
    .type = TERN_XSUB, .name = "XSUB", .peers = BIT(TERN_PUB) | BIT(TERN_XPUB),
    .send = xsub_send, .send_bytes = xsub_send_bytes, .recv = sub_recv,
    .attach = sub_attach, .can_send = xsub_can_send,
};
