/* The C generator's driver and its shared spellings: C types and names of
 * IDL declarations, parameters in each role, values as expressions, line
 * wrapping, banners and the assembly of a .c file. */
#include "gen.h"

#include <ctype.h>
#include <stdarg.h>
#include <string.h>

#ifndef TERN_IDL_VERSION
#error "TERN_IDL_VERSION must be defined by the build"
#endif

/* ---- C spellings ---------------------------------------------------------------- */

const char *tn_idl_cname(tn_idl_gen *g, const tn_idl_def *d)
{
    return tn_idl_sprintf(g->ctx, "%s_%s", d->iface->name, d->name);
}

const char *tn_idl_ctype(tn_idl_gen *g, const tn_idl_type *t, tn_idl_side side)
{
    static const char *const names[] = {
        [TN_T_BOOL] = "bool",       [TN_T_CHAR] = "char",
        [TN_T_INT8] = "int8_t",     [TN_T_INT16] = "int16_t",
        [TN_T_INT32] = "int32_t",   [TN_T_INT64] = "int64_t",
        [TN_T_UINT8] = "uint8_t",   [TN_T_UINT16] = "uint16_t",
        [TN_T_UINT32] = "uint32_t", [TN_T_UINT64] = "uint64_t",
        [TN_T_FLOAT] = "float",     [TN_T_DOUBLE] = "double",
        [TN_T_STRING] = "char *",   [TN_T_OPAQUE_FIXED] = "uint8_t",
    };
    switch (t->kind) {
    case TN_T_VOID:
        return "void";
    case TN_T_OPAQUE_VAR:
        return tn_idl_sprintf(g->ctx, "%s_bytes", t->owner->name);
    case TN_T_NAMED:
        if (t->def->kind == TN_D_HANDLE)
            return side == TN_CLIENT ? "tern_rpc_handle" : "void *";
        return tn_idl_cname(g, t->def);
    default:
        return names[t->kind];
    }
}

static bool ends_with_star(const char *type)
{
    size_t n = strlen(type);
    return n > 0 && type[n - 1] == '*';
}

const char *tn_idl_cvar(tn_idl_gen *g, const char *type, const char *name)
{
    return tn_idl_sprintf(g->ctx, "%s%s%s", type, ends_with_star(type) ? "" : " ", name);
}

const char *tn_idl_pointer_to(tn_idl_gen *g, const char *type)
{
    return tn_idl_sprintf(g->ctx, "%s%s*", type, ends_with_star(type) ? "" : " ");
}

const char *tn_idl_pointer_to_const(tn_idl_gen *g, const char *type)
{
    if (ends_with_star(type))
        return tn_idl_sprintf(g->ctx, "%sconst *", type);
    return tn_idl_sprintf(g->ctx, "const %s *", type);
}

/* "const T name", or "char *const name". */
static const char *const_var(tn_idl_gen *g, const char *type, const char *name)
{
    if (ends_with_star(type))
        return tn_idl_sprintf(g->ctx, "%sconst %s", type, name);
    return tn_idl_sprintf(g->ctx, "const %s %s", type, name);
}

const char *tn_idl_seq_type(tn_idl_gen *g, const tn_idl_type *elem)
{
    return tn_idl_sprintf(g->ctx, "%s_%s_seq", elem->owner->name,
                          tn_idl_seq_elem(g->ctx, elem->owner, elem));
}

const char *tn_idl_cexpr(tn_idl_gen *g, const tn_idl_expr *e)
{
    if (e->kind == TN_E_NAME)
        return tn_idl_cname(g, e->def);
    if (e->kind == TN_E_BOOL)
        return e->value.mag ? "true" : "false";
    return tn_idl_value_str(g->ctx, e->value);
}

const char *tn_idl_bound(tn_idl_gen *g, const tn_idl_type *t)
{
    return t->bound != NULL ? tn_idl_cexpr(g, t->bound) : "UINT32_MAX";
}

const char *tn_idl_count(tn_idl_gen *g, const tn_idl_decl *d)
{
    return d->count != NULL ? tn_idl_cexpr(g, d->count) : "UINT32_MAX";
}

const char *tn_idl_cdecl(tn_idl_gen *g, const tn_idl_decl *d, const char *name, tn_idl_side side)
{
    const char *type = tn_idl_ctype(g, &d->type, side);
    if (d->optional)
        return tn_idl_cvar(g, tn_idl_pointer_to(g, type), name);
    if (d->array == TN_A_FIXED)
        return tn_idl_sprintf(g->ctx, "%s[%s]", tn_idl_cvar(g, type, name), tn_idl_count(g, d));
    if (d->array == TN_A_VAR)
        return tn_idl_cvar(g, tn_idl_seq_type(g, &d->type), name);
    if (d->type.kind == TN_T_OPAQUE_FIXED)
        return tn_idl_sprintf(g->ctx, "uint8_t %s[%s]", name, tn_idl_bound(g, &d->type));
    return tn_idl_cvar(g, type, name);
}

/* ---- IDL text for comments ------------------------------------------------------- */

static const char *idl_type(tn_idl_gen *g, const tn_idl_type *t)
{
    const char *bound = t->bound != NULL ? t->bound->text : "";
    switch (t->kind) {
    case TN_T_STRING:
        return t->sized ? tn_idl_sprintf(g->ctx, "string<%s>", bound) : "string";
    case TN_T_OPAQUE_FIXED:
        return tn_idl_sprintf(g->ctx, "opaque[%s]", bound);
    case TN_T_OPAQUE_VAR:
        return tn_idl_sprintf(g->ctx, "opaque<%s>", bound);
    default:
        return tn_idl_type_name(t);
    }
}

const char *tn_idl_idl_decl(tn_idl_gen *g, const tn_idl_decl *d)
{
    const char *count = d->count != NULL ? d->count->text : "";
    const char *suffix = d->array == TN_A_FIXED ? tn_idl_sprintf(g->ctx, "[%s]", count)
                         : d->array == TN_A_VAR ? tn_idl_sprintf(g->ctx, "<%s>", count)
                                                : "";
    return tn_idl_sprintf(g->ctx, "%s %s%s%s", idl_type(g, &d->type), d->optional ? "*" : "",
                          d->name, suffix);
}

const char *tn_idl_idl_method(tn_idl_gen *g, const tn_idl_def *m)
{
    tn_idl_buf b = {0};
    if (m->flags != 0)
        tn_idl_buf_printf(g->ctx, &b, "[%s%s%s] ", m->flags & 1u ? "oneway" : "",
                          m->flags == 3u ? ", " : "", m->flags & 2u ? "idempotent" : "");
    tn_idl_buf_printf(g->ctx, &b, "%s %s(", idl_type(g, &m->result), m->name);
    for (size_t i = 0; i < m->nparams; i++) {
        const tn_idl_param *p = m->params[i];
        const char *dir = p->dir == TN_DIR_IN ? "in" : p->dir == TN_DIR_OUT ? "out" : "in, out";
        tn_idl_buf_printf(g->ctx, &b, "%s[%s%s] %s", i > 0 ? ", " : "", dir,
                          p->scatter ? ", scatter" : "", tn_idl_idl_decl(g, &p->decl));
    }
    tn_idl_buf_puts(g->ctx, &b, ")");
    return b.p;
}

/* ---- parameters ---------------------------------------------------------------------- */

tn_idl_role tn_idl_role_of(const tn_idl_param *p)
{
    return p->dir == TN_DIR_IN ? TN_ROLE_IN : p->dir == TN_DIR_OUT ? TN_ROLE_OUT : TN_ROLE_INOUT;
}

tn_idl_decl tn_idl_result(const tn_idl_def *m)
{
    tn_idl_decl d = tn_idl_plain(&m->result);
    d.name = "ret";
    d.loc = m->result.loc;
    return d;
}

bool tn_idl_has_result(const tn_idl_def *m)
{
    return m->result.kind != TN_T_VOID;
}

/* A declaration that C passes as an array: x[N], opaque[N], array typedefs. */
static bool passed_as_array(const tn_idl_decl *d)
{
    return tn_idl_shape_of(d) == TN_S_ARRAY;
}

const char *tn_idl_cparam(tn_idl_gen *g, const tn_idl_decl *d, const char *name, tn_idl_role role,
                          tn_idl_side side)
{
    tn_idl_shape s = tn_idl_shape_of(d);
    const char *type = tn_idl_ctype(g, &d->type, side);
    if (passed_as_array(d)) {
        if (role != TN_ROLE_IN)
            return tn_idl_cdecl(g, d, name, side);
        if (d->array == TN_A_FIXED)
            return tn_idl_sprintf(g->ctx, "%s[%s]", const_var(g, type, name), tn_idl_count(g, d));
        if (d->type.kind == TN_T_OPAQUE_FIXED)
            return tn_idl_sprintf(g->ctx, "const uint8_t %s[%s]", name, tn_idl_bound(g, &d->type));
        return const_var(g, type, name);
    }
    if (s == TN_S_HANDLE && side == TN_SERVER)
        return role == TN_ROLE_IN ? tn_idl_cvar(g, "void *", name)
                                  : tn_idl_cvar(g, "void **", name);
    if (d->optional) {
        if (role == TN_ROLE_IN)
            return tn_idl_cvar(g, tn_idl_pointer_to_const(g, type), name);
        return tn_idl_cvar(g, tn_idl_pointer_to(g, tn_idl_pointer_to(g, type)), name);
    }
    if (d->array == TN_A_VAR)
        type = tn_idl_seq_type(g, &d->type);
    if (role == TN_ROLE_IN) {
        if (s == TN_S_SCALAR)
            return tn_idl_cvar(g, type, name);
        if (s == TN_S_STRING)
            return tn_idl_cvar(g, "const char *", name);
        return tn_idl_cvar(g, tn_idl_pointer_to_const(g, type), name);
    }
    /* The client restores an [in, out] string into the caller's buffer. */
    if (role == TN_ROLE_INOUT && s == TN_S_STRING && side == TN_CLIENT)
        return tn_idl_cvar(g, "char *", name);
    if (s == TN_S_STRING)
        return tn_idl_cvar(g, "char **", name);
    return tn_idl_cvar(g, tn_idl_pointer_to(g, type), name);
}

tn_idl_val tn_idl_param_val(const tn_idl_decl *d, const char *name, tn_idl_role role,
                            tn_idl_side side)
{
    tn_idl_shape s = tn_idl_shape_of(d);
    if (s == TN_S_ARRAY)
        return tn_idl_lv(name);
    if (role == TN_ROLE_IN)
        return s == TN_S_SCALAR || s == TN_S_STRING || d->optional ? tn_idl_lv(name)
                                                                   : tn_idl_ptr(name);
    if (role == TN_ROLE_INOUT && s == TN_S_STRING && side == TN_CLIENT)
        return tn_idl_lv(name);
    return tn_idl_ptr(name);
}

bool tn_idl_method_frees(const tn_idl_def *m)
{
    if (tn_idl_has_result(m) && tn_idl_type_heap(&m->result))
        return true;
    for (size_t i = 0; i < m->nparams; i++) {
        if (m->params[i]->dir == TN_DIR_OUT && tn_idl_decl_heap(&m->params[i]->decl))
            return true;
    }
    return false;
}

const tn_idl_param *tn_idl_scatter_param(const tn_idl_def *m)
{
    for (size_t i = 0; i < m->nparams; i++) {
        if (m->params[i]->scatter)
            return m->params[i];
    }
    return NULL;
}

bool tn_idl_reduced(const tn_idl_def *m, tn_idl_decl *d)
{
    for (size_t i = 0; i < m->nparams; i++) {
        tn_idl_shape s = tn_idl_shape_of(&m->params[i]->decl);
        if (m->params[i]->dir == TN_DIR_OUT && s != TN_S_SEQ && s != TN_S_BYTES) {
            *d = m->params[i]->decl;
            return true;
        }
    }
    *d = tn_idl_result(m);
    tn_idl_shape s = tn_idl_shape_of(d);
    return tn_idl_has_result(m) && s != TN_S_SEQ && s != TN_S_BYTES;
}

/* ---- values ---------------------------------------------------------------------------- */

tn_idl_val tn_idl_lv(const char *expr)
{
    return (tn_idl_val){expr, false};
}

tn_idl_val tn_idl_ptr(const char *expr)
{
    return (tn_idl_val){expr, true};
}

const char *tn_idl_v(tn_idl_gen *g, tn_idl_val v)
{
    return v.ptr ? tn_idl_sprintf(g->ctx, "*%s", v.expr) : v.expr;
}

const char *tn_idl_addr(tn_idl_gen *g, tn_idl_val v)
{
    return v.ptr ? v.expr : tn_idl_sprintf(g->ctx, "&%s", v.expr);
}

tn_idl_val tn_idl_member(tn_idl_gen *g, tn_idl_val v, const char *name)
{
    return tn_idl_lv(tn_idl_sprintf(g->ctx, "%s%s%s", v.expr, v.ptr ? "->" : ".", name));
}

/* ---- writing ----------------------------------------------------------------------------- */

#define MAX_COLUMNS 100

void tn_idl_line(const tn_idl_emit *e, const char *fmt, ...)
{
    tn_idl_ctx *ctx = e->cf->g->ctx;
    va_list ap;
    va_start(ap, fmt);
    tn_idl_buf text = {0};
    tn_idl_buf_vprintf(ctx, &text, fmt, ap);
    va_end(ap);
    tn_idl_buf_printf(ctx, e->out, "%*s%s\n", e->indent * 4, "",
                      tn_idl_wrap(e->cf->g, text.p != NULL ? text.p : "", e->indent * 4));
}

void tn_idl_blank(const tn_idl_emit *e)
{
    tn_idl_buf_puts(e->cf->g->ctx, e->out, "\n");
}

tn_idl_emit tn_idl_deeper(const tn_idl_emit *e)
{
    tn_idl_emit d = *e;
    d.indent++;
    return d;
}

const char *tn_idl_wrap(tn_idl_gen *g, const char *text, int indent)
{
    size_t len = strlen(text);
    if ((size_t)indent + len <= MAX_COLUMNS || strchr(text, '\n') != NULL)
        return text;
    /* The parameter list is the parenthesis closing at the end. */
    size_t end = len;
    while (end > 0 && (text[end - 1] == ';' || text[end - 1] == '{' || text[end - 1] == ' '))
        end--;
    if (end == 0 || text[end - 1] != ')')
        return text;
    size_t open = end - 1;
    int depth = 0;
    for (;; open--) {
        depth += text[open] == ')' ? 1 : text[open] == '(' ? -1 : 0;
        if (depth == 0 || open == 0)
            break;
    }
    if (depth != 0)
        return text;
    size_t col = (size_t)indent + open + 1;
    tn_idl_buf b = {0};
    tn_idl_buf_add(g->ctx, &b, text, open + 1);
    size_t line = col;
    depth = 0;
    for (size_t i = open + 1, start = i; i <= len; i++) {
        char c = i < len ? text[i] : '\0';
        if (c == '(')
            depth++;
        else if (c == ')')
            depth--;
        /* A piece ends after a top-level ", " or with the text. */
        bool last = i == len;
        if (!last && !(c == ',' && depth == 0 && i + 1 < len && text[i + 1] == ' '))
            continue;
        size_t n = i - start + (last ? 0 : 1);
        if (line > col && line + 1 + n > MAX_COLUMNS) {
            tn_idl_buf_printf(g->ctx, &b, "\n%*s", (int)col, "");
            line = col;
        } else if (line > col) {
            tn_idl_buf_puts(g->ctx, &b, " ");
            line++;
        }
        tn_idl_buf_add(g->ctx, &b, text + start, n);
        line += n;
        start = i + 2;
        i++;
    }
    return b.p;
}

/* Comment text wraps here. */
#define COMMENT_COLUMNS 80

void tn_idl_gen_banner(tn_idl_gen *g, tn_idl_buf *out, const char *what)
{
    const char *slash = strrchr(g->file->path, '/');
    const char *source = slash != NULL ? slash + 1 : g->file->path;
    tn_idl_buf_printf(g->ctx, out,
                      "/* Generated by tern idl %s from %s \xe2\x80\x94 do not edit.\n"
                      " *\n *",
                      TERN_IDL_VERSION, source);
    /* what: paragraphs split by blank lines, each filled to the width. */
    size_t col = 2;
    for (const char *p = what; *p != '\0';) {
        if (p[0] == '\n' && p[1] == '\n') {
            tn_idl_buf_puts(g->ctx, out, "\n *\n *");
            col = 2;
            p += 2;
            continue;
        }
        if (*p == ' ' || *p == '\n') {
            p++;
            continue;
        }
        size_t n = strcspn(p, " \n");
        if (col > 2 && col + 1 + n > COMMENT_COLUMNS) {
            tn_idl_buf_puts(g->ctx, out, "\n *");
            col = 2;
        }
        tn_idl_buf_puts(g->ctx, out, " ");
        tn_idl_buf_add(g->ctx, out, p, n);
        col += 1 + n;
        p += n;
    }
    tn_idl_buf_puts(g->ctx, out, " */\n");
}

void tn_idl_cfile_finish(tn_idl_cfile *cf, tn_idl_buf *out, const char *what,
                         const tn_idl_buf *body)
{
    tn_idl_gen *g = cf->g;
    tn_idl_gen_banner(g, out, what);
    tn_idl_buf_printf(g->ctx, out,
                      "#include <stdlib.h>\n"
                      "#include <string.h>\n"
                      "\n"
                      "#include \"%s.h\"\n\n",
                      g->file->base);
    if (cf->protos.len > 0)
        tn_idl_buf_printf(g->ctx, out, "%s\n", cf->protos.p);
    if (cf->helpers.len > 0)
        tn_idl_buf_add(g->ctx, out, cf->helpers.p, cf->helpers.len);
    if (body->len > 0)
        tn_idl_buf_add(g->ctx, out, body->p, body->len);
    /* No blank line at the end of the file. */
    while (out->len > 1 && out->p[out->len - 1] == '\n' && out->p[out->len - 2] == '\n')
        out->p[--out->len] = '\0';
}

void tn_idl_generate(tn_idl_ctx *ctx, const tn_idl_file *root, tn_idl_output out[TN_IDL_NOUTPUTS])
{
    tn_idl_gen g = {.ctx = ctx, .file = root, .iface = root->iface, .prefix = root->iface->name};
    static const char *const suffixes[TN_IDL_NOUTPUTS] = {".h", "_xdr.c", "_client.c", "_server.c"};
    for (int i = 0; i < TN_IDL_NOUTPUTS; i++) {
        memset(&out[i], 0, sizeof out[i]);
        out[i].name = tn_idl_sprintf(ctx, "%s%s", root->base, suffixes[i]);
    }
    tn_idl_gen_header(&g, &out[0].text);
    tn_idl_gen_xdr(&g, &out[1].text);
    tn_idl_gen_client(&g, &out[2].text);
    tn_idl_gen_server(&g, &out[3].text);
}
