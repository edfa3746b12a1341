/* Semantic checks: every name resolved, every constant evaluated and in
 * range, every rule of docs/idl.md enforced, each failure reported with its
 * place. After a clean check the tree is ready for the generator. */
#ifndef TN_IDL_CHECK_H
#define TN_IDL_CHECK_H

#include "ast.h"

/* Checks root and everything it imports (imports first). */
void tn_idl_check(tn_idl_ctx *ctx, tn_idl_file *root);

/* ---- shared by check.c and check_iface.c --------------------------------- */

/* Names visible in one file: its own definitions and those of the files it
 * imports directly. Open addressing; cap is a power of two. */
typedef struct tn_idl_scope {
    tn_idl_def **slots;
    size_t cap, n;
} tn_idl_scope;

typedef struct tn_idl_chk {
    tn_idl_ctx *ctx;
    tn_idl_file *file;
    tn_idl_iface *iface;
    tn_idl_scope scope;
    tn_idl_def **path; /* the type walk's current path, for naming cycles */
    size_t npath, path_cap;
    int scc_counter, scc_next;
    tn_idl_def **scc_stack;
    size_t nscc_stack, scc_stack_cap;
} tn_idl_chk;

/* Where a declaration stands: the rules differ. */
typedef enum tn_idl_place {
    TN_P_FIELD,
    TN_P_ARM,
    TN_P_TYPEDEF,
    TN_P_PARAM,
} tn_idl_place;

/* The structural rules of one declaration (handles, arrays of arrays,
 * optional arrays, C keywords as names). */
void tn_idl_check_decl(tn_idl_chk *c, const tn_idl_decl *d, tn_idl_place where);

/* check_iface.c */
void tn_idl_check_iface_attrs(tn_idl_chk *c);
void tn_idl_check_method(tn_idl_chk *c, tn_idl_def *m);
void tn_idl_check_generated_names(tn_idl_chk *c);

#endif
