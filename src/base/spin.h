/* Busy-polling that gives way.
 *
 * Threads that poll for an answer yield between looks. A yield that kept
 * the thread off its CPU for long means another task wants that CPU (a
 * batch job beside us, say): polling then only slows both down, and each
 * yield may wait out the other task's whole time slice (3 ms here, even
 * for a niced job). So the thread stops polling for a while and sleeps
 * instead: being woken preempts such a task at once. */
#ifndef TN_BASE_SPIN_H
#define TN_BASE_SPIN_H

#include <stdbool.h>

/* Whether this thread may start polling now. */
bool tn_spin_allowed(void);
/* Yields the CPU; false when the thread should stop polling and sleep. */
bool tn_spin_yield(void);

#endif
