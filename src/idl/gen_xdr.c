/* BASE_xdr.c: the XDR coders of the interface's types, and the interface
 * descriptor both sides need. */
#include <string.h>

#include "gen.h"

/* The bound on how deep values of recursive types may nest. */
#define MAX_NESTING 1000

static bool is_type(const tn_idl_def *d)
{
    return d->kind == TN_D_STRUCT || d->kind == TN_D_UNION || d->kind == TN_D_ENUM ||
           d->kind == TN_D_TYPEDEF;
}

static bool is_array(const tn_idl_def *d)
{
    return d->kind == TN_D_TYPEDEF && d->is_array;
}

/* "(int)v->set": switching on a bool or char draws warnings. */
static const char *switch_on(tn_idl_gen *g, const tn_idl_def *u)
{
    tn_idl_tkind k = tn_idl_resolve(&u->disc)->type.kind;
    if (k == TN_T_BOOL || k == TN_T_CHAR)
        return tn_idl_sprintf(g->ctx, "(int)v->%s", u->disc.name);
    return tn_idl_sprintf(g->ctx, "v->%s", u->disc.name);
}

static void labels(const tn_idl_emit *e, const tn_idl_case *k)
{
    for (size_t i = 0; i < k->nvalues; i++)
        tn_idl_line(e, "case %s:", tn_idl_cexpr(e->cf->g, k->values[i]));
    if (k->is_default)
        tn_idl_line(e, "default:");
}

static const tn_idl_case *default_case(const tn_idl_def *u)
{
    for (size_t i = 0; i < u->ncases; i++) {
        if (u->cases[i]->is_default)
            return u->cases[i];
    }
    return NULL;
}

/* The switch over a union's arms; each arm gets put, get or nothing. */
static void union_switch(const tn_idl_emit *e, const tn_idl_def *u, bool put)
{
    tn_idl_gen *g = e->cf->g;
    tn_idl_emit in = tn_idl_deeper(e);
    tn_idl_line(e, "switch (%s) {", switch_on(g, u));
    for (size_t i = 0; i < u->ncases; i++) {
        const tn_idl_case *k = u->cases[i];
        labels(e, k);
        if (k->arm != NULL) {
            tn_idl_val v = tn_idl_lv(tn_idl_sprintf(g->ctx, "v->u.%s", k->arm->name));
            if (put)
                tn_idl_emit_put(&in, k->arm, v);
            else
                tn_idl_emit_get(&in, k->arm, v, true);
        }
        tn_idl_line(&in, "break;");
    }
    if (default_case(u) == NULL) {
        tn_idl_line(e, "default:");
        if (put)
            tn_idl_line(&in, "%s(xdr, TERN_EINVAL); /* no arm for this %s */",
                        tn_idl_h_fail_enc(e->cf), u->disc.name);
        else
            tn_idl_line(&in, "%s(xdr, TERN_EPROTO); /* no arm for this %s */",
                        tn_idl_h_fail_dec(e->cf), u->disc.name);
        tn_idl_line(&in, "break;");
    }
    tn_idl_line(e, "}");
}

static void union_free(const tn_idl_emit *e, const tn_idl_def *u)
{
    tn_idl_gen *g = e->cf->g;
    tn_idl_emit in = tn_idl_deeper(e);
    const tn_idl_case *def = default_case(u);
    bool heap_default = def != NULL && def->arm != NULL && tn_idl_decl_heap(def->arm);
    tn_idl_line(e, "switch (%s) {", switch_on(g, u));
    for (size_t i = 0; i < u->ncases; i++) {
        const tn_idl_case *k = u->cases[i];
        bool heap = k->arm != NULL && tn_idl_decl_heap(k->arm);
        if (k->is_default || (!heap && !heap_default))
            continue;
        labels(e, k);
        if (heap)
            tn_idl_emit_free(&in, k->arm,
                             tn_idl_lv(tn_idl_sprintf(g->ctx, "v->u.%s", k->arm->name)));
        tn_idl_line(&in, "break;");
    }
    tn_idl_line(e, "default:");
    if (heap_default)
        tn_idl_emit_free(&in, def->arm,
                         tn_idl_lv(tn_idl_sprintf(g->ctx, "v->u.%s", def->arm->name)));
    tn_idl_line(&in, "break;");
    tn_idl_line(e, "}");
}

static void enum_coders(tn_idl_emit *e, const tn_idl_def *d)
{
    tn_idl_gen *g = e->cf->g;
    const char *n = tn_idl_cname(g, d);
    tn_idl_emit b = *e;
    b.indent = 0;
    tn_idl_line(&b, "tern_err %s_enc(tern_xdr_enc *xdr, const %s *v)", n, n);
    tn_idl_line(&b, "{");
    tn_idl_line(e, "switch (*v) {");
    for (size_t i = 0; i < d->nvals; i++)
        tn_idl_line(e, "case %s:", tn_idl_cname(g, d->vals[i]));
    tn_idl_line(e, "    return tern_xdr_put_i32(xdr, (int32_t)*v);");
    tn_idl_line(e, "default:");
    tn_idl_line(e, "    return %s(xdr, TERN_EINVAL); /* not one of %s's values */",
                tn_idl_h_fail_enc(e->cf), d->name);
    tn_idl_line(e, "}");
    tn_idl_line(&b, "}\n");
    tn_idl_line(&b, "tern_err %s_dec(tern_xdr_dec *xdr, %s *v)", n, n);
    tn_idl_line(&b, "{");
    tn_idl_line(e, "int32_t n;");
    tn_idl_line(e, "if (tern_xdr_get_i32(xdr, &n) != TERN_OK)");
    tn_idl_line(e, "    return xdr->err;");
    tn_idl_line(e, "switch (n) {");
    for (size_t i = 0; i < d->nvals; i++)
        tn_idl_line(e, "case %s:", tn_idl_cname(g, d->vals[i]));
    tn_idl_line(e, "    *v = (%s)n;", n);
    tn_idl_line(e, "    return TERN_OK;");
    tn_idl_line(e, "default:");
    tn_idl_line(e, "    return %s(xdr, TERN_EPROTO); /* not one of %s's values */",
                tn_idl_h_fail_dec(e->cf), d->name);
    tn_idl_line(e, "}");
    tn_idl_line(&b, "}\n");
}

/* The statements coding one value of a struct, union or typedef; for a
 * union being decoded, the arms only (the discriminant comes first). */
static void body(const tn_idl_emit *e, const tn_idl_def *d, bool put)
{
    tn_idl_gen *g = e->cf->g;
    tn_idl_val v = is_array(d) ? tn_idl_lv("v") : tn_idl_ptr("v");
    if (d->kind == TN_D_STRUCT) {
        for (size_t i = 0; i < d->nfields; i++) {
            tn_idl_val f = tn_idl_member(g, v, d->fields[i]->name);
            if (put)
                tn_idl_emit_put(e, d->fields[i], f);
            else
                tn_idl_emit_get(e, d->fields[i], f, true);
        }
    } else if (d->kind == TN_D_UNION) {
        if (put)
            tn_idl_emit_put(e, &d->disc, tn_idl_member(g, v, d->disc.name));
        union_switch(e, d, put);
    } else if (put) {
        tn_idl_emit_put(e, &d->alias, v);
    } else {
        tn_idl_emit_get(e, &d->alias, v, false);
    }
}

static void type_coders(tn_idl_emit *e, const tn_idl_def *d)
{
    tn_idl_gen *g = e->cf->g;
    const char *n = tn_idl_cname(g, d);
    const char *in = is_array(d) ? tn_idl_sprintf(g->ctx, "const %s v", n)
                                 : tn_idl_sprintf(g->ctx, "const %s *v", n);
    const char *io =
        is_array(d) ? tn_idl_sprintf(g->ctx, "%s v", n) : tn_idl_sprintf(g->ctx, "%s *v", n);
    /* A record decoder clears the value first, so it can be freed whatever
     * happens; typedefs' coders of one declaration clear what they need. */
    bool clears = d->heap && d->kind != TN_D_TYPEDEF;
    tn_idl_emit top = *e;
    top.indent = 0;

    tn_idl_line(&top, "tern_err %s_enc(tern_xdr_enc *xdr, %s)", n, in);
    tn_idl_line(&top, "{");
    if (d->recursive) {
        tn_idl_line(e, "if (nesting == MAX_NESTING)");
        tn_idl_line(e, "    return %s(xdr, TERN_EINVAL);", tn_idl_h_fail_enc(e->cf));
        tn_idl_line(e, "nesting++;");
    }
    body(e, d, true);
    if (d->recursive)
        tn_idl_line(e, "nesting--;");
    tn_idl_line(e, "return xdr->err;");
    tn_idl_line(&top, "}\n");

    tn_idl_line(&top, "tern_err %s_dec(tern_xdr_dec *xdr, %s)", n, io);
    tn_idl_line(&top, "{");
    if (clears)
        tn_idl_line(e, "memset(v, 0, sizeof *v);");
    if (d->kind == TN_D_UNION) {
        tn_idl_emit_get(e, &d->disc, tn_idl_member(g, tn_idl_ptr("v"), d->disc.name), true);
        tn_idl_line(e, "if (xdr->err != TERN_OK)");
        tn_idl_line(e, "    return xdr->err;");
    }
    if (d->recursive) {
        tn_idl_line(e, "if (nesting == MAX_NESTING)");
        tn_idl_line(e, "    return %s(xdr, TERN_EPROTO);", tn_idl_h_fail_dec(e->cf));
        tn_idl_line(e, "nesting++;");
    }
    body(e, d, false);
    if (d->recursive)
        tn_idl_line(e, "nesting--;");
    tn_idl_line(e, "return xdr->err;");
    tn_idl_line(&top, "}\n");

    if (!d->heap)
        return;
    tn_idl_line(&top, "void %s_free(%s)", n, io);
    tn_idl_line(&top, "{");
    tn_idl_val v = is_array(d) ? tn_idl_lv("v") : tn_idl_ptr("v");
    if (d->kind == TN_D_STRUCT) {
        for (size_t i = 0; i < d->nfields; i++)
            tn_idl_emit_free(e, d->fields[i], tn_idl_member(g, v, d->fields[i]->name));
    } else if (d->kind == TN_D_UNION) {
        union_free(e, d);
    } else {
        tn_idl_emit_free(e, &d->alias, v);
    }
    tn_idl_line(&top, "}\n");
}

static void iface_descriptor(tn_idl_emit *e)
{
    tn_idl_gen *g = e->cf->g;
    const tn_idl_iface *iface = g->iface;
    tn_idl_emit top = *e;
    top.indent = 0;
    if (iface->nmethods > 0) {
        tn_idl_line(&top, "static const tern_rpc_method methods[] = {");
        for (size_t i = 0; i < iface->ndefs; i++) {
            const tn_idl_def *m = iface->defs[i];
            if (m->kind != TN_D_METHOD)
                continue;
            const char *flags = m->flags == 3u   ? "TERN_RPC_ONEWAY | TERN_RPC_IDEMPOTENT"
                                : m->flags == 1u ? "TERN_RPC_ONEWAY"
                                : m->flags == 2u ? "TERN_RPC_IDEMPOTENT"
                                                 : "0";
            tn_idl_line(e, "{\"%s\", %s},", m->name, flags);
        }
        tn_idl_line(&top, "};\n");
    }
    tn_idl_line(&top, "const tern_rpc_iface %s_iface = {", g->prefix);
    tn_idl_line(e, ".name = \"%s\",", iface->name);
    tn_idl_buf u = {0};
    for (int i = 0; i < 16; i++)
        tn_idl_buf_printf(g->ctx, &u, "%s0x%02x",
                          i == 0   ? ""
                          : i == 8 ? ",\n             "
                                   : ", ",
                          iface->uuid[i]);
    tn_idl_line(e, ".uuid = {{%s}},", u.p);
    tn_idl_line(e, ".major = %u,", (unsigned)iface->major);
    tn_idl_line(e, ".minor = %u,", (unsigned)iface->minor);
    tn_idl_line(e, ".nmethods = %u,", (unsigned)iface->nmethods);
    tn_idl_line(e, ".methods = %s,", iface->nmethods > 0 ? "methods" : "NULL");
    tn_idl_line(&top, "};");
}

void tn_idl_gen_xdr(tn_idl_gen *g, tn_idl_buf *out)
{
    tn_idl_cfile cf = {.g = g};
    tn_idl_buf text = {0};
    tn_idl_emit e = {&cf, &text, 1, "xdr"};
    tn_idl_emit top = e;
    top.indent = 0;
    const tn_idl_iface *iface = g->iface;
    bool recursive = false;
    for (size_t i = 0; i < iface->ndefs; i++)
        recursive |= iface->defs[i]->recursive;
    if (recursive) {
        tn_idl_line(&top, "/* Values of recursive types nest as deep as their data says: the bound "
                          "keeps a\n * hostile message from exhausting the stack. */");
        tn_idl_line(&top, "static _Thread_local unsigned nesting;");
        tn_idl_line(&top, "enum { MAX_NESTING = %d };\n", MAX_NESTING);
    }
    for (size_t i = 0; i < iface->ndefs; i++) {
        const tn_idl_def *d = iface->defs[i];
        if (d->kind == TN_D_ENUM)
            enum_coders(&e, d);
        else if (is_type(d))
            type_coders(&e, d);
    }
    iface_descriptor(&e);
    tn_idl_cfile_finish(&cf, out,
                        tn_idl_sprintf(g->ctx,
                                       "The XDR coders of interface %s's types (declared in %s.h), "
                                       "and %s_iface.",
                                       iface->name, g->file->base, g->prefix),
                        &text);
}
