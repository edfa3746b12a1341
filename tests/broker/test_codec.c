/* The Kafka primitive codec: encodings match the protocol guide's, reads
 * are bounded, and hostile lengths and counts fail without allocating. */
#include <string.h>

#include "kafka/codec.h"
#include "testutil.h"

static void test_fixed_ints(void **state)
{
    (void)state;
    tn_kw w;
    tn_kw_init(&w, 0);
    tn_kw_i8(&w, -2);
    tn_kw_i16(&w, 0x0102);
    tn_kw_i32(&w, -1);
    tn_kw_i64(&w, 0x0102030405060708ll);
    assert_int_equal(w.n, 15);
    assert_memory_equal(w.p, "\xfe\x01\x02\xff\xff\xff\xff\x01\x02\x03\x04\x05\x06\x07\x08", 15);
    tn_kr r;
    tn_kr_init(&r, w.p, w.n);
    assert_int_equal(tn_kr_i8(&r), -2);
    assert_int_equal(tn_kr_i16(&r), 0x0102);
    assert_int_equal(tn_kr_i32(&r), -1);
    assert_true(tn_kr_i64(&r) == 0x0102030405060708ll);
    assert_true(tn_kr_done(&r));
    /* Reading past the end fails the reader, and it stays failed. */
    assert_int_equal(tn_kr_i32(&r), 0);
    assert_true(r.err);
    tn_kr_init(&r, w.p, w.n);
    (void)tn_kr_raw(&r, 100);
    assert_true(r.err);
    assert_int_equal(tn_kr_i8(&r), 0);
    tn_kw_free(&w);
}

static void test_varints(void **state)
{
    (void)state;
    /* Zig-zag: 0 -> 0, -1 -> 1, 1 -> 2, -64 -> 127, 64 -> 128 (two bytes). */
    const struct {
        int32_t v;
        const char *bytes;
        size_t n;
    } cases[] = {{0, "\x00", 1},
                 {-1, "\x01", 1},
                 {1, "\x02", 1},
                 {-64, "\x7f", 1},
                 {64, "\x80\x01", 2},
                 {INT32_MAX, "\xfe\xff\xff\xff\x0f", 5},
                 {INT32_MIN, "\xff\xff\xff\xff\x0f", 5}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tn_kw w;
        tn_kw_init(&w, 0);
        tn_kw_varint(&w, cases[i].v);
        assert_int_equal(w.n, cases[i].n);
        assert_memory_equal(w.p, cases[i].bytes, cases[i].n);
        tn_kr r;
        tn_kr_init(&r, w.p, w.n);
        assert_int_equal(tn_kr_varint(&r), cases[i].v);
        assert_true(tn_kr_done(&r));
        tn_kw_free(&w);
    }
    const int64_t longs[] = {0, -1, INT64_MAX, INT64_MIN, 1ll << 40, -(1ll << 40)};
    for (size_t i = 0; i < sizeof longs / sizeof longs[0]; i++) {
        tn_kw w;
        tn_kw_init(&w, 0);
        tn_kw_varlong(&w, longs[i]);
        tn_kr r;
        tn_kr_init(&r, w.p, w.n);
        assert_true(tn_kr_varlong(&r) == longs[i]);
        assert_true(tn_kr_done(&r));
        tn_kw_free(&w);
    }
    /* Too many continuation bytes, and a uvarint above 32 bits. */
    tn_kr r;
    tn_kr_init(&r, "\xff\xff\xff\xff\xff\xff", 6);
    (void)tn_kr_uvarint(&r);
    assert_true(r.err);
    tn_kr_init(&r, "\xff\xff\xff\xff\x1f", 5);
    (void)tn_kr_uvarint(&r);
    assert_true(r.err);
    tn_kr_init(&r, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11);
    (void)tn_kr_varlong(&r);
    assert_true(r.err);
    tn_kr_init(&r, "\x80", 1);
    (void)tn_kr_uvarint(&r);
    assert_true(r.err);
}

static void test_strings(void **state)
{
    (void)state;
    tn_kw w;
    tn_kw_init(&w, 0);
    tn_kw_cstr(&w, 0, "abc");
    tn_kw_cstr(&w, 0, NULL);
    tn_kw_cstr(&w, 1, "abc");
    tn_kw_cstr(&w, 1, NULL);
    tn_kw_bytes(&w, 0, "xy", 2);
    tn_kw_bytes(&w, 0, NULL, -1);
    tn_kw_bytes(&w, 1, "xy", 2);
    assert_memory_equal(w.p,
                        "\x00\x03"
                        "abc"
                        "\xff\xff"
                        "\x04"
                        "abc"
                        "\x00"
                        "\x00\x00\x00\x02"
                        "xy"
                        "\xff\xff\xff\xff"
                        "\x03"
                        "xy",
                        25);
    assert_int_equal(w.n, 25);
    tn_kr r;
    tn_kr_init(&r, w.p, w.n);
    tn_kstr s = tn_kr_str(&r, 0);
    assert_int_equal(s.len, 3);
    assert_memory_equal(s.p, "abc", 3);
    assert_int_equal(tn_kr_str(&r, 0).len, -1);
    s = tn_kr_str(&r, 1);
    assert_int_equal(s.len, 3);
    assert_int_equal(tn_kr_str(&r, 1).len, -1);
    assert_int_equal(tn_kr_bytes(&r, 0).len, 2);
    assert_int_equal(tn_kr_bytes(&r, 0).len, -1);
    assert_int_equal(tn_kr_bytes(&r, 1).len, 2);
    assert_true(tn_kr_done(&r));
    tn_kw_free(&w);

    /* Lengths beyond the buffer, and negative ones other than -1. */
    tn_kr_init(&r,
               "\x7f\xff"
               "ab",
               4);
    assert_int_equal(tn_kr_str(&r, 0).len, -1);
    assert_true(r.err);
    tn_kr_init(&r, "\xff\xfe", 2);
    (void)tn_kr_str(&r, 0);
    assert_true(r.err);
    tn_kr_init(&r, "\x7f\xff\xff\xff", 4);
    (void)tn_kr_bytes(&r, 0);
    assert_true(r.err);
    tn_kr_init(&r, "\x80\x80\x80\x80\x0f", 5); /* compact length 2^32-2 */
    (void)tn_kr_bytes(&r, 1);
    assert_true(r.err);
}

static void test_arrays(void **state)
{
    (void)state;
    tn_kr r;
    /* A count of 2^31-1 with four bytes left is refused before anyone allocates. */
    tn_kr_init(&r, "\x7f\xff\xff\xff\x00\x00\x00\x01", 8);
    assert_int_equal(tn_kr_array(&r, 0, 4), 0);
    assert_true(r.err);
    tn_kr_init(&r, "\x00\x00\x00\x01\x00\x00\x00\x01", 8);
    assert_int_equal(tn_kr_array(&r, 0, 4), 1);
    assert_false(r.err);
    tn_kr_init(&r, "\xff\xff\xff\xff", 4); /* null */
    assert_int_equal(tn_kr_array(&r, 0, 4), 0);
    assert_false(r.err);
    tn_kr_init(&r, "\xff\xff\xff\xfe", 4);
    (void)tn_kr_array(&r, 0, 4);
    assert_true(r.err);
    tn_kr_init(&r, "\x03\x01\x02", 3); /* compact: two elements of one byte */
    assert_int_equal(tn_kr_array(&r, 1, 1), 2);
    tn_kr_init(&r, "\x04\x01\x02", 3);
    (void)tn_kr_array(&r, 1, 1);
    assert_true(r.err);
}

static void test_tags(void **state)
{
    (void)state;
    tn_kr r;
    /* Two tagged fields (tag 0 size 2, tag 5 size 0), then one byte. */
    tn_kr_init(&r, "\x02\x00\x02zz\x05\x00\x09", 8);
    tn_kr_tags(&r, 1);
    assert_int_equal(tn_kr_i8(&r), 9);
    assert_true(tn_kr_done(&r));
    tn_kr_init(&r, "\x01\x00\x7f", 3); /* a field longer than the buffer */
    tn_kr_tags(&r, 1);
    assert_true(r.err);
    tn_kr_init(&r, "\x05", 1); /* non-flexible: nothing is read */
    tn_kr_tags(&r, 0);
    assert_int_equal(r.off, 0);
}

static void test_writer_limits(void **state)
{
    (void)state;
    tn_kw w;
    tn_kw_init(&w, 16);
    tn_kw_i64(&w, 1);
    tn_kw_i64(&w, 2);
    assert_false(w.err);
    tn_kw_i8(&w, 3);
    assert_true(w.err);
    assert_int_equal(w.n, 16);
    tn_kw_reset(&w);
    size_t at = tn_kw_skip(&w, 4);
    tn_kw_i32(&w, 7);
    tn_kw_put_i32(&w, at, (int32_t)(w.n - 4));
    assert_memory_equal(w.p, "\x00\x00\x00\x04\x00\x00\x00\x07", 8);
    /* A non-compact string longer than int16 cannot be written. */
    tn_kw_free(&w);
    tn_kw_init(&w, 0);
    static char big[40000];
    tn_kw_str(&w, 0, big, (int32_t)sizeof big);
    assert_true(w.err);
    tn_kw_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_ints), cmocka_unit_test(test_varints),
        cmocka_unit_test(test_strings),    cmocka_unit_test(test_arrays),
        cmocka_unit_test(test_tags),       cmocka_unit_test(test_writer_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
