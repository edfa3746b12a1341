/* Page bitmaps: one bit per page, bit i of word i / 64 is page i. The
 * trackers, the stream and post-copy all speak them. */
#ifndef TN_MIGRATE_BITMAP_H
#define TN_MIGRATE_BITMAP_H

#include <stdint.h>

static inline int tn_bit_get(const uint64_t *b, uint64_t i)
{
    return (int)(b[i >> 6] >> (i & 63)) & 1;
}
static inline void tn_bit_set(uint64_t *b, uint64_t i)
{
    b[i >> 6] |= 1ull << (i & 63);
}
static inline void tn_bit_clear(uint64_t *b, uint64_t i)
{
    b[i >> 6] &= ~(1ull << (i & 63));
}

/* Sets pages [first, first + n), whole words at a time in the middle. */
static inline void tn_bits_set(uint64_t *b, uint64_t first, uint64_t n)
{
    uint64_t end = first + n;
    for (; first < end && (first & 63); first++)
        tn_bit_set(b, first);
    for (; first + 64 <= end; first += 64)
        b[first >> 6] = ~0ull;
    for (; first < end; first++)
        tn_bit_set(b, first);
}

#endif
