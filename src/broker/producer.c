/* Idempotent-producer state: sequence rules and the table by producer id. */
#include "broker/producer.h"

#include <stdlib.h>
#include <string.h>

#define MIN_CAP 16

void tn_producers_init(tn_producers *ps)
{
    memset(ps, 0, sizeof *ps);
}

void tn_producers_free(tn_producers *ps)
{
    free(ps->slot);
    tn_producers_init(ps);
}

void tn_producers_clear(tn_producers *ps)
{
    for (size_t i = 0; i < ps->cap; i++)
        ps->slot[i].id = -1;
    ps->count = 0;
}

static size_t home(int64_t id, size_t cap)
{
    uint64_t h = (uint64_t)id * 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 32) & (cap - 1);
}

/* The slot holding id, or the free slot where it would go. */
static tn_producer *probe(tn_producer *slot, size_t cap, int64_t id)
{
    size_t i = home(id, cap);
    while (slot[i].id != -1 && slot[i].id != id)
        i = (i + 1) & (cap - 1);
    return &slot[i];
}

const tn_producer *tn_producers_find(const tn_producers *ps, int64_t id)
{
    if (ps->cap == 0 || id < 0)
        return NULL;
    const tn_producer *p = probe(ps->slot, ps->cap, id);
    return p->id == id ? p : NULL;
}

/* Moves every producer whose newest batch ends at or above start into a
 * fresh table of cap slots. */
static int rehash(tn_producers *ps, size_t cap, int64_t start)
{
    tn_producer *slot = malloc(cap * sizeof *slot);
    if (slot == NULL)
        return -1;
    for (size_t i = 0; i < cap; i++)
        slot[i].id = -1;
    size_t count = 0;
    for (size_t i = 0; i < ps->cap; i++) {
        const tn_producer *p = &ps->slot[i];
        if (p->id == -1 || p->b[p->newest].last < start)
            continue;
        *probe(slot, cap, p->id) = *p;
        count++;
    }
    free(ps->slot);
    ps->slot = slot;
    ps->cap = cap;
    ps->count = count;
    return 0;
}

int tn_producers_reserve(tn_producers *ps, size_t more)
{
    /* Keep the load at most one half so probes stay short. */
    if (more > SIZE_MAX / 4 - ps->count)
        return -1;
    size_t want = (ps->count + more) * 2;
    if (want <= ps->cap)
        return 0;
    size_t cap = ps->cap ? ps->cap : MIN_CAP;
    while (cap < want)
        cap *= 2;
    return rehash(ps, cap, INT64_MIN);
}

void tn_producers_add(tn_producers *ps, int64_t id, int16_t epoch, const tn_pbatch *b)
{
    tn_producer *p = probe(ps->slot, ps->cap, id);
    if (p->id != id) {
        p->id = id;
        p->n = 0;
        ps->count++;
    } else if (p->epoch != epoch) {
        p->n = 0;
    }
    p->epoch = epoch;
    p->newest = p->n == 0 ? 0 : (uint8_t)((p->newest + 1) % TN_PRODUCER_BATCHES);
    p->b[p->newest] = *b;
    if (p->n < TN_PRODUCER_BATCHES)
        p->n++;
}

void tn_producers_expire(tn_producers *ps, int64_t start)
{
    size_t dead = 0;
    for (size_t i = 0; i < ps->cap; i++) {
        const tn_producer *p = &ps->slot[i];
        dead += p->id != -1 && p->b[p->newest].last < start;
    }
    /* A failed allocation keeps them: stale entries cost memory only. */
    if (dead > 0)
        (void)rehash(ps, ps->cap, start);
}

int32_t tn_seq_next(int32_t s)
{
    return s == INT32_MAX ? 0 : s + 1;
}

int32_t tn_seq_last(int32_t first, int32_t d)
{
    return (int32_t)(((int64_t)first + d) % ((int64_t)INT32_MAX + 1));
}

int tn_producer_check(const tn_producer *p, int16_t epoch, int32_t first, int32_t last,
                      int64_t *dup_base)
{
    if (first < 0)
        return TN_SEQ_OUT_OF_ORDER;
    if (p == NULL || epoch > p->epoch)
        return TN_SEQ_OK;
    if (epoch < p->epoch)
        return TN_SEQ_FENCED;
    for (int i = 0; i < p->n; i++) {
        if (p->b[i].first_seq == first && p->b[i].last_seq == last) {
            *dup_base = p->b[i].base;
            return TN_SEQ_DUPLICATE;
        }
    }
    return first == tn_seq_next(p->b[p->newest].last_seq) ? TN_SEQ_OK : TN_SEQ_OUT_OF_ORDER;
}
