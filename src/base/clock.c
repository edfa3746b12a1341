/* Clocks in nanoseconds. */
#include <time.h>

#include "tern/base.h"

static uint64_t read_clock(clockid_t id)
{
    struct timespec ts;
    /* Cannot fail for the two clocks used here (valid id, valid pointer). */
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t tern_clock_ns(void)
{
    return read_clock(CLOCK_MONOTONIC);
}

uint64_t tern_clock_wall_ns(void)
{
    return read_clock(CLOCK_REALTIME);
}
