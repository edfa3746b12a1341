/* Reply cache and per-client records (at-most-once execution). */
#include <stdlib.h>
#include <string.h>

#include "rpc/cache.h"

/* Running calls are bounded too, so a flood cannot grow the table forever. */
#define MAX_RUNNING 65536
/* And clients remembered at once. */
#define MAX_PEERS 65536

static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static size_t peer_slot(const tn_rpc_cache *c, const uint8_t *id, size_t len)
{
    return (size_t)hash_bytes(id, len) & (c->peers_cap - 1);
}

static size_t entry_slot(const tn_rpc_cache *c, const tn_rpc_peer *p, uint64_t call_id)
{
    uint64_t h = (uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ull ^ call_id * 0xC2B2AE3D27D4EB4Full;
    return (size_t)(h >> 17) & (c->entries_cap - 1);
}

tern_err tn_rpc_cache_init(tn_rpc_cache *c, size_t max_entries, size_t max_bytes, uint64_t ttl_ns)
{
    memset(c, 0, sizeof *c);
    c->max_entries = max_entries;
    c->max_bytes = max_bytes;
    c->ttl_ns = ttl_ns;
    c->peers_cap = 64;
    c->entries_cap = 1024;
    c->peers = calloc(c->peers_cap, sizeof *c->peers);
    c->entries = calloc(c->entries_cap, sizeof *c->entries);
    if (c->peers == NULL || c->entries == NULL) {
        free(c->peers);
        free(c->entries);
        return TERN_ENOMEM;
    }
    return TERN_OK;
}

void tn_rpc_cache_fini(tn_rpc_cache *c)
{
    for (size_t i = 0; i < c->entries_cap; i++) {
        for (tn_rpc_entry *e = c->entries[i], *next; e; e = next) {
            next = e->next;
            tern_msg_free(e->reply);
            free(e);
        }
    }
    for (size_t i = 0; i < c->peers_cap; i++) {
        for (tn_rpc_peer *p = c->peers[i], *next; p; p = next) {
            next = p->next;
            free(p);
        }
    }
    free(c->entries);
    free(c->peers);
    memset(c, 0, sizeof *c);
}

static void grow_peers(tn_rpc_cache *c)
{
    size_t cap = c->peers_cap * 2;
    tn_rpc_peer **t = calloc(cap, sizeof *t);
    if (t == NULL)
        return; /* stays slower, still correct */
    tn_rpc_peer **old = c->peers;
    size_t old_cap = c->peers_cap;
    c->peers = t;
    c->peers_cap = cap;
    for (size_t i = 0; i < old_cap; i++) {
        for (tn_rpc_peer *p = old[i], *next; p; p = next) {
            next = p->next;
            size_t k = peer_slot(c, p->id, p->id_len);
            p->next = t[k];
            t[k] = p;
        }
    }
    free(old);
}

tn_rpc_peer *tn_rpc_cache_peer(tn_rpc_cache *c, const uint8_t *id, size_t len, bool create)
{
    if (len > TN_RPC_ID_MAX)
        return NULL;
    for (tn_rpc_peer *p = c->peers[peer_slot(c, id, len)]; p; p = p->next) {
        if (p->id_len == len && memcmp(p->id, id, len) == 0)
            return p;
    }
    if (!create || c->npeers >= MAX_PEERS)
        return NULL;
    if (c->npeers + 1 > c->peers_cap)
        grow_peers(c);
    tn_rpc_peer *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    memcpy(p->id, id, len);
    p->id_len = len;
    p->last_seen_ns = tern_clock_ns();
    size_t k = peer_slot(c, id, len);
    p->next = c->peers[k];
    c->peers[k] = p;
    c->npeers++;
    return p;
}

static void grow_entries(tn_rpc_cache *c)
{
    size_t cap = c->entries_cap * 2;
    tn_rpc_entry **t = calloc(cap, sizeof *t);
    if (t == NULL)
        return;
    tn_rpc_entry **old = c->entries;
    size_t old_cap = c->entries_cap;
    c->entries = t;
    c->entries_cap = cap;
    for (size_t i = 0; i < old_cap; i++) {
        for (tn_rpc_entry *e = old[i], *next; e; e = next) {
            next = e->next;
            size_t k = entry_slot(c, e->peer, e->call_id);
            e->next = t[k];
            t[k] = e;
        }
    }
    free(old);
}

tn_rpc_entry *tn_rpc_cache_find(tn_rpc_cache *c, tn_rpc_peer *p, uint64_t call_id)
{
    for (tn_rpc_entry *e = c->entries[entry_slot(c, p, call_id)]; e; e = e->next) {
        if (e->peer == p && e->call_id == call_id)
            return e;
    }
    return NULL;
}

tern_err tn_rpc_cache_begin(tn_rpc_cache *c, tn_rpc_peer *p, uint64_t call_id, bool resend,
                            tn_rpc_entry **ep, int *state)
{
    tn_rpc_entry *e = tn_rpc_cache_find(c, p, call_id);
    if (e != NULL) {
        *ep = e;
        *state = e->done ? TN_RPC_DONE : TN_RPC_RUNNING;
        return TERN_OK;
    }
    if (resend && call_id <= p->evicted_upto) {
        *ep = NULL;
        *state = TN_RPC_FORGOTTEN;
        return TERN_OK;
    }
    if (c->nentries - c->ndone >= MAX_RUNNING)
        return TERN_ENOMEM;
    if (c->nentries + 1 > c->entries_cap)
        grow_entries(c);
    e = calloc(1, sizeof *e);
    if (e == NULL)
        return TERN_ENOMEM;
    e->peer = p;
    e->call_id = call_id;
    size_t k = entry_slot(c, p, call_id);
    e->next = c->entries[k];
    c->entries[k] = e;
    c->nentries++;
    p->entries++;
    *ep = e;
    *state = TN_RPC_FRESH;
    return TERN_OK;
}

void tn_rpc_cache_finish(tn_rpc_cache *c, tn_rpc_entry *e, tern_msg *reply)
{
    e->done = true;
    e->reply = reply;
    e->created_ns = tern_clock_ns();
    c->ndone++;
    e->bytes = sizeof *e + (reply ? tern_msg_total(reply) : 0);
    c->bytes += e->bytes;
    /* Age order is the order calls finished in. */
    e->older = c->newest;
    e->newer = NULL;
    if (c->newest)
        c->newest->newer = e;
    else
        c->oldest = e;
    c->newest = e;
}

static void evict(tn_rpc_cache *c, tn_rpc_entry *e)
{
    if (e->older)
        e->older->newer = e->newer;
    else
        c->oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        c->newest = e->older;
    for (tn_rpc_entry **pp = &c->entries[entry_slot(c, e->peer, e->call_id)]; *pp;
         pp = &(*pp)->next) {
        if (*pp == e) {
            *pp = e->next;
            break;
        }
    }
    if (e->call_id > e->peer->evicted_upto)
        e->peer->evicted_upto = e->call_id;
    e->peer->entries--;
    c->nentries--;
    c->ndone--;
    c->bytes -= e->bytes;
    tern_msg_free(e->reply);
    free(e);
}

/* A client's ids count up one by one, so each call acknowledges about one
 * more; a bigger jump (the first call after a rebind) only looks this far
 * back, and trimming ages out the rest. */
#define ACK_SCAN_MAX 64

void tn_rpc_cache_ack(tn_rpc_cache *c, tn_rpc_peer *p, uint64_t acked)
{
    if (acked <= p->acked)
        return;
    uint64_t from = acked - p->acked > ACK_SCAN_MAX ? acked - ACK_SCAN_MAX : p->acked;
    p->acked = acked;
    for (uint64_t id = from; id < acked; id++) {
        tn_rpc_entry *e = tn_rpc_cache_find(c, p, id);
        if (e && e->done)
            evict(c, e);
    }
}

void tn_rpc_cache_trim(tn_rpc_cache *c, uint64_t now_ns)
{
    while (c->oldest) {
        tn_rpc_entry *e = c->oldest;
        bool expired = now_ns - e->created_ns > c->ttl_ns;
        if (!expired && c->ndone <= c->max_entries && c->bytes <= c->max_bytes)
            break;
        evict(c, e);
    }
}

void tn_rpc_cache_sweep(tn_rpc_cache *c, uint64_t now_ns, uint64_t idle_ns)
{
    for (size_t i = 0; i < c->peers_cap; i++) {
        for (tn_rpc_peer **pp = &c->peers[i]; *pp;) {
            tn_rpc_peer *p = *pp;
            if (p->entries == 0 && p->handles == 0 && p->last_seen_ns < now_ns &&
                now_ns - p->last_seen_ns > idle_ns) {
                *pp = p->next;
                c->npeers--;
                free(p);
            } else {
                pp = &p->next;
            }
        }
    }
}
