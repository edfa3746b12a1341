/* Message sockets: lifecycle, options, blocking send/receive, waiting. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/copy.h"
#include "base/handle.h"
#include "base/spin.h"
#include "base/trace.h"
#include "msg/sock.h"
#include "msg/subs.h"

/* ---- waiting ----------------------------------------------------------- */

static pthread_key_t efd_key;
static pthread_once_t efd_once = PTHREAD_ONCE_INIT;
static _Thread_local int thread_efd = -1;

static void efd_close(void *p)
{
    close((int)(intptr_t)p - 1);
}

static void efd_key_init(void)
{
    pthread_key_create(&efd_key, efd_close);
}

int tn_thread_efd(void)
{
    if (thread_efd < 0) {
        pthread_once(&efd_once, efd_key_init);
        thread_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (thread_efd >= 0)
            pthread_setspecific(efd_key, (void *)(intptr_t)(thread_efd + 1));
    }
    return thread_efd;
}

void tn_sock_wait_add(tn_sock *s, tn_wnode *w)
{
    pthread_mutex_lock(&s->wlock);
    w->prev = NULL;
    w->next = s->waiters;
    if (s->waiters)
        s->waiters->prev = w;
    s->waiters = w;
    atomic_fetch_add(&s->nwaiters, 1);
    pthread_mutex_unlock(&s->wlock);
    /* Registration before the caller's re-check of rings and counters, even
     * on weakly ordered CPUs (pairs with the fence in tn_sock_notify). */
    atomic_thread_fence(memory_order_seq_cst);
}

void tn_sock_wait_del(tn_sock *s, tn_wnode *w)
{
    pthread_mutex_lock(&s->wlock);
    if (w->prev)
        w->prev->next = w->next;
    else
        s->waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    atomic_fetch_sub(&s->nwaiters, 1);
    pthread_mutex_unlock(&s->wlock);
}

void tn_sock_notify(tn_sock *s)
{
    /* Orders the caller's ring stores before the waiter check; a waiter
     * registers before it re-checks the rings (Dekker). */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load(&s->nwaiters) == 0)
        return;
    uint64_t one = 1;
    pthread_mutex_lock(&s->wlock);
    for (tn_wnode *w = s->waiters; w; w = w->next) {
        if (write(w->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
            tn_trace(TERN_TRACE_MSG, "socket %u: wake-up write failed (errno %d)", s->id, errno);
    }
    pthread_mutex_unlock(&s->wlock);
}

/* Sleeps until the thread's eventfd is notified, one of the nconns
 * connections in fds[1..] (which the thread reads itself) has data, or
 * deadline (ns; 0 = forever); drains the eventfd. Called without s->lock. */
static void sleep_until(int efd, struct pollfd *fds, int nconns, uint64_t deadline)
{
    /* Without an eventfd (descriptors exhausted) fall back to polling. */
    int ms = efd < 0 ? 10 : -1;
    if (deadline) {
        uint64_t now = tern_clock_ns();
        int left = now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000);
        ms = ms >= 0 && ms < left ? ms : left;
    }
    fds[0] = (struct pollfd){.fd = efd, .events = POLLIN};
    poll(fds, (nfds_t)(1 + nconns), ms);
    uint64_t n;
    if (fds[0].revents) {
        while (read(efd, &n, sizeof(n)) > 0) {
        }
    }
}

static uint64_t deadline_after(int64_t ms)
{
    return ms < 0 ? 0 : tern_clock_ns() + (uint64_t)ms * 1000000u;
}

/* A spinning receiver reads its connections itself when it has at most
 * this many; a socket with more peers leaves them to its I/O thread, which
 * reads many fds per wake-up. */
#define POLL_PIPES_MAX 4

static void unpoll_pipes(tn_sock *s);

/* Under s->lock. Returns nonzero if a message arrived. */
static int poll_pipes(tn_sock *s)
{
    int got = 0;
    if (s->npipes > POLL_PIPES_MAX) {
        unpoll_pipes(s); /* peers came while we polled: the loop reads them all */
        return 0;
    }
    for (size_t i = 0; i < s->npipes; i++) {
        tn_pipe *p = s->pipes[i];
        if (p->ops->poll && p->ops->poll(p))
            got = 1;
    }
    return got;
}

/* The connections a sleeping receiver waits on itself, taking their input
 * over (under s->lock): it is woken once, by the data, and reads it, where
 * the I/O thread would be woken to read and then wake it. Returns how many
 * went into fds. */
static int wait_fds(tn_sock *s, struct pollfd *fds)
{
    int n = 0;
    if (s->npipes > POLL_PIPES_MAX) {
        unpoll_pipes(s);
        return 0;
    }
    for (size_t i = 0; i < s->npipes; i++) {
        tn_pipe *p = s->pipes[i];
        int fd = p->ops->wait_fd ? p->ops->wait_fd(p) : -1;
        if (fd >= 0)
            fds[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
    }
    return n;
}

static void unpoll_pipes(tn_sock *s)
{
    for (size_t i = 0; i < s->npipes; i++) {
        if (s->pipes[i]->ops->unpoll)
            s->pipes[i]->ops->unpoll(s->pipes[i]);
    }
}

/* The receiver leaves: with a message it keeps the inputs it took, as the
 * next receive will want them back (no epoll_ctl per call); else it hands
 * them back to the loop. */
static void leave_pipes(tn_sock *s, tern_err err)
{
    if (err != TERN_OK) {
        unpoll_pipes(s);
        return;
    }
    for (size_t i = 0; i < s->npipes; i++) {
        if (s->pipes[i]->ops->lend)
            s->pipes[i]->ops->lend(s->pipes[i]);
    }
}

static tern_err op_recv(tn_sock *s, void *arg);
static tern_err op_recv_copy(tn_sock *s, void *arg);

/* Runs op (under s->lock) until it stops saying TERN_EAGAIN, honouring
 * TERN_DONTWAIT and the timeout. Returns with s->lock held. */
typedef tern_err (*sock_op)(tn_sock *s, void *arg);

static tern_err block_on(tn_sock *s, sock_op op, void *arg, int flags, int64_t timeo)
{
    s->wake_at = 0;
    tern_err err = s->closing ? TERN_ECLOSED : op(s, arg);
    if (err != TERN_EAGAIN || (flags & TERN_DONTWAIT) || timeo == 0)
        return err;
    uint64_t deadline = deadline_after(timeo);
    int64_t spin_us = s->opt.busy_poll >= 0 ? s->opt.busy_poll : s->pat->spin_us;
    /* In latency mode a receiver reads the connections itself: no I/O
     * thread between the data and the caller, and no wake-up to hand it
     * over. */
    int polling = spin_us > 0 && (op == op_recv || op == op_recv_copy);
    if (spin_us > 0 && tn_spin_allowed()) {
        /* Request/reply waits are short: staying on the CPU a little while
         * saves being woken, which on an idle VM costs tens of us. */
        uint64_t until = tern_clock_ns() + (uint64_t)spin_us * 1000u;
        if (deadline && deadline < until)
            until = deadline;
        do {
            if (!(polling && poll_pipes(s))) {
                pthread_mutex_unlock(&s->lock);
                if (!tn_spin_yield())
                    until = 0; /* the CPU is wanted: sleep instead */
                pthread_mutex_lock(&s->lock);
            }
            s->wake_at = 0;
            err = s->closing ? TERN_ECLOSED : op(s, arg);
        } while (err == TERN_EAGAIN && tern_clock_ns() < until && !s->wake_at);
        if (err != TERN_EAGAIN) {
            if (polling)
                leave_pipes(s, err);
            return err;
        }
    }
    tn_wnode w = {.efd = tn_thread_efd()};
    if (w.efd < 0) {
        if (polling)
            unpoll_pipes(s);
        return TERN_ESYSTEM;
    }
    for (;;) {
        tn_sock_wait_add(s, &w);
        s->wake_at = 0;
        err = s->closing ? TERN_ECLOSED : op(s, arg);
        if (err == TERN_EAGAIN && deadline && tern_clock_ns() >= deadline)
            err = TERN_ETIMEDOUT;
        if (err != TERN_EAGAIN) {
            tn_sock_wait_del(s, &w);
            if (polling)
                leave_pipes(s, err);
            return err;
        }
        uint64_t until = s->wake_at && (!deadline || s->wake_at < deadline) ? s->wake_at : deadline;
        struct pollfd fds[1 + POLL_PIPES_MAX];
        int nconns = polling ? wait_fds(s, fds + 1) : 0;
        pthread_mutex_unlock(&s->lock);
        sleep_until(w.efd, fds, nconns, until);
        pthread_mutex_lock(&s->lock);
        tn_sock_wait_del(s, &w);
        if (nconns > 0)
            poll_pipes(s);
    }
}

/* ---- handles ----------------------------------------------------------- */

tn_sock *tn_sock_pin(tern_socket h)
{
    return tn_handle_pin(h.id);
}

void tn_sock_unpin(tn_sock *s)
{
    tn_handle_unpin(s->id);
}

/* ---- pipes ------------------------------------------------------------- */

static void unlink_pipe(tn_sock *s, size_t i)
{
    tn_pipe *p = s->pipes[i];
    memmove(&s->pipes[i], &s->pipes[i + 1], (s->npipes - i - 1) * sizeof(*s->pipes));
    s->npipes--;
    if (s->cursor > i)
        s->cursor--;
    if (s->last_in == p)
        s->last_in = NULL;
    if (p->ops->unpoll)
        p->ops->unpoll(p);
    if (s->pat->detach)
        s->pat->detach(s, p);
    tn_subs_free(p->subs);
    p->subs = NULL;
    p->ops->release(p);
}

tern_err tn_sock_attach(tn_sock *s, tn_pipe *p)
{
    if (s->closing)
        return TERN_ECLOSED;
    /* Drop drained pipes of gone peers first: they no longer count. */
    for (size_t i = s->npipes; i-- > 0;) {
        if (atomic_load(&s->pipes[i]->dead) && tn_ring_empty(s->pipes[i]->in))
            unlink_pipe(s, i);
    }
    if (s->pat->max_peers && tn_sock_live(s) >= (size_t)s->pat->max_peers)
        return TERN_ESTATE;
    if (s->pat->attach) {
        tern_err err = s->pat->attach(s, p);
        if (err != TERN_OK)
            return err;
    }
    if (s->npipes == s->cappipes) {
        size_t ncap = s->cappipes ? s->cappipes * 2 : 8;
        tn_pipe **np = realloc(s->pipes, ncap * sizeof(*np));
        if (np == NULL)
            return TERN_ENOMEM;
        s->pipes = np;
        s->cappipes = ncap;
    }
    s->pipes[s->npipes++] = p;
    tn_sock_notify(s);
    return TERN_OK;
}

size_t tn_sock_live(const tn_sock *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->npipes; i++)
        n += !atomic_load(&s->pipes[i]->dead);
    return n;
}

void tn_sock_pipe_dead(tn_sock *s, tn_pipe *p)
{
    atomic_store(&p->dead, 1);
    for (size_t i = 0; i < s->npipes; i++) {
        if (s->pipes[i] == p) {
            if (tn_ring_empty(p->in))
                unlink_pipe(s, i);
            break;
        }
    }
    tn_sock_notify(s);
}

/* ---- patterns' building blocks ----------------------------------------- */

tn_pipe *tn_sock_next_writable(tn_sock *s)
{
    size_t n = s->npipes;
    for (size_t k = 0; k < n; k++) {
        size_t i = (s->cursor + k) % n;
        tn_pipe *p = s->pipes[i];
        if (!atomic_load_explicit(&p->dead, memory_order_relaxed) && p->ops->writable(p)) {
            s->cursor = i + 1;
            return p;
        }
    }
    return NULL;
}

tern_err tn_sock_send_rr(tn_sock *s, tern_msg *m)
{
    tn_pipe *p = tn_sock_next_writable(s);
    if (p == NULL)
        return TERN_EAGAIN;
    tn_pipe_put(p, m);
    return TERN_OK;
}

tern_err tn_sock_send_bytes_rr(tn_sock *s, const void *data, size_t len)
{
    /* A pipe may still refuse (its byte budget is spent): try the next. */
    for (size_t tries = s->npipes; tries > 0; tries--) {
        tn_pipe *p = tn_sock_next_writable(s);
        if (p == NULL)
            break;
        tern_err err = p->ops->write_bytes(p, data, len);
        p->msgs_out += err == TERN_OK;
        if (err != TERN_EAGAIN)
            return err;
    }
    return TERN_EAGAIN;
}

tn_pipe *tn_sock_pop(tn_sock *s, tern_msg **mp)
{
    for (size_t k = 0; k < s->npipes; k++) {
        size_t i = (s->cursor + k) % s->npipes;
        tn_pipe *p = s->pipes[i];
        tern_msg *m = tn_ring_pop(p->in);
        if (m != NULL) {
            s->cursor = i + 1;
            p->msgs_in++;
            if (!atomic_load(&p->dead))
                p->ops->read_done(p);
            *mp = m;
            return p;
        }
        if (atomic_load(&p->dead) && tn_ring_empty(p->in)) {
            unlink_pipe(s, i);
            k = (size_t)-1; /* indices moved: scan again */
        }
    }
    return NULL;
}

tern_err tn_sock_recv_fq(tn_sock *s, tern_msg **mp)
{
    tn_pipe *p = tn_sock_pop(s, mp);
    if (p == NULL)
        return TERN_EAGAIN;
    s->last_in = p;
    return TERN_OK;
}

tern_err tn_sock_refuse_send(tn_sock *s, tern_msg *m)
{
    (void)s;
    (void)m;
    return TERN_ENOTSUP;
}

tern_err tn_sock_refuse_send_bytes(tn_sock *s, const void *data, size_t len)
{
    (void)s;
    (void)data;
    (void)len;
    return TERN_ENOTSUP;
}

tern_err tn_sock_refuse_recv(tn_sock *s, tern_msg **mp)
{
    (void)s;
    (void)mp;
    return TERN_ENOTSUP;
}

tn_pipe *tn_sock_find_rid(tn_sock *s, const uint8_t *rid, size_t len)
{
    for (size_t i = 0; i < s->npipes; i++) {
        tn_pipe *p = s->pipes[i];
        if (p->rid_len == len && !atomic_load(&p->dead) &&
            (len == 0 || memcmp(p->rid, rid, len) == 0))
            return p;
    }
    return NULL;
}

void tn_sock_drop(tn_sock *s, tn_pipe *p, const char *why)
{
    s->drops++;
    if (p != NULL)
        p->drops++;
    tn_trace(TERN_TRACE_MSG, "socket %u (%s): message dropped%s%s: %s", s->id, s->pat->name,
             p ? " for " : "", p ? p->peer : "", why);
}

int tn_sock_can_send(tn_sock *s)
{
    if (s->pat->send == tn_sock_refuse_send)
        return 0;
    if (s->pat->can_send)
        return s->pat->can_send(s);
    for (size_t i = 0; i < s->npipes; i++) {
        tn_pipe *p = s->pipes[i];
        if (!atomic_load(&p->dead) && p->ops->writable(p))
            return 1;
    }
    return 0;
}

int tn_sock_can_recv(tn_sock *s)
{
    if (s->pat->recv == tn_sock_refuse_recv)
        return 0;
    if (s->pat->can_recv)
        return s->pat->can_recv(s);
    return tn_sock_any_input(s);
}

int tn_sock_any_input(tn_sock *s)
{
    for (size_t i = 0; i < s->npipes; i++) {
        if (!tn_ring_empty(s->pipes[i]->in))
            return 1;
    }
    return 0;
}

/* ---- open and close ---------------------------------------------------- */

static const tn_opts default_opts = {
    .sndhwm = 1000,
    .rcvhwm = 1000,
    .sndtimeo = -1,
    .rcvtimeo = -1,
    .linger = 1000,
    .reconnect_ivl = 100,
    .reconnect_ivl_max = 5000,
    .maxmsgsize = 64 << 20,
    .heartbeat_ivl = 0,
    .heartbeat_timeout = -1,
    .heartbeat_ttl = 0,
    .handshake_ivl = 10000,
    .router_mandatory = 1,
    .busy_poll = -1,
};

tern_err tern_socket_open(tern_ctx *ctx, int type, tern_socket *sockp)
{
    if (ctx == NULL || sockp == NULL)
        return TERN_EINVAL;
    const tn_pattern *pat = tn_pattern_find(type);
    if (pat == NULL)
        return (type >= TERN_PAIR && type <= TERN_XSUB) ? TERN_ENOTSUP : TERN_EINVAL;
    tn_sock *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return TERN_ENOMEM;
    s->ctx = ctx;
    s->pat = pat;
    s->opt = default_opts;
    s->loop = tn_ctx_pick_loop(ctx);
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->wlock, NULL);
    tern_err err = tn_handle_add(s, &s->id);
    if (err == TERN_OK) {
        err = tn_ctx_add_socket(ctx, s);
        if (err != TERN_OK)
            tn_handle_remove(s->id, 0);
    }
    if (err != TERN_OK) {
        pthread_mutex_destroy(&s->lock);
        pthread_mutex_destroy(&s->wlock);
        free(s);
        return err;
    }
    *sockp = (tern_socket){s->id};
    return TERN_OK;
}

static uint32_t pending_out(tn_sock *s)
{
    uint32_t n = 0;
    for (size_t i = 0; i < s->npipes; i++) {
        if (!atomic_load(&s->pipes[i]->dead))
            n += s->pipes[i]->ops->pending(s->pipes[i]);
    }
    return n;
}

static void teardown_task(void *arg)
{
    tn_sock *s = arg;
    tn_stream_teardown(s);
    /* Notify under the lock: the closer frees s as soon as it sees the
     * flag, and it can only look while holding the lock. */
    pthread_mutex_lock(&s->lock);
    s->torn_down = 1;
    tn_sock_notify(s);
    pthread_mutex_unlock(&s->lock);
}

/* Closing: refuse new calls, wake blocked ones, linger while queued
 * messages drain, stop the I/O side, then free. */
static tern_err sock_destroy(tn_sock *s)
{
    tern_err result = TERN_OK;
    tn_wnode w = {.efd = tn_thread_efd()};
    pthread_mutex_lock(&s->lock);
    uint64_t deadline = deadline_after(s->opt.linger);
    pthread_mutex_unlock(&s->lock);
    tn_sock_notify(s);
    tn_inproc_forget(s);

    for (;;) {
        tn_sock_wait_add(s, &w);
        pthread_mutex_lock(&s->lock);
        uint32_t left = pending_out(s);
        pthread_mutex_unlock(&s->lock);
        if (left == 0 || tern_clock_ns() >= deadline || w.efd < 0) {
            tn_sock_wait_del(s, &w);
            break;
        }
        struct pollfd fds[1];
        sleep_until(w.efd, fds, 0, deadline);
        tn_sock_wait_del(s, &w);
    }

    tn_task teardown = {.fn = teardown_task, .arg = s};
    tn_loop_post(s->loop, &teardown);
    tn_sock_wait_add(s, &w);
    for (;;) {
        pthread_mutex_lock(&s->lock);
        int done = s->torn_down;
        pthread_mutex_unlock(&s->lock);
        if (done)
            break;
        struct pollfd fds[1];
        sleep_until(w.efd, fds, 0, 0);
    }
    tn_sock_wait_del(s, &w);
    /* Counted on the I/O thread, after its last write: exact. */
    if (s->dropped > 0) {
        tn_trace(TERN_TRACE_MSG, "socket %u: linger expired, %llu queued message(s) dropped", s->id,
                 (unsigned long long)s->dropped);
        result = TERN_ETIMEDOUT;
    }

    while (s->npipes > 0)
        unlink_pipe(s, s->npipes - 1);
    free(s->pipes);
    tn_monitor_stop(s);
    tern_msg_free(s->rr.copy);
    tern_msg_free(s->rr.env);
    tn_subs_free(s->ps.subs);
    for (size_t i = 0; i < s->ps.npend; i++)
        tern_msg_free(s->ps.pend[(s->ps.pend_head + i) % s->ps.cappend]);
    free(s->ps.pend);
    tn_ctx_remove_socket(s->ctx, s);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->wlock);
    free(s);
    return result;
}

tern_err tern_socket_close(tern_socket h)
{
    tn_sock *s = tn_sock_pin(h);
    if (s == NULL)
        return TERN_ECLOSED;
    pthread_mutex_lock(&s->lock);
    int already = s->closing;
    s->closing = 1;
    pthread_mutex_unlock(&s->lock);
    if (already) {
        tn_sock_unpin(s);
        return TERN_ECLOSED;
    }
    tn_sock_notify(s);
    tn_handle_remove(s->id, 1);
    return sock_destroy(s);
}

/* ---- bind and connect -------------------------------------------------- */

static tern_err endpoint_op(tern_socket h, const char *endpoint, int bind)
{
    char scheme[16];
    const char *rest;
    tern_err err = tn_endpoint_split(endpoint, scheme, sizeof(scheme), &rest);
    if (err != TERN_OK)
        return err;
    tn_sock *s = tn_sock_pin(h);
    if (s == NULL)
        return TERN_ECLOSED;
    const tn_stream_transport *t = tn_stream_transport_find(scheme);
    if (t != NULL)
        err = bind ? tn_stream_bind(s, t, rest) : tn_stream_connect_ep(s, t, rest);
    else if (strcmp(scheme, "inproc") == 0)
        err = bind ? tn_inproc_bind(s, rest) : tn_inproc_connect(s, rest);
    else
        err = TERN_ENOTSUP;
    tn_sock_unpin(s);
    return err;
}

tern_err tern_bind(tern_socket h, const char *endpoint)
{
    return endpoint_op(h, endpoint, 1);
}

tern_err tern_connect(tern_socket h, const char *endpoint)
{
    return endpoint_op(h, endpoint, 0);
}

/* ---- options ----------------------------------------------------------- */

static int64_t *int_opt(tn_opts *o, int opt)
{
    switch (opt) {
    case TERN_OPT_SNDHWM:
        return &o->sndhwm;
    case TERN_OPT_RCVHWM:
        return &o->rcvhwm;
    case TERN_OPT_SNDTIMEO:
        return &o->sndtimeo;
    case TERN_OPT_RCVTIMEO:
        return &o->rcvtimeo;
    case TERN_OPT_LINGER:
        return &o->linger;
    case TERN_OPT_RECONNECT_IVL:
        return &o->reconnect_ivl;
    case TERN_OPT_RECONNECT_IVL_MAX:
        return &o->reconnect_ivl_max;
    case TERN_OPT_MAXMSGSIZE:
        return &o->maxmsgsize;
    case TERN_OPT_HEARTBEAT_IVL:
        return &o->heartbeat_ivl;
    case TERN_OPT_HEARTBEAT_TIMEOUT:
        return &o->heartbeat_timeout;
    case TERN_OPT_HEARTBEAT_TTL:
        return &o->heartbeat_ttl;
    case TERN_OPT_HANDSHAKE_IVL:
        return &o->handshake_ivl;
    case TERN_OPT_REQ_RELAXED:
        return &o->req_relaxed;
    case TERN_OPT_REQ_CORRELATE:
        return &o->req_correlate;
    case TERN_OPT_REQ_RESEND_IVL:
        return &o->req_resend_ivl;
    case TERN_OPT_ROUTER_MANDATORY:
        return &o->router_mandatory;
    case TERN_OPT_ROUTER_HANDOVER:
        return &o->router_handover;
    case TERN_OPT_PUB_LOSSLESS:
        return &o->pub_lossless;
    case TERN_OPT_XPUB_VERBOSE:
        return &o->xpub_verbose;
    case TERN_OPT_BUSY_POLL:
        return &o->busy_poll;
    default:
        return NULL;
    }
}

static int int_opt_valid(int opt, int64_t v)
{
    switch (opt) {
    case TERN_OPT_SNDHWM:
    case TERN_OPT_RCVHWM:
        return v >= 1 && v <= (1 << 24);
    case TERN_OPT_SNDTIMEO:
    case TERN_OPT_RCVTIMEO:
        return v >= -1 && v <= INT32_MAX;
    case TERN_OPT_LINGER:
        return v >= 0 && v <= 3600000;
    case TERN_OPT_RECONNECT_IVL:
    case TERN_OPT_RECONNECT_IVL_MAX:
        return v >= 1 && v <= 3600000;
    case TERN_OPT_MAXMSGSIZE:
        return v >= 1 && v <= ((int64_t)1 << 40);
    case TERN_OPT_HEARTBEAT_IVL:
    case TERN_OPT_HEARTBEAT_TTL:
        return v >= 0 && v <= 6553500;
    case TERN_OPT_HEARTBEAT_TIMEOUT:
        return v >= -1 && v <= 3600000;
    case TERN_OPT_HANDSHAKE_IVL:
        return v >= 1 && v <= 3600000;
    case TERN_OPT_REQ_RESEND_IVL:
        return v >= 0 && v <= 3600000;
    case TERN_OPT_BUSY_POLL:
        return v >= -1 && v <= 100000;
    case TERN_OPT_REQ_RELAXED:
    case TERN_OPT_REQ_CORRELATE:
    case TERN_OPT_ROUTER_MANDATORY:
    case TERN_OPT_ROUTER_HANDOVER:
    case TERN_OPT_PUB_LOSSLESS:
    case TERN_OPT_XPUB_VERBOSE:
        return v == 0 || v == 1;
    default:
        return 0;
    }
}

/* Options of one socket type only. */
static int opt_applies(int type, int opt)
{
    switch (opt) {
    case TERN_OPT_REQ_RELAXED:
    case TERN_OPT_REQ_CORRELATE:
    case TERN_OPT_REQ_RESEND_IVL:
        return type == TERN_REQ;
    case TERN_OPT_ROUTER_MANDATORY:
    case TERN_OPT_ROUTER_HANDOVER:
        return type == TERN_ROUTER;
    case TERN_OPT_PUB_LOSSLESS:
        return type == TERN_PUB || type == TERN_XPUB;
    case TERN_OPT_XPUB_VERBOSE:
        return type == TERN_XPUB;
    case TERN_OPT_SUBSCRIBE:
    case TERN_OPT_UNSUBSCRIBE:
        return type == TERN_SUB || type == TERN_XSUB;
    default:
        return 1;
    }
}

tern_err tern_setopt_int(tern_socket h, int opt, int64_t value)
{
    tn_sock *s = tn_sock_pin(h);
    if (s == NULL)
        return TERN_ECLOSED;
    tern_err err = TERN_OK;
    pthread_mutex_lock(&s->lock);
    int64_t *p = int_opt(&s->opt, opt);
    if (p == NULL)
        err = (opt == TERN_OPT_TYPE || opt == TERN_OPT_PEERS) ? TERN_EPERM : TERN_EINVAL;
    else if (!int_opt_valid(opt, value))
        err = TERN_EINVAL;
    else if (!opt_applies(s->pat->type, opt))
        err = TERN_ENOTSUP;
    else
        *p = value;
    pthread_mutex_unlock(&s->lock);
    tn_sock_unpin(s);
    return err;
}

tern_err tern_getopt_int(tern_socket h, int opt, int64_t *value)
{
    if (value == NULL)
        return TERN_EINVAL;
    tn_sock *s = tn_sock_pin(h);
    if (s == NULL)
        return TERN_ECLOSED;
    tern_err err = TERN_OK;
    pthread_mutex_lock(&s->lock);
    int64_t *p = int_opt(&s->opt, opt);
    if (p != NULL)
        *value = *p;
    else if (opt == TERN_OPT_TYPE)
        *value = s->pat->type;
    else if (opt == TERN_OPT_PEERS)
        *value = (int64_t)tn_sock_live(s);
    else
        err = TERN_EINVAL;
    if (opt == TERN_OPT_HEARTBEAT_TIMEOUT && *value < 0)
        *value = 3 * s->opt.heartbeat_ivl;
    pthread_mutex_unlock(&s->lock);
    tn_sock_unpin(s);
    return err;
}

tern_err tern_setopt_bytes(tern_socket h, int opt, const void *value, size_t len)
{
    if (value == NULL && len > 0)
        return TERN_EINVAL;
    tn_sock *s = tn_sock_pin(h);
    if (s == NULL)
        return TERN_ECLOSED;
    tern_err err = TERN_OK;
    pthread_mutex_lock(&s->lock);
    if (opt == TERN_OPT_ROUTING_ID) {
        if (len > sizeof(s->opt.routing_id)) {
            err = TERN_EINVAL;
        } else {
            if (len)
                memcpy(s->opt.routing_id, value, len);
            s->opt.routing_id_len = len;
        }
    } else if (opt == TERN_OPT_SUBSCRIBE || opt == TERN_OPT_UNSUBSCRIBE) {
        err = opt_applies(s->pat->type, opt)
                  ? tn_sock_subscribe(s, opt == TERN_OPT_SUBSCRIBE, value, len)
                  : TERN_ENOTSUP;
    } else {
        err = opt == TERN_OPT_LAST_ENDPOINT ? TERN_EPERM : TERN_EINVAL;
    }
    pthread_mutex_unlock(&s->lock);
    tn_sock_unpin(s);
    return err;
}

tern_err tern_getopt_bytes(tern_socket h, int opt, void *buf, size_t *len)
{
    if (len == NULL || (buf == NULL && *len > 0))
        return TERN_EINVAL;
    tn_sock *s = tn_sock_pin(h);
    if (s == NULL)
        return TERN_ECLOSED;
    tern_err err = TERN_OK;
    pthread_mutex_lock(&s->lock);
    const void *src = NULL;
    size_t n = 0, extra = 0;
    if (opt == TERN_OPT_ROUTING_ID) {
        src = s->opt.routing_id;
        n = s->opt.routing_id_len;
    } else if (opt == TERN_OPT_LAST_ENDPOINT) {
        src = s->last_endpoint;
        n = strlen(s->last_endpoint);
        extra = 1;
    } else {
        err = TERN_EINVAL;
    }
    if (err == TERN_OK) {
        if (*len < n + extra) {
            err = TERN_EMSGSIZE;
        } else {
            memcpy(buf, src, n);
            if (extra)
                ((char *)buf)[n] = '\0';
        }
        *len = n;
    }
    pthread_mutex_unlock(&s->lock);
    tn_sock_unpin(s);
    return err;
}

/* ---- send and receive -------------------------------------------------- */

static tern_err op_send(tn_sock *s, void *arg)
{
    return s->pat->send(s, arg);
}

typedef struct bytes_arg {
    const void *data;
    size_t len;
} bytes_arg;

static tern_err op_send_bytes(tn_sock *s, void *arg)
{
    bytes_arg *b = arg;
    return s->pat->send_bytes(s, b->data, b->len);
}

static tern_err op_recv(tn_sock *s, void *arg)
{
    return s->pat->recv(s, arg);
}

tern_err tern_msg_send(tern_socket h, tern_msg *m, int flags)
{
    if (m == NULL || m->nparts == 0)
        return TERN_EINVAL;
    tn_sock *s = tn_sock_pin(h);
    if (s == NULL)
        return TERN_ECLOSED;
    size_t total = m->total;
    pthread_mutex_lock(&s->lock);
    tern_err err = total > (uint64_t)s->opt.maxmsgsize
                       ? TERN_EMSGSIZE
                       : block_on(s, op_send, m, flags, s->opt.sndtimeo);
    if (err == TERN_OK) {
        s->msgs_out++;
        s->bytes_out += total;
    }
    pthread_mutex_unlock(&s->lock);
    tn_sock_unpin(s);
    return err;
}

tern_err tern_send(tern_socket h, const void *data, size_t len, int flags)
{
    if (data == NULL && len > 0)
        return TERN_EINVAL;
    tn_sock *s = tn_sock_pin(h);
    if (s == NULL)
        return TERN_ECLOSED;
    bytes_arg b = {data, len};
    pthread_mutex_lock(&s->lock);
    tern_err err = len > (uint64_t)s->opt.maxmsgsize
                       ? TERN_EMSGSIZE
                       : block_on(s, op_send_bytes, &b, flags, s->opt.sndtimeo);
    if (err == TERN_OK) {
        s->msgs_out++;
        s->bytes_out += len;
    }
    pthread_mutex_unlock(&s->lock);
    tn_sock_unpin(s);
    return err;
}

tern_err tern_msg_recv(tern_socket h, tern_msg **mp, int flags)
{
    if (mp == NULL)
        return TERN_EINVAL;
    tn_sock *s = tn_sock_pin(h);
    if (s == NULL)
        return TERN_ECLOSED;
    pthread_mutex_lock(&s->lock);
    tern_err err = block_on(s, op_recv, mp, flags, s->opt.rcvtimeo);
    if (err == TERN_OK) {
        s->msgs_in++;
        s->bytes_in += (*mp)->total;
    }
    pthread_mutex_unlock(&s->lock);
    tn_sock_unpin(s);
    return err;
}

typedef struct copy_arg {
    void *buf;
    size_t cap;
    size_t len;
} copy_arg;

/* Receives and copies out under the lock, so the message's memory can go
 * back to the pipe it came from (no malloc/free per small message). */
static tern_err op_recv_copy(tn_sock *s, void *arg)
{
    copy_arg *c = arg;
    tern_msg *m;
    s->last_in = NULL;
    tern_err err = s->pat->recv(s, &m);
    if (err != TERN_OK)
        return err;
    size_t off = 0;
    for (uint32_t i = 0; i < m->nparts; i++) {
        size_t n = m->parts[i].size;
        if (off < c->cap && n > 0)
            tn_copy((uint8_t *)c->buf + off, m->parts[i].data, n < c->cap - off ? n : c->cap - off);
        off += n;
    }
    c->len = off;
    s->msgs_in++;
    s->bytes_in += off;
    if (s->last_in != NULL)
        s->last_in->ops->recycle(s->last_in, m);
    else
        tern_msg_free(m);
    return TERN_OK;
}

tern_err tern_recv(tern_socket h, void *buf, size_t cap, size_t *len, int flags)
{
    if (buf == NULL && cap > 0)
        return TERN_EINVAL;
    tn_sock *s = tn_sock_pin(h);
    if (s == NULL)
        return TERN_ECLOSED;
    copy_arg c = {buf, cap, 0};
    pthread_mutex_lock(&s->lock);
    tern_err err = block_on(s, op_recv_copy, &c, flags, s->opt.rcvtimeo);
    pthread_mutex_unlock(&s->lock);
    tn_sock_unpin(s);
    if (err != TERN_OK)
        return err;
    if (len != NULL)
        *len = c.len;
    return c.len > cap ? TERN_EMSGSIZE : TERN_OK;
}
