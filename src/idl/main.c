/* tern-idl: the IDL compiler as a build tool (tern_idl_generate in
 * cmake/TernIdl.cmake runs it). `tern idl` does the same for users. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tern_idl.h"

static int usage(FILE *out, int status)
{
    fputs("usage: tern-idl FILE.tidl [-o DIR] [-I DIR]... [--depfile PATH]\n"
          "\n"
          "Generates FILE.h, FILE_xdr.c, FILE_client.c and FILE_server.c in DIR\n"
          "(default: the current directory) from the interface in FILE.tidl.\n"
          "Imports are looked for next to the importing file, then in each -I DIR.\n"
          "--depfile writes a make rule naming every source read.\n"
          "Exit status: 0 done, 1 errors in the source, 2 bad arguments.\n",
          out);
    return status;
}

int main(int argc, char **argv)
{
    tern_idl_opts opts = {0};
    const char *file = NULL;
    const char **dirs = calloc((size_t)argc, sizeof *dirs);
    if (dirs == NULL) {
        fputs("tern-idl: out of memory\n", stderr);
        return 1;
    }
    opts.import_dirs = dirs;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool takes = strcmp(a, "-o") == 0 || strcmp(a, "-I") == 0 || strcmp(a, "--depfile") == 0;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            free(dirs);
            return usage(stdout, 0);
        }
        if (takes && i + 1 == argc) {
            fprintf(stderr, "tern-idl: %s needs a value\n", a);
            free(dirs);
            return usage(stderr, 2);
        }
        if (strcmp(a, "-o") == 0)
            opts.out_dir = argv[++i];
        else if (strcmp(a, "-I") == 0)
            dirs[opts.nimport_dirs++] = argv[++i];
        else if (strcmp(a, "--depfile") == 0)
            opts.depfile = argv[++i];
        else if (a[0] == '-' || file != NULL) {
            fprintf(stderr, "tern-idl: unexpected argument '%s'\n", a);
            free(dirs);
            return usage(stderr, 2);
        } else
            file = a;
    }
    if (file == NULL) {
        free(dirs);
        return usage(stderr, 2);
    }
    tern_err err = tern_idl_compile(file, &opts);
    free(dirs);
    return err == TERN_OK ? 0 : 1;
}
