/* The arena's side that migrations use: stopping and releasing the threads
 * joined to it. */
#ifndef TN_MIGRATE_ARENA_H
#define TN_MIGRATE_ARENA_H

#include <stdint.h>

#include "tern/migrate.h"

/* tern_arena_create, taking its memory from *reserve (memory faulted in
 * ahead of time) when that is large enough; the reserve is then used up. */
tern_err tn_arena_map(tern_arena **arena, size_t size, void *addr, void **reserve, size_t *reserve_size);

/* Claims the arena for one migration; TERN_ESTATE if one runs already. */
tern_err tn_arena_claim(tern_arena *arena);
void tn_arena_unclaim(tern_arena *arena);

/* Asks every joined thread to park at its next safepoint and waits until
 * they all have (TERN_ETIMEDOUT at deadline; the threads are then released
 * again). */
tern_err tn_arena_quiesce(tern_arena *arena, uint64_t deadline);
/* Lets parked threads go on. */
void tn_arena_release(tern_arena *arena);
/* Tells the threads the computation runs elsewhere (TERN_EMOVED). */
void tn_arena_moved(tern_arena *arena);
/* Runs fn(arg) when the arena is destroyed, before it is unmapped: state
 * that must live as long as the memory (a post-copy that never finished). */
void tn_arena_on_destroy(tern_arena *arena, void (*fn)(void *), void *arg);
/* Every safepoint sleeps this long (0: not at all). */
void tn_arena_throttle(tern_arena *arena, uint32_t us);

#endif
