/* BASE_client.c: for each method, static coders of its arguments and reply,
 * and the stubs: sync, async/finish, multicast, scatter-gather, and the
 * function that frees one call's out-values.
 *
 * The reply decoder does all the work the stubs share: it decodes the
 * out-values into the caller's variables, copies [in, out] values back
 * into the caller's memory only once all of the reply decoded and every
 * one of them fits, and frees what it decoded if anything failed. */
#include <string.h>

#include "gen.h"

/* Arguments are encoded on the stack up to this size, on the heap beyond. */
#define ARGS_BUF 256

/* ---- signatures ------------------------------------------------------------------ */

enum which {
    ALL,      /* every parameter, the result last */
    IN_SIDE,  /* what is sent: [in] and [in, out], as [in] */
    OUT_SIDE, /* what comes back: [out], [in, out] and the result */
    FREED,    /* [out] values and a result that own memory */
};

static void add_params(tn_idl_gen *g, tn_idl_buf *b, const tn_idl_def *m, enum which which,
                       bool first)
{
    for (size_t i = 0; i <= m->nparams; i++) {
        tn_idl_decl r;
        const tn_idl_decl *d;
        const char *name;
        tn_idl_role role;
        if (i < m->nparams) {
            const tn_idl_param *p = m->params[i];
            d = &p->decl;
            name = p->decl.name;
            role = tn_idl_role_of(p);
        } else {
            if (!tn_idl_has_result(m))
                break;
            r = tn_idl_result(m);
            d = &r;
            name = "ret";
            role = TN_ROLE_OUT;
        }
        if ((which == IN_SIDE && role == TN_ROLE_OUT) ||
            (which == OUT_SIDE && role == TN_ROLE_IN) ||
            (which == FREED && (role != TN_ROLE_OUT || !tn_idl_decl_heap(d))))
            continue;
        if (which == IN_SIDE)
            role = TN_ROLE_IN;
        tn_idl_buf_printf(g->ctx, b, "%s%s", first ? "" : ", ",
                          tn_idl_cparam(g, d, name, role, TN_CLIENT));
        first = false;
    }
}

static bool has_in_side(const tn_idl_def *m)
{
    for (size_t i = 0; i < m->nparams; i++) {
        if (m->params[i]->dir & TN_DIR_IN)
            return true;
    }
    return false;
}

static bool oneway(const tn_idl_def *m)
{
    return m->flags & 1u;
}

const char *tn_idl_value_type(tn_idl_gen *g, const tn_idl_decl *d, tn_idl_side side)
{
    if (d->optional)
        return tn_idl_pointer_to(g, tn_idl_ctype(g, &d->type, side));
    if (d->array == TN_A_VAR)
        return tn_idl_seq_type(g, &d->type);
    return tn_idl_ctype(g, &d->type, side);
}

const char *tn_idl_stub_sig(tn_idl_gen *g, const tn_idl_def *m, tn_idl_stub kind)
{
    tn_idl_buf b = {0};
    const char *p = g->prefix, *n = m->name;
    tn_idl_decl r;
    switch (kind) {
    case TN_STUB_SYNC:
        tn_idl_buf_printf(
            g->ctx, &b, "tern_err %s_%s(tern_rpc_client *client, const tern_rpc_opts *opts", p, n);
        add_params(g, &b, m, ALL, false);
        break;
    case TN_STUB_ASYNC:
        if (oneway(m))
            return NULL;
        tn_idl_buf_printf(g->ctx, &b,
                          "tern_err %s_%s_async(tern_rpc_client *client, const tern_rpc_opts *opts",
                          p, n);
        add_params(g, &b, m, IN_SIDE, false);
        tn_idl_buf_puts(g->ctx, &b, ", tern_rpc_future **future");
        break;
    case TN_STUB_FINISH:
        if (oneway(m))
            return NULL;
        tn_idl_buf_printf(g->ctx, &b, "tern_err %s_%s_finish(tern_rpc_future *future", p, n);
        add_params(g, &b, m, OUT_SIDE, false);
        break;
    case TN_STUB_MULTI:
        tn_idl_buf_printf(g->ctx, &b,
                          "tern_err %s_%s_multi(tern_rpc_group *group, const tern_rpc_opts *opts, "
                          "int mode, size_t quorum",
                          p, n);
        add_params(g, &b, m, IN_SIDE, false);
        tn_idl_buf_puts(g->ctx, &b, ", tern_rpc_multi **multi");
        break;
    case TN_STUB_MULTI_REPLY:
        if (oneway(m))
            return NULL;
        tn_idl_buf_printf(g->ctx, &b,
                          "tern_err %s_%s_multi_reply(const tern_rpc_multi *multi, size_t member",
                          p, n);
        add_params(g, &b, m, OUT_SIDE, false);
        break;
    case TN_STUB_SCATTER:
        if (tn_idl_scatter_param(m) == NULL)
            return NULL;
        tn_idl_buf_printf(g->ctx, &b,
                          "tern_err %s_%s_scatter(tern_rpc_group *group, const tern_rpc_opts *opts",
                          p, n);
        add_params(g, &b, m, IN_SIDE, false);
        if (tn_idl_reduced(m, &r))
            tn_idl_buf_printf(g->ctx, &b, ", int reduce, %s_%s_reducer reducer", p, n);
        add_params(g, &b, m, OUT_SIDE, false);
        break;
    case TN_STUB_FREE:
        if (!tn_idl_method_frees(m))
            return NULL;
        tn_idl_buf_printf(g->ctx, &b, "void %s_%s_free(", p, n);
        add_params(g, &b, m, FREED, true);
        break;
    }
    tn_idl_buf_puts(g->ctx, &b, ")");
    return b.p;
}

/* ---- argument lists ----------------------------------------------------------------- */

/* The in-side arguments for put_M_args. inout_ptr: the stub holds [in, out]
 * scalars as pointers (the sync stub) rather than values. slice: the name
 * standing for the scatter parameter, or NULL. */
static const char *in_args(tn_idl_gen *g, const tn_idl_def *m, bool inout_ptr, const char *slice)
{
    tn_idl_buf b = {0};
    for (size_t i = 0; i < m->nparams; i++) {
        const tn_idl_param *p = m->params[i];
        if (!(p->dir & TN_DIR_IN))
            continue;
        const char *a = p->decl.name;
        if (p->scatter && slice != NULL)
            a = slice;
        else if (inout_ptr && p->dir == (TN_DIR_IN | TN_DIR_OUT) &&
                 tn_idl_shape_of(&p->decl) == TN_S_SCALAR)
            a = tn_idl_sprintf(g->ctx, "*%s", a);
        tn_idl_buf_printf(g->ctx, &b, ", %s", a);
    }
    return b.p != NULL ? b.p : "";
}

/* The out-side arguments, as the caller passed them, or as addresses of
 * the members of a struct called holder. */
static const char *out_args(tn_idl_gen *g, const tn_idl_def *m, const char *holder, bool freed)
{
    tn_idl_buf b = {0};
    for (size_t i = 0; i <= m->nparams; i++) {
        tn_idl_decl r;
        const tn_idl_decl *d;
        bool inout = false;
        if (i < m->nparams) {
            if (!(m->params[i]->dir & TN_DIR_OUT))
                continue;
            d = &m->params[i]->decl;
            inout = m->params[i]->dir & TN_DIR_IN;
        } else if (tn_idl_has_result(m)) {
            r = tn_idl_result(m);
            d = &r;
        } else {
            break;
        }
        if (freed && (inout || !tn_idl_decl_heap(d)))
            continue;
        const char *name = i < m->nparams ? d->name : "ret";
        if (holder != NULL)
            tn_idl_buf_printf(g->ctx, &b, "%s%s%s.%s", b.len > 0 ? ", " : "",
                              tn_idl_shape_of(d) == TN_S_ARRAY ? "" : "&", holder, name);
        else
            tn_idl_buf_printf(g->ctx, &b, "%s%s", b.len > 0 ? ", " : "", name);
    }
    return b.p != NULL ? b.p : "";
}

/* ---- per method ------------------------------------------------------------------------ */

typedef struct stubs {
    tn_idl_gen *g;
    tn_idl_cfile *cf;
    tn_idl_buf *out;
    const tn_idl_def *m;
    const char *num; /* Calc_METHOD_add */
} stubs;

static tn_idl_emit at(stubs *s, int indent)
{
    return (tn_idl_emit){s->cf, s->out, indent, "xdr"};
}

static void put_args(stubs *s)
{
    tn_idl_gen *g = s->g;
    const tn_idl_def *m = s->m;
    tn_idl_emit top = at(s, 0), e = at(s, 1);
    tn_idl_buf sig = {0};
    tn_idl_buf_printf(g->ctx, &sig, "static tern_err put_%s_args(tern_xdr_enc *xdr", m->name);
    add_params(g, &sig, m, IN_SIDE, false);
    tn_idl_buf_puts(g->ctx, &sig, ")");
    tn_idl_line(&top, "%s", sig.p);
    tn_idl_line(&top, "{");
    for (size_t i = 0; i < m->nparams; i++) {
        const tn_idl_param *p = m->params[i];
        if (p->dir & TN_DIR_IN)
            tn_idl_emit_put(&e, &p->decl,
                            tn_idl_param_val(&p->decl, p->decl.name, TN_ROLE_IN, TN_CLIENT));
    }
    tn_idl_line(&e, "return xdr->err;");
    tn_idl_line(&top, "}\n");
}

static const tn_idl_text_helper reply_end = {
    .name = "reply_end",
    .sig = "static tern_err reply_end(tern_xdr_dec *xdr)",
    .comment = "A reply that does not decode, or has bytes left over, broke the protocol.",
    .body =
        (const char *const[]){
            "tern_err err = xdr->err != TERN_OK ? xdr->err : tern_xdr_dec_end(xdr);",
            "return err == TERN_OK || err == TERN_ENOMEM ? err : TERN_EPROTO;",
            NULL,
        },
};

static void get_reply(stubs *s)
{
    tn_idl_gen *g = s->g;
    const tn_idl_def *m = s->m;
    tn_idl_emit top = at(s, 0), e = at(s, 1), in = at(s, 2);
    tn_idl_buf sig = {0};
    tn_idl_buf_printf(g->ctx, &sig, "static tern_err get_%s_reply(tern_xdr_dec *xdr", m->name);
    add_params(g, &sig, m, OUT_SIDE, false);
    tn_idl_buf_puts(g->ctx, &sig, ")");
    tn_idl_line(&top, "%s", sig.p);
    tn_idl_line(&top, "{");

    bool inout = false, heap_inout = false;
    for (size_t i = 0; i < m->nparams; i++) {
        const tn_idl_param *p = m->params[i];
        if (p->dir == (TN_DIR_IN | TN_DIR_OUT)) {
            inout = true;
            heap_inout |= tn_idl_decl_heap(&p->decl);
        }
    }
    if (inout) {
        tn_idl_line(&e, "/* [in, out] values come back here first: the caller's memory is only");
        tn_idl_line(&e, " * written once all of the reply decoded and every one of them fits. */");
        tn_idl_line(&e, "struct {");
        for (size_t i = 0; i < m->nparams; i++) {
            const tn_idl_param *p = m->params[i];
            if (p->dir == (TN_DIR_IN | TN_DIR_OUT))
                tn_idl_line(&in, "%s;", tn_idl_cdecl(g, &p->decl, p->decl.name, TN_CLIENT));
        }
        tn_idl_line(&e, "} back;");
        tn_idl_line(&e, "memset(&back, 0, sizeof back);");
    }
    /* The reply holds the result, then the out-parameters in order. */
    if (tn_idl_has_result(m)) {
        tn_idl_decl r = tn_idl_result(m);
        tn_idl_emit_get(&e, &r, tn_idl_param_val(&r, "ret", TN_ROLE_OUT, TN_CLIENT), false);
    }
    for (size_t i = 0; i < m->nparams; i++) {
        const tn_idl_param *p = m->params[i];
        if (p->dir == TN_DIR_OUT)
            tn_idl_emit_get(&e, &p->decl,
                            tn_idl_param_val(&p->decl, p->decl.name, TN_ROLE_OUT, TN_CLIENT),
                            false);
        else if (p->dir & TN_DIR_OUT)
            tn_idl_emit_get(&e, &p->decl,
                            tn_idl_lv(tn_idl_sprintf(g->ctx, "back.%s", p->decl.name)), true);
    }
    if (!inout && !tn_idl_method_frees(m)) {
        tn_idl_line(&e, "return %s(xdr);", tn_idl_h_text(s->cf, &reply_end));
        tn_idl_line(&top, "}\n");
        return;
    }
    tn_idl_line(&e, "tern_err err = %s(xdr);", tn_idl_h_text(s->cf, &reply_end));

    if (heap_inout) {
        tn_idl_buf fits = {0};
        for (size_t i = 0; i < m->nparams; i++) {
            const tn_idl_param *p = m->params[i];
            if (p->dir != (TN_DIR_IN | TN_DIR_OUT) || !tn_idl_decl_heap(&p->decl))
                continue;
            tn_idl_buf_printf(
                g->ctx, &fits, "%s%s", fits.len > 0 ? " ||\n" : "",
                tn_idl_sprintf(
                    g->ctx, "!%s",
                    tn_idl_restore_expr(
                        s->cf, &p->decl,
                        tn_idl_param_val(&p->decl, p->decl.name, TN_ROLE_INOUT, TN_CLIENT),
                        tn_idl_lv(tn_idl_sprintf(g->ctx, "back.%s", p->decl.name)), "false")));
        }
        /* One condition per line, lined up under the first. */
        tn_idl_buf cond = {0};
        for (const char *q = fits.p; *q != '\0'; q++) {
            tn_idl_buf_add(g->ctx, &cond, q, 1);
            if (*q == '\n')
                tn_idl_buf_printf(g->ctx, &cond, "%*s", e.indent * 4 + 23, ""); /* under "(!" */
        }
        bool several = strchr(cond.p, '\n') != NULL;
        tn_idl_line(&e, several ? "if (err == TERN_OK && (%s))" : "if (err == TERN_OK && %s)",
                    cond.p);
        tn_idl_line(&e, "    err = TERN_EPROTO; /* came back longer than it went out */");
    }
    if (inout) {
        size_t ninout = 0;
        for (size_t i = 0; i < m->nparams; i++)
            ninout += m->params[i]->dir == (TN_DIR_IN | TN_DIR_OUT);
        tn_idl_line(&e, ninout > 1 ? "if (err == TERN_OK) {" : "if (err == TERN_OK)");
        for (size_t i = 0; i < m->nparams; i++) {
            const tn_idl_param *p = m->params[i];
            if (p->dir != (TN_DIR_IN | TN_DIR_OUT))
                continue;
            tn_idl_val dst = tn_idl_param_val(&p->decl, p->decl.name, TN_ROLE_INOUT, TN_CLIENT);
            tn_idl_val src = tn_idl_lv(tn_idl_sprintf(g->ctx, "back.%s", p->decl.name));
            if (tn_idl_decl_heap(&p->decl))
                tn_idl_line(&in, "%s;", tn_idl_restore_expr(s->cf, &p->decl, dst, src, "true"));
            else
                tn_idl_emit_assign(&in, &p->decl, dst, src);
        }
        if (ninout > 1)
            tn_idl_line(&e, "}");
        for (size_t i = 0; i < m->nparams; i++) {
            const tn_idl_param *p = m->params[i];
            if (p->dir == (TN_DIR_IN | TN_DIR_OUT))
                tn_idl_emit_free(&e, &p->decl,
                                 tn_idl_lv(tn_idl_sprintf(g->ctx, "back.%s", p->decl.name)));
        }
    }
    if (tn_idl_method_frees(m)) {
        tn_idl_line(&e, "if (err != TERN_OK)");
        tn_idl_line(&in, "%s_%s_free(%s);", g->prefix, m->name, out_args(g, m, NULL, true));
    }
    tn_idl_line(&e, "return err;");
    tn_idl_line(&top, "}\n");
}

/* The opening lines of a stub that encodes the arguments into args. */
static void start_args(stubs *s, const tn_idl_emit *e, bool inout_ptr)
{
    if (has_in_side(s->m)) {
        tn_idl_line(e, "tern_xdr_enc_init(&args, buf, sizeof buf);");
        tn_idl_line(e, "tern_err err = put_%s_args(&args%s);", s->m->name,
                    in_args(s->g, s->m, inout_ptr, NULL));
    } else {
        tn_idl_line(e, "tern_xdr_enc_init(&args, NULL, 0);");
        tn_idl_line(e, "tern_err err = TERN_OK;");
    }
}

static void declare_args(stubs *s, const tn_idl_emit *e)
{
    if (has_in_side(s->m))
        tn_idl_line(e, "uint8_t buf[%d];", ARGS_BUF);
    tn_idl_line(e, "tern_xdr_enc args;");
}

static void sync_stub(stubs *s)
{
    tn_idl_emit top = at(s, 0), e = at(s, 1);
    const tn_idl_def *m = s->m;
    tn_idl_line(&top, "%s", tn_idl_stub_sig(s->g, m, TN_STUB_SYNC));
    tn_idl_line(&top, "{");
    declare_args(s, &e);
    if (!oneway(m))
        tn_idl_line(&e, "tern_xdr_dec reply;");
    tn_idl_line(&e, "tern_rpc_future *future = NULL;\n");
    start_args(s, &e, true);
    tn_idl_line(&e, "if (err == TERN_OK)");
    if (oneway(m)) {
        tn_idl_line(&e, "    err = tern_rpc_start(client, %s, opts, &args, &future);", s->num);
    } else {
        tn_idl_line(&e, "    err = tern_rpc_invoke(client, %s, opts, &args, &future, &reply);",
                    s->num);
        tn_idl_line(&e, "if (err == TERN_OK)");
        tn_idl_line(&e, "    err = get_%s_reply(&reply%s%s);", m->name,
                    *out_args(s->g, m, NULL, false) ? ", " : "", out_args(s->g, m, NULL, false));
        tn_idl_line(&e, "tern_rpc_future_free(future);");
    }
    tn_idl_line(&e, "tern_xdr_enc_free(&args);");
    tn_idl_line(&e, "return err;");
    tn_idl_line(&top, "}\n");
}

static void async_stubs(stubs *s)
{
    tn_idl_emit top = at(s, 0), e = at(s, 1);
    const tn_idl_def *m = s->m;
    const char *outs = out_args(s->g, m, NULL, false);
    tn_idl_line(&top, "%s", tn_idl_stub_sig(s->g, m, TN_STUB_ASYNC));
    tn_idl_line(&top, "{");
    declare_args(s, &e);
    tn_idl_blank(&e);
    tn_idl_line(&e, "*future = NULL;");
    start_args(s, &e, false);
    tn_idl_line(&e, "if (err == TERN_OK)");
    tn_idl_line(&e, "    err = tern_rpc_start(client, %s, opts, &args, future);", s->num);
    tn_idl_line(&e, "tern_xdr_enc_free(&args);");
    tn_idl_line(&e, "return err;");
    tn_idl_line(&top, "}\n");

    tn_idl_line(&top, "%s", tn_idl_stub_sig(s->g, m, TN_STUB_FINISH));
    tn_idl_line(&top, "{");
    tn_idl_line(&e, "tern_xdr_dec reply;");
    tn_idl_line(&e, "tern_err err = tern_rpc_future_wait(future, -1);");
    tn_idl_line(&e, "if (err == TERN_OK)");
    tn_idl_line(&e, "    err = tern_rpc_future_reply(future, &reply);");
    tn_idl_line(&e, "if (err == TERN_OK)");
    tn_idl_line(&e, "    err = get_%s_reply(&reply%s%s);", m->name, *outs ? ", " : "", outs);
    tn_idl_line(&e, "tern_rpc_future_free(future);");
    tn_idl_line(&e, "return err;");
    tn_idl_line(&top, "}\n");
}

static void multi_stubs(stubs *s)
{
    tn_idl_emit top = at(s, 0), e = at(s, 1);
    const tn_idl_def *m = s->m;
    tn_idl_line(&top, "%s", tn_idl_stub_sig(s->g, m, TN_STUB_MULTI));
    tn_idl_line(&top, "{");
    declare_args(s, &e);
    tn_idl_line(&e, "const tern_xdr_enc *shared = &args; /* one encoding for every member */\n");
    tn_idl_line(&e, "*multi = NULL;");
    start_args(s, &e, false);
    tn_idl_line(&e, "if (err == TERN_OK)");
    tn_idl_line(&e,
                "    err = tern_rpc_multicall(group, %s, opts, mode, quorum, &shared, 1, multi);",
                s->num);
    tn_idl_line(&e, "tern_xdr_enc_free(&args);");
    tn_idl_line(&e, "return err;");
    tn_idl_line(&top, "}\n");
    if (oneway(m))
        return;

    const char *outs = out_args(s->g, m, NULL, false);
    tn_idl_line(&top, "%s", tn_idl_stub_sig(s->g, m, TN_STUB_MULTI_REPLY));
    tn_idl_line(&top, "{");
    tn_idl_line(&e, "tern_xdr_dec reply;");
    tn_idl_line(&e, "tern_err err = tern_rpc_multi_status(multi, member);");
    tn_idl_line(&e, "if (err == TERN_OK)");
    tn_idl_line(&e, "    err = tern_rpc_multi_reply(multi, member, &reply);");
    tn_idl_line(&e, "if (err == TERN_OK)");
    tn_idl_line(&e, "    err = get_%s_reply(&reply%s%s);", m->name, *outs ? ", " : "", outs);
    tn_idl_line(&e, "return err;");
    tn_idl_line(&top, "}\n");
}

/* ---- scatter-gather ---------------------------------------------------------------------- */

static const char *h_slice(tn_idl_cfile *cf, const tn_idl_decl *d)
{
    tn_idl_gen *g = cf->g;
    const tn_idl_decl *r = tn_idl_resolve(d);
    const char *st = tn_idl_seq_type(g, &r->type);
    const char *name = tn_idl_sprintf(g->ctx, "slice_%s", st);
    const char *sig =
        tn_idl_sprintf(g->ctx, "static %s %s(const %s *v, size_t n, size_t i)", st, name, st);
    tn_idl_emit b;
    if (!tn_idl_helper_begin(cf, name, sig,
                             "Member i's share of v split across n members: contiguous and as "
                             "even as can be; the\n * first len % n members get one more, members "
                             "past the elements get none. The\n * slice points into v.",
                             &b))
        return name;
    tn_idl_line(&b, "size_t each = v->len / n, extra = v->len %% n;");
    tn_idl_line(&b, "%s s = {(uint32_t)(each + (i < extra ? 1 : 0)), NULL};", st);
    tn_idl_line(&b, "if (s.len > 0)");
    tn_idl_line(&b, "    s.val = v->val + i * each + (i < extra ? i : extra);");
    tn_idl_line(&b, "return s;");
    tn_idl_helper_end(cf, name, &b);
    return name;
}

/* merge_M: the members' replies into the caller's out-values, in member order. */
static void merge(stubs *s, bool reduced, const tn_idl_decl *red)
{
    tn_idl_gen *g = s->g;
    const tn_idl_def *m = s->m;
    tn_idl_emit top = at(s, 0), e = at(s, 1), in = at(s, 2), in2 = at(s, 3);
    tn_idl_buf sig = {0};
    tn_idl_buf_printf(g->ctx, &sig,
                      "static tern_err merge_%s(const tern_rpc_multi *multi, size_t nparts",
                      m->name);
    if (reduced)
        tn_idl_buf_printf(g->ctx, &sig, "%s, %s_%s_reducer reducer",
                          tn_idl_is_numeric(red) ? ", int reduce" : "", g->prefix, m->name);
    add_params(g, &sig, m, OUT_SIDE, false);
    tn_idl_buf_puts(g->ctx, &sig, ")");
    tn_idl_line(&top, "/* The members' replies, in member order: %s. */",
                reduced ? tn_idl_sprintf(g->ctx, "arrays concatenated, %s reduced", red->name)
                        : "arrays concatenated");
    tn_idl_line(&top, "%s", sig.p);
    tn_idl_line(&top, "{");

    /* The out-values: [out] parameters, then the result. */
    const tn_idl_decl **outs = tn_idl_alloc(g->ctx, (m->nparams + 1) * sizeof *outs);
    tn_idl_decl r = tn_idl_result(m);
    size_t nouts = 0;
    for (size_t i = 0; i < m->nparams; i++) {
        if (m->params[i]->dir == TN_DIR_OUT)
            outs[nouts++] = &m->params[i]->decl;
    }
    if (tn_idl_has_result(m))
        outs[nouts++] = &r;

    tn_idl_line(&e, "for (size_t i = 0; i < nparts; i++) {");
    if (nouts > 0) {
        tn_idl_line(&in, "struct {");
        for (size_t i = 0; i < nouts; i++)
            tn_idl_line(&in2, "%s;", tn_idl_cdecl(g, outs[i], outs[i]->name, TN_CLIENT));
        tn_idl_line(&in, "} part;");
    }
    tn_idl_line(&in, "tern_xdr_dec reply;");
    tn_idl_line(&in, "tern_err err = tern_rpc_multi_reply(multi, i, &reply);");
    tn_idl_line(&in, "if (err == TERN_OK)");
    tn_idl_line(&in, "    err = get_%s_reply(&reply%s%s);", m->name, nouts > 0 ? ", " : "",
                out_args(g, m, "part", false));
    bool frees = tn_idl_method_frees(m);
    if (frees) {
        tn_idl_line(&in, "if (err != TERN_OK && i > 0)");
        tn_idl_line(&in, "    %s_%s_free(%s);", g->prefix, m->name, out_args(g, m, NULL, true));
    }
    tn_idl_line(&in, "if (err != TERN_OK)");
    tn_idl_line(&in, "    return err;");
    if (nouts == 0) {
        tn_idl_line(&e, "}");
        tn_idl_line(&e, "return TERN_OK;");
        tn_idl_line(&top, "}\n");
        return;
    }
    tn_idl_line(&in, "if (i == 0) {");
    for (size_t i = 0; i < nouts; i++)
        tn_idl_emit_assign(&in2, outs[i],
                           tn_idl_param_val(outs[i], outs[i]->name, TN_ROLE_OUT, TN_CLIENT),
                           tn_idl_lv(tn_idl_sprintf(g->ctx, "part.%s", outs[i]->name)));
    tn_idl_line(&in2, "continue;");
    tn_idl_line(&in, "}");
    /* Each append takes its part whatever happens; after a failure the parts
     * still to go are freed instead. */
    bool first_append = true;
    for (size_t i = 0; i < nouts; i++) {
        const tn_idl_decl *d = outs[i];
        tn_idl_shape sh = tn_idl_shape_of(d);
        if (sh != TN_S_SEQ && sh != TN_S_BYTES)
            continue;
        const char *append = tn_idl_h_append(s->cf, d);
        if (first_append) {
            tn_idl_line(&in, "err = %s(%s, &part.%s);", append, d->name, d->name);
            first_append = false;
            continue;
        }
        tn_idl_line(&in, "if (err == TERN_OK)");
        tn_idl_line(&in, "    err = %s(%s, &part.%s);", append, d->name, d->name);
        tn_idl_line(&in, "else");
        tn_idl_emit_free(&in2, d, tn_idl_lv(tn_idl_sprintf(g->ctx, "part.%s", d->name)));
    }
    if (reduced) {
        tn_idl_val acc = tn_idl_param_val(red, red->name, TN_ROLE_OUT, TN_CLIENT);
        const char *part = tn_idl_sprintf(g->ctx, "&part.%s", red->name);
        if (tn_idl_is_numeric(red)) {
            tn_idl_line(&in, "if (reduce == TERN_RPC_REDUCE_FN)");
            tn_idl_line(&in, "    reducer(%s, %s);", tn_idl_addr(g, acc), part);
            tn_idl_line(&in, "else");
            tn_idl_line(&in, "    %s(%s, %s, reduce);",
                        tn_idl_h_reduce(s->cf, tn_idl_scalar_kind(red)), tn_idl_addr(g, acc), part);
        } else {
            tn_idl_line(&in, "reducer(%s, %s);", tn_idl_addr(g, acc), part);
            tn_idl_emit_free(&in, red, tn_idl_lv(tn_idl_sprintf(g->ctx, "part.%s", red->name)));
        }
    }
    bool appends = false;
    for (size_t i = 0; i < nouts; i++) {
        tn_idl_shape sh = tn_idl_shape_of(outs[i]);
        appends |= sh == TN_S_SEQ || sh == TN_S_BYTES;
    }
    if (appends) {
        tn_idl_line(&in, "if (err != TERN_OK) {");
        if (frees)
            tn_idl_line(&in2, "%s_%s_free(%s);", g->prefix, m->name, out_args(g, m, NULL, true));
        tn_idl_line(&in2, "return err;");
        tn_idl_line(&in, "}");
    }
    tn_idl_line(&e, "}");
    tn_idl_line(&e, "return TERN_OK;");
    tn_idl_line(&top, "}\n");
}

static void scatter_stub(stubs *s)
{
    tn_idl_gen *g = s->g;
    const tn_idl_def *m = s->m;
    const tn_idl_param *sp = tn_idl_scatter_param(m);
    tn_idl_decl red;
    bool reduced = tn_idl_reduced(m, &red);
    merge(s, reduced, &red);

    tn_idl_emit top = at(s, 0), e = at(s, 1), in = at(s, 2);
    tn_idl_line(&top, "%s", tn_idl_stub_sig(g, m, TN_STUB_SCATTER));
    tn_idl_line(&top, "{");
    tn_idl_line(&e, "size_t nparts = tern_rpc_group_size(group);");
    if (!reduced) {
        tn_idl_line(&e, "if (nparts == 0)");
    } else if (tn_idl_is_numeric(&red)) {
        tn_idl_line(
            &e, "/* A reducer that does not fit is refused: sum, min and max, or a function. */");
        tn_idl_line(&e,
                    "if (nparts == 0 || (reduce == TERN_RPC_REDUCE_FN) != (reducer != NULL) ||");
        tn_idl_line(&e, "    reduce < TERN_RPC_REDUCE_SUM || reduce > TERN_RPC_REDUCE_FN)");
    } else {
        tn_idl_line(&e, "/* Only a function can reduce a %s. */", tn_idl_type_name(&red.type));
        tn_idl_line(&e, "if (nparts == 0 || reduce != TERN_RPC_REDUCE_FN || reducer == NULL)");
    }
    tn_idl_line(&e, "    return TERN_EINVAL;");
    tn_idl_line(&e, "tern_xdr_enc *args = calloc(nparts, sizeof *args);");
    tn_idl_line(&e, "const tern_xdr_enc **parts = calloc(nparts, sizeof *parts);");
    tn_idl_line(&e, "tern_rpc_multi *multi = NULL;");
    tn_idl_line(&e, "tern_err err = args != NULL && parts != NULL ? TERN_OK : TERN_ENOMEM;");
    tn_idl_line(&e, "for (size_t i = 0; i < nparts && err == TERN_OK; i++) {");
    tn_idl_line(&in, "%s slice = %s(%s, nparts, i);",
                tn_idl_seq_type(g, &tn_idl_resolve(&sp->decl)->type), h_slice(s->cf, &sp->decl),
                sp->decl.name);
    tn_idl_line(&in, "tern_xdr_enc_init(&args[i], NULL, 0);");
    tn_idl_line(&in, "parts[i] = &args[i];");
    tn_idl_line(&in, "err = put_%s_args(&args[i]%s);", m->name, in_args(g, m, false, "&slice"));
    tn_idl_line(&e, "}");
    tn_idl_line(&e, "if (err == TERN_OK)");
    tn_idl_line(
        &e,
        "    err = tern_rpc_multicall(group, %s, opts, TERN_RPC_ALL, 0, parts, nparts, &multi);",
        s->num);
    tn_idl_line(&e, "/* Every member must have succeeded: the first that did not says why. */");
    tn_idl_line(&e, "for (size_t i = 0; i < nparts && err == TERN_OK; i++)");
    tn_idl_line(&e, "    err = tern_rpc_multi_status(multi, i);");
    const char *outs = out_args(g, m, NULL, false);
    tn_idl_line(&e, "if (err == TERN_OK)");
    const char *how = !reduced ? "" : tn_idl_is_numeric(&red) ? ", reduce, reducer" : ", reducer";
    tn_idl_line(&e, "    err = merge_%s(multi, nparts%s%s%s);", m->name, how, *outs ? ", " : "",
                outs);
    tn_idl_line(&e, "if (multi != NULL)");
    tn_idl_line(&e, "    tern_rpc_multi_free(multi);");
    tn_idl_line(&e, "for (size_t i = 0; args != NULL && i < nparts; i++)");
    tn_idl_line(&e, "    tern_xdr_enc_free(&args[i]);");
    tn_idl_line(&e, "free(parts);");
    tn_idl_line(&e, "free(args);");
    tn_idl_line(&e, "return err;");
    tn_idl_line(&top, "}\n");
}

static void free_stub(stubs *s)
{
    tn_idl_gen *g = s->g;
    const tn_idl_def *m = s->m;
    tn_idl_emit top = at(s, 0), e = at(s, 1);
    tn_idl_line(&top, "%s", tn_idl_stub_sig(g, m, TN_STUB_FREE));
    tn_idl_line(&top, "{");
    for (size_t i = 0; i <= m->nparams; i++) {
        tn_idl_decl r;
        const tn_idl_decl *d;
        if (i < m->nparams) {
            if (m->params[i]->dir != TN_DIR_OUT)
                continue;
            d = &m->params[i]->decl;
        } else if (tn_idl_has_result(m)) {
            r = tn_idl_result(m);
            d = &r;
        } else {
            break;
        }
        tn_idl_emit_free(&e, d, tn_idl_param_val(d, d->name, TN_ROLE_OUT, TN_CLIENT));
    }
    tn_idl_line(&top, "}\n");
}

void tn_idl_gen_client(tn_idl_gen *g, tn_idl_buf *out)
{
    tn_idl_cfile cf = {.g = g};
    tn_idl_buf text = {0};
    const tn_idl_iface *iface = g->iface;
    for (size_t i = 0; i < iface->ndefs; i++) {
        const tn_idl_def *m = iface->defs[i];
        if (m->kind != TN_D_METHOD)
            continue;
        stubs s = {g, &cf, &text, m, tn_idl_sprintf(g->ctx, "%s_METHOD_%s", g->prefix, m->name)};
        tn_idl_buf_printf(g->ctx, &text, "/* ---- %s */\n\n", tn_idl_idl_method(g, m));
        if (has_in_side(m))
            put_args(&s);
        if (!oneway(m))
            get_reply(&s);
        sync_stub(&s);
        if (!oneway(m))
            async_stubs(&s);
        multi_stubs(&s);
        if (tn_idl_scatter_param(m) != NULL)
            scatter_stub(&s);
        if (tn_idl_method_frees(m))
            free_stub(&s);
    }
    tn_idl_cfile_finish(&cf, out,
                        tn_idl_sprintf(g->ctx,
                                       "The client stubs of interface %s (declared in %s.h): "
                                       "they encode the\nin-parameters, call through the tern RPC "
                                       "runtime and decode the reply.",
                                       iface->name, g->file->base),
                        &text);
}
