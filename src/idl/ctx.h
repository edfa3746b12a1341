/* The compiler's working state for one run: an arena that holds everything
 * the run allocates, growable text buffers, the diagnostics, and where
 * sources come from.
 *
 * Running out of memory anywhere longjmps to the run's entry point, which
 * frees the arena: the phases never check an allocation, and nothing they
 * allocate is freed on its own. */
#ifndef TN_IDL_CTX_H
#define TN_IDL_CTX_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern_idl.h"

/* A place in a source file: 1-based line and column (in bytes). */
typedef struct tn_idl_loc {
    const char *path;
    uint32_t line, col;
} tn_idl_loc;

/* Text that grows; its memory is the arena's. p is always NUL-terminated
 * once anything was added. */
typedef struct tn_idl_buf {
    char *p;
    size_t len, cap;
} tn_idl_buf;

/* After this many errors the rest are counted but not shown. */
#define TN_IDL_MAX_ERRORS 100

struct tn_idl_chunk;
struct tn_idl_file;

typedef struct tn_idl_ctx {
    jmp_buf *oom; /* where running out of memory jumps to */
    struct tn_idl_chunk *chunks;
    tn_idl_buf diags; /* every diagnostic line, in the order found */
    unsigned nerrors;
    bool dropping; /* past TN_IDL_MAX_ERRORS: notes of dropped errors go too */
    tern_idl_read_fn *read;
    void *read_arg;
    const char *const *import_dirs;
    size_t nimport_dirs;
    struct tn_idl_file **files; /* every file loaded, the root first */
    size_t nfiles, files_cap;
} tn_idl_ctx;

/* opts may be NULL; only its source options are used here. */
void tn_idl_ctx_init(tn_idl_ctx *ctx, const tern_idl_opts *opts);
void tn_idl_ctx_fini(tn_idl_ctx *ctx);

/* n zeroed bytes from the arena. */
void *tn_idl_alloc(tn_idl_ctx *ctx, size_t n);
char *tn_idl_strndup(tn_idl_ctx *ctx, const char *s, size_t n);
char *tn_idl_strdup(tn_idl_ctx *ctx, const char *s);
__attribute__((format(printf, 2, 3))) char *tn_idl_sprintf(tn_idl_ctx *ctx, const char *fmt, ...);
/* FNV-1a, for the hash tables of names. */
size_t tn_idl_hash(const char *s);
/* Makes room for item n of an array of size-byte items holding *cap;
 * returns the array, moved if it had to grow. */
void *tn_idl_grow(tn_idl_ctx *ctx, void *items, size_t *cap, size_t n, size_t size);

void tn_idl_buf_add(tn_idl_ctx *ctx, tn_idl_buf *b, const char *s, size_t n);
void tn_idl_buf_puts(tn_idl_ctx *ctx, tn_idl_buf *b, const char *s);
__attribute__((format(printf, 3, 4))) void tn_idl_buf_printf(tn_idl_ctx *ctx, tn_idl_buf *b,
                                                             const char *fmt, ...);
__attribute__((format(printf, 3, 0))) void tn_idl_buf_vprintf(tn_idl_ctx *ctx, tn_idl_buf *b,
                                                              const char *fmt, va_list ap);

/* "path:line:col: error: ..." (loc NULL: none; loc->line 0: "path: error: ...").
 * A note explains the error just reported. */
__attribute__((format(printf, 3, 4))) void tn_idl_error(tn_idl_ctx *ctx, const tn_idl_loc *loc,
                                                        const char *fmt, ...);
__attribute__((format(printf, 3, 4))) void tn_idl_note(tn_idl_ctx *ctx, const tn_idl_loc *loc,
                                                       const char *fmt, ...);

#endif
