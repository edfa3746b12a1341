/* Binds and connects over stream transports. A listener accepts and starts
 * an engine per connection; a connector keeps one connection up, retrying
 * with exponential backoff (reconnect_ivl doubling up to reconnect_ivl_max)
 * whenever connecting fails or the connection dies. Both live on the
 * socket's I/O thread; only their creation happens on the caller's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "base/trace.h"
#include "msg/sock.h"

struct tn_ep {
    tn_ep *next;
    tn_sock *sock;
    const tn_stream_transport *t;
    int is_bind;
    int stopped;
    tn_addr addr;
    char endpoint[TN_ENDPOINT_MAX];
    tn_ioh ioh; /* listening fd, or the fd of a connect in progress */
    int watching;
    tn_timer timer; /* connector: next attempt; listener: accept pause */
    uint64_t backoff_ms, ivl_ms, ivl_max_ms;
    tn_engine **engines;
    size_t nengines, capengines;
    tn_task start;
};

static void add_engine(tn_ep *ep, tn_engine *e)
{
    if (ep->nengines == ep->capengines) {
        size_t ncap = ep->capengines ? ep->capengines * 2 : 4;
        tn_engine **ne = realloc(ep->engines, ncap * sizeof(*ne));
        if (ne == NULL) {
            tn_engine_kill(e, "out of memory tracking the connection");
            return;
        }
        ep->engines = ne;
        ep->capengines = ncap;
    }
    ep->engines[ep->nengines++] = e;
}

/* ---- listener ---------------------------------------------------------- */

static void on_accept(void *arg, uint32_t events)
{
    tn_ep *ep = arg;
    (void)events;
    for (int i = 0; i < 64; i++) {
        int fd = accept4(ep->ioh.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN) {
                /* Out of descriptors: stop accepting for a moment rather
                 * than spin on a listener that stays readable. */
                tn_trace(TERN_TRACE_IO, "%s: accept failed: %s; pausing 100 ms", ep->endpoint,
                         strerror(errno));
                tn_loop_unwatch(ep->sock->loop, &ep->ioh);
                ep->watching = 0;
                tn_timer_arm(ep->sock->loop, &ep->timer, tern_clock_ns() + 100000000u);
            }
            return;
        }
        ep->t->tune(fd);
        tn_engine *e;
        if (tn_engine_start(ep->sock, fd, ep, ep->endpoint, 1, &e) == TERN_OK)
            add_engine(ep, e);
        else
            tn_trace(TERN_TRACE_IO, "%s: cannot start a connection (out of memory)", ep->endpoint);
    }
}

static void listener_resume(void *arg)
{
    tn_ep *ep = arg;
    if (!ep->stopped && tn_loop_watch(ep->sock->loop, &ep->ioh, EPOLLIN) == TERN_OK)
        ep->watching = 1;
}

/* ---- connector --------------------------------------------------------- */

static void try_connect(void *arg);

static void retry_later(tn_ep *ep, const char *why)
{
    tn_trace(TERN_TRACE_IO, "%s: %s; reconnect in %llu ms", ep->endpoint, why,
             (unsigned long long)ep->backoff_ms);
    tn_sock_event(ep->sock, TERN_EV_RECONNECT, (int64_t)ep->backoff_ms, ep->endpoint, NULL, why);
    tn_timer_arm(ep->sock->loop, &ep->timer, tern_clock_ns() + ep->backoff_ms * 1000000u);
    ep->backoff_ms *= 2;
    if (ep->backoff_ms > ep->ivl_max_ms)
        ep->backoff_ms = ep->ivl_max_ms;
}

static void connected(tn_ep *ep, int fd)
{
    tn_engine *e;
    if (tn_engine_start(ep->sock, fd, ep, ep->endpoint, 0, &e) == TERN_OK)
        add_engine(ep, e);
    else
        retry_later(ep, "cannot start a connection");
}

static void on_connect_done(void *arg, uint32_t events)
{
    tn_ep *ep = arg;
    (void)events;
    int fd = ep->ioh.fd;
    tn_loop_unwatch(ep->sock->loop, &ep->ioh);
    ep->watching = 0;
    ep->ioh.fd = -1;
    tern_err err = tn_stream_connect_result(fd);
    if (err != TERN_OK) {
        close(fd);
        char why[96];
        snprintf(why, sizeof(why), "connect failed: %s", tern_strerror(err));
        retry_later(ep, why);
        return;
    }
    connected(ep, fd);
}

static void try_connect(void *arg)
{
    tn_ep *ep = arg;
    int fd, in_progress;
    if (ep->stopped)
        return;
    tern_err err = tn_stream_connect(ep->t, &ep->addr, &fd, &in_progress);
    if (err != TERN_OK) {
        char why[96];
        snprintf(why, sizeof(why), "connect failed: %s", tern_strerror(err));
        retry_later(ep, why);
        return;
    }
    if (!in_progress) {
        connected(ep, fd);
        return;
    }
    ep->ioh = (tn_ioh){.fd = fd, .fn = on_connect_done, .arg = ep};
    if (tn_loop_watch(ep->sock->loop, &ep->ioh, EPOLLOUT) != TERN_OK) {
        close(fd);
        ep->ioh.fd = -1;
        retry_later(ep, "cannot watch the connecting socket");
        return;
    }
    ep->watching = 1;
}

void tn_ep_engine_gone(tn_ep *ep, tn_engine *e, int was_ready)
{
    for (size_t i = 0; i < ep->nengines; i++) {
        if (ep->engines[i] == e) {
            ep->engines[i] = ep->engines[--ep->nengines];
            break;
        }
    }
    if (ep->is_bind || ep->stopped)
        return;
    if (was_ready)
        ep->backoff_ms = ep->ivl_ms;
    retry_later(ep, "connection lost");
}

/* ---- creation and teardown --------------------------------------------- */

static void start_listener(void *arg)
{
    tn_ep *ep = arg;
    if (tn_loop_watch(ep->sock->loop, &ep->ioh, EPOLLIN) == TERN_OK)
        ep->watching = 1;
    else
        tn_trace(TERN_TRACE_IO, "%s: cannot watch the listening socket", ep->endpoint);
}

static tn_ep *ep_new(tn_sock *s, const tn_stream_transport *t, int is_bind)
{
    tn_ep *ep = calloc(1, sizeof(*ep));
    if (ep == NULL)
        return NULL;
    ep->sock = s;
    ep->t = t;
    ep->is_bind = is_bind;
    ep->ioh.fd = -1;
    ep->timer.arg = ep;
    ep->start.arg = ep;
    return ep;
}

/* Links ep into s and hands it to the loop; fails if s is closing. */
static tern_err ep_register(tn_sock *s, tn_ep *ep)
{
    pthread_mutex_lock(&s->lock);
    if (s->closing) {
        pthread_mutex_unlock(&s->lock);
        return TERN_ECLOSED;
    }
    ep->ivl_ms = ep->backoff_ms = (uint64_t)s->opt.reconnect_ivl;
    ep->ivl_max_ms = (uint64_t)s->opt.reconnect_ivl_max;
    if (ep->ivl_max_ms < ep->ivl_ms)
        ep->ivl_max_ms = ep->ivl_ms;
    if (ep->is_bind)
        snprintf(s->last_endpoint, sizeof(s->last_endpoint), "%s", ep->endpoint);
    ep->next = s->eps;
    s->eps = ep;
    tn_loop_post(s->loop, &ep->start);
    pthread_mutex_unlock(&s->lock);
    return TERN_OK;
}

tern_err tn_stream_bind(tn_sock *s, const tn_stream_transport *t, const char *addr)
{
    tn_addr want, bound;
    int fd;
    tern_err err = t->resolve(addr, 1, &want);
    if (err != TERN_OK)
        return err;
    err = tn_stream_listen(t, &want, &fd, &bound);
    if (err != TERN_OK)
        return err;
    tn_ep *ep = ep_new(s, t, 1);
    if (ep == NULL) {
        close(fd);
        return TERN_ENOMEM;
    }
    ep->addr = bound;
    t->format(&bound, ep->endpoint, sizeof(ep->endpoint));
    ep->ioh = (tn_ioh){.fd = fd, .fn = on_accept, .arg = ep};
    ep->timer.fn = listener_resume;
    ep->start.fn = start_listener;
    err = ep_register(s, ep);
    if (err != TERN_OK) {
        close(fd);
        t->unbind(&bound);
        free(ep);
        return err;
    }
    tn_trace(TERN_TRACE_IO, "%s: listening", ep->endpoint);
    tn_sock_event(s, TERN_EV_LISTENING, 0, ep->endpoint, NULL, NULL);
    return TERN_OK;
}

tern_err tn_stream_connect_ep(tn_sock *s, const tn_stream_transport *t, const char *addr)
{
    tn_addr target;
    tern_err err = t->resolve(addr, 0, &target);
    if (err != TERN_OK)
        return err;
    tn_ep *ep = ep_new(s, t, 0);
    if (ep == NULL)
        return TERN_ENOMEM;
    ep->addr = target;
    snprintf(ep->endpoint, sizeof(ep->endpoint), "%s://%s", t->scheme, addr);
    ep->timer.fn = try_connect;
    ep->start.fn = try_connect;
    err = ep_register(s, ep);
    if (err != TERN_OK)
        free(ep);
    return err;
}

void tn_stream_teardown(tn_sock *s)
{
    pthread_mutex_lock(&s->lock);
    tn_ep *ep = s->eps;
    s->eps = NULL;
    pthread_mutex_unlock(&s->lock);
    while (ep != NULL) {
        tn_ep *next = ep->next;
        ep->stopped = 1;
        tn_timer_cancel(s->loop, &ep->timer);
        if (ep->watching)
            tn_loop_unwatch(s->loop, &ep->ioh);
        if (ep->ioh.fd >= 0)
            close(ep->ioh.fd);
        if (ep->is_bind)
            ep->t->unbind(&ep->addr);
        while (ep->nengines > 0)
            tn_engine_kill(ep->engines[ep->nengines - 1], "socket closed");
        free(ep->engines);
        tn_sock_event(s, TERN_EV_CLOSED, 0, ep->endpoint, NULL, NULL);
        free(ep);
        ep = next;
    }
}
