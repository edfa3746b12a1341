/* Questions about checked types that the checker and the generator both
 * ask: what a declaration is once typedefs are looked through, whether it
 * owns memory, how few bytes it can take on the wire, and the names that
 * generated code claims. */
#ifndef TN_IDL_TYPES_H
#define TN_IDL_TYPES_H

#include "ast.h"

/* What a declaration's value is, typedefs looked through. */
typedef enum tn_idl_shape {
    TN_S_SCALAR,   /* bool, char, intN, uintN, float, double, enum */
    TN_S_STRING,   /* char * */
    TN_S_HANDLE,   /* context handle */
    TN_S_ARRAY,    /* fixed array or opaque[N]: a C array */
    TN_S_OPTIONAL, /* T *: a pointer, NULL when absent */
    TN_S_BYTES,    /* opaque<N>: { len, val } */
    TN_S_SEQ,      /* T x<N>: { len, val } */
    TN_S_RECORD,   /* struct or union */
} tn_idl_shape;

/* The definition a named type refers to; NULL for built-in types. */
tn_idl_def *tn_idl_named(const tn_idl_type *t);
/* d, or the declaration a plain typedef name in it stands for, repeatedly:
 * for `typedef double Vec<16>; Vec v;` the typedef's `double Vec<16>`. */
const tn_idl_decl *tn_idl_resolve(const tn_idl_decl *d);
tn_idl_shape tn_idl_shape_of(const tn_idl_decl *d);
/* The built-in kind a scalar comes down to (TN_T_INT32 for enums). */
tn_idl_tkind tn_idl_scalar_kind(const tn_idl_decl *d);
/* Whether a scalar has arithmetic (not bool or enum): sum, min, max apply. */
bool tn_idl_is_numeric(const tn_idl_decl *d);
bool tn_idl_is_integer(tn_idl_tkind k);
/* A type alone, as a declaration with no declarator. */
tn_idl_decl tn_idl_plain(const tn_idl_type *t);

bool tn_idl_decl_heap(const tn_idl_decl *d);
bool tn_idl_type_heap(const tn_idl_type *t);
/* Fewest bytes on the wire, saturating at UINT32_MAX. */
uint32_t tn_idl_decl_min_size(const tn_idl_decl *d);
uint32_t tn_idl_type_min_size(const tn_idl_type *t);
/* A C array in disguise: opaque[N], or a typedef of a fixed array. */
bool tn_idl_type_is_array(const tn_idl_type *t);

/* "int32", "string", "Stats" ... as written in IDL. */
const char *tn_idl_type_name(const tn_idl_type *t);
/* "-5", "1024". */
const char *tn_idl_value_str(tn_idl_ctx *ctx, tn_idl_value v);
/* Whether v fits in the built-in integer kind k (bool: 0 or 1). */
bool tn_idl_value_fits(tn_idl_value v, tn_idl_tkind k);

/* The word naming an array element type in a sequence's C name, as the
 * interface self sees it: "double", "string", "bytes", "Stats", or
 * "Geo_Point" for another interface's type. */
const char *tn_idl_seq_elem(tn_idl_ctx *ctx, const tn_idl_iface *self, const tn_idl_type *t);

/* Parameter names the generated functions use for themselves; an IDL
 * parameter may not take them. NULL-terminated. */
extern const char *const tn_idl_reserved_params[];
/* C keywords and macros no field or parameter may be called. */
bool tn_idl_is_c_word(const char *name);

#endif
