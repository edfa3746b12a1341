/* Per-size free lists of memory blocks (see pool.h). */
#include <pthread.h>
#include <stdlib.h>

#include "base/pool.h"

#define MIN_SHIFT 12 /* 4 KiB: malloc's per-thread caches serve smaller blocks best */
#define MAX_SHIFT 18 /* 256 KiB */
#define NCLASSES (MAX_SHIFT - MIN_SHIFT + 1)
#define BYTES_PER_CLASS (2u << 20)

typedef struct free_block {
    struct free_block *next;
} free_block;

static struct {
    pthread_mutex_t lock;
    free_block *head;
    size_t count;
} classes[NCLASSES] = {
#define C {PTHREAD_MUTEX_INITIALIZER, NULL, 0}
    C, C, C, C, C, C, C,
#undef C
};

/* The class whose blocks fit size, or -1 for sizes outside the pool. */
static int class_of(size_t size)
{
    if (size > (1u << MAX_SHIFT) || size < (1u << (MIN_SHIFT - 1)))
        return -1;
    int shift = MIN_SHIFT;
    while (((size_t)1 << shift) < size)
        shift++;
    return shift - MIN_SHIFT;
}

void *tn_pool_alloc(size_t size)
{
    int c = class_of(size);
    if (c < 0)
        return malloc(size);
    pthread_mutex_lock(&classes[c].lock);
    free_block *b = classes[c].head;
    if (b) {
        classes[c].head = b->next;
        classes[c].count--;
    }
    pthread_mutex_unlock(&classes[c].lock);
    return b ? (void *)b : malloc((size_t)1 << (c + MIN_SHIFT));
}

void tn_pool_free(void *p, size_t size)
{
    if (p == NULL)
        return;
    int c = class_of(size);
    if (c < 0) {
        free(p);
        return;
    }
    size_t max = BYTES_PER_CLASS >> (c + MIN_SHIFT);
    pthread_mutex_lock(&classes[c].lock);
    if (classes[c].count < max) {
        free_block *b = p;
        b->next = classes[c].head;
        classes[c].head = b;
        classes[c].count++;
        p = NULL;
    }
    pthread_mutex_unlock(&classes[c].lock);
    free(p);
}
