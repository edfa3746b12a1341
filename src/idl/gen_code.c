/* The coders of one declaration, and the static helpers they call.
 *
 * A declaration's value is coded by a single call wherever possible:
 * scalars, strings and opaques straight through tern_xdr_*, named types
 * through their public coders, and arrays and optionals through helpers
 * named after their element (put_double_array, get_Stats_seq,
 * free_string_opt ...). Arrays of 4- and 8-byte scalars are coded in bulk
 * through tern_xdr_put_space/get_space. */
#include <string.h>

#include "gen.h"

/* ---- the helper registry ---------------------------------------------------- */

static tn_idl_helper *find_helper(tn_idl_cfile *cf, const char *name)
{
    for (size_t i = 0; i < cf->n; i++) {
        if (strcmp(cf->v[i].name, name) == 0)
            return &cf->v[i];
    }
    return NULL;
}

bool tn_idl_helper_begin(tn_idl_cfile *cf, const char *name, const char *sig, const char *comment,
                         tn_idl_emit *body)
{
    tn_idl_ctx *ctx = cf->g->ctx;
    tn_idl_helper *h = find_helper(cf, name);
    if (h != NULL) {
        if (!h->done && !h->declared) {
            h->declared = true;
            tn_idl_buf_printf(ctx, &cf->protos, "%s;\n", tn_idl_wrap(cf->g, sig, 0));
        }
        return false;
    }
    cf->v = tn_idl_grow(ctx, cf->v, &cf->cap, cf->n, sizeof *cf->v);
    cf->v[cf->n++] = (tn_idl_helper){.name = name, .sig = sig, .comment = comment};
    body->cf = cf;
    body->out = tn_idl_alloc(ctx, sizeof *body->out);
    body->indent = 1;
    body->xdr = "xdr";
    return true;
}

void tn_idl_helper_end(tn_idl_cfile *cf, const char *name, tn_idl_emit *body)
{
    tn_idl_ctx *ctx = cf->g->ctx;
    tn_idl_helper *h = find_helper(cf, name);
    h->done = true;
    if (h->comment != NULL)
        tn_idl_buf_printf(ctx, &cf->helpers, "/* %s */\n", h->comment);
    tn_idl_buf_printf(ctx, &cf->helpers, "%s\n{\n%s}\n\n", tn_idl_wrap(cf->g, h->sig, 0),
                      body->out->p != NULL ? body->out->p : "");
}

const char *tn_idl_h_text(tn_idl_cfile *cf, const tn_idl_text_helper *h)
{
    tn_idl_emit b;
    if (h->calls != NULL)
        tn_idl_h_text(cf, h->calls);
    if (tn_idl_helper_begin(cf, h->name, h->sig, h->comment, &b)) {
        for (size_t i = 0; h->body[i] != NULL; i++)
            tn_idl_line(&b, "%s", h->body[i]);
        tn_idl_helper_end(cf, h->name, &b);
    }
    return h->name;
}

/* ---- small pieces ---------------------------------------------------------------- */

static tn_idl_gen *gen_of(const tn_idl_emit *e)
{
    return e->cf->g;
}

/* The scalar kinds, which tern_xdr_* codes directly; arrays of them are
 * coded in bulk. */
static bool is_scalar(const tn_idl_type *t)
{
    return t->kind >= TN_T_BOOL && t->kind <= TN_T_DOUBLE;
}

/* Strings and opaques carry a bound of their own into array helpers. */
static bool has_elem_bound(const tn_idl_type *t)
{
    return t->kind == TN_T_STRING || t->kind == TN_T_OPAQUE_VAR;
}

static const char *bound_param(const tn_idl_type *t)
{
    return has_elem_bound(t) ? ", uint32_t max" : "";
}

static const char *bound_arg(tn_idl_gen *g, const tn_idl_type *t)
{
    return has_elem_bound(t) ? tn_idl_sprintf(g->ctx, ", %s", tn_idl_bound(g, t)) : "";
}

const char *tn_idl_helper_word(tn_idl_gen *g, const tn_idl_type *t)
{
    if (t->kind == TN_T_NAMED)
        return tn_idl_cname(g, t->def);
    if (t->kind == TN_T_OPAQUE_VAR)
        return tn_idl_ctype(g, t, TN_CLIENT);
    return tn_idl_type_name(t);
}

static const char *elem_type(tn_idl_gen *g, const tn_idl_type *t)
{
    return tn_idl_ctype(g, t, TN_CLIENT);
}

bool tn_idl_is_array_typedef(const tn_idl_type *t)
{
    const tn_idl_def *d = tn_idl_named(t);
    return d != NULL && d->kind == TN_D_TYPEDEF && d->is_array;
}

/* The same body serves both streams: both have an err. */
static const char *const fail_body[] = {
    "if (xdr->err == TERN_OK)",
    "    xdr->err = err;",
    "return xdr->err;",
    NULL,
};

static const tn_idl_text_helper fail_dec = {
    .name = "fail_dec",
    .sig = "static tern_err fail_dec(tern_xdr_dec *xdr, tern_err err)",
    .comment = "Makes err the decoder's error, unless it already failed.",
    .body = fail_body,
};

static const tn_idl_text_helper fail_enc = {
    .name = "fail_enc",
    .sig = "static tern_err fail_enc(tern_xdr_enc *xdr, tern_err err)",
    .comment = "Makes err the encoder's error, unless it already failed.",
    .body = fail_body,
};

static const tn_idl_text_helper alloc_array = {
    .name = "alloc_array",
    .sig = "static void *alloc_array(tern_xdr_dec *xdr, size_t n, size_t size)",
    .comment = "n elements from the decoder's allocator; NULL, with the decoder's error set, when "
               "out\n * of memory or when n * size overflows.",
    .body =
        (const char *const[]){
            "if (n > SIZE_MAX / size) {",
            "    fail_dec(xdr, TERN_ENOMEM);",
            "    return NULL;",
            "}",
            "return tern_xdr_alloc(xdr, n * size);",
            NULL,
        },
    .calls = &fail_dec,
};

const char *tn_idl_h_fail_dec(tn_idl_cfile *cf)
{
    return tn_idl_h_text(cf, &fail_dec);
}

const char *tn_idl_h_fail_enc(tn_idl_cfile *cf)
{
    return tn_idl_h_text(cf, &fail_enc);
}

static const char *h_be(tn_idl_cfile *cf, int bits, bool store)
{
    tn_idl_gen *g = cf->g;
    tn_idl_emit b;
    const char *name = tn_idl_sprintf(g->ctx, "%s_be%d", store ? "store" : "load", bits);
    const char *sig =
        store ? tn_idl_sprintf(g->ctx, "static void %s(uint8_t *p, uint%d_t v)", name, bits)
              : tn_idl_sprintf(g->ctx, "static uint%d_t %s(const uint8_t *p)", bits, name);
    if (!tn_idl_helper_begin(cf, name, sig, NULL, &b))
        return name;
    if (bits == 32 && store) {
        tn_idl_line(&b, "p[0] = (uint8_t)(v >> 24);");
        tn_idl_line(&b, "p[1] = (uint8_t)(v >> 16);");
        tn_idl_line(&b, "p[2] = (uint8_t)(v >> 8);");
        tn_idl_line(&b, "p[3] = (uint8_t)v;");
    } else if (bits == 32) {
        tn_idl_line(
            &b, "return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];");
    } else if (store) {
        const char *half = h_be(cf, 32, true);
        tn_idl_line(&b, "%s(p, (uint32_t)(v >> 32));", half);
        tn_idl_line(&b, "%s(p + 4, (uint32_t)v);", half);
    } else {
        const char *half = h_be(cf, 32, false);
        tn_idl_line(&b, "return (uint64_t)%s(p) << 32 | %s(p + 4);", half, half);
    }
    tn_idl_helper_end(cf, name, &b);
    return name;
}

/* What the wire takes for a scalar kind: the tern_xdr_* coder of one value,
 * its size, and the C range of the small ones (sent as 4-byte ints and
 * checked when they come back). */
typedef struct scalar_info {
    const char *xdr; /* tern_xdr_put_<xdr> and tern_xdr_get_<xdr> */
    int bytes;
    const char *wire;      /* uint32_t or uint64_t */
    const char *cast;      /* turns an element into wire bits (bool: a test instead) */
    const char *min, *max; /* range check on decode; NULL: none */
    bool is_signed;
    bool bits; /* float/double: copied bit for bit */
} scalar_info;

/* Indexed by kind, TN_T_BOOL to TN_T_DOUBLE (is_scalar). */
static const scalar_info scalars[] = {
    [TN_T_BOOL] = {"bool", 4, "uint32_t", "", NULL, "1", false, false},
    [TN_T_CHAR] = {"i32", 4, "uint32_t", "(uint32_t)(int32_t)", "-128", "255", true, false},
    [TN_T_INT8] = {"i32", 4, "uint32_t", "(uint32_t)(int32_t)", "INT8_MIN", "INT8_MAX", true,
                   false},
    [TN_T_INT16] = {"i32", 4, "uint32_t", "(uint32_t)(int32_t)", "INT16_MIN", "INT16_MAX", true,
                    false},
    [TN_T_INT32] = {"i32", 4, "uint32_t", "(uint32_t)", NULL, NULL, true, false},
    [TN_T_INT64] = {"i64", 8, "uint64_t", "(uint64_t)", NULL, NULL, true, false},
    [TN_T_UINT8] = {"u32", 4, "uint32_t", "", NULL, "UINT8_MAX", false, false},
    [TN_T_UINT16] = {"u32", 4, "uint32_t", "", NULL, "UINT16_MAX", false, false},
    [TN_T_UINT32] = {"u32", 4, "uint32_t", "", NULL, NULL, false, false},
    [TN_T_UINT64] = {"u64", 8, "uint64_t", "", NULL, NULL, false, false},
    [TN_T_FLOAT] = {"float", 4, "uint32_t", NULL, NULL, NULL, false, true},
    [TN_T_DOUBLE] = {"double", 8, "uint64_t", NULL, NULL, NULL, false, true},
};

/* The kinds narrower than the 4-byte int that carries them: they decode
 * through get_<kind>. (tern_xdr_get_bool checks its own range.) */
static bool is_small(const tn_idl_type *t)
{
    return is_scalar(t) && t->kind != TN_T_BOOL && scalars[t->kind].max != NULL;
}

/* The decoded wire value w out of range for the kind, as a C condition. */
static const char *out_of_range(tn_idl_gen *g, const scalar_info *s)
{
    if (s->min != NULL)
        return tn_idl_sprintf(g->ctx, "w < %s || w > %s", s->min, s->max);
    return tn_idl_sprintf(g->ctx, "w > %s", s->max);
}

/* get_int8 and the like: the small kinds decode through a range check. */
static const char *h_get_small(tn_idl_cfile *cf, const tn_idl_type *t)
{
    tn_idl_gen *g = cf->g;
    tn_idl_emit b;
    const scalar_info *s = &scalars[t->kind];
    const char *kind = tn_idl_type_name(t);
    const char *name = tn_idl_sprintf(g->ctx, "get_%s", kind);
    const char *sig = tn_idl_sprintf(g->ctx, "static tern_err %s(tern_xdr_dec *xdr, %s *v)", name,
                                     tn_idl_ctype(g, t, TN_CLIENT));
    const char *why =
        tn_idl_sprintf(g->ctx,
                       "XDR sends %s %s as a 4-byte integer: a value out of its "
                       "range is a protocol error.",
                       t->kind == TN_T_INT8 || t->kind == TN_T_INT16 ? "an" : "a", kind);
    if (!tn_idl_helper_begin(cf, name, sig, why, &b))
        return name;
    tn_idl_line(&b, "%s w;", s->is_signed ? "int32_t" : "uint32_t");
    tn_idl_line(&b, "if (tern_xdr_get_%s(xdr, &w) != TERN_OK)", s->xdr);
    tn_idl_line(&b, "    return xdr->err;");
    tn_idl_line(&b, "if (%s)", out_of_range(g, s));
    tn_idl_line(&b, "    return %s(xdr, TERN_EPROTO);", tn_idl_h_fail_dec(cf));
    tn_idl_line(&b, "*v = (%s)w;", tn_idl_ctype(g, t, TN_CLIENT));
    tn_idl_line(&b, "return TERN_OK;");
    tn_idl_helper_end(cf, name, &b);
    return name;
}

/* ---- one value of a plain type ------------------------------------------------------- */

/* One value through its coder: tern_xdr_put_* and NAME_enc when encoding,
 * tern_xdr_get_* and NAME_dec when decoding. The decoders take the value's
 * address where the encoders take the value. */
static void code_type(const tn_idl_emit *e, const tn_idl_type *t, tn_idl_val v, const char *bound,
                      bool decode)
{
    tn_idl_gen *g = gen_of(e);
    const char *x = e->xdr;
    const char *op = decode ? "get" : "put";
    const char *arg = decode ? tn_idl_addr(g, v) : tn_idl_v(g, v);
    if (decode && is_small(t)) {
        tn_idl_line(e, "%s(%s, %s);", h_get_small(e->cf, t), x, arg);
        return;
    }
    if (is_scalar(t)) {
        tn_idl_line(e, "tern_xdr_%s_%s(%s, %s);", op, scalars[t->kind].xdr, x, arg);
        return;
    }
    switch (t->kind) {
    case TN_T_STRING:
        tn_idl_line(e, "tern_xdr_%s_string(%s, %s, %s);", op, x, arg, bound);
        break;
    case TN_T_OPAQUE_VAR: {
        const char *amp = decode ? "&" : "";
        tn_idl_line(e, "tern_xdr_%s_bytes(%s, %s%s, %s%s, %s);", op, x, amp,
                    tn_idl_member(g, v, "val").expr, amp, tn_idl_member(g, v, "len").expr, bound);
        break;
    }
    case TN_T_OPAQUE_FIXED:
        tn_idl_line(e, "tern_xdr_%s_fixed(%s, %s, %s);", op, x, tn_idl_v(g, v), bound);
        break;
    case TN_T_NAMED:
        if (t->def->kind == TN_D_HANDLE) {
            const char *b = tn_idl_member(g, v, "b").expr;
            tn_idl_line(e, "tern_xdr_%s_fixed(%s, %s, sizeof %s);", op, x, b, b);
        } else {
            tn_idl_line(e, "%s_%s(%s, %s);", tn_idl_cname(g, t->def), decode ? "dec" : "enc", x,
                        tn_idl_is_array_typedef(t) ? tn_idl_v(g, v) : tn_idl_addr(g, v));
        }
        break;
    default: /* TN_T_VOID, nothing to code; scalars went above */
        break;
    }
}

static void put_type(const tn_idl_emit *e, const tn_idl_type *t, tn_idl_val v, const char *bound)
{
    code_type(e, t, v, bound, false);
}

/* zeroed: v is already all zeros, as a string or opaque must be before its
 * decoder runs. */
static void get_type(const tn_idl_emit *e, const tn_idl_type *t, tn_idl_val v, const char *bound,
                     bool zeroed)
{
    tn_idl_gen *g = gen_of(e);
    if (!zeroed && t->kind == TN_T_STRING)
        tn_idl_line(e, "%s = NULL;", tn_idl_v(g, v));
    else if (!zeroed && t->kind == TN_T_OPAQUE_VAR)
        tn_idl_line(e, "memset(%s, 0, sizeof %s);", tn_idl_addr(g, v), tn_idl_v(g, v));
    code_type(e, t, v, bound, true);
}

static void free_type(const tn_idl_emit *e, const tn_idl_type *t, tn_idl_val v)
{
    tn_idl_gen *g = gen_of(e);
    if (t->kind == TN_T_STRING)
        tn_idl_line(e, "free(%s);", tn_idl_v(g, v));
    else if (t->kind == TN_T_OPAQUE_VAR)
        tn_idl_line(e, "free(%s);", tn_idl_member(g, v, "val").expr);
    else if (tn_idl_type_heap(t))
        tn_idl_line(e, "%s_free(%s);", tn_idl_cname(g, t->def),
                    tn_idl_is_array_typedef(t) ? tn_idl_v(g, v) : tn_idl_addr(g, v));
}

/* ---- array and optional helpers ------------------------------------------------------ */

static void bulk_put_body(tn_idl_emit *b, tn_idl_cfile *cf, const tn_idl_type *t,
                          const scalar_info *s)
{
    const char *store = h_be(cf, s->bytes * 8, true);
    tn_idl_line(b, "uint8_t *p = n > 0 ? tern_xdr_put_space(xdr, n * %d) : NULL;", s->bytes);
    if (s->bits) {
        tn_idl_line(b, "for (size_t i = 0; p != NULL && i < n; i++, p += %d) {", s->bytes);
        tn_idl_line(b, "    %s w;", s->wire);
        tn_idl_line(b, "    memcpy(&w, &v[i], sizeof w);");
        tn_idl_line(b, "    %s(p, w);", store);
        tn_idl_line(b, "}");
    } else {
        tn_idl_line(b, "for (size_t i = 0; p != NULL && i < n; i++, p += %d)", s->bytes);
        if (t->kind == TN_T_BOOL)
            tn_idl_line(b, "    %s(p, v[i] ? 1 : 0);", store);
        else
            tn_idl_line(b, "    %s(p, %sv[i]);", store, s->cast);
    }
    tn_idl_line(b, "return xdr->err;");
}

static void bulk_get_body(tn_idl_emit *b, tn_idl_cfile *cf, const tn_idl_type *t,
                          const scalar_info *s)
{
    tn_idl_gen *g = cf->g;
    const char *load = h_be(cf, s->bytes * 8, false);
    const char *ctype = tn_idl_ctype(g, t, TN_CLIENT);
    tn_idl_line(b, "const uint8_t *p = n > 0 ? tern_xdr_get_space(xdr, n * %d) : NULL;", s->bytes);
    if (s->bits) {
        tn_idl_line(b, "for (size_t i = 0; p != NULL && i < n; i++, p += %d) {", s->bytes);
        tn_idl_line(b, "    %s w = %s(p);", s->wire, load);
        tn_idl_line(b, "    memcpy(&v[i], &w, sizeof w);");
        tn_idl_line(b, "}");
    } else if (s->max != NULL) {
        tn_idl_line(b, "for (size_t i = 0; p != NULL && i < n; i++, p += 4) {");
        if (s->is_signed)
            tn_idl_line(b, "    int32_t w = (int32_t)%s(p);", load);
        else
            tn_idl_line(b, "    uint32_t w = %s(p);", load);
        tn_idl_line(b, "    if (%s)", out_of_range(g, s));
        tn_idl_line(b, "        return %s(xdr, TERN_EPROTO);", tn_idl_h_fail_dec(cf));
        if (t->kind == TN_T_BOOL)
            tn_idl_line(b, "    v[i] = w == 1;");
        else
            tn_idl_line(b, "    v[i] = (%s)w;", ctype);
        tn_idl_line(b, "}");
    } else {
        tn_idl_line(b, "for (size_t i = 0; p != NULL && i < n; i++, p += %d)", s->bytes);
        tn_idl_line(b, "    v[i] = (%s)%s(p);", ctype, load);
    }
    tn_idl_line(b, "return xdr->err;");
}

static const char *h_put_array(tn_idl_cfile *cf, const tn_idl_type *t)
{
    tn_idl_gen *g = cf->g;
    tn_idl_emit b;
    const char *name = tn_idl_sprintf(g->ctx, "put_%s_array", tn_idl_helper_word(g, t));
    const char *sig = tn_idl_sprintf(
        g->ctx, "static tern_err %s(tern_xdr_enc *xdr, %s, size_t n%s)", name,
        tn_idl_cvar(g, tn_idl_pointer_to_const(g, elem_type(g, t)), "v"), bound_param(t));
    const char *why = is_scalar(t)
                          ? "A whole array through one put_space: one bounds check for all "
                            "of it."
                          : NULL;
    if (!tn_idl_helper_begin(cf, name, sig, why, &b))
        return name;
    if (is_scalar(t)) {
        bulk_put_body(&b, cf, t, &scalars[t->kind]);
    } else {
        tn_idl_line(&b, "for (size_t i = 0; i < n && xdr->err == TERN_OK; i++)");
        tn_idl_emit in = tn_idl_deeper(&b);
        put_type(&in, t, tn_idl_lv("v[i]"), "max");
        tn_idl_line(&b, "return xdr->err;");
    }
    tn_idl_helper_end(cf, name, &b);
    return name;
}

static const char *h_get_array(tn_idl_cfile *cf, const tn_idl_type *t)
{
    tn_idl_gen *g = cf->g;
    tn_idl_emit b;
    const char *name = tn_idl_sprintf(g->ctx, "get_%s_array", tn_idl_helper_word(g, t));
    const char *sig =
        tn_idl_sprintf(g->ctx, "static tern_err %s(tern_xdr_dec *xdr, %s, size_t n%s)", name,
                       tn_idl_cvar(g, tn_idl_pointer_to(g, elem_type(g, t)), "v"), bound_param(t));
    if (!tn_idl_helper_begin(cf, name, sig, NULL, &b))
        return name;
    if (is_scalar(t)) {
        bulk_get_body(&b, cf, t, &scalars[t->kind]);
    } else {
        if (tn_idl_type_heap(t))
            tn_idl_line(&b, "memset(v, 0, n * sizeof *v); /* a failure part-way leaves every "
                            "element freeable */");
        tn_idl_line(&b, "for (size_t i = 0; i < n && xdr->err == TERN_OK; i++)");
        tn_idl_emit in = tn_idl_deeper(&b);
        get_type(&in, t, tn_idl_lv("v[i]"), "max", true);
        tn_idl_line(&b, "return xdr->err;");
    }
    tn_idl_helper_end(cf, name, &b);
    return name;
}

static const char *h_free_array(tn_idl_cfile *cf, const tn_idl_type *t)
{
    tn_idl_gen *g = cf->g;
    tn_idl_emit b;
    const char *name = tn_idl_sprintf(g->ctx, "free_%s_array", tn_idl_helper_word(g, t));
    const char *sig = tn_idl_sprintf(g->ctx, "static void %s(%s, size_t n)", name,
                                     tn_idl_cvar(g, tn_idl_pointer_to(g, elem_type(g, t)), "v"));
    if (!tn_idl_helper_begin(cf, name, sig, NULL, &b))
        return name;
    tn_idl_line(&b, "for (size_t i = 0; i < n; i++)");
    tn_idl_emit in = tn_idl_deeper(&b);
    free_type(&in, t, tn_idl_lv("v[i]"));
    tn_idl_helper_end(cf, name, &b);
    return name;
}

static const char *h_put_seq(tn_idl_cfile *cf, const tn_idl_type *t)
{
    tn_idl_gen *g = cf->g;
    tn_idl_emit b;
    const char *name = tn_idl_sprintf(g->ctx, "put_%s", tn_idl_seq_type(g, t));
    const char *sig =
        tn_idl_sprintf(g->ctx, "static tern_err %s(tern_xdr_enc *xdr, const %s *v, uint32_t max%s)",
                       name, tn_idl_seq_type(g, t), has_elem_bound(t) ? ", uint32_t elem_max" : "");
    if (!tn_idl_helper_begin(cf, name, sig, NULL, &b))
        return name;
    tn_idl_line(&b, "if (tern_xdr_put_count(xdr, v->len, max) == TERN_OK)");
    tn_idl_line(&b, "    %s(xdr, v->val, v->len%s);", h_put_array(cf, t),
                has_elem_bound(t) ? ", elem_max" : "");
    tn_idl_line(&b, "return xdr->err;");
    tn_idl_helper_end(cf, name, &b);
    return name;
}

static const char *h_get_seq(tn_idl_cfile *cf, const tn_idl_type *t)
{
    tn_idl_gen *g = cf->g;
    tn_idl_emit b;
    const char *name = tn_idl_sprintf(g->ctx, "get_%s", tn_idl_seq_type(g, t));
    const char *sig =
        tn_idl_sprintf(g->ctx, "static tern_err %s(tern_xdr_dec *xdr, %s *v, uint32_t max%s)", name,
                       tn_idl_seq_type(g, t), has_elem_bound(t) ? ", uint32_t elem_max" : "");
    if (!tn_idl_helper_begin(cf, name, sig, NULL, &b))
        return name;
    tn_idl_line(&b, "uint32_t n;");
    tn_idl_line(&b, "v->len = 0;");
    tn_idl_line(&b, "v->val = NULL;");
    tn_idl_line(&b, "/* At least %u bytes an element: a hostile count allocates nothing. */",
                tn_idl_type_min_size(t));
    tn_idl_line(&b, "if (tern_xdr_get_count(xdr, &n, max, %u) != TERN_OK || n == 0)",
                tn_idl_type_min_size(t));
    tn_idl_line(&b, "    return xdr->err;");
    tn_idl_line(&b, "v->val = %s(xdr, n, sizeof *v->val);", tn_idl_h_text(cf, &alloc_array));
    tn_idl_line(&b, "if (v->val == NULL)");
    tn_idl_line(&b, "    return xdr->err;");
    tn_idl_line(&b, "v->len = n;");
    tn_idl_line(&b, "return %s(xdr, v->val, n%s);", h_get_array(cf, t),
                has_elem_bound(t) ? ", elem_max" : "");
    tn_idl_helper_end(cf, name, &b);
    return name;
}

static const char *h_free_seq(tn_idl_cfile *cf, const tn_idl_type *t)
{
    tn_idl_gen *g = cf->g;
    tn_idl_emit b;
    const char *name = tn_idl_sprintf(g->ctx, "free_%s", tn_idl_seq_type(g, t));
    const char *sig = tn_idl_sprintf(g->ctx, "static void %s(%s *v)", name, tn_idl_seq_type(g, t));
    if (!tn_idl_helper_begin(cf, name, sig, NULL, &b))
        return name;
    if (tn_idl_type_heap(t))
        tn_idl_line(&b, "%s(v->val, v->len);", h_free_array(cf, t));
    tn_idl_line(&b, "free(v->val);");
    tn_idl_helper_end(cf, name, &b);
    return name;
}

static const char *h_put_opt(tn_idl_cfile *cf, const tn_idl_type *t)
{
    tn_idl_gen *g = cf->g;
    tn_idl_emit b;
    const char *name = tn_idl_sprintf(g->ctx, "put_%s_opt", tn_idl_helper_word(g, t));
    const char *sig = tn_idl_sprintf(
        g->ctx, "static tern_err %s(tern_xdr_enc *xdr, %s%s)", name,
        tn_idl_cvar(g, tn_idl_pointer_to_const(g, elem_type(g, t)), "v"), bound_param(t));
    if (!tn_idl_helper_begin(cf, name, sig, NULL, &b))
        return name;
    tn_idl_line(&b, "if (tern_xdr_put_bool(xdr, v != NULL) == TERN_OK && v != NULL)");
    tn_idl_emit in = tn_idl_deeper(&b);
    put_type(&in, t, tn_idl_ptr("v"), "max");
    tn_idl_line(&b, "return xdr->err;");
    tn_idl_helper_end(cf, name, &b);
    return name;
}

static const char *h_get_opt(tn_idl_cfile *cf, const tn_idl_type *t)
{
    tn_idl_gen *g = cf->g;
    tn_idl_emit b;
    const char *name = tn_idl_sprintf(g->ctx, "get_%s_opt", tn_idl_helper_word(g, t));
    const char *sig = tn_idl_sprintf(
        g->ctx, "static tern_err %s(tern_xdr_dec *xdr, %s%s)", name,
        tn_idl_cvar(g, tn_idl_pointer_to(g, tn_idl_pointer_to(g, elem_type(g, t))), "v"),
        bound_param(t));
    if (!tn_idl_helper_begin(cf, name, sig, NULL, &b))
        return name;
    tn_idl_line(&b, "bool present;");
    tn_idl_line(&b, "*v = NULL;");
    tn_idl_line(&b, "if (tern_xdr_get_bool(xdr, &present) != TERN_OK || !present)");
    tn_idl_line(&b, "    return xdr->err;");
    tn_idl_line(&b, "*v = tern_xdr_alloc(xdr, sizeof **v);");
    tn_idl_line(&b, "if (*v == NULL)");
    tn_idl_line(&b, "    return xdr->err;");
    /* Named types' decoders clear what they decode; strings and opaques
     * are cleared here. */
    get_type(&b, t, tn_idl_ptr("*v"), "max", t->kind != TN_T_STRING && t->kind != TN_T_OPAQUE_VAR);
    tn_idl_line(&b, "return xdr->err;");
    tn_idl_helper_end(cf, name, &b);
    return name;
}

static const char *h_free_opt(tn_idl_cfile *cf, const tn_idl_type *t)
{
    tn_idl_gen *g = cf->g;
    tn_idl_emit b;
    const char *name = tn_idl_sprintf(g->ctx, "free_%s_opt", tn_idl_helper_word(g, t));
    const char *sig = tn_idl_sprintf(g->ctx, "static void %s(%s)", name,
                                     tn_idl_cvar(g, tn_idl_pointer_to(g, elem_type(g, t)), "v"));
    if (!tn_idl_helper_begin(cf, name, sig, NULL, &b))
        return name;
    tn_idl_line(&b, "if (v == NULL)");
    tn_idl_line(&b, "    return;");
    free_type(&b, t, tn_idl_ptr("v"));
    tn_idl_line(&b, "free(v);");
    tn_idl_helper_end(cf, name, &b);
    return name;
}

/* ---- a declaration ---------------------------------------------------------------------- */

void tn_idl_emit_put(const tn_idl_emit *e, const tn_idl_decl *d, tn_idl_val v)
{
    tn_idl_gen *g = gen_of(e);
    const tn_idl_type *t = &d->type;
    /* A string typedef's value may be a const char *, which its coder's
     * const Name * cannot take: put the string itself. */
    if (t->kind == TN_T_NAMED && tn_idl_shape_of(d) == TN_S_STRING) {
        tn_idl_emit_put(e, tn_idl_resolve(d), v);
        return;
    }
    if (d->optional)
        tn_idl_line(e, "%s(%s, %s%s);", h_put_opt(e->cf, t), e->xdr, tn_idl_v(g, v),
                    bound_arg(g, t));
    else if (d->array == TN_A_FIXED)
        tn_idl_line(e, "%s(%s, %s, %s%s);", h_put_array(e->cf, t), e->xdr, tn_idl_v(g, v),
                    tn_idl_count(g, d), bound_arg(g, t));
    else if (d->array == TN_A_VAR)
        tn_idl_line(e, "%s(%s, %s, %s%s);", h_put_seq(e->cf, t), e->xdr, tn_idl_addr(g, v),
                    tn_idl_count(g, d), bound_arg(g, t));
    else
        put_type(e, t, v, tn_idl_bound(g, t));
}

void tn_idl_emit_get(const tn_idl_emit *e, const tn_idl_decl *d, tn_idl_val v, bool zeroed)
{
    tn_idl_gen *g = gen_of(e);
    const tn_idl_type *t = &d->type;
    if (d->optional)
        tn_idl_line(e, "%s(%s, %s%s);", h_get_opt(e->cf, t), e->xdr, tn_idl_addr(g, v),
                    bound_arg(g, t));
    else if (d->array == TN_A_FIXED)
        tn_idl_line(e, "%s(%s, %s, %s%s);", h_get_array(e->cf, t), e->xdr, tn_idl_v(g, v),
                    tn_idl_count(g, d), bound_arg(g, t));
    else if (d->array == TN_A_VAR)
        tn_idl_line(e, "%s(%s, %s, %s%s);", h_get_seq(e->cf, t), e->xdr, tn_idl_addr(g, v),
                    tn_idl_count(g, d), bound_arg(g, t));
    else
        get_type(e, t, v, tn_idl_bound(g, t), zeroed);
}

void tn_idl_emit_free(const tn_idl_emit *e, const tn_idl_decl *d, tn_idl_val v)
{
    tn_idl_gen *g = gen_of(e);
    const tn_idl_type *t = &d->type;
    if (!tn_idl_decl_heap(d))
        return;
    if (d->optional && tn_idl_type_heap(t))
        tn_idl_line(e, "%s(%s);", h_free_opt(e->cf, t), tn_idl_v(g, v));
    else if (d->optional)
        tn_idl_line(e, "free(%s);", tn_idl_v(g, v));
    else if (d->array == TN_A_FIXED)
        tn_idl_line(e, "%s(%s, %s);", h_free_array(e->cf, t), tn_idl_v(g, v), tn_idl_count(g, d));
    else if (d->array == TN_A_VAR)
        tn_idl_line(e, "%s(%s);", h_free_seq(e->cf, t), tn_idl_addr(g, v));
    else
        free_type(e, t, v);
}

void tn_idl_emit_assign(const tn_idl_emit *e, const tn_idl_decl *d, tn_idl_val dst, tn_idl_val src)
{
    tn_idl_gen *g = gen_of(e);
    if (tn_idl_shape_of(d) != TN_S_ARRAY) {
        tn_idl_line(e, "%s = %s;", tn_idl_v(g, dst), tn_idl_v(g, src));
        return;
    }
    const char *size;
    if (d->array == TN_A_FIXED)
        size = tn_idl_sprintf(g->ctx, "%s * sizeof *%s", tn_idl_count(g, d), tn_idl_v(g, dst));
    else if (d->type.kind == TN_T_OPAQUE_FIXED)
        size = tn_idl_bound(g, &d->type);
    else
        size = tn_idl_sprintf(g->ctx, "sizeof(%s)", tn_idl_cname(g, d->type.def));
    tn_idl_line(e, "memcpy(%s, %s, %s);", tn_idl_v(g, dst), tn_idl_v(g, src), size);
}

/* ---- scatter-gather merging ------------------------------------------------------------ */

const char *tn_idl_h_append(tn_idl_cfile *cf, const tn_idl_decl *d)
{
    tn_idl_gen *g = cf->g;
    const tn_idl_decl *r = tn_idl_resolve(d);
    bool bytes = tn_idl_shape_of(r) == TN_S_BYTES;
    const char *st = bytes ? tn_idl_ctype(g, &r->type, TN_CLIENT) : tn_idl_seq_type(g, &r->type);
    const char *name = tn_idl_sprintf(g->ctx, "append_%s", st);
    const char *sig = tn_idl_sprintf(g->ctx, "static tern_err %s(%s *dst, %s *src)", name, st, st);
    tn_idl_emit b;
    if (!tn_idl_helper_begin(cf, name, sig,
                             "Moves src's elements to the end of dst and frees src's array; "
                             "on failure src is\n * freed and dst is left as it was.",
                             &b))
        return name;
    const char *free_src = !bytes && tn_idl_type_heap(&r->type)
                               ? tn_idl_sprintf(g->ctx, "%s(src)", h_free_seq(cf, &r->type))
                               : "free(src->val)";
    tn_idl_line(&b, "if (src->len == 0) {");
    tn_idl_line(&b, "    free(src->val);");
    tn_idl_line(&b, "    return TERN_OK;");
    tn_idl_line(&b, "}");
    tn_idl_line(&b, "if (dst->len > UINT32_MAX - src->len) {");
    tn_idl_line(&b, "    %s;", free_src);
    tn_idl_line(&b, "    return TERN_EMSGSIZE;");
    tn_idl_line(&b, "}");
    tn_idl_line(
        &b, "void *grown = realloc(dst->val, ((size_t)dst->len + src->len) * sizeof *dst->val);");
    tn_idl_line(&b, "if (grown == NULL) {");
    tn_idl_line(&b, "    %s;", free_src);
    tn_idl_line(&b, "    return TERN_ENOMEM;");
    tn_idl_line(&b, "}");
    tn_idl_line(&b, "dst->val = grown;");
    tn_idl_line(&b, "memcpy(dst->val + dst->len, src->val, src->len * sizeof *dst->val);");
    tn_idl_line(&b, "dst->len += src->len;");
    tn_idl_line(&b, "free(src->val);");
    tn_idl_line(&b, "return TERN_OK;");
    tn_idl_helper_end(cf, name, &b);
    return name;
}

const char *tn_idl_h_reduce(tn_idl_cfile *cf, tn_idl_tkind k)
{
    tn_idl_gen *g = cf->g;
    tn_idl_type t = {.kind = k};
    const char *ct = tn_idl_ctype(g, &t, TN_CLIENT);
    const char *name = tn_idl_sprintf(g->ctx, "reduce_%s", tn_idl_type_name(&t));
    const char *sig =
        tn_idl_sprintf(g->ctx, "static void %s(%s *acc, const %s *part, int reduce)", name, ct, ct);
    tn_idl_emit b;
    if (!tn_idl_helper_begin(cf, name, sig, NULL, &b))
        return name;
    const char *sum;
    switch (k) {
    case TN_T_INT32:
        sum = "*acc = (int32_t)((uint32_t)*acc + (uint32_t)*part); /* wraps instead of overflowing "
              "*/";
        break;
    case TN_T_INT64:
        sum = "*acc = (int64_t)((uint64_t)*acc + (uint64_t)*part); /* wraps instead of overflowing "
              "*/";
        break;
    case TN_T_CHAR:
    case TN_T_INT8:
    case TN_T_INT16:
    case TN_T_UINT8:
    case TN_T_UINT16:
        sum = tn_idl_sprintf(g->ctx, "*acc = (%s)(*acc + *part);", ct);
        break;
    default:
        sum = "*acc += *part;";
        break;
    }
    tn_idl_line(&b, "switch (reduce) {");
    tn_idl_line(&b, "case TERN_RPC_REDUCE_SUM:");
    tn_idl_line(&b, "    %s", sum);
    tn_idl_line(&b, "    break;");
    tn_idl_line(&b, "case TERN_RPC_REDUCE_MIN:");
    tn_idl_line(&b, "    if (*part < *acc)");
    tn_idl_line(&b, "        *acc = *part;");
    tn_idl_line(&b, "    break;");
    tn_idl_line(&b, "default: /* TERN_RPC_REDUCE_MAX */");
    tn_idl_line(&b, "    if (*part > *acc)");
    tn_idl_line(&b, "        *acc = *part;");
    tn_idl_line(&b, "    break;");
    tn_idl_line(&b, "}");
    tn_idl_helper_end(cf, name, &b);
    return name;
}
