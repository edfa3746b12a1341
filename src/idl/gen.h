/* The C generator's shared pieces: C spellings of IDL types, values as C
 * expressions, the coders of one declaration (put, get, free, restore),
 * and the static helper functions a generated .c file asks for.
 *
 * Each generated .c file is a tn_idl_cfile: its body is written first, and
 * every static helper the body (or another helper) asks for is written
 * once, dependencies first, into a section placed in front of the body. */
#ifndef TN_IDL_GEN_H
#define TN_IDL_GEN_H

#include "ast.h"
#include "types.h"

typedef struct tn_idl_gen {
    tn_idl_ctx *ctx;
    const tn_idl_file *file;
    const tn_idl_iface *iface;
    const char *prefix; /* the interface's name */
} tn_idl_gen;

typedef struct tn_idl_helper {
    const char *name;
    const char *sig;     /* "static tern_err put_x(...)" */
    const char *comment; /* why it exists; NULL when its name says it */
    bool done;           /* false while its body is being written */
    bool declared;       /* a prototype was needed (recursion) */
} tn_idl_helper;

typedef struct tn_idl_cfile {
    tn_idl_gen *g;
    tn_idl_buf protos;  /* prototypes of helpers that call each other */
    tn_idl_buf helpers; /* helper definitions */
    tn_idl_helper *v;
    size_t n, cap;
} tn_idl_cfile;

/* Where code goes: a buffer, an indentation and the name of the XDR
 * stream variable in scope ("xdr", or a skeleton's "in" and "out"). */
typedef struct tn_idl_emit {
    tn_idl_cfile *cf;
    tn_idl_buf *out;
    int indent;
    const char *xdr;
} tn_idl_emit;

/* A value in C: an lvalue expression, or a pointer to the value. */
typedef struct tn_idl_val {
    const char *expr;
    bool ptr;
} tn_idl_val;

/* Which side of the wire a C type is for: context handles differ. */
typedef enum tn_idl_side {
    TN_CLIENT,
    TN_SERVER,
} tn_idl_side;

/* ---- C spellings (gen_c.c) -------------------------------------------------- */

/* Calc_Stats: a definition's C name, prefixed with its interface's. */
const char *tn_idl_cname(tn_idl_gen *g, const tn_idl_def *d);
/* The C type of a type without its declarator: "int32_t", "char *",
 * "Calc_bytes", "Calc_Stats"; "uint8_t" for opaque[N] (the size is the
 * declarator's business). */
const char *tn_idl_ctype(tn_idl_gen *g, const tn_idl_type *t, tn_idl_side side);
/* "type name" with the pointer star against the name. */
const char *tn_idl_cvar(tn_idl_gen *g, const char *type, const char *name);
/* A declaration as a C variable or member: "double terms[4]",
 * "Calc_double_seq v", "Calc_Stats *hit", "uint8_t key[16]". */
const char *tn_idl_cdecl(tn_idl_gen *g, const tn_idl_decl *d, const char *name, tn_idl_side side);
/* The variable-length array type of a declaration x<N> (of elem), as the
 * interface that wrote it defines it. */
const char *tn_idl_seq_type(tn_idl_gen *g, const tn_idl_type *elem);
/* A constant in C: the name of a constant or enum value, or the number. */
const char *tn_idl_cexpr(tn_idl_gen *g, const tn_idl_expr *e);
/* The bound of string<N>/opaque<N> ("UINT32_MAX" if none) or size of opaque[N]. */
const char *tn_idl_bound(tn_idl_gen *g, const tn_idl_type *t);
/* The size of x[N] or bound of x<N> ("UINT32_MAX" if none). */
const char *tn_idl_count(tn_idl_gen *g, const tn_idl_decl *d);
/* The IDL text of a declaration or method, for comments. */
const char *tn_idl_idl_decl(tn_idl_gen *g, const tn_idl_decl *d);
const char *tn_idl_idl_method(tn_idl_gen *g, const tn_idl_def *m);
/* text broken after commas to stay within 100 columns, continuation lines
 * lined up after the first '('; indent is where text starts. */
const char *tn_idl_wrap(tn_idl_gen *g, const char *text, int indent);

/* ---- values ------------------------------------------------------------------ */

tn_idl_val tn_idl_lv(const char *expr);               /* an lvalue */
tn_idl_val tn_idl_ptr(const char *expr);              /* a pointer to the value */
const char *tn_idl_v(tn_idl_gen *g, tn_idl_val v);    /* the value */
const char *tn_idl_addr(tn_idl_gen *g, tn_idl_val v); /* its address */
tn_idl_val tn_idl_member(tn_idl_gen *g, tn_idl_val v, const char *name);

/* ---- writing ------------------------------------------------------------------- */

__attribute__((format(printf, 2, 3))) void tn_idl_line(const tn_idl_emit *e, const char *fmt, ...);
void tn_idl_blank(const tn_idl_emit *e);
/* An emitter one level deeper. */
tn_idl_emit tn_idl_deeper(const tn_idl_emit *e);

/* ---- the coders of one declaration (gen_code.c) ------------------------------------ */

/* Statements that append the value of d at v to e->xdr. */
void tn_idl_emit_put(const tn_idl_emit *e, const tn_idl_decl *d, tn_idl_val v);
/* Statements that decode d into v. zeroed: v was already cleared (a record
 * decoder's memset), so strings and opaques need not be. */
void tn_idl_emit_get(const tn_idl_emit *e, const tn_idl_decl *d, tn_idl_val v, bool zeroed);
/* Statements that free what d's value at v owns (nothing if it owns none). */
void tn_idl_emit_free(const tn_idl_emit *e, const tn_idl_decl *d, tn_idl_val v);
/* A bool expression (gen_restore.c): does src fit in dst's memory
 * (copy-restore of [in, out]), copying it there when write is true. Only
 * for d that owns memory; plain values are assigned (tn_idl_emit_assign). */
const char *tn_idl_restore_expr(tn_idl_cfile *cf, const tn_idl_decl *d, tn_idl_val dst,
                                tn_idl_val src, const char *write);
/* dst = src for a value that owns no memory. */
void tn_idl_emit_assign(const tn_idl_emit *e, const tn_idl_decl *d, tn_idl_val dst, tn_idl_val src);

/* ---- helpers (gen_code.c) -------------------------------------------------------------- */

/* Starts the helper called name with signature sig unless the file has it
 * (a helper met again while its body is still being written gets a
 * prototype instead). On true, write its body with *body, then call
 * tn_idl_helper_end. */
bool tn_idl_helper_begin(tn_idl_cfile *cf, const char *name, const char *sig, const char *comment,
                         tn_idl_emit *body);
void tn_idl_helper_end(tn_idl_cfile *cf, const char *name, tn_idl_emit *body);

/* A helper whose text is the same in every file. */
typedef struct tn_idl_text_helper {
    const char *name;
    const char *sig;
    const char *comment;
    const char *const *body;                /* its lines, up to a NULL */
    const struct tn_idl_text_helper *calls; /* one its body calls, defined first; or NULL */
} tn_idl_text_helper;

/* Writes h into the file unless the file has it; returns its name. */
const char *tn_idl_h_text(tn_idl_cfile *cf, const tn_idl_text_helper *h);

/* What helpers for arrays and optionals of t are named after: the C name
 * of a named type or of an opaque, else the IDL one ("double", "string").
 * Unique in a file whichever interface t comes from. */
const char *tn_idl_helper_word(tn_idl_gen *g, const tn_idl_type *t);
/* A typedef of a fixed array: C passes it as the array itself. */
bool tn_idl_is_array_typedef(const tn_idl_type *t);

/* Helpers used beyond gen_code.c; each returns the helper's name. */
const char *tn_idl_h_fail_dec(tn_idl_cfile *cf);
const char *tn_idl_h_fail_enc(tn_idl_cfile *cf);
/* Moves one variable-length array's (or opaque's) elements to the end of
 * another: the scatter merge. */
const char *tn_idl_h_append(tn_idl_cfile *cf, const tn_idl_decl *d);
/* Sum, min or max of two numbers of kind k. */
const char *tn_idl_h_reduce(tn_idl_cfile *cf, tn_idl_tkind k);

/* "const T *" (or "char *const *") and "T *" for type. */
const char *tn_idl_pointer_to_const(tn_idl_gen *g, const char *type);
const char *tn_idl_pointer_to(tn_idl_gen *g, const char *type);

/* ---- stubs (gen_client.c) -------------------------------------------------------------- */

typedef enum tn_idl_stub {
    TN_STUB_SYNC,        /* Calc_M: call and wait */
    TN_STUB_ASYNC,       /* Calc_M_async: start */
    TN_STUB_FINISH,      /* Calc_M_finish: wait for what _async started */
    TN_STUB_MULTI,       /* Calc_M_multi: call a group */
    TN_STUB_MULTI_REPLY, /* Calc_M_multi_reply: one member's reply */
    TN_STUB_SCATTER,     /* Calc_M_scatter: split an array across a group, merge */
    TN_STUB_FREE,        /* Calc_M_free: one call's out-values */
} tn_idl_stub;

/* The prototype of a client function of m (no ';'); NULL when m has none
 * of that kind. */
const char *tn_idl_stub_sig(tn_idl_gen *g, const tn_idl_def *m, tn_idl_stub kind);
/* The C type of the value of d (not an array): "double", "char *",
 * "Calc_Stats *" for Stats *x, "Calc_double_seq" for double x<N>. */
const char *tn_idl_value_type(tn_idl_gen *g, const tn_idl_decl *d, tn_idl_side side);

/* ---- the files ------------------------------------------------------------------------- */

/* One generated file: its name ("calc_xdr.c") and text. */
typedef struct tn_idl_output {
    const char *name;
    tn_idl_buf text;
} tn_idl_output;

enum { TN_IDL_NOUTPUTS = 4 }; /* BASE.h, BASE_xdr.c, BASE_client.c, BASE_server.c */

/* Generates the files of root, which checked without errors. */
void tn_idl_generate(tn_idl_ctx *ctx, const tn_idl_file *root, tn_idl_output out[TN_IDL_NOUTPUTS]);

void tn_idl_gen_header(tn_idl_gen *g, tn_idl_buf *out);
void tn_idl_gen_xdr(tn_idl_gen *g, tn_idl_buf *out);
void tn_idl_gen_client(tn_idl_gen *g, tn_idl_buf *out);
void tn_idl_gen_server(tn_idl_gen *g, tn_idl_buf *out);

/* The top of every generated file: what generated it, from what. */
void tn_idl_gen_banner(tn_idl_gen *g, tn_idl_buf *out, const char *what);
/* A .c file: banner, includes, then the helpers it asked for, then body. */
void tn_idl_cfile_finish(tn_idl_cfile *cf, tn_idl_buf *out, const char *what,
                         const tn_idl_buf *body);

/* Which shapes a method's parameters take in C, and the lists of them
 * that stubs and skeletons are made of (gen_c.c). */
typedef enum tn_idl_role {
    TN_ROLE_IN,    /* an [in] parameter */
    TN_ROLE_OUT,   /* an [out] parameter or the result */
    TN_ROLE_INOUT, /* an [in, out] parameter */
} tn_idl_role;

/* The C parameter for d in its role, on side: "int32_t a",
 * "const Calc_Stats *s", "char **name", "double v[4]" ... */
const char *tn_idl_cparam(tn_idl_gen *g, const tn_idl_decl *d, const char *name, tn_idl_role role,
                          tn_idl_side side);
/* The value behind such a parameter, for the coders. */
tn_idl_val tn_idl_param_val(const tn_idl_decl *d, const char *name, tn_idl_role role,
                            tn_idl_side side);
/* The role of parameter p. */
tn_idl_role tn_idl_role_of(const tn_idl_param *p);
/* The result as a declaration (type "void" if none). */
tn_idl_decl tn_idl_result(const tn_idl_def *m);
bool tn_idl_has_result(const tn_idl_def *m);
/* Whether the method's out-values (out, and the result) own memory, so
 * there is a Calc_M_free. */
bool tn_idl_method_frees(const tn_idl_def *m);
/* Whether a scatter method has an out-value to reduce (all others are
 * arrays, concatenated), and which: *d (the result is named "ret"). */
bool tn_idl_reduced(const tn_idl_def *m, tn_idl_decl *d);
const tn_idl_param *tn_idl_scatter_param(const tn_idl_def *m);

#endif
