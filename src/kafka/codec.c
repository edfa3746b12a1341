/* Kafka primitive types: bounded reads, growable writes. */
#include "kafka/codec.h"

#include <stdlib.h>
#include <string.h>

#include "base/endian.h"

#define KW_DEFAULT_MAX (256u << 20)

/* A length-prefixed run: returns {NULL, -1} for null. */
static tn_kstr read_run(tn_kr *r, int64_t len)
{
    tn_kstr s = {NULL, -1};
    if (len < 0 || r->err)
        return s;
    const uint8_t *p = tn_kr_raw(r, (size_t)len);
    if (p == NULL)
        return s;
    s.p = (const char *)p;
    s.len = (int32_t)len;
    return s;
}

tn_kstr tn_kr_str(tn_kr *r, int flex)
{
    if (flex)
        return read_run(r, (int64_t)tn_kr_uvarint(r) - 1);
    int16_t len = tn_kr_i16(r);
    if (len < -1)
        r->err = 1;
    return read_run(r, len);
}

tn_kstr tn_kr_bytes(tn_kr *r, int flex)
{
    if (flex)
        return read_run(r, (int64_t)tn_kr_uvarint(r) - 1);
    int32_t len = tn_kr_i32(r);
    if (len < -1)
        r->err = 1;
    return read_run(r, len);
}

int32_t tn_kr_array(tn_kr *r, int flex, size_t min_elem)
{
    int64_t n = flex ? (int64_t)tn_kr_uvarint(r) - 1 : tn_kr_i32(r);
    if (r->err || n <= 0) {
        if (n < -1)
            r->err = 1;
        return 0;
    }
    if (n > INT32_MAX || (min_elem && (uint64_t)n > tn_kr_left(r) / min_elem)) {
        r->err = 1;
        return 0;
    }
    return (int32_t)n;
}

void tn_kr_tags(tn_kr *r, int flex)
{
    if (!flex)
        return;
    uint32_t n = tn_kr_uvarint(r);
    for (uint32_t i = 0; i < n && !r->err; i++) {
        (void)tn_kr_uvarint(r); /* tag */
        uint32_t size = tn_kr_uvarint(r);
        (void)tn_kr_raw(r, size);
    }
}

void tn_kw_init(tn_kw *w, size_t max)
{
    memset(w, 0, sizeof *w);
    w->max = max ? max : KW_DEFAULT_MAX;
}

void tn_kw_free(tn_kw *w)
{
    free(w->p);
    memset(w, 0, sizeof *w);
}

void tn_kw_reset(tn_kw *w)
{
    w->n = 0;
    w->err = 0;
}

/* Room for n more bytes, or NULL (and a failed writer). */
static uint8_t *kw_room(tn_kw *w, size_t n)
{
    if (w->err)
        return NULL;
    if (n > w->max - w->n) {
        w->err = 1;
        return NULL;
    }
    if (w->n + n > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < w->n + n)
            cap *= 2;
        if (cap > w->max)
            cap = w->max;
        uint8_t *p = realloc(w->p, cap);
        if (p == NULL) {
            w->err = 1;
            return NULL;
        }
        w->p = p;
        w->cap = cap;
    }
    uint8_t *p = w->p + w->n;
    w->n += n;
    return p;
}

void tn_kw_raw(tn_kw *w, const void *p, size_t n)
{
    uint8_t *d = kw_room(w, n);
    if (d && n)
        memcpy(d, p, n);
}

void tn_kw_i8(tn_kw *w, int8_t v)
{
    uint8_t *p = kw_room(w, 1);
    if (p)
        p[0] = (uint8_t)v;
}

void tn_kw_i16(tn_kw *w, int16_t v)
{
    uint8_t *p = kw_room(w, 2);
    if (p)
        tn_put_be16(p, (uint16_t)v);
}

void tn_kw_i32(tn_kw *w, int32_t v)
{
    uint8_t *p = kw_room(w, 4);
    if (p)
        tn_put_be32(p, (uint32_t)v);
}

void tn_kw_i64(tn_kw *w, int64_t v)
{
    uint8_t *p = kw_room(w, 8);
    if (p)
        tn_put_be64(p, (uint64_t)v);
}

static void write_uvar(tn_kw *w, uint64_t v)
{
    uint8_t buf[10];
    size_t n = 0;
    while (v >= 0x80) {
        buf[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    buf[n++] = (uint8_t)v;
    tn_kw_raw(w, buf, n);
}

void tn_kw_uvarint(tn_kw *w, uint32_t v)
{
    write_uvar(w, v);
}

void tn_kw_varint(tn_kw *w, int32_t v)
{
    write_uvar(w, (uint32_t)(((uint32_t)v << 1) ^ (uint32_t)(v >> 31)));
}

void tn_kw_varlong(tn_kw *w, int64_t v)
{
    write_uvar(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

void tn_kw_str(tn_kw *w, int flex, const char *s, int32_t len)
{
    if (len > INT16_MAX && !flex) {
        w->err = 1;
        return;
    }
    if (flex)
        tn_kw_uvarint(w, len < 0 ? 0 : (uint32_t)len + 1);
    else
        tn_kw_i16(w, (int16_t)(len < 0 ? -1 : len));
    if (len > 0)
        tn_kw_raw(w, s, (size_t)len);
}

void tn_kw_cstr(tn_kw *w, int flex, const char *s)
{
    size_t len = s ? strlen(s) : 0;
    tn_kw_str(w, flex, s, s == NULL ? -1 : len > INT32_MAX ? INT32_MAX : (int32_t)len);
}

void tn_kw_bytes(tn_kw *w, int flex, const void *p, int32_t len)
{
    if (flex)
        tn_kw_uvarint(w, len < 0 ? 0 : (uint32_t)len + 1);
    else
        tn_kw_i32(w, len < 0 ? -1 : len);
    if (len > 0)
        tn_kw_raw(w, p, (size_t)len);
}

void tn_kw_array(tn_kw *w, int flex, int32_t count)
{
    if (flex)
        tn_kw_uvarint(w, count < 0 ? 0 : (uint32_t)count + 1);
    else
        tn_kw_i32(w, count < 0 ? -1 : count);
}

void tn_kw_tags(tn_kw *w, int flex)
{
    if (flex)
        tn_kw_uvarint(w, 0);
}

size_t tn_kw_skip(tn_kw *w, size_t n)
{
    size_t at = w->n;
    uint8_t *p = kw_room(w, n);
    if (p)
        memset(p, 0, n);
    return at;
}

void tn_kw_put_i32(tn_kw *w, size_t at, int32_t v)
{
    tn_kw_put_u32(w, at, (uint32_t)v);
}

void tn_kw_put_u32(tn_kw *w, size_t at, uint32_t v)
{
    if (!w->err && at + 4 <= w->n)
        tn_put_be32(w->p + at, v);
}
