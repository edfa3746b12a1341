/* Handle table: 256 pages of 1024 slots. A slot's state word packs the
 * generation (high 32 bits), a closed bit and the pin count, so pinning is
 * one compare-and-swap on that slot alone. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "base/handle.h"

#define PAGE_SLOTS 1024u
#define MAX_PAGES 256u
#define INDEX_BITS 18u
#define GEN_MASK 0x3fffu
#define CLOSED (1ull << 31)
#define PINS 0x7fffffffull

typedef struct slot {
    _Atomic uint64_t state; /* gen << 32 | closed | pins */
    void *_Atomic obj;
    uint32_t next_free;     /* index + 1, under table lock */
} slot;

static slot *_Atomic pages[MAX_PAGES];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t free_head; /* index + 1 of first free slot */
static uint32_t used;      /* slots ever handed out */

static slot *slot_at(uint32_t index)
{
    slot *page = atomic_load_explicit(&pages[index / PAGE_SLOTS], memory_order_acquire);
    return page ? &page[index % PAGE_SLOTS] : NULL;
}

static uint32_t gen_of(uint64_t state)
{
    return (uint32_t)(state >> 32) & GEN_MASK;
}

tern_err tn_handle_add(void *obj, uint32_t *idp)
{
    pthread_mutex_lock(&table_lock);
    uint32_t index;
    if (free_head != 0) {
        index = free_head - 1;
        free_head = slot_at(index)->next_free;
    } else {
        if (used == PAGE_SLOTS * MAX_PAGES || used + 1 >= (1u << INDEX_BITS)) {
            pthread_mutex_unlock(&table_lock);
            return TERN_ENOMEM;
        }
        index = used;
        if (index % PAGE_SLOTS == 0 && slot_at(index) == NULL) {
            slot *page = calloc(PAGE_SLOTS, sizeof(slot));
            if (page == NULL) {
                pthread_mutex_unlock(&table_lock);
                return TERN_ENOMEM;
            }
            atomic_store_explicit(&pages[index / PAGE_SLOTS], page, memory_order_release);
        }
        used++;
    }
    slot *s = slot_at(index);
    uint64_t st = atomic_load(&s->state);
    atomic_store(&s->obj, obj);
    /* Open under the slot's current generation (bumped on removal). */
    atomic_store(&s->state, st & ~(CLOSED | PINS));
    pthread_mutex_unlock(&table_lock);
    *idp = (gen_of(st) << INDEX_BITS) | (index + 1);
    return TERN_OK;
}

void *tn_handle_pin(uint32_t id)
{
    uint32_t low = id & ((1u << INDEX_BITS) - 1);
    if (low == 0)
        return NULL;
    slot *s = slot_at(low - 1);
    if (s == NULL)
        return NULL;
    uint64_t st = atomic_load_explicit(&s->state, memory_order_acquire);
    for (;;) {
        if ((st & CLOSED) || gen_of(st) != (id >> INDEX_BITS) || (st & PINS) == PINS)
            return NULL;
        if (atomic_compare_exchange_weak_explicit(&s->state, &st, st + 1, memory_order_acq_rel,
                                                  memory_order_acquire))
            return atomic_load_explicit(&s->obj, memory_order_acquire);
    }
}

void tn_handle_unpin(uint32_t id)
{
    slot *s = slot_at((id & ((1u << INDEX_BITS) - 1)) - 1);
    atomic_fetch_sub_explicit(&s->state, 1, memory_order_release);
}

void tn_handle_remove(uint32_t id, uint32_t own)
{
    uint32_t index = (id & ((1u << INDEX_BITS) - 1)) - 1;
    slot *s = slot_at(index);
    atomic_fetch_or(&s->state, CLOSED);
    /* Pins left are calls in flight that the owner has already woken;
     * they finish in microseconds. */
    while ((atomic_load(&s->state) & PINS) > own) {
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    pthread_mutex_lock(&table_lock);
    uint64_t st = atomic_load(&s->state);
    uint64_t gen = (uint64_t)((gen_of(st) + 1) & GEN_MASK);
    atomic_store(&s->obj, NULL);
    atomic_store(&s->state, gen << 32 | CLOSED);
    s->next_free = free_head;
    free_head = index + 1;
    pthread_mutex_unlock(&table_lock);
}
