/* The demo worker of `tern migrate`. */
#include "mworker.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define PAGE 4096u

static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void mworker_fill(uint8_t *base, uint64_t npages, uint64_t seed)
{
    for (uint64_t i = 0; i < npages; i++) {
        if (i % 8 == 7)
            continue;
        uint64_t *w = (uint64_t *)(base + i * PAGE);
        uint64_t v = seed ^ (i << 20);
        for (unsigned j = 0; j < PAGE / 8; j++)
            w[j] = v + j;
    }
}

/* Each step reads a word and writes a value that depends on it, so the
 * final state depends on every step, in order. */
void mworker_steps(uint8_t *base, uint64_t npages, uint64_t seed, uint64_t from, uint64_t to)
{
    for (uint64_t s = from; s < to; s++) {
        uint64_t h = mix(seed + s * 0x9e3779b97f4a7c15ull);
        uint64_t *word = (uint64_t *)(base + (h % npages) * PAGE + ((h >> 40) % (PAGE / 8)) * 8);
        *word = mix(*word ^ s) | 1;
    }
}

static void *worker_main(void *arg)
{
    struct mworker *w = arg;
    uint8_t *base = tern_arena_base(w->arena);
    double steps_per_ms = w->rate / PAGE / 1000.0;
    double owed = 0;
    uint64_t start = tern_clock_ns(), tick = start;
    w->result = TERN_OK;
    while (!w->stop) {
        tern_err err = tern_arena_safepoint(w->arena);
        if (err != TERN_OK) {
            w->result = err;
            break;
        }
        if (w->stop_after && tern_clock_ns() - start >= w->stop_after)
            break;
        /* A millisecond's worth of steps, then sleep to the next tick: the
         * rate holds on average and safepoints come every millisecond. */
        owed += steps_per_ms;
        uint64_t n = (uint64_t)owed;
        owed -= (double)n;
        mworker_steps(base, w->npages, w->seed, w->steps, w->steps + n);
        w->steps += n;
        tick += 1000000;
        uint64_t now = tern_clock_ns();
        if (tick > now) {
            struct timespec ts = {0, (long)(tick - now)};
            nanosleep(&ts, NULL);
        } else if (now - tick > 50000000) {
            tick = now; /* fell far behind (parked): do not burst to catch up */
        }
    }
    tern_arena_leave(w->arena);
    return NULL;
}

int mworker_start(struct mworker *w)
{
    if (tern_arena_join(w->arena) != TERN_OK)
        return -1;
    w->stop = 0;
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        tern_arena_leave(w->arena);
        return -1;
    }
    w->running = true;
    return 0;
}

void mworker_stop(struct mworker *w)
{
    if (!w->running)
        return;
    w->stop = 1;
    pthread_join(w->thread, NULL);
    w->running = false;
}

void mworker_context(const struct mworker *w, struct mworker_ctx *ctx)
{
    ctx->magic = 0x746d776b72ull; /* "tmwkr" */
    ctx->seed = w->seed;
    ctx->steps = w->steps;
    ctx->npages = w->npages;
    ctx->rate = (uint64_t)w->rate;
}

bool mworker_verify(const uint8_t *base, uint64_t npages, uint64_t seed, uint64_t steps)
{
    size_t size = npages * PAGE;
    uint8_t *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED)
        return false;
    mworker_fill(m, npages, seed);
    mworker_steps(m, npages, seed, 0, steps);
    bool same = memcmp(m, base, size) == 0;
    munmap(m, size);
    return same;
}
