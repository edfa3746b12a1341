/* Arenas: the memory a migration moves, and the safepoints where the
 * threads that use it stop and go. */
#include "migrate/arena.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "base/cond.h"
#include "migrate/frame.h"

enum { ARENA_RUN, ARENA_STOP, ARENA_MOVED };

struct tern_arena {
    void *base;
    size_t size;
    _Atomic int state;
    _Atomic uint32_t throttle_us;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* state changes and parked/joined counts */
    int joined, parked;
    int claimed;
    void *ctx;
    size_t ctx_len;
    void (*on_destroy)(void *);
    void *on_destroy_arg;
};

tern_err tern_arena_create(tern_arena **out, size_t size, void *addr)
{
    return tn_arena_map(out, size, addr, NULL, NULL);
}

tern_err tn_arena_map(tern_arena **out, size_t size, void *addr, void **reserve, size_t *reserve_size)
{
    if (!out || size == 0 || size > TN_MIG_MAX_ARENA || ((uintptr_t)addr % TN_MIG_PAGE) != 0)
        return TERN_EINVAL;
    if ((size_t)sysconf(_SC_PAGESIZE) != TN_MIG_PAGE)
        return TERN_ENOTSUP;
    size = (size + TN_MIG_PAGE - 1) & ~(size_t)(TN_MIG_PAGE - 1);
    tern_arena *a = calloc(1, sizeof(*a));
    if (!a)
        return TERN_ENOMEM;
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
    if (addr)
        flags |= MAP_FIXED_NOREPLACE;
    void *p = mmap(addr, size, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (p == MAP_FAILED && errno == EEXIST && reserve && *reserve && addr &&
        (uint8_t *)addr < (uint8_t *)*reserve + *reserve_size && (uint8_t *)*reserve < (uint8_t *)addr + size) {
        /* The reserve itself sits where the arena must go: move it away
         * (page tables only) and try again. */
        void *away = mmap(NULL, *reserve_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (away != MAP_FAILED &&
            mremap(*reserve, *reserve_size, *reserve_size, MREMAP_MAYMOVE | MREMAP_FIXED, away) == away) {
            *reserve = away;
            p = mmap(addr, size, PROT_READ | PROT_WRITE, flags, -1, 0);
        } else if (away != MAP_FAILED) {
            munmap(away, *reserve_size);
            errno = EEXIST;
        }
    }
    if (p == MAP_FAILED) {
        int e = errno;
        free(a);
        return e == EEXIST ? TERN_EADDRINUSE : tern_err_from_errno(e);
    }
    if (addr && p != addr) { /* a kernel without MAP_FIXED_NOREPLACE took it as a hint */
        munmap(p, size);
        free(a);
        return TERN_EADDRINUSE;
    }
    /* The address is ours: move the reserve's pages over the fresh mapping
     * (mremap moves page tables, it copies nothing). */
    if (reserve && *reserve && *reserve_size >= size &&
        mremap(*reserve, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, p) == p) {
        if (*reserve_size > size)
            munmap((uint8_t *)*reserve + size, *reserve_size - size);
        *reserve = NULL;
        *reserve_size = 0;
    }
    a->base = p;
    a->size = size;
    pthread_mutex_init(&a->mu, NULL);
    tn_cond_init(&a->cv);
    *out = a;
    return TERN_OK;
}

void *tern_arena_base(const tern_arena *a)
{
    return a ? a->base : NULL;
}

size_t tern_arena_size(const tern_arena *a)
{
    return a ? a->size : 0;
}

void tern_arena_destroy(tern_arena *a)
{
    if (!a)
        return;
    if (a->on_destroy)
        a->on_destroy(a->on_destroy_arg);
    munmap(a->base, a->size);
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    free(a->ctx);
    free(a);
}

tern_err tern_arena_set_context(tern_arena *a, const void *blob, size_t len)
{
    if (!a || (len && !blob))
        return TERN_EINVAL;
    if (len > TN_MIG_MAX_CONTEXT)
        return TERN_EMSGSIZE;
    void *copy = NULL;
    if (len) {
        copy = malloc(len);
        if (!copy)
            return TERN_ENOMEM;
        memcpy(copy, blob, len);
    }
    pthread_mutex_lock(&a->mu);
    free(a->ctx);
    a->ctx = copy;
    a->ctx_len = len;
    pthread_mutex_unlock(&a->mu);
    return TERN_OK;
}

const void *tern_arena_context(const tern_arena *a, size_t *len)
{
    if (len)
        *len = a ? a->ctx_len : 0;
    return a ? a->ctx : NULL;
}

tern_err tern_arena_join(tern_arena *a)
{
    if (!a)
        return TERN_EINVAL;
    pthread_mutex_lock(&a->mu);
    int moved = atomic_load(&a->state) == ARENA_MOVED;
    if (!moved)
        a->joined++;
    pthread_mutex_unlock(&a->mu);
    return moved ? TERN_EMOVED : TERN_OK;
}

void tern_arena_leave(tern_arena *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    if (a->joined > 0)
        a->joined--;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

tern_err tern_arena_safepoint(tern_arena *a)
{
    int st = atomic_load_explicit(&a->state, memory_order_acquire);
    if (st == ARENA_RUN) {
        uint32_t us = atomic_load_explicit(&a->throttle_us, memory_order_relaxed);
        if (us) {
            struct timespec ts = {0, (long)us * 1000};
            nanosleep(&ts, NULL);
        }
        return TERN_OK;
    }
    pthread_mutex_lock(&a->mu);
    if (atomic_load(&a->state) == ARENA_STOP) {
        a->parked++;
        pthread_cond_broadcast(&a->cv);
        while (atomic_load(&a->state) == ARENA_STOP)
            pthread_cond_wait(&a->cv, &a->mu);
        a->parked--;
    }
    st = atomic_load(&a->state);
    pthread_mutex_unlock(&a->mu);
    return st == ARENA_MOVED ? TERN_EMOVED : TERN_OK;
}

tern_err tern_arena_resume(tern_arena *a)
{
    if (!a)
        return TERN_EINVAL;
    pthread_mutex_lock(&a->mu);
    tern_err err = a->claimed || atomic_load(&a->state) == ARENA_MOVED ? TERN_ESTATE : TERN_OK;
    if (err == TERN_OK) {
        atomic_store(&a->state, ARENA_RUN);
        pthread_cond_broadcast(&a->cv);
    }
    pthread_mutex_unlock(&a->mu);
    return err;
}

tern_err tn_arena_claim(tern_arena *a)
{
    pthread_mutex_lock(&a->mu);
    tern_err err = a->claimed || atomic_load(&a->state) != ARENA_RUN ? TERN_ESTATE : TERN_OK;
    if (err == TERN_OK)
        a->claimed = 1;
    pthread_mutex_unlock(&a->mu);
    return err;
}

void tn_arena_unclaim(tern_arena *a)
{
    pthread_mutex_lock(&a->mu);
    a->claimed = 0;
    pthread_mutex_unlock(&a->mu);
}

tern_err tn_arena_quiesce(tern_arena *a, uint64_t deadline)
{
    tern_err err = TERN_OK;
    pthread_mutex_lock(&a->mu);
    atomic_store(&a->state, ARENA_STOP);
    while (a->parked < a->joined) {
        if (tn_cond_wait_until(&a->cv, &a->mu, deadline) == ETIMEDOUT && a->parked < a->joined) {
            atomic_store(&a->state, ARENA_RUN);
            pthread_cond_broadcast(&a->cv);
            err = TERN_ETIMEDOUT;
            break;
        }
    }
    pthread_mutex_unlock(&a->mu);
    return err;
}

void tn_arena_release(tern_arena *a)
{
    pthread_mutex_lock(&a->mu);
    atomic_store(&a->state, ARENA_RUN);
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

void tn_arena_moved(tern_arena *a)
{
    pthread_mutex_lock(&a->mu);
    atomic_store(&a->state, ARENA_MOVED);
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

void tn_arena_throttle(tern_arena *a, uint32_t us)
{
    atomic_store(&a->throttle_us, us);
}

void tn_arena_on_destroy(tern_arena *a, void (*fn)(void *), void *arg)
{
    a->on_destroy = fn;
    a->on_destroy_arg = arg;
}
