/* Semantic checks of the interface itself, its methods and parameters, and
 * the C names the generator will emit. */
#include <ctype.h>
#include <string.h>

#include "check.h"
#include "types.h"

/* ---- attributes -------------------------------------------------------------- */

static const char *const every_attr[] = {"uuid", "version", "oneway", "idempotent",
                                         "in",   "out",     "scatter"};
static const char *const iface_attrs[] = {"uuid", "version", NULL};
static const char *const method_attrs[] = {"oneway", "idempotent", NULL};
static const char *const param_attrs[] = {"in", "out", "scatter", NULL};

static bool in_list(const char *const *list, size_t n, const char *name)
{
    for (size_t i = 0; i < n && list[i] != NULL; i++) {
        if (strcmp(list[i], name) == 0)
            return true;
    }
    return false;
}

/* Reports unknown, misplaced and repeated attributes and arguments where
 * there should be none; what names the place ("a method"). */
static void check_attrs(tn_idl_chk *c, const tn_idl_attrs *attrs, const char *const *allowed,
                        const char *what)
{
    for (size_t i = 0; i < attrs->n; i++) {
        const tn_idl_attr *a = &attrs->v[i];
        if (!in_list(every_attr, sizeof every_attr / sizeof every_attr[0], a->name)) {
            tn_idl_error(c->ctx, &a->loc, "unknown attribute '%s'", a->name);
            continue;
        }
        if (!in_list(allowed, SIZE_MAX, a->name)) {
            tn_idl_error(c->ctx, &a->loc, "attribute '%s' does not apply to %s", a->name, what);
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(attrs->v[j].name, a->name) == 0) {
                tn_idl_error(c->ctx, &a->loc, "duplicate attribute '%s'", a->name);
                break;
            }
        }
        bool wants_arg = strcmp(a->name, "uuid") == 0 || strcmp(a->name, "version") == 0;
        if (a->arg != NULL && !wants_arg)
            tn_idl_error(c->ctx, &a->arg_loc, "attribute '%s' takes no argument", a->name);
    }
}

static const tn_idl_attr *find_attr(const tn_idl_attrs *attrs, const char *name)
{
    for (size_t i = 0; i < attrs->n; i++) {
        if (strcmp(attrs->v[i].name, name) == 0)
            return &attrs->v[i];
    }
    return NULL;
}

static int hex_digit(char ch)
{
    return isdigit((unsigned char)ch) ? ch - '0' : tolower((unsigned char)ch) - 'a' + 10;
}

/* 8-4-4-4-12 hexadecimal digits, bytes in the order written. */
static bool parse_uuid(const char *s, uint8_t out[16])
{
    if (strlen(s) != 36)
        return false;
    size_t k = 0;
    for (size_t i = 0; i < 36;) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i++] != '-')
                return false;
            continue;
        }
        if (!isxdigit((unsigned char)s[i]) || !isxdigit((unsigned char)s[i + 1]))
            return false;
        out[k++] = (uint8_t)(hex_digit(s[i]) << 4 | hex_digit(s[i + 1]));
        i += 2;
    }
    return true;
}

/* One to five digits, at most 65535; moves *s past them. */
static bool parse_u16(const char **s, uint16_t *v)
{
    unsigned n = 0, digits = 0;
    while (isdigit((unsigned char)**s) && digits < 6) {
        n = n * 10 + (unsigned)(**s - '0');
        (*s)++;
        digits++;
    }
    *v = (uint16_t)n;
    return digits > 0 && digits < 6 && n <= UINT16_MAX;
}

/* MAJOR.MINOR, or MAJOR alone (minor 0). */
static bool parse_version(const char *s, uint16_t *major, uint16_t *minor)
{
    *minor = 0;
    if (!parse_u16(&s, major))
        return false;
    if (*s == '.') {
        s++;
        if (!parse_u16(&s, minor))
            return false;
    }
    return *s == '\0';
}

/* Words the generated files start their own static functions with
 * (put_double_array, serve_add ...): an interface called so, or so
 * followed by '_', could have its names collide with them, and a
 * parameter starting so could hide one. */
static const char *const helper_words[] = {
    "put",  "get",  "free",  "restore", "serve",  "dispatch", "store", "load", "reply",
    "args", "find", "merge", "slice",   "reduce", "append",   "fail",  "alloc"};

static bool starts_with_word(const char *name, const char *word)
{
    size_t n = strlen(word);
    return strncmp(name, word, n) == 0 && (name[n] == '\0' || name[n] == '_');
}

void tn_idl_check_iface_attrs(tn_idl_chk *c)
{
    tn_idl_iface *iface = c->iface;
    check_attrs(c, &iface->attrs, iface_attrs, "an interface");
    const tn_idl_attr *uuid = find_attr(&iface->attrs, "uuid");
    const tn_idl_attr *version = find_attr(&iface->attrs, "version");
    if (uuid == NULL)
        tn_idl_error(c->ctx, &iface->loc, "interface '%s' needs a uuid(...) attribute",
                     iface->name);
    else if (uuid->arg == NULL || !parse_uuid(uuid->arg, iface->uuid))
        tn_idl_error(c->ctx, uuid->arg != NULL ? &uuid->arg_loc : &uuid->loc,
                     "bad uuid '%s' (want 8-4-4-4-12 hexadecimal digits)",
                     uuid->arg != NULL ? uuid->arg : "");
    if (version == NULL)
        tn_idl_error(c->ctx, &iface->loc, "interface '%s' needs a version(MAJOR.MINOR) attribute",
                     iface->name);
    else if (version->arg == NULL || !parse_version(version->arg, &iface->major, &iface->minor))
        tn_idl_error(c->ctx, version->arg != NULL ? &version->arg_loc : &version->loc,
                     "bad version '%s' (want MAJOR.MINOR, each 0 to 65535)",
                     version->arg != NULL ? version->arg : "");
    for (size_t i = 0; i < sizeof helper_words / sizeof helper_words[0]; i++) {
        if (starts_with_word(iface->name, helper_words[i]))
            tn_idl_error(c->ctx, &iface->loc,
                         "interface name '%s' is reserved by the generated code", iface->name);
    }
}

/* ---- methods and parameters --------------------------------------------------- */

static bool reserved_param(const tn_idl_chk *c, const char *name)
{
    for (size_t i = 0; tn_idl_reserved_params[i] != NULL; i++) {
        if (strcmp(tn_idl_reserved_params[i], name) == 0)
            return true;
    }
    for (size_t i = 0; i < sizeof helper_words / sizeof helper_words[0]; i++) {
        size_t n = strlen(helper_words[i]);
        if (strncmp(name, helper_words[i], n) == 0 && name[n] == '_')
            return true;
    }
    size_t len = strlen(name), ilen = strlen(c->iface->name);
    return (len >= 2 && strcmp(name + len - 2, "_t") == 0) || strncmp(name, "tern_", 5) == 0 ||
           strncmp(name, "TERN_", 5) == 0 ||
           (strncmp(name, c->iface->name, ilen) == 0 && name[ilen] == '_');
}

static void check_params(tn_idl_chk *c, tn_idl_def *m)
{
    for (size_t i = 0; i < m->nparams; i++) {
        tn_idl_param *p = m->params[i];
        check_attrs(c, &p->attrs, param_attrs, "a parameter");
        p->dir = (find_attr(&p->attrs, "in") ? TN_DIR_IN : 0) |
                 (find_attr(&p->attrs, "out") ? TN_DIR_OUT : 0);
        if (p->dir == 0)
            p->dir = TN_DIR_IN;
        p->scatter = find_attr(&p->attrs, "scatter") != NULL;

        tn_idl_check_decl(c, &p->decl, TN_P_PARAM);
        if (!tn_idl_is_c_word(p->decl.name) && reserved_param(c, p->decl.name))
            tn_idl_error(c->ctx, &p->decl.loc,
                         "parameter name '%s' is reserved by the generated code", p->decl.name);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(m->params[j]->decl.name, p->decl.name) == 0) {
                tn_idl_error(c->ctx, &p->decl.loc, "duplicate parameter '%s'", p->decl.name);
                break;
            }
        }
        if (p->dir == (TN_DIR_IN | TN_DIR_OUT) && p->decl.optional)
            tn_idl_error(c->ctx, &p->decl.loc,
                         "[in, out] parameter '%s' cannot be optional: copy-restore has nowhere "
                         "to put a value that was absent",
                         p->decl.name);
    }
}

static void check_oneway(tn_idl_chk *c, const tn_idl_def *m)
{
    if (m->result.kind != TN_T_VOID)
        tn_idl_error(c->ctx, &m->result.loc, "[oneway] method '%s' must return void", m->name);
    for (size_t i = 0; i < m->nparams; i++) {
        const tn_idl_param *p = m->params[i];
        if (p->dir & TN_DIR_OUT)
            tn_idl_error(c->ctx, &p->decl.loc,
                         "[oneway] method '%s' cannot have [out] parameter '%s'", m->name,
                         p->decl.name);
    }
}

/* A scatter-gather method: one variable-length [in] array split across the
 * group; out-values that are arrays are concatenated, and at most one
 * other is reduced. */
static void check_scatter(tn_idl_chk *c, const tn_idl_def *m)
{
    const tn_idl_param *first = NULL;
    for (size_t i = 0; i < m->nparams; i++) {
        const tn_idl_param *p = m->params[i];
        if (!p->scatter)
            continue;
        if (first != NULL)
            tn_idl_error(c->ctx, &p->decl.loc, "only one [scatter] parameter per method");
        else
            first = p;
        if (p->dir != TN_DIR_IN)
            tn_idl_error(c->ctx, &p->decl.loc, "[scatter] parameter '%s' must be [in] only",
                         p->decl.name);
        else if (tn_idl_shape_of(&p->decl) != TN_S_SEQ)
            tn_idl_error(c->ctx, &p->decl.loc,
                         "[scatter] parameter '%s' must be a variable-length array", p->decl.name);
    }
    if (first == NULL)
        return;
    if (m->flags & 1u)
        tn_idl_error(c->ctx, &m->loc, "[scatter] cannot be used in a [oneway] method");

    const char *reduced = NULL;
    for (size_t i = 0; i <= m->nparams; i++) {
        tn_idl_decl result = tn_idl_plain(&m->result);
        const tn_idl_decl *d;
        const char *name;
        tn_idl_loc loc;
        if (i < m->nparams) {
            const tn_idl_param *p = m->params[i];
            if (p->dir == (TN_DIR_IN | TN_DIR_OUT) && !p->scatter)
                tn_idl_error(c->ctx, &p->decl.loc,
                             "[scatter] method '%s' cannot have [in, out] parameter '%s'", m->name,
                             p->decl.name);
            if (p->dir != TN_DIR_OUT)
                continue;
            d = &p->decl;
            name = tn_idl_sprintf(c->ctx, "'%s'", p->decl.name);
            loc = p->decl.loc;
        } else {
            if (m->result.kind == TN_T_VOID)
                continue;
            d = &result;
            name = "the result";
            loc = m->result.loc;
        }
        tn_idl_shape s = tn_idl_shape_of(d);
        if (s == TN_S_HANDLE) {
            tn_idl_error(c->ctx, &loc, "[scatter] method '%s' cannot return a context handle",
                         m->name);
        } else if (s == TN_S_ARRAY) {
            tn_idl_error(c->ctx, &loc,
                         "[scatter] method '%s' cannot merge %s, a fixed-size array (only "
                         "variable-length ones are concatenated)",
                         m->name, name);
        } else if (s != TN_S_SEQ && s != TN_S_BYTES) {
            if (reduced != NULL)
                tn_idl_error(c->ctx, &loc,
                             "[scatter] method '%s' has more than one out-value to reduce (%s "
                             "and %s)",
                             m->name, reduced, name);
            reduced = name;
        }
    }
}

void tn_idl_check_method(tn_idl_chk *c, tn_idl_def *m)
{
    m->number = c->iface->nmethods++;
    check_attrs(c, &m->attrs, method_attrs, "a method");
    if (find_attr(&m->attrs, "oneway") != NULL)
        m->flags |= 1u; /* TERN_RPC_ONEWAY */
    if (find_attr(&m->attrs, "idempotent") != NULL)
        m->flags |= 2u; /* TERN_RPC_IDEMPOTENT */
    if (m->result.kind != TN_T_VOID) {
        tn_idl_decl result = tn_idl_plain(&m->result);
        result.name = "result";
        tn_idl_check_decl(c, &result, TN_P_PARAM);
    }
    check_params(c, m);
    if (m->flags & 1u)
        check_oneway(c, m);
    check_scatter(c, m);
}

/* ---- generated C names ---------------------------------------------------------- */

/* Who claimed a C name: a definition, or the interface (owner NULL) for
 * the names every interface generates. */
typedef struct claim {
    const char *name;
    const tn_idl_def *owner;
} claim;

typedef struct claims {
    claim *slots; /* open addressing; cap is a power of two */
    size_t n, cap;
    const char *what; /* "C name", "server member" */
} claims;

static claim *find_claim(const claims *set, const char *name)
{
    size_t mask = set->cap - 1;
    for (size_t i = tn_idl_hash(name) & mask;; i = (i + 1) & mask) {
        if (set->slots[i].name == NULL || strcmp(set->slots[i].name, name) == 0)
            return &set->slots[i];
    }
}

static void take(tn_idl_chk *c, claims *set, const char *name, const tn_idl_def *owner)
{
    if ((set->n + 1) * 2 > set->cap) {
        claims bigger = {.cap = set->cap ? set->cap * 2 : 64, .n = set->n, .what = set->what};
        bigger.slots = tn_idl_alloc(c->ctx, bigger.cap * sizeof *bigger.slots);
        for (size_t i = 0; i < set->cap; i++) {
            if (set->slots[i].name != NULL)
                *find_claim(&bigger, set->slots[i].name) = set->slots[i];
        }
        *set = bigger;
    }
    claim *k = find_claim(set, name);
    if (k->name == NULL) {
        *k = (claim){name, owner};
        set->n++;
    } else if (k->owner == NULL && owner != NULL) {
        tn_idl_error(c->ctx, &owner->loc,
                     "the %s '%s' generated for '%s' is already used by the generated code",
                     set->what, name, owner->name);
    } else if (k->owner != owner && owner != NULL && strcmp(k->owner->name, owner->name) != 0) {
        /* (Two definitions of one name were reported as duplicates.) */
        tn_idl_error(c->ctx, &owner->loc, "'%s' and '%s' both generate the %s '%s'", k->owner->name,
                     owner->name, set->what, name);
        tn_idl_note(c->ctx, &k->owner->loc, "'%s' is defined here", k->owner->name);
    }
}

/* A variable-length array type belongs to its element if that is one of
 * ours (the element claims it too), else to the interface. */
static void take_seq(tn_idl_chk *c, claims *set, const tn_idl_decl *d)
{
    if (d->array != TN_A_VAR)
        return;
    const tn_idl_def *elem = tn_idl_named(&d->type);
    take(c, set,
         tn_idl_sprintf(c->ctx, "%s_%s_seq", c->iface->name,
                        tn_idl_seq_elem(c->ctx, c->iface, &d->type)),
         elem != NULL && elem->iface == c->iface ? elem : NULL);
}

static void take_seqs(tn_idl_chk *c, claims *set)
{
    for (size_t i = 0; i < c->iface->ndefs; i++) {
        const tn_idl_def *d = c->iface->defs[i];
        for (size_t j = 0; j < d->nfields; j++)
            take_seq(c, set, d->fields[j]);
        for (size_t j = 0; j < d->ncases; j++) {
            if (d->cases[j]->arm != NULL)
                take_seq(c, set, d->cases[j]->arm);
        }
        for (size_t j = 0; j < d->nparams; j++)
            take_seq(c, set, &d->params[j]->decl);
        if (d->kind == TN_D_TYPEDEF)
            take_seq(c, set, &d->alias);
    }
}

static void take_def(tn_idl_chk *c, claims *set, const tn_idl_def *d)
{
    static const char *const type_suffixes[] = {"", "_enc", "_dec", "_free", "_seq"};
    static const char *const method_suffixes[] = {
        "", "_async", "_finish", "_multi", "_multi_reply", "_scatter", "_free", "_reducer"};
    const char *p = c->iface->name;
    switch (d->kind) {
    case TN_D_STRUCT:
    case TN_D_UNION:
    case TN_D_ENUM:
    case TN_D_TYPEDEF:
        for (size_t i = 0; i < sizeof type_suffixes / sizeof type_suffixes[0]; i++)
            take(c, set, tn_idl_sprintf(c->ctx, "%s_%s%s", p, d->name, type_suffixes[i]), d);
        for (size_t i = 0; i < d->nvals; i++)
            take(c, set, tn_idl_sprintf(c->ctx, "%s_%s", p, d->vals[i]->name), d->vals[i]);
        break;
    case TN_D_CONST:
        take(c, set, tn_idl_sprintf(c->ctx, "%s_%s", p, d->name), d);
        break;
    case TN_D_METHOD:
        for (size_t i = 0; i < sizeof method_suffixes / sizeof method_suffixes[0]; i++)
            take(c, set, tn_idl_sprintf(c->ctx, "%s_%s%s", p, d->name, method_suffixes[i]), d);
        take(c, set, tn_idl_sprintf(c->ctx, "%s_METHOD_%s", p, d->name), d);
        break;
    case TN_D_ENUMVAL:
    case TN_D_HANDLE:
        break;
    }
}

/* The server table's members: one per method, one rundown per context
 * handle type the methods use. */
static void take_server_members(tn_idl_chk *c)
{
    claims members = {.what = "server member"};
    for (size_t i = 0; i < c->iface->ndefs; i++) {
        const tn_idl_def *m = c->iface->defs[i];
        if (m->kind == TN_D_METHOD)
            take(c, &members, m->name, m);
    }
    for (size_t i = 0; i < c->iface->ndefs; i++) {
        const tn_idl_def *m = c->iface->defs[i];
        for (size_t j = 0; m->kind == TN_D_METHOD && j <= m->nparams; j++) {
            const tn_idl_def *h =
                tn_idl_named(j < m->nparams ? &m->params[j]->decl.type : &m->result);
            if (h != NULL && h->kind == TN_D_HANDLE)
                take(c, &members, tn_idl_sprintf(c->ctx, "rundown_%s", h->name), h);
        }
    }
}

/* The generated files name another interface's types after it
 * (put_Geo_Point_array): a name of ours starting so could meet them. */
static void check_import_prefixes(tn_idl_chk *c)
{
    for (size_t i = 0; i < c->file->nimports; i++) {
        const tn_idl_file *f = c->file->imports[i].file;
        bool again = false;
        for (size_t j = 0; j < i; j++)
            again |= c->file->imports[j].file == f;
        if (f == NULL || f->iface == NULL || again)
            continue;
        size_t n = strlen(f->iface->name);
        for (size_t j = 0; j < c->iface->ndefs; j++) {
            const tn_idl_def *d = c->iface->defs[j];
            if (d->kind != TN_D_METHOD && strncmp(d->name, f->iface->name, n) == 0 &&
                d->name[n] == '_')
                tn_idl_error(c->ctx, &d->loc,
                             "'%s' starts with the name of imported interface '%s' and could "
                             "clash with its C names",
                             d->name, f->iface->name);
        }
    }
}

void tn_idl_check_generated_names(tn_idl_chk *c)
{
    check_import_prefixes(c);
    static const char *const fixed[] = {"iface", "server", "serve", "bytes"};
    claims set = {.what = "C name"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        take(c, &set, tn_idl_sprintf(c->ctx, "%s_%s", c->iface->name, fixed[i]), NULL);
    take_seqs(c, &set);
    for (size_t i = 0; i < c->iface->ndefs; i++)
        take_def(c, &set, c->iface->defs[i]);
    take_server_members(c);
}
