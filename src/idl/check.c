/* Semantic checks, in four passes over each file (its imports first):
 *
 *   1. names: the scope, every type name resolved, constants and enum
 *      values evaluated, bounds and sizes evaluated;
 *   2. the type graph: types that contain themselves by value (an error),
 *      recursive types, which types own memory, minimum wire sizes;
 *   3. the rules of each definition (check_iface.c: methods and parameters);
 *   4. C names the generator will emit, which must not clash. */
#include "check.h"

#include <string.h>

#include "types.h"

/* Fixed sizes (arrays, opaque[N]) are capped so the C types stay sane. */
#define MAX_FIXED (1u << 24)
/* The largest encoding tern_xdr_enc allows by default. */
#define MAX_MESSAGE (64u << 20)

/* ---- scope ---------------------------------------------------------------- */

static tn_idl_def **find_slot(const tn_idl_scope *s, const char *name)
{
    size_t mask = s->cap - 1;
    for (size_t i = tn_idl_hash(name) & mask;; i = (i + 1) & mask) {
        if (s->slots[i] == NULL || strcmp(s->slots[i]->name, name) == 0)
            return &s->slots[i];
    }
}

static tn_idl_def *lookup(const tn_idl_chk *c, const char *name)
{
    return c->scope.cap > 0 ? *find_slot(&c->scope, name) : NULL;
}

/* Adds d; returns the definition that already had its name, if any. */
static tn_idl_def *insert(tn_idl_chk *c, tn_idl_def *d)
{
    tn_idl_scope *s = &c->scope;
    if ((s->n + 1) * 2 > s->cap) {
        tn_idl_scope bigger = {.cap = s->cap ? s->cap * 2 : 64};
        bigger.slots = tn_idl_alloc(c->ctx, bigger.cap * sizeof *bigger.slots);
        for (size_t i = 0; i < s->cap; i++) {
            if (s->slots[i] != NULL)
                *find_slot(&bigger, s->slots[i]->name) = s->slots[i];
        }
        bigger.n = s->n;
        *s = bigger;
    }
    tn_idl_def **slot = find_slot(s, d->name);
    if (*slot != NULL)
        return *slot;
    *slot = d;
    s->n++;
    return NULL;
}

static void declare(tn_idl_chk *c, tn_idl_def *d, const tn_idl_import *via)
{
    tn_idl_def *prev = insert(c, d);
    if (prev == NULL || prev == d)
        return;
    if (via != NULL)
        tn_idl_error(c->ctx, &via->loc, "import '%s' brings '%s', which is already defined",
                     via->name, d->name);
    else
        tn_idl_error(c->ctx, &d->loc, "duplicate name '%s'", d->name);
    tn_idl_note(c->ctx, &prev->loc, "'%s' was first defined here", prev->name);
}

static void declare_iface(tn_idl_chk *c, tn_idl_iface *iface, const tn_idl_import *via)
{
    for (size_t i = 0; i < iface->ndefs; i++) {
        tn_idl_def *d = iface->defs[i];
        if (via != NULL && d->kind == TN_D_METHOD)
            continue; /* another interface's methods are not ours to name */
        declare(c, d, via);
        for (size_t j = 0; j < d->nvals; j++)
            declare(c, d->vals[j], via);
    }
}

static void build_scope(tn_idl_chk *c)
{
    for (size_t i = 0; i < c->file->nimports; i++) {
        const tn_idl_import *imp = &c->file->imports[i];
        bool again = false;
        for (size_t j = 0; j < i; j++)
            again |= c->file->imports[j].file == imp->file;
        if (imp->file != NULL && imp->file->iface != NULL && !again)
            declare_iface(c, imp->file->iface, imp);
    }
    declare_iface(c, c->iface, NULL);
}

/* ---- pass 1: names and constants ------------------------------------------- */

static void resolve_type(tn_idl_chk *c, tn_idl_type *t)
{
    if (t->kind != TN_T_NAMED || t->def != NULL)
        return;
    tn_idl_def *d = lookup(c, t->name);
    if (d == NULL) {
        tn_idl_error(c->ctx, &t->loc, "undefined type '%s'", t->name);
    } else if (d->kind == TN_D_CONST || d->kind == TN_D_ENUMVAL || d->kind == TN_D_METHOD) {
        tn_idl_error(c->ctx, &t->loc, "'%s' is not a type", t->name);
        tn_idl_note(c->ctx, &d->loc, "'%s' is defined here", d->name);
    } else {
        t->def = d;
    }
}

enum { FRESH, BUSY, DONE, FAILED }; /* cstate of constants, enums, enum values */

static bool eval(tn_idl_chk *c, tn_idl_expr *e);

static bool eval_const(tn_idl_chk *c, tn_idl_def *d)
{
    if (d->cexpr == NULL) /* did not parse: reported */
        d->cstate = FAILED;
    if (d->iface->file != c->file || d->cstate == DONE || d->cstate == FAILED)
        return d->cstate == DONE;
    if (d->cstate == BUSY) {
        tn_idl_error(c->ctx, &d->loc, "constant '%s' is defined in terms of itself", d->name);
        return false;
    }
    d->cstate = BUSY;
    bool ok = false;
    if (!tn_idl_is_integer(d->ctype.kind)) {
        tn_idl_error(c->ctx, &d->ctype.loc, "a constant must have an integer type, not '%s'",
                     tn_idl_type_name(&d->ctype));
    } else if (d->cexpr->kind == TN_E_BOOL) {
        tn_idl_error(c->ctx, &d->cexpr->loc, "expected an integer, found '%s'", d->cexpr->text);
    } else if (eval(c, d->cexpr)) {
        ok = tn_idl_value_fits(d->cexpr->value, d->ctype.kind);
        if (!ok)
            tn_idl_error(c->ctx, &d->cexpr->loc, "value %s does not fit in %s",
                         tn_idl_value_str(c->ctx, d->cexpr->value), tn_idl_type_name(&d->ctype));
        d->value = d->cexpr->value;
    }
    d->cstate = ok ? DONE : FAILED;
    return ok;
}

static tn_idl_value successor(tn_idl_value v)
{
    if (!v.neg)
        return (tn_idl_value){false, v.mag + 1};
    return v.mag == 1 ? (tn_idl_value){false, 0} : (tn_idl_value){true, v.mag - 1};
}

static bool same_value(tn_idl_value a, tn_idl_value b)
{
    return a.mag == b.mag && (a.neg == b.neg || a.mag == 0);
}

static void eval_enum(tn_idl_chk *c, tn_idl_def *e)
{
    if (e->cstate != FRESH)
        return;
    e->cstate = BUSY;
    tn_idl_value next = {false, 0};
    bool have_next = true;
    for (size_t i = 0; i < e->nvals; i++) {
        tn_idl_def *v = e->vals[i];
        tn_idl_value value = next;
        bool ok = have_next;
        if (v->vexpr != NULL && v->vexpr->kind == TN_E_BOOL) {
            tn_idl_error(c->ctx, &v->vexpr->loc, "expected an integer, found '%s'", v->vexpr->text);
            ok = false;
        } else if (v->vexpr != NULL) {
            ok = eval(c, v->vexpr);
            value = v->vexpr->value;
        }
        if (ok && !tn_idl_value_fits(value, TN_T_INT32)) {
            tn_idl_error(c->ctx, v->vexpr != NULL ? &v->vexpr->loc : &v->loc,
                         "enum value %s is out of range (int32)", tn_idl_value_str(c->ctx, value));
            ok = false;
        }
        for (size_t j = 0; ok && j < i; j++) {
            tn_idl_def *w = e->vals[j];
            if (w->cstate == DONE && same_value(w->value, value)) {
                tn_idl_error(c->ctx, &v->loc, "'%s' repeats the value %s of '%s'", v->name,
                             tn_idl_value_str(c->ctx, value), w->name);
                ok = false;
            }
        }
        have_next = ok;
        v->value = value;
        v->cstate = ok ? DONE : FAILED;
        if (ok)
            next = successor(value);
    }
    e->cstate = DONE;
}

static bool eval_enumval(tn_idl_chk *c, tn_idl_def *v, const tn_idl_expr *use)
{
    if (v->cstate == FRESH && v->iface->file == c->file && v->parent->cstate == FRESH)
        eval_enum(c, v->parent);
    if (v->cstate == FRESH && v->parent->cstate == BUSY) {
        tn_idl_error(c->ctx, &use->loc, "'%s' is used before it has a value", v->name);
        return false;
    }
    return v->cstate == DONE;
}

static bool eval(tn_idl_chk *c, tn_idl_expr *e)
{
    if (e->resolved)
        return true;
    tn_idl_def *d = lookup(c, e->text);
    bool ok = false;
    if (d == NULL) {
        tn_idl_error(c->ctx, &e->loc, "undefined constant '%s'", e->text);
    } else if (d->kind == TN_D_CONST) {
        ok = eval_const(c, d);
    } else if (d->kind == TN_D_ENUMVAL) {
        ok = eval_enumval(c, d, e);
    } else {
        tn_idl_error(c->ctx, &e->loc, "'%s' is not a constant", e->text);
        tn_idl_note(c->ctx, &d->loc, "'%s' is defined here", d->name);
    }
    if (ok) {
        e->def = d;
        e->value = d->value;
        e->resolved = true;
    }
    return ok;
}

/* A bound ("bound") or fixed size ("size"): a positive constant that fits,
 * or 0 after an error. */
static uint32_t eval_count(tn_idl_chk *c, tn_idl_expr *e, const char *what, uint32_t max)
{
    if (e->kind == TN_E_BOOL) {
        tn_idl_error(c->ctx, &e->loc, "expected an integer, found '%s'", e->text);
        return 0;
    }
    if (!eval(c, e))
        return 0;
    const char *v = tn_idl_value_str(c->ctx, e->value);
    const char *shown = e->kind == TN_E_NAME ? tn_idl_sprintf(c->ctx, "%s (%s)", e->text, v) : v;
    if (e->value.neg || e->value.mag == 0) {
        tn_idl_error(c->ctx, &e->loc, "%s must be a positive constant, not %s", what, shown);
        return 0;
    }
    if (e->value.mag > max) {
        if (max == UINT32_MAX)
            tn_idl_error(c->ctx, &e->loc, "%s %s does not fit in 32 bits", what, shown);
        else
            tn_idl_error(c->ctx, &e->loc, "%s %s is too large (at most %u)", what, shown, max);
        return 0;
    }
    return (uint32_t)e->value.mag;
}

static void resolve_type_counts(tn_idl_chk *c, tn_idl_type *t)
{
    resolve_type(c, t);
    if (t->bound == NULL)
        return;
    if (t->kind == TN_T_OPAQUE_FIXED)
        t->size = eval_count(c, t->bound, "size", MAX_FIXED);
    else
        t->size = eval_count(c, t->bound, "bound", UINT32_MAX);
}

static void resolve_decl(tn_idl_chk *c, tn_idl_decl *d)
{
    resolve_type_counts(c, &d->type);
    if (d->count == NULL)
        return;
    if (d->array == TN_A_FIXED)
        d->n = eval_count(c, d->count, "size", MAX_FIXED);
    else
        d->n = eval_count(c, d->count, "bound", UINT32_MAX);
}

static void resolve_def(tn_idl_chk *c, tn_idl_def *d)
{
    switch (d->kind) {
    case TN_D_CONST:
        eval_const(c, d);
        break;
    case TN_D_ENUM:
        eval_enum(c, d);
        break;
    case TN_D_STRUCT:
        for (size_t i = 0; i < d->nfields; i++)
            resolve_decl(c, d->fields[i]);
        break;
    case TN_D_UNION:
        resolve_type(c, &d->disc.type);
        for (size_t i = 0; i < d->ncases; i++) {
            if (d->cases[i]->arm != NULL)
                resolve_decl(c, d->cases[i]->arm);
        }
        break;
    case TN_D_TYPEDEF:
        resolve_decl(c, &d->alias);
        break;
    case TN_D_METHOD:
        resolve_type_counts(c, &d->result);
        for (size_t i = 0; i < d->nparams; i++)
            resolve_decl(c, &d->params[i]->decl);
        break;
    case TN_D_ENUMVAL:
    case TN_D_HANDLE:
        break;
    }
}

/* ---- pass 2: the type graph ------------------------------------------------- */

static bool is_composite(const tn_idl_def *d)
{
    return d != NULL &&
           (d->kind == TN_D_STRUCT || d->kind == TN_D_UNION || d->kind == TN_D_TYPEDEF);
}

/* The declarations a type is made of. */
static size_t parts_of(tn_idl_def *d, tn_idl_decl **out, size_t cap)
{
    size_t n = 0;
    if (d->kind == TN_D_STRUCT) {
        for (size_t i = 0; i < d->nfields && n < cap; i++)
            out[n++] = d->fields[i];
    } else if (d->kind == TN_D_UNION) {
        for (size_t i = 0; i < d->ncases && n < cap; i++) {
            if (d->cases[i]->arm != NULL)
                out[n++] = d->cases[i]->arm;
        }
    } else if (d->kind == TN_D_TYPEDEF && cap > 0) {
        out[n++] = &d->alias;
    }
    return n;
}

static size_t count_parts(const tn_idl_def *d)
{
    return d->kind == TN_D_STRUCT ? d->nfields : d->kind == TN_D_UNION ? d->ncases : 1;
}

static tn_idl_decl **parts_alloc(tn_idl_chk *c, tn_idl_def *d, size_t *n)
{
    size_t cap = count_parts(d);
    tn_idl_decl **parts = tn_idl_alloc(c->ctx, (cap ? cap : 1) * sizeof *parts);
    *n = parts_of(d, parts, cap);
    return parts;
}

static void report_value_cycle(tn_idl_chk *c, tn_idl_def *start)
{
    tn_idl_buf chain = {0};
    size_t i = c->npath;
    while (i > 0 && c->path[i - 1] != start)
        i--;
    for (i = i > 0 ? i - 1 : 0; i < c->npath; i++)
        tn_idl_buf_printf(c->ctx, &chain, "%s -> ", c->path[i]->name);
    tn_idl_buf_puts(c->ctx, &chain, start->name);
    bool typedefs = true;
    for (i = 0; i < c->npath; i++)
        typedefs &= c->path[i]->kind == TN_D_TYPEDEF;
    if (typedefs)
        tn_idl_error(c->ctx, &start->loc, "typedef '%s' is defined in terms of itself (%s)",
                     start->name, chain.p);
    else
        tn_idl_error(c->ctx, &start->loc,
                     "'%s' contains itself (%s); make the link optional (T *) or a "
                     "variable-length array",
                     start->name, chain.p);
}

static uint32_t sat_add(uint32_t a, uint32_t b)
{
    return a > UINT32_MAX - b ? UINT32_MAX : a + b;
}

/* Depth first over by-value parts: cycles are errors; then the type's
 * heap, minimum size and array-ness from its parts'. */
static void walk_value(tn_idl_chk *c, tn_idl_def *d)
{
    enum { UNSEEN, ON_PATH, WALKED };
    d->state = ON_PATH;
    c->path = tn_idl_grow(c->ctx, c->path, &c->path_cap, c->npath, sizeof *c->path);
    c->path[c->npath++] = d;

    size_t n;
    tn_idl_decl **parts = parts_alloc(c, d, &n);
    for (size_t i = 0; i < n; i++) {
        tn_idl_def *t = tn_idl_named(&parts[i]->type);
        if (!is_composite(t) || t->iface->file != c->file)
            continue;
        /* Links through pointers and arrays are fine, except between
         * typedefs: C cannot declare either of them first. */
        bool link = parts[i]->optional || parts[i]->array == TN_A_VAR;
        if (link && !(d->kind == TN_D_TYPEDEF && t->kind == TN_D_TYPEDEF))
            continue;
        if (t->state == ON_PATH)
            report_value_cycle(c, t);
        else if (t->state == UNSEEN)
            walk_value(c, t);
    }

    uint32_t size = 0;
    bool any_arm = false;
    for (size_t i = 0; i < n; i++) {
        d->heap |= tn_idl_decl_heap(parts[i]);
        uint32_t s = tn_idl_decl_min_size(parts[i]);
        if (d->kind != TN_D_UNION)
            size = sat_add(size, s);
        else if (!any_arm || s < size)
            size = s;
        any_arm = true;
    }
    if (d->kind == TN_D_UNION) {
        bool void_arm = false;
        for (size_t i = 0; i < d->ncases; i++)
            void_arm |= d->cases[i]->arm == NULL;
        size = sat_add(4, void_arm || !any_arm ? 0 : size);
    }
    d->min_size = size;
    if (d->kind == TN_D_TYPEDEF)
        d->is_array =
            d->alias.array == TN_A_FIXED || (d->alias.array == TN_A_NONE && !d->alias.optional &&
                                             tn_idl_type_is_array(&d->alias.type));
    if (size > MAX_MESSAGE)
        tn_idl_error(c->ctx, &d->loc,
                     "'%s' takes at least %u bytes on the wire, more than a message can hold "
                     "(%u)",
                     d->name, size, MAX_MESSAGE);
    c->npath--;
    d->state = WALKED;
}

/* Tarjan's strongly connected components over every link, optional and
 * variable-length ones too: a type in a component with a cycle is
 * recursive, and its coders carry a depth. */
static void walk_links(tn_idl_chk *c, tn_idl_def *d)
{
    d->scc_index = d->scc_low = ++c->scc_counter;
    c->scc_stack =
        tn_idl_grow(c->ctx, c->scc_stack, &c->scc_stack_cap, c->nscc_stack, sizeof *c->scc_stack);
    c->scc_stack[c->nscc_stack++] = d;
    d->scc_on_stack = true;

    size_t n;
    tn_idl_decl **parts = parts_alloc(c, d, &n);
    bool self = false;
    for (size_t i = 0; i < n; i++) {
        tn_idl_def *t = tn_idl_named(&parts[i]->type);
        if (!is_composite(t) || t->iface->file != c->file)
            continue;
        self |= t == d;
        if (t->scc_index == 0) {
            walk_links(c, t);
            if (t->scc_low < d->scc_low)
                d->scc_low = t->scc_low;
        } else if (t->scc_on_stack && t->scc_index < d->scc_low) {
            d->scc_low = t->scc_index;
        }
    }
    if (d->scc_low != d->scc_index)
        return;
    int id = ++c->scc_next;
    size_t top = c->nscc_stack;
    tn_idl_def *w;
    do {
        w = c->scc_stack[--c->nscc_stack];
        w->scc_on_stack = false;
        w->scc = id;
    } while (w != d);
    bool cycle = self || top - c->nscc_stack > 1;
    for (size_t i = c->nscc_stack; i < top; i++)
        c->scc_stack[i]->recursive = cycle;
}

/* ---- pass 3: the rules of each definition ----------------------------------- */

void tn_idl_check_decl(tn_idl_chk *c, const tn_idl_decl *d, tn_idl_place where)
{
    const tn_idl_def *t = tn_idl_named(&d->type);
    if (t != NULL && t->kind == TN_D_HANDLE) {
        if (where != TN_P_PARAM)
            tn_idl_error(c->ctx, &d->type.loc,
                         "context handle '%s' can only be a parameter or a result", t->name);
        else if (d->optional || d->array != TN_A_NONE)
            tn_idl_error(c->ctx, &d->loc, "a context handle cannot be optional or an array");
    }
    if (d->optional && d->array != TN_A_NONE)
        tn_idl_error(c->ctx, &d->loc, "'%s' cannot be both optional and an array; use a typedef",
                     d->name);
    else if (d->array != TN_A_NONE && tn_idl_type_is_array(&d->type))
        tn_idl_error(c->ctx, &d->loc,
                     "'%s' is an array of arrays; wrap the inner array in a struct", d->name);
    else if (d->optional && tn_idl_type_is_array(&d->type))
        tn_idl_error(c->ctx, &d->loc, "'%s' points to an array; wrap the array in a struct",
                     d->name);
    if (where != TN_P_TYPEDEF && tn_idl_is_c_word(d->name))
        tn_idl_error(c->ctx, &d->loc, "'%s' is a C keyword; choose another name", d->name);
}

/* Field and arm names within one struct or union (the discriminant too). */
static void check_member_names(tn_idl_chk *c, const tn_idl_decl **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < i; j++) {
            if (strcmp(v[i]->name, v[j]->name) == 0) {
                tn_idl_error(c->ctx, &v[i]->loc, "duplicate field '%s'", v[i]->name);
                tn_idl_note(c->ctx, &v[j]->loc, "'%s' was first declared here", v[j]->name);
                break;
            }
        }
    }
}

static void check_struct(tn_idl_chk *c, tn_idl_def *s)
{
    if (s->nfields == 0 && !s->incomplete)
        tn_idl_error(c->ctx, &s->loc, "struct '%s' has no fields", s->name);
    for (size_t i = 0; i < s->nfields; i++)
        tn_idl_check_decl(c, s->fields[i], TN_P_FIELD);
    check_member_names(c, (const tn_idl_decl **)s->fields, s->nfields);
}

/* The value of one case label against the discriminant; false after an error. */
static bool case_value(tn_idl_chk *c, const tn_idl_decl *disc, tn_idl_expr *e)
{
    const tn_idl_def *en = tn_idl_named(&disc->type);
    if (en != NULL) {
        if (e->kind == TN_E_NAME && !eval(c, e))
            return false;
        if (e->kind != TN_E_NAME || e->def->kind != TN_D_ENUMVAL || e->def->parent != en) {
            tn_idl_error(c->ctx, &e->loc, "'%s' is not a value of enum '%s'", e->text, en->name);
            return false;
        }
        return true;
    }
    if (disc->type.kind == TN_T_BOOL) {
        if (e->kind != TN_E_BOOL) {
            tn_idl_error(c->ctx, &e->loc, "a case of a bool discriminant must be true or false");
            return false;
        }
        return true;
    }
    if (e->kind == TN_E_BOOL) {
        tn_idl_error(c->ctx, &e->loc, "expected an integer, found '%s'", e->text);
        return false;
    }
    if (!eval(c, e))
        return false;
    if (!tn_idl_value_fits(e->value, disc->type.kind)) {
        tn_idl_error(c->ctx, &e->loc, "case value %s does not fit in %s",
                     tn_idl_value_str(c->ctx, e->value), tn_idl_type_name(&disc->type));
        return false;
    }
    return true;
}

static bool good_discriminant(const tn_idl_decl *disc)
{
    const tn_idl_decl *r = tn_idl_resolve(disc);
    if (r->optional || r->array != TN_A_NONE)
        return false;
    const tn_idl_def *t = tn_idl_named(&r->type);
    if (t != NULL)
        return t->kind == TN_D_ENUM;
    switch (r->type.kind) {
    case TN_T_BOOL:
    case TN_T_CHAR:
    case TN_T_INT8:
    case TN_T_INT16:
    case TN_T_INT32:
    case TN_T_UINT8:
    case TN_T_UINT16:
    case TN_T_UINT32:
        return true;
    default:
        return false;
    }
}

static void check_union(tn_idl_chk *c, tn_idl_def *u)
{
    bool disc_ok = u->disc.type.kind != TN_T_NAMED || u->disc.type.def != NULL;
    if (disc_ok && !good_discriminant(&u->disc)) {
        tn_idl_error(c->ctx, &u->disc.type.loc,
                     "a union discriminant must be an enum, a bool or an integer of at most 32 "
                     "bits");
        disc_ok = false;
    }
    if (tn_idl_is_c_word(u->disc.name))
        tn_idl_error(c->ctx, &u->disc.loc, "'%s' is a C keyword; choose another name",
                     u->disc.name);
    if (u->ncases == 0 && !u->incomplete)
        tn_idl_error(c->ctx, &u->loc, "union '%s' has no cases", u->name);

    const tn_idl_decl *disc = tn_idl_resolve(&u->disc);
    const tn_idl_decl **names = tn_idl_alloc(c->ctx, (u->ncases + 1) * sizeof *names);
    size_t nnames = 0;
    names[nnames++] = &u->disc;
    const tn_idl_expr **seen = NULL;
    size_t nseen = 0, seen_cap = 0;
    const tn_idl_case *first_default = NULL;
    for (size_t i = 0; i < u->ncases; i++) {
        tn_idl_case *k = u->cases[i];
        if (k->is_default && first_default != NULL) {
            tn_idl_error(c->ctx, &k->default_loc, "more than one default");
            tn_idl_note(c->ctx, &first_default->default_loc, "the first default is here");
        } else if (k->is_default) {
            first_default = k;
        }
        for (size_t j = 0; disc_ok && j < k->nvalues; j++) {
            tn_idl_expr *e = k->values[j];
            if (!case_value(c, disc, e))
                continue;
            const tn_idl_expr *dup = NULL;
            for (size_t s = 0; s < nseen && dup == NULL; s++) {
                if (same_value(seen[s]->value, e->value))
                    dup = seen[s];
            }
            if (dup != NULL) {
                tn_idl_error(c->ctx, &e->loc, "duplicate case value '%s'", e->text);
                tn_idl_note(c->ctx, &dup->loc, "first used here");
                continue;
            }
            seen = tn_idl_grow(c->ctx, seen, &seen_cap, nseen, sizeof *seen);
            seen[nseen++] = e;
        }
        if (k->arm != NULL) {
            tn_idl_check_decl(c, k->arm, TN_P_ARM);
            names[nnames++] = k->arm;
        }
    }
    check_member_names(c, names, nnames);
}

static void check_def(tn_idl_chk *c, tn_idl_def *d)
{
    /* Its syntax error was reported; the rest would mostly echo it. */
    if (d->incomplete)
        return;
    switch (d->kind) {
    case TN_D_ENUM:
        if (d->nvals == 0 && !d->incomplete)
            tn_idl_error(c->ctx, &d->loc, "enum '%s' has no values", d->name);
        break;
    case TN_D_STRUCT:
        check_struct(c, d);
        break;
    case TN_D_UNION:
        check_union(c, d);
        break;
    case TN_D_TYPEDEF:
        tn_idl_check_decl(c, &d->alias, TN_P_TYPEDEF);
        break;
    case TN_D_METHOD:
        tn_idl_check_method(c, d);
        break;
    case TN_D_CONST:
    case TN_D_ENUMVAL:
    case TN_D_HANDLE:
        break;
    }
}

/* ---- files ------------------------------------------------------------------- */

static void check_file(tn_idl_ctx *ctx, tn_idl_file *f)
{
    if (f->checked)
        return;
    f->checked = true;
    for (size_t i = 0; i < f->nimports; i++) {
        if (f->imports[i].file != NULL)
            check_file(ctx, f->imports[i].file);
    }
    if (f->iface == NULL)
        return;

    tn_idl_chk c = {.ctx = ctx, .file = f, .iface = f->iface};
    tn_idl_iface *iface = f->iface;
    tn_idl_check_iface_attrs(&c);
    build_scope(&c);
    for (size_t i = 0; i < iface->ndefs; i++)
        resolve_def(&c, iface->defs[i]);
    for (size_t i = 0; i < iface->ndefs; i++) {
        if (is_composite(iface->defs[i]) && iface->defs[i]->state == 0)
            walk_value(&c, iface->defs[i]);
    }
    for (size_t i = 0; i < iface->ndefs; i++) {
        if (is_composite(iface->defs[i]) && iface->defs[i]->scc_index == 0)
            walk_links(&c, iface->defs[i]);
    }
    for (size_t i = 0; i < iface->ndefs; i++)
        check_def(&c, iface->defs[i]);
    tn_idl_check_generated_names(&c);
}

/* Interfaces name the C identifiers and files name the generated files:
 * both must differ between the files of one build. */
static void check_across_files(tn_idl_ctx *ctx)
{
    for (size_t i = 1; i < ctx->nfiles; i++) {
        const tn_idl_file *f = ctx->files[i];
        for (size_t j = 0; j < i; j++) {
            const tn_idl_file *g = ctx->files[j];
            tn_idl_loc at = f->iface != NULL ? f->iface->loc : (tn_idl_loc){f->path, 0, 0};
            if (strcmp(f->base, g->base) == 0)
                tn_idl_error(ctx, &at, "'%s' and '%s' would both generate '%s.h'; rename one",
                             g->path, f->path, f->base);
            else if (f->iface != NULL && g->iface != NULL &&
                     strcmp(f->iface->name, g->iface->name) == 0)
                tn_idl_error(ctx, &at, "interface name '%s' is already used by '%s'",
                             f->iface->name, g->path);
        }
    }
}

void tn_idl_check(tn_idl_ctx *ctx, tn_idl_file *root)
{
    check_file(ctx, root);
    check_across_files(ctx);
}
