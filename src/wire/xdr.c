/* XDR codec (RFC 4506).
 *
 * Invariants:
 *  1. Encoder: len <= cap, and no put takes len past the limit (max, or
 *     64 MiB). buf is the caller's memory until the first growth, then a
 *     malloc'd block (owned) that doubles as it fills.
 *  2. Decoder: after the first failure left is 0, so a fixed-size get fails
 *     on its bounds check alone and returns the sticky error.
 *  3. Every length read from the wire is checked against its bound, then
 *     against the bytes left, before anything is allocated.
 *  4. Outputs are written only by a get that succeeds. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <tern/xdr.h>

#include "base/copy.h"
#include "base/endian.h"
#include "wire/xdr_block.h"

#define TN_XDR_DEFAULT_MAX ((size_t)64 << 20)
/* The first heap block: most RPC argument lists fit in it. */
#define TN_XDR_FIRST_CAP 256

/* Bytes of zero padding after n bytes of data. */
static inline size_t pad_of(size_t n)
{
    return (4 - (n & 3)) & 3;
}

/* ---- encoding ---------------------------------------------------------- */

void tern_xdr_enc_init(tern_xdr_enc *x, void *buf, size_t cap)
{
    x->buf = buf;
    x->len = 0;
    x->cap = buf != NULL ? cap : 0;
    x->max = 0;
    x->owned = false;
    x->err = TERN_OK;
    x->ool = NULL;
    x->ool_arg = NULL;
    x->ool_len = 0;
}

/* Each thread keeps the last heap buffer an encoder of its freed, so a
 * thread encoding large arguments call after call reuses one buffer
 * instead of making malloc map and fault in fresh pages every time. */
#define SPARE_MAX (4u << 20)
static pthread_key_t spare_key;
static pthread_once_t spare_once = PTHREAD_ONCE_INIT;

typedef struct spare {
    uint8_t *buf;
    size_t cap;
} spare;

static void spare_drop(void *p)
{
    spare *sp = p;
    free(sp->buf);
    free(sp);
}

static void spare_init(void)
{
    if (pthread_key_create(&spare_key, spare_drop) != 0)
        spare_key = (pthread_key_t)-1;
}

static spare *spare_get(void)
{
    pthread_once(&spare_once, spare_init);
    if (spare_key == (pthread_key_t)-1)
        return NULL;
    spare *sp = pthread_getspecific(spare_key);
    if (sp == NULL && (sp = calloc(1, sizeof *sp)) != NULL &&
        pthread_setspecific(spare_key, sp) != 0) {
        free(sp);
        sp = NULL;
    }
    return sp;
}

void *tn_xdr_block_get(size_t cap, size_t *got)
{
    spare *sp = spare_get();
    if (sp && sp->buf && sp->cap >= cap) {
        uint8_t *b = sp->buf;
        *got = sp->cap;
        sp->buf = NULL;
        return b;
    }
    *got = cap;
    return malloc(cap);
}

void tn_xdr_block_give(void *buf, size_t cap)
{
    spare *sp = cap <= SPARE_MAX ? spare_get() : NULL;
    if (sp && (sp->buf == NULL || sp->cap < cap)) {
        free(sp->buf);
        sp->buf = buf;
        sp->cap = cap;
    } else {
        free(buf);
    }
}

void tern_xdr_enc_free(tern_xdr_enc *x)
{
    if (x->owned)
        tn_xdr_block_give(x->buf, x->cap);
    tern_xdr_enc_init(x, NULL, 0);
}

void *tn_xdr_enc_take_block(tern_xdr_enc *x, size_t *len, size_t *cap)
{
    *cap = x->owned ? x->cap : 0;
    return tern_xdr_enc_take(x, len);
}

void *tern_xdr_enc_take(tern_xdr_enc *x, size_t *len)
{
    size_t max = x->max;
    void *out = NULL;

    if (x->err != TERN_OK) {
        /* A failed encoding is of no use to anyone; not handing it out
         * also means a caller that forgot to check cannot leak it. */
        *len = 0;
        tern_xdr_enc_free(x);
    } else if (x->owned) {
        *len = x->len;
        out = x->buf;
        tern_xdr_enc_init(x, NULL, 0);
    } else {
        /* The bytes stay in the caller's memory, which x keeps using. */
        *len = x->len;
        x->len = 0;
    }
    x->max = max;
    return out;
}

static tern_err enc_fail(tern_xdr_enc *x, tern_err err)
{
    if (x->err == TERN_OK)
        x->err = err;
    return x->err;
}

static inline size_t enc_limit(const tern_xdr_enc *x)
{
    return x->max != 0 ? x->max : TN_XDR_DEFAULT_MAX;
}

/* The slow path of enc_room: checks the limit and moves to a bigger heap
 * block. Returns where n bytes go, already counted in len. */
static uint8_t *enc_grow(tern_xdr_enc *x, size_t n)
{
    size_t limit = enc_limit(x);

    if (x->err != TERN_OK)
        return NULL;
    /* len can be past a max lowered after the bytes were put. */
    size_t used = x->len + x->ool_len;
    if (used > limit || n > limit - used) {
        enc_fail(x, TERN_EMSGSIZE);
        return NULL;
    }
    size_t need = x->len + n;
    if (need > x->cap || x->buf == NULL) {
        size_t cap = x->cap >= TN_XDR_FIRST_CAP / 2 ? x->cap : TN_XDR_FIRST_CAP / 2;
        do
            cap = cap > limit / 2 ? limit : cap * 2;
        while (cap < need);
        uint8_t *buf = x->owned ? realloc(x->buf, cap) : tn_xdr_block_get(cap, &cap);
        if (buf == NULL) {
            enc_fail(x, TERN_ENOMEM);
            return NULL;
        }
        if (!x->owned && x->len > 0)
            memcpy(buf, x->buf, x->len);
        x->buf = buf;
        x->cap = cap;
        x->owned = true;
    }
    uint8_t *p = x->buf + x->len;
    x->len = need;
    return p;
}

/* Whether n more bytes fit as things are: no error, room in buf, within
 * the limit. */
static inline bool enc_fits(const tern_xdr_enc *x, size_t n)
{
    return n <= x->cap - x->len && x->err == TERN_OK && x->len + x->ool_len + n <= enc_limit(x);
}

/* Where the next n bytes go (counted in len), or NULL with x->err set.
 * n == 0 must go to enc_grow while buf is NULL (NULL + 0 is undefined). */
static inline uint8_t *enc_room(tern_xdr_enc *x, size_t n)
{
    if (__builtin_expect(enc_fits(x, n), 1)) {
        uint8_t *p = x->buf + x->len;
        x->len += n;
        return p;
    }
    return enc_grow(x, n);
}

/* put32 and put64 past the fast path: growth, the limit, sticky errors.
 * Kept out of line so that the fast path needs no stack frame. */
static __attribute__((noinline)) tern_err put_word_slow(tern_xdr_enc *x, uint64_t v, size_t n)
{
    uint8_t *p = enc_grow(x, n);
    if (p == NULL)
        return x->err;
    if (n == 4)
        tn_put_be32(p, (uint32_t)v);
    else
        tn_put_be64(p, v);
    return TERN_OK;
}

/* The exported puts and gets share these, so that none calls another
 * through the PLT (exported functions may be interposed, so not inlined). */
static inline tern_err put32(tern_xdr_enc *x, uint32_t v)
{
    if (__builtin_expect(enc_fits(x, 4), 1)) {
        tn_put_be32(x->buf + x->len, v);
        x->len += 4;
        return TERN_OK;
    }
    return put_word_slow(x, v, 4);
}

static inline tern_err put64(tern_xdr_enc *x, uint64_t v)
{
    if (__builtin_expect(enc_fits(x, 8), 1)) {
        tn_put_be64(x->buf + x->len, v);
        x->len += 8;
        return TERN_OK;
    }
    return put_word_slow(x, v, 8);
}

tern_err tern_xdr_put_u32(tern_xdr_enc *x, uint32_t v)
{
    return put32(x, v);
}

tern_err tern_xdr_put_i32(tern_xdr_enc *x, int32_t v)
{
    return put32(x, (uint32_t)v);
}

tern_err tern_xdr_put_u64(tern_xdr_enc *x, uint64_t v)
{
    return put64(x, v);
}

tern_err tern_xdr_put_i64(tern_xdr_enc *x, int64_t v)
{
    return put64(x, (uint64_t)v);
}

tern_err tern_xdr_put_bool(tern_xdr_enc *x, bool v)
{
    return put32(x, v ? 1 : 0);
}

/* Floats travel as their IEEE 754 bits, NaN payloads and the sign of zero
 * included, as libtirpc sends them. */
tern_err tern_xdr_put_float(tern_xdr_enc *x, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    return put32(x, bits);
}

tern_err tern_xdr_put_double(tern_xdr_enc *x, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    return put64(x, bits);
}

/* n bytes and their padding, after `head` bytes of length prefix (0 or 4)
 * written as len32. One reservation for all of it. */
static tern_err put_padded(tern_xdr_enc *x, size_t head, uint32_t len32, const void *src, size_t n)
{
    if (n > 0 && src == NULL)
        return enc_fail(x, TERN_EINVAL);
    if (n > SIZE_MAX - 8)
        return enc_fail(x, TERN_EMSGSIZE);
    if (head + n == 0)
        return x->err;
    size_t pad = pad_of(n);
    uint8_t *p = enc_room(x, head + n + pad);
    if (p == NULL)
        return x->err;
    if (head > 0)
        tn_put_be32(p, len32);
    /* The padding: zero the last word whole, then copy the data over its
     * start. */
    if (pad > 0)
        memset(p + head + n + pad - 4, 0, 4);
    if (n > 0)
        tn_copy(p + head, src, n);
    return TERN_OK;
}

tern_err tern_xdr_put_fixed(tern_xdr_enc *x, const void *p, size_t n)
{
    return put_padded(x, 0, 0, p, n);
}

tern_err tern_xdr_put_bytes(tern_xdr_enc *x, const void *p, size_t n, uint32_t max)
{
    if (n > max)
        return enc_fail(x, TERN_EMSGSIZE);
    if (x->ool == NULL || n < TERN_XDR_OOL_MIN)
        return put_padded(x, 4, (uint32_t)n, p, n);
    if (p == NULL)
        return enc_fail(x, TERN_EINVAL);
    if (put32(x, (uint32_t)n) != TERN_OK)
        return x->err;
    size_t limit = enc_limit(x), used = x->len + x->ool_len;
    if (used > limit || n > limit - used)
        return enc_fail(x, TERN_EMSGSIZE);
    tern_err err = x->ool(x, p, n);
    if (err != TERN_OK)
        return enc_fail(x, err);
    x->ool_len += n;
    return TERN_OK;
}

tern_err tern_xdr_put_string(tern_xdr_enc *x, const char *s, uint32_t max)
{
    if (s == NULL)
        s = "";
    /* strnlen: a string far over the bound is not scanned to its end. */
    size_t n = strnlen(s, (size_t)max + 1);
    if (n > max)
        return enc_fail(x, TERN_EMSGSIZE);
    return put_padded(x, 4, (uint32_t)n, s, n);
}

tern_err tern_xdr_put_count(tern_xdr_enc *x, size_t n, uint32_t max)
{
    if (n > max)
        return enc_fail(x, TERN_EMSGSIZE);
    return put32(x, (uint32_t)n);
}

uint8_t *tern_xdr_put_space(tern_xdr_enc *x, size_t n)
{
    if ((n & 3) != 0) {
        enc_fail(x, TERN_EINVAL);
        return NULL;
    }
    return n > 0 ? enc_room(x, n) : enc_grow(x, 0);
}

/* ---- decoding ---------------------------------------------------------- */

void tern_xdr_dec_init(tern_xdr_dec *x, const void *p, size_t len)
{
    /* Never NULL, so that consuming zero bytes is plain arithmetic. */
    static const uint8_t nothing[4];

    x->p = p != NULL ? p : nothing;
    x->left = p != NULL ? len : 0;
    x->alloc = NULL;
    x->alloc_arg = NULL;
    x->err = TERN_OK;
    x->view = false;
    x->ool = NULL;
    x->ool_arg = NULL;
    x->ool_next = 0;
    x->ool_left = 0;
}

static tern_err dec_fail(tern_xdr_dec *x, tern_err err)
{
    if (x->err == TERN_OK)
        x->err = err;
    x->left = 0;
    return x->err;
}

tern_err tern_xdr_dec_end(tern_xdr_dec *x)
{
    if (x->err == TERN_OK && (x->left != 0 || x->ool_left != 0))
        return dec_fail(x, TERN_EPROTO);
    return x->err;
}

void *tern_xdr_alloc(tern_xdr_dec *x, size_t n)
{
    if (x->err != TERN_OK)
        return NULL;
    /* At least one byte, so an empty value still gets a pointer of its own
     * and NULL always means failure. */
    if (n == 0)
        n = 1;
    void *p = x->alloc != NULL ? x->alloc(x->alloc_arg, n) : malloc(n);
    if (p == NULL)
        dec_fail(x, TERN_ENOMEM);
    return p;
}

/* A get found fewer bytes than it needs, which after a failure is always
 * the case (invariant 2). */
static __attribute__((noinline, cold)) tern_err dec_short(tern_xdr_dec *x)
{
    return dec_fail(x, TERN_EPROTO);
}

/* The next word; only after checking that it is there. */
static inline uint32_t dec_word32(tern_xdr_dec *x)
{
    uint32_t v = tn_get_be32(x->p);
    x->p += 4;
    x->left -= 4;
    return v;
}

static inline uint64_t dec_word64(tern_xdr_dec *x)
{
    uint64_t v = tn_get_be64(x->p);
    x->p += 8;
    x->left -= 8;
    return v;
}

tern_err tern_xdr_get_u32(tern_xdr_dec *x, uint32_t *v)
{
    if (x->left < 4)
        return dec_short(x);
    *v = dec_word32(x);
    return TERN_OK;
}

tern_err tern_xdr_get_i32(tern_xdr_dec *x, int32_t *v)
{
    if (x->left < 4)
        return dec_short(x);
    *v = (int32_t)dec_word32(x);
    return TERN_OK;
}

tern_err tern_xdr_get_u64(tern_xdr_dec *x, uint64_t *v)
{
    if (x->left < 8)
        return dec_short(x);
    *v = dec_word64(x);
    return TERN_OK;
}

tern_err tern_xdr_get_i64(tern_xdr_dec *x, int64_t *v)
{
    if (x->left < 8)
        return dec_short(x);
    *v = (int64_t)dec_word64(x);
    return TERN_OK;
}

tern_err tern_xdr_get_bool(tern_xdr_dec *x, bool *v)
{
    if (x->left < 4)
        return dec_short(x);
    uint32_t u = dec_word32(x);
    if (u > 1)
        return dec_fail(x, TERN_EPROTO);
    *v = u == 1;
    return TERN_OK;
}

tern_err tern_xdr_get_float(tern_xdr_dec *x, float *v)
{
    if (x->left < 4)
        return dec_short(x);
    uint32_t bits = dec_word32(x);
    memcpy(v, &bits, sizeof *v);
    return TERN_OK;
}

tern_err tern_xdr_get_double(tern_xdr_dec *x, double *v)
{
    if (x->left < 8)
        return dec_short(x);
    uint64_t bits = dec_word64(x);
    memcpy(v, &bits, sizeof *v);
    return TERN_OK;
}

/* Checks that n bytes plus their padding are there and the padding is
 * zero, without consuming anything. */
static tern_err dec_check_padded(tern_xdr_dec *x, size_t n)
{
    if (x->err != TERN_OK)
        return x->err;
    size_t pad = pad_of(n);
    if (n > x->left || pad > x->left - n)
        return dec_fail(x, TERN_EPROTO);
    for (size_t i = 0; i < pad; i++) {
        if (x->p[n + i] != 0)
            return dec_fail(x, TERN_EPROTO);
    }
    return TERN_OK;
}

static void dec_skip_padded(tern_xdr_dec *x, size_t n)
{
    n += pad_of(n);
    x->p += n;
    x->left -= n;
}

tern_err tern_xdr_get_fixed(tern_xdr_dec *x, void *p, size_t n)
{
    tern_err err = dec_check_padded(x, n);
    if (err != TERN_OK)
        return err;
    if (n > 0)
        memcpy(p, x->p, n);
    dec_skip_padded(x, n);
    return TERN_OK;
}

/* Reads a length prefix and checks it against max and the bytes left. */
/* A length word within max; its bytes are not checked yet. */
static tern_err dec_bound(tern_xdr_dec *x, uint32_t *n, uint32_t max)
{
    if (x->left < 4)
        return dec_short(x);
    *n = dec_word32(x);
    if (*n > max)
        return dec_fail(x, TERN_EMSGSIZE);
    return TERN_OK;
}

static tern_err dec_length(tern_xdr_dec *x, uint32_t *n, uint32_t max)
{
    tern_err err = dec_bound(x, n, max);
    return err != TERN_OK ? err : dec_check_padded(x, *n);
}

/* The bytes of an out-of-line opaque, which must be the next one sent. */
static tern_err get_ool(tern_xdr_dec *x, uint8_t **p, uint32_t n)
{
    if (x->ool_left == 0)
        return dec_fail(x, TERN_EPROTO);
    tern_err err = x->ool(x, n, p);
    if (err != TERN_OK)
        return dec_fail(x, err);
    x->ool_left--;
    return TERN_OK;
}

tern_err tern_xdr_get_bytes(tern_xdr_dec *x, uint8_t **p, uint32_t *n, uint32_t max)
{
    uint32_t len = 0;
    tern_err err = dec_bound(x, &len, max);
    if (err == TERN_OK && x->ool != NULL && len >= TERN_XDR_OOL_MIN) {
        *p = NULL;
        *n = 0;
        if (get_ool(x, p, len) != TERN_OK)
            return x->err;
        *n = len;
        return TERN_OK;
    }
    if (err == TERN_OK)
        err = dec_check_padded(x, len);
    if (err != TERN_OK)
        return err;
    uint8_t *out = NULL;
    if (len > 0 && x->view) {
        out = (uint8_t *)x->p;
    } else if (len > 0) {
        out = tern_xdr_alloc(x, len);
        if (out == NULL)
            return x->err;
        tn_copy(out, x->p, len);
    }
    dec_skip_padded(x, len);
    *p = out;
    *n = len;
    return TERN_OK;
}

tern_err tern_xdr_get_string(tern_xdr_dec *x, char **s, uint32_t max)
{
    uint32_t len = 0;
    tern_err err = dec_length(x, &len, max);
    if (err != TERN_OK)
        return err;
    if (memchr(x->p, 0, len) != NULL)
        return dec_fail(x, TERN_EPROTO);
    char *out = tern_xdr_alloc(x, (size_t)len + 1);
    if (out == NULL)
        return x->err;
    memcpy(out, x->p, len);
    out[len] = '\0';
    dec_skip_padded(x, len);
    *s = out;
    return TERN_OK;
}

tern_err tern_xdr_get_count(tern_xdr_dec *x, uint32_t *n, uint32_t max, size_t min_elem_size)
{
    if (x->left < 4)
        return dec_short(x);
    uint32_t count = dec_word32(x);
    if (count > max)
        return dec_fail(x, TERN_EMSGSIZE);
    if (min_elem_size > 0 && count > x->left / min_elem_size)
        return dec_fail(x, TERN_EPROTO);
    *n = count;
    return TERN_OK;
}

const uint8_t *tern_xdr_get_space(tern_xdr_dec *x, size_t n)
{
    if (x->err != TERN_OK)
        return NULL;
    if ((n & 3) != 0) {
        dec_fail(x, TERN_EINVAL);
        return NULL;
    }
    if (n > x->left) {
        dec_short(x);
        return NULL;
    }
    const uint8_t *p = x->p;
    x->p += n;
    x->left -= n;
    return p;
}
