/* Record batches, message format v2 (https://kafka.apache.org/documentation/#recordbatch):
 * header checks, the CRC32C, the records inside, and building a batch. */
#include "kafka/batch.h"

#include "base/endian.h"

#define CRC_AT 17
#define CRC_FROM 21
#define MAGIC_AT 16

tern_err tn_batch_parse_header(const uint8_t *hdr, size_t max_size, tn_batch *b)
{
    b->base_offset = (int64_t)tn_get_be64(hdr);
    b->length = (int32_t)tn_get_be32(hdr + 8);
    b->leader_epoch = (int32_t)tn_get_be32(hdr + 12);
    b->magic = (int8_t)hdr[MAGIC_AT];
    b->crc = tn_get_be32(hdr + CRC_AT);
    b->attributes = (int16_t)tn_get_be16(hdr + 21);
    b->last_offset_delta = (int32_t)tn_get_be32(hdr + 23);
    b->base_timestamp = (int64_t)tn_get_be64(hdr + 27);
    b->max_timestamp = (int64_t)tn_get_be64(hdr + 35);
    b->producer_id = (int64_t)tn_get_be64(hdr + 43);
    b->producer_epoch = (int16_t)tn_get_be16(hdr + 51);
    b->base_sequence = (int32_t)tn_get_be32(hdr + 53);
    b->count = (int32_t)tn_get_be32(hdr + 57);
    if (b->length < TN_BATCH_LENGTH_MIN || max_size < 12 || (size_t)b->length > max_size - 12)
        return TERN_EPROTO;
    if (b->magic != 2 || b->count < 0 || b->last_offset_delta < 0 ||
        (int64_t)b->count != (int64_t)b->last_offset_delta + 1)
        return TERN_EPROTO;
    return TERN_OK;
}

tern_err tn_batch_parse(const uint8_t *p, size_t n, size_t max_size, tn_batch *b)
{
    /* Refuse what is already visibly wrong before asking for more bytes,
     * so a garbage prefix is not mistaken for a torn tail. */
    if (n >= 12) {
        int32_t length = (int32_t)tn_get_be32(p + 8);
        if (length < TN_BATCH_LENGTH_MIN || max_size < 12 || (size_t)length > max_size - 12)
            return TERN_EPROTO;
    }
    if (n > MAGIC_AT && p[MAGIC_AT] != 2)
        return TERN_EPROTO;
    if (n < TN_BATCH_HEADER)
        return TERN_EAGAIN;
    tern_err e = tn_batch_parse_header(p, max_size, b);
    if (e != TERN_OK)
        return e;
    return n < tn_batch_size(b) ? TERN_EAGAIN : TERN_OK;
}

int tn_batch_crc_ok(const uint8_t *p, const tn_batch *b)
{
    return tern_crc32c(0, p + CRC_FROM, tn_batch_size(b) - CRC_FROM) == b->crc;
}

void tn_batch_set_base_offset(uint8_t *p, int64_t base)
{
    tn_put_be64(p, (uint64_t)base);
}

void tn_record_iter_init(tn_record_iter *it, const uint8_t *p, const tn_batch *b)
{
    tn_kr_init(&it->r, p + TN_BATCH_HEADER, tn_batch_size(b) - TN_BATCH_HEADER);
    it->b = b;
    it->left = b->count;
    /* Compressed records are opaque here. */
    if (b->attributes & TN_BATCH_COMPRESSION)
        it->r.err = 1;
}

/* A varint length: -1 (null) or a run of that many bytes. */
static tn_kstr read_varbytes(tn_kr *r)
{
    tn_kstr s = {NULL, -1};
    int32_t len = tn_kr_varint(r);
    if (len < -1)
        r->err = 1;
    if (r->err || len < 0)
        return s;
    const uint8_t *p = tn_kr_raw(r, (size_t)len);
    if (p != NULL) {
        s.p = (const char *)p;
        s.len = len;
    }
    return s;
}

int tn_record_iter_next(tn_record_iter *it, tn_record *rec)
{
    tn_kr *r = &it->r;
    if (r->err)
        return -1;
    if (it->left == 0) {
        if (tn_kr_left(r) == 0)
            return 0;
        r->err = 1; /* bytes after the last record the header counts */
        return -1;
    }
    int32_t len = tn_kr_varint(r);
    if (len < 0)
        r->err = 1;
    const uint8_t *body = r->err ? NULL : tn_kr_raw(r, (size_t)len);
    if (body == NULL) {
        r->err = 1;
        return -1;
    }
    tn_kr b;
    tn_kr_init(&b, body, (size_t)len);
    (void)tn_kr_i8(&b); /* record attributes: unused */
    int64_t ts_delta = tn_kr_varlong(&b);
    int32_t off_delta = tn_kr_varint(&b);
    rec->key = read_varbytes(&b);
    rec->value = read_varbytes(&b);
    rec->header_count = tn_kr_varint(&b);
    if (rec->header_count < 0)
        b.err = 1;
    size_t headers_at = b.off;
    for (int32_t i = 0; i < rec->header_count && !b.err; i++) {
        tn_kstr key = read_varbytes(&b);
        if (key.len < 0)
            b.err = 1; /* header keys are strings, never null */
        (void)read_varbytes(&b);
    }
    if (!tn_kr_done(&b)) {
        r->err = 1;
        return -1;
    }
    rec->headers = body + headers_at;
    rec->headers_len = b.off - headers_at;
    /* Unsigned sums: hostile deltas wrap instead of overflowing. */
    rec->offset = (int64_t)((uint64_t)it->b->base_offset + (uint64_t)(int64_t)off_delta);
    if (it->b->attributes & TN_BATCH_LOG_APPEND_TIME)
        rec->timestamp = it->b->max_timestamp;
    else
        rec->timestamp = (int64_t)((uint64_t)it->b->base_timestamp + (uint64_t)ts_delta);
    it->left--;
    return 1;
}

static size_t uvar_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static size_t varint_size(int32_t v)
{
    return uvar_size(((uint32_t)v << 1) ^ (uint32_t)(v >> 31));
}

void tn_batch_build(tn_kw *w, const tn_record_in *recs, size_t n, int64_t timestamp_ms,
                    int64_t producer_id, int16_t producer_epoch, int32_t base_sequence)
{
    if (n == 0 || n > INT32_MAX) {
        w->err = 1; /* a v2 batch holds 1 .. 2^31-1 records */
        return;
    }
    if (producer_id < 0) {
        producer_id = -1;
        producer_epoch = -1;
        base_sequence = -1;
    }
    size_t start = w->n;
    tn_kw_i64(w, 0);
    size_t length_at = tn_kw_skip(w, 4);
    tn_kw_i32(w, -1); /* partition leader epoch: the broker's business */
    tn_kw_i8(w, 2);
    size_t crc_at = tn_kw_skip(w, 4);
    tn_kw_i16(w, 0);
    tn_kw_i32(w, (int32_t)(n - 1));
    tn_kw_i64(w, timestamp_ms);
    tn_kw_i64(w, timestamp_ms);
    tn_kw_i64(w, producer_id);
    tn_kw_i16(w, producer_epoch);
    tn_kw_i32(w, base_sequence);
    tn_kw_i32(w, (int32_t)n);
    for (size_t i = 0; i < n && !w->err; i++) {
        const tn_record_in *in = &recs[i];
        int32_t klen = in->key_len < 0 ? -1 : in->key_len;
        int32_t vlen = in->value_len < 0 ? -1 : in->value_len;
        /* attributes, timestamp delta 0 and header count 0 are a byte each */
        uint64_t body = 3 + varint_size((int32_t)i) + varint_size(klen) + varint_size(vlen) +
                        (uint64_t)(klen > 0 ? klen : 0) + (uint64_t)(vlen > 0 ? vlen : 0);
        if (body > INT32_MAX) {
            w->err = 1;
            return;
        }
        tn_kw_varint(w, (int32_t)body);
        tn_kw_i8(w, 0);
        tn_kw_varlong(w, 0);
        tn_kw_varint(w, (int32_t)i);
        tn_kw_varint(w, klen);
        if (klen > 0)
            tn_kw_raw(w, in->key, (size_t)klen);
        tn_kw_varint(w, vlen);
        if (vlen > 0)
            tn_kw_raw(w, in->value, (size_t)vlen);
        tn_kw_varint(w, 0);
    }
    if (w->err)
        return;
    if (w->n - start - 12 > INT32_MAX) {
        w->err = 1;
        return;
    }
    tn_kw_put_i32(w, length_at, (int32_t)(w->n - start - 12));
    tn_kw_put_u32(w, crc_at, tern_crc32c(0, w->p + start + CRC_FROM, w->n - start - CRC_FROM));
}

int tn_batch_records_ok(const uint8_t *p, const tn_batch *b)
{
    if (b->attributes & TN_BATCH_COMPRESSION)
        return 1;
    tn_record_iter it;
    tn_record rec;
    tn_record_iter_init(&it, p, b);
    int64_t want = b->base_offset;
    int more;
    while ((more = tn_record_iter_next(&it, &rec)) == 1) {
        if (rec.offset != want)
            return 0;
        want++;
    }
    return more == 0;
}
