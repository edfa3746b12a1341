/* Source files and imports. */
#include "load.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "parser.h"

/* The files being loaded, innermost last: the chain an import cycle names. */
typedef struct frame {
    const struct frame *up;
    const tn_idl_file *file;
} frame;

static tern_err read_fs(void *arg, const char *path, char **text, size_t *len)
{
    (void)arg;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT || errno == ENOTDIR ? TERN_ENOENT : TERN_ESYSTEM;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return TERN_ESYSTEM;
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *buf = malloc(cap);
    if (buf == NULL) {
        close(fd);
        return TERN_ENOMEM;
    }
    for (;;) {
        if (n == cap) {
            char *bigger = cap < SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
            if (bigger == NULL) {
                free(buf);
                close(fd);
                return TERN_ENOMEM;
            }
            buf = bigger;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r == 0)
            break;
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(buf);
            close(fd);
            return TERN_ESYSTEM;
        }
        n += (size_t)r;
    }
    close(fd);
    *text = buf;
    *len = n;
    return TERN_OK;
}

static const char *read_failure(tern_err err)
{
    switch (err) {
    case TERN_ENOENT:
        return "no such file";
    case TERN_ENOMEM:
        return "out of memory";
    default:
        return "cannot read it";
    }
}

char *tn_idl_path_normalize(tn_idl_ctx *ctx, const char *path)
{
    size_t len = strlen(path);
    const char **parts = tn_idl_alloc(ctx, (len / 2 + 2) * sizeof *parts);
    size_t *lens = tn_idl_alloc(ctx, (len / 2 + 2) * sizeof *lens);
    size_t n = 0;
    bool absolute = path[0] == '/';
    for (const char *p = path; *p != '\0';) {
        while (*p == '/')
            p++;
        const char *start = p;
        while (*p != '\0' && *p != '/')
            p++;
        size_t l = (size_t)(p - start);
        if (l == 0 || (l == 1 && start[0] == '.'))
            continue;
        bool dotdot = l == 2 && start[0] == '.' && start[1] == '.';
        if (dotdot && n > 0 && !(lens[n - 1] == 2 && memcmp(parts[n - 1], "..", 2) == 0)) {
            n--;
            continue;
        }
        if (dotdot && absolute) /* "/.." is "/" */
            continue;
        parts[n] = start;
        lens[n++] = l;
    }
    tn_idl_buf b = {0};
    tn_idl_buf_puts(ctx, &b, absolute ? "/" : "");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            tn_idl_buf_puts(ctx, &b, "/");
        tn_idl_buf_add(ctx, &b, parts[i], lens[i]);
    }
    return b.len > 0 ? b.p : tn_idl_strdup(ctx, ".");
}

/* "calc" for "dir/calc.tidl". */
static const char *base_name(tn_idl_ctx *ctx, const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *name = slash != NULL ? slash + 1 : path;
    const char *dot = strrchr(name, '.');
    return tn_idl_strndup(ctx, name,
                          dot != NULL && dot != name ? (size_t)(dot - name) : strlen(name));
}

static tn_idl_file *find_loaded(tn_idl_ctx *ctx, const char *path)
{
    for (size_t i = 0; i < ctx->nfiles; i++) {
        if (strcmp(ctx->files[i]->path, path) == 0)
            return ctx->files[i];
    }
    return NULL;
}

/* Reads path into a new file; the error if it could not. */
static tern_err read_file(tn_idl_ctx *ctx, const char *path, tn_idl_file **filep)
{
    char *text = NULL;
    size_t len = 0;
    tern_idl_read_fn *read = ctx->read != NULL ? ctx->read : read_fs;
    tern_err err = read(ctx->read_arg, path, &text, &len);
    if (err != TERN_OK)
        return err;
    tn_idl_file *f = tn_idl_alloc(ctx, sizeof *f);
    f->path = path;
    f->base = base_name(ctx, path);
    /* Copied into the arena so the text lives exactly as long as the run. */
    f->text = tn_idl_strndup(ctx, text, len);
    f->len = len;
    free(text);
    ctx->files = tn_idl_grow(ctx, ctx->files, &ctx->files_cap, ctx->nfiles, sizeof *ctx->files);
    ctx->files[ctx->nfiles++] = f;
    *filep = f;
    return TERN_OK;
}

static void load_imports(tn_idl_ctx *ctx, tn_idl_file *f, const frame *up);

static void report_cycle(tn_idl_ctx *ctx, const tn_idl_import *imp, const tn_idl_file *target,
                         const frame *top)
{
    /* The chain from target's frame down to the importing file. */
    size_t depth = 0;
    for (const frame *fr = top; fr != NULL; fr = fr->up) {
        depth++;
        if (fr->file == target)
            break;
    }
    const char **names = tn_idl_alloc(ctx, depth * sizeof *names);
    size_t i = depth;
    for (const frame *fr = top; i > 0; fr = fr->up)
        names[--i] = fr->file->path;
    tn_idl_buf chain = {0};
    for (i = 0; i < depth; i++)
        tn_idl_buf_printf(ctx, &chain, "%s -> ", names[i]);
    tn_idl_buf_puts(ctx, &chain, target->path);
    tn_idl_error(ctx, &imp->loc, "import cycle: %s", chain.p);
}

static void resolve_import(tn_idl_ctx *ctx, tn_idl_file *f, tn_idl_import *imp, const frame *top)
{
    const char *slash = strrchr(f->path, '/');
    size_t ncand = 1 + (imp->name[0] == '/' ? 0 : ctx->nimport_dirs);
    for (size_t i = 0; i < ncand; i++) {
        const char *cand;
        if (imp->name[0] == '/')
            cand = imp->name;
        else if (i == 0)
            cand = slash != NULL
                       ? tn_idl_sprintf(ctx, "%.*s/%s", (int)(slash - f->path), f->path, imp->name)
                       : imp->name;
        else
            cand = tn_idl_sprintf(ctx, "%s/%s", ctx->import_dirs[i - 1], imp->name);
        cand = tn_idl_path_normalize(ctx, cand);

        tn_idl_file *target = find_loaded(ctx, cand);
        if (target != NULL) {
            if (target->state == TN_F_LOADING)
                report_cycle(ctx, imp, target, top);
            else
                imp->file = target;
            return;
        }
        tern_err err = read_file(ctx, cand, &target);
        if (err == TERN_ENOENT)
            continue;
        if (err != TERN_OK) {
            tn_idl_error(ctx, &imp->loc, "cannot read '%s': %s", cand, read_failure(err));
            return;
        }
        load_imports(ctx, target, top);
        imp->file = target;
        return;
    }
    tn_idl_error(ctx, &imp->loc, "cannot find import '%s'", imp->name);
}

/* Parses f, then loads what it imports. */
static void load_imports(tn_idl_ctx *ctx, tn_idl_file *f, const frame *up)
{
    frame here = {up, f};
    f->state = TN_F_LOADING;
    tn_idl_parse(ctx, f);
    for (size_t i = 0; i < f->nimports; i++)
        resolve_import(ctx, f, &f->imports[i], &here);
    f->state = TN_F_LOADED;
}

tn_idl_file *tn_idl_load(tn_idl_ctx *ctx, const char *path)
{
    tn_idl_file *root;
    const char *norm = tn_idl_path_normalize(ctx, path);
    tern_err err = read_file(ctx, norm, &root);
    if (err != TERN_OK) {
        tn_idl_loc loc = {path, 0, 0};
        tn_idl_error(ctx, &loc, "cannot read the file: %s", read_failure(err));
        return NULL;
    }
    load_imports(ctx, root, NULL);
    return root;
}
