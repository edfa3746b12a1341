/* Typed ids for objects shared between threads (sockets). A call resolves
 * the id, pins the object while it runs, and unpins it; an id whose object
 * was closed resolves to nothing, so a stale handle gives TERN_ECLOSED
 * instead of a use-after-free. Slots are never freed, only reused under a
 * new generation, which is what makes lock-free pinning safe. */
#ifndef TN_BASE_HANDLE_H
#define TN_BASE_HANDLE_H

#include <stdint.h>

#include "tern/base.h"

/* Assigns a fresh id (never 0) to obj. */
tern_err tn_handle_add(void *obj, uint32_t *idp);
/* Pins and returns the object, or NULL if the id is closed or unknown. */
void *tn_handle_pin(uint32_t id);
void tn_handle_unpin(uint32_t id);
/* Makes new pins fail, waits until only `own` pins remain (the caller's
 * own, which this drops: do not unpin them), and frees the id for reuse. */
void tn_handle_remove(uint32_t id, uint32_t own);

#endif
