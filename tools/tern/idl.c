/* tern idl: the IDL compiler (src/idl, docs/idl.md) as a subcommand. */
#include <stddef.h>

#include "cli.h"
#include "tern_idl.h"

struct idl_conf {
    const char *output, *depfile;
    struct cli_list import;
};

static const struct cli_opt idl_opts[] = {
    {"output", 'o', CLI_STR, offsetof(struct idl_conf, output), 1, "DIR",
     "write the generated files into DIR\n(default: the current directory)", 0, 0},
    {"import", 'I', CLI_LIST, offsetof(struct idl_conf, import), 1, "DIR",
     "look for imports in DIR too, after the\nimporting file's directory (repeatable)", 0, 0},
    {"depfile", 0, CLI_STR, offsetof(struct idl_conf, depfile), 1, "PATH",
     "write a make rule naming every source read", 0, 0},
    {0},
};

static void idl_usage(const struct cli_cmd *cmd, FILE *out)
{
    (void)cmd;
    fputs("usage: tern idl FILE.tidl [-o DIR] [-I DIR]... [--depfile PATH]\n"
          "\n"
          "Compiles the interface in FILE.tidl into C: FILE.h (types, coders, stubs),\n"
          "FILE_xdr.c (XDR coders and the interface descriptor), FILE_client.c\n"
          "(client stubs) and FILE_server.c (server skeleton). Errors are reported as\n"
          "file:line:col: error: ..., all of them; nothing is written then.\n"
          "\n"
          "flags:\n",
          out);
    cli_opts_usage(out, idl_opts, 1);
    fputs("\nexit status: 0 generated, 1 errors in the source or files not written,\n"
          "2 bad flags or arguments\n",
          out);
}

static int idl_run(const struct cli_cmd *cmd, int argc, char **argv)
{
    struct idl_conf conf = {0};
    int nargs;
    int rc = cli_parse(cmd, idl_opts, 1, &conf, argc, argv, &nargs);
    if (rc == CLI_CONTINUE && nargs != 1)
        rc = cli_usage_error(
            cmd, nargs == 0 ? "give the .tidl file to compile" : "give one .tidl file, not %d",
            nargs);
    if (rc != CLI_CONTINUE) {
        cli_opts_free(idl_opts, &conf);
        return rc;
    }
    tern_idl_opts opts = {
        .out_dir = conf.output,
        .import_dirs = (const char *const *)conf.import.v,
        .nimport_dirs = conf.import.n,
        .depfile = conf.depfile,
    };
    tern_err err = tern_idl_compile(argv[1], &opts);
    cli_opts_free(idl_opts, &conf);
    return err == TERN_OK ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

const struct cli_cmd cli_cmd_idl = {
    .name = "idl",
    .summary = "compile an interface definition into C stubs",
    .run = idl_run,
    .usage = idl_usage,
};
