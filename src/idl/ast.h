/* The syntax tree of .tidl files, as the parser builds it and the checker
 * completes it (resolved names, constant values, properties of types the
 * generator needs). All of it lives in the run's arena. */
#ifndef TN_IDL_AST_H
#define TN_IDL_AST_H

#include <stdbool.h>
#include <stdint.h>

#include "ctx.h"

/* An integer constant: -mag when neg. Fits int64 or uint64 as checked. */
typedef struct tn_idl_value {
    bool neg;
    uint64_t mag;
} tn_idl_value;

typedef enum tn_idl_expr_kind {
    TN_E_NUMBER, /* 12, 0x1f, -3 */
    TN_E_NAME,   /* a constant or an enum value */
    TN_E_BOOL,   /* true, false (union cases on a bool only) */
} tn_idl_expr_kind;

struct tn_idl_def;

typedef struct tn_idl_expr {
    tn_idl_expr_kind kind;
    tn_idl_loc loc;
    const char *text;       /* as written, for messages */
    tn_idl_value value;     /* NUMBER and BOOL; NAME once resolved */
    struct tn_idl_def *def; /* NAME: the constant or enum value */
    bool resolved;          /* value is known */
} tn_idl_expr;

typedef enum tn_idl_tkind {
    TN_T_VOID, /* method results and union arms only */
    TN_T_BOOL,
    TN_T_CHAR,
    TN_T_INT8,
    TN_T_INT16,
    TN_T_INT32,
    TN_T_INT64,
    TN_T_UINT8,
    TN_T_UINT16,
    TN_T_UINT32,
    TN_T_UINT64,
    TN_T_FLOAT,
    TN_T_DOUBLE,
    TN_T_STRING,       /* string<N>, string */
    TN_T_OPAQUE_FIXED, /* opaque[N] */
    TN_T_OPAQUE_VAR,   /* opaque<N>, opaque<> */
    TN_T_NAMED,        /* a struct, union, enum, typedef or context handle */
} tn_idl_tkind;

typedef struct tn_idl_type {
    tn_idl_tkind kind;
    tn_idl_loc loc;
    const char *name;                 /* NAMED: as written */
    struct tn_idl_def *def;           /* NAMED: resolved */
    tn_idl_expr *bound;               /* STRING, OPAQUE_*: NULL when unbounded */
    bool sized;                       /* string/opaque: a bound followed the keyword */
    const struct tn_idl_iface *owner; /* the interface it was written in: its name
                                         prefixes the C names of opaques and arrays */
    uint32_t size;                    /* the bound's value; 0: unbounded */
} tn_idl_type;

typedef enum tn_idl_array {
    TN_A_NONE,
    TN_A_FIXED, /* x[N] */
    TN_A_VAR,   /* x<N>, x<> */
} tn_idl_array;

/* A type and a declarator: struct fields, union arms, parameters, the
 * target of a typedef. */
typedef struct tn_idl_decl {
    tn_idl_loc loc; /* of the name */
    const char *name;
    tn_idl_type type;
    bool optional; /* T *x */
    tn_idl_array array;
    tn_idl_expr *count; /* array size or bound; NULL for x<> */
    uint32_t n;         /* its value; 0: unbounded */
} tn_idl_decl;

typedef struct tn_idl_attr {
    tn_idl_loc loc;
    const char *name;
    const char *arg; /* the text between the parentheses, trimmed; NULL without */
    tn_idl_loc arg_loc;
} tn_idl_attr;

typedef struct tn_idl_attrs {
    tn_idl_attr *v;
    size_t n, cap;
} tn_idl_attrs;

typedef enum tn_idl_dkind {
    TN_D_CONST,
    TN_D_ENUM,
    TN_D_ENUMVAL,
    TN_D_STRUCT,
    TN_D_UNION,
    TN_D_TYPEDEF,
    TN_D_HANDLE, /* typedef context_handle NAME; */
    TN_D_METHOD,
} tn_idl_dkind;

/* One union arm: its case labels (or default) and the arm (NULL: void). */
typedef struct tn_idl_case {
    tn_idl_loc loc;
    tn_idl_expr **values;
    size_t nvalues, cap;
    bool is_default;
    tn_idl_loc default_loc;
    tn_idl_decl *arm;
} tn_idl_case;

enum {
    TN_DIR_IN = 1 << 0,
    TN_DIR_OUT = 1 << 1,
};

typedef struct tn_idl_param {
    tn_idl_decl decl;
    tn_idl_attrs attrs;
    unsigned dir; /* TN_DIR_*; [in] when no direction is given */
    bool scatter;
} tn_idl_param;

struct tn_idl_iface;

typedef struct tn_idl_def {
    tn_idl_dkind kind;
    tn_idl_loc loc; /* of the name */
    const char *name;
    struct tn_idl_iface *iface; /* whose definition: its name prefixes the C names */
    bool incomplete;            /* part of it did not parse: its own checks would only echo that */

    /* CONST */
    tn_idl_type ctype;
    tn_idl_expr *cexpr;
    int cstate; /* 0 unevaluated, 1 evaluating (a cycle if met again), 2 done */

    /* ENUM: its values. ENUMVAL: its optional expression and its enum. */
    struct tn_idl_def **vals;
    size_t nvals, vals_cap;
    tn_idl_expr *vexpr;
    struct tn_idl_def *parent;

    /* CONST and ENUMVAL */
    tn_idl_value value;

    /* STRUCT */
    tn_idl_decl **fields;
    size_t nfields, fields_cap;

    /* UNION */
    tn_idl_decl disc;
    tn_idl_case **cases;
    size_t ncases, cases_cap;

    /* TYPEDEF */
    tn_idl_decl alias;

    /* METHOD */
    tn_idl_attrs attrs;
    tn_idl_type result; /* VOID for none */
    tn_idl_param **params;
    size_t nparams, params_cap;
    uint32_t flags;  /* TERN_RPC_ONEWAY, TERN_RPC_IDEMPOTENT values */
    uint32_t number; /* position among the methods */

    /* Filled in by the checker for types (STRUCT, UNION, ENUM, TYPEDEF) */
    bool heap;              /* owns malloc'd memory: strings, opaques, arrays, optionals */
    bool recursive;         /* on a cycle through optionals or variable arrays */
    bool is_array;          /* a typedef of a fixed array or opaque[N]: C passes it as an array */
    uint32_t min_size;      /* fewest bytes its XDR encoding takes (saturated) */
    int state;              /* walks over the type graph */
    int scc;                /* strongly connected component: recursive types in one call
                               each other with a depth */
    int scc_index, scc_low; /* Tarjan's bookkeeping */
    bool scc_on_stack;
} tn_idl_def;

typedef struct tn_idl_iface {
    tn_idl_loc loc;
    const char *name;
    tn_idl_attrs attrs;
    struct tn_idl_file *file;
    uint8_t uuid[16];
    uint16_t major, minor;
    tn_idl_def **defs; /* in source order; enum values are inside their enums */
    size_t ndefs, defs_cap;
    uint32_t nmethods;
} tn_idl_iface;

typedef struct tn_idl_import {
    tn_idl_loc loc;
    const char *name; /* as written */
    struct tn_idl_file *file;
} tn_idl_import;

typedef enum tn_idl_fstate {
    TN_F_LOADING, /* its imports are being loaded: meeting it again is a cycle */
    TN_F_LOADED,
} tn_idl_fstate;

typedef struct tn_idl_file {
    const char *path; /* as opened, normalised */
    const char *base; /* "calc" for dir/calc.tidl: the generated files' names */
    const char *text;
    size_t len;
    tn_idl_fstate state;
    bool checked;
    tn_idl_import *imports;
    size_t nimports, imports_cap;
    tn_idl_iface *iface; /* NULL when none was parsed */
} tn_idl_file;

#endif
