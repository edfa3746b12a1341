/* Condition variables timed on CLOCK_MONOTONIC, the clock tern_clock_ns
 * reads, so deadlines computed from it can be waited for directly. */
#ifndef TN_BASE_COND_H
#define TN_BASE_COND_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

static inline void tn_cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &ca);
    pthread_condattr_destroy(&ca);
}

/* Waits until signalled or until_ns (tern_clock_ns scale) passes;
 * ETIMEDOUT in the second case, as pthread_cond_timedwait. */
static inline int tn_cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, uint64_t until_ns)
{
    struct timespec ts = {.tv_sec = (time_t)(until_ns / 1000000000u), .tv_nsec = (long)(until_ns % 1000000000u)};
    return pthread_cond_timedwait(cv, mu, &ts);
}

#endif
