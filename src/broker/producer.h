/* Idempotent-producer state of one log (KIP-98): per producer id its epoch
 * and the sequence numbers and offsets of its last five batches, so a
 * retried batch is recognised and answered with its original offset, and
 * a gap in the sequence is refused. Rebuilt from batch headers on open;
 * never written anywhere of its own. */
#ifndef TN_BROKER_PRODUCER_H
#define TN_BROKER_PRODUCER_H

#include <stddef.h>
#include <stdint.h>

#define TN_PRODUCER_BATCHES 5

typedef struct tn_pbatch {
    int32_t first_seq, last_seq;
    int64_t base, last; /* offsets */
} tn_pbatch;

typedef struct tn_producer {
    int64_t id; /* -1: a free slot */
    int16_t epoch;
    uint8_t n;      /* batches cached */
    uint8_t newest; /* index of the newest in b[] */
    tn_pbatch b[TN_PRODUCER_BATCHES];
} tn_producer;

/* An open-addressing table keyed by producer id. */
typedef struct tn_producers {
    tn_producer *slot;
    size_t cap; /* a power of two, or 0 */
    size_t count;
} tn_producers;

enum { TN_SEQ_OK, TN_SEQ_DUPLICATE, TN_SEQ_OUT_OF_ORDER, TN_SEQ_FENCED };

void tn_producers_init(tn_producers *ps);
void tn_producers_free(tn_producers *ps);
void tn_producers_clear(tn_producers *ps);
const tn_producer *tn_producers_find(const tn_producers *ps, int64_t id);
/* Room for `more` new ids, so the tn_producers_add calls that follow a
 * successful write cannot fail. 0, or -1 when out of memory. */
int tn_producers_reserve(tn_producers *ps, size_t more);
/* Records a batch written (needs reserved room for a new id). A different
 * epoch than the stored one starts the cache afresh. */
void tn_producers_add(tn_producers *ps, int64_t id, int16_t epoch, const tn_pbatch *b);
/* Forgets producers whose newest batch lies wholly below offset `start`
 * (deleted by retention). */
void tn_producers_expire(tn_producers *ps, int64_t start);

/* The sequence after s: int32 sequences wrap to 0 after INT32_MAX. */
int32_t tn_seq_next(int32_t s);
/* The last sequence of a batch starting at first with last_offset_delta d. */
int32_t tn_seq_last(int32_t first, int32_t d);
/* Judges a batch (epoch, first..last) against p's state (NULL: an unknown
 * producer). On TN_SEQ_DUPLICATE *dup_base is the original base offset. */
int tn_producer_check(const tn_producer *p, int16_t epoch, int32_t first, int32_t last,
                      int64_t *dup_base);

#endif
