/* Busy-polling that gives way (see spin.h). */
#include <sched.h>
#include <stdint.h>

#include "base/spin.h"
#include "tern/base.h"

/* Off the CPU this long in one yield: someone else is running there. */
#define STALL_NS 1000000u
/* Then no polling for this long: one stall per 100 ms instead of one per
 * wait. */
#define BACK_OFF_NS 100000000u

static _Thread_local uint64_t spin_off_until;

bool tn_spin_allowed(void)
{
    return spin_off_until == 0 || tern_clock_ns() >= spin_off_until;
}

bool tn_spin_yield(void)
{
    uint64_t before = tern_clock_ns();
    sched_yield();
    uint64_t after = tern_clock_ns();
    if (after - before < STALL_NS)
        return true;
    spin_off_until = after + BACK_OFF_NS;
    return false;
}
