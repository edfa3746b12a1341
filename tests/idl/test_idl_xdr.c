/* The generated XDR coders of every type of every.tidl (and of calc.tidl and
 * the imported shapes.tidl): encode, decode, compare, free, under ASan. And
 * what hostile bytes get: bounds, counts that would allocate, values out of
 * range, arms that do not exist, nesting too deep, every truncation. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "calc.h"
#include "every.h"

/* ---- encode, decode, compare -------------------------------------------------- */

/* Encodes v with T's coder into a malloc'd buffer *bufp of *lenp bytes. */
#define ENCODE(T, v, bufp, lenp)                                                                   \
    do {                                                                                           \
        tern_xdr_enc enc_;                                                                         \
        tern_xdr_enc_init(&enc_, NULL, 0);                                                         \
        check_ok(T##_enc(&enc_, v));                                                               \
        *(bufp) = tern_xdr_enc_take(&enc_, (lenp));                                                \
    } while (0)

/* Decodes exactly all of buf into out with T's coder. */
#define DECODE(T, buf, n, out)                                                                     \
    do {                                                                                           \
        tern_xdr_dec dec_;                                                                         \
        tern_xdr_dec_init(&dec_, buf, n);                                                          \
        check_ok(T##_dec(&dec_, out));                                                             \
        check_ok(tern_xdr_dec_end(&dec_));                                                         \
    } while (0)

/* Encodes in, decodes into out, and checks out encodes to the same bytes. */
#define ROUND_TRIP(T, in, out)                                                                     \
    do {                                                                                           \
        uint8_t *b1_, *b2_;                                                                        \
        size_t n1_, n2_;                                                                           \
        ENCODE(T, in, &b1_, &n1_);                                                                 \
        DECODE(T, b1_, n1_, out);                                                                  \
        ENCODE(T, out, &b2_, &n2_);                                                                \
        assert_int_equal(n1_, n2_);                                                                \
        assert_memory_equal(b1_, b2_, n1_);                                                        \
        free(b1_);                                                                                 \
        free(b2_);                                                                                 \
    } while (0)

static bool same_str(const char *a, const char *b)
{
    return strcmp(a != NULL ? a : "", b != NULL ? b : "") == 0;
}

static void check_small(const Every_Small *a, const Every_Small *b)
{
    assert_int_equal(a->c, b->c);
    assert_int_equal(a->i8, b->i8);
    assert_int_equal(a->u8, b->u8);
    assert_int_equal(a->i16, b->i16);
    assert_int_equal(a->u16, b->u16);
    assert_true(a->f == b->f);
    assert_int_equal(a->b, b->b);
}

static Every_Small small_value(int k)
{
    return (Every_Small){.c = (char)('a' + k),
                         .i8 = (int8_t)(-100 - k),
                         .u8 = (uint8_t)(200 + k),
                         .i16 = (int16_t)(-30000 + k),
                         .u16 = (uint16_t)(60000 + k),
                         .f = 1.5f * (float)k,
                         .b = k % 2 == 0};
}

/* Small's wire form is 7 XDR ints, the narrow ones widened as rpcgen does. */
static void test_small(void **state)
{
    (void)state;
    Every_Small in = small_value(1), out;
    uint8_t *buf;
    size_t len;
    ENCODE(Every_Small, &in, &buf, &len);
    static const uint8_t want[28] = {
        0x00, 0x00, 0x00, 'b',  /* char */
        0xff, 0xff, 0xff, 0x9b, /* int8 -101 */
        0x00, 0x00, 0x00, 0xc9, /* uint8 201 */
        0xff, 0xff, 0x8a, 0xd1, /* int16 -29999 */
        0x00, 0x00, 0xea, 0x61, /* uint16 60001 */
        0x3f, 0xc0, 0x00, 0x00, /* float 1.5 */
        0x00, 0x00, 0x00, 0x00, /* bool false */
    };
    assert_int_equal(len, sizeof want);
    assert_memory_equal(buf, want, sizeof want);
    DECODE(Every_Small, buf, len, &out);
    check_small(&in, &out);
    free(buf);
}

/* calc.tidl's Stats, byte for byte as RFC 4506 lays it out. */
static void test_calc_stats(void **state)
{
    (void)state;
    Calc_Stats in = {.calls = 1, .mean = 2.0, .name = "ab", .last = Calc_MUL}, out;
    uint8_t *buf;
    size_t len;
    ENCODE(Calc_Stats, &in, &buf, &len);
    static const uint8_t want[] = {
        0,    0, 0, 0, 0,   0,   0, 1, /* uint64 calls */
        0x40, 0, 0, 0, 0,   0,   0, 0, /* double 2.0 */
        0,    0, 0, 2, 'a', 'b', 0, 0, /* string<64> "ab", padded */
        0,    0, 0, 2,                 /* Op MUL */
    };
    assert_int_equal(len, sizeof want);
    assert_memory_equal(buf, want, sizeof want);
    DECODE(Calc_Stats, buf, len, &out);
    assert_int_equal(out.calls, 1);
    assert_true(out.mean == 2.0);
    assert_string_equal(out.name, "ab");
    assert_int_equal(out.last, Calc_MUL);
    Calc_Stats_free(&out);
    free(buf);

    Calc_Op op = Calc_ADD, op2;
    ROUND_TRIP(Calc_Op, &op, &op2);
    assert_int_equal(op2, Calc_ADD);
}

static void test_unions(void **state)
{
    (void)state;
    Every_Value v = {.color = Every_GREEN, .u.s = "green"}, w;
    ROUND_TRIP(Every_Value, &v, &w);
    assert_int_equal(w.color, Every_GREEN);
    assert_string_equal(w.u.s, "green");
    Every_Value_free(&w);
    v = (Every_Value){.color = Every_RED, .u.i = INT64_MIN};
    ROUND_TRIP(Every_Value, &v, &w);
    assert_true(w.u.i == INT64_MIN);
    Every_Value_free(&w);

    Shapes_Point pts[2] = {{1, 2}, {3, 4}};
    Every_Maybe m = {.tag = Every_NEG, .u.pts = {2, pts}}, n;
    ROUND_TRIP(Every_Maybe, &m, &n);
    assert_int_equal(n.tag, -7);
    assert_int_equal(n.u.pts.len, 2);
    assert_true(n.u.pts.val[1].y == 4);
    Every_Maybe_free(&n);
    m = (Every_Maybe){.tag = 1, .u.small = small_value(3)};
    ROUND_TRIP(Every_Maybe, &m, &n);
    check_small(&m.u.small, &n.u.small);
    m = (Every_Maybe){.tag = 0};
    ROUND_TRIP(Every_Maybe, &m, &n);
    assert_int_equal(n.tag, 0);

    Every_Flag f = {.set = true, .u.bits = 0xdeadbeef}, g;
    ROUND_TRIP(Every_Flag, &f, &g);
    assert_true(g.set);
    assert_int_equal(g.u.bits, 0xdeadbeef);

    Shapes_Shape s = {.kind = Shapes_POLYGON, .u.points = {2, pts}}, t;
    ROUND_TRIP(Shapes_Shape, &s, &t);
    assert_int_equal(t.u.points.len, 2);
    Shapes_Shape_free(&t);

    /* An arm the union does not have encodes to nothing and fails. */
    tern_xdr_enc e;
    tern_xdr_enc_init(&e, NULL, 0);
    m = (Every_Maybe){.tag = 2};
    check_err(Every_Maybe_enc(&e, &m), TERN_EINVAL);
    tern_xdr_enc_free(&e);
}

static void test_recursive(void **state)
{
    (void)state;
    Every_Node c = {3, NULL}, b = {2, &c}, a = {1, &b}, out;
    ROUND_TRIP(Every_Node, &a, &out);
    assert_int_equal(out.value, 1);
    assert_int_equal(out.next->value, 2);
    assert_int_equal(out.next->next->value, 3);
    assert_null(out.next->next->next);
    Every_Node_free(&out);

    Every_Tree leaves[2] = {{"x", {0, NULL}}, {"y", {0, NULL}}};
    Every_Tree mid = {"mid", {2, leaves}};
    Every_Tree root = {"root", {1, &mid}}, t;
    ROUND_TRIP(Every_Tree, &root, &t);
    assert_string_equal(t.kids.val[0].kids.val[1].label, "y");
    Every_Tree_free(&t);
}

/* ---- All: every kind of member at once ---------------------------------------------- */

typedef struct all_storage {
    Every_Small smalls[4];
    int8_t i8s[8];
    int16_t i16s[2];
    int32_t i32s[4];
    uint64_t u64s[3];
    float fs[5];
    char cs[10];
    bool bs[3];
    char *lines[3];
    uint8_t blob[100];
    uint8_t raw[7];
    double vec[16];
    char *aliases[2];
    Every_Color colors[3];
    Every_Value values[2];
    Shapes_Point pts[2];
    Every_Small opt_small;
    char *opt_name;
    Every_Small ms;
    Every_Node nodes[2];
    Every_Tree kid;
} all_storage;

static void fill_all(Every_All *a, all_storage *s)
{
    memset(a, 0, sizeof *a);
    memset(s, 0, sizeof *s);
    a->smalls[0] = small_value(0);
    a->smalls[1] = small_value(1);
    for (int i = 0; i < 4; i++)
        s->smalls[i] = small_value(i + 2);
    a->many = (Every_Small_seq){4, s->smalls};
    for (int i = 0; i < 8; i++)
        s->i8s[i] = (int8_t)(i * 31 - 128);
    a->i8s = (Every_int8_seq){8, s->i8s};
    for (int i = 0; i < 4; i++)
        a->u8s[i] = (uint8_t)(250 + i);
    s->i16s[0] = INT16_MIN;
    s->i16s[1] = INT16_MAX;
    a->i16s = (Every_int16_seq){2, s->i16s};
    for (int i = 0; i < 3; i++)
        a->u16s[i] = (uint16_t)(65533 + i);
    s->i32s[0] = INT32_MIN;
    s->i32s[3] = INT32_MAX;
    a->i32s = (Every_int32_seq){4, s->i32s};
    a->u32s[0] = UINT32_MAX;
    a->i64s[0] = INT64_MIN;
    a->i64s[1] = -1;
    s->u64s[2] = UINT64_MAX;
    a->u64s = (Every_uint64_seq){3, s->u64s};
    for (int i = 0; i < 5; i++)
        s->fs[i] = -0.25f * (float)i;
    a->fs = (Every_float_seq){5, s->fs};
    a->ds[0] = 1e300;
    a->ds[1] = -2.5;
    memcpy(s->cs, "xdr-chars!", 10);
    a->cs = (Every_char_seq){10, s->cs};
    s->bs[1] = true;
    a->bs = (Every_bool_seq){3, s->bs};
    a->names[0] = "one";
    a->names[1] = "";
    a->names[2] = "eight ch";
    a->any = "a string of any length";
    s->lines[0] = "first";
    s->lines[1] = "";
    s->lines[2] = "third line";
    a->lines = (Every_string_seq){3, s->lines};
    memcpy(a->tag, "TAG!", 4);
    for (int i = 0; i < 100; i++)
        s->blob[i] = (uint8_t)i;
    a->blob = (Every_bytes){100, s->blob};
    memcpy(s->raw, "\x00\x01\x02\x03\x04\x05\x06", 7);
    a->raw = (Every_bytes){7, s->raw};
    for (unsigned i = 0; i < Every_KEYLEN; i++)
        a->key[i] = (uint8_t)(0xf0 + i);
    for (int i = 0; i < 16; i++)
        s->vec[i] = i * 0.5;
    a->vec = (Every_Vec){16, s->vec};
    a->pair[0] = (Shapes_Point){1, 2};
    a->pair[1] = (Shapes_Point){3, 4};
    a->who = "who";
    s->aliases[0] = "alias";
    s->aliases[1] = "other";
    a->aliases = (Every_Name_seq){2, s->aliases};
    s->colors[0] = Every_BLUE;
    s->colors[1] = Every_RED;
    s->colors[2] = Every_GREEN;
    a->colors = (Every_Color_seq){3, s->colors};
    s->values[0] = (Every_Value){.color = Every_BLUE, .u.s = "blue"};
    s->values[1] = (Every_Value){.color = Every_RED, .u.i = 42};
    a->values = (Every_Value_seq){2, s->values};
    s->pts[0] = (Shapes_Point){5, 6};
    s->pts[1] = (Shapes_Point){7, 8};
    a->maybe = (Every_Maybe){.tag = Every_NEG, .u.pts = {2, s->pts}};
    a->flag = (Every_Flag){.set = true, .u.bits = 7};
    s->opt_small = small_value(9);
    a->opt_small = &s->opt_small;
    s->opt_name = "optional";
    a->opt_name = &s->opt_name;
    a->ms = NULL;
    s->nodes[1] = (Every_Node){20, NULL};
    s->nodes[0] = (Every_Node){10, &s->nodes[1]};
    a->list = &s->nodes[0];
    s->kid = (Every_Tree){"kid", {0, NULL}};
    a->tree = (Every_Tree){"tree", {1, &s->kid}};
    a->origin = (Shapes_Point){-1, -2};
    a->shape = (Shapes_Shape){.kind = Shapes_CIRCLE, .u.radius = 3.25};
    a->kind = Shapes_POLYGON;
}

static void check_all(const Every_All *a, const Every_All *b)
{
    check_small(&a->smalls[1], &b->smalls[1]);
    assert_int_equal(b->many.len, 4);
    check_small(&a->many.val[3], &b->many.val[3]);
    assert_memory_equal(a->i8s.val, b->i8s.val, 8);
    assert_memory_equal(a->u8s, b->u8s, 4);
    assert_int_equal(b->i16s.val[0], INT16_MIN);
    assert_int_equal(b->u16s[2], 65535);
    assert_int_equal(b->i32s.val[0], INT32_MIN);
    assert_int_equal(b->u32s[0], UINT32_MAX);
    assert_true(b->i64s[0] == INT64_MIN);
    assert_true(b->u64s.val[2] == UINT64_MAX);
    assert_true(b->fs.val[4] == -1.0f);
    assert_true(b->ds[0] == 1e300);
    assert_memory_equal(b->cs.val, "xdr-chars!", 10);
    assert_int_equal(b->bs.len, 3);
    assert_true(b->bs.val[1] && !b->bs.val[2]);
    assert_string_equal(b->names[2], "eight ch");
    assert_string_equal(b->names[1], "");
    assert_string_equal(b->any, a->any);
    assert_int_equal(b->lines.len, 3);
    assert_string_equal(b->lines.val[2], "third line");
    assert_memory_equal(b->tag, "TAG!", 4);
    assert_int_equal(b->blob.len, 100);
    assert_memory_equal(b->blob.val, a->blob.val, 100);
    assert_int_equal(b->raw.len, 7);
    assert_memory_equal(b->key, a->key, Every_KEYLEN);
    assert_true(b->vec.val[15] == 7.5);
    assert_true(b->pair[1].y == 4);
    assert_string_equal(b->who, "who");
    assert_string_equal(b->aliases.val[1], "other");
    assert_int_equal(b->colors.val[0], Every_BLUE);
    assert_string_equal(b->values.val[0].u.s, "blue");
    assert_true(b->values.val[1].u.i == 42);
    assert_true(b->maybe.u.pts.val[1].x == 7);
    assert_int_equal(b->flag.u.bits, 7);
    check_small(a->opt_small, b->opt_small);
    assert_string_equal(*b->opt_name, "optional");
    assert_null(b->ms);
    assert_int_equal(b->list->next->value, 20);
    assert_string_equal(b->tree.kids.val[0].label, "kid");
    assert_true(b->origin.y == -2);
    assert_true(b->shape.u.radius == 3.25);
    assert_int_equal(b->kind, Shapes_POLYGON);
    assert_true(same_str(a->who, b->who));
}

static void test_all(void **state)
{
    (void)state;
    Every_All a, b;
    all_storage s;
    fill_all(&a, &s);
    ROUND_TRIP(Every_All, &a, &b);
    check_all(&a, &b);
    Every_All_free(&b);
}

/* Every prefix of a good encoding is bad, and what its decoder allocated
 * before it noticed is freed by the type's free (ASan checks). */
static void test_truncated(void **state)
{
    (void)state;
    Every_All a, b;
    all_storage s;
    fill_all(&a, &s);
    uint8_t *buf;
    size_t len;
    ENCODE(Every_All, &a, &buf, &len);
    for (size_t n = 0; n < len; n++) {
        tern_xdr_dec d;
        tern_xdr_dec_init(&d, buf, n);
        tern_err err = Every_All_dec(&d, &b);
        if (err == TERN_OK)
            err = tern_xdr_dec_end(&d);
        if (err == TERN_OK)
            fail_msg("a %zu-byte prefix of %zu decoded", n, len);
        Every_All_free(&b);
    }
    free(buf);
}

/* The typedefs' own coders. */
static void test_typedefs(void **state)
{
    (void)state;
    Every_Name n = "named", n2;
    ROUND_TRIP(Every_Name, &n, &n2);
    assert_string_equal(n2, "named");
    Every_Name_free(&n2);

    Every_Key k, k2;
    for (unsigned i = 0; i < Every_KEYLEN; i++)
        k[i] = (uint8_t)i;
    ROUND_TRIP(Every_Key, k, k2);
    assert_memory_equal(k, k2, sizeof k);

    double d[3] = {1, 2, 3};
    Every_Vec v = {3, d}, v2;
    ROUND_TRIP(Every_Vec, &v, &v2);
    assert_true(v2.val[2] == 3);
    Every_Vec_free(&v2);

    Every_Pair p = {{1, 2}, {3, 4}}, p2;
    ROUND_TRIP(Every_Pair, p, p2);
    assert_true(p2[1].x == 3);

    Every_Small sm = small_value(4);
    Every_MaybeSmall m = &sm, m2;
    ROUND_TRIP(Every_MaybeSmall, &m, &m2);
    check_small(&sm, m2);
    Every_MaybeSmall_free(&m2);
    m = NULL;
    ROUND_TRIP(Every_MaybeSmall, &m, &m2);
    assert_null(m2);

    Every_Color c = Every_BLUE, c2;
    ROUND_TRIP(Every_Color, &c, &c2);
    assert_int_equal(c2, Every_BLUE);
}

/* ---- hostile bytes -------------------------------------------------------------------- */

/* An allocator that counts and refuses anything over a kilobyte, so a
 * decoder that trusted a hostile count would fail the test. */
static size_t allocated;

static void *small_alloc(void *arg, size_t n)
{
    (void)arg;
    if (n > 1024)
        fail_msg("a hostile count got %zu bytes allocated", n);
    allocated += n;
    return malloc(n);
}

static void test_hostile_counts(void **state)
{
    (void)state;
    /* A Tree with 2^32-1 kids, in 12 bytes. */
    static const uint8_t many[] = {0, 0, 0, 1, 'x', 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
    Every_Tree t;
    tern_xdr_dec d;
    tern_xdr_dec_init(&d, many, sizeof many);
    d.alloc = small_alloc;
    allocated = 0;
    check_err(Every_Tree_dec(&d, &t), TERN_EPROTO);
    Every_Tree_free(&t);

    /* A Vec over its bound of 16. */
    static const uint8_t over[] = {0, 0, 0, 17};
    Every_Vec v;
    tern_xdr_dec_init(&d, over, sizeof over);
    check_err(Every_Vec_dec(&d, &v), TERN_EMSGSIZE);
    assert_null(v.val);

    /* A Value's string over its bound of 16 on the way out. */
    Every_Value val = {.color = Every_BLUE, .u.s = "seventeen chars!!"};
    tern_xdr_enc e;
    tern_xdr_enc_init(&e, NULL, 0);
    check_err(Every_Value_enc(&e, &val), TERN_EMSGSIZE);
    tern_xdr_enc_free(&e);
}

static void expect_bad(tern_err (*dec)(tern_xdr_dec *, Every_Small *), const uint8_t *p, size_t n)
{
    Every_Small s;
    tern_xdr_dec d;
    tern_xdr_dec_init(&d, p, n);
    check_err(dec(&d, &s), TERN_EPROTO);
}

static void test_hostile_values(void **state)
{
    (void)state;
    uint8_t b[28] = {0};
    expect_bad(Every_Small_dec, b, 20); /* short */
    b[7] = 0x80;                        /* int8 = 128 */
    expect_bad(Every_Small_dec, b, 28);
    b[7] = 0;
    b[10] = 1; /* uint8 = 256 */
    expect_bad(Every_Small_dec, b, 28);
    b[10] = 0;
    b[27] = 2; /* bool = 2 */
    expect_bad(Every_Small_dec, b, 28);
    b[27] = 0;
    b[0] = 0xff; /* char = -16777216 */
    expect_bad(Every_Small_dec, b, 28);

    /* An enum value Color does not have, coming or going; a union arm
     * Maybe does not have. */
    static const uint8_t seven[] = {0, 0, 0, 7};
    tern_xdr_dec d;
    Every_Color c;
    tern_xdr_dec_init(&d, seven, 4);
    check_err(Every_Color_dec(&d, &c), TERN_EPROTO);
    c = (Every_Color)7;
    tern_xdr_enc e;
    tern_xdr_enc_init(&e, NULL, 0);
    check_err(Every_Color_enc(&e, &c), TERN_EINVAL);
    tern_xdr_enc_free(&e);
    static const uint8_t two[] = {0, 0, 0, 2};
    Every_Maybe m;
    tern_xdr_dec_init(&d, two, 4);
    check_err(Every_Maybe_dec(&d, &m), TERN_EPROTO);
    Every_Maybe_free(&m);

    /* An int8 out of range inside a bulk-decoded array. */
    static const uint8_t i8s[] = {0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 1, 0};
    Every_All a;
    uint8_t *buf;
    size_t len;
    all_storage s;
    fill_all(&a, &s);
    ENCODE(Every_All, &a, &buf, &len);
    /* The i8s member follows 2 Smalls (56 bytes) and many (4 + 4 * 28). */
    size_t at = 56 + 4 + 4 * 28;
    memcpy(buf + at, i8s, sizeof i8s);
    Every_All back;
    tern_xdr_dec_init(&d, buf, len);
    check_err(Every_All_dec(&d, &back), TERN_EPROTO);
    Every_All_free(&back);
    free(buf);
}

/* Recursive types nest at most 1000 deep, coming or going. */
static void test_nesting(void **state)
{
    (void)state;
    enum { DEEP = 1001 };
    Every_Node *nodes = calloc(DEEP, sizeof *nodes);
    assert_non_null(nodes);
    for (int i = 0; i < DEEP - 1; i++)
        nodes[i].next = &nodes[i + 1];
    tern_xdr_enc e;
    tern_xdr_enc_init(&e, NULL, 0);
    check_err(Every_Node_enc(&e, &nodes[0]), TERN_EINVAL);
    tern_xdr_enc_free(&e);

    /* The same list as bytes: value, present, value, present ..., absent. */
    size_t len = DEEP * 8;
    uint8_t *buf = calloc(len, 1);
    assert_non_null(buf);
    for (int i = 0; i < DEEP - 1; i++)
        buf[i * 8 + 7] = 1;
    Every_Node n;
    tern_xdr_dec d;
    tern_xdr_dec_init(&d, buf, len);
    check_err(Every_Node_dec(&d, &n), TERN_EPROTO);
    Every_Node_free(&n);

    /* One shallower decodes. */
    tern_xdr_dec_init(&d, buf + 8, len - 8);
    check_ok(Every_Node_dec(&d, &n));
    Every_Node_free(&n);
    free(buf);
    free(nodes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small),
        cmocka_unit_test(test_calc_stats),
        cmocka_unit_test(test_unions),
        cmocka_unit_test(test_recursive),
        cmocka_unit_test(test_all),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_typedefs),
        cmocka_unit_test(test_hostile_counts),
        cmocka_unit_test(test_hostile_values),
        cmocka_unit_test(test_nesting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
