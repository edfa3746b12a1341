/* Bounded single-producer/single-consumer ring of messages. The bound is
 * the high-water mark; the slot array is the next power of two. */
#include <stdlib.h>

#include "msg/sock.h"

tern_err tn_ring_init(tn_ring *r, uint64_t hwm)
{
    uint64_t cap = 16;
    while (cap < hwm)
        cap *= 2;
    r->slots = malloc(cap * sizeof(*r->slots));
    if (r->slots == NULL)
        return TERN_ENOMEM;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    r->head_seen = r->tail_seen = 0;
    r->hwm = hwm;
    r->mask = cap - 1;
    return TERN_OK;
}

uint64_t tn_ring_fini(tn_ring *r)
{
    uint64_t n = 0;
    tern_msg *m;
    while ((m = tn_ring_pop(r)) != NULL) {
        tern_msg_free(m);
        n++;
    }
    free(r->slots);
    r->slots = NULL;
    return n;
}

int tn_ring_full(tn_ring *r)
{
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    if (tail - r->head_seen < r->hwm)
        return 0;
    r->head_seen = atomic_load(&r->head);
    return tail - r->head_seen >= r->hwm;
}

int tn_ring_empty(const tn_ring *r)
{
    return atomic_load_explicit(&r->head, memory_order_relaxed) ==
           atomic_load_explicit(&r->tail, memory_order_acquire);
}

uint64_t tn_ring_count(const tn_ring *r)
{
    return atomic_load_explicit(&r->tail, memory_order_acquire) -
           atomic_load_explicit(&r->head, memory_order_acquire);
}

void tn_ring_push(tn_ring *r, tern_msg *m)
{
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    r->slots[tail & r->mask] = m;
    atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
}

tern_msg *tn_ring_pop(tn_ring *r)
{
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    if (head == r->tail_seen) {
        r->tail_seen = atomic_load_explicit(&r->tail, memory_order_acquire);
        if (head == r->tail_seen)
            return NULL;
    }
    tern_msg *m = r->slots[head & r->mask];
    atomic_store_explicit(&r->head, head + 1, memory_order_release);
    return m;
}
