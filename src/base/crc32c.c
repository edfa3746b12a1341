/* CRC-32C (Castagnoli): reflected polynomial 0x1EDC6F41, register preset to
 * all ones and complemented at the end, as RFC 3720 specifies.
 *
 * The public value is the complemented register, so continuing from a
 * previous result means complementing it back first; that is what makes
 * crc(crc(0, a), b) == crc(0, a || b).
 *
 * Two implementations: the SSE4.2 crc32 instruction, and slicing-by-8 over
 * tables computed on first use. tern_crc32c() picks one the first time it
 * is called and remembers the choice. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "base/crc32c.h"
#include "tern/base.h"

/* 0x1EDC6F41 with its bits reversed, for the LSB-first register. */
#define CRC32C_POLY_REFLECTED 0x82f63b78u

/* tab[k][b]: the register change caused by byte b followed by k zero bytes,
 * so eight bytes can be folded in with eight independent lookups. */
static uint32_t tab[8][256];
static pthread_once_t tab_once = PTHREAD_ONCE_INIT;

static void tab_init(void)
{
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t c = b;
        for (int bit = 0; bit < 8; bit++)
            c = (c >> 1) ^ (CRC32C_POLY_REFLECTED & (0u - (c & 1u)));
        tab[0][b] = c;
    }
    for (int k = 1; k < 8; k++) {
        for (uint32_t b = 0; b < 256; b++) {
            uint32_t prev = tab[k - 1][b];
            tab[k][b] = (prev >> 8) ^ tab[0][prev & 0xffu];
        }
    }
}

/* Byte loads keep this independent of alignment and host byte order; the
 * compiler turns it into one load on little-endian machines. */
static inline uint32_t load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint32_t tn_crc32c_sw(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint32_t c = ~crc;

    pthread_once(&tab_once, tab_init);
    while (len >= 8) {
        uint32_t lo = c ^ load_le32(p);
        uint32_t hi = load_le32(p + 4);
        c = tab[7][lo & 0xffu] ^ tab[6][(lo >> 8) & 0xffu] ^ tab[5][(lo >> 16) & 0xffu] ^
            tab[4][lo >> 24] ^ tab[3][hi & 0xffu] ^ tab[2][(hi >> 8) & 0xffu] ^
            tab[1][(hi >> 16) & 0xffu] ^ tab[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len--)
        c = (c >> 8) ^ tab[0][(c ^ *p++) & 0xffu];
    return ~c;
}

#if defined(__x86_64__) || defined(__i386__)

#if defined(__x86_64__)
/* The crc32 instruction takes 3 cycles but can start every cycle, so three
 * independent streams over consecutive thirds of a block run ~3x faster
 * than one; the thirds are then joined by shifting the first two over the
 * bytes that follow them. Shifting a register over n zero bytes is linear,
 * so for the two fixed n used it is four table lookups. */
#define STREAM 1360 /* 3 x 1360 = 4080: a 4 KiB page is one block + 16 bytes */

static uint32_t shift1[4][256], shift2[4][256]; /* over STREAM and 2 x STREAM bytes */
static pthread_once_t shift_once = PTHREAD_ONCE_INIT;

__attribute__((target("sse4.2"))) static uint32_t zeros(uint32_t c, size_t n)
{
    unsigned long long c64 = c;
    for (size_t i = 0; i < n; i += 8)
        c64 = __builtin_ia32_crc32di(c64, 0);
    return (uint32_t)c64;
}

static void shift_init(void)
{
    uint32_t bit1[32], bit2[32];
    for (int i = 0; i < 32; i++) {
        bit1[i] = zeros(1u << i, STREAM);
        bit2[i] = zeros(1u << i, 2 * STREAM);
    }
    for (int k = 0; k < 4; k++)
        for (uint32_t v = 0; v < 256; v++) {
            uint32_t a = 0, b = 0;
            for (int i = 0; i < 8; i++)
                if (v & (1u << i)) {
                    a ^= bit1[8 * k + i];
                    b ^= bit2[8 * k + i];
                }
            shift1[k][v] = a;
            shift2[k][v] = b;
        }
}

static uint32_t shift(uint32_t t[4][256], uint32_t c)
{
    return t[0][c & 255] ^ t[1][(c >> 8) & 255] ^ t[2][(c >> 16) & 255] ^ t[3][c >> 24];
}
#endif

__attribute__((target("sse4.2"))) uint32_t tn_crc32c_hw(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint32_t c = ~crc;

    /* Word loads are fastest aligned; walk bytes up to the boundary. */
    while (len > 0 && ((uintptr_t)p & 7u) != 0) {
        c = __builtin_ia32_crc32qi(c, *p++);
        len--;
    }
#if defined(__x86_64__)
    if (len >= 3 * STREAM) {
        pthread_once(&shift_once, shift_init);
        while (len >= 3 * STREAM) {
            unsigned long long a = c, b = 0, d = 0;
            for (size_t i = 0; i < STREAM; i += 8) {
                unsigned long long wa, wb, wd;
                memcpy(&wa, p + i, 8);
                memcpy(&wb, p + STREAM + i, 8);
                memcpy(&wd, p + 2 * STREAM + i, 8);
                a = __builtin_ia32_crc32di(a, wa);
                b = __builtin_ia32_crc32di(b, wb);
                d = __builtin_ia32_crc32di(d, wd);
            }
            c = shift(shift2, (uint32_t)a) ^ shift(shift1, (uint32_t)b) ^ (uint32_t)d;
            p += 3 * STREAM;
            len -= 3 * STREAM;
        }
    }
    {
        unsigned long long c64 = c;
        while (len >= 8) {
            unsigned long long w;
            memcpy(&w, p, 8);
            c64 = __builtin_ia32_crc32di(c64, w);
            p += 8;
            len -= 8;
        }
        c = (uint32_t)c64;
    }
#endif
    while (len >= 4) {
        unsigned int w;
        memcpy(&w, p, 4);
        c = __builtin_ia32_crc32si(c, w);
        p += 4;
        len -= 4;
    }
    while (len--)
        c = __builtin_ia32_crc32qi(c, *p++);
    return ~c;
}

int tn_crc32c_hw_available(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2") ? 1 : 0;
}

#else

uint32_t tn_crc32c_hw(uint32_t crc, const void *data, size_t len)
{
    return tn_crc32c_sw(crc, data, len);
}

int tn_crc32c_hw_available(void)
{
    return 0;
}

#endif

typedef uint32_t crc_fn(uint32_t crc, const void *data, size_t len);

static uint32_t crc_first(uint32_t crc, const void *data, size_t len);

/* Starts at a resolver that replaces itself. Threads racing through the
 * first call all store the same answer, so relaxed ordering is enough; the
 * software tables have their own once-guard. */
static crc_fn *_Atomic crc_impl = crc_first;

static uint32_t crc_first(uint32_t crc, const void *data, size_t len)
{
    crc_fn *fn = tn_crc32c_hw_available() ? tn_crc32c_hw : tn_crc32c_sw;
    atomic_store_explicit(&crc_impl, fn, memory_order_relaxed);
    return fn(crc, data, len);
}

uint32_t tern_crc32c(uint32_t crc, const void *data, size_t len)
{
    crc_fn *fn = atomic_load_explicit(&crc_impl, memory_order_relaxed);
    return fn(crc, data, len);
}
