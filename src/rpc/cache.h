/* The server's memory of its clients: for each client (by routing id) the
 * calls it made recently and their replies — at-most-once execution — and
 * the context handles it owns. No lock of its own: the server's lock
 * guards it. */
#ifndef TN_RPC_CACHE_H
#define TN_RPC_CACHE_H

#include <stdatomic.h>

#include "tern/rpc.h"

#define TN_RPC_ID_MAX 255

typedef struct tn_rpc_peer tn_rpc_peer;
typedef struct tn_rpc_entry tn_rpc_entry;

struct tn_rpc_peer {
    tn_rpc_peer *next; /* hash chain */
    uint8_t id[TN_RPC_ID_MAX];
    size_t id_len;
    uint64_t evicted_upto; /* highest call id whose entry was evicted */
    uint64_t acked;        /* the client has the answers to every call below this */
    uint64_t last_seen_ns; /* last call, or last time seen connected */
    size_t entries, handles;
};

struct tn_rpc_entry {
    tn_rpc_entry *next;          /* hash chain */
    tn_rpc_entry *older, *newer; /* age order */
    tn_rpc_peer *peer;
    uint64_t call_id;
    uint64_t created_ns; /* when it finished */
    tern_msg *reply;     /* when done: the reply as sent (NULL for a one-way call) */
    size_t bytes;
    bool done;
    atomic_bool cancelled;
};

typedef struct tn_rpc_cache {
    tn_rpc_peer **peers;
    size_t peers_cap, npeers;
    tn_rpc_entry **entries;
    size_t entries_cap, nentries, ndone;
    tn_rpc_entry *oldest, *newest;
    size_t bytes;
    size_t max_entries, max_bytes;
    uint64_t ttl_ns;
} tn_rpc_cache;

tern_err tn_rpc_cache_init(tn_rpc_cache *c, size_t max_entries, size_t max_bytes, uint64_t ttl_ns);
/* Frees every entry and peer. */
void tn_rpc_cache_fini(tn_rpc_cache *c);

/* The peer with this id, created if create (NULL if absent, out of memory,
 * or too many peers are remembered already). */
tn_rpc_peer *tn_rpc_cache_peer(tn_rpc_cache *c, const uint8_t *id, size_t len, bool create);

enum {
    TN_RPC_FRESH,     /* first time seen: *e is a new running entry */
    TN_RPC_RUNNING,   /* a copy of a call still running: *e is it */
    TN_RPC_DONE,      /* already answered: *e holds the reply */
    TN_RPC_FORGOTTEN, /* a resend of a call whose entry was evicted: it may have run */
};
/* Looks a call up, adding a running entry when it is new. TERN_ENOMEM
 * when full of running calls or out of memory. */
tern_err tn_rpc_cache_begin(tn_rpc_cache *c, tn_rpc_peer *p, uint64_t call_id, bool resend,
                            tn_rpc_entry **e, int *state);
/* Records the reply of a running entry (takes reply; NULL for none). */
void tn_rpc_cache_finish(tn_rpc_cache *c, tn_rpc_entry *e, tern_msg *reply);
tn_rpc_entry *tn_rpc_cache_find(tn_rpc_cache *c, tn_rpc_peer *p, uint64_t call_id);
/* The client says it has the answers to every call below acked: their
 * replies go now (entries still running stay). */
void tn_rpc_cache_ack(tn_rpc_cache *c, tn_rpc_peer *p, uint64_t acked);
/* Evicts finished entries past their time or beyond the limits. */
void tn_rpc_cache_trim(tn_rpc_cache *c, uint64_t now_ns);
/* Forgets clients with nothing cached and no handles, unseen for idle_ns. */
void tn_rpc_cache_sweep(tn_rpc_cache *c, uint64_t now_ns, uint64_t idle_ns);

#endif
