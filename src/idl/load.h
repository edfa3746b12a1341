/* Reads and parses a .tidl file and, depth first, every file it imports.
 * An import is looked for next to the importing file, then in each import
 * directory in turn; each file is read once however often it is imported,
 * and an import that leads back to a file still being loaded is a cycle. */
#ifndef TN_IDL_LOAD_H
#define TN_IDL_LOAD_H

#include "ast.h"

/* The root file, parsed with its imports (in ctx->files, root first); NULL
 * if it cannot be read (reported). Errors in it are reported as found. */
tn_idl_file *tn_idl_load(tn_idl_ctx *ctx, const char *path);

/* path with "." and ".." components folded away ("a/./b/../c" -> "a/c"). */
char *tn_idl_path_normalize(tn_idl_ctx *ctx, const char *path);

#endif
