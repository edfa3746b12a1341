/* The computation `tern migrate` moves: a worker that mutates an arena at a
 * set dirty rate, deterministically, so the destination can check that it
 * went on exactly where it stopped by replaying every step from scratch. */
#ifndef TERN_MWORKER_H
#define TERN_MWORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <tern/tern.h>

/* What travels as the context blob. */
struct mworker_ctx {
    uint64_t magic, seed, steps, npages, rate;
};

struct mworker {
    tern_arena *arena;
    uint64_t seed, npages;
    uint64_t steps;     /* done so far; read only while the worker is parked or joined */
    double rate;        /* bytes/s dirtied (one page per step); 0: idle */
    uint64_t stop_after; /* ns to run before stopping by itself (0: until told) */
    atomic_int stop;
    tern_err result;    /* TERN_EMOVED once the computation moved away */
    pthread_t thread;
    bool running;
};

/* Fills the arena with the starting state: a pattern on 7 pages of 8, the
 * 8th left zero so zero pages are seen. */
void mworker_fill(uint8_t *base, uint64_t npages, uint64_t seed);
/* Applies steps [from, to) to memory at base. */
void mworker_steps(uint8_t *base, uint64_t npages, uint64_t seed, uint64_t from, uint64_t to);
/* Starts the worker thread on an arena (joined to it) from w->steps. */
int mworker_start(struct mworker *w);
/* Asks it to stop and joins it. */
void mworker_stop(struct mworker *w);
/* Context blob for the current state (call while parked). */
void mworker_context(const struct mworker *w, struct mworker_ctx *ctx);
/* Replays every step from scratch in fresh memory and compares with base;
 * true when equal. */
bool mworker_verify(const uint8_t *base, uint64_t npages, uint64_t seed, uint64_t steps);

#endif
