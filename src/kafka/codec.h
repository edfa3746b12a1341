/* The Kafka protocol's primitive types: a bounded reader and a growable
 * writer (https://kafka.apache.org/protocol, "Protocol Primitive Types").
 *
 * The reader never reads past its buffer and never allocates: strings and
 * byte arrays come back as pointers into the buffer. The first error makes
 * the reader sticky-failed (r->err != 0) and every later read returns zero,
 * so a decoder reads a whole structure and checks once at the end. Array
 * counts are checked against the bytes left (count * smallest element), so
 * a count of 2^31 allocates nothing.
 *
 * "flex" selects the flexible-version encodings (KIP-482): compact strings,
 * arrays and bytes (unsigned varint length + 1) and tagged fields. */
#ifndef TN_KAFKA_CODEC_H
#define TN_KAFKA_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "base/endian.h"

typedef struct tn_kr {
    const uint8_t *p;
    size_t n;
    size_t off;
    int err;
} tn_kr;

/* A string or byte array inside a buffer; len < 0 means null. */
typedef struct tn_kstr {
    const char *p;
    int32_t len;
} tn_kstr;

static inline void tn_kr_init(tn_kr *r, const void *p, size_t n)
{
    r->p = p;
    r->n = n;
    r->off = 0;
    r->err = 0;
}

static inline size_t tn_kr_left(const tn_kr *r)
{
    return r->err ? 0 : r->n - r->off;
}

/* Ok when no error and every byte consumed. */
static inline int tn_kr_done(const tn_kr *r)
{
    return !r->err && r->off == r->n;
}

/* Takes n raw bytes; NULL (and a failed reader) if fewer are left. */
static inline const uint8_t *tn_kr_raw(tn_kr *r, size_t n)
{
    if (r->err || n > r->n - r->off) {
        r->err = 1;
        return NULL;
    }
    const uint8_t *p = r->p + r->off;
    r->off += n;
    return p;
}

static inline int8_t tn_kr_i8(tn_kr *r)
{
    const uint8_t *p = tn_kr_raw(r, 1);
    return p ? (int8_t)p[0] : 0;
}

static inline int16_t tn_kr_i16(tn_kr *r)
{
    const uint8_t *p = tn_kr_raw(r, 2);
    return p ? (int16_t)tn_get_be16(p) : 0;
}

static inline int32_t tn_kr_i32(tn_kr *r)
{
    const uint8_t *p = tn_kr_raw(r, 4);
    return p ? (int32_t)tn_get_be32(p) : 0;
}

static inline int64_t tn_kr_i64(tn_kr *r)
{
    const uint8_t *p = tn_kr_raw(r, 8);
    return p ? (int64_t)tn_get_be64(p) : 0;
}

/* At most max_bytes groups of 7 bits; longer encodings are malformed.
 * Reads the buffer directly: every record of a batch holds seven of
 * these. */
static inline uint64_t tn_kr_uvar(tn_kr *r, unsigned max_bytes)
{
    if (r->err)
        return 0;
    const uint8_t *p = r->p + r->off;
    size_t left = r->n - r->off;
    uint64_t v = 0;
    for (unsigned i = 0; i < max_bytes && i < left; i++) {
        v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            r->off += i + 1;
            return v;
        }
    }
    r->err = 1;
    return 0;
}

static inline uint32_t tn_kr_uvarint(tn_kr *r)
{
    uint64_t v = tn_kr_uvar(r, 5);
    if (v > UINT32_MAX) {
        r->err = 1;
        return 0;
    }
    return (uint32_t)v;
}

static inline int32_t tn_kr_varint(tn_kr *r)
{
    uint32_t u = tn_kr_uvarint(r);
    return (int32_t)((u >> 1) ^ (~(u & 1) + 1));
}

static inline int64_t tn_kr_varlong(tn_kr *r)
{
    uint64_t u = tn_kr_uvar(r, 10);
    return (int64_t)((u >> 1) ^ (~(u & 1) + 1));
}

/* The fixed-size and varint readers are inline below: a record batch's
 * records are a dozen of them each, on the broker's and the consumer's
 * hottest paths. */
/* STRING / NULLABLE_STRING (int16 length) or COMPACT_ forms when flex. */
tn_kstr tn_kr_str(tn_kr *r, int flex);
/* BYTES / NULLABLE_BYTES (int32 length) or COMPACT_ forms when flex. */
tn_kstr tn_kr_bytes(tn_kr *r, int flex);
/* An array's element count (null reads as 0); fails the reader if
 * count * min_elem exceeds the bytes left. */
int32_t tn_kr_array(tn_kr *r, int flex, size_t min_elem);
/* Skips a tagged-field section when flex (no-op otherwise). */
void tn_kr_tags(tn_kr *r, int flex);

typedef struct tn_kw {
    uint8_t *p;
    size_t n;
    size_t cap;
    size_t max; /* growth limit; exceeding it fails the writer */
    int err;
} tn_kw;

/* max == 0 means 256 MiB. */
void tn_kw_init(tn_kw *w, size_t max);
void tn_kw_free(tn_kw *w);
void tn_kw_reset(tn_kw *w);
void tn_kw_i8(tn_kw *w, int8_t v);
void tn_kw_i16(tn_kw *w, int16_t v);
void tn_kw_i32(tn_kw *w, int32_t v);
void tn_kw_i64(tn_kw *w, int64_t v);
void tn_kw_uvarint(tn_kw *w, uint32_t v);
void tn_kw_varint(tn_kw *w, int32_t v);
void tn_kw_varlong(tn_kw *w, int64_t v);
/* len < 0 writes null. */
void tn_kw_str(tn_kw *w, int flex, const char *s, int32_t len);
void tn_kw_cstr(tn_kw *w, int flex, const char *s); /* NULL writes null */
void tn_kw_bytes(tn_kw *w, int flex, const void *p, int32_t len);
void tn_kw_array(tn_kw *w, int flex, int32_t count); /* -1 writes null */
void tn_kw_tags(tn_kw *w, int flex);                 /* zero tagged fields */
void tn_kw_raw(tn_kw *w, const void *p, size_t n);
/* Reserves n bytes and returns their offset, to be patched later. */
size_t tn_kw_skip(tn_kw *w, size_t n);
void tn_kw_put_i32(tn_kw *w, size_t at, int32_t v);
void tn_kw_put_u32(tn_kw *w, size_t at, uint32_t v);

#endif
