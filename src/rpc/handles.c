/* Context handles and their rundown. */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/endian.h"
#include "base/trace.h"
#include "rpc/handles.h"

struct tn_rpc_handle_entry {
    tn_rpc_handle_entry *next;
    tern_rpc_handle handle;
    tn_rpc_peer *owner;
    void *state;
    tern_rpc_rundown_fn *rundown;
};

void tn_rpc_handles_init(tn_rpc_handles *t)
{
    memset(t, 0, sizeof *t);
    if (getrandom(&t->secret, sizeof t->secret, 0) != (ssize_t)sizeof t->secret)
        t->secret = tern_clock_wall_ns() ^ (uint64_t)(uintptr_t)t;
}

tern_err tn_rpc_handles_add(tn_rpc_handles *t, tn_rpc_peer *owner, void *state, tern_rpc_rundown_fn *rundown,
                            tern_rpc_handle *h)
{
    tn_rpc_handle_entry *e = calloc(1, sizeof *e);
    if (e == NULL)
        return TERN_ENOMEM;
    tn_put_be64(e->handle.b, t->secret);
    tn_put_be64(e->handle.b + 8, ++t->next);
    e->owner = owner;
    e->state = state;
    e->rundown = rundown;
    e->next = t->list;
    t->list = e;
    t->count++;
    owner->handles++;
    *h = e->handle;
    return TERN_OK;
}

static tn_rpc_handle_entry **find(tn_rpc_handles *t, tn_rpc_peer *owner, const tern_rpc_handle *h)
{
    for (tn_rpc_handle_entry **pp = &t->list; *pp; pp = &(*pp)->next) {
        if (memcmp((*pp)->handle.b, h->b, 16) == 0)
            return (*pp)->owner == owner ? pp : NULL;
    }
    return NULL;
}

tern_err tn_rpc_handles_get(tn_rpc_handles *t, tn_rpc_peer *owner, const tern_rpc_handle *h, void **state)
{
    tn_rpc_handle_entry **pp = find(t, owner, h);
    if (pp == NULL)
        return TERN_ENOENT;
    *state = (*pp)->state;
    return TERN_OK;
}

static tn_rpc_handle_entry *unlink_entry(tn_rpc_handles *t, tn_rpc_handle_entry **pp)
{
    tn_rpc_handle_entry *e = *pp;
    *pp = e->next;
    t->count--;
    e->owner->handles--;
    return e;
}

tern_err tn_rpc_handles_drop(tn_rpc_handles *t, tn_rpc_peer *owner, const tern_rpc_handle *h)
{
    tn_rpc_handle_entry **pp = find(t, owner, h);
    if (pp == NULL)
        return TERN_ENOENT;
    free(unlink_entry(t, pp));
    return TERN_OK;
}

static void run_down(tn_rpc_handle_entry *e, pthread_mutex_t *lock)
{
    pthread_mutex_unlock(lock);
    if (e->rundown)
        e->rundown(e->state);
    pthread_mutex_lock(lock);
    free(e);
}

/* Whether the owner has been gone longer than gone_ns (it may have been
 * seen after now_ns was read). */
static bool gone(const tn_rpc_peer *owner, uint64_t now_ns, uint64_t gone_ns)
{
    return owner->last_seen_ns < now_ns && now_ns - owner->last_seen_ns > gone_ns;
}

void tn_rpc_handles_rundown(tn_rpc_handles *t, uint64_t now_ns, uint64_t gone_ns, pthread_mutex_t *lock)
{
    for (;;) {
        tn_rpc_handle_entry **pp = &t->list;
        while (*pp && !gone((*pp)->owner, now_ns, gone_ns))
            pp = &(*pp)->next;
        if (*pp == NULL)
            return;
        tn_rpc_handle_entry *e = unlink_entry(t, pp);
        tn_trace(TERN_TRACE_RPC, "context handle run down: its client has been gone %llu ms",
                 (unsigned long long)((now_ns - e->owner->last_seen_ns) / 1000000u));
        run_down(e, lock); /* the list may change meanwhile: start over */
        now_ns = tern_clock_ns();
    }
}

void tn_rpc_handles_fini(tn_rpc_handles *t, pthread_mutex_t *lock)
{
    while (t->list)
        run_down(unlink_entry(t, &t->list), lock);
}
