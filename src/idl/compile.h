/* One run of the compiler in memory: load, check, generate. The tests and
 * the fuzz target drive it directly; tern_idl_compile adds the files. */
#ifndef TN_IDL_COMPILE_H
#define TN_IDL_COMPILE_H

#include "gen.h"

/* Compiles path (read through ctx's reader) into out. Returns TERN_OK;
 * TERN_EINVAL when the sources have errors; TERN_ENOENT when path cannot
 * be read; TERN_ENOMEM. Diagnostics are in ctx->diags either way. */
tern_err tn_idl_translate(tn_idl_ctx *ctx, const char *path, tn_idl_output out[TN_IDL_NOUTPUTS]);

#endif
