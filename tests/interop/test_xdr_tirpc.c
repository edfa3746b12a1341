/* tern's XDR against libtirpc's (Debian libtirpc-dev): the same values give
 * the same bytes, and each side decodes the other's output to the same
 * values. Thousands of random records from a seeded generator, biased to
 * the edges, plus every edge value on its own; then mutated encodings,
 * where tern may refuse more (non-zero padding, a bool other than 0 or 1,
 * a NUL inside a string) but must never accept something libtirpc refuses
 * or read it differently. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <rpc/xdr.h>

#include "base/endian.h"
#include "testutil.h"

enum kind {
    K_INT,
    K_UINT,
    K_HYPER,
    K_UHYPER,
    K_BOOL,
    K_FLOAT,
    K_DOUBLE,
    K_OPAQUE,  /* fixed-length opaque of n bytes */
    K_BYTES,   /* variable-length opaque, at most MAXDATA */
    K_STRING,  /* at most MAXDATA characters */
    K_INTS,    /* int array, at most MAXELEMS (tern: one put_space) */
    K_UHYPERS, /* unsigned hyper array (tern: element by element) */
    K_DOUBLES, /* vector of NDOUBLES doubles, no count on the wire */
    K_STRINGS, /* array of strings (libtirpc: xdr_wrapstring elements) */
    NKINDS,
};

#define MAXDATA 48
#define MAXELEMS 12
#define NDOUBLES 3
#define NSTRS 4
#define STRLEN 9

typedef struct item {
    enum kind kind;
    union {
        int32_t i;
        uint32_t u;
        int64_t h;
        uint64_t uh;
        bool b;
        float f;
        double d;
    } v;
    uint32_t n; /* data bytes, or elements */
    uint8_t data[MAXDATA + 1];
    int32_t ints[MAXELEMS];
    uint64_t uhypers[MAXELEMS];
    double doubles[NDOUBLES];
    char strs[NSTRS][STRLEN + 1];
} item;

#define MAXITEMS 16

typedef struct record {
    size_t n;
    item items[MAXITEMS];
} record;

/* ---- values ------------------------------------------------------------- */

static uint64_t rng_state;

/* splitmix64: small, seeded, the same sequence on every run. */
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint32_t rnd_below(uint32_t n)
{
    return (uint32_t)(rnd() % n);
}

static const uint64_t edge_words[] = {
    0, 1, 2, 3, 0x7f, 0x80, 0xff, 0x7fffffff, 0x80000000u, 0x80000001u, 0xfffffffeu, 0xffffffffu,
    0x100000000u, 0x7fffffffffffffffu, 0x8000000000000000u, 0xfffffffffffffffeu, UINT64_MAX,
    /* float bits: -0, inf, -inf, quiet and signalling NaNs, the smallest subnormal */
    0x80000000u, 0x7f800000u, 0xff800000u, 0x7fc00000u, 0x7fa00001u, 0xffc12345u, 0x00000001u,
    /* double bits: the same */
    0x8000000000000000u, 0x7ff0000000000000u, 0xfff0000000000000u, 0x7ff8000000000000u,
    0x7ff4000000000001u, 0xfff8000000abcdefu, 0x0000000000000001u};
#define NEDGES (sizeof edge_words / sizeof edge_words[0])

/* A random 64-bit word, one time in three an edge value. */
static uint64_t rnd_word(void)
{
    if (rnd_below(3) == 0)
        return edge_words[rnd_below(NEDGES)];
    return rnd();
}

/* Lengths 0..8 most of the time, so every padding is seen often. */
static uint32_t rnd_len(uint32_t max)
{
    return rnd_below(4) == 0 ? rnd_below(max + 1) : rnd_below(max < 8 ? max + 1 : 9);
}

static void fill_text(char *s, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        s[i] = (char)(1 + rnd_below(255)); /* any byte but NUL */
    s[n] = '\0';
}

static void set_word(item *it, uint64_t w)
{
    switch (it->kind) {
    case K_INT:
        it->v.i = (int32_t)(uint32_t)w;
        break;
    case K_UINT:
        it->v.u = (uint32_t)w;
        break;
    case K_HYPER:
        it->v.h = (int64_t)w;
        break;
    case K_UHYPER:
        it->v.uh = w;
        break;
    case K_BOOL:
        it->v.b = w & 1;
        break;
    case K_FLOAT: {
        uint32_t bits = (uint32_t)w;
        memcpy(&it->v.f, &bits, sizeof bits);
        break;
    }
    case K_DOUBLE:
        memcpy(&it->v.d, &w, sizeof w);
        break;
    default:
        break;
    }
}

static void rnd_item(item *it)
{
    memset(it, 0, sizeof *it);
    it->kind = (enum kind)rnd_below(NKINDS);
    set_word(it, rnd_word());
    switch (it->kind) {
    case K_OPAQUE:
    case K_BYTES:
        it->n = rnd_len(MAXDATA);
        for (uint32_t i = 0; i < it->n; i++)
            it->data[i] = (uint8_t)rnd(); /* NULs included */
        break;
    case K_STRING:
        it->n = rnd_len(MAXDATA);
        fill_text((char *)it->data, it->n);
        break;
    case K_INTS:
        it->n = rnd_below(MAXELEMS + 1);
        for (uint32_t i = 0; i < it->n; i++)
            it->ints[i] = (int32_t)(uint32_t)rnd_word();
        break;
    case K_UHYPERS:
        it->n = rnd_below(MAXELEMS + 1);
        for (uint32_t i = 0; i < it->n; i++)
            it->uhypers[i] = rnd_word();
        break;
    case K_DOUBLES:
        for (int i = 0; i < NDOUBLES; i++) {
            uint64_t w = rnd_word();
            memcpy(&it->doubles[i], &w, sizeof w);
        }
        break;
    case K_STRINGS:
        it->n = rnd_below(NSTRS + 1);
        for (uint32_t i = 0; i < it->n; i++)
            fill_text(it->strs[i], rnd_len(STRLEN));
        break;
    default:
        break;
    }
}

static void rnd_record(record *r)
{
    r->n = 1 + rnd_below(MAXITEMS);
    for (size_t i = 0; i < r->n; i++)
        rnd_item(&r->items[i]);
}

/* ---- transcripts: what a decoder saw, in one canonical form ------------- */

typedef struct transcript {
    uint8_t buf[8192];
    size_t len;
} transcript;

static void note(transcript *t, const void *p, size_t n)
{
    assert_true(n <= sizeof t->buf - t->len);
    if (n > 0) /* p may be NULL then */
        memcpy(t->buf + t->len, p, n);
    t->len += n;
}

static void note_u32(transcript *t, uint32_t v)
{
    note(t, &v, sizeof v);
}

/* The transcript a faithful decoder of it must produce. */
static void note_item(transcript *t, const item *it)
{
    note_u32(t, it->kind);
    switch (it->kind) {
    case K_INT:
    case K_UINT:
    case K_FLOAT:
        note(t, &it->v, 4);
        break;
    case K_HYPER:
    case K_UHYPER:
    case K_DOUBLE:
        note(t, &it->v, 8);
        break;
    case K_BOOL:
        note_u32(t, it->v.b);
        break;
    case K_OPAQUE:
    case K_BYTES:
    case K_STRING:
        note_u32(t, it->n);
        note(t, it->data, it->n);
        break;
    case K_INTS:
        note_u32(t, it->n);
        note(t, it->ints, it->n * sizeof it->ints[0]);
        break;
    case K_UHYPERS:
        note_u32(t, it->n);
        note(t, it->uhypers, it->n * sizeof it->uhypers[0]);
        break;
    case K_DOUBLES:
        note(t, it->doubles, sizeof it->doubles);
        break;
    case K_STRINGS:
        note_u32(t, it->n);
        for (uint32_t i = 0; i < it->n; i++) {
            note_u32(t, (uint32_t)strlen(it->strs[i]));
            note(t, it->strs[i], strlen(it->strs[i]));
        }
        break;
    default:
        fail();
    }
}

/* ---- tern --------------------------------------------------------------- */

static tern_err tern_put_item(tern_xdr_enc *x, const item *it)
{
    switch (it->kind) {
    case K_INT:
        return tern_xdr_put_i32(x, it->v.i);
    case K_UINT:
        return tern_xdr_put_u32(x, it->v.u);
    case K_HYPER:
        return tern_xdr_put_i64(x, it->v.h);
    case K_UHYPER:
        return tern_xdr_put_u64(x, it->v.uh);
    case K_BOOL:
        return tern_xdr_put_bool(x, it->v.b);
    case K_FLOAT:
        return tern_xdr_put_float(x, it->v.f);
    case K_DOUBLE:
        return tern_xdr_put_double(x, it->v.d);
    case K_OPAQUE:
        return tern_xdr_put_fixed(x, it->data, it->n);
    case K_BYTES:
        return tern_xdr_put_bytes(x, it->data, it->n, MAXDATA);
    case K_STRING:
        return tern_xdr_put_string(x, (const char *)it->data, MAXDATA);
    case K_INTS: {
        tern_xdr_put_count(x, it->n, MAXELEMS);
        uint8_t *p = tern_xdr_put_space(x, it->n * 4);
        if (p != NULL)
            for (uint32_t i = 0; i < it->n; i++)
                tn_put_be32(p + 4 * i, (uint32_t)it->ints[i]);
        return x->err;
    }
    case K_UHYPERS:
        tern_xdr_put_count(x, it->n, MAXELEMS);
        for (uint32_t i = 0; i < it->n; i++)
            tern_xdr_put_u64(x, it->uhypers[i]);
        return x->err;
    case K_DOUBLES:
        for (int i = 0; i < NDOUBLES; i++)
            tern_xdr_put_double(x, it->doubles[i]);
        return x->err;
    case K_STRINGS:
        tern_xdr_put_count(x, it->n, NSTRS);
        for (uint32_t i = 0; i < it->n; i++)
            tern_xdr_put_string(x, it->strs[i], UINT32_MAX);
        return x->err;
    default:
        return TERN_EINVAL;
    }
}

/* Decodes the kind of item `shape` is (with its fixed length, for an
 * opaque) and notes what it read. Frees what it allocated. */
static tern_err tern_get_item(tern_xdr_dec *d, const item *shape, transcript *t)
{
    uint32_t n;

    note_u32(t, shape->kind);
    switch (shape->kind) {
    case K_INT: {
        int32_t v = 0;
        tern_xdr_get_i32(d, &v);
        note(t, &v, 4);
        break;
    }
    case K_UINT: {
        uint32_t v = 0;
        tern_xdr_get_u32(d, &v);
        note(t, &v, 4);
        break;
    }
    case K_HYPER: {
        int64_t v = 0;
        tern_xdr_get_i64(d, &v);
        note(t, &v, 8);
        break;
    }
    case K_UHYPER: {
        uint64_t v = 0;
        tern_xdr_get_u64(d, &v);
        note(t, &v, 8);
        break;
    }
    case K_BOOL: {
        bool b = false;
        tern_xdr_get_bool(d, &b);
        note_u32(t, b);
        break;
    }
    case K_FLOAT: {
        float f = 0;
        tern_xdr_get_float(d, &f);
        note(t, &f, 4);
        break;
    }
    case K_DOUBLE: {
        double v = 0;
        tern_xdr_get_double(d, &v);
        note(t, &v, 8);
        break;
    }
    case K_OPAQUE: {
        uint8_t fixed[MAXDATA];
        if (tern_xdr_get_fixed(d, fixed, shape->n) == TERN_OK) {
            note_u32(t, shape->n);
            note(t, fixed, shape->n);
        }
        break;
    }
    case K_BYTES: {
        uint8_t *p = NULL;
        if (tern_xdr_get_bytes(d, &p, &n, MAXDATA) == TERN_OK) {
            note_u32(t, n);
            note(t, p, n);
        }
        free(p);
        break;
    }
    case K_STRING: {
        char *s = NULL;
        if (tern_xdr_get_string(d, &s, MAXDATA) == TERN_OK) {
            note_u32(t, (uint32_t)strlen(s));
            note(t, s, strlen(s));
        }
        free(s);
        break;
    }
    case K_INTS:
        if (tern_xdr_get_count(d, &n, MAXELEMS, 4) == TERN_OK) {
            const uint8_t *p = tern_xdr_get_space(d, (size_t)n * 4);
            if (p == NULL)
                break;
            note_u32(t, n);
            for (uint32_t i = 0; i < n; i++)
                note_u32(t, tn_get_be32(p + 4 * i));
        }
        break;
    case K_UHYPERS:
        if (tern_xdr_get_count(d, &n, MAXELEMS, 8) == TERN_OK) {
            note_u32(t, n);
            for (uint32_t i = 0; i < n; i++) {
                uint64_t v = 0;
                tern_xdr_get_u64(d, &v);
                note(t, &v, 8);
            }
        }
        break;
    case K_DOUBLES:
        for (int i = 0; i < NDOUBLES; i++) {
            double v = 0;
            tern_xdr_get_double(d, &v);
            note(t, &v, 8);
        }
        break;
    case K_STRINGS:
        if (tern_xdr_get_count(d, &n, NSTRS, 4) == TERN_OK) {
            note_u32(t, n);
            for (uint32_t i = 0; i < n; i++) {
                char *s = NULL;
                if (tern_xdr_get_string(d, &s, UINT32_MAX) == TERN_OK) {
                    note_u32(t, (uint32_t)strlen(s));
                    note(t, s, strlen(s));
                }
                free(s);
            }
        }
        break;
    default:
        fail();
    }
    return d->err;
}

/* ---- libtirpc ----------------------------------------------------------- */

/* libtirpc's element procedures are called through xdrproc_t, which is
 * variadic; the cast goes through void (*)(void) as -Wcast-function-type
 * asks. */
#define PROC(fn) ((xdrproc_t)(void (*)(void))(fn))

static bool tirpc_put_item(XDR *xd, const item *src)
{
    item it = *src; /* libtirpc takes non-const pointers even to encode */
    switch (it.kind) {
    case K_INT: {
        int v = it.v.i;
        return xdr_int(xd, &v);
    }
    case K_UINT: {
        u_int v = it.v.u;
        return xdr_u_int(xd, &v);
    }
    case K_HYPER: {
        quad_t v = it.v.h;
        return xdr_hyper(xd, &v);
    }
    case K_UHYPER: {
        u_quad_t v = it.v.uh;
        return xdr_u_hyper(xd, &v);
    }
    case K_BOOL: {
        bool_t v = it.v.b;
        return xdr_bool(xd, &v);
    }
    case K_FLOAT:
        return xdr_float(xd, &it.v.f);
    case K_DOUBLE:
        return xdr_double(xd, &it.v.d);
    case K_OPAQUE:
        return xdr_opaque(xd, (char *)it.data, it.n);
    case K_BYTES: {
        char *p = (char *)it.data;
        u_int n = it.n;
        return xdr_bytes(xd, &p, &n, MAXDATA);
    }
    case K_STRING: {
        char *s = (char *)it.data;
        return xdr_string(xd, &s, MAXDATA);
    }
    case K_INTS: {
        char *p = (char *)it.ints;
        u_int n = it.n;
        return xdr_array(xd, &p, &n, MAXELEMS, sizeof(int), PROC(xdr_int));
    }
    case K_UHYPERS: {
        char *p = (char *)it.uhypers;
        u_int n = it.n;
        return xdr_array(xd, &p, &n, MAXELEMS, sizeof(u_quad_t), PROC(xdr_u_hyper));
    }
    case K_DOUBLES:
        return xdr_vector(xd, (char *)it.doubles, NDOUBLES, sizeof(double), PROC(xdr_double));
    case K_STRINGS: {
        char *strs[NSTRS];
        for (uint32_t i = 0; i < it.n; i++)
            strs[i] = it.strs[i];
        char *p = (char *)strs;
        u_int n = it.n;
        return xdr_array(xd, &p, &n, NSTRS, sizeof(char *), PROC(xdr_wrapstring));
    }
    default:
        return false;
    }
}

static bool tirpc_get_item(XDR *xd, const item *shape, transcript *t)
{
    bool ok = false;

    note_u32(t, shape->kind);
    switch (shape->kind) {
    case K_INT:
    case K_UINT: {
        u_int v = 0;
        ok = xdr_u_int(xd, &v);
        note_u32(t, v);
        break;
    }
    case K_HYPER:
    case K_UHYPER: {
        u_quad_t v = 0;
        ok = xdr_u_hyper(xd, &v);
        note(t, &v, 8);
        break;
    }
    case K_BOOL: {
        bool_t v = 0;
        ok = xdr_bool(xd, &v);
        note_u32(t, v != 0);
        break;
    }
    case K_FLOAT: {
        float f = 0;
        ok = xdr_float(xd, &f);
        note(t, &f, 4);
        break;
    }
    case K_DOUBLE: {
        double v = 0;
        ok = xdr_double(xd, &v);
        note(t, &v, 8);
        break;
    }
    case K_OPAQUE: {
        char fixed[MAXDATA];
        ok = xdr_opaque(xd, fixed, shape->n);
        if (ok) {
            note_u32(t, shape->n);
            note(t, fixed, shape->n);
        }
        break;
    }
    case K_BYTES: {
        char *p = NULL;
        u_int n = 0;
        ok = xdr_bytes(xd, &p, &n, MAXDATA);
        if (ok) {
            note_u32(t, n);
            note(t, p, n);
        }
        free(p);
        break;
    }
    case K_STRING: {
        char *s = NULL;
        ok = xdr_string(xd, &s, MAXDATA);
        if (ok) {
            note_u32(t, (uint32_t)strlen(s));
            note(t, s, strlen(s));
        }
        free(s);
        break;
    }
    case K_INTS: {
        int *p = NULL;
        u_int n = 0;
        ok = xdr_array(xd, (char **)&p, &n, MAXELEMS, sizeof(int), PROC(xdr_int));
        if (ok) {
            note_u32(t, n);
            note(t, p, n * sizeof(int));
        }
        free(p);
        break;
    }
    case K_UHYPERS: {
        u_quad_t *p = NULL;
        u_int n = 0;
        ok = xdr_array(xd, (char **)&p, &n, MAXELEMS, sizeof(u_quad_t), PROC(xdr_u_hyper));
        if (ok) {
            note_u32(t, n);
            note(t, p, n * sizeof(u_quad_t));
        }
        free(p);
        break;
    }
    case K_DOUBLES: {
        double v[NDOUBLES] = {0};
        ok = xdr_vector(xd, (char *)v, NDOUBLES, sizeof(double), PROC(xdr_double));
        note(t, v, sizeof v);
        break;
    }
    case K_STRINGS: {
        char **p = NULL;
        u_int n = 0;
        ok = xdr_array(xd, (char **)&p, &n, NSTRS, sizeof(char *), PROC(xdr_wrapstring));
        if (ok) {
            note_u32(t, n);
            for (u_int i = 0; i < n; i++) {
                note_u32(t, (uint32_t)strlen(p[i]));
                note(t, p[i], strlen(p[i]));
            }
        }
        /* A failed array keeps what it allocated, zero-filled first. */
        if (p != NULL)
            for (u_int i = 0; i < NSTRS && i < n; i++)
                free(p[i]);
        free(p);
        break;
    }
    default:
        fail();
    }
    return ok;
}

/* ---- the comparisons ---------------------------------------------------- */

#define WIRE_CAP (1u << 20)
static uint8_t tirpc_wire[WIRE_CAP];

static size_t tirpc_encode(const record *r)
{
    XDR xd;
    xdrmem_create(&xd, (char *)tirpc_wire, WIRE_CAP, XDR_ENCODE);
    for (size_t i = 0; i < r->n; i++)
        if (!tirpc_put_item(&xd, &r->items[i]))
            fail_msg("libtirpc refused to encode item %zu (kind %d)", i, r->items[i].kind);
    size_t len = xdr_getpos(&xd);
    xdr_destroy(&xd);
    return len;
}

/* Decodes wire[len] as r's items with tern; TERN_OK only if every item
 * decoded and every byte was used. */
static tern_err tern_decode(const record *r, const uint8_t *wire, size_t len, transcript *t)
{
    tern_xdr_dec d;
    tern_xdr_dec_init(&d, wire, len);
    t->len = 0;
    for (size_t i = 0; i < r->n; i++)
        tern_get_item(&d, &r->items[i], t);
    return tern_xdr_dec_end(&d);
}

static bool tirpc_decode(const record *r, const uint8_t *wire, size_t len, transcript *t)
{
    XDR xd;
    bool ok = true;
    xdrmem_create(&xd, (char *)wire, (u_int)len, XDR_DECODE);
    t->len = 0;
    for (size_t i = 0; i < r->n && ok; i++)
        ok = tirpc_get_item(&xd, &r->items[i], t);
    ok = ok && xdr_getpos(&xd) == len;
    xdr_destroy(&xd);
    return ok;
}

/* Same bytes both ways; each decodes the other's to the original values. */
static void check_record(const record *r)
{
    static transcript want, got;
    tern_xdr_enc x = {0};

    for (size_t i = 0; i < r->n; i++)
        check_ok(tern_put_item(&x, &r->items[i]));
    size_t tlen = tirpc_encode(r);
    if (x.len != tlen || (tlen > 0 && memcmp(x.buf, tirpc_wire, tlen) != 0)) {
        size_t at = 0;
        while (at < tlen && at < x.len && x.buf[at] == tirpc_wire[at])
            at++;
        fail_msg("encodings differ: tern %zu bytes, libtirpc %zu, first difference at %zu", x.len,
                 tlen, at);
    }

    want.len = 0;
    for (size_t i = 0; i < r->n; i++)
        note_item(&want, &r->items[i]);
    check_ok(tern_decode(r, tirpc_wire, tlen, &got));
    assert_int_equal(got.len, want.len);
    assert_memory_equal(got.buf, want.buf, want.len);
    assert_true(tirpc_decode(r, x.buf, x.len, &got));
    assert_int_equal(got.len, want.len);
    assert_memory_equal(got.buf, want.buf, want.len);
    tern_xdr_enc_free(&x);
}

static void one_item_record(record *r, enum kind kind)
{
    memset(r, 0, sizeof *r);
    r->n = 1;
    r->items[0].kind = kind;
}

/* Every edge value as every scalar type, every length 0..MAXDATA. */
static void test_edges(void **state)
{
    (void)state;
    static record r;

    for (int k = K_INT; k <= K_DOUBLE; k++) {
        for (size_t e = 0; e < NEDGES; e++) {
            one_item_record(&r, (enum kind)k);
            set_word(&r.items[0], edge_words[e]);
            check_record(&r);
        }
    }
    for (uint32_t n = 0; n <= MAXDATA; n++) {
        for (int k = K_OPAQUE; k <= K_STRING; k++) {
            one_item_record(&r, (enum kind)k);
            r.items[0].n = n;
            for (uint32_t i = 0; i < n; i++)
                r.items[0].data[i] = k == K_STRING ? (uint8_t)('a' + i % 26) : (uint8_t)(i * 37);
            check_record(&r);
        }
    }
    for (uint32_t n = 0; n <= MAXELEMS; n++) {
        one_item_record(&r, K_INTS);
        r.items[0].n = n;
        for (uint32_t i = 0; i < n; i++)
            r.items[0].ints[i] = i % 2 ? INT32_MIN : INT32_MAX;
        check_record(&r);
        one_item_record(&r, K_UHYPERS);
        r.items[0].n = n;
        for (uint32_t i = 0; i < n; i++)
            r.items[0].uhypers[i] = UINT64_MAX - i;
        check_record(&r);
    }
    one_item_record(&r, K_DOUBLES);
    r.items[0].doubles[0] = -0.0;
    r.items[0].doubles[1] = INFINITY;
    r.items[0].doubles[2] = NAN;
    check_record(&r);
    for (uint32_t n = 0; n <= NSTRS; n++) {
        one_item_record(&r, K_STRINGS);
        r.items[0].n = n;
        for (uint32_t i = 0; i < n; i++)
            memset(r.items[0].strs[i], 'x', i * 3 % (STRLEN + 1));
        check_record(&r);
    }
}

static void test_random_records(void **state)
{
    (void)state;
    static record r;

    rng_state = 0x5eed0001u;
    for (int i = 0; i < 20000; i++) {
        rnd_record(&r);
        check_record(&r);
    }
}

/* Large values, well past one growth of the encoder's buffer. */
static void test_large(void **state)
{
    (void)state;
    enum { BIG = 200003 };
    uint8_t *blob = malloc(BIG + 1);
    assert_non_null(blob);
    rng_state = 0x5eed0002u;
    for (size_t i = 0; i < BIG; i++)
        blob[i] = (uint8_t)('A' + rnd_below(26));
    blob[BIG] = '\0';

    tern_xdr_enc x = {0};
    check_ok(tern_xdr_put_bytes(&x, blob, BIG, BIG));
    check_ok(tern_xdr_put_string(&x, (const char *)blob, BIG));
    check_ok(tern_xdr_put_fixed(&x, blob, BIG));

    XDR xd;
    char *p = (char *)blob;
    u_int n = BIG;
    xdrmem_create(&xd, (char *)tirpc_wire, WIRE_CAP, XDR_ENCODE);
    assert_true(xdr_bytes(&xd, &p, &n, BIG));
    assert_true(xdr_string(&xd, &p, BIG));
    assert_true(xdr_opaque(&xd, p, BIG));
    assert_int_equal(xdr_getpos(&xd), x.len);
    assert_memory_equal(x.buf, tirpc_wire, x.len);
    xdr_destroy(&xd);

    tern_xdr_dec d;
    uint8_t *bytes = NULL;
    char *s = NULL;
    uint32_t blen = 0;
    tern_xdr_dec_init(&d, tirpc_wire, x.len);
    check_ok(tern_xdr_get_bytes(&d, &bytes, &blen, BIG));
    check_ok(tern_xdr_get_string(&d, &s, BIG));
    const uint8_t *fixed = tern_xdr_get_space(&d, (BIG + 3) / 4 * 4);
    check_ok(tern_xdr_dec_end(&d));
    assert_int_equal(blen, BIG);
    assert_memory_equal(bytes, blob, BIG);
    assert_string_equal(s, (const char *)blob);
    assert_memory_equal(fixed, blob, BIG);
    free(bytes);
    free(s);
    free(blob);
    tern_xdr_enc_free(&x);
}

/* Both sides refuse to encode past a bound. */
static void test_encode_bounds(void **state)
{
    (void)state;
    char text[] = "abcdefgh";
    char *p = text;
    u_int n = 8;
    XDR xd;

    xdrmem_create(&xd, (char *)tirpc_wire, WIRE_CAP, XDR_ENCODE);
    assert_false(xdr_bytes(&xd, &p, &n, 7));
    xdr_destroy(&xd);
    xdrmem_create(&xd, (char *)tirpc_wire, WIRE_CAP, XDR_ENCODE);
    assert_false(xdr_string(&xd, &p, 7));
    xdr_destroy(&xd);

    tern_xdr_enc x = {0};
    check_err(tern_xdr_put_bytes(&x, text, 8, 7), TERN_EMSGSIZE);
    tern_xdr_enc_free(&x);
    check_err(tern_xdr_put_string(&x, text, 7), TERN_EMSGSIZE);
    tern_xdr_enc_free(&x);
}

/* Damaged encodings: flipped bytes, cut short, lengths rewritten. Whatever
 * tern accepts, libtirpc accepts and reads the same; whatever only libtirpc
 * accepts, tern refused as malformed (TERN_EPROTO). */
static void test_mutations(void **state)
{
    (void)state;
    static record r;
    static transcript by_tern, by_tirpc;
    static uint8_t wire[WIRE_CAP];
    size_t both = 0, neither = 0, only_tirpc = 0;

    rng_state = 0x5eed0003u;
    for (int round = 0; round < 20000; round++) {
        rnd_record(&r);
        tern_xdr_enc x = {0};
        for (size_t i = 0; i < r.n; i++)
            check_ok(tern_put_item(&x, &r.items[i]));
        size_t len = x.len;
        if (len > 0)
            memcpy(wire, x.buf, len);
        tern_xdr_enc_free(&x);

        switch (rnd_below(3)) {
        case 0: /* flip a few bytes */
            for (uint32_t f = 1 + rnd_below(3); f > 0 && len > 0; f--)
                wire[rnd_below((uint32_t)len)] ^= (uint8_t)(1 + rnd_below(255));
            break;
        case 1: /* cut short */
            len = rnd_below((uint32_t)len + 1);
            break;
        default: /* a small number at a 4-byte boundary: lengths, counts, bools */
            if (len >= 4) {
                size_t at = rnd_below((uint32_t)(len / 4)) * 4;
                tn_put_be32(wire + at, rnd_below(4) == 0 ? (uint32_t)rnd() : rnd_below(60));
            }
            break;
        }

        /* An exact-size copy, so ASan sees any read past the end. */
        uint8_t *exact = malloc(len ? len : 1);
        if (len > 0)
            memcpy(exact, wire, len);
        tern_err terr = tern_decode(&r, exact, len, &by_tern);
        bool tok = tirpc_decode(&r, exact, len, &by_tirpc);
        free(exact);

        if (terr == TERN_OK) {
            if (!tok)
                fail_msg("round %d: tern accepted what libtirpc refused", round);
            assert_int_equal(by_tern.len, by_tirpc.len);
            assert_memory_equal(by_tern.buf, by_tirpc.buf, by_tern.len);
            both++;
        } else if (tok) {
            if (terr != TERN_EPROTO)
                fail_msg("round %d: tern said %s where libtirpc accepted", round,
                         tern_errname(terr));
            only_tirpc++;
        } else {
            neither++;
        }
    }
    print_message("mutations: %zu accepted by both, %zu refused by both, %zu by tern only\n", both,
                  neither, only_tirpc);
    assert_true(both > 0 && neither > 0 && only_tirpc > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edges),     cmocka_unit_test(test_random_records),
        cmocka_unit_test(test_large),     cmocka_unit_test(test_encode_bounds),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
