/* tern_idl_compile: a run of the compiler, and its files on disk. */
#include "compile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "load.h"

const char *tern_idl_version(void)
{
    return TERN_IDL_VERSION;
}

/* The work of tn_idl_translate, apart from its setjmp: no local of the
 * function that calls setjmp may change before a longjmp. */
static tern_err run(tn_idl_ctx *ctx, const char *path, tn_idl_output out[TN_IDL_NOUTPUTS])
{
    tn_idl_file *root = tn_idl_load(ctx, path);
    if (root == NULL)
        return TERN_ENOENT;
    tn_idl_check(ctx, root);
    if (ctx->nerrors > 0)
        return TERN_EINVAL;
    tn_idl_generate(ctx, root, out);
    return TERN_OK;
}

tern_err tn_idl_translate(tn_idl_ctx *ctx, const char *path, tn_idl_output out[TN_IDL_NOUTPUTS])
{
    jmp_buf env;
    jmp_buf *outer = ctx->oom;
    ctx->oom = &env;
    if (setjmp(env) != 0) {
        ctx->oom = outer;
        return TERN_ENOMEM;
    }
    tern_err err = run(ctx, path, out);
    ctx->oom = outer;
    return err;
}

/* ---- files -------------------------------------------------------------------- */

/* dir/name into buf; false if it does not fit. */
static bool join(char *buf, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(buf, cap, "%s/%s", dir, name);
    return n > 0 && (size_t)n < cap;
}

/* Creates dir and its parents as needed. */
static int make_dirs(const char *dir)
{
    char path[4096];
    size_t len = strlen(dir);
    if (len == 0 || len >= sizeof path)
        return len == 0 ? 0 : (errno = ENAMETOOLONG, -1);
    memcpy(path, dir, len + 1);
    for (char *p = path + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(path, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

/* Writes text to path through a temporary file renamed over it, so a build
 * never sees half a file. */
static int write_file(const char *path, const char *text, size_t len)
{
    char tmp[4096 + 8];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return errno = ENAMETOOLONG, -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0)
        return -1;
    for (size_t done = 0; done < len;) {
        ssize_t n = write(fd, text + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int saved = errno;
            close(fd);
            unlink(tmp);
            return errno = saved, -1;
        }
        done += (size_t)n;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        int saved = errno;
        unlink(tmp);
        return errno = saved, -1;
    }
    return 0;
}

/* A path in a make rule: spaces and dollars escaped as make wants them. */
static void put_escaped(tn_idl_ctx *ctx, tn_idl_buf *b, const char *p)
{
    for (; *p != '\0'; p++) {
        if (*p == ' ')
            tn_idl_buf_puts(ctx, b, "\\ ");
        else if (*p == '$')
            tn_idl_buf_puts(ctx, b, "$$");
        else
            tn_idl_buf_add(ctx, b, p, 1);
    }
}

/* A make rule: every output depends on every source read. */
static void depfile_text(tn_idl_ctx *ctx, tn_idl_buf *b, char paths[][4096], size_t npaths)
{
    for (size_t i = 0; i < npaths; i++) {
        tn_idl_buf_puts(ctx, b, i > 0 ? " " : "");
        put_escaped(ctx, b, paths[i]);
    }
    tn_idl_buf_puts(ctx, b, ":");
    for (size_t i = 0; i < ctx->nfiles; i++) {
        tn_idl_buf_puts(ctx, b, " ");
        put_escaped(ctx, b, ctx->files[i]->path);
    }
    tn_idl_buf_puts(ctx, b, "\n");
}

static tern_err write_outputs(tn_idl_ctx *ctx, const tern_idl_opts *opts,
                              const tn_idl_output out[TN_IDL_NOUTPUTS], FILE *diag)
{
    const char *dir = opts != NULL && opts->out_dir != NULL ? opts->out_dir : ".";
    char paths[TN_IDL_NOUTPUTS][4096];
    if (make_dirs(dir) != 0) {
        fprintf(diag, "%s: error: cannot create the directory: %s\n", dir, strerror(errno));
        return TERN_ESYSTEM;
    }
    for (int i = 0; i < TN_IDL_NOUTPUTS; i++) {
        if (!join(paths[i], sizeof paths[i], dir, out[i].name)) {
            fprintf(diag, "%s: error: the path is too long\n", out[i].name);
            return TERN_ESYSTEM;
        }
        if (write_file(paths[i], out[i].text.p, out[i].text.len) != 0) {
            fprintf(diag, "%s: error: cannot write: %s\n", paths[i], strerror(errno));
            return TERN_ESYSTEM;
        }
    }
    if (opts == NULL || opts->depfile == NULL)
        return TERN_OK;
    jmp_buf env;
    tn_idl_buf rule = {0};
    ctx->oom = &env;
    if (setjmp(env) != 0)
        return TERN_ENOMEM;
    depfile_text(ctx, &rule, paths, TN_IDL_NOUTPUTS);
    if (write_file(opts->depfile, rule.p, rule.len) != 0) {
        fprintf(diag, "%s: error: cannot write: %s\n", opts->depfile, strerror(errno));
        return TERN_ESYSTEM;
    }
    return TERN_OK;
}

tern_err tern_idl_compile(const char *path, const tern_idl_opts *opts)
{
    tn_idl_ctx ctx;
    tn_idl_output out[TN_IDL_NOUTPUTS];
    FILE *diag = opts != NULL && opts->diag != NULL ? opts->diag : stderr;
    tn_idl_ctx_init(&ctx, opts);
    tern_err err = tn_idl_translate(&ctx, path, out);
    if (ctx.diags.len > 0)
        fwrite(ctx.diags.p, 1, ctx.diags.len, diag);
    if (err == TERN_EINVAL)
        fprintf(diag, "%u error%s\n", ctx.nerrors, ctx.nerrors == 1 ? "" : "s");
    if (err == TERN_OK)
        err = write_outputs(&ctx, opts, out, diag);
    if (err == TERN_ENOMEM)
        fprintf(diag, "%s: error: out of memory\n", path);
    tn_idl_ctx_fini(&ctx);
    return err;
}
