/* tern: the command-line face of libtern. Finds the subcommand named by
 * argv[1] and hands it the rest; `help` and `version` live here. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define CLI_ENTRY(name) &cli_cmd_##name,
static const struct cli_cmd *const commands[] = {CLI_COMMANDS(CLI_ENTRY)};
#undef CLI_ENTRY

#define NCOMMANDS (sizeof commands / sizeof commands[0])

/* Flags for subcommands that take none but --help. */
static const struct cli_opt no_opts[] = {{0}};

static const struct cli_cmd *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (strcmp(commands[i]->name, name) == 0)
            return commands[i];
    }
    return NULL;
}

static void list_commands(FILE *out)
{
    fputs("usage: tern SUBCOMMAND [FLAGS]\n\nsubcommands:\n", out);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fputs("\n'tern help SUBCOMMAND' or 'tern SUBCOMMAND --help' shows its flags.\n", out);
}

static void help_usage(const struct cli_cmd *cmd, FILE *out)
{
    (void)cmd;
    fputs("usage: tern help [SUBCOMMAND]\n\n"
          "Lists the subcommands, or shows the full usage of one.\n",
          out);
}

static int help_run(const struct cli_cmd *cmd, int argc, char **argv)
{
    int nargs;
    int rc = cli_parse(cmd, no_opts, 0, NULL, argc, argv, &nargs);
    if (rc != CLI_CONTINUE)
        return rc;
    if (nargs == 0) {
        list_commands(stdout);
        return CLI_EXIT_OK;
    }
    /* Errors point at the list (`tern help`), not at help's own usage. */
    if (nargs > 1)
        return cli_usage_error(NULL, "help takes one subcommand, not %d", nargs);
    const struct cli_cmd *topic = find_command(argv[1]);
    if (topic == NULL)
        return cli_usage_error(NULL, "unknown subcommand '%s'", argv[1]);
    topic->usage(topic, stdout);
    return CLI_EXIT_OK;
}

const struct cli_cmd cli_cmd_help = {
    .name = "help",
    .summary = "list the subcommands, or show one's flags",
    .run = help_run,
    .usage = help_usage,
};

static void version_usage(const struct cli_cmd *cmd, FILE *out)
{
    (void)cmd;
    fputs("usage: tern version\n\nPrints \"tern\" and the library's version.\n", out);
}

static int version_run(const struct cli_cmd *cmd, int argc, char **argv)
{
    int rc = cli_parse(cmd, no_opts, 0, NULL, argc, argv, NULL);
    if (rc != CLI_CONTINUE)
        return rc;
    printf("tern %s\n", tern_version());
    return CLI_EXIT_OK;
}

const struct cli_cmd cli_cmd_version = {
    .name = "version",
    .summary = "print the version",
    .run = version_run,
    .usage = version_usage,
};

int main(int argc, char **argv)
{
    if (argc < 2) {
        list_commands(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0)
        name = "help";
    else if (strcmp(name, "--version") == 0)
        name = "version";
    const struct cli_cmd *cmd = find_command(name);
    if (cmd == NULL)
        return cli_usage_error(NULL, "unknown subcommand '%s'", name);
    return cmd->run(cmd, argc - 1, argv + 1);
}
