/* Unit tests of the XDR codec (src/wire/xdr.c): exact bytes for every type,
 * round trips at the edges, sticky errors, and the bounds a hostile peer
 * must not get past (nothing allocated for a length that is not there). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* Counts what the decoder allocates; refuses everything when fail is set. */
typedef struct counter {
    size_t calls, bytes;
    bool fail;
} counter;

static void *counting_alloc(void *arg, size_t n)
{
    counter *c = arg;
    c->calls++;
    c->bytes += n;
    return c->fail ? NULL : malloc(n);
}

static void dec_counted(tern_xdr_dec *d, const void *p, size_t len, counter *c)
{
    memset(c, 0, sizeof *c);
    tern_xdr_dec_init(d, p, len);
    d->alloc = counting_alloc;
    d->alloc_arg = c;
}

static void expect_bytes(const tern_xdr_enc *x, const void *want, size_t n)
{
    check_ok(x->err);
    assert_int_equal(x->len, n);
    assert_memory_equal(x->buf, want, n);
}

static void test_integers(void **state)
{
    (void)state;
    static const uint32_t u32s[] = {0, 1, 0x7fffffffu, 0x80000000u, 0xdeadbeefu, UINT32_MAX};
    static const int32_t i32s[] = {INT32_MIN, -1, 0, 1, INT32_MAX};
    static const uint64_t u64s[] = {0, 1, 0x0123456789abcdefu, 1ull << 63, UINT64_MAX};
    static const int64_t i64s[] = {INT64_MIN, -1, 0, 1, INT64_MAX};
    tern_xdr_enc x = {0};

    for (size_t i = 0; i < sizeof u32s / sizeof u32s[0]; i++)
        check_ok(tern_xdr_put_u32(&x, u32s[i]));
    for (size_t i = 0; i < sizeof i32s / sizeof i32s[0]; i++)
        check_ok(tern_xdr_put_i32(&x, i32s[i]));
    for (size_t i = 0; i < sizeof u64s / sizeof u64s[0]; i++)
        check_ok(tern_xdr_put_u64(&x, u64s[i]));
    for (size_t i = 0; i < sizeof i64s / sizeof i64s[0]; i++)
        check_ok(tern_xdr_put_i64(&x, i64s[i]));
    check_ok(tern_xdr_put_bool(&x, true));
    check_ok(tern_xdr_put_bool(&x, false));
    assert_int_equal(x.len, 6 * 4 + 5 * 4 + 5 * 8 + 5 * 8 + 2 * 4);

    /* Big-endian, two's complement. */
    assert_memory_equal(x.buf + 16, "\xde\xad\xbe\xef", 4);
    assert_memory_equal(x.buf + 24, "\x80\x00\x00\x00", 4); /* INT32_MIN */
    assert_memory_equal(x.buf + 28, "\xff\xff\xff\xff", 4); /* -1 */
    assert_memory_equal(x.buf + 60, "\x01\x23\x45\x67\x89\xab\xcd\xef", 8);
    assert_memory_equal(x.buf + 84, "\x80\x00\x00\x00\x00\x00\x00\x00", 8); /* INT64_MIN */
    assert_memory_equal(x.buf + x.len - 8, "\x00\x00\x00\x01\x00\x00\x00\x00", 8);

    tern_xdr_dec d;
    tern_xdr_dec_init(&d, x.buf, x.len);
    for (size_t i = 0; i < sizeof u32s / sizeof u32s[0]; i++) {
        uint32_t v;
        check_ok(tern_xdr_get_u32(&d, &v));
        assert_int_equal(v, u32s[i]);
    }
    for (size_t i = 0; i < sizeof i32s / sizeof i32s[0]; i++) {
        int32_t v;
        check_ok(tern_xdr_get_i32(&d, &v));
        assert_int_equal(v, i32s[i]);
    }
    for (size_t i = 0; i < sizeof u64s / sizeof u64s[0]; i++) {
        uint64_t v;
        check_ok(tern_xdr_get_u64(&d, &v));
        assert_true(v == u64s[i]);
    }
    for (size_t i = 0; i < sizeof i64s / sizeof i64s[0]; i++) {
        int64_t v;
        check_ok(tern_xdr_get_i64(&d, &v));
        assert_true(v == i64s[i]);
    }
    bool b1 = false, b2 = true;
    check_ok(tern_xdr_get_bool(&d, &b1));
    check_ok(tern_xdr_get_bool(&d, &b2));
    assert_true(b1);
    assert_false(b2);
    check_ok(tern_xdr_dec_end(&d));
    tern_xdr_enc_free(&x);
}

static uint32_t float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static uint64_t double_bits(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

static float float_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static double double_of(uint64_t u)
{
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* Compared as bits: NaN payloads and the sign of zero must survive. */
static void test_floats(void **state)
{
    (void)state;
    const float fs[] = {0.0f,
                        -0.0f,
                        1.0f,
                        -2.5f,
                        FLT_MIN,
                        FLT_MAX,
                        FLT_TRUE_MIN,
                        INFINITY,
                        -INFINITY,
                        NAN,
                        float_of(0x7fa00001u),
                        float_of(0xffc12345u)};
    const double ds[] = {0.0,
                         -0.0,
                         1.0,
                         -2.5,
                         DBL_MIN,
                         DBL_MAX,
                         DBL_TRUE_MIN,
                         INFINITY,
                         -INFINITY,
                         NAN,
                         double_of(0x7ff4000000000001u),
                         double_of(0xfff8000000abcdefu)};
    const size_t nf = sizeof fs / sizeof fs[0], nd = sizeof ds / sizeof ds[0];
    tern_xdr_enc x = {0};

    for (size_t i = 0; i < nf; i++)
        check_ok(tern_xdr_put_float(&x, fs[i]));
    for (size_t i = 0; i < nd; i++)
        check_ok(tern_xdr_put_double(&x, ds[i]));
    assert_int_equal(x.len, nf * 4 + nd * 8);
    assert_memory_equal(x.buf + 4, "\x80\x00\x00\x00", 4);  /* -0.0f */
    assert_memory_equal(x.buf + 8, "\x3f\x80\x00\x00", 4);  /* 1.0f */
    assert_memory_equal(x.buf + 28, "\x7f\x80\x00\x00", 4); /* inf */
    assert_memory_equal(x.buf + 40, "\x7f\xa0\x00\x01", 4); /* signalling NaN payload */
    assert_memory_equal(x.buf + nf * 4 + 16, "\x3f\xf0\x00\x00\x00\x00\x00\x00", 8); /* 1.0 */
    assert_memory_equal(x.buf + nf * 4 + 8, "\x80\x00\x00\x00\x00\x00\x00\x00", 8);  /* -0.0 */

    tern_xdr_dec d;
    tern_xdr_dec_init(&d, x.buf, x.len);
    for (size_t i = 0; i < nf; i++) {
        float f;
        check_ok(tern_xdr_get_float(&d, &f));
        assert_int_equal(float_bits(f), float_bits(fs[i]));
    }
    for (size_t i = 0; i < nd; i++) {
        double v;
        check_ok(tern_xdr_get_double(&d, &v));
        assert_true(double_bits(v) == double_bits(ds[i]));
    }
    check_ok(tern_xdr_dec_end(&d));
    tern_xdr_enc_free(&x);
}

/* Lengths 0..9 cover every padding; bytes, strings and fixed opaques. */
static void test_padding(void **state)
{
    (void)state;
    const char *text = "abcdefghi";

    for (size_t n = 0; n <= 9; n++) {
        size_t padded = (n + 3) / 4 * 4;
        char str[16];
        memcpy(str, text, n);
        str[n] = '\0';

        tern_xdr_enc x = {0};
        check_ok(tern_xdr_put_fixed(&x, text, n));
        check_ok(tern_xdr_put_bytes(&x, text, n, 9));
        check_ok(tern_xdr_put_string(&x, str, 9));
        assert_int_equal(x.len, padded + 2 * (4 + padded));
        /* The fixed opaque, its padding zero. */
        assert_memory_equal(x.buf, text, n);
        for (size_t i = n; i < padded; i++)
            assert_int_equal(x.buf[i], 0);
        /* The opaque: length, bytes, zeros. */
        const uint8_t *o = x.buf + padded;
        assert_int_equal(o[0] | o[1] | o[2], 0);
        assert_int_equal(o[3], n);
        assert_memory_equal(o + 4, text, n);
        for (size_t i = n; i < padded; i++)
            assert_int_equal(o[4 + i], 0);
        /* The string is encoded exactly as the opaque. */
        assert_memory_equal(o + 4 + padded, o, 4 + padded);

        tern_xdr_dec d;
        counter c;
        dec_counted(&d, x.buf, x.len, &c);
        char fixed[16];
        uint8_t sentinel;
        uint8_t *bytes = &sentinel; /* an empty opaque must set it to NULL */
        uint32_t blen = 99;
        char *s = NULL;
        check_ok(tern_xdr_get_fixed(&d, fixed, n));
        check_ok(tern_xdr_get_bytes(&d, &bytes, &blen, 9));
        check_ok(tern_xdr_get_string(&d, &s, 9));
        check_ok(tern_xdr_dec_end(&d));
        assert_memory_equal(fixed, text, n);
        assert_int_equal(blen, n);
        if (n == 0) {
            assert_null(bytes); /* and allocates nothing */
            assert_int_equal(c.calls, 1);
        } else {
            assert_memory_equal(bytes, text, n);
            assert_int_equal(c.calls, 2);
        }
        assert_string_equal(s, str);
        assert_int_equal(c.bytes, n + (n + 1)); /* the opaque, the string and its NUL */
        free(bytes);
        free(s);
        tern_xdr_enc_free(&x);
    }
}

static void test_known_bytes(void **state)
{
    (void)state;
    tern_xdr_enc x = {0};
    check_ok(tern_xdr_put_string(&x, "abc", 10));
    check_ok(tern_xdr_put_string(&x, "abcde", 10));
    check_ok(tern_xdr_put_string(&x, NULL, 10)); /* NULL is "" */
    check_ok(tern_xdr_put_count(&x, 3, 3));
    expect_bytes(&x,
                 "\0\0\0\3abc\0"
                 "\0\0\0\5abcde\0\0\0"
                 "\0\0\0\0"
                 "\0\0\0\3",
                 28);
    tern_xdr_enc_free(&x);
}

static void test_encoder_sticky(void **state)
{
    (void)state;
    tern_xdr_enc x = {0};
    check_ok(tern_xdr_put_u32(&x, 7));
    check_err(tern_xdr_put_bytes(&x, "12345", 5, 4), TERN_EMSGSIZE);
    assert_int_equal(x.len, 4); /* the refused opaque left nothing behind */
    check_err(tern_xdr_put_u32(&x, 1), TERN_EMSGSIZE);
    check_err(tern_xdr_put_u64(&x, 1), TERN_EMSGSIZE);
    check_err(tern_xdr_put_string(&x, "a", 4), TERN_EMSGSIZE);
    check_err(tern_xdr_put_fixed(&x, "a", 1), TERN_EMSGSIZE);
    check_err(tern_xdr_put_fixed(&x, NULL, 0), TERN_EMSGSIZE);
    check_err(tern_xdr_put_double(&x, 1.0), TERN_EMSGSIZE);
    assert_null(tern_xdr_put_space(&x, 8));
    assert_int_equal(x.len, 4);
    check_err(x.err, TERN_EMSGSIZE);
    tern_xdr_enc_free(&x);

    /* Each way of failing, then everything after it returns the same. */
    check_err(tern_xdr_put_string(&x, "toolong", 3), TERN_EMSGSIZE);
    tern_xdr_enc_free(&x);
    check_err(tern_xdr_put_count(&x, 4, 3), TERN_EMSGSIZE);
    check_err(tern_xdr_put_bool(&x, true), TERN_EMSGSIZE);
    tern_xdr_enc_free(&x);
    assert_null(tern_xdr_put_space(&x, 6));
    check_err(x.err, TERN_EINVAL);
    check_err(tern_xdr_put_count(&x, 1, 3), TERN_EINVAL);
    tern_xdr_enc_free(&x);
    check_err(tern_xdr_put_bytes(&x, NULL, 3, 10), TERN_EINVAL);
    check_err(tern_xdr_put_i32(&x, 0), TERN_EINVAL);
    assert_int_equal(x.len, 0);
    tern_xdr_enc_free(&x);

    /* Exactly at the bound is fine. */
    check_ok(tern_xdr_put_string(&x, "abc", 3));
    check_ok(tern_xdr_put_bytes(&x, "abc", 3, 3));
    check_ok(tern_xdr_put_count(&x, 3, 3));
    tern_xdr_enc_free(&x);
}

static void test_decoder_sticky(void **state)
{
    (void)state;
    static const uint8_t in[] = {0, 0, 0, 5, 0, 0, 0, 2, 1, 2};
    tern_xdr_dec d;
    uint32_t u = 42;
    uint64_t h = 42;
    bool b = true;
    char *s = NULL;

    tern_xdr_dec_init(&d, in, sizeof in);
    check_ok(tern_xdr_get_u32(&d, &u));
    assert_int_equal(u, 5);
    check_err(tern_xdr_get_bool(&d, &b), TERN_EPROTO); /* 2 is not a bool */
    assert_true(b);                                    /* untouched */
    check_err(tern_xdr_get_u32(&d, &u), TERN_EPROTO);
    assert_int_equal(u, 5);
    check_err(tern_xdr_get_u64(&d, &h), TERN_EPROTO);
    assert_int_equal(h, 42);
    check_err(tern_xdr_get_string(&d, &s, 10), TERN_EPROTO);
    assert_null(s);
    check_err(tern_xdr_get_fixed(&d, &u, 0), TERN_EPROTO);
    assert_null(tern_xdr_get_space(&d, 0));
    check_err(tern_xdr_dec_end(&d), TERN_EPROTO);

    /* An over-bound error stays what it was, too. */
    static const uint8_t big[] = {0, 0, 0, 9, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 0, 0, 0};
    tern_xdr_dec_init(&d, big, sizeof big);
    check_err(tern_xdr_get_string(&d, &s, 8), TERN_EMSGSIZE);
    check_err(tern_xdr_get_u32(&d, &u), TERN_EMSGSIZE);
    check_err(tern_xdr_dec_end(&d), TERN_EMSGSIZE);
    assert_null(s);
}

/* Over a bound: TERN_EMSGSIZE with nothing allocated. */
static void test_bounds(void **state)
{
    (void)state;
    tern_xdr_enc x = {0};
    check_ok(tern_xdr_put_string(&x, "0123456789", 10));
    tern_xdr_dec d;
    counter c;
    char *s = NULL;
    uint8_t *p = NULL;
    uint32_t n = 0;

    dec_counted(&d, x.buf, x.len, &c);
    check_err(tern_xdr_get_string(&d, &s, 9), TERN_EMSGSIZE);
    dec_counted(&d, x.buf, x.len, &c);
    check_err(tern_xdr_get_bytes(&d, &p, &n, 9), TERN_EMSGSIZE);
    dec_counted(&d, x.buf, x.len, &c);
    check_err(tern_xdr_get_count(&d, &n, 9, 0), TERN_EMSGSIZE);
    assert_int_equal(c.calls, 0);
    assert_null(s);
    assert_null(p);
    assert_int_equal(n, 0);

    /* At the bound it decodes. */
    dec_counted(&d, x.buf, x.len, &c);
    check_ok(tern_xdr_get_string(&d, &s, 10));
    check_ok(tern_xdr_dec_end(&d));
    assert_string_equal(s, "0123456789");
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.bytes, 11);
    free(s);
    tern_xdr_enc_free(&x);
}

/* A count whose elements cannot fit in what is left is refused before the
 * caller allocates the array. */
static void test_count(void **state)
{
    (void)state;
    static const uint8_t three_u64[] = {0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0,
                                        0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3};
    tern_xdr_dec d;
    uint32_t n = 0;

    tern_xdr_dec_init(&d, three_u64, sizeof three_u64);
    check_ok(tern_xdr_get_count(&d, &n, 3, 8));
    assert_int_equal(n, 3);
    const uint8_t *elems = tern_xdr_get_space(&d, 3 * 8);
    assert_non_null(elems);
    assert_int_equal(elems[23], 3);
    check_ok(tern_xdr_dec_end(&d));

    n = 0;
    tern_xdr_dec_init(&d, three_u64, sizeof three_u64);
    check_err(tern_xdr_get_count(&d, &n, 100, 12), TERN_EPROTO); /* 36 bytes needed, 24 left */
    assert_int_equal(n, 0);

    /* A zero-size element type is bounded by max alone. */
    static const uint8_t many[] = {0, 0, 0x10, 0};
    tern_xdr_dec_init(&d, many, sizeof many);
    check_ok(tern_xdr_get_count(&d, &n, 1 << 20, 0));
    assert_int_equal(n, 0x1000);
    check_ok(tern_xdr_dec_end(&d));

    static const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0};
    tern_xdr_dec_init(&d, huge, sizeof huge);
    check_err(tern_xdr_get_count(&d, &n, UINT32_MAX, 4), TERN_EPROTO);
}

/* A length of 2^32-1 with no bound to stop it: refused as truncated, and
 * nothing was allocated for it. */
static void test_hostile_length(void **state)
{
    (void)state;
    static const uint8_t in[] = {0xff, 0xff, 0xff, 0xff, 'a', 'b', 'c', 'd'};
    tern_xdr_dec d;
    counter c;
    char *s = NULL;
    uint8_t *p = NULL;
    uint32_t n = 0;

    dec_counted(&d, in, sizeof in, &c);
    check_err(tern_xdr_get_string(&d, &s, UINT32_MAX), TERN_EPROTO);
    dec_counted(&d, in, sizeof in, &c);
    check_err(tern_xdr_get_bytes(&d, &p, &n, UINT32_MAX), TERN_EPROTO);
    assert_int_equal(c.calls, 0);

    /* Lengths just past the data: one byte of data or padding missing. */
    static const uint8_t short5[] = {0, 0, 0, 5, 'a', 'b', 'c', 'd', 'e', 0, 0};
    dec_counted(&d, short5, sizeof short5, &c);
    check_err(tern_xdr_get_bytes(&d, &p, &n, 100), TERN_EPROTO);
    dec_counted(&d, short5, sizeof short5 - 3, &c);
    check_err(tern_xdr_get_string(&d, &s, 100), TERN_EPROTO);
    dec_counted(&d, short5, sizeof short5 - 4, &c);
    check_err(tern_xdr_get_string(&d, &s, 100), TERN_EPROTO);
    assert_int_equal(c.calls, 0);
    assert_null(s);
    assert_null(p);
}

/* Every proper prefix of a valid encoding fails with TERN_EPROTO and frees
 * cleanly; the whole decodes. */
static void test_truncation(void **state)
{
    (void)state;
    tern_xdr_enc x = {0};
    check_ok(tern_xdr_put_u32(&x, 1));
    check_ok(tern_xdr_put_string(&x, "hello", 100));
    check_ok(tern_xdr_put_u64(&x, 2));
    check_ok(tern_xdr_put_bytes(&x, "xy", 2, 100));
    check_ok(tern_xdr_put_fixed(&x, "abcdefg", 7));
    check_ok(tern_xdr_put_double(&x, 0.5));

    for (size_t len = 0; len <= x.len; len++) {
        uint8_t *copy = malloc(len ? len : 1); /* exact size: ASan sees overreads */
        memcpy(copy, x.buf, len);
        tern_xdr_dec d;
        counter c;
        uint32_t u = 0, bn = 0;
        uint64_t h = 0;
        char *s = NULL;
        uint8_t *b = NULL;
        char fixed[7];
        double v = 0;
        dec_counted(&d, copy, len, &c);
        tern_xdr_get_u32(&d, &u);
        tern_xdr_get_string(&d, &s, 100);
        tern_xdr_get_u64(&d, &h);
        tern_xdr_get_bytes(&d, &b, &bn, 100);
        tern_xdr_get_fixed(&d, fixed, sizeof fixed);
        tern_xdr_get_double(&d, &v);
        if (len < x.len) {
            check_err(tern_xdr_dec_end(&d), TERN_EPROTO);
        } else {
            check_ok(tern_xdr_dec_end(&d));
            assert_string_equal(s, "hello");
            assert_memory_equal(b, "xy", 2);
            assert_memory_equal(fixed, "abcdefg", 7);
            assert_true(v == 0.5);
        }
        free(s);
        free(b);
        free(copy);
    }
    tern_xdr_enc_free(&x);
}

/* Each padding byte, made non-zero, is refused, for every kind of item. */
static void test_nonzero_padding(void **state)
{
    (void)state;
    tern_xdr_enc x = {0};
    check_ok(tern_xdr_put_bytes(&x, "a", 1, 8)); /* 00000001 61 000000 */
    uint8_t in[8];
    memcpy(in, x.buf, sizeof in);
    tern_xdr_enc_free(&x);

    for (size_t i = 5; i < 8; i++) {
        uint8_t bad[8];
        memcpy(bad, in, sizeof bad);
        bad[i] = 0x80;
        tern_xdr_dec d;
        counter c;
        uint8_t *p = NULL;
        uint32_t n = 0;
        char *s = NULL;
        char fixed[1];

        dec_counted(&d, bad, sizeof bad, &c);
        check_err(tern_xdr_get_bytes(&d, &p, &n, 8), TERN_EPROTO);
        dec_counted(&d, bad, sizeof bad, &c);
        check_err(tern_xdr_get_string(&d, &s, 8), TERN_EPROTO);
        tern_xdr_dec_init(&d, bad + 4, 4);
        check_err(tern_xdr_get_fixed(&d, fixed, 1), TERN_EPROTO);
        assert_int_equal(c.calls, 0);
    }
}

static void test_bool_values(void **state)
{
    (void)state;
    static const uint32_t bad[] = {2, 3, 0x100, 0x80000000u, UINT32_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t in[4];
        tern_xdr_enc x;
        tern_xdr_enc_init(&x, in, sizeof in);
        check_ok(tern_xdr_put_u32(&x, bad[i]));
        tern_xdr_dec d;
        bool b = false;
        tern_xdr_dec_init(&d, in, sizeof in);
        check_err(tern_xdr_get_bool(&d, &b), TERN_EPROTO);
        assert_false(b);
    }
}

static void test_embedded_nul(void **state)
{
    (void)state;
    static const uint8_t in[] = {0, 0, 0, 3, 'a', 0, 'b', 0};
    tern_xdr_dec d;
    counter c;
    char *s = NULL;

    dec_counted(&d, in, sizeof in, &c);
    check_err(tern_xdr_get_string(&d, &s, 10), TERN_EPROTO);
    assert_null(s);
    assert_int_equal(c.calls, 0);

    /* The same bytes are a fine opaque. */
    uint8_t *p = NULL;
    uint32_t n = 0;
    dec_counted(&d, in, sizeof in, &c);
    check_ok(tern_xdr_get_bytes(&d, &p, &n, 10));
    check_ok(tern_xdr_dec_end(&d));
    assert_int_equal(n, 3);
    assert_memory_equal(p, "a\0b", 3);
    free(p);
}

static void test_dec_end(void **state)
{
    (void)state;
    static const uint8_t in[] = {0, 0, 0, 1, 0, 0, 0, 2};
    tern_xdr_dec d;
    uint32_t u;

    tern_xdr_dec_init(&d, in, sizeof in);
    check_ok(tern_xdr_get_u32(&d, &u));
    check_err(tern_xdr_dec_end(&d), TERN_EPROTO); /* 4 trailing bytes */
    check_err(tern_xdr_get_u32(&d, &u), TERN_EPROTO);
    assert_int_equal(u, 1);

    tern_xdr_dec_init(&d, in, sizeof in);
    assert_non_null(tern_xdr_get_space(&d, 8));
    check_ok(tern_xdr_dec_end(&d));

    /* Nothing at all is a valid empty encoding. */
    tern_xdr_dec_init(&d, NULL, 0);
    check_ok(tern_xdr_dec_end(&d));
    assert_non_null(tern_xdr_get_space(&d, 0));
    check_err(tern_xdr_get_u32(&d, &u), TERN_EPROTO);
}

static void test_alloc_failure(void **state)
{
    (void)state;
    static const uint8_t in[] = {0, 0, 0, 2, 'h', 'i', 0, 0, 0, 0, 0, 7};
    tern_xdr_dec d;
    counter c;
    char *s = NULL;
    uint32_t u = 0;

    dec_counted(&d, in, sizeof in, &c);
    c.fail = true;
    check_err(tern_xdr_get_string(&d, &s, 10), TERN_ENOMEM);
    assert_null(s);
    check_err(tern_xdr_get_u32(&d, &u), TERN_ENOMEM);
    assert_int_equal(u, 0);
    assert_null(tern_xdr_alloc(&d, 16));
    check_err(tern_xdr_dec_end(&d), TERN_ENOMEM);
    assert_int_equal(c.calls, 1);

    /* tern_xdr_alloc goes through the decoder's allocator. */
    dec_counted(&d, in, sizeof in, &c);
    void *p = tern_xdr_alloc(&d, 24);
    assert_non_null(p);
    assert_int_equal(c.bytes, 24);
    free(p);
    p = tern_xdr_alloc(&d, 0); /* a pointer of its own even when empty */
    assert_non_null(p);
    free(p);
    c.fail = true;
    assert_null(tern_xdr_alloc(&d, 8));
    check_err(d.err, TERN_ENOMEM);
}

static void test_space(void **state)
{
    (void)state;
    tern_xdr_enc x = {0};
    check_ok(tern_xdr_put_count(&x, 100, 100));
    uint8_t *p = tern_xdr_put_space(&x, 100 * 4);
    assert_non_null(p);
    for (uint32_t i = 0; i < 100; i++) {
        p[i * 4 + 0] = 0;
        p[i * 4 + 1] = 0;
        p[i * 4 + 2] = (uint8_t)(i >> 8);
        p[i * 4 + 3] = (uint8_t)(i * 3);
    }
    assert_non_null(tern_xdr_put_space(&x, 0));
    check_ok(tern_xdr_put_u32(&x, 0xabcdef01u));
    assert_int_equal(x.len, 4 + 400 + 4);

    tern_xdr_dec d;
    uint32_t n, tail;
    tern_xdr_dec_init(&d, x.buf, x.len);
    check_ok(tern_xdr_get_count(&d, &n, 100, 4));
    const uint8_t *q = tern_xdr_get_space(&d, (size_t)n * 4);
    assert_non_null(q);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t v;
        tern_xdr_dec e;
        tern_xdr_dec_init(&e, q + i * 4, 4);
        check_ok(tern_xdr_get_u32(&e, &v));
        assert_int_equal(v, (i * 3) & 0xff);
    }
    check_ok(tern_xdr_get_u32(&d, &tail));
    assert_int_equal(tail, 0xabcdef01u);
    check_ok(tern_xdr_dec_end(&d));

    /* Only whole 4-byte units; not more than there is. */
    tern_xdr_dec_init(&d, x.buf, x.len);
    assert_null(tern_xdr_get_space(&d, 6));
    check_err(d.err, TERN_EINVAL);
    tern_xdr_dec_init(&d, x.buf, x.len);
    assert_null(tern_xdr_get_space(&d, x.len + 4));
    check_err(d.err, TERN_EPROTO);

    /* Zero bytes on an encoder without memory yet still gets a pointer. */
    tern_xdr_enc_free(&x);
    assert_non_null(tern_xdr_put_space(&x, 0));
    check_ok(x.err);
    assert_int_equal(x.len, 0);
    tern_xdr_enc_free(&x);
}

static void test_encoder_max(void **state)
{
    (void)state;
    tern_xdr_enc x = {0};

    /* A chosen max. */
    x.max = 100;
    for (int i = 0; i < 25; i++)
        check_ok(tern_xdr_put_u32(&x, (uint32_t)i));
    check_err(tern_xdr_put_u32(&x, 25), TERN_EMSGSIZE);
    assert_int_equal(x.len, 100);
    tern_xdr_enc_free(&x);

    /* It holds inside caller memory larger than max too. */
    uint8_t buf[256];
    tern_xdr_enc_init(&x, buf, sizeof buf);
    x.max = 16;
    check_ok(tern_xdr_put_u64(&x, 1));
    check_ok(tern_xdr_put_u64(&x, 2));
    check_err(tern_xdr_put_bytes(&x, "", 0, 0), TERN_EMSGSIZE);
    assert_int_equal(x.len, 16);

    /* A max lowered below what is already there stops the next put. */
    tern_xdr_enc_init(&x, NULL, 0);
    for (int i = 0; i < 100; i++)
        check_ok(tern_xdr_put_u32(&x, 1));
    x.max = 8;
    check_err(tern_xdr_put_u32(&x, 1), TERN_EMSGSIZE);
    tern_xdr_enc_free(&x);
    tern_xdr_enc_init(&x, NULL, 0);
    check_ok(tern_xdr_put_u64(&x, 1));
    x.max = 4;
    assert_null(tern_xdr_put_space(&x, 0));
    check_err(x.err, TERN_EMSGSIZE);
    tern_xdr_enc_free(&x);

    /* The default: 64 MiB, as one item or many. */
    const size_t mib64 = (size_t)64 << 20;
    tern_xdr_enc_init(&x, NULL, 0);
    assert_non_null(tern_xdr_put_space(&x, mib64 - 8));
    check_ok(tern_xdr_put_u64(&x, 1));
    check_err(tern_xdr_put_u32(&x, 1), TERN_EMSGSIZE);
    assert_int_equal(x.len, mib64);
    tern_xdr_enc_free(&x);
    assert_null(tern_xdr_put_space(&x, mib64 + 4));
    check_err(x.err, TERN_EMSGSIZE);
    assert_int_equal(x.cap, 0); /* refused before allocating */
    tern_xdr_enc_free(&x);
    check_err(tern_xdr_put_fixed(&x, buf, SIZE_MAX - 2), TERN_EMSGSIZE);
    tern_xdr_enc_free(&x);
}

/* Caller memory first; past it the encoder moves to the heap, keeps the
 * bytes, and doubles its block as it fills. */
static void test_growth(void **state)
{
    (void)state;
    uint8_t buf[8];
    tern_xdr_enc x;

    tern_xdr_enc_init(&x, buf, sizeof buf);
    check_ok(tern_xdr_put_u32(&x, 1));
    check_ok(tern_xdr_put_u32(&x, 2));
    assert_ptr_equal(x.buf, buf);
    assert_false(x.owned);
    check_ok(tern_xdr_put_u32(&x, 3));
    assert_true(x.owned);
    assert_true(x.buf != buf);
    assert_memory_equal(x.buf, "\0\0\0\1\0\0\0\2\0\0\0\3", 12);

    size_t growths = 0, cap = x.cap;
    for (uint32_t i = 0; i < 250000; i++) {
        check_ok(tern_xdr_put_u32(&x, i));
        if (x.cap != cap) {
            assert_true(x.cap >= 2 * cap);
            cap = x.cap;
            growths++;
        }
    }
    assert_true(growths <= 14); /* 1 MB in doubling steps from 256 B */
    assert_int_equal(x.len, 12 + 250000 * 4);
    tern_xdr_dec d;
    tern_xdr_dec_init(&d, x.buf + 12, x.len - 12);
    for (uint32_t i = 0; i < 250000; i++) {
        uint32_t v;
        check_ok(tern_xdr_get_u32(&d, &v));
        if (v != i)
            fail_msg("element %u decoded as %u", i, v);
    }
    check_ok(tern_xdr_dec_end(&d));
    tern_xdr_enc_free(&x);
    assert_null(x.buf);
    assert_int_equal(x.len, 0);

    /* One large item grows straight to a block that holds it. */
    static const uint8_t blob[5000];
    check_ok(tern_xdr_put_bytes(&x, blob, sizeof blob, sizeof blob));
    assert_true(x.cap >= 5004);
    tern_xdr_enc_free(&x);
}

static void test_take(void **state)
{
    (void)state;
    uint8_t buf[16];
    tern_xdr_enc x;
    size_t len = 99;

    /* Still in caller memory: nothing to hand over; the bytes stay there
     * and x starts again on the same memory. */
    tern_xdr_enc_init(&x, buf, sizeof buf);
    x.max = 1000;
    check_ok(tern_xdr_put_u32(&x, 0x01020304u));
    assert_null(tern_xdr_enc_take(&x, &len));
    assert_int_equal(len, 4);
    assert_memory_equal(buf, "\1\2\3\4", 4);
    assert_int_equal(x.len, 0);
    assert_ptr_equal(x.buf, buf);
    assert_int_equal(x.max, 1000);
    check_ok(tern_xdr_put_u32(&x, 5));
    assert_memory_equal(buf, "\0\0\0\5", 4);

    /* On the heap: the caller gets the block and x is empty again. */
    check_ok(tern_xdr_put_fixed(&x, "0123456789abcdef", 16));
    assert_true(x.owned);
    uint8_t *taken = tern_xdr_enc_take(&x, &len);
    assert_non_null(taken);
    assert_int_equal(len, 20);
    assert_memory_equal(taken, "\0\0\0\0050123456789abcdef", 20);
    assert_null(x.buf);
    assert_int_equal(x.len, 0);
    assert_int_equal(x.cap, 0);
    assert_false(x.owned);
    assert_int_equal(x.max, 1000);
    check_ok(x.err);
    free(taken);

    /* A failed encoding is not handed out, and x can start over. */
    check_ok(tern_xdr_put_u32(&x, 1));
    check_err(tern_xdr_put_string(&x, "abc", 2), TERN_EMSGSIZE);
    assert_null(tern_xdr_enc_take(&x, &len));
    assert_int_equal(len, 0);
    check_ok(x.err);
    check_ok(tern_xdr_put_u32(&x, 2));
    taken = tern_xdr_enc_take(&x, &len);
    assert_int_equal(len, 4);
    free(taken);
}

/* The out-of-line hooks of the RPC runtime, over a list of buffers. */
typedef struct ool_list {
    const uint8_t *p[4];
    size_t n[4];
    int count;
} ool_list;

static tern_err ool_keep(tern_xdr_enc *x, const void *p, size_t n)
{
    ool_list *l = x->ool_arg;
    if (l->count == 4)
        return TERN_ENOMEM;
    l->p[l->count] = p;
    l->n[l->count++] = n;
    return TERN_OK;
}

static tern_err ool_give(tern_xdr_dec *x, uint32_t n, uint8_t **p)
{
    ool_list *l = x->ool_arg;
    if (l->n[x->ool_next] != n)
        return TERN_EPROTO;
    *p = (uint8_t *)l->p[x->ool_next++];
    return TERN_OK;
}

static void dec_ool(tern_xdr_dec *d, const tern_xdr_enc *x, ool_list *l)
{
    tern_xdr_dec_init(d, x->buf, x->len);
    d->ool = ool_give;
    d->ool_arg = l;
    d->ool_left = (uint32_t)l->count;
}

/* Opaques of TERN_XDR_OOL_MIN bytes or more leave only their length in
 * the stream, in order; smaller ones and strings stay; the decoder wants
 * each in turn, of its exact size, and all of them. */
static void test_out_of_line(void **state)
{
    (void)state;
    uint8_t *big = calloc(1, 3 * TERN_XDR_OOL_MIN);
    ool_list l = {0};
    tern_xdr_enc x = {0};
    x.ool = ool_keep;
    x.ool_arg = &l;
    check_ok(tern_xdr_put_bytes(&x, big, TERN_XDR_OOL_MIN, UINT32_MAX));
    check_ok(tern_xdr_put_bytes(&x, big, TERN_XDR_OOL_MIN - 1, UINT32_MAX));
    check_ok(tern_xdr_put_string(&x, "s", 8));
    check_ok(tern_xdr_put_bytes(&x, big + 1, 2 * TERN_XDR_OOL_MIN, UINT32_MAX));
    assert_int_equal(l.count, 2);
    assert_ptr_equal(l.p[1], big + 1);
    assert_int_equal(x.ool_len, 3 * TERN_XDR_OOL_MIN);
    assert_int_equal(x.len, 4 + 4 + TERN_XDR_OOL_MIN + 8 + 4);
    assert_memory_equal(x.buf, "\0\0\x40\0", 4);

    uint8_t *p;
    uint32_t n;
    char *s;
    tern_xdr_dec d;
    dec_ool(&d, &x, &l);
    check_ok(tern_xdr_get_bytes(&d, &p, &n, UINT32_MAX));
    assert_ptr_equal(p, big);
    assert_int_equal(n, TERN_XDR_OOL_MIN);
    check_ok(tern_xdr_get_bytes(&d, &p, &n, UINT32_MAX));
    assert_int_equal(n, TERN_XDR_OOL_MIN - 1);
    free(p);
    check_ok(tern_xdr_get_string(&d, &s, 8));
    free(s);
    assert_int_equal(d.left, 4); /* the last one's length */
    assert_int_equal(d.ool_left, 1);
    tern_xdr_dec early = d;
    check_err(tern_xdr_dec_end(&early), TERN_EPROTO); /* one still to read */
    check_ok(tern_xdr_get_bytes(&d, &p, &n, UINT32_MAX));
    assert_ptr_equal(p, big + 1);
    check_ok(tern_xdr_dec_end(&d));

    /* Over its bound before anything is asked of the hook; one too many;
     * a size the hook does not have. */
    dec_ool(&d, &x, &l);
    check_err(tern_xdr_get_bytes(&d, &p, &n, TERN_XDR_OOL_MIN - 1), TERN_EMSGSIZE);
    assert_int_equal(d.ool_next, 0);
    dec_ool(&d, &x, &l);
    d.ool_left = 0;
    check_err(tern_xdr_get_bytes(&d, &p, &n, UINT32_MAX), TERN_EPROTO);
    l.n[0]++;
    dec_ool(&d, &x, &l);
    check_err(tern_xdr_get_bytes(&d, &p, &n, UINT32_MAX), TERN_EPROTO);
    assert_null(p);
    l.n[0]--;

    /* What goes out of line counts against the encoder's limit, and a
     * failing hook fails the encoding. */
    tern_xdr_enc_free(&x);
    l.count = 0;
    x.ool = ool_keep;
    x.ool_arg = &l;
    x.max = 2 * TERN_XDR_OOL_MIN;
    check_ok(tern_xdr_put_bytes(&x, big, TERN_XDR_OOL_MIN, UINT32_MAX));
    check_err(tern_xdr_put_bytes(&x, big, TERN_XDR_OOL_MIN, UINT32_MAX), TERN_EMSGSIZE);
    tern_xdr_enc_free(&x);
    /* Also when the bytes in line would fit the caller's buffer. */
    tern_xdr_enc_init(&x, big + TERN_XDR_OOL_MIN, 2 * TERN_XDR_OOL_MIN);
    l.count = 0;
    x.ool = ool_keep;
    x.ool_arg = &l;
    x.max = 2 * TERN_XDR_OOL_MIN;
    check_ok(tern_xdr_put_bytes(&x, big, TERN_XDR_OOL_MIN, UINT32_MAX));
    check_err(tern_xdr_put_fixed(&x, big, TERN_XDR_OOL_MIN), TERN_EMSGSIZE);
    tern_xdr_enc_free(&x);
    l.count = 4;
    x.ool = ool_keep;
    x.ool_arg = &l;
    check_err(tern_xdr_put_bytes(&x, big, TERN_XDR_OOL_MIN, UINT32_MAX), TERN_ENOMEM);
    tern_xdr_enc_free(&x);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_floats),
        cmocka_unit_test(test_padding),
        cmocka_unit_test(test_known_bytes),
        cmocka_unit_test(test_encoder_sticky),
        cmocka_unit_test(test_decoder_sticky),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_count),
        cmocka_unit_test(test_hostile_length),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_nonzero_padding),
        cmocka_unit_test(test_bool_values),
        cmocka_unit_test(test_embedded_nul),
        cmocka_unit_test(test_dec_end),
        cmocka_unit_test(test_alloc_failure),
        cmocka_unit_test(test_out_of_line),
        cmocka_unit_test(test_space),
        cmocka_unit_test(test_encoder_max),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_take),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
