/* tern idl as a library: compiles a .tidl interface definition into C client
 * stubs, a server skeleton and XDR coders (docs/idl.md has the language and
 * what is generated). `tern idl` and the tern-idl build tool are thin
 * fronts over tern_idl_compile; the library needs nothing from libtern but
 * the tern_err values of <tern/base.h>. */
#ifndef TERN_IDL_H
#define TERN_IDL_H

#include <stddef.h>
#include <stdio.h>

#include <tern/base.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Reads a whole source file into *text (malloc'd; the compiler frees it).
 * Returns TERN_ENOENT when there is no such file, TERN_ENOMEM, or
 * TERN_ESYSTEM for any other failure. */
typedef tern_err tern_idl_read_fn(void *arg, const char *path, char **text, size_t *len);

typedef struct tern_idl_opts {
    const char *out_dir;            /* where the files go; NULL: the current directory */
    const char *const *import_dirs; /* searched, in order, after the importing */
    size_t nimport_dirs;            /* file's own directory */
    const char *depfile;            /* NULL, or where to write a make rule naming every
                                       source read (for build systems) */
    FILE *diag;                     /* diagnostics; NULL: stderr */
    tern_idl_read_fn *read;         /* NULL: the file system */
    void *read_arg;
} tern_idl_opts;

/* Compiles the interface in path into BASE.h, BASE_xdr.c, BASE_client.c and
 * BASE_server.c in opts->out_dir, BASE being the file's name without its
 * extension. opts may be NULL. Every problem found is written to opts->diag
 * as "file:line:col: error: ...", all of them, not just the first.
 * Returns TERN_OK; TERN_EINVAL when the source has errors (nothing is
 * written); TERN_ENOENT when path cannot be read; TERN_ENOMEM; or
 * TERN_ESYSTEM when an output could not be written (also reported). */
tern_err tern_idl_compile(const char *path, const tern_idl_opts *opts);

/* The compiler's version, which generated files name at the top. */
const char *tern_idl_version(void);

#ifdef __cplusplus
}
#endif
#endif
