/* Copies of large buffers (message bodies, XDR opaques) on the hot path.
 *
 * glibc copies blocks past a few KiB with "rep movsb". On the AMD EPYC VMs
 * we measure on, that path made a 64 KiB RPC echo a third slower than the
 * same copies done with vector loads and stores (glibc's own, with
 * GLIBC_TUNABLES=glibc.cpu.x86_rep_movsb_threshold raised: 773 -> 1147
 * MB/s). tn_copy does the vector loop itself for large blocks on x86-64,
 * and is plain memcpy everywhere else. */
#ifndef TN_BASE_COPY_H
#define TN_BASE_COPY_H

#include <stddef.h>
#include <string.h>

#if defined(__x86_64__) && defined(__SSE2__)
#include <emmintrin.h>

/* Below this, memcpy's small-size paths are as good as anything. */
#define TN_COPY_LOOP_MIN 4096

static inline void tn_copy(void *dst, const void *src, size_t n)
{
    if (n < TN_COPY_LOOP_MIN) {
        memcpy(dst, src, n);
        return;
    }
    unsigned char *d = dst;
    const unsigned char *s = src;
    for (; n >= 64; n -= 64, d += 64, s += 64) {
        __m128i a = _mm_loadu_si128((const __m128i *)s);
        __m128i b = _mm_loadu_si128((const __m128i *)(s + 16));
        __m128i c = _mm_loadu_si128((const __m128i *)(s + 32));
        __m128i e = _mm_loadu_si128((const __m128i *)(s + 48));
        _mm_storeu_si128((__m128i *)d, a);
        _mm_storeu_si128((__m128i *)(d + 16), b);
        _mm_storeu_si128((__m128i *)(d + 32), c);
        _mm_storeu_si128((__m128i *)(d + 48), e);
    }
    memcpy(d, s, n);
}
#else
static inline void tn_copy(void *dst, const void *src, size_t n)
{
    memcpy(dst, src, n);
}
#endif

#endif
