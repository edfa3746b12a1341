/* inproc:// — sockets of one context linked by a pair of rings, no I/O
 * thread and no syscalls on the data path. A connect stays registered
 * until its socket closes: it links to the bind of that name whenever one
 * exists, so connect-before-bind and re-binding both work.
 *
 * Each half of a pair is the pipe one socket sees; half i's ring holds the
 * messages for half i's socket, pushed by the other socket under that
 * socket's lock (one producer). The pair is freed by the last release. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/handle.h"
#include "base/trace.h"
#include "msg/ctx.h"

typedef struct inproc_pair inproc_pair;

typedef struct inproc_half {
    tn_pipe pipe; /* first: the socket's view */
    tn_ring ring;
    /* Memory of messages this side has read, for the other side to reuse:
     * pushed by this socket, popped by the other (one producer, one
     * consumer, each under its own socket's lock). */
    tn_ring shells;
    inproc_pair *pair;
    int side;
    uint32_t sock_id; /* this half's socket, for the peer to reach it */
    _Atomic int want_room; /* the peer found this ring full and may wait */
} inproc_half;

struct inproc_pair {
    inproc_half half[2];
    pthread_mutex_t lock; /* guards half[i].pipe.sock against release */
    int refs;
    _Atomic int ready; /* both sides attached: only then may anyone send */
};

static inproc_half *other(inproc_half *h)
{
    return &h->pair->half[1 - h->side];
}

static int half_writable(tn_pipe *p)
{
    inproc_half *o = other((inproc_half *)p);
    if (!atomic_load(&o->pair->ready) || atomic_load(&o->pipe.dead))
        return 0;
    if (!tn_ring_full(&o->ring))
        return 1;
    /* Ask the reader for a wake-up, then look again: either it sees the
     * flag after its next pop, or we see that pop now. */
    atomic_store(&o->want_room, 1);
    return !tn_ring_full(&o->ring);
}

static void wake_peer(inproc_half *o)
{
    pthread_mutex_lock(&o->pair->lock);
    if (o->pipe.sock != NULL)
        tn_sock_notify(o->pipe.sock);
    pthread_mutex_unlock(&o->pair->lock);
}

static void half_write(tn_pipe *p, tern_msg *m)
{
    inproc_half *o = other((inproc_half *)p);
    tn_ring_push(&o->ring, m);
    wake_peer(o);
}

static tern_err half_write_bytes(tn_pipe *p, const void *data, size_t len)
{
    tern_msg *m = len <= TN_MSG_INLINE_MAX ? tn_ring_pop(&other((inproc_half *)p)->shells) : NULL;
    if (m != NULL)
        tn_msg_shell_reuse(m, len);
    else if (tern_msg_alloc(&m, len) != TERN_OK)
        return TERN_ENOMEM;
    if (len)
        memcpy(tern_msg_data(m, 0), data, len);
    half_write(p, m);
    return TERN_OK;
}

static uint32_t half_pending(tn_pipe *p)
{
    (void)p;
    return 0; /* already in the peer's ring: nothing to linger for */
}

/* A sender waits only on a full ring, and raises want_room before its last
 * look; the fence orders our pop before reading the flag, so one of us
 * sees the other. (Waking only when a pop left exactly hwm - 1 messages
 * lost wake-ups.) */
static void half_read_done(tn_pipe *p)
{
    inproc_half *h = (inproc_half *)p;
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&h->want_room, memory_order_relaxed) && atomic_exchange(&h->want_room, 0))
        wake_peer(other(h));
}

static void half_recycle(tn_pipe *p, tern_msg *m)
{
    inproc_half *h = (inproc_half *)p;
    if (tn_msg_is_shell(m) && !tn_ring_full(&h->shells))
        tn_ring_push(&h->shells, m);
    else
        tern_msg_free(m);
}

static void half_release(tn_pipe *p)
{
    inproc_half *h = (inproc_half *)p;
    inproc_pair *pair = h->pair;
    inproc_half *o = other(h);
    pthread_mutex_lock(&pair->lock);
    h->pipe.sock = NULL;
    atomic_store(&h->pipe.dead, 1);
    atomic_store(&o->pipe.dead, 1);
    if (o->pipe.sock != NULL)
        tn_sock_notify(o->pipe.sock);
    int last = --pair->refs == 0;
    pthread_mutex_unlock(&pair->lock);
    if (last) {
        for (int i = 0; i < 2; i++) {
            tn_ring_fini(&pair->half[i].ring);
            tn_ring_fini(&pair->half[i].shells);
        }
        pthread_mutex_destroy(&pair->lock);
        free(pair);
    }
}

/* Applies our subscription to the publisher's view of us directly. Lock
 * order: a subscriber's socket lock, then its publisher's (publishers never
 * lock anyone). */
static tern_err half_subscribe(tn_pipe *p, int on, const uint8_t *topic, size_t len)
{
    inproc_half *o = other((inproc_half *)p);
    tn_sock *pub = tn_handle_pin(o->sock_id);
    if (pub == NULL)
        return TERN_OK; /* closing: it will not send again */
    pthread_mutex_lock(&pub->lock);
    tern_err err = pub->closing ? TERN_OK : tn_sock_peer_sub(pub, &o->pipe, on, topic, len);
    pthread_mutex_unlock(&pub->lock);
    tn_sock_unpin(pub);
    return err;
}

static void half_disconnect(tn_pipe *p, const char *why)
{
    inproc_half *h = (inproc_half *)p;
    inproc_half *o = other(h);
    tn_trace(TERN_TRACE_MSG, "%s: link ended: %s", p->peer, why);
    atomic_store(&h->pipe.dead, 1);
    atomic_store(&o->pipe.dead, 1);
    wake_peer(o);
}

static const tn_pipe_ops half_ops = {
    .writable = half_writable,
    .write = half_write,
    .write_bytes = half_write_bytes,
    .pending = half_pending,
    .read_done = half_read_done,
    .recycle = half_recycle,
    .release = half_release,
    .subscribe = half_subscribe,
    .disconnect = half_disconnect,
};

/* Links connector c to binder b. Called with ctx->inproc_lock held. */
static tern_err link_pair(tn_sock *c, tn_sock *b, const char *name)
{
    char ep[TN_ENDPOINT_MAX];
    snprintf(ep, sizeof(ep), "inproc://%s", name);
    if (!(c->pat->peers & (1u << b->pat->type))) {
        char why[64];
        snprintf(why, sizeof(why), "%s cannot talk to %s", c->pat->name, b->pat->name);
        tn_trace(TERN_TRACE_MSG, "%s: %s", ep, why);
        tn_sock_event(c, TERN_EV_HANDSHAKE_FAILED, 0, ep, ep, why);
        tn_sock_event(b, TERN_EV_HANDSHAKE_FAILED, 0, ep, ep, why);
        return TERN_EINCOMPAT;
    }
    inproc_pair *pair = calloc(1, sizeof(*pair));
    if (pair == NULL)
        return TERN_ENOMEM;
    tn_sock *socks[2] = {c, b};
    pthread_mutex_lock(&c->lock);
    int64_t c_snd = c->opt.sndhwm, c_rcv = c->opt.rcvhwm;
    pthread_mutex_unlock(&c->lock);
    pthread_mutex_lock(&b->lock);
    int64_t b_snd = b->opt.sndhwm, b_rcv = b->opt.rcvhwm;
    pthread_mutex_unlock(&b->lock);
    /* One ring replaces the sender's and the receiver's queues. */
    if (tn_ring_init(&pair->half[0].ring, (uint64_t)(b_snd + c_rcv)) != TERN_OK) {
        free(pair);
        return TERN_ENOMEM;
    }
    if (tn_ring_init(&pair->half[1].ring, (uint64_t)(c_snd + b_rcv)) != TERN_OK) {
        tn_ring_fini(&pair->half[0].ring);
        free(pair);
        return TERN_ENOMEM;
    }
    if (tn_ring_init(&pair->half[0].shells, 256) != TERN_OK ||
        tn_ring_init(&pair->half[1].shells, 256) != TERN_OK) {
        for (int i = 0; i < 2; i++) {
            tn_ring_fini(&pair->half[i].ring);
            if (pair->half[i].shells.slots)
                tn_ring_fini(&pair->half[i].shells);
        }
        free(pair);
        return TERN_ENOMEM;
    }
    pthread_mutex_init(&pair->lock, NULL);
    pair->refs = 2;
    for (int i = 0; i < 2; i++) {
        inproc_half *h = &pair->half[i];
        h->pair = pair;
        h->side = i;
        h->pipe.ops = &half_ops;
        h->pipe.in = &h->ring;
        h->pipe.peer_type = socks[1 - i]->pat->type;
        h->pipe.sock = socks[i];
        h->sock_id = socks[i]->id;
        pthread_mutex_lock(&socks[1 - i]->lock);
        h->pipe.rid_len = (uint8_t)socks[1 - i]->opt.routing_id_len;
        memcpy(h->pipe.rid, socks[1 - i]->opt.routing_id, h->pipe.rid_len);
        pthread_mutex_unlock(&socks[1 - i]->lock);
        snprintf(h->pipe.peer, sizeof(h->pipe.peer), "inproc://%s", name);
    }
    /* A publisher first, so that it knows the pipe when the subscriber,
     * attaching, sends its subscriptions through. */
    int first = c->pat->peer_sub == NULL && b->pat->peer_sub != NULL;
    tern_err err = TERN_OK;
    int attached = 0;
    for (; attached < 2 && err == TERN_OK; attached++) {
        int i = attached ? 1 - first : first;
        pthread_mutex_lock(&socks[i]->lock);
        err = tn_sock_attach(socks[i], &pair->half[i].pipe);
        if (err == TERN_OK) /* counted with the attach, as engines do */
            tn_sock_event(socks[i], TERN_EV_HANDSHAKE_OK, 0, ep, ep, NULL);
        pthread_mutex_unlock(&socks[i]->lock);
    }
    if (err == TERN_OK) {
        atomic_store(&pair->ready, 1);
        /* A sender may already wait for this very link. */
        for (int i = 0; i < 2; i++)
            tn_sock_notify(socks[i]);
    } else {
        /* Whoever attached keeps a dead pipe it will drop; free the rest. */
        attached--;
        for (int k = attached; k < 2; k++)
            half_release(&pair->half[k ? 1 - first : first].pipe);
        tn_trace(TERN_TRACE_MSG, "inproc://%s: link refused: %s", name, tern_errname(err));
    }
    return err;
}

static tn_inproc_entry *find_bind(tern_ctx *ctx, const char *name)
{
    for (tn_inproc_entry *e = ctx->inproc; e; e = e->next) {
        if (e->bound && strcmp(e->name, name) == 0)
            return e;
    }
    return NULL;
}

static tn_inproc_entry *entry_new(tn_sock *s, const char *name, int bound)
{
    tn_inproc_entry *e = calloc(1, sizeof(*e));
    if (e != NULL) {
        e->sock = s;
        e->bound = bound;
        snprintf(e->name, sizeof(e->name), "%s", name);
    }
    return e;
}

tern_err tn_inproc_bind(tn_sock *s, const char *name)
{
    if (name[0] == '\0')
        return TERN_EADDRINVAL;
    tern_ctx *ctx = s->ctx;
    pthread_mutex_lock(&ctx->inproc_lock);
    if (find_bind(ctx, name) != NULL) {
        pthread_mutex_unlock(&ctx->inproc_lock);
        return TERN_EADDRINUSE;
    }
    tn_inproc_entry *e = entry_new(s, name, 1);
    if (e == NULL) {
        pthread_mutex_unlock(&ctx->inproc_lock);
        return TERN_ENOMEM;
    }
    e->next = ctx->inproc;
    ctx->inproc = e;
    for (tn_inproc_entry *c = ctx->inproc; c; c = c->next) {
        if (!c->bound && strcmp(c->name, name) == 0)
            link_pair(c->sock, s, name);
    }
    pthread_mutex_unlock(&ctx->inproc_lock);
    pthread_mutex_lock(&s->lock);
    snprintf(s->last_endpoint, sizeof(s->last_endpoint), "inproc://%s", name);
    pthread_mutex_unlock(&s->lock);
    return TERN_OK;
}

tern_err tn_inproc_connect(tn_sock *s, const char *name)
{
    if (name[0] == '\0')
        return TERN_EADDRINVAL;
    tern_ctx *ctx = s->ctx;
    tern_err err = TERN_OK;
    pthread_mutex_lock(&ctx->inproc_lock);
    tn_inproc_entry *b = find_bind(ctx, name);
    if (b != NULL && !(s->pat->peers & (1u << b->sock->pat->type)))
        err = TERN_EINCOMPAT;
    tn_inproc_entry *e = err == TERN_OK ? entry_new(s, name, 0) : NULL;
    if (err == TERN_OK && e == NULL)
        err = TERN_ENOMEM;
    if (err == TERN_OK) {
        e->next = ctx->inproc;
        ctx->inproc = e;
        if (b != NULL)
            link_pair(s, b->sock, name);
    }
    pthread_mutex_unlock(&ctx->inproc_lock);
    return err;
}

void tn_inproc_forget(tn_sock *s)
{
    tern_ctx *ctx = s->ctx;
    pthread_mutex_lock(&ctx->inproc_lock);
    for (tn_inproc_entry **pp = &ctx->inproc; *pp;) {
        tn_inproc_entry *e = *pp;
        if (e->sock == s) {
            *pp = e->next;
            free(e);
        } else {
            pp = &e->next;
        }
    }
    pthread_mutex_unlock(&ctx->inproc_lock);
    /* Our inproc pipes die with the socket: tell the peers now, so they
     * stop sending to us while we linger. */
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->npipes; i++) {
        tn_pipe *p = s->pipes[i];
        if (p->ops == &half_ops) {
            inproc_half *o = other((inproc_half *)p);
            atomic_store(&o->pipe.dead, 1);
            wake_peer(o);
        }
    }
    pthread_mutex_unlock(&s->lock);
}
