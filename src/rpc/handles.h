/* Context handles: server-side state a client refers to by 16 opaque
 * bytes, owned by that client and run down once it has been gone long
 * enough. Guarded by the server's lock. */
#ifndef TN_RPC_HANDLES_H
#define TN_RPC_HANDLES_H

#include <pthread.h>

#include "rpc/cache.h"

typedef struct tn_rpc_handle_entry tn_rpc_handle_entry;

typedef struct tn_rpc_handles {
    tn_rpc_handle_entry *list;
    size_t count;
    uint64_t next;     /* counter half of a handle */
    uint64_t secret;   /* random half: a handle cannot be guessed from another */
} tn_rpc_handles;

void tn_rpc_handles_init(tn_rpc_handles *t);
/* Runs every rundown (lock is released around each) and frees the table. */
void tn_rpc_handles_fini(tn_rpc_handles *t, pthread_mutex_t *lock);
tern_err tn_rpc_handles_add(tn_rpc_handles *t, tn_rpc_peer *owner, void *state, tern_rpc_rundown_fn *rundown,
                            tern_rpc_handle *h);
/* TERN_ENOENT unless h exists and owner owns it. */
tern_err tn_rpc_handles_get(tn_rpc_handles *t, tn_rpc_peer *owner, const tern_rpc_handle *h, void **state);
tern_err tn_rpc_handles_drop(tn_rpc_handles *t, tn_rpc_peer *owner, const tern_rpc_handle *h);
/* Runs down the handles of owners not seen for gone_ns (lock released
 * around each rundown). */
void tn_rpc_handles_rundown(tn_rpc_handles *t, uint64_t now_ns, uint64_t gone_ns, pthread_mutex_t *lock);

#endif
