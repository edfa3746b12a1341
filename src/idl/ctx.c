/* The run's arena, text buffers and diagnostics. */
#include "ctx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Arena memory comes in chunks of at least this much. */
#define CHUNK_SIZE (64 * 1024)

struct tn_idl_chunk {
    struct tn_idl_chunk *next;
    size_t used, size;
    max_align_t data[];
};

static _Noreturn void out_of_memory(tn_idl_ctx *ctx)
{
    longjmp(*ctx->oom, 1);
}

void tn_idl_ctx_init(tn_idl_ctx *ctx, const tern_idl_opts *opts)
{
    memset(ctx, 0, sizeof *ctx);
    if (opts != NULL) {
        ctx->read = opts->read;
        ctx->read_arg = opts->read_arg;
        ctx->import_dirs = opts->import_dirs;
        ctx->nimport_dirs = opts->nimport_dirs;
    }
}

void tn_idl_ctx_fini(tn_idl_ctx *ctx)
{
    struct tn_idl_chunk *c = ctx->chunks;
    while (c != NULL) {
        struct tn_idl_chunk *next = c->next;
        free(c);
        c = next;
    }
    ctx->chunks = NULL;
}

void *tn_idl_alloc(tn_idl_ctx *ctx, size_t n)
{
    const size_t align = sizeof(max_align_t);
    n = (n + align - 1) / align * align;
    struct tn_idl_chunk *c = ctx->chunks;
    if (c == NULL || c->size - c->used < n) {
        size_t size = n > CHUNK_SIZE ? n : CHUNK_SIZE;
        if (size > SIZE_MAX - sizeof *c)
            out_of_memory(ctx);
        c = malloc(sizeof *c + size);
        if (c == NULL)
            out_of_memory(ctx);
        c->size = size;
        c->used = 0;
        c->next = ctx->chunks;
        ctx->chunks = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

char *tn_idl_strndup(tn_idl_ctx *ctx, const char *s, size_t n)
{
    char *d = tn_idl_alloc(ctx, n + 1);
    memcpy(d, s, n);
    return d;
}

char *tn_idl_strdup(tn_idl_ctx *ctx, const char *s)
{
    return tn_idl_strndup(ctx, s, strlen(s));
}

char *tn_idl_sprintf(tn_idl_ctx *ctx, const char *fmt, ...)
{
    tn_idl_buf b = {0};
    va_list ap;
    va_start(ap, fmt);
    tn_idl_buf_vprintf(ctx, &b, fmt, ap);
    va_end(ap);
    return b.p != NULL ? b.p : tn_idl_strdup(ctx, "");
}

size_t tn_idl_hash(const char *s)
{
    uint64_t h = 14695981039346656037u;
    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return (size_t)h;
}

void *tn_idl_grow(tn_idl_ctx *ctx, void *items, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return items;
    size_t newcap = *cap ? *cap * 2 : 8;
    if (newcap > SIZE_MAX / size)
        out_of_memory(ctx);
    void *bigger = tn_idl_alloc(ctx, newcap * size);
    if (n > 0)
        memcpy(bigger, items, n * size);
    *cap = newcap;
    return bigger;
}

/* Room for n more bytes and the NUL. Old buffers stay in the arena: the
 * doubling wastes at most what the final text takes. */
static void reserve(tn_idl_ctx *ctx, tn_idl_buf *b, size_t n)
{
    if (b->cap - b->len > n)
        return;
    if (n > SIZE_MAX / 2 - b->len)
        out_of_memory(ctx);
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len <= n)
        cap *= 2;
    char *p = tn_idl_alloc(ctx, cap);
    if (b->len > 0)
        memcpy(p, b->p, b->len);
    b->p = p;
    b->cap = cap;
}

void tn_idl_buf_add(tn_idl_ctx *ctx, tn_idl_buf *b, const char *s, size_t n)
{
    reserve(ctx, b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void tn_idl_buf_puts(tn_idl_ctx *ctx, tn_idl_buf *b, const char *s)
{
    tn_idl_buf_add(ctx, b, s, strlen(s));
}

void tn_idl_buf_vprintf(tn_idl_ctx *ctx, tn_idl_buf *b, const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    if (n < 0) /* only an encoding error, which our formats cannot have */
        n = 0;
    reserve(ctx, b, (size_t)n);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, again);
    va_end(again);
    b->len += (size_t)n;
}

void tn_idl_buf_printf(tn_idl_ctx *ctx, tn_idl_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tn_idl_buf_vprintf(ctx, b, fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 4, 0))) static void
diag(tn_idl_ctx *ctx, const tn_idl_loc *loc, const char *kind, const char *fmt, va_list ap)
{
    if (loc != NULL && loc->line > 0)
        tn_idl_buf_printf(ctx, &ctx->diags, "%s:%u:%u: ", loc->path, (unsigned)loc->line,
                          (unsigned)loc->col);
    else if (loc != NULL)
        tn_idl_buf_printf(ctx, &ctx->diags, "%s: ", loc->path);
    tn_idl_buf_printf(ctx, &ctx->diags, "%s: ", kind);
    tn_idl_buf_vprintf(ctx, &ctx->diags, fmt, ap);
    tn_idl_buf_puts(ctx, &ctx->diags, "\n");
}

void tn_idl_error(tn_idl_ctx *ctx, const tn_idl_loc *loc, const char *fmt, ...)
{
    ctx->nerrors++;
    if (ctx->nerrors > TN_IDL_MAX_ERRORS) {
        if (!ctx->dropping)
            tn_idl_buf_printf(ctx, &ctx->diags, "error: too many errors; showing the first %d\n",
                              TN_IDL_MAX_ERRORS);
        ctx->dropping = true;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    diag(ctx, loc, "error", fmt, ap);
    va_end(ap);
}

void tn_idl_note(tn_idl_ctx *ctx, const tn_idl_loc *loc, const char *fmt, ...)
{
    if (ctx->dropping)
        return;
    va_list ap;
    va_start(ap, fmt);
    diag(ctx, loc, "note", fmt, ap);
    va_end(ap);
}
