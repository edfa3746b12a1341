/* Properties of checked types. */
#include "types.h"

#include <string.h>

tn_idl_def *tn_idl_named(const tn_idl_type *t)
{
    return t->kind == TN_T_NAMED ? t->def : NULL;
}

tn_idl_decl tn_idl_plain(const tn_idl_type *t)
{
    tn_idl_decl d = {0};
    d.type = *t;
    return d;
}

/* The checker rejects typedef cycles; the limit only keeps a broken tree
 * from looping while errors are still being found. */
#define MAX_TYPEDEF_DEPTH 64

const tn_idl_decl *tn_idl_resolve(const tn_idl_decl *d)
{
    for (int i = 0; i < MAX_TYPEDEF_DEPTH; i++) {
        const tn_idl_def *def = tn_idl_named(&d->type);
        if (d->optional || d->array != TN_A_NONE || def == NULL || def->kind != TN_D_TYPEDEF)
            return d;
        d = &def->alias;
    }
    return d;
}

tn_idl_shape tn_idl_shape_of(const tn_idl_decl *d)
{
    d = tn_idl_resolve(d);
    if (d->optional)
        return TN_S_OPTIONAL;
    if (d->array == TN_A_FIXED)
        return TN_S_ARRAY;
    if (d->array == TN_A_VAR)
        return TN_S_SEQ;
    switch (d->type.kind) {
    case TN_T_STRING:
        return TN_S_STRING;
    case TN_T_OPAQUE_FIXED:
        return TN_S_ARRAY;
    case TN_T_OPAQUE_VAR:
        return TN_S_BYTES;
    case TN_T_NAMED:
        switch (d->type.def != NULL ? d->type.def->kind : TN_D_STRUCT) {
        case TN_D_ENUM:
            return TN_S_SCALAR;
        case TN_D_HANDLE:
            return TN_S_HANDLE;
        default:
            return TN_S_RECORD;
        }
    default:
        return TN_S_SCALAR;
    }
}

tn_idl_tkind tn_idl_scalar_kind(const tn_idl_decl *d)
{
    d = tn_idl_resolve(d);
    return d->type.kind == TN_T_NAMED ? TN_T_INT32 : d->type.kind;
}

bool tn_idl_is_integer(tn_idl_tkind k)
{
    return k >= TN_T_INT8 && k <= TN_T_UINT64;
}

bool tn_idl_is_numeric(const tn_idl_decl *d)
{
    const tn_idl_decl *r = tn_idl_resolve(d);
    if (tn_idl_shape_of(r) != TN_S_SCALAR || r->type.kind == TN_T_NAMED)
        return false;
    return r->type.kind != TN_T_BOOL;
}

bool tn_idl_type_heap(const tn_idl_type *t)
{
    switch (t->kind) {
    case TN_T_STRING:
    case TN_T_OPAQUE_VAR:
        return true;
    case TN_T_NAMED:
        return t->def != NULL && t->def->heap;
    default:
        return false;
    }
}

bool tn_idl_decl_heap(const tn_idl_decl *d)
{
    return d->optional || d->array == TN_A_VAR || tn_idl_type_heap(&d->type);
}

static uint32_t sat_mul(uint32_t a, uint32_t b)
{
    uint64_t p = (uint64_t)a * b;
    return p > UINT32_MAX ? UINT32_MAX : (uint32_t)p;
}

uint32_t tn_idl_type_min_size(const tn_idl_type *t)
{
    switch (t->kind) {
    case TN_T_VOID:
        return 0;
    case TN_T_INT64:
    case TN_T_UINT64:
    case TN_T_DOUBLE:
        return 8;
    case TN_T_OPAQUE_FIXED:
        return t->size > UINT32_MAX - 3 ? UINT32_MAX : (t->size + 3) / 4 * 4;
    case TN_T_NAMED:
        if (t->def == NULL || t->def->kind == TN_D_ENUM)
            return 4;
        return t->def->kind == TN_D_HANDLE ? 16 : t->def->min_size;
    default:
        return 4;
    }
}

uint32_t tn_idl_decl_min_size(const tn_idl_decl *d)
{
    if (d->optional || d->array == TN_A_VAR)
        return 4;
    uint32_t elem = tn_idl_type_min_size(&d->type);
    return d->array == TN_A_FIXED ? sat_mul(elem, d->n) : elem;
}

bool tn_idl_type_is_array(const tn_idl_type *t)
{
    if (t->kind == TN_T_OPAQUE_FIXED)
        return true;
    const tn_idl_def *def = tn_idl_named(t);
    return def != NULL && def->kind == TN_D_TYPEDEF && def->is_array;
}

static const char *const kind_names[] = {
    [TN_T_VOID] = "void",         [TN_T_BOOL] = "bool",     [TN_T_CHAR] = "char",
    [TN_T_INT8] = "int8",         [TN_T_INT16] = "int16",   [TN_T_INT32] = "int32",
    [TN_T_INT64] = "int64",       [TN_T_UINT8] = "uint8",   [TN_T_UINT16] = "uint16",
    [TN_T_UINT32] = "uint32",     [TN_T_UINT64] = "uint64", [TN_T_FLOAT] = "float",
    [TN_T_DOUBLE] = "double",     [TN_T_STRING] = "string", [TN_T_OPAQUE_FIXED] = "opaque",
    [TN_T_OPAQUE_VAR] = "opaque",
};

const char *tn_idl_type_name(const tn_idl_type *t)
{
    return t->kind == TN_T_NAMED ? t->name : kind_names[t->kind];
}

const char *tn_idl_value_str(tn_idl_ctx *ctx, tn_idl_value v)
{
    return tn_idl_sprintf(ctx, "%s%llu", v.neg ? "-" : "", (unsigned long long)v.mag);
}

bool tn_idl_value_fits(tn_idl_value v, tn_idl_tkind k)
{
    uint64_t pos, neg; /* largest magnitude either side */
    switch (k) {
    case TN_T_BOOL:
        pos = 1, neg = 0;
        break;
    case TN_T_CHAR:
        pos = 255, neg = 128;
        break;
    case TN_T_INT8:
        pos = INT8_MAX, neg = 128;
        break;
    case TN_T_INT16:
        pos = INT16_MAX, neg = 32768;
        break;
    case TN_T_INT32:
        pos = INT32_MAX, neg = 2147483648u;
        break;
    case TN_T_INT64:
        pos = INT64_MAX, neg = (uint64_t)INT64_MAX + 1;
        break;
    case TN_T_UINT8:
        pos = UINT8_MAX, neg = 0;
        break;
    case TN_T_UINT16:
        pos = UINT16_MAX, neg = 0;
        break;
    case TN_T_UINT32:
        pos = UINT32_MAX, neg = 0;
        break;
    case TN_T_UINT64:
        pos = UINT64_MAX, neg = 0;
        break;
    default:
        return false;
    }
    return v.neg ? v.mag <= neg : v.mag <= pos;
}

const char *tn_idl_seq_elem(tn_idl_ctx *ctx, const tn_idl_iface *self, const tn_idl_type *t)
{
    if (t->kind == TN_T_OPAQUE_VAR)
        return "bytes";
    if (t->kind != TN_T_NAMED)
        return kind_names[t->kind];
    if (t->def == NULL || t->def->iface == self)
        return t->name;
    return tn_idl_sprintf(ctx, "%s_%s", t->def->iface->name, t->name);
}

const char *const tn_idl_reserved_params[] = {
    /* the client stubs' own parameters and locals */
    "client", "opts", "future", "group", "multi", "member", "mode", "quorum", "reduce", "reducer",
    "ret", "xdr", "args", "reply", "err", "buf", "shared", "back", "part", "parts", "nparts",
    "slice", "i",
    /* the skeleton's */
    "call", "impl", "in", "out", "handles", "held",
    /* library functions they call */
    "free", "malloc", "calloc", "realloc", "memset", "memcpy", "memcmp", "strlen", NULL};

static const char *const c_words[] = {
    "auto",       "break",     "case",           "char",
    "const",      "continue",  "default",        "do",
    "double",     "else",      "enum",           "extern",
    "float",      "for",       "goto",           "if",
    "inline",     "int",       "long",           "register",
    "restrict",   "return",    "short",          "signed",
    "sizeof",     "static",    "struct",         "switch",
    "typedef",    "union",     "unsigned",       "void",
    "volatile",   "while",     "_Alignas",       "_Alignof",
    "_Atomic",    "_Bool",     "_Complex",       "_Generic",
    "_Imaginary", "_Noreturn", "_Static_assert", "_Thread_local",
    "bool",       "true",      "false",          "NULL",
};

bool tn_idl_is_c_word(const char *name)
{
    for (size_t i = 0; i < sizeof c_words / sizeof c_words[0]; i++) {
        if (strcmp(c_words[i], name) == 0)
            return true;
    }
    return false;
}
