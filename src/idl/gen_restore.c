/* Copy-restore, for [in, out] parameters on the client: a value decoded
 * from the reply is checked against the caller's memory (does every
 * string, opaque and array fit where the caller's is; are optionals and
 * union arms the same) and then written into it. Each helper does both,
 * one pass with write false, the next with write true, so the caller's
 * memory is only touched once everything fits. */
#include <string.h>

#include "gen.h"

static const char *elem_type(tn_idl_gen *g, const tn_idl_type *t)
{
    return tn_idl_ctype(g, t, TN_CLIENT);
}

static const char *h_restore_string(tn_idl_cfile *cf)
{
    tn_idl_emit b;
    const char *name = "restore_string";
    if (!tn_idl_helper_begin(cf, name,
                             "static bool restore_string(char *dst, const char *src, bool write)",
                             "Copy-restore of a string: what came back must fit where the "
                             "caller's string is;\n * one that did not change is not written.",
                             &b))
        return name;
    tn_idl_line(&b, "size_t n = src != NULL ? strlen(src) : 0;");
    tn_idl_line(&b, "if (n > (dst != NULL ? strlen(dst) : 0))");
    tn_idl_line(&b, "    return false;");
    tn_idl_line(&b, "if (write && dst != NULL && strcmp(dst, src != NULL ? src : \"\") != 0)");
    tn_idl_line(&b, "    memcpy(dst, src != NULL ? src : \"\", n + 1);");
    tn_idl_line(&b, "return true;");
    tn_idl_helper_end(cf, name, &b);
    return name;
}

static const char *h_restore_bytes(tn_idl_cfile *cf, const tn_idl_type *t)
{
    tn_idl_gen *g = cf->g;
    tn_idl_emit b;
    const char *bt = tn_idl_ctype(g, t, TN_CLIENT);
    const char *name = tn_idl_sprintf(g->ctx, "restore_%s", bt);
    const char *sig =
        tn_idl_sprintf(g->ctx, "static bool %s(%s *dst, const %s *src, bool write)", name, bt, bt);
    if (!tn_idl_helper_begin(cf, name, sig, NULL, &b))
        return name;
    tn_idl_line(&b, "if (src->len > dst->len)");
    tn_idl_line(&b, "    return false;");
    tn_idl_line(&b, "if (write && src->len > 0)");
    tn_idl_line(&b, "    memcpy(dst->val, src->val, src->len);");
    tn_idl_line(&b, "if (write)");
    tn_idl_line(&b, "    dst->len = src->len;");
    tn_idl_line(&b, "return true;");
    tn_idl_helper_end(cf, name, &b);
    return name;
}

static const char *restore_type(tn_idl_cfile *cf, const tn_idl_type *t, tn_idl_val dst,
                                tn_idl_val src, const char *write);

static const char *h_restore_array(tn_idl_cfile *cf, const tn_idl_type *t)
{
    tn_idl_gen *g = cf->g;
    tn_idl_emit b;
    const char *et = elem_type(g, t);
    const char *name = tn_idl_sprintf(g->ctx, "restore_%s_array", tn_idl_helper_word(g, t));
    const char *sig = tn_idl_sprintf(g->ctx, "static bool %s(%s, %s, size_t n, bool write)", name,
                                     tn_idl_cvar(g, tn_idl_pointer_to(g, et), "dst"),
                                     tn_idl_cvar(g, tn_idl_pointer_to_const(g, et), "src"));
    if (!tn_idl_helper_begin(cf, name, sig, NULL, &b))
        return name;
    tn_idl_line(&b, "for (size_t i = 0; i < n; i++) {");
    tn_idl_line(&b, "    if (!%s)",
                restore_type(cf, t, tn_idl_lv("dst[i]"), tn_idl_lv("src[i]"), "write"));
    tn_idl_line(&b, "        return false;");
    tn_idl_line(&b, "}");
    tn_idl_line(&b, "return true;");
    tn_idl_helper_end(cf, name, &b);
    return name;
}

static const char *h_restore_seq(tn_idl_cfile *cf, const tn_idl_type *t)
{
    tn_idl_gen *g = cf->g;
    tn_idl_emit b;
    const char *st = tn_idl_seq_type(g, t);
    const char *name = tn_idl_sprintf(g->ctx, "restore_%s", tn_idl_seq_type(g, t));
    const char *sig =
        tn_idl_sprintf(g->ctx, "static bool %s(%s *dst, const %s *src, bool write)", name, st, st);
    if (!tn_idl_helper_begin(cf, name, sig, NULL, &b))
        return name;
    tn_idl_line(&b, "if (src->len > dst->len)");
    tn_idl_line(&b, "    return false;");
    if (tn_idl_type_heap(t)) {
        tn_idl_line(&b, "if (!%s(dst->val, src->val, src->len, write))", h_restore_array(cf, t));
        tn_idl_line(&b, "    return false;");
    } else {
        tn_idl_line(&b, "if (write && src->len > 0)");
        tn_idl_line(&b, "    memcpy(dst->val, src->val, src->len * sizeof *dst->val);");
    }
    tn_idl_line(&b, "if (write)");
    tn_idl_line(&b, "    dst->len = src->len;");
    tn_idl_line(&b, "return true;");
    tn_idl_helper_end(cf, name, &b);
    return name;
}

static const char *h_restore_opt(tn_idl_cfile *cf, const tn_idl_type *t)
{
    tn_idl_gen *g = cf->g;
    tn_idl_emit b;
    const char *et = elem_type(g, t);
    const char *name = tn_idl_sprintf(g->ctx, "restore_%s_opt", tn_idl_helper_word(g, t));
    const char *sig = tn_idl_sprintf(g->ctx, "static bool %s(%s, %s, bool write)", name,
                                     tn_idl_cvar(g, tn_idl_pointer_to(g, et), "dst"),
                                     tn_idl_cvar(g, tn_idl_pointer_to_const(g, et), "src"));
    if (!tn_idl_helper_begin(cf, name, sig, NULL, &b))
        return name;
    tn_idl_line(&b, "if (dst == NULL || src == NULL)");
    tn_idl_line(&b, "    return dst == src; /* present in both or in neither */");
    if (tn_idl_type_heap(t)) {
        tn_idl_line(&b, "return %s;",
                    restore_type(cf, t, tn_idl_ptr("dst"), tn_idl_ptr("src"), "write"));
    } else {
        tn_idl_line(&b, "if (write)");
        tn_idl_line(&b, "    *dst = *src;");
        tn_idl_line(&b, "return true;");
    }
    tn_idl_helper_end(cf, name, &b);
    return name;
}

static void restore_struct_body(tn_idl_emit *b, const tn_idl_def *d)
{
    tn_idl_gen *g = b->cf->g;
    tn_idl_val dst = tn_idl_ptr("dst"), src = tn_idl_ptr("src");
    bool plain = false;
    for (size_t i = 0; i < d->nfields; i++) {
        const tn_idl_decl *f = d->fields[i];
        if (!tn_idl_decl_heap(f)) {
            plain = true;
            continue;
        }
        tn_idl_line(b, "if (!%s)",
                    tn_idl_restore_expr(b->cf, f, tn_idl_member(g, dst, f->name),
                                        tn_idl_member(g, src, f->name), "write"));
        tn_idl_line(b, "    return false;");
    }
    if (plain) {
        tn_idl_line(b, "if (write) {");
        tn_idl_emit in = tn_idl_deeper(b);
        for (size_t i = 0; i < d->nfields; i++) {
            const tn_idl_decl *f = d->fields[i];
            if (!tn_idl_decl_heap(f))
                tn_idl_emit_assign(&in, f, tn_idl_member(g, dst, f->name),
                                   tn_idl_member(g, src, f->name));
        }
        tn_idl_line(b, "}");
    }
    tn_idl_line(b, "return true;");
}

/* The case labels of arm k of union d, each on its own line. */
static void case_labels(tn_idl_emit *b, const tn_idl_def *d, const tn_idl_case *k)
{
    tn_idl_emit at = *b;
    at.indent--;
    (void)d;
    for (size_t i = 0; i < k->nvalues; i++)
        tn_idl_line(&at, "case %s:", tn_idl_cexpr(b->cf->g, k->values[i]));
    if (k->is_default)
        tn_idl_line(&at, "default:");
}

static const tn_idl_case *default_case(const tn_idl_def *d)
{
    for (size_t i = 0; i < d->ncases; i++) {
        if (d->cases[i]->is_default)
            return d->cases[i];
    }
    return NULL;
}

static bool arm_heap(const tn_idl_case *k)
{
    return k->arm != NULL && tn_idl_decl_heap(k->arm);
}

static void restore_union_body(tn_idl_emit *b, const tn_idl_def *d)
{
    tn_idl_gen *g = b->cf->g;
    tn_idl_val u_dst = tn_idl_lv("dst->u"), u_src = tn_idl_lv("src->u");
    const tn_idl_case *def = default_case(d);
    bool heap_default = def != NULL && arm_heap(def);
    tn_idl_line(b, "if (dst->%s != src->%s)", d->disc.name, d->disc.name);
    tn_idl_line(b, "    return false; /* another arm would need other memory */");
    tn_idl_line(b, "switch (src->%s) {", d->disc.name);
    tn_idl_emit in = tn_idl_deeper(b);
    bool plain_listed = false;
    for (size_t i = 0; i < d->ncases; i++) {
        const tn_idl_case *k = d->cases[i];
        if (k->is_default)
            continue;
        if (arm_heap(k)) {
            case_labels(&in, d, k);
            tn_idl_line(&in, "return %s;",
                        tn_idl_restore_expr(b->cf, k->arm, tn_idl_member(g, u_dst, k->arm->name),
                                            tn_idl_member(g, u_src, k->arm->name), "write"));
        } else if (heap_default) {
            case_labels(&in, d, k);
            plain_listed = true;
        }
    }
    if (plain_listed) {
        tn_idl_line(&in, "if (write)");
        tn_idl_line(&in, "    *dst = *src;");
        tn_idl_line(&in, "return true;");
    }
    tn_idl_line(b, "default:");
    if (heap_default) {
        tn_idl_line(&in, "return %s;",
                    tn_idl_restore_expr(b->cf, def->arm, tn_idl_member(g, u_dst, def->arm->name),
                                        tn_idl_member(g, u_src, def->arm->name), "write"));
    } else {
        tn_idl_line(&in, "if (write)");
        tn_idl_line(&in, "    *dst = *src;");
        tn_idl_line(&in, "return true;");
    }
    tn_idl_line(b, "}");
}

static const char *h_restore_def(tn_idl_cfile *cf, const tn_idl_def *d)
{
    tn_idl_gen *g = cf->g;
    tn_idl_emit b;
    const char *ct = tn_idl_cname(g, d);
    const char *name = tn_idl_sprintf(g->ctx, "restore_%s", ct);
    const char *sig =
        d->kind == TN_D_TYPEDEF && d->is_array
            ? tn_idl_sprintf(g->ctx, "static bool %s(%s dst, const %s src, bool write)", name, ct,
                             ct)
            : tn_idl_sprintf(g->ctx, "static bool %s(%s *dst, const %s *src, bool write)", name, ct,
                             ct);
    if (!tn_idl_helper_begin(cf, name, sig, NULL, &b))
        return name;
    if (d->kind == TN_D_STRUCT) {
        restore_struct_body(&b, d);
    } else if (d->kind == TN_D_UNION) {
        restore_union_body(&b, d);
    } else {
        bool arr = d->is_array;
        tn_idl_line(&b, "return %s;",
                    tn_idl_restore_expr(cf, &d->alias, arr ? tn_idl_lv("dst") : tn_idl_ptr("dst"),
                                        arr ? tn_idl_lv("src") : tn_idl_ptr("src"), "write"));
    }
    tn_idl_helper_end(cf, name, &b);
    return name;
}

static const char *restore_type(tn_idl_cfile *cf, const tn_idl_type *t, tn_idl_val dst,
                                tn_idl_val src, const char *write)
{
    tn_idl_gen *g = cf->g;
    if (t->kind == TN_T_STRING)
        return tn_idl_sprintf(g->ctx, "%s(%s, %s, %s)", h_restore_string(cf), tn_idl_v(g, dst),
                              tn_idl_v(g, src), write);
    if (t->kind == TN_T_OPAQUE_VAR)
        return tn_idl_sprintf(g->ctx, "%s(%s, %s, %s)", h_restore_bytes(cf, t), tn_idl_addr(g, dst),
                              tn_idl_addr(g, src), write);
    bool arr = tn_idl_is_array_typedef(t);
    return tn_idl_sprintf(g->ctx, "%s(%s, %s, %s)", h_restore_def(cf, t->def),
                          arr ? tn_idl_v(g, dst) : tn_idl_addr(g, dst),
                          arr ? tn_idl_v(g, src) : tn_idl_addr(g, src), write);
}

const char *tn_idl_restore_expr(tn_idl_cfile *cf, const tn_idl_decl *d, tn_idl_val dst,
                                tn_idl_val src, const char *write)
{
    tn_idl_gen *g = cf->g;
    const tn_idl_type *t = &d->type;
    if (d->optional)
        return tn_idl_sprintf(g->ctx, "%s(%s, %s, %s)", h_restore_opt(cf, t), tn_idl_v(g, dst),
                              tn_idl_v(g, src), write);
    if (d->array == TN_A_FIXED)
        return tn_idl_sprintf(g->ctx, "%s(%s, %s, %s, %s)", h_restore_array(cf, t),
                              tn_idl_v(g, dst), tn_idl_v(g, src), tn_idl_count(g, d), write);
    if (d->array == TN_A_VAR)
        return tn_idl_sprintf(g->ctx, "%s(%s, %s, %s)", h_restore_seq(cf, t), tn_idl_addr(g, dst),
                              tn_idl_addr(g, src), write);
    return restore_type(cf, t, dst, src, write);
}
