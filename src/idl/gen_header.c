/* BASE.h: the constants and types of an interface, the declarations of
 * their XDR coders, the interface descriptor, the client stubs and the
 * server's table of procedures. Types come out in an order C accepts:
 * enums, then forward declarations of every struct and union, then
 * typedefs, sequences, structs and unions each after what it needs
 * complete. */
#include <ctype.h>
#include <string.h>

#include "gen.h"

typedef struct hdr {
    tn_idl_gen *g;
    tn_idl_buf *out;
    tn_idl_cfile cf; /* only for tn_idl_line's emitters */
} hdr;

/* A typedef, struct, union or variable-length array type to define. */
typedef struct item {
    const tn_idl_def *def;   /* NULL for a sequence */
    const tn_idl_type *elem; /* a sequence's element */
    const char *seq;         /* a sequence's C name */
    int state;               /* 0 waiting, 1 being placed, 2 written */
} item;

typedef struct items {
    item *v;
    size_t n, cap;
} items;

static tn_idl_emit emitter(hdr *h, int indent)
{
    return (tn_idl_emit){&h->cf, h->out, indent, "xdr"};
}

static void put(hdr *h, const char *s)
{
    tn_idl_buf_puts(h->g->ctx, h->out, s);
}

__attribute__((format(printf, 2, 3))) static void putf(hdr *h, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tn_idl_buf_vprintf(h->g->ctx, h->out, fmt, ap);
    va_end(ap);
}

/* A section's title line, after exactly one blank line. */
static void section(hdr *h, const char *title)
{
    tn_idl_buf *b = h->out;
    while (b->len > 1 && b->p[b->len - 1] == '\n' && b->p[b->len - 2] == '\n')
        b->p[--b->len] = '\0';
    size_t n = strlen(title);
    putf(h, "\n/* ---- %s %.*s */\n\n", title, (int)(n < 70 ? 70 - n : 0),
         "--------------------------------------------------------------------------");
}

/* ---- what the interface uses ---------------------------------------------------- */

/* Calls fn on every declaration of the interface's own definitions. */
static void each_decl(const tn_idl_iface *iface, void (*fn)(void *arg, const tn_idl_decl *d),
                      void *arg)
{
    for (size_t i = 0; i < iface->ndefs; i++) {
        const tn_idl_def *d = iface->defs[i];
        for (size_t j = 0; j < d->nfields; j++)
            fn(arg, d->fields[j]);
        for (size_t j = 0; j < d->ncases; j++) {
            if (d->cases[j]->arm != NULL)
                fn(arg, d->cases[j]->arm);
        }
        if (d->kind == TN_D_TYPEDEF)
            fn(arg, &d->alias);
        for (size_t j = 0; j < d->nparams; j++)
            fn(arg, &d->params[j]->decl);
        if (d->kind == TN_D_METHOD && d->result.kind != TN_T_VOID) {
            tn_idl_decl r = tn_idl_plain(&d->result);
            fn(arg, &r);
        }
    }
}

typedef struct scan {
    hdr *h;
    items *it;
    bool bytes;
} scan;

static void scan_decl(void *arg, const tn_idl_decl *d)
{
    scan *s = arg;
    s->bytes |= d->type.kind == TN_T_OPAQUE_VAR;
    if (d->array != TN_A_VAR)
        return;
    const char *name = tn_idl_seq_type(s->h->g, &d->type);
    for (size_t i = 0; i < s->it->n; i++) {
        if (s->it->v[i].seq != NULL && strcmp(s->it->v[i].seq, name) == 0)
            return;
    }
    items *it = s->it;
    it->v = tn_idl_grow(s->h->g->ctx, it->v, &it->cap, it->n, sizeof *it->v);
    it->v[it->n++] = (item){.elem = &d->type, .seq = name};
}

/* ---- placing types in an order C accepts -------------------------------------------- */

static void place(hdr *h, items *it, item *x);

static item *def_item(items *it, const tn_idl_def *d)
{
    for (size_t i = 0; i < it->n; i++) {
        if (it->v[i].def == d)
            return &it->v[i];
    }
    return NULL; /* another interface's: its header is included */
}

static item *seq_item(hdr *h, items *it, const tn_idl_type *elem)
{
    const char *name = tn_idl_seq_type(h->g, elem);
    for (size_t i = 0; i < it->n; i++) {
        if (it->v[i].seq != NULL && strcmp(it->v[i].seq, name) == 0)
            return &it->v[i];
    }
    return NULL;
}

static void place_def(hdr *h, items *it, const tn_idl_def *d)
{
    item *x = d != NULL ? def_item(it, d) : NULL;
    if (x != NULL)
        place(h, it, x);
}

/* t's name must be declared: typedefs written (structs and unions are
 * declared up front). */
static void need_declared(hdr *h, items *it, const tn_idl_type *t)
{
    const tn_idl_def *d = tn_idl_named(t);
    if (d != NULL && d->kind == TN_D_TYPEDEF)
        place_def(h, it, d);
}

/* t must be complete: its struct or union written, through typedefs. */
static void need_complete(hdr *h, items *it, const tn_idl_type *t)
{
    const tn_idl_def *d = tn_idl_named(t);
    if (d == NULL || d->kind == TN_D_ENUM || d->kind == TN_D_HANDLE)
        return;
    place_def(h, it, d);
    if (d->kind == TN_D_TYPEDEF && !d->alias.optional && d->alias.array != TN_A_VAR)
        need_complete(h, it, &d->alias.type);
}

static void need_decl(hdr *h, items *it, const tn_idl_decl *d, bool by_value)
{
    if (d->optional) {
        need_declared(h, it, &d->type);
    } else if (d->array == TN_A_VAR) {
        item *s = seq_item(h, it, &d->type);
        if (s != NULL)
            place(h, it, s);
    } else if (d->array == TN_A_FIXED || by_value) {
        need_complete(h, it, &d->type);
    } else {
        need_declared(h, it, &d->type);
    }
}

/* A comment for a member whose C type hides what the IDL said. */
static const char *member_note(hdr *h, const tn_idl_decl *d)
{
    if (d->optional || d->array == TN_A_VAR || d->type.kind == TN_T_STRING ||
        d->type.kind == TN_T_OPAQUE_VAR)
        return tn_idl_sprintf(h->g->ctx, " /* %s */", tn_idl_idl_decl(h->g, d));
    return "";
}

static void write_struct(hdr *h, const tn_idl_def *d)
{
    putf(h, "struct %s {\n", tn_idl_cname(h->g, d));
    for (size_t i = 0; i < d->nfields; i++) {
        const tn_idl_decl *f = d->fields[i];
        putf(h, "    %s;%s\n", tn_idl_cdecl(h->g, f, f->name, TN_CLIENT), member_note(h, f));
    }
    put(h, "};\n\n");
}

static void write_union(hdr *h, const tn_idl_def *d)
{
    tn_idl_gen *g = h->g;
    putf(h, "struct %s {\n", tn_idl_cname(g, d));
    putf(h, "    %s;\n", tn_idl_cdecl(g, &d->disc, d->disc.name, TN_CLIENT));
    bool any = false;
    for (size_t i = 0; i < d->ncases; i++)
        any |= d->cases[i]->arm != NULL;
    if (any) {
        put(h, "    union {\n");
        for (size_t i = 0; i < d->ncases; i++) {
            const tn_idl_case *k = d->cases[i];
            if (k->arm == NULL)
                continue;
            tn_idl_buf labels = {0};
            for (size_t j = 0; j < k->nvalues; j++)
                tn_idl_buf_printf(g->ctx, &labels, "%s%s", j > 0 ? ", " : "", k->values[j]->text);
            if (k->is_default)
                tn_idl_buf_printf(g->ctx, &labels, "%sdefault", k->nvalues > 0 ? ", " : "");
            putf(h, "        %s; /* %s%s: %s */\n",
                 tn_idl_cdecl(g, k->arm, k->arm->name, TN_CLIENT), k->nvalues > 0 ? "case " : "",
                 labels.p, tn_idl_idl_decl(g, k->arm));
        }
        putf(h, "    } u; /* the arm %s selects */\n", d->disc.name);
    }
    put(h, "};\n\n");
}

static void write_item(hdr *h, const item *x)
{
    tn_idl_gen *g = h->g;
    if (x->def == NULL) {
        const char *et = tn_idl_ctype(g, x->elem, TN_CLIENT);
        putf(h, "/* %s x<N>: len elements at val. */\n", tn_idl_type_name(x->elem));
        putf(h, "typedef struct %s {\n    uint32_t len;\n    %s;\n} %s;\n\n", x->seq,
             tn_idl_cvar(g, tn_idl_pointer_to(g, et), "val"), x->seq);
    } else if (x->def->kind == TN_D_STRUCT) {
        write_struct(h, x->def);
    } else if (x->def->kind == TN_D_UNION) {
        write_union(h, x->def);
    } else {
        putf(h, "typedef %s;%s\n\n",
             tn_idl_cdecl(g, &x->def->alias, tn_idl_cname(g, x->def), TN_CLIENT),
             member_note(h, &x->def->alias));
    }
}

static void place(hdr *h, items *it, item *x)
{
    if (x->state != 0)
        return; /* written, or a cycle the checker ruled out */
    x->state = 1;
    if (x->def == NULL) {
        need_declared(h, it, x->elem);
    } else if (x->def->kind == TN_D_TYPEDEF) {
        need_decl(h, it, &x->def->alias, false);
    } else {
        for (size_t i = 0; i < x->def->nfields; i++)
            need_decl(h, it, x->def->fields[i], true);
        for (size_t i = 0; i < x->def->ncases; i++) {
            if (x->def->cases[i]->arm != NULL)
                need_decl(h, it, x->def->cases[i]->arm, true);
        }
    }
    write_item(h, x);
    x->state = 2;
}

/* ---- the sections ----------------------------------------------------------------------- */

static const char *const_value(hdr *h, const tn_idl_def *c)
{
    tn_idl_ctx *ctx = h->g->ctx;
    unsigned long long m = c->value.mag;
    bool wide = c->ctype.kind == TN_T_INT64 || c->ctype.kind == TN_T_UINT64;
    bool is_unsigned = c->ctype.kind >= TN_T_UINT8 && c->ctype.kind <= TN_T_UINT64;
    if (is_unsigned)
        return wide ? tn_idl_sprintf(ctx, "UINT64_C(%llu)", m) : tn_idl_sprintf(ctx, "%lluu", m);
    if (!c->value.neg)
        return wide ? tn_idl_sprintf(ctx, "INT64_C(%llu)", m) : tn_idl_sprintf(ctx, "%llu", m);
    /* The most negative value is not a literal: write it as one above minus 1. */
    if (wide)
        return m == (unsigned long long)INT64_MAX + 1 ? "(-INT64_C(9223372036854775807) - 1)"
                                                      : tn_idl_sprintf(ctx, "(-INT64_C(%llu))", m);
    return m == 2147483648u ? "(-2147483647 - 1)" : tn_idl_sprintf(ctx, "(-%llu)", m);
}

static void write_constants(hdr *h)
{
    const tn_idl_iface *iface = h->g->iface;
    bool any = false;
    for (size_t i = 0; i < iface->ndefs; i++) {
        const tn_idl_def *c = iface->defs[i];
        if (c->kind != TN_D_CONST)
            continue;
        if (!any)
            section(h, "constants");
        any = true;
        putf(h, "#define %s %s /* %s */\n", tn_idl_cname(h->g, c), const_value(h, c),
             tn_idl_type_name(&c->ctype));
    }
}

static void write_enums(hdr *h)
{
    const tn_idl_iface *iface = h->g->iface;
    for (size_t i = 0; i < iface->ndefs; i++) {
        const tn_idl_def *e = iface->defs[i];
        if (e->kind != TN_D_ENUM)
            continue;
        const char *name = tn_idl_cname(h->g, e);
        putf(h, "typedef enum %s {\n", name);
        for (size_t j = 0; j < e->nvals; j++)
            putf(h, "    %s = %s,\n", tn_idl_cname(h->g, e->vals[j]),
                 tn_idl_value_str(h->g->ctx, e->vals[j]->value));
        putf(h, "} %s;\n\n", name);
    }
}

static void write_types(hdr *h)
{
    tn_idl_gen *g = h->g;
    const tn_idl_iface *iface = g->iface;
    items it = {0};
    scan s = {h, &it, false};
    each_decl(iface, scan_decl, &s);
    for (size_t i = 0; i < iface->ndefs; i++) {
        const tn_idl_def *d = iface->defs[i];
        if (d->kind == TN_D_STRUCT || d->kind == TN_D_UNION || d->kind == TN_D_TYPEDEF) {
            it.v = tn_idl_grow(g->ctx, it.v, &it.cap, it.n, sizeof *it.v);
            it.v[it.n++] = (item){.def = d};
        }
    }
    bool any_enum = false;
    for (size_t i = 0; i < iface->ndefs; i++)
        any_enum |= iface->defs[i]->kind == TN_D_ENUM;
    if (it.n == 0 && !s.bytes && !any_enum)
        return;
    section(h, "types");
    write_enums(h);
    if (s.bytes)
        putf(h,
             "/* opaque<N>: len bytes at val. */\n"
             "typedef struct %s_bytes {\n    uint32_t len;\n    uint8_t *val;\n} %s_bytes;\n\n",
             g->prefix, g->prefix);
    bool forward = false;
    for (size_t i = 0; i < it.n; i++) {
        const tn_idl_def *d = it.v[i].def;
        if (d != NULL && d->kind != TN_D_TYPEDEF) {
            const char *name = tn_idl_cname(g, d);
            putf(h, "typedef struct %s %s;\n", name, name);
            forward = true;
        }
    }
    if (forward)
        put(h, "\n");
    for (size_t i = 0; i < it.n; i++)
        place(h, &it, &it.v[i]);
}

static void write_coders(hdr *h)
{
    tn_idl_gen *g = h->g;
    const tn_idl_iface *iface = g->iface;
    bool any = false;
    for (size_t i = 0; i < iface->ndefs; i++) {
        const tn_idl_def *d = iface->defs[i];
        if (d->kind != TN_D_STRUCT && d->kind != TN_D_UNION && d->kind != TN_D_ENUM &&
            d->kind != TN_D_TYPEDEF)
            continue;
        if (!any) {
            section(h, "XDR coders");
            putf(h,
                 "/* In %s_xdr.c. _enc appends a value to xdr. _dec reads one, its memory from "
                 "the\n * decoder's allocator, and leaves it freeable even when it fails. _free "
                 "frees\n * what a value owns, not the value itself. */\n",
                 g->file->base);
        }
        any = true;
        const char *n = tn_idl_cname(g, d);
        bool arr = d->kind == TN_D_TYPEDEF && d->is_array;
        const char *in = arr ? tn_idl_sprintf(g->ctx, "const %s v", n)
                             : tn_idl_sprintf(g->ctx, "const %s *v", n);
        const char *io =
            arr ? tn_idl_sprintf(g->ctx, "%s v", n) : tn_idl_sprintf(g->ctx, "%s *v", n);
        putf(h, "tern_err %s_enc(tern_xdr_enc *xdr, %s);\n", n, in);
        putf(h, "tern_err %s_dec(tern_xdr_dec *xdr, %s);\n", n, io);
        if (d->heap)
            putf(h, "void %s_free(%s);\n", n, io);
    }
}

static void write_iface(hdr *h)
{
    tn_idl_gen *g = h->g;
    const tn_idl_iface *iface = g->iface;
    section(h, "the interface");
    if (iface->nmethods > 0) {
        putf(h, "/* Method numbers: indexes into %s_iface.methods. */\nenum {\n", g->prefix);
        for (size_t i = 0; i < iface->ndefs; i++) {
            const tn_idl_def *m = iface->defs[i];
            if (m->kind == TN_D_METHOD)
                putf(h, "    %s_METHOD_%s = %u,\n", g->prefix, m->name, (unsigned)m->number);
        }
        put(h, "};\n\n");
    }
    putf(h, "/* Name, UUID, version %u.%u and methods, in %s_xdr.c. */\n", (unsigned)iface->major,
         (unsigned)iface->minor, g->file->base);
    putf(h, "extern const tern_rpc_iface %s_iface;\n", g->prefix);
}

static void write_client(hdr *h)
{
    tn_idl_gen *g = h->g;
    const tn_idl_iface *iface = g->iface;
    if (iface->nmethods == 0)
        return;
    section(h, "client stubs");
    putf(h,
         "/* In %s_client.c. For each method M:\n"
         " *   M              calls and waits ([oneway]: returns once the call is sent)\n"
         " *   M_async        starts a call; M_finish waits for it, decodes, frees the future\n"
         " *   M_multi        calls every member of a group; M_multi_reply decodes one's reply\n"
         " *   M_scatter      [scatter]: splits the array across the group, merges the replies\n"
         " *   M_free         frees the out-values of one call, all at once\n"
         " * Parameters come in IDL order, the result last as ret. Out-values and the result\n"
         " * are malloc'd and only valid after TERN_OK. [in, out] values are copied back into\n"
         " * the caller's memory; one that comes back longer than it went fails the call with\n"
         " * TERN_EPROTO. */\n",
         g->file->base);
    for (size_t i = 0; i < iface->ndefs; i++) {
        const tn_idl_def *m = iface->defs[i];
        if (m->kind != TN_D_METHOD)
            continue;
        putf(h, "\n/* %s */\n", tn_idl_idl_method(g, m));
        tn_idl_decl r;
        if (tn_idl_scatter_param(m) != NULL && tn_idl_reduced(m, &r)) {
            const char *vt = tn_idl_value_type(g, &r, TN_CLIENT);
            putf(h, "%s\n",
                 tn_idl_wrap(g,
                             tn_idl_sprintf(g->ctx, "typedef void (*%s_%s_reducer)(%s, %s);",
                                            g->prefix, m->name,
                                            tn_idl_cvar(g, tn_idl_pointer_to(g, vt), "acc"),
                                            tn_idl_cvar(g, tn_idl_pointer_to_const(g, vt), "part")),
                             0));
        }
        for (int k = TN_STUB_SYNC; k <= TN_STUB_FREE; k++) {
            const char *sig = tn_idl_stub_sig(g, m, (tn_idl_stub)k);
            if (sig != NULL)
                putf(h, "%s\n", tn_idl_wrap(g, tn_idl_sprintf(g->ctx, "%s;", sig), 0));
        }
    }
}

/* The handle types the methods use: each has a rundown in the server table. */
static size_t handles_used(hdr *h, const tn_idl_def ***out)
{
    const tn_idl_iface *iface = h->g->iface;
    const tn_idl_def **v = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < iface->ndefs; i++) {
        const tn_idl_def *m = iface->defs[i];
        for (size_t j = 0; m->kind == TN_D_METHOD && j <= m->nparams; j++) {
            const tn_idl_def *t =
                tn_idl_named(j < m->nparams ? &m->params[j]->decl.type : &m->result);
            bool seen = false;
            for (size_t k = 0; k < n; k++)
                seen |= v[k] == t;
            if (t == NULL || t->kind != TN_D_HANDLE || seen)
                continue;
            v = tn_idl_grow(h->g->ctx, v, &cap, n, sizeof *v);
            v[n++] = t;
        }
    }
    *out = v;
    return n;
}

static void write_server(hdr *h)
{
    tn_idl_gen *g = h->g;
    const tn_idl_iface *iface = g->iface;
    if (iface->nmethods == 0)
        return;
    section(h, "server");
    putf(h,
         "/* The procedures of a %s server, for %s_serve (in %s_server.c). Each gets the\n"
         " * call (tern_rpc_call_app(call) is the app given to %s_serve), its in-parameters,\n"
         " * and pointers to its out-parameters and result, which start zeroed; [in, out]\n"
         " * ones hold what the client sent. It returns TERN_OK or an error for the client\n"
         " * (tern_rpc_call_fail adds a message). Out-values must outlive the procedure:\n"
         " * allocate them with tern_rpc_call_alloc, or point at memory that lives longer;\n"
         " * the skeleton never frees them. A NULL procedure answers TERN_ENOMETHOD. */\n",
         g->prefix, g->prefix, g->file->base, g->prefix);
    putf(h, "typedef struct %s_server {\n", g->prefix);
    tn_idl_emit e = emitter(h, 1);
    for (size_t i = 0; i < iface->ndefs; i++) {
        const tn_idl_def *m = iface->defs[i];
        if (m->kind != TN_D_METHOD)
            continue;
        tn_idl_buf b = {0};
        tn_idl_buf_printf(g->ctx, &b, "tern_err (*%s)(tern_rpc_call *call", m->name);
        for (size_t j = 0; j < m->nparams; j++) {
            const tn_idl_param *p = m->params[j];
            tn_idl_buf_printf(
                g->ctx, &b, ", %s",
                tn_idl_cparam(g, &p->decl, p->decl.name, tn_idl_role_of(p), TN_SERVER));
        }
        if (tn_idl_has_result(m)) {
            tn_idl_decl r = tn_idl_result(m);
            tn_idl_buf_printf(g->ctx, &b, ", %s",
                              tn_idl_cparam(g, &r, "ret", TN_ROLE_OUT, TN_SERVER));
        }
        tn_idl_buf_puts(g->ctx, &b, ");");
        tn_idl_line(&e, "/* %s */", tn_idl_idl_method(g, m));
        tn_idl_line(&e, "%s", b.p);
    }
    const tn_idl_def **handles;
    size_t nh = handles_used(h, &handles);
    for (size_t i = 0; i < nh; i++) {
        tn_idl_line(&e, "/* Runs when the client holding a %s handle has gone (or the server",
                    handles[i]->name);
        tn_idl_line(&e, " * closes) with the state the handle stood for; NULL: nothing runs. */");
        tn_idl_line(&e, "void (*rundown_%s)(void *state);", handles[i]->name);
    }
    putf(h, "} %s_server;\n\n", g->prefix);
    putf(h, "/* Offers the interface on server: tern_rpc_server_add with the skeleton's dispatch.\n"
            " * impl must outlive the server; app is for the procedures. */\n");
    putf(h, "tern_err %s_serve(tern_rpc_server *server, const %s_server *impl, void *app);\n",
         g->prefix, g->prefix);
}

static const char *guard(hdr *h)
{
    tn_idl_buf b = {0};
    for (const char *p = h->g->file->base; *p != '\0'; p++) {
        char c = isalnum((unsigned char)*p) ? (char)toupper((unsigned char)*p) : '_';
        tn_idl_buf_add(h->g->ctx, &b, &c, 1);
    }
    return tn_idl_sprintf(h->g->ctx, "%s%s_TIDL_H", isdigit((unsigned char)b.p[0]) ? "T" : "", b.p);
}

void tn_idl_gen_header(tn_idl_gen *g, tn_idl_buf *out)
{
    hdr h = {.g = g, .out = out, .cf = {.g = g}};
    const tn_idl_iface *iface = g->iface;
    const char *base = g->file->base;
    char uuid[37];
    static const char hex[] = "0123456789abcdef";
    for (int i = 0, k = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            uuid[k++] = '-';
        uuid[k++] = hex[iface->uuid[i] >> 4];
        uuid[k++] = hex[iface->uuid[i] & 15];
        uuid[k] = '\0';
    }
    tn_idl_gen_banner(
        g, out,
        tn_idl_sprintf(g->ctx,
                       "Interface %s, version %u.%u, uuid %s: its types and their XDR coders\n"
                       "(%s_xdr.c, which also holds %s_iface), the client stubs (%s_client.c)\n"
                       "and the server skeleton (%s_server.c). A client links %s_xdr.c and\n"
                       "%s_client.c, a server %s_xdr.c and %s_server.c, both with libtern.\n"
                       "docs/idl.md says how every IDL type maps to C and who owns what.",
                       iface->name, (unsigned)iface->major, (unsigned)iface->minor, uuid, base,
                       g->prefix, base, base, base, base, base, base));
    const char *gd = guard(&h);
    putf(&h, "#ifndef %s\n#define %s\n\n", gd, gd);
    put(&h, "#include <stdbool.h>\n#include <stddef.h>\n#include <stdint.h>\n\n#include "
            "<tern/rpc.h>\n");
    bool first = true;
    for (size_t i = 0; i < g->file->nimports; i++) {
        const tn_idl_file *f = g->file->imports[i].file;
        bool again = false;
        for (size_t j = 0; j < i; j++)
            again |= g->file->imports[j].file == f;
        if (again)
            continue;
        putf(&h, "%s#include \"%s.h\"\n", first ? "\n" : "", f->base);
        first = false;
    }
    put(&h, "\n#ifdef __cplusplus\nextern \"C\" {\n#endif\n");
    write_constants(&h);
    write_types(&h);
    write_coders(&h);
    write_iface(&h);
    write_client(&h);
    write_server(&h);
    putf(&h, "\n#ifdef __cplusplus\n}\n#endif\n#endif\n");
}
