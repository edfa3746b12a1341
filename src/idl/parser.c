/* The .tidl parser: recursive descent over the grammar in docs/idl.md.
 *
 * Each list item (definition, field, enumerator, union case, parameter)
 * that fails to parse reports one error and skips to where the next item
 * can start, so one run shows every independent mistake. */
#include "parser.h"

#include <string.h>

#include "lexer.h"

typedef struct parser {
    tn_idl_ctx *ctx;
    tn_idl_lexer lx;
    tn_idl_tok tok;
    tn_idl_file *file;
    tn_idl_iface *iface; /* the one being parsed */
} parser;

static bool same_place(const tn_idl_loc *a, const tn_idl_loc *b)
{
    return a->line == b->line && a->col == b->col;
}

static void advance(parser *p)
{
    tn_idl_lex_next(&p->lx, &p->tok);
}

static bool at_eof(const parser *p)
{
    return p->tok.kind == TN_TOK_EOF;
}

static bool is_punct(const parser *p, char c)
{
    return p->tok.kind == TN_TOK_PUNCT && p->tok.punct == c;
}

static bool is_word(const parser *p, const char *word)
{
    return p->tok.kind == TN_TOK_NAME && strcmp(p->tok.text, word) == 0;
}

static void expected(parser *p, const char *what)
{
    if (at_eof(p))
        tn_idl_error(p->ctx, &p->tok.loc, "expected %s, found end of file", what);
    else
        tn_idl_error(p->ctx, &p->tok.loc, "expected %s, found '%s'", what, p->tok.text);
}

static bool accept(parser *p, char c)
{
    if (!is_punct(p, c))
        return false;
    advance(p);
    return true;
}

static bool expect(parser *p, char c)
{
    if (accept(p, c))
        return true;
    char what[4] = {'\'', c, '\'', '\0'};
    expected(p, what);
    return false;
}

static bool expect_name(parser *p, const char **name, tn_idl_loc *loc)
{
    if (p->tok.kind != TN_TOK_NAME || tn_idl_is_keyword(p->tok.text)) {
        expected(p, "a name");
        return false;
    }
    *name = p->tok.text;
    *loc = p->tok.loc;
    advance(p);
    return true;
}

/* Words that start a definition: recovery stops in front of them, so a
 * missing '}' or ';' costs one error, not the rest of the file. */
static bool at_definition(const parser *p)
{
    static const char *const starts[] = {"const",   "enum",      "struct", "union",
                                         "typedef", "interface", "import"};
    for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++) {
        if (is_word(p, starts[i]))
            return true;
    }
    return false;
}

/* After an error: skips to just past the next ';', or to a '}' or a
 * character of stops (left for the caller), at the depth where it
 * started, or to a definition keyword or the end of the file. */
static void recover(parser *p, const char *stops)
{
    int depth = 0;
    while (!at_eof(p)) {
        if (depth == 0 && at_definition(p))
            return;
        if (p->tok.kind == TN_TOK_PUNCT) {
            char c = p->tok.punct;
            if (depth == 0 && (c == '}' || strchr(stops, c) != NULL))
                return;
            if (depth == 0 && c == ';') {
                advance(p);
                return;
            }
            if (c == '{' || c == '(' || c == '[')
                depth++;
            else if ((c == '}' || c == ')' || c == ']') && depth > 0)
                depth--;
        }
        advance(p);
    }
}

/* ---- expressions and attributes ---------------------------------------- */

/* A constant: a number (maybe negative), a name, true or false. */
static tn_idl_expr *parse_expr(parser *p)
{
    tn_idl_expr *e = tn_idl_alloc(p->ctx, sizeof *e);
    e->loc = p->tok.loc;
    bool neg = accept(p, '-');
    if (p->tok.kind == TN_TOK_NUMBER) {
        e->kind = TN_E_NUMBER;
        e->value.mag = p->tok.number;
        e->value.neg = neg && p->tok.number != 0;
        e->text = neg ? tn_idl_sprintf(p->ctx, "-%s", p->tok.text) : p->tok.text;
        e->resolved = true;
    } else if (!neg && (is_word(p, "true") || is_word(p, "false"))) {
        e->kind = TN_E_BOOL;
        e->value.mag = is_word(p, "true");
        e->text = p->tok.text;
        e->resolved = true;
    } else if (!neg && p->tok.kind == TN_TOK_NAME && !tn_idl_is_keyword(p->tok.text)) {
        e->kind = TN_E_NAME;
        e->text = p->tok.text;
    } else {
        expected(p, neg ? "a number" : "a constant");
        return NULL;
    }
    advance(p);
    return e;
}

static bool parse_attrs(parser *p, tn_idl_attrs *attrs)
{
    advance(p); /* '[' */
    do {
        tn_idl_attr a = {0};
        if (!expect_name(p, &a.name, &a.loc))
            return false;
        if (is_punct(p, '(')) {
            /* The argument is raw text (a UUID, a version), read before
             * the lexer looks past the '('. */
            if (!tn_idl_lex_raw(&p->lx, &a.arg, &a.arg_loc)) {
                tn_idl_error(p->ctx, &p->tok.loc, "expected ')' closing the argument of '%s'",
                             a.name);
                return false;
            }
            advance(p);
            if (!expect(p, ')'))
                return false;
        }
        attrs->v = tn_idl_grow(p->ctx, attrs->v, &attrs->cap, attrs->n, sizeof *attrs->v);
        attrs->v[attrs->n++] = a;
    } while (accept(p, ','));
    return expect(p, ']');
}

/* ---- types and declarators ---------------------------------------------- */

static const struct {
    const char *word;
    tn_idl_tkind kind;
} builtins[] = {
    {"bool", TN_T_BOOL},     {"char", TN_T_CHAR},     {"int8", TN_T_INT8},
    {"int16", TN_T_INT16},   {"int32", TN_T_INT32},   {"int64", TN_T_INT64},
    {"uint8", TN_T_UINT8},   {"uint16", TN_T_UINT16}, {"uint32", TN_T_UINT32},
    {"uint64", TN_T_UINT64}, {"float", TN_T_FLOAT},   {"double", TN_T_DOUBLE},
};

static bool at_builtin(const parser *p)
{
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++) {
        if (is_word(p, builtins[i].word))
            return true;
    }
    return false;
}

/* Whether a type can start here (for telling methods from junk). */
static bool at_type(const parser *p)
{
    return at_builtin(p) || is_word(p, "string") || is_word(p, "opaque") ||
           (p->tok.kind == TN_TOK_NAME && !tn_idl_is_keyword(p->tok.text));
}

/* "<" [expr] ">": a variable bound; *bound stays NULL for "<>". */
static bool parse_var_bound(parser *p, tn_idl_expr **bound)
{
    advance(p); /* '<' */
    if (!is_punct(p, '>')) {
        *bound = parse_expr(p);
        if (*bound == NULL)
            return false;
    }
    return expect(p, '>');
}

static bool parse_type(parser *p, tn_idl_type *t)
{
    memset(t, 0, sizeof *t);
    t->loc = p->tok.loc;
    t->owner = p->iface;
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++) {
        if (is_word(p, builtins[i].word)) {
            t->kind = builtins[i].kind;
            advance(p);
            return true;
        }
    }
    if (is_word(p, "string")) {
        t->kind = TN_T_STRING;
        advance(p);
        t->sized = is_punct(p, '<');
        return !t->sized || parse_var_bound(p, &t->bound);
    }
    if (is_word(p, "opaque")) {
        advance(p);
        /* A bare opaque takes its size from the declarator (see xdr_spelling). */
        t->kind = TN_T_OPAQUE_VAR;
        t->sized = is_punct(p, '<') || is_punct(p, '[');
        if (is_punct(p, '<'))
            return parse_var_bound(p, &t->bound);
        if (accept(p, '[')) {
            t->kind = TN_T_OPAQUE_FIXED;
            t->bound = parse_expr(p);
            return t->bound != NULL && expect(p, ']');
        }
        return true;
    }
    if (p->tok.kind == TN_TOK_NAME && !tn_idl_is_keyword(p->tok.text)) {
        t->kind = TN_T_NAMED;
        t->name = p->tok.text;
        advance(p);
        return true;
    }
    expected(p, "a type");
    return false;
}

/* ["*"] name ["[" expr "]" | "<" [expr] ">"], after its type. */
static bool parse_declarator(parser *p, tn_idl_decl *d)
{
    d->optional = accept(p, '*');
    if (!expect_name(p, &d->name, &d->loc))
        return false;
    if (accept(p, '[')) {
        d->array = TN_A_FIXED;
        d->count = parse_expr(p);
        return d->count != NULL && expect(p, ']');
    }
    if (is_punct(p, '<')) {
        d->array = TN_A_VAR;
        return parse_var_bound(p, &d->count);
    }
    return true;
}

static bool unsized_opaque(parser *p, const tn_idl_type *t)
{
    if (t->kind != TN_T_OPAQUE_VAR || t->sized)
        return false;
    tn_idl_error(p->ctx, &t->loc,
                 "opaque needs a size: opaque[N] or opaque<N>, or name[N] or name<N>");
    return true;
}

/* RFC 4506 spells bounds on the declarator: `opaque id[16]`, `opaque
 * data<N>`, `string name<N>`. A bare string or opaque takes them as its
 * own, so `string name<N>` is one string, not an array of them. */
static bool xdr_spelling(parser *p, tn_idl_decl *d)
{
    tn_idl_type *t = &d->type;
    bool bare = !t->sized && (t->kind == TN_T_OPAQUE_VAR || t->kind == TN_T_STRING);
    if (bare && (d->array == TN_A_VAR || (d->array == TN_A_FIXED && t->kind == TN_T_OPAQUE_VAR))) {
        if (d->array == TN_A_FIXED)
            t->kind = TN_T_OPAQUE_FIXED;
        t->bound = d->count;
        t->sized = true;
        d->array = TN_A_NONE;
        d->count = NULL;
    }
    return !unsized_opaque(p, t);
}

static tn_idl_decl *parse_decl(parser *p)
{
    tn_idl_decl *d = tn_idl_alloc(p->ctx, sizeof *d);
    if (!parse_type(p, &d->type) || !parse_declarator(p, d) || !xdr_spelling(p, d))
        return NULL;
    return d;
}

/* ---- definitions ---------------------------------------------------------- */

static tn_idl_def *new_def(parser *p, tn_idl_iface *iface, tn_idl_dkind kind)
{
    tn_idl_def *d = tn_idl_alloc(p->ctx, sizeof *d);
    d->kind = kind;
    d->iface = iface;
    return d;
}

static void add_def(parser *p, tn_idl_iface *iface, tn_idl_def *d)
{
    iface->defs =
        tn_idl_grow(p->ctx, iface->defs, &iface->defs_cap, iface->ndefs, sizeof *iface->defs);
    iface->defs[iface->ndefs++] = d;
}

/* Whether a struct, union or enum body has another item: 1 yes, 0 at
 * its '}', -1 when it ended some other way (reported). */
static int body_next(parser *p)
{
    if (is_punct(p, '}'))
        return 0;
    if (at_eof(p) || at_definition(p)) {
        expected(p, "'}'");
        return -1;
    }
    return 1;
}

/* After body_next gave end: the '}' and ';' closing the body. */
static bool close_body(parser *p, int end)
{
    if (end < 0)
        return false;
    advance(p);
    return expect(p, ';');
}

static bool parse_const(parser *p, tn_idl_def *d)
{
    advance(p); /* const */
    return parse_type(p, &d->ctype) && expect_name(p, &d->name, &d->loc) && expect(p, '=') &&
           (d->cexpr = parse_expr(p)) != NULL && expect(p, ';');
}

static bool parse_enum(parser *p, tn_idl_def *d)
{
    advance(p); /* enum */
    if (!expect_name(p, &d->name, &d->loc) || !expect(p, '{'))
        return false;
    int more;
    while ((more = body_next(p)) > 0) {
        tn_idl_def *v = new_def(p, d->iface, TN_D_ENUMVAL);
        v->parent = d;
        bool ok = expect_name(p, &v->name, &v->loc);
        if (ok && accept(p, '='))
            ok = (v->vexpr = parse_expr(p)) != NULL;
        if (ok) {
            d->vals = tn_idl_grow(p->ctx, d->vals, &d->vals_cap, d->nvals, sizeof *d->vals);
            d->vals[d->nvals++] = v;
            if (accept(p, ',') || is_punct(p, '}'))
                continue;
            expected(p, "',' or '}'");
        }
        d->incomplete = true;
        recover(p, ",");
        accept(p, ',');
    }
    return close_body(p, more);
}

static bool parse_struct(parser *p, tn_idl_def *d)
{
    advance(p); /* struct */
    if (!expect_name(p, &d->name, &d->loc) || !expect(p, '{'))
        return false;
    int more;
    while ((more = body_next(p)) > 0) {
        tn_idl_decl *f = parse_decl(p);
        if (f != NULL && expect(p, ';')) {
            d->fields =
                tn_idl_grow(p->ctx, d->fields, &d->fields_cap, d->nfields, sizeof *d->fields);
            d->fields[d->nfields++] = f;
        } else {
            d->incomplete = true;
            recover(p, "");
        }
    }
    return close_body(p, more);
}

/* ("case" expr | "default") ":" ... then "void" ";" or a declaration. */
static bool parse_case(parser *p, tn_idl_case *c)
{
    c->loc = p->tok.loc;
    do {
        if (is_word(p, "default")) {
            if (!c->is_default)
                c->default_loc = p->tok.loc;
            c->is_default = true;
            advance(p);
        } else if (is_word(p, "case")) {
            advance(p);
            tn_idl_expr *e = parse_expr(p);
            if (e == NULL)
                return false;
            c->values = tn_idl_grow(p->ctx, c->values, &c->cap, c->nvalues, sizeof *c->values);
            c->values[c->nvalues++] = e;
        } else {
            expected(p, "'case' or 'default'");
            return false;
        }
        if (!expect(p, ':'))
            return false;
    } while (is_word(p, "case") || is_word(p, "default"));
    if (is_word(p, "void")) {
        advance(p);
        return expect(p, ';');
    }
    c->arm = parse_decl(p);
    return c->arm != NULL && expect(p, ';');
}

static bool parse_union(parser *p, tn_idl_def *d)
{
    advance(p); /* union */
    if (!expect_name(p, &d->name, &d->loc))
        return false;
    if (!is_word(p, "switch")) {
        expected(p, "'switch'");
        return false;
    }
    advance(p);
    if (!expect(p, '(') || !parse_type(p, &d->disc.type) ||
        !expect_name(p, &d->disc.name, &d->disc.loc) || !expect(p, ')') || !expect(p, '{'))
        return false;
    int more;
    while ((more = body_next(p)) > 0) {
        tn_idl_case *c = tn_idl_alloc(p->ctx, sizeof *c);
        if (parse_case(p, c)) {
            d->cases = tn_idl_grow(p->ctx, d->cases, &d->cases_cap, d->ncases, sizeof *d->cases);
            d->cases[d->ncases++] = c;
        } else {
            d->incomplete = true;
            recover(p, "");
        }
    }
    return close_body(p, more);
}

static bool parse_typedef(parser *p, tn_idl_def *d)
{
    advance(p); /* typedef */
    if (is_word(p, "context_handle")) {
        d->kind = TN_D_HANDLE;
        advance(p);
        return expect_name(p, &d->name, &d->loc) && expect(p, ';');
    }
    d->kind = TN_D_TYPEDEF;
    if (!parse_type(p, &d->alias.type) || !parse_declarator(p, &d->alias) ||
        !xdr_spelling(p, &d->alias))
        return false;
    d->name = d->alias.name;
    d->loc = d->alias.loc;
    return expect(p, ';');
}

static bool parse_param(parser *p, tn_idl_param *prm)
{
    if (is_punct(p, '[') && !parse_attrs(p, &prm->attrs))
        return false;
    return parse_type(p, &prm->decl.type) && parse_declarator(p, &prm->decl) &&
           xdr_spelling(p, &prm->decl);
}

static bool parse_params(parser *p, tn_idl_def *d)
{
    if (!expect(p, '('))
        return false;
    if (is_word(p, "void"))
        advance(p);
    else if (!is_punct(p, ')')) {
        do {
            tn_idl_param *prm = tn_idl_alloc(p->ctx, sizeof *prm);
            if (!parse_param(p, prm)) {
                d->incomplete = true;
                recover(p, ",);");
                if (is_punct(p, ',') || is_punct(p, ')'))
                    continue;
                return false;
            }
            d->params =
                tn_idl_grow(p->ctx, d->params, &d->params_cap, d->nparams, sizeof *d->params);
            d->params[d->nparams++] = prm;
        } while (accept(p, ','));
    }
    return expect(p, ')');
}

static bool parse_method(parser *p, tn_idl_def *d)
{
    if (is_punct(p, '[') && !parse_attrs(p, &d->attrs))
        return false;
    if (is_word(p, "void")) {
        d->result.kind = TN_T_VOID;
        d->result.loc = p->tok.loc;
        d->result.owner = p->iface;
        advance(p);
    } else if (!parse_type(p, &d->result) || unsized_opaque(p, &d->result)) {
        return false;
    }
    if (is_punct(p, '*')) {
        tn_idl_error(p->ctx, &p->tok.loc,
                     "a result cannot be optional; use an [out] parameter 'T *name'");
        return false;
    }
    return expect_name(p, &d->name, &d->loc) && parse_params(p, d) && expect(p, ';');
}

/* One definition inside an interface; false after reporting an error. */
static bool parse_definition(parser *p, tn_idl_iface *iface)
{
    tn_idl_def *d;
    bool ok;
    if (is_word(p, "const")) {
        d = new_def(p, iface, TN_D_CONST);
        ok = parse_const(p, d);
    } else if (is_word(p, "enum")) {
        d = new_def(p, iface, TN_D_ENUM);
        ok = parse_enum(p, d);
    } else if (is_word(p, "struct")) {
        d = new_def(p, iface, TN_D_STRUCT);
        ok = parse_struct(p, d);
    } else if (is_word(p, "union")) {
        d = new_def(p, iface, TN_D_UNION);
        ok = parse_union(p, d);
    } else if (is_word(p, "typedef")) {
        d = new_def(p, iface, TN_D_TYPEDEF);
        ok = parse_typedef(p, d);
    } else if (is_punct(p, '[') || is_word(p, "void") || at_type(p)) {
        d = new_def(p, iface, TN_D_METHOD);
        ok = parse_method(p, d);
    } else {
        expected(p, "a definition");
        return false;
    }
    /* A definition that got its name is kept even if its body broke, so
     * uses of it elsewhere are not reported as undefined as well. */
    if (d->name != NULL)
        add_def(p, iface, d);
    d->incomplete |= !ok;
    return ok;
}

static void parse_interface(parser *p, tn_idl_attrs *attrs)
{
    tn_idl_iface *iface = tn_idl_alloc(p->ctx, sizeof *iface);
    iface->attrs = *attrs;
    iface->file = p->file;
    p->iface = iface;
    advance(p); /* interface */
    if (!expect_name(p, &iface->name, &iface->loc) || !expect(p, '{')) {
        recover(p, "");
        return;
    }
    if (p->file->iface == NULL)
        p->file->iface = iface;
    else
        tn_idl_error(p->ctx, &iface->loc,
                     "a file holds one interface; put '%s' in a file of its own", iface->name);
    while (!is_punct(p, '}')) {
        if (at_eof(p) || is_word(p, "interface")) {
            expected(p, "'}'");
            return;
        }
        tn_idl_loc before = p->tok.loc;
        if (is_word(p, "import")) {
            tn_idl_error(p->ctx, &p->tok.loc, "imports go before the interface");
            advance(p);
            recover(p, "");
        } else if (!parse_definition(p, iface)) {
            recover(p, "");
        }
        /* Recovery stops in front of words that start definitions: one
         * that could not start one here must still go. */
        if (same_place(&before, &p->tok.loc) && !is_punct(p, '}'))
            advance(p);
    }
    advance(p);
    expect(p, ';');
}

static void parse_import(parser *p)
{
    tn_idl_import imp = {.loc = p->tok.loc};
    advance(p); /* import */
    if (p->tok.kind != TN_TOK_STRING) {
        expected(p, "a file name in quotes");
        recover(p, "");
        return;
    }
    imp.name = p->tok.str;
    imp.loc = p->tok.loc;
    bool broken = p->tok.broken;
    advance(p);
    if (broken) /* reported; the rest of the line went with it */
        return;
    if (!expect(p, ';'))
        recover(p, "");
    tn_idl_file *f = p->file;
    f->imports = tn_idl_grow(p->ctx, f->imports, &f->imports_cap, f->nimports, sizeof *f->imports);
    f->imports[f->nimports++] = imp;
}

void tn_idl_parse(tn_idl_ctx *ctx, tn_idl_file *file)
{
    parser p = {.ctx = ctx, .file = file};
    unsigned errors_before = ctx->nerrors;
    tn_idl_lex_init(&p.lx, ctx, file->path, file->text, file->len);
    advance(&p);
    while (!at_eof(&p)) {
        tn_idl_attrs attrs = {0};
        if (is_word(&p, "import")) {
            parse_import(&p);
            continue;
        }
        if (is_punct(&p, '[') && !parse_attrs(&p, &attrs)) {
            recover(&p, "");
            continue;
        }
        if (is_word(&p, "interface")) {
            parse_interface(&p, &attrs);
            continue;
        }
        expected(&p, attrs.n > 0 ? "'interface'" : "'import' or 'interface'");
        tn_idl_loc before = p.tok.loc;
        recover(&p, "");
        /* Stray closers and words recovery stops at must still go. */
        if (same_place(&before, &p.tok.loc) && !at_eof(&p))
            advance(&p);
    }
    if (file->iface == NULL && ctx->nerrors == errors_before)
        tn_idl_error(ctx, &p.tok.loc, "no interface in this file");
}
