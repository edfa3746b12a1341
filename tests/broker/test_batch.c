/* Record batches (message format v2): built batches parse and iterate
 * back, the CRC covers what it should, and every malformed header or
 * record is refused without reading past the batch. */
#include <string.h>

#include "base/endian.h"
#include "kafka/batch.h"
#include "testutil.h"

/* A batch around raw record bytes, as any producer could send it. */
static void raw_batch(tn_kw *w, const void *records, size_t len, int32_t count, int16_t attrs,
                      int64_t base_ts, int64_t max_ts)
{
    size_t start = w->n;
    tn_kw_i64(w, 0);
    size_t length_at = tn_kw_skip(w, 4);
    tn_kw_i32(w, -1);
    tn_kw_i8(w, 2);
    size_t crc_at = tn_kw_skip(w, 4);
    tn_kw_i16(w, attrs);
    tn_kw_i32(w, count - 1);
    tn_kw_i64(w, base_ts);
    tn_kw_i64(w, max_ts);
    tn_kw_i64(w, -1);
    tn_kw_i16(w, -1);
    tn_kw_i32(w, -1);
    tn_kw_i32(w, count);
    tn_kw_raw(w, records, len);
    tn_kw_put_i32(w, length_at, (int32_t)(w->n - start - 12));
    tn_kw_put_u32(w, crc_at, tern_crc32c(0, w->p + start + 21, w->n - start - 21));
    assert_int_equal(w->err, 0);
}

/* One record: its body, prefixed by its varint length. */
static void raw_record(tn_kw *out, int64_t ts_delta, int32_t off_delta, const char *key,
                       int32_t klen, const char *value, int32_t vlen, int32_t nheaders,
                       const void *headers, size_t hlen)
{
    tn_kw body;
    tn_kw_init(&body, 0);
    tn_kw_i8(&body, 0);
    tn_kw_varlong(&body, ts_delta);
    tn_kw_varint(&body, off_delta);
    tn_kw_varint(&body, klen);
    if (klen > 0)
        tn_kw_raw(&body, key, (size_t)klen);
    tn_kw_varint(&body, vlen);
    if (vlen > 0)
        tn_kw_raw(&body, value, (size_t)vlen);
    tn_kw_varint(&body, nheaders);
    tn_kw_raw(&body, headers, hlen);
    tn_kw_varint(out, (int32_t)body.n);
    tn_kw_raw(out, body.p, body.n);
    tn_kw_free(&body);
}

static void test_round_trip(void **state)
{
    (void)state;
    static const char big[300] = {'x'};
    const tn_record_in in[] = {
        {"k0", 2, "value zero", 10},          {NULL, -1, "no key", 6},
        {"tombstone", 9, NULL, -1},           {"", 0, "", 0},
        {"big", 3, big, (int32_t)sizeof big},
    };
    const size_t n = sizeof in / sizeof in[0];
    tn_kw w;
    tn_kw_init(&w, 0);
    tn_batch_build(&w, in, n, 1700000000123, 42, 3, 17);
    assert_int_equal(w.err, 0);

    tn_batch b;
    check_ok(tn_batch_parse(w.p, w.n, w.n, &b));
    assert_int_equal(tn_batch_size(&b), w.n);
    assert_true(b.magic == 2 && b.count == (int32_t)n && b.last_offset_delta == (int32_t)n - 1);
    assert_true(b.base_timestamp == 1700000000123 && b.max_timestamp == 1700000000123);
    assert_true(b.producer_id == 42 && b.producer_epoch == 3 && b.base_sequence == 17);
    assert_true(b.base_offset == 0 && b.leader_epoch == -1 && b.attributes == 0);
    assert_true(tn_batch_crc_ok(w.p, &b));
    /* One byte short of the whole batch, or of the size limit. */
    check_err(tn_batch_parse(w.p, w.n - 1, w.n, &b), TERN_EAGAIN);
    check_err(tn_batch_parse(w.p, w.n, w.n - 1, &b), TERN_EPROTO);

    /* The base offset is outside the CRC: the broker rewrites it. */
    tn_batch_set_base_offset(w.p, 1000);
    check_ok(tn_batch_parse(w.p, w.n, w.n, &b));
    assert_true(b.base_offset == 1000 && tn_batch_crc_ok(w.p, &b));

    tn_record_iter it;
    tn_record rec;
    tn_record_iter_init(&it, w.p, &b);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(tn_record_iter_next(&it, &rec), 1);
        assert_true(rec.offset == 1000 + (int64_t)i && rec.timestamp == 1700000000123);
        assert_int_equal(rec.key.len, in[i].key_len);
        assert_int_equal(rec.value.len, in[i].value_len);
        if (in[i].key_len > 0)
            assert_memory_equal(rec.key.p, in[i].key, (size_t)in[i].key_len);
        else if (in[i].key_len < 0)
            assert_null(rec.key.p);
        if (in[i].value_len > 0)
            assert_memory_equal(rec.value.p, in[i].value, (size_t)in[i].value_len);
        else if (in[i].value_len < 0)
            assert_null(rec.value.p);
        assert_true(rec.header_count == 0 && rec.headers_len == 0);
    }
    assert_int_equal(tn_record_iter_next(&it, &rec), 0);
    assert_int_equal(tn_record_iter_next(&it, &rec), 0);

    /* A non-idempotent producer's batch carries -1 in all three fields. */
    tn_kw_reset(&w);
    tn_batch_build(&w, in, 1, 5, -1, 9, 9);
    check_ok(tn_batch_parse(w.p, w.n, w.n, &b));
    assert_true(b.producer_id == -1 && b.producer_epoch == -1 && b.base_sequence == -1);
    /* Zero records is no v2 batch. */
    tn_kw_reset(&w);
    tn_batch_build(&w, in, 0, 5, -1, 0, 0);
    assert_int_not_equal(w.err, 0);
    tn_kw_free(&w);
}

static void test_headers(void **state)
{
    (void)state;
    tn_kw hdrs, recs, w;
    tn_kw_init(&hdrs, 0);
    tn_kw_init(&recs, 0);
    tn_kw_init(&w, 0);
    tn_kw_varint(&hdrs, 2);
    tn_kw_raw(&hdrs, "h1", 2);
    tn_kw_varint(&hdrs, 3);
    tn_kw_raw(&hdrs, "one", 3);
    tn_kw_varint(&hdrs, 2);
    tn_kw_raw(&hdrs, "h2", 2);
    tn_kw_varint(&hdrs, -1); /* a null header value */
    raw_record(&recs, 0, 0, "k", 1, "v", 1, 2, hdrs.p, hdrs.n);
    raw_record(&recs, 250, 1, NULL, -1, NULL, -1, 0, NULL, 0);
    raw_batch(&w, recs.p, recs.n, 2, 0, 1000, 1250);

    tn_batch b;
    check_ok(tn_batch_parse(w.p, w.n, SIZE_MAX, &b));
    assert_true(tn_batch_crc_ok(w.p, &b));
    tn_record_iter it;
    tn_record rec;
    tn_record_iter_init(&it, w.p, &b);
    assert_int_equal(tn_record_iter_next(&it, &rec), 1);
    assert_int_equal(rec.header_count, 2);
    assert_int_equal(rec.headers_len, hdrs.n);
    assert_memory_equal(rec.headers, hdrs.p, hdrs.n);
    assert_int_equal(rec.timestamp, 1000);
    assert_int_equal(tn_record_iter_next(&it, &rec), 1);
    assert_true(rec.offset == 1 && rec.timestamp == 1250 && rec.key.len == -1 &&
                rec.value.len == -1);
    assert_int_equal(tn_record_iter_next(&it, &rec), 0);

    /* Log-append time: every record takes the batch's max timestamp. */
    tn_kw_reset(&w);
    raw_batch(&w, recs.p, recs.n, 2, TN_BATCH_LOG_APPEND_TIME, 1000, 77777);
    check_ok(tn_batch_parse(w.p, w.n, SIZE_MAX, &b));
    tn_record_iter_init(&it, w.p, &b);
    assert_int_equal(tn_record_iter_next(&it, &rec), 1);
    assert_int_equal(rec.timestamp, 77777);

    /* Compressed records are not iterated. */
    tn_kw_reset(&w);
    raw_batch(&w, recs.p, recs.n, 2, 1, 1000, 1250);
    check_ok(tn_batch_parse(w.p, w.n, SIZE_MAX, &b));
    tn_record_iter_init(&it, w.p, &b);
    assert_int_equal(tn_record_iter_next(&it, &rec), -1);

    /* Every cut of the records area fails before all records are read. */
    for (size_t len = 0; len < recs.n; len++) {
        tn_kw_reset(&w);
        raw_batch(&w, recs.p, len, 2, 0, 1000, 1250);
        check_ok(tn_batch_parse(w.p, w.n, SIZE_MAX, &b));
        tn_record_iter_init(&it, w.p, &b);
        int r, got = 0;
        while ((r = tn_record_iter_next(&it, &rec)) == 1)
            got++;
        assert_int_equal(r, -1);
        assert_true(got < 2);
    }
    tn_kw_free(&hdrs);
    tn_kw_free(&recs);
    tn_kw_free(&w);
}

/* Iterates a batch of count records over raw record bytes; the result of
 * the last next() call. */
static int iterate_raw(const void *records, size_t len, int32_t count)
{
    tn_kw w;
    tn_kw_init(&w, 0);
    raw_batch(&w, records, len, count, 0, 0, 0);
    tn_batch b;
    check_ok(tn_batch_parse(w.p, w.n, SIZE_MAX, &b));
    tn_record_iter it;
    tn_record rec;
    tn_record_iter_init(&it, w.p, &b);
    int r;
    while ((r = tn_record_iter_next(&it, &rec)) == 1) {
    }
    tn_kw_free(&w);
    return r;
}

static void test_malformed_records(void **state)
{
    (void)state;
    /* A well-formed record as a baseline: length 6, attributes, timestamp
     * delta 0, offset delta 0, null key, null value, no headers. */
    static const uint8_t good[] = {0x0c, 0, 0, 0, 0x01, 0x01, 0};
    assert_int_equal(iterate_raw(good, sizeof good, 1), 0);
    static const struct {
        uint8_t bytes[16];
        size_t len;
        int32_t count;
    } bad[] = {
        {{0x03, 0, 0, 0, 0x01, 0x01, 0}, 7, 1},                /* record length -2 */
        {{0x10, 0, 0, 0, 0x01, 0x01, 0}, 7, 1},                /* length 8, 6 bytes there */
        {{0x0c, 0, 0, 0, 0x03, 0x01, 0}, 7, 1},                /* key length -2 */
        {{0x0c, 0, 0, 0, 0x01, 0x03, 0}, 7, 1},                /* value length -2 */
        {{0x0c, 0, 0, 0, 0x01, 0x01, 0x01}, 7, 1},             /* header count -1 */
        {{0x0c, 0, 0, 0, 0x01, 0x01, 0x02}, 7, 1},             /* a header that is not there */
        {{0x10, 0, 0, 0, 0x01, 0x01, 0x02, 0x01, 0x00}, 9, 1}, /* a null header key */
        {{0x10, 0, 0, 0, 0x01, 0x01, 0x02, 0x00, 0x03}, 9, 1}, /* header value length -2 */
        {{0x0e, 0, 0, 0, 0x01, 0x01, 0, 0}, 8, 1},             /* a byte left in the record */
        {{0x0a, 0, 0, 0, 0x01, 0x01, 0}, 7, 1},                /* record shorter than its fields */
        {{0x0c, 0, 0, 0, 0x01, 0x01, 0, 0}, 8, 1},             /* a byte after the last record */
        {{0x0c, 0, 0, 0, 0x01, 0x01, 0}, 7, 2},                /* a record missing */
        {{0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 6, 1},          /* a varint of six bytes */
        /* a timestamp delta of eleven bytes */
        {{0x18, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 13, 1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (iterate_raw(bad[i].bytes, bad[i].len, bad[i].count) != -1)
            fail_msg("malformed record %zu was accepted", i);
    }
}

static void test_malformed_header(void **state)
{
    (void)state;
    const tn_record_in in[] = {{"k", 1, "v", 1}, {"k", 1, "v", 1}};
    tn_kw w;
    tn_kw_init(&w, 0);
    tn_batch_build(&w, in, 2, 1, -1, 0, 0);
    uint8_t *p = w.p;
    size_t size = w.n;
    tn_batch b;

    /* Too few bytes to judge: a torn tail. */
    for (size_t n = 0; n < size; n++)
        check_err(tn_batch_parse(p, n, SIZE_MAX, &b), TERN_EAGAIN);
    check_ok(tn_batch_parse(p, size, SIZE_MAX, &b));
    check_ok(tn_batch_parse_header(p, SIZE_MAX, &b));
    check_err(tn_batch_parse(p, size, 11, &b), TERN_EPROTO);
    check_err(tn_batch_parse_header(p, size - 1, &b), TERN_EPROTO);

    /* Each broken field is refused as soon as enough bytes show it. */
    static const struct {
        size_t at, width;
        int64_t value;
        size_t visible; /* bytes needed to see it */
    } bad[] = {
        {8, 4, TN_BATCH_LENGTH_MIN - 1, 12}, /* shorter than a header */
        {8, 4, -1, 12},
        {8, 4, INT32_MIN, 12},
        {16, 1, 1, 17}, /* magic 1 */
        {16, 1, 3, 17},
        {16, 1, -1, 17},
        {57, 4, -1, 61}, /* count < 0 */
        {23, 4, -1, 61}, /* lastOffsetDelta < 0 */
        {57, 4, 3, 61},  /* count != lastOffsetDelta + 1 */
        {23, 4, 0, 61},
        {57, 4, INT32_MAX, 61},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t c[256];
        memcpy(c, p, size);
        if (bad[i].width == 1)
            c[bad[i].at] = (uint8_t)bad[i].value;
        else
            tn_put_be32(c + bad[i].at, (uint32_t)bad[i].value);
        for (size_t n = bad[i].visible; n <= size; n++) {
            if (tn_batch_parse(c, n, SIZE_MAX, &b) != TERN_EPROTO)
                fail_msg("case %zu not refused with %zu bytes", i, n);
        }
        check_err(tn_batch_parse_header(c, SIZE_MAX, &b), TERN_EPROTO);
    }
    /* A length beyond the limit is refused before the bytes arrive. */
    tn_put_be32(p + 8, 1u << 30);
    check_err(tn_batch_parse(p, 12, 1u << 20, &b), TERN_EPROTO);
    check_err(tn_batch_parse(p, size, SIZE_MAX, &b), TERN_EAGAIN);
    tn_kw_free(&w);
}

static void test_crc(void **state)
{
    (void)state;
    const tn_record_in in[] = {{"key", 3, "value", 5}};
    tn_kw w;
    tn_kw_init(&w, 0);
    tn_batch_build(&w, in, 1, 1, 7, 0, 0);
    tn_batch b;
    check_ok(tn_batch_parse(w.p, w.n, SIZE_MAX, &b));
    assert_true(tn_batch_crc_ok(w.p, &b));
    /* Bytes 21.. are covered and the CRC field must match them; the base
     * offset, length, leader epoch and magic are outside. */
    for (size_t i = 0; i < w.n; i++) {
        w.p[i] ^= 0x10;
        tn_batch c = b;
        c.crc = tn_get_be32(w.p + 17);
        assert_int_equal(tn_batch_crc_ok(w.p, &c), i < 17);
        w.p[i] ^= 0x10;
    }
    tn_kw_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_malformed_records),
        cmocka_unit_test(test_malformed_header),
        cmocka_unit_test(test_crc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
