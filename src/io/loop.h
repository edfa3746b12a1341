/* An I/O thread: one epoll loop with timers and a queue of tasks posted
 * from other threads. Handlers, timers and tasks all run on the loop's own
 * thread; only tn_loop_post() may be called from anywhere. */
#ifndef TN_IO_LOOP_H
#define TN_IO_LOOP_H

#include <stdint.h>

#include "tern/base.h"

typedef struct tn_loop tn_loop;

/* A file descriptor watched by the loop; embed it in the owner. */
typedef struct tn_ioh {
    int fd;
    uint32_t events; /* EPOLLIN | EPOLLOUT currently armed */
    void (*fn)(void *arg, uint32_t events);
    void *arg;
} tn_ioh;

typedef struct tn_timer {
    uint64_t when;  /* tern_clock_ns() deadline */
    size_t slot;    /* index in the heap + 1; 0 when not armed */
    void (*fn)(void *arg);
    void *arg;
} tn_timer;

/* A unit of work handed to the loop; embed it in the owner. Posting a task
 * that is already queued is a no-op. */
typedef struct tn_task {
    struct tn_task *next;
    int queued;
    void (*fn)(void *arg);
    void *arg;
} tn_task;

tern_err tn_loop_start(tn_loop **loopp);
/* Runs the remaining tasks, stops and joins the thread, frees the loop. */
void tn_loop_stop(tn_loop *loop);
int tn_loop_on_thread(const tn_loop *loop);

void tn_loop_post(tn_loop *loop, tn_task *task);

tern_err tn_loop_watch(tn_loop *loop, tn_ioh *ioh, uint32_t events);
void tn_loop_rewatch(tn_loop *loop, tn_ioh *ioh, uint32_t events);
void tn_loop_unwatch(tn_loop *loop, tn_ioh *ioh);
/* A connection that wants low latency joins (+1) or leaves (-1): while any
 * is there, the loop busy-polls for a short while after each batch of
 * events instead of sleeping at once. Any thread. */
void tn_loop_spin(tn_loop *loop, int delta);

void tn_timer_arm(tn_loop *loop, tn_timer *t, uint64_t when);
void tn_timer_cancel(tn_loop *loop, tn_timer *t);

#endif
