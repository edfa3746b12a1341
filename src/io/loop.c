/* The I/O thread. Timers live in a binary min-heap; tasks in a mutex-guarded
 * list whose empty -> non-empty transition writes the loop's eventfd, so a
 * burst of posts costs one wake-up. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/spin.h"
#include "base/trace.h"
#include "io/loop.h"

struct tn_loop {
    int epfd;
    tn_ioh wake;
    pthread_t thread;
    int stopping;
    pthread_mutex_t lock;
    tn_task *head, *tail;
    tn_timer **heap;
    size_t nheap, capheap;
    atomic_int spinners; /* connections that asked for low latency */
};

static _Thread_local const tn_loop *current_loop;

int tn_loop_on_thread(const tn_loop *loop)
{
    return current_loop == loop;
}

/* ---- timers ------------------------------------------------------------ */

static void heap_set(tn_loop *l, size_t i, tn_timer *t)
{
    l->heap[i] = t;
    t->slot = i + 1;
}

static void heap_up(tn_loop *l, size_t i)
{
    tn_timer *t = l->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (l->heap[parent]->when <= t->when)
            break;
        heap_set(l, i, l->heap[parent]);
        i = parent;
    }
    heap_set(l, i, t);
}

static void heap_down(tn_loop *l, size_t i)
{
    tn_timer *t = l->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= l->nheap)
            break;
        if (c + 1 < l->nheap && l->heap[c + 1]->when < l->heap[c]->when)
            c++;
        if (t->when <= l->heap[c]->when)
            break;
        heap_set(l, i, l->heap[c]);
        i = c;
    }
    heap_set(l, i, t);
}

void tn_timer_cancel(tn_loop *l, tn_timer *t)
{
    if (t->slot == 0)
        return;
    size_t i = t->slot - 1;
    t->slot = 0;
    tn_timer *last = l->heap[--l->nheap];
    if (i == l->nheap)
        return;
    heap_set(l, i, last);
    heap_up(l, i);
    heap_down(l, last->slot - 1);
}

void tn_timer_arm(tn_loop *l, tn_timer *t, uint64_t when)
{
    tn_timer_cancel(l, t);
    if (l->nheap == l->capheap) {
        size_t ncap = l->capheap ? l->capheap * 2 : 64;
        tn_timer **nh = realloc(l->heap, ncap * sizeof(*nh));
        if (nh == NULL) {
            /* Timers guard liveness (handshake, heartbeat, reconnect); losing
             * one silently would hang a peer, so fail loudly in the trace
             * and retry on the next arm. */
            tn_trace(TERN_TRACE_IO, "out of memory arming a timer");
            return;
        }
        l->heap = nh;
        l->capheap = ncap;
    }
    t->when = when;
    heap_set(l, l->nheap++, t);
    heap_up(l, l->nheap - 1);
}

static int run_timers(tn_loop *l)
{
    uint64_t now = tern_clock_ns();
    while (l->nheap > 0 && l->heap[0]->when <= now) {
        tn_timer *t = l->heap[0];
        tn_timer_cancel(l, t);
        t->fn(t->arg);
    }
    if (l->nheap == 0)
        return -1;
    uint64_t wait = l->heap[0]->when - now;
    return (int)((wait + 999999) / 1000000);
}

/* ---- tasks ------------------------------------------------------------- */

void tn_loop_post(tn_loop *l, tn_task *task)
{
    int wake = 0;
    pthread_mutex_lock(&l->lock);
    if (!task->queued) {
        task->queued = 1;
        task->next = NULL;
        if (l->tail)
            l->tail->next = task;
        else {
            l->head = task;
            wake = 1;
        }
        l->tail = task;
    }
    pthread_mutex_unlock(&l->lock);
    if (wake) {
        uint64_t one = 1;
        while (write(l->wake.fd, &one, sizeof(one)) < 0 && errno == EINTR) {
        }
    }
}

static void run_tasks(tn_loop *l)
{
    pthread_mutex_lock(&l->lock);
    tn_task *t = l->head;
    l->head = l->tail = NULL;
    pthread_mutex_unlock(&l->lock);
    while (t != NULL) {
        tn_task *next = t->next;
        /* Cleared before running so the task may re-post itself. */
        pthread_mutex_lock(&l->lock);
        t->queued = 0;
        pthread_mutex_unlock(&l->lock);
        t->fn(t->arg);
        t = next;
    }
}

static void on_wake(void *arg, uint32_t events)
{
    tn_loop *l = arg;
    uint64_t n;
    (void)events;
    while (read(l->wake.fd, &n, sizeof(n)) < 0 && errno == EINTR) {
    }
    run_tasks(l);
}

/* ---- watching fds ------------------------------------------------------ */

tern_err tn_loop_watch(tn_loop *l, tn_ioh *ioh, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = ioh};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, ioh->fd, &ev) < 0)
        return tern_err_from_errno(errno);
    ioh->events = events;
    return TERN_OK;
}

void tn_loop_rewatch(tn_loop *l, tn_ioh *ioh, uint32_t events)
{
    if (ioh->events == events)
        return;
    struct epoll_event ev = {.events = events, .data.ptr = ioh};
    if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, ioh->fd, &ev) == 0)
        ioh->events = events;
}

void tn_loop_unwatch(tn_loop *l, tn_ioh *ioh)
{
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, ioh->fd, NULL);
    ioh->events = 0;
}

/* ---- the thread -------------------------------------------------------- */

/* How long the loop polls after a batch of events while low-latency
 * connections are open: long enough to catch the answer to a 64 KiB
 * request here, where at 50 us the loop often slept first and had to be
 * woken. RPC echo 64 KiB p50 164 -> 135 us (medians of 5 runs each);
 * null calls unchanged. */
#define LOOP_SPIN_NS 200000u

void tn_loop_spin(tn_loop *l, int delta)
{
    atomic_fetch_add_explicit(&l->spinners, delta, memory_order_relaxed);
}

static void *loop_main(void *arg)
{
    tn_loop *l = arg;
    struct epoll_event evs[64];
    current_loop = l;
    uint64_t spin_until = 0;
    while (!l->stopping) {
        int timeout = run_timers(l);
        int n;
        if (spin_until && tern_clock_ns() < spin_until) {
            /* Busy-polling: right after traffic the next event is likely
             * soon, and being woken for it costs more than looking. */
            n = epoll_wait(l->epfd, evs, 64, 0);
            if (n == 0) {
                if (!tn_spin_yield())
                    spin_until = 0;
                continue;
            }
        } else {
            n = epoll_wait(l->epfd, evs, 64, timeout);
        }
        spin_until = n > 0 && atomic_load_explicit(&l->spinners, memory_order_relaxed) > 0 &&
                             tn_spin_allowed()
                         ? tern_clock_ns() + LOOP_SPIN_NS
                         : 0;
        if (n < 0 && errno != EINTR) {
            tn_trace(TERN_TRACE_IO, "epoll_wait failed: errno %d", errno);
            break;
        }
        /* Tasks run after the whole batch: they free objects whose events
         * may still be pending later in this batch. */
        int woken = 0;
        for (int i = 0; i < n; i++) {
            tn_ioh *h = evs[i].data.ptr;
            if (h == &l->wake)
                woken = 1;
            else
                h->fn(h->arg, evs[i].events);
        }
        if (woken)
            on_wake(l, EPOLLIN);
    }
    run_tasks(l);
    return NULL;
}

static void stop_task(void *arg)
{
    ((tn_loop *)arg)->stopping = 1;
}

tern_err tn_loop_start(tn_loop **loopp)
{
    tn_loop *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return TERN_ENOMEM;
    pthread_mutex_init(&l->lock, NULL);
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->wake.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    l->wake.fn = on_wake;
    l->wake.arg = l;
    tern_err err = TERN_OK;
    if (l->epfd < 0 || l->wake.fd < 0)
        err = tern_err_from_errno(errno);
    else
        err = tn_loop_watch(l, &l->wake, EPOLLIN);
    if (err == TERN_OK && pthread_create(&l->thread, NULL, loop_main, l) != 0)
        err = TERN_ESYSTEM;
    if (err != TERN_OK) {
        if (l->epfd >= 0)
            close(l->epfd);
        if (l->wake.fd >= 0)
            close(l->wake.fd);
        pthread_mutex_destroy(&l->lock);
        free(l);
        return err;
    }
    *loopp = l;
    return TERN_OK;
}

void tn_loop_stop(tn_loop *l)
{
    tn_task stop = {.fn = stop_task, .arg = l};
    tn_loop_post(l, &stop);
    pthread_join(l->thread, NULL);
    close(l->epfd);
    close(l->wake.fd);
    pthread_mutex_destroy(&l->lock);
    free(l->heap);
    free(l);
}
