/* Recycled memory for message bodies. A message's bytes are often
 * allocated by an I/O thread and freed by an application thread; with
 * malloc alone the allocating thread's arena then shrinks and grows again,
 * faulting fresh pages for almost every message (one page fault per 4 KiB
 * RPC call). Blocks of 2 KiB to 256 KiB are kept in per-size free lists
 * instead, up to about 2 MiB per size; smaller ones are left to malloc,
 * whose per-thread caches serve them best. */
#ifndef TN_BASE_POOL_H
#define TN_BASE_POOL_H

#include <stddef.h>

/* size bytes (plus room the caller accounts for itself), or NULL. */
void *tn_pool_alloc(size_t size);
/* Gives back a block from tn_pool_alloc of that same size. */
void tn_pool_free(void *p, size_t size);

#endif
