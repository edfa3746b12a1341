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

void tn_kr_init(tn_kr *r, const void *p, size_t n);
int8_t tn_kr_i8(tn_kr *r);
int16_t tn_kr_i16(tn_kr *r);
int32_t tn_kr_i32(tn_kr *r);
int64_t tn_kr_i64(tn_kr *r);
uint32_t tn_kr_uvarint(tn_kr *r);
int32_t tn_kr_varint(tn_kr *r);
int64_t tn_kr_varlong(tn_kr *r);
/* STRING / NULLABLE_STRING (int16 length) or COMPACT_ forms when flex. */
tn_kstr tn_kr_str(tn_kr *r, int flex);
/* BYTES / NULLABLE_BYTES (int32 length) or COMPACT_ forms when flex. */
tn_kstr tn_kr_bytes(tn_kr *r, int flex);
/* An array's element count (null reads as 0); fails the reader if
 * count * min_elem exceeds the bytes left. */
int32_t tn_kr_array(tn_kr *r, int flex, size_t min_elem);
/* Skips a tagged-field section when flex (no-op otherwise). */
void tn_kr_tags(tn_kr *r, int flex);
/* Takes n raw bytes; NULL (and a failed reader) if fewer are left. */
const uint8_t *tn_kr_raw(tn_kr *r, size_t n);
size_t tn_kr_left(const tn_kr *r);
/* Ok when no error and every byte consumed. */
int tn_kr_done(const tn_kr *r);

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
