/* BASE_server.c: the server skeleton. For each method a static function
 * that decodes the in-parameters (into the call's arena: the decoder's
 * allocator is already it), calls the procedure and encodes its
 * out-parameters; a dispatch function over the method numbers; and
 * Calc_serve, which offers the interface. Context handles become the
 * state pointers procedures see, and back. */
#include <string.h>

#include "gen.h"

typedef struct skel {
    tn_idl_gen *g;
    tn_idl_cfile *cf;
    tn_idl_buf *out;
    const tn_idl_def *m;
} skel;

static tn_idl_emit at(skel *s, int indent, const char *xdr)
{
    return (tn_idl_emit){s->cf, s->out, indent, xdr};
}

static bool is_handle(const tn_idl_decl *d)
{
    return tn_idl_shape_of(d) == TN_S_HANDLE;
}

/* ---- helpers ------------------------------------------------------------------------ */

static const tn_idl_text_helper args_end = {
    .name = "args_end",
    .sig = "static tern_err args_end(tern_xdr_dec *in)",
    .comment = "In-parameters that do not decode are the caller's fault, unless memory ran out.",
    .body =
        (const char *const[]){
            "tern_err err = in->err != TERN_OK ? in->err : tern_xdr_dec_end(in);",
            "return err == TERN_OK || err == TERN_ENOMEM ? err : TERN_EBADARGS;",
            NULL,
        },
};

static const tn_idl_text_helper find_state = {
    .name = "find_state",
    .sig =
        "static tern_err find_state(tern_rpc_call *call, const tern_rpc_handle *h, void **state)",
    .comment = "The state a context handle stands for: one the calling client does not hold is a "
               "bad\n * argument.",
    .body =
        (const char *const[]){
            "tern_err err = tern_rpc_handle_get(call, h, state);",
            "return err == TERN_ENOENT ? TERN_EBADARGS : err;",
            NULL,
        },
};

static const tn_idl_text_helper find_state_or_none = {
    .name = "find_state_or_none",
    .sig = "static tern_err find_state_or_none(tern_rpc_call *call, const tern_rpc_handle *h, "
           "void **state)",
    .comment = "An [in, out] context handle may also be all zeros: no state yet.",
    .body =
        (const char *const[]){
            "static const tern_rpc_handle none;",
            "*state = NULL;",
            "if (memcmp(h, &none, sizeof none) == 0)",
            "    return TERN_OK;",
            "return find_state(call, h, state);",
            NULL,
        },
    .calls = &find_state,
};

static const tn_idl_text_helper put_state = {
    .name = "put_state",
    .sig = "static tern_err put_state(tern_rpc_call *call, tern_xdr_enc *out, void *state, "
           "tern_rpc_rundown_fn *rundown)",
    .comment = "Sends a new context handle for the state a procedure set; all zeros for none.",
    .body =
        (const char *const[]){
            "tern_rpc_handle h;",
            "memset(&h, 0, sizeof h);",
            "if (state != NULL) {",
            "    tern_err err = tern_rpc_handle_new(call, state, rundown, &h);",
            "    if (err != TERN_OK)",
            "        return err;",
            "}",
            "tern_xdr_put_fixed(out, h.b, sizeof h.b);",
            "return out->err;",
            NULL,
        },
};

static const tn_idl_text_helper put_state_again = {
    .name = "put_state_again",
    .sig = "static tern_err put_state_again(tern_rpc_call *call, tern_xdr_enc *out, const "
           "tern_rpc_handle *h, void *was, void *state, tern_rpc_rundown_fn *rundown)",
    .comment = "An [in, out] context handle after the procedure: the same state keeps its "
               "handle,\n * another gets a new one, NULL closes it (its rundown does not run).",
    .body =
        (const char *const[]){
            "if (state == was) {",
            "    tern_xdr_put_fixed(out, h->b, sizeof h->b);",
            "    return out->err;",
            "}",
            "if (was != NULL) {",
            "    tern_err err = tern_rpc_handle_drop(call, h);",
            "    if (err != TERN_OK)",
            "        return err;",
            "}",
            "return put_state(call, out, state, rundown);",
            NULL,
        },
    .calls = &put_state,
};

/* ---- per method ----------------------------------------------------------------------- */

/* The argument a procedure gets for a parameter held in a local. */
static const char *handler_arg(tn_idl_gen *g, const tn_idl_decl *d, const char *name,
                               tn_idl_role role)
{
    tn_idl_shape s = tn_idl_shape_of(d);
    if (s == TN_S_ARRAY)
        return name;
    /* As tn_idl_cparam passes them: an optional declarator (not a typedef
     * of one) goes by its pointer. */
    if (role == TN_ROLE_IN &&
        (s == TN_S_SCALAR || s == TN_S_STRING || s == TN_S_HANDLE || d->optional))
        return name;
    return tn_idl_sprintf(g->ctx, "&%s", name);
}

/* A local's initialiser: pointers start NULL and out-only scalars 0;
 * aggregates that go out are cleared with memset once the arguments
 * decoded. */
static const char *init(const tn_idl_decl *d, bool out_only)
{
    tn_idl_shape s = tn_idl_shape_of(d);
    if (s == TN_S_STRING || s == TN_S_OPTIONAL || s == TN_S_HANDLE)
        return " = NULL";
    if (s == TN_S_SCALAR && out_only)
        return tn_idl_scalar_kind(d) == TN_T_BOOL ? " = false" : " = 0";
    return "";
}

static bool cleared_later(const tn_idl_decl *d)
{
    return tn_idl_shape_of(d) != TN_S_SCALAR && *init(d, true) == '\0';
}

/* Whether the method's reply carries anything. */
static bool sends(const tn_idl_def *m)
{
    if (tn_idl_has_result(m))
        return true;
    for (size_t i = 0; i < m->nparams; i++) {
        if (m->params[i]->dir & TN_DIR_OUT)
            return true;
    }
    return false;
}

/* The handle type's rundown in the server table. */
static const char *rundown(tn_idl_gen *g, const tn_idl_decl *d)
{
    return tn_idl_sprintf(g->ctx, "impl->rundown_%s", tn_idl_resolve(d)->type.def->name);
}

static void serve_method(skel *s)
{
    tn_idl_gen *g = s->g;
    const tn_idl_def *m = s->m;
    tn_idl_emit top = at(s, 0, "in"), in = at(s, 1, "in"), out = at(s, 1, "out"),
                in2 = at(s, 2, "in");
    tn_idl_decl r = tn_idl_result(m);
    bool ret = tn_idl_has_result(m);

    tn_idl_line(&top, "/* %s */", tn_idl_idl_method(g, m));
    tn_idl_line(&top,
                "static tern_err serve_%s(tern_rpc_call *call, const %s_server *impl, "
                "tern_xdr_dec *in%s)",
                m->name, g->prefix, sends(m) ? ", tern_xdr_enc *out" : "");
    tn_idl_line(&top, "{");

    bool handles = false, held = false;
    for (size_t i = 0; i < m->nparams; i++) {
        const tn_idl_param *p = m->params[i];
        tn_idl_line(&in, "%s%s;", tn_idl_cdecl(g, &p->decl, p->decl.name, TN_SERVER),
                    init(&p->decl, p->dir == TN_DIR_OUT));
        handles |= is_handle(&p->decl) && (p->dir & TN_DIR_IN);
        held |= is_handle(&p->decl) && p->dir == (TN_DIR_IN | TN_DIR_OUT);
    }
    if (ret)
        tn_idl_line(&in, "%s%s;", tn_idl_cdecl(g, &r, "ret", TN_SERVER), init(&r, true));
    if (handles) {
        tn_idl_line(&in, "struct { /* the handles as they came */");
        for (size_t i = 0; i < m->nparams; i++) {
            const tn_idl_param *p = m->params[i];
            if (is_handle(&p->decl) && (p->dir & TN_DIR_IN))
                tn_idl_line(&in2, "tern_rpc_handle %s;", p->decl.name);
        }
        tn_idl_line(&in, "} handles;");
    }
    if (held) {
        tn_idl_line(&in, "struct { /* the states [in, out] handles stood for */");
        for (size_t i = 0; i < m->nparams; i++) {
            const tn_idl_param *p = m->params[i];
            if (is_handle(&p->decl) && p->dir == (TN_DIR_IN | TN_DIR_OUT))
                tn_idl_line(&in2, "void *%s;", p->decl.name);
        }
        tn_idl_line(&in, "} held;");
    }
    tn_idl_blank(&in);

    tn_idl_line(&in, "if (impl->%s == NULL)", m->name);
    tn_idl_line(&in, "    return TERN_ENOMETHOD;");
    for (size_t i = 0; i < m->nparams; i++) {
        const tn_idl_param *p = m->params[i];
        if (!(p->dir & TN_DIR_IN))
            continue;
        const char *local =
            is_handle(&p->decl) ? tn_idl_sprintf(g->ctx, "handles.%s", p->decl.name) : p->decl.name;
        tn_idl_emit_get(&in, &p->decl, tn_idl_lv(local), tn_idl_shape_of(&p->decl) == TN_S_STRING);
    }
    tn_idl_line(&in, "tern_err err = %s(in);", tn_idl_h_text(s->cf, &args_end));
    tn_idl_line(&in, "if (err != TERN_OK)");
    tn_idl_line(&in, "    return err;");
    for (size_t i = 0; i < m->nparams; i++) {
        const tn_idl_param *p = m->params[i];
        const char *n = p->decl.name;
        if (!is_handle(&p->decl) || !(p->dir & TN_DIR_IN))
            continue;
        bool inout = p->dir & TN_DIR_OUT;
        tn_idl_line(&in, "err = %s(call, &handles.%s, &%s);",
                    tn_idl_h_text(s->cf, inout ? &find_state_or_none : &find_state), n, n);
        tn_idl_line(&in, "if (err != TERN_OK)");
        tn_idl_line(&in, "    return err;");
        if (inout)
            tn_idl_line(&in, "held.%s = %s;", n, n);
    }
    /* Out-values start zeroed, so whatever a procedure leaves unset encodes. */
    bool outs = false;
    for (size_t i = 0; i <= m->nparams; i++) {
        const tn_idl_decl *d = i < m->nparams ? &m->params[i]->decl : &r;
        if (i < m->nparams ? !(m->params[i]->dir & TN_DIR_OUT) : !ret)
            continue;
        outs = true;
        if ((i == m->nparams || m->params[i]->dir == TN_DIR_OUT) && cleared_later(d))
            tn_idl_line(&in, "memset(&%s, 0, sizeof %s);", d == &r ? "ret" : d->name,
                        d == &r ? "ret" : d->name);
    }

    tn_idl_buf call = {0};
    tn_idl_buf_printf(g->ctx, &call, "%s impl->%s(call", outs ? "err =" : "return", m->name);
    for (size_t i = 0; i < m->nparams; i++) {
        const tn_idl_param *p = m->params[i];
        tn_idl_buf_printf(g->ctx, &call, ", %s",
                          handler_arg(g, &p->decl, p->decl.name, tn_idl_role_of(p)));
    }
    if (ret)
        tn_idl_buf_printf(g->ctx, &call, ", %s", handler_arg(g, &r, "ret", TN_ROLE_OUT));
    tn_idl_buf_puts(g->ctx, &call, ");");
    tn_idl_line(&in, "%s", call.p);
    if (!outs) {
        tn_idl_line(&top, "}\n");
        return;
    }
    tn_idl_line(&in, "if (err != TERN_OK)");
    tn_idl_line(&in, "    return err;");

    /* The reply: the result, then the out-parameters in order. */
    for (size_t k = 0; k <= m->nparams; k++) {
        const tn_idl_decl *d;
        const char *n;
        bool inout = false;
        if (k == 0 && !ret)
            continue;
        if (k == 0) {
            d = &r;
            n = "ret";
        } else {
            const tn_idl_param *p = m->params[k - 1];
            if (!(p->dir & TN_DIR_OUT))
                continue;
            d = &p->decl;
            n = p->decl.name;
            inout = p->dir & TN_DIR_IN;
        }
        if (!is_handle(d)) {
            tn_idl_emit_put(&out, d, tn_idl_lv(n));
            continue;
        }
        if (inout)
            tn_idl_line(&out, "err = %s(call, out, &handles.%s, held.%s, %s, %s);",
                        tn_idl_h_text(s->cf, &put_state_again), n, n, n, rundown(g, d));
        else
            tn_idl_line(&out, "err = %s(call, out, %s, %s);", tn_idl_h_text(s->cf, &put_state), n,
                        rundown(g, d));
        tn_idl_line(&out, "if (err != TERN_OK)");
        tn_idl_line(&out, "    return err;");
    }
    tn_idl_line(&out, "return out->err;");
    tn_idl_line(&top, "}\n");
}

void tn_idl_gen_server(tn_idl_gen *g, tn_idl_buf *out)
{
    tn_idl_cfile cf = {.g = g};
    tn_idl_buf text = {0};
    const tn_idl_iface *iface = g->iface;
    skel s = {g, &cf, &text, NULL};
    for (size_t i = 0; i < iface->ndefs; i++) {
        if (iface->defs[i]->kind != TN_D_METHOD)
            continue;
        s.m = iface->defs[i];
        serve_method(&s);
    }
    if (iface->nmethods > 0) {
        tn_idl_emit top = at(&s, 0, "in"), e = at(&s, 1, "in");
        tn_idl_line(&top, "static tern_err dispatch(tern_rpc_call *call, uint32_t method, "
                          "tern_xdr_dec *in, tern_xdr_enc *out, const void *impl)");
        tn_idl_line(&top, "{");
        bool any_sends = false;
        for (size_t i = 0; i < iface->ndefs; i++)
            any_sends |= iface->defs[i]->kind == TN_D_METHOD && sends(iface->defs[i]);
        if (!any_sends)
            tn_idl_line(&e, "(void)out; /* no method sends anything back */");
        tn_idl_line(&e, "switch (method) {");
        for (size_t i = 0; i < iface->ndefs; i++) {
            const tn_idl_def *m = iface->defs[i];
            if (m->kind != TN_D_METHOD)
                continue;
            tn_idl_line(&e, "case %s_METHOD_%s:", g->prefix, m->name);
            tn_idl_line(&e, "    return serve_%s(call, impl, in%s);", m->name,
                        sends(m) ? ", out" : "");
        }
        tn_idl_line(&e, "default:");
        tn_idl_line(&e, "    return TERN_ENOMETHOD;");
        tn_idl_line(&e, "}");
        tn_idl_line(&top, "}\n");
        tn_idl_line(&top,
                    "tern_err %s_serve(tern_rpc_server *server, const %s_server *impl, void *app)",
                    g->prefix, g->prefix);
        tn_idl_line(&top, "{");
        tn_idl_line(&e, "return tern_rpc_server_add(server, &%s_iface, dispatch, impl, app);",
                    g->prefix);
        tn_idl_line(&top, "}");
    }
    tn_idl_cfile_finish(
        &cf, out,
        tn_idl_sprintf(g->ctx,
                       "The server skeleton of interface %s (declared in %s.h): it "
                       "decodes each call's\nin-parameters, runs the procedure from "
                       "%s_server and encodes the out-parameters.",
                       iface->name, g->file->base, g->prefix),
        &text);
}
